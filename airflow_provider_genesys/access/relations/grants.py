"""``grants``: who holds which role on which division, directly (users and groups).

Desired table: ``subject``, ``subject_type`` (``user`` by default, or ``group``), ``role``, ``division``
(``*``: all divisions, present and future). A target is ``(role, division)``. The current state comes from
the grants listings (per division or per role, whichever is fewer) and the group memberships, so a grant a
user holds through a group is known as inherited: never a direct grant to remove, and worth a warning when
the table asks for it again.

Writes (Genesys' SDK ``AuthorizationApi``; docs/access.md "The fewest writes"):

- **gained**: subjects gaining the same role on the same set of divisions share one
  ``POST /api/v2/authorization/roles/{roleId}`` (``{"subjectIds", "divisionIds"}``, ``subjectType`` for
  groups), in chunks of :data:`ROLE_SUBJECTS_PER_CALL`; a subject's other new grants go in one
  ``POST /api/v2/authorization/subjects/{id}/bulkadd``.
- **lost**: one ``POST .../subjects/{id}/bulkremove`` per subject. Refused (a role or division in it no
  longer exists): one ``DELETE .../subjects/{id}/divisions/{d}/roles/{r}`` per grant, 404 counting as done,
  as Genesys' Terraform provider does. A refused multi-grant ``bulkadd`` goes one grant at a time too.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from airflow_provider_genesys.access.names import DesiredItem, Directory, NameIndex, UserIndex
from airflow_provider_genesys.access.registry import register
from airflow_provider_genesys.access.relations.base import AdminEffect, Columns, Indexed, Losses, Relation, Target
from airflow_provider_genesys.access.writes import Write, chunks, splittable
from airflow_provider_genesys.client import api_path

# No maximum is published for the role bulk-grant. 500 subject ids are ~20 KB of body (far below Genesys'
# 512,000-byte request limit), the largest page size the users and grants listings serve, and a bound on
# what one unknown outcome makes apply read back: 1,000 users gaining one role on one division take 2 calls.
ROLE_SUBJECTS_PER_CALL = 500
SUBJECT_TYPES = {"user": "PC_USER", "group": "PC_GROUP"}  # postAuthorizationRole's subjectType
# Unknown grants of one role for this many subjects or more are read back from the role's listing.
ROLE_LISTING_FROM = 4


class Grants(Relation):
    name = "grants"
    columns = Columns(("subject", "role", "division"), {"subject_type": "user"})
    target_fields = ("role", "division")
    named_fields = ("role", "division")
    key_width = 2
    subject_types = ("user", "group")
    scope_word = "role"
    managed_kind = "roles"
    held_word = "grants"
    roleless_rule = True
    field_kinds = {"role": "roles", "division": "divisions"}
    permissions = {
        "role_grant": "authorization:grant:add",
        "bulkadd": "authorization:grant:add",
        "bulkremove": "authorization:grant:delete",
        "grant_delete": "authorization:grant:delete",
    }

    # -- the desired table ---------------------------------------------------------------------------------

    def resolve(self, row: Any, directory: Directory) -> DesiredItem | None:
        n = row.number
        kind = row["subject_type"].lower()
        if kind not in ("user", "group"):
            directory.invalid(n, "subject_type", row["subject_type"], ("user", "group"))
            return None
        index: NameIndex | UserIndex = directory.users if kind == "user" else directory.groups
        subject = directory.lookup(index, n, "subject", row["subject"], _subject_hint if kind == "user" else None)
        role = directory.lookup(directory.roles, n, "role", row["role"])
        division = directory.division(n, row["division"])
        if subject and role and division:
            return DesiredItem(n, subject, kind, (role, division))
        return None

    def user_names(self, row: Any) -> Iterator[str]:
        if row["subject_type"].lower() == "user":
            yield row["subject"]

    # -- the current state ---------------------------------------------------------------------------------

    def read(self, org: Any, current: Any) -> None:
        org.read_authz(current)

    # -- the diff ------------------------------------------------------------------------------------------

    def added(self, change: Any, current: Any, label: Any, notices: Mapping[str, Any]) -> None:
        if change.subject_type != "user":
            return
        through = current.inherited(change.subject, change.target)
        if through:
            notices["inherited"].note(
                f"row {change.row}: {label(change.subject)} already holds {label(change.target[0])} on "
                f"{label(change.target[1])} through group {', '.join(label(g) for g in through)}")

    def removal_reason(self, target: Target, label: Any) -> str:
        return f"holds managed role {label(target[0])} on {label(target[1])}, not in the desired state"

    # -- writes --------------------------------------------------------------------------------------------

    def writes(self, items: list[Indexed], current: Any = None, scope: Mapping[str, Any] | None = None) -> list[Write]:
        adds = [c for c in items if c[1]["action"] != "remove"]
        removes = [c for c in items if c[1]["action"] == "remove"]
        return grant_adds(adds) + per_subject("bulkremove", removes)

    def fallback(self, write: Write, status: int | None,
                 changes: Mapping[Any, Mapping[str, Any]]) -> list[Write] | None:
        if write.kind == "bulkremove" and status in (400, 404):
            # Refused as a whole when a role or division in it no longer exists: one grant at a time.
            return one_grant_deletes(write, changes)
        if write.kind == "bulkadd" and status == 400 and len(write.changes) > 1:
            # The same for adds: the grants whose role and division still exist go in, the others are refused.
            return [_bulk("bulkadd", changes[i]["subject"], [(i, changes[i])]) for i in write.changes]
        if write.kind == "role_grant" and status in (400, 404):
            # A role write apply could not split further (one subject) refused: the subject's own bulkadd says
            # whether the subject is unknown (404: maybe created moments ago) or the grant refused.
            return per_subject("bulkadd", [(i, changes[i]) for i in write.changes])
        return None

    # -- reading back --------------------------------------------------------------------------------------

    def prefetch(self, api: Any, records: list[Mapping[str, Any]], cache: dict[str, Any]) -> None:
        """Grants of one role for many subjects: from the role's subject grants listing (one listing, not one
        read per subject)."""
        by_role: dict[str, set[str]] = {}
        for record in records:
            by_role.setdefault(str(record["role"]), set()).add(str(record["subject"]))
        for role, subjects in by_role.items():
            if len(subjects) < ROLE_LISTING_FROM:
                continue
            found: dict[str, set[Target]] = {s: set() for s in subjects}
            for entity in api.paginate(api_path("/api/v2/authorization/roles/{}/subjectgrants", role)):
                if str(entity.get("id")) in found:
                    found[str(entity.get("id"))] = {(role, str(d.get("id"))) for d in entity.get("divisions") or ()}
            cache.update({f"role:{role}:subject:{s}": held for s, held in found.items()})

    def read_back(self, api: Any, record: Mapping[str, Any], cache: dict[str, Any]) -> set[Target]:
        subject = record["subject"]
        listed = cache.get(f"role:{record['role']}:subject:{subject}")
        if listed is not None:  # from the role's listing: that role's grants only
            return listed
        key = f"subject:{subject}"
        if key not in cache:
            body = api.request("GET", api_path("/api/v2/authorization/subjects/{}", subject)) or {}
            cache[key] = {
                (str((g.get("role") or {}).get("id")), str((g.get("division") or {}).get("id")))
                for g in body.get("grants") or () if str(g.get("subjectId", subject)) == subject
            }
        return cache[key]

    # -- guardrails ----------------------------------------------------------------------------------------

    def losses(self, diff: Any, current: Any, label: Any) -> Losses:
        """People who lose a role on a division: a user whose direct grant goes (once, even if a group still
        gives it), and each active member of a group whose grant goes who holds it through nothing else
        after the plan (no direct grant kept or added, no other group keeping or gaining it)."""
        removals = diff.count("remove")
        base = max(diff.managed_held, _people_holding(current, diff.managed))
        if not removals:
            return Losses(0, base, 0)
        spill = diff.spill
        group_removals = [(c.subject, c.target) for c in diff.changes_where("remove", "group")]
        losing: dict[Target, list[str]] = {}  # (role, division) -> groups losing it, in plan order
        for group, target in group_removals:
            losing.setdefault(target, []).append(group)
        members = _members(current) if group_removals else {}

        def keeps(user: str, target: Target, group: str) -> bool:
            """Whether ``user`` holds ``target`` after the plan other than through ``group``."""
            if target in current.held.get(user, ()) and not spill.has_change(user, "remove", target):
                return True
            if spill.has_change(user, "add", target):
                return True
            for other in current.user_groups.get(user, ()):
                if other == group:
                    continue
                if (target in current.held.get(other, ()) and other not in losing.get(target, ())) \
                        or spill.has_change(other, "add", target):
                    return True
            return False

        count = removals - len(group_removals)  # each user's removal: one person (at least)
        details = []
        for group, target in group_removals:
            lose, keep, counted = [], 0, 0
            earlier = losing[target][: losing[target].index(group)]
            for user in sorted(members.get(group, ())):
                if current.user_states.get(user) != "active":
                    continue
                if keeps(user, target, group):
                    keep += 1
                    continue
                lose.append(user)
                counted_elsewhere = spill.has_change(user, "remove", target) or any(
                    user in members.get(g, ()) for g in earlier)
                counted += not counted_elsewhere
            count += max(1, counted)
            details.append({"subject": group, "subject_name": label(group), "role": target[0],
                            "role_name": label(target[0]), "division": target[1], "division_name": label(target[1]),
                            "lose": len(lose), "keep": keep, "examples": [label(u) for u in lose[:3]]})
        return Losses(count, base, removals, details=details)

    def admin_effect(self, diff: Any, authz: Any) -> AdminEffect | None:
        from_changes = diff.spill.first_ids("remove") & authz.admin_roles
        effect = AdminEffect(set(from_changes))
        if from_changes:
            effect.held_after = authz.after(diff.changes_on(from_changes))
        return effect


def _members(current: Any) -> dict[str, set[str]]:
    """Group -> its members (the inverse of ``current.user_groups``)."""
    members: dict[str, set[str]] = {}
    for user, groups in current.user_groups.items():
        for group in groups:
            members.setdefault(group, set()).add(user)
    return members


def _people_holding(current: Any, managed: frozenset[str]) -> int:
    """Holdings of managed roles by people now, each (user, role, division) once, directly or through groups."""
    total = 0
    for user, state in current.user_states.items():
        if state == "deleted":
            continue
        held = {t for t in current.held.get(user, ()) if t[0] in managed}
        for group in current.user_groups.get(user, ()):
            held.update(t for t in current.held.get(group, ()) if t[0] in managed)
        total += len(held)
    return total


def _subject_hint(kind: str) -> str | None:
    """What to do when a user row's subject is something else's name."""
    if kind == "group":
        return "give its row subject_type=group (a column subject_type with user or group)"
    return None


def grant_adds(adds: list[Indexed], per_call: int = ROLE_SUBJECTS_PER_CALL) -> list[Write]:
    """Role bulk-grants for subjects sharing (role, division set, subject type); bulkadd for the rest."""
    per_role: dict[tuple[str, str, str], list[Indexed]] = {}  # (subject, type, role) -> its changes
    for item in adds:
        change = item[1]
        per_role.setdefault((change["subject"], change["subject_type"], change["role"]), []).append(item)
    shared: dict[tuple[str, frozenset[str], str], list[list[Indexed]]] = {}
    for (_, kind, role), items in per_role.items():
        divisions = frozenset(c["division"] for _, c in items)
        shared.setdefault((role, divisions, kind), []).append(items)
    writes: list[Write] = []
    alone: dict[tuple[str, str], list[Indexed]] = {}  # (subject, type) -> changes sent by bulkadd
    for (role, divisions, kind), subjects in shared.items():
        if len(subjects) < 2:
            for items in subjects:
                alone.setdefault((items[0][1]["subject"], kind), []).extend(items)
            continue
        subject_of = {index: items[0][1]["subject"] for items in subjects for index, _ in items}

        def body(parts: list[list[int]], divisions: frozenset[str] = divisions,
                 subject_of: dict[Any, str] = subject_of) -> dict[str, Any]:
            return {"body": {"subjectIds": [subject_of[part[0]] for part in parts], "divisionIds": sorted(divisions)}}

        for part in chunks(subjects, per_call):
            writes.append(splittable(
                "role_grant", "POST", api_path("/api/v2/authorization/roles/{}", role),
                [[index for index, _ in items] for items in part], body,
                params={"subjectType": SUBJECT_TYPES.get(kind, "PC_USER")}))
    for (subject, _), items in alone.items():
        writes.append(_bulk("bulkadd", subject, items))
    return writes


def per_subject(kind: str, items: list[Indexed]) -> list[Write]:
    """One ``bulkadd`` or ``bulkremove`` per subject, carrying all of its grants."""
    grouped: dict[str, list[Indexed]] = {}
    for item in items:
        grouped.setdefault(item[1]["subject"], []).append(item)
    return [_bulk(kind, subject, subject_items) for subject, subject_items in grouped.items()]


def _bulk(kind: str, subject: str, items: list[Indexed]) -> Write:
    grants = [{"roleId": c["role"], "divisionId": c["division"]} for _, c in items]
    # bulkadd takes the subject's type (SDK post_authorization_subject_bulkadd: PC_GROUP, PC_USER or
    # PC_OAUTH_CLIENT); bulkremove takes none.
    params = {"subjectType": SUBJECT_TYPES.get(items[0][1]["subject_type"], "PC_USER")} if kind == "bulkadd" else {}
    return Write(kind, "POST", api_path("/api/v2/authorization/subjects/{}/" + kind, subject),
                 [index for index, _ in items], body={"grants": grants}, params=params)


def one_grant_deletes(write: Write, changes: Mapping[int, Mapping[str, Any]]) -> list[Write]:
    """A refused bulkremove as one ``DELETE`` per grant (each 404 counts as done)."""
    return [
        Write("grant_delete", "DELETE", api_path(
            "/api/v2/authorization/subjects/{}/divisions/{}/roles/{}",
            changes[i]["subject"], changes[i]["division"], changes[i]["role"]), [i], absent_on_404=True)
        for i in write.changes
    ]


GRANTS = register(Grants())
