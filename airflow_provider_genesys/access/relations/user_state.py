"""``user_state``: whether a user is active or inactive (the leaver list).

Desired table: ``user``, ``state`` (``active``/``inactive``). A target is ``(state,)``: a user holds exactly
one, so a change is a ``set`` (never a removal), and two rows asking for both states are an error. The scope
is the users the table names. The admin guardrail reads the org's grants too: deactivating the last holders
of an admin role locks the org out as surely as removing the grants.

Writes: ``PATCH /api/v2/users/{id}`` with ``state`` and the user's ``version`` (SDK ``UsersApi.patch_user``,
``UpdateUser.version``: "the current version of the user"); reactivations are sent before deactivations.
Before a user is deactivated, apply writes a snapshot of its direct grants, groups and queues to the ledger
(Genesys' documents disagree on whether a deactivated user keeps them); ``restore_from`` brings them back.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from airflow_provider_genesys.access.names import DesiredItem, Directory
from airflow_provider_genesys.access.registry import register
from airflow_provider_genesys.access.relations.base import AdminEffect, Columns, Indexed, Losses, Relation, Target
from airflow_provider_genesys.access.writes import Write
from airflow_provider_genesys.client import api_path

USER_STATES = ("active", "inactive")


class UserState(Relation):
    name = "user_state"
    columns = Columns(("user", "state"))
    target_fields = ("state",)
    key_width = 0
    scope_word = "user"
    needs_authz = True
    inactive_notice = None  # the table is about states: an inactive user is what it names
    records_was = False  # the state replaced is the other one (plans of earlier versions have no "was")
    permissions = {"user_state": "directory:user:edit"}

    def resolve(self, row: Any, directory: Directory) -> DesiredItem | None:
        n = row.number
        user = directory.lookup(directory.users, n, "user", row["user"])
        state = row["state"].lower()
        if state not in USER_STATES:
            directory.invalid(n, "state", row["state"], USER_STATES)
        elif user:
            return DesiredItem(n, user, "user", (state,))
        return None

    def hold_user(self, current: Any, user: Mapping[str, Any]) -> None:
        current.held[str(user["id"])] = {(str(user.get("state") or "active"),)}

    def read(self, org: Any, current: Any) -> None:
        org.read_authz(current.authz)

    def conflict(self, first: int, row: int, subject: str, first_target: Target, target: Target, label: Any) -> str:
        return f"rows {first} and {row} ask for {label(subject)} to be both {first_target[0]} and {target[0]}: keep one"

    def previous(self, record: Mapping[str, Any]) -> str:
        return "inactive" if record["state"] == "active" else "active"

    def writes(self, items: list[Indexed], current: Any = None, scope: Mapping[str, Any] | None = None) -> list[Write]:
        ordered = sorted(items, key=lambda c: c[1]["state"] != "active")  # reactivations first
        return [user_state_write(index, change["subject"], change["state"]) for index, change in ordered]

    def read_back(self, api: Any, record: Mapping[str, Any], cache: dict[str, Any]) -> set[Target]:
        subject = record["subject"]
        body = api.request("GET", api_path("/api/v2/users/{}", subject)) or {}
        if body.get("version") is not None:
            cache.setdefault("versions", {})[subject] = int(body["version"])
        return {(str(body.get("state")),)}

    def losses(self, diff: Any, current: Any, label: Any) -> Losses:
        """A deactivated person loses everything: each deactivation counts as one person losing access, out
        of the org's active users."""
        leaving = sum(1 for change in diff.changes_where("set") if change.target == ("inactive",))
        active = sum(1 for state in current.user_states.values() if state == "active")
        return Losses(leaving, active, leaving, base_words="active users",
                      phrase="deactivates {n} user(s) (a deactivated person loses all access: each counts as a "
                             "removal)")

    def admin_effect(self, diff: Any, authz: Any) -> AdminEffect | None:
        roles = set(authz.admin_roles) if diff.spill.has_target(("inactive",)) else set()

        def state_after(user: str, default: str | None = None) -> str | None:
            target = diff.spill.target_of(user)
            return target[0] if target else authz.user_states.get(user, default)

        return AdminEffect(roles, state_after=state_after)


    # -- leavers: snapshot before deactivating, restore after reactivating ------------------------------------

    def before_writes(self, applier: Any, pending: list[Any]) -> None:
        """Before deactivating, each leaver's direct grants, groups and queues go into the ledger."""
        leavers = [applier.changes[i]["subject"] for i in pending
                   if applier.own(i) and applier.changes[i]["state"] == "inactive"]
        leavers = [u for u in leavers if u not in applier.state.snapshots]
        if not leavers:
            return
        grants = applier.read("grants")
        queues = applier.read("queue_members")
        for user in leavers:
            applier.ledger.append({
                "type": "snapshot", "user": user,
                "grants": sorted(list(t) for t in grants.held.get(user, ())),
                "groups": sorted(grants.user_groups.get(user, ())),
                "queues": sorted(t[0] for t in queues.held.get(user, ())),
            })

    def phases(self, applier: Any, pending: list[Any]) -> Iterator[list[Any]]:
        """States first; then the restores of users whose reactivation is done (the others wait for a rerun)."""
        yield [i for i in pending if applier.own(i)]
        reactivated = {c["subject"] for i, c in applier.changes.items()
                       if applier.own(i) and c["state"] == "active" and applier.state.settled(i)}
        ready = [i for i in pending if not applier.own(i) and applier.changes[i]["subject"] in reactivated]
        waiting = sorted({applier.changes[i]["subject"] for i in pending
                          if not applier.own(i) and applier.changes[i]["subject"] not in reactivated})
        if waiting:
            applier.result.retry.append(
                f"the restore of {len(waiting)} user(s) waits for their reactivation to be done: run apply again")
        yield ready

    def planned_restores(self, diff: Any, snapshots: Mapping[str, Mapping[str, Any]], label: Any,
                         ) -> list[dict[str, Any]]:
        """The adds that give each user the plan reactivates what its latest leaver snapshot holds, with names
        beside ids, after the plan's own changes."""
        found = []
        for change in diff.changes_where("set"):
            if change.target != ("active",):
                continue
            for item in restore_items(change.subject, snapshots.get(change.subject)):
                record = {k: item[k] for k in ("action", "subject", "subject_type")}
                record.update(subject_name=label(change.subject), relation=item["relation"])
                for name in ("role", "division", "group", "queue"):
                    if name in item:
                        record.update({name: item[name], f"{name}_name": label(item[name])})
                found.append({**record, "reason": item["reason"]})
        return found

    def restores(self, plan_changes: Iterable[Mapping[str, Any]],
                 snapshots: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
        """What reactivated users' snapshots hold, as adds keyed by what they add (stable across runs); for
        ``restore_from`` given to apply (deprecated: the plan's own restores are reviewed and checksummed).
        Users whose restores the plan holds already are left to it."""
        plan_changes = list(plan_changes)
        planned = {c["subject"] for c in plan_changes if c.get("relation", self.name) != self.name}
        found: dict[str, dict[str, Any]] = {}
        for change in plan_changes:
            if change.get("relation", self.name) != self.name or change["state"] != "active" \
                    or change["subject"] in planned:
                continue
            for item in restore_items(change["subject"], snapshots.get(change["subject"])):
                key = ":".join(["restore", item["subject"], item["relation"],
                                *(str(item[f]) for f in ("role", "division", "group", "queue") if f in item)])
                found[key] = item
        return found


def restore_items(user: str, snapshot: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The adds that give ``user`` back what its leaver snapshot holds: grants, groups, queues."""
    if not snapshot:
        return []
    items = [{"relation": "grants", "role": r, "division": d} for r, d in snapshot.get("grants", ())]
    items += [{"relation": "group_members", "group": g} for g in snapshot.get("groups", ())]
    items += [{"relation": "queue_members", "queue": q} for q in snapshot.get("queues", ())]
    when = f" of {snapshot['time']}" if snapshot.get("time") else ""
    return [{"action": "add", "subject": user, "subject_type": "user", **item,
             "reason": f"restored from the leaver snapshot{when}"} for item in items]


def user_state_write(index: int, user: str, state: str) -> Write:
    return Write("user_state", "PATCH", api_path("/api/v2/users/{}", user), [index], body={"state": state},
                 versioned=user, version_path=api_path("/api/v2/users/{}", user))


USER_STATE = register(UserState())
