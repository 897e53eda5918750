"""The current state the diff compares the desired table with, built from plain Genesys payloads.

One model serves every relation: ``held`` maps a subject to what it holds directly, as targets (tuples of
ids and values: what each relation's are is in its module, ``access/relations/``). It also keeps each
user's groups, so a grant held through a group is known as inherited (never a direct grant to remove, and
worth a warning when the table asks for it again), and the roles that hold ``*`` permissions (the org's
admins, for the guardrail). Builders take the shapes the API returns (see ``extract/plans/``): grant
records or ``AuthzGrant`` entities, ``AuthzSubject`` payloads, users, group member records, roles with
their permission policies; what a user payload or a membership means for the relation at hand, the
relation says (``hold_user``, ``hold_member``).

Memory is proportional to the org (its users and their grants), never to the desired table.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_genesys.access.registry import relation as relation_named

Target = tuple[str, ...]
SUBJECT_TYPES = ("user", "group")


@dataclass
class CurrentState:
    """What every subject holds now, for one relation."""

    relation: str
    held: dict[str, set[Target]] = field(default_factory=dict)
    subject_types: dict[str, str] = field(default_factory=dict)  # subject id -> user, group, oauth_client...
    user_states: dict[str, str] = field(default_factory=dict)  # user id -> active, inactive, deleted
    user_groups: dict[str, set[str]] = field(default_factory=dict)  # user id -> group ids (grants only)
    admin_roles: set[str] = field(default_factory=set)  # roles holding * permissions (grants only)
    versions: dict[str, int] = field(default_factory=dict)  # user and group id -> version (apply's writes)
    # For user_state and group_members: the org's grants state (roles, grants, members, user states), so the
    # admin guardrail sees deactivations and group removals that take an admin role away
    authz: CurrentState | None = None
    # Users whose listing entry lacked what the relation reads from it (an expand Genesys left out): the
    # relation reads them one by one
    unread: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.spec = relation_named(self.relation)

    # -- builders ----------------------------------------------------------------------------------------

    def hold(self, subject_id: str, subject_type: str, target: Target) -> None:
        self.held.setdefault(subject_id, set()).add(target)
        self.subject_types.setdefault(subject_id, subject_type)

    def add_users(self, users: Iterable[Mapping[str, Any]]) -> None:
        """Users of every state (``GET /api/v2/users?state=any``); ``user_state`` holds each one's state."""
        for user in users:
            user_id = str(user["id"])
            state = str(user.get("state") or "active")
            self.user_states[user_id] = state
            self.subject_types.setdefault(user_id, "user")
            if user.get("version") is not None:
                self.versions[user_id] = int(user["version"])
            self.spec.hold_user(self, user)
            for group in user.get("groups") or ():  # the users listing with expand=groups
                self.add_member(str(group["id"]), user_id)

    def add_grant(self, grant: Mapping[str, Any], subject_type: str | None = None) -> None:
        """One direct grant: an extract grant record (``subjectId``, ``subjectType``, ``roleId``,
        ``divisionId``) or an ``AuthzGrant`` (``subjectId``, ``role{id}``, ``division{id}``)."""
        role_id = grant.get("roleId") or (grant.get("role") or {}).get("id")
        division_id = grant.get("divisionId") or (grant.get("division") or {}).get("id")
        kind = subject_type or grant.get("subjectType") or self.subject_types.get(grant["subjectId"], "unknown")
        self.hold(str(grant["subjectId"]), str(kind), (str(role_id), str(division_id)))

    def add_subject(self, payload: Mapping[str, Any], subject_type: str) -> None:
        """An ``AuthzSubject`` (``GET /api/v2/authorization/subjects/{id}``): its own grants are direct;
        grants whose ``subjectId`` is another subject come from that group, which the user is a member of."""
        subject_id = str(payload["id"])
        self.subject_types[subject_id] = subject_type
        self.held.setdefault(subject_id, set())
        for grant in payload.get("grants") or ():
            holder = str(grant["subjectId"])
            if holder == subject_id:
                self.add_grant(grant, subject_type)
            else:
                self.add_grant(grant, "group")
                self.add_member(holder, subject_id)

    def add_member(self, group_id: str, user_id: str) -> None:
        """``user_id`` is a member of ``group_id``: a holding where the relation says so (``group_members``),
        else what explains an inherited grant."""
        if not self.spec.hold_member(self, group_id, user_id):
            self.user_groups.setdefault(user_id, set()).add(group_id)
            self.subject_types.setdefault(group_id, "group")

    def add_group_members(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Extract ``group_members`` records (``groupId``, ``userId``)."""
        for record in records:
            self.add_member(str(record["groupId"]), str(record["userId"]))

    def add_roles(self, roles: Iterable[Mapping[str, Any]]) -> None:
        """Roles (``GET /api/v2/authorization/roles``): remember the ones holding ``*`` permissions."""
        for role in roles:
            if holds_everything(role):
                self.admin_roles.add(str(role["id"]))

    # -- questions ---------------------------------------------------------------------------------------

    def inherited(self, user_id: str, target: Target) -> list[str]:
        """The groups through which ``user_id`` already holds ``target`` (grants only)."""
        return sorted(g for g in self.user_groups.get(user_id, ()) if target in self.held.get(g, ()))

    def state_of(self, user_id: str) -> str:
        return self.user_states.get(user_id, "deleted" if self.user_states else "active")

    def after(self, changes: Iterable[Any]) -> dict[str, set[Target]]:
        """What each subject ``changes`` (diff changes) touch holds directly once they are made."""
        held_after: dict[str, set[Target]] = {}
        for change in changes:
            held = held_after.setdefault(change.subject, set(self.held.get(change.subject, ())))
            if change.action == "remove":
                held.discard(change.target)
                continue
            if change.action in ("set", "update"):  # the key's old value goes
                key = self.spec.key(change.target)
                held.difference_update([t for t in held if self.spec.key(t) == key])
            held.add(change.target)
        return held_after

    def fingerprint(self, subject_id: str) -> str:
        """sha256 of a canonical form of what ``subject_id`` holds directly: apply compares it before writing."""
        return fingerprint(self.relation, subject_id, self.held.get(subject_id, set()))


def fingerprint(relation: str, subject_id: str, held: Iterable[Target]) -> str:
    """A stable hash of one subject's holdings (sorted, so order of reading never changes it)."""
    canonical = json.dumps([relation, subject_id, sorted(list(t) for t in held)], separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def holds_everything(role: Mapping[str, Any]) -> bool:
    """True for a role with ``*`` permissions: ``permissions`` holding ``*``, or a policy on domain ``*``
    (``permissionPolicies[].domain``, or ``policies[].domain`` as the subject payload spells it)."""
    if "*" in (role.get("permissions") or ()):
        return True
    policies = list(role.get("permissionPolicies") or ()) + list(role.get("policies") or ())
    return any(policy.get("domain") == "*" for policy in policies)
