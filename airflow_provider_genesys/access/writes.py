"""The fewest writes Genesys offers for a set of changes (pure: no I/O; apply sends them).

- **Grants gained**: subjects gaining the same role on the same set of divisions share one
  ``POST /api/v2/authorization/roles/{roleId}`` (``{"subjectIds", "divisionIds"}``, ``subjectType`` for
  groups), in chunks of :data:`ROLE_SUBJECTS_PER_CALL`; a subject's other new grants go in one
  ``POST /api/v2/authorization/subjects/{id}/bulkadd``.
- **Grants lost**: one ``POST .../subjects/{id}/bulkremove`` per subject. When Genesys refuses it because a
  role or division in it no longer exists, apply falls back to :func:`one_grant_deletes` (404: done).
- **Group members**: ``POST /api/v2/groups/{id}/members`` (``memberIds`` and the group's ``version``) and
  ``DELETE /api/v2/groups/{id}/members?ids=...``, at most :data:`GROUP_MEMBERS_PER_CALL` ids per call.
- **Queue members**: ``POST /api/v2/routing/queues/{id}/members`` (``?delete=true`` to remove), at most
  :data:`QUEUE_MEMBERS_PER_CALL` per call.
- **User state**: ``PATCH /api/v2/users/{id}`` with ``state`` and the user's ``version``.

Adds come before removes (a mover never loses access in between). Every write names the plan changes it
carries (their indexes), so the ledger and the report can say what each write did.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_genesys.client import api_path

# No maximum is published for the role bulk-grant. 500 subject ids are ~20 KB of body (far below Genesys'
# 512,000-byte request limit), the largest page size the users and grants listings serve, and a bound on
# what one unknown outcome makes apply read back: 1,000 users gaining one role on one division take 2 calls.
ROLE_SUBJECTS_PER_CALL = 500
GROUP_MEMBERS_PER_CALL = 50  # SDK model GroupMembersUpdate: at most 50 member ids per request
QUEUE_MEMBERS_PER_CALL = 100  # SDK RoutingApi docs: up to 100 members per call

SUBJECT_TYPES = {"user": "PC_USER", "group": "PC_GROUP"}  # postAuthorizationRole's subjectType

Indexed = tuple[int, Mapping[str, Any]]  # (index in the plan, the plan's change record)


@dataclass
class Write:
    """One request apply sends, and the plan changes it carries."""

    kind: str  # role_grant, bulkadd, bulkremove, grant_delete, group_add, group_remove, queue_add, ...
    method: str
    path: str
    changes: list[int]
    body: Any = None
    params: dict[str, Any] = field(default_factory=dict)
    versioned: str | None = None  # a group or user id whose current version goes into the body

    def describe(self) -> str:
        return f"{self.method} {self.path} ({len(self.changes)} change(s))"


def chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def writes_for(relation: str, changes: Iterable[Indexed]) -> list[Write]:
    """The writes that make ``changes``, adds (and activations) first."""
    changes = list(changes)
    adds = [c for c in changes if c[1]["action"] != "remove"]
    removes = [c for c in changes if c[1]["action"] == "remove"]
    if relation == "grants":
        return grant_adds(adds) + grant_removes(removes)
    if relation == "group_members":
        return membership("group", adds, GROUP_MEMBERS_PER_CALL) + membership("group", removes, GROUP_MEMBERS_PER_CALL)
    if relation == "queue_members":
        return membership("queue", adds, QUEUE_MEMBERS_PER_CALL) + membership("queue", removes, QUEUE_MEMBERS_PER_CALL)
    if relation == "user_state":
        ordered = sorted(changes, key=lambda c: c[1]["state"] != "active")  # reactivations first
        return [user_state(index, change["subject"], change["state"]) for index, change in ordered]
    raise ValueError(f"unknown relation {relation!r}")


def grant_adds(adds: list[Indexed], per_call: int = ROLE_SUBJECTS_PER_CALL) -> list[Write]:
    """Role bulk-grants for subjects sharing (role, division set, subject type); bulkadd for the rest."""
    per_subject: dict[tuple[str, str, str], list[Indexed]] = {}  # (subject, type, role) -> its changes
    for item in adds:
        change = item[1]
        per_subject.setdefault((change["subject"], change["subject_type"], change["role"]), []).append(item)
    shared: dict[tuple[str, frozenset[str], str], list[list[Indexed]]] = {}
    for (_, kind, role), items in per_subject.items():
        divisions = frozenset(c["division"] for _, c in items)
        shared.setdefault((role, divisions, kind), []).append(items)
    writes: list[Write] = []
    alone: dict[tuple[str, str], list[Indexed]] = {}  # (subject, type) -> changes sent by bulkadd
    for (role, divisions, kind), subjects in shared.items():
        if len(subjects) < 2:
            for items in subjects:
                alone.setdefault((items[0][1]["subject"], kind), []).extend(items)
            continue
        for part in chunks(subjects, per_call):
            writes.append(Write(
                "role_grant", "POST", api_path("/api/v2/authorization/roles/{}", role),
                [index for items in part for index, _ in items],
                body={"subjectIds": [items[0][1]["subject"] for items in part], "divisionIds": sorted(divisions)},
                params={"subjectType": SUBJECT_TYPES.get(kind, "PC_USER")},
            ))
    for (subject, _), items in alone.items():
        writes.append(_bulk("bulkadd", subject, items))
    return writes


def grant_removes(removes: list[Indexed]) -> list[Write]:
    """One bulkremove per subject."""
    return per_subject("bulkremove", removes)


def per_subject(kind: str, items: Iterable[Indexed]) -> list[Write]:
    """One ``bulkadd`` or ``bulkremove`` per subject, carrying all of its grants."""
    grouped: dict[str, list[Indexed]] = {}
    for item in items:
        grouped.setdefault(item[1]["subject"], []).append(item)
    return [_bulk(kind, subject, subject_items) for subject, subject_items in grouped.items()]


def _bulk(kind: str, subject: str, items: list[Indexed]) -> Write:
    grants = [{"roleId": c["role"], "divisionId": c["division"]} for _, c in items]
    return Write(kind, "POST", api_path("/api/v2/authorization/subjects/{}/" + kind, subject),
                 [index for index, _ in items], body={"grants": grants})


def one_grant_deletes(write: Write, changes: Mapping[int, Mapping[str, Any]]) -> list[Write]:
    """A refused bulkremove as one ``DELETE`` per grant (each 404 counts as done)."""
    return [
        Write("grant_delete", "DELETE", api_path(
            "/api/v2/authorization/subjects/{}/divisions/{}/roles/{}",
            changes[i]["subject"], changes[i]["division"], changes[i]["role"]), [i])
        for i in write.changes
    ]


def one_grant_adds(write: Write, changes: Mapping[int, Mapping[str, Any]]) -> list[Write]:
    """A refused bulkadd as one bulkadd per grant: those whose role and division still exist go in."""
    return [_bulk("bulkadd", changes[i]["subject"], [(i, changes[i])]) for i in write.changes]


def membership(what: str, items: list[Indexed], per_call: int) -> list[Write]:
    """Group or queue member writes: one target, one action, at most ``per_call`` users per call."""
    per_target: dict[tuple[str, str], list[Indexed]] = {}
    for item in items:
        per_target.setdefault((item[1][what], item[1]["action"]), []).append(item)
    writes = []
    for (target, action), members in per_target.items():
        for part in chunks(members, per_call):
            users = [c["subject"] for _, c in part]
            indexes = [index for index, _ in part]
            if what == "group" and action == "remove":
                writes.append(Write("group_remove", "DELETE", api_path("/api/v2/groups/{}/members", target),
                                    indexes, params={"ids": ",".join(users)}))
            elif what == "group":
                writes.append(Write("group_add", "POST", api_path("/api/v2/groups/{}/members", target),
                                    indexes, body={"memberIds": users}, versioned=target))
            else:
                writes.append(Write(f"queue_{action}", "POST",
                                    api_path("/api/v2/routing/queues/{}/members", target), indexes,
                                    body=[{"id": user} for user in users],
                                    params={"delete": "true"} if action == "remove" else {}))
    return writes


def user_state(index: int, user: str, state: str) -> Write:
    return Write("user_state", "PATCH", api_path("/api/v2/users/{}", user), [index], body={"state": state},
                 versioned=user)


__all__ = ["GROUP_MEMBERS_PER_CALL", "QUEUE_MEMBERS_PER_CALL", "ROLE_SUBJECTS_PER_CALL", "Write", "chunks",
           "grant_adds", "grant_removes", "membership", "one_grant_adds", "one_grant_deletes", "per_subject",
           "user_state", "writes_for"]
