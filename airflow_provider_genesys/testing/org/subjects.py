"""Subjects of grants that are not the org's users: groups (with members), OAuth clients and trustees.

Genesys grants roles to five kinds of subject (``SubjectDivisionGrants.type``: ``PC_USER``, ``PC_GROUP``,
``PC_OAUTH_CLIENT``, ``PC_TRUSTEE_USER``, ``PC_TRUSTEE_GROUP``). Users live in :class:`~.directory.Org`; this
module generates the rest for the same seed. Their number is fixed when the org is created (groups: one
per 25 users, at least 3, at most 200; OAuth clients: the five of :data:`OAUTH_CLIENTS`, or as many as
asked, each past the fifth a numbered copy of one of them, grants included); a group's members are derived
from a hash of each user, so users added later join groups too, and deleted users leave them.
``POST``/``DELETE /api/v2/groups/{id}/members`` change them through a small overlay
(:meth:`Subjects.change_members`); grant writes naming a group change ``grants`` (:meth:`Subjects.change_grants`).

Trustee subjects belong to another (trustor) organisation: they appear in grant listings only, never in
the users, groups or OAuth client listings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import airflow_provider_genesys.testing.org.catalogue as cat
from airflow_provider_genesys.testing.clock import iso
from airflow_provider_genesys.testing.org.seeded import digest, seeded_uuid

T = TypeVar("T")

USER, GROUP, OAUTH_CLIENT, TRUSTEE_USER, TRUSTEE_GROUP = (
    "PC_USER", "PC_GROUP", "PC_OAUTH_CLIENT", "PC_TRUSTEE_USER", "PC_TRUSTEE_GROUP",
)
GROUPS_PER_USERS, MIN_GROUPS, MAX_GROUPS = 25, 3, 200
_MADE = 1_600_000_000.0  # grantMadeAt of generated non-user grants (2020-09-13)
# (name, authorizedGrantType, state, role grants as (role index, division index or -1 for "*"))
OAUTH_CLIENTS: tuple[tuple[str, str, str, tuple[tuple[int, int], ...]], ...] = (
    ("Data warehouse export", "CLIENT-CREDENTIALS", "active", ((cat.EMPLOYEE, 0), (cat.SUPERVISOR, -1))),
    ("CRM integration", "CLIENT-CREDENTIALS", "active", ((cat.ADMIN, -1), (cat.AGENT, 1), (cat.AGENT, 2))),
    ("Wallboard", "CLIENT-CREDENTIALS", "inactive", ((cat.SUPERVISOR, 3),)),
    ("Agent desktop", "CODE", "active", ()),
    ("SSO login", "SAML2-BEARER", "active", ()),
)
# (type, name, role grants)
TRUSTEES: tuple[tuple[str, str, tuple[tuple[int, int], ...]], ...] = (
    (TRUSTEE_USER, "Partner support engineer", ((cat.ADMIN, -1),)),
    (TRUSTEE_USER, "Partner auditor", ((cat.EMPLOYEE, 0), (cat.SUPERVISOR, 1))),
    (TRUSTEE_GROUP, "Partner NOC", ((cat.SUPERVISOR, -1),)),
)


def _client_template(n: int) -> tuple[str, str, str, tuple[tuple[int, int], ...]]:
    """The row of :data:`OAUTH_CLIENTS` OAuth client ``n`` is made from (past the fifth: copies, in turn)."""
    return OAUTH_CLIENTS[n % len(OAUTH_CLIENTS)]


def _client_name(n: int) -> str:
    """``Wallboard`` for the first five; ``Wallboard 2``, ``Wallboard 3``, ... for their copies."""
    copy = n // len(OAUTH_CLIENTS)
    return _client_template(n)[0] + (f" {copy + 1}" if copy else "")


@dataclass(frozen=True)
class Subject:
    """A non-user subject and what the API shows of it."""

    id: str
    name: str
    type: str
    self_uri: str


class UserDirectory(Protocol):
    """What subjects read of the org's users (``directory.Org``), without importing it."""

    seed: int
    roles: list[dict[str, Any]]

    def sorted_by_name(self, state: str) -> list[int]: ...
    def state_of(self, i: int) -> str: ...
    def division_id(self, division: int) -> str: ...
    def live(self, role: int, division: int) -> bool: ...
    def _cached(self, key: Any, build: Callable[[], T]) -> T: ...


SubjectGrant = tuple[Subject, int, int, float]  # (subject, role index, division index or -1, grantMadeAt)


class Subjects:
    """Groups, OAuth clients and trustees of one org, and their (static) grants."""

    def __init__(self, org: UserDirectory, user_count: int, client_count: int | None = None) -> None:
        self._org = org
        self._digest = digest
        _uuid = seeded_uuid
        seed = org.seed
        group_count = max(MIN_GROUPS, min(MAX_GROUPS, user_count // GROUPS_PER_USERS))
        self.groups = [
            Subject(gid, f"{cat.DEPARTMENTS[g % len(cat.DEPARTMENTS)]} team {g + 1}", GROUP, f"/api/v2/groups/{gid}")
            for g, gid in enumerate(_uuid(seed, "group", g) for g in range(group_count))
        ]
        clients = len(OAUTH_CLIENTS) if client_count is None else client_count
        self.clients = [
            Subject(cid, _client_name(n), OAUTH_CLIENT, f"/api/v2/oauth/clients/{cid}")
            for n, cid in enumerate(_uuid(seed, "oauth", n) for n in range(clients))
        ]
        trustee_ids = [_uuid(seed, "trustee", n) for n in range(len(TRUSTEES))]
        self.trustees = [
            Subject(tid, name, kind, f"/api/v2/authorization/subjects/{tid}")
            for tid, (kind, name, _) in zip(trustee_ids, TRUSTEES, strict=True)
        ]
        self.grants: list[SubjectGrant] = []
        divisions = len(cat.DIVISIONS)
        for g, group in enumerate(self.groups):
            if g == 0:
                self.grants.append((group, cat.SUPERVISOR, -1, _MADE))
            elif g % 2 == 0:
                role = (cat.AGENT, cat.SUPERVISOR, 8, 9, 10, 11)[g // 2 % 6]
                self.grants += [(group, role, g % divisions, _MADE + g), (group, cat.USER, 0, _MADE + g)]
        for n, client in enumerate(self.clients):
            self.grants += [(client, role, division, _MADE) for role, division in _client_template(n)[3]]
        for trustee, (_, _, pairs) in zip(self.trustees, TRUSTEES, strict=True):
            self.grants += [(trustee, role, division, _MADE) for role, division in pairs]
        self.by_id = {s.id: s for s in (*self.groups, *self.clients, *self.trustees)}
        self.group_index = {s.id: g for g, s in enumerate(self.groups)}
        # members API writes added to / removed from a group, and the versions those writes made
        self._joined: dict[int, set[int]] = {}
        self._left: dict[int, set[int]] = {}
        self._versions: dict[int, int] = {}

    # ---- groups ------------------------------------------------------------------------------------
    def groups_of(self, i: int) -> tuple[int, ...]:
        """Group indexes user ``i`` belongs to (60% one group, 20% of those a second)."""
        d = self._digest(self._org.seed, "member", i)
        count = len(self.groups)
        first = d[0] % count
        if d[1] % 100 >= 60:
            return ()
        second = d[2] % count
        return (first, second) if d[3] % 100 < 20 and second != first else (first,)

    def user_groups(self, i: int) -> tuple[int, ...]:
        """Group indexes user ``i`` is a member of now (generated membership plus API writes)."""
        if self._org.state_of(i) == "deleted":
            return ()
        generated = [g for g in self.groups_of(i) if i not in self._left.get(g, ())]
        joined = [g for g, users in self._joined.items() if i in users and g not in generated]
        return tuple(sorted(generated + joined)) if joined else tuple(generated)

    def members(self, group: int) -> list[int]:
        """Member user indexes of a group, in the users listing's order (deleted users are not members)."""
        org = self._org

        def build() -> list[list[int]]:
            table: list[list[int]] = [[] for _ in self.groups]
            for i in org.sorted_by_name("any"):
                for g in self.user_groups(i):
                    table[g].append(i)
            return table

        return org._cached("group_members", build)[group]

    def version(self, group: int) -> int:
        """The group's ``version``: a members write must send it, and each one increments it."""
        return self._versions.get(group, 1 + group % 5)

    def change_members(self, group: int, users: list[int], add: bool) -> list[int]:
        """Add (or remove) users to a group; returns those whose membership changed. The version
        increments whatever changed, as every accepted write does."""
        current = set(self.members(group))
        changed = [i for i in dict.fromkeys(users) if (i in current) != add]
        for i in changed:
            generated = group in self.groups_of(i)
            if add and generated:
                self._left.get(group, set()).discard(i)
            elif add:
                self._joined.setdefault(group, set()).add(i)
            elif generated:
                self._left.setdefault(group, set()).add(i)
            else:
                self._joined.get(group, set()).discard(i)
        self._versions[group] = self.version(group) + 1
        self._org._cache.pop("group_members", None)
        return changed

    def render_group(self, group: int) -> dict[str, Any]:
        """``Group`` as ``GET /api/v2/groups`` lists it."""
        subject = self.groups[group]
        return {
            "id": subject.id,
            "name": subject.name,
            "description": f"Generated group {group + 1}",
            "dateModified": iso(_MADE + group * 3600),
            "memberCount": len(self.members(group)),
            "state": "active",
            "version": self.version(group),
            "type": "official",
            "rulesVisible": True,
            "visibility": "public" if group % 3 else "members",
            "rolesEnabled": True,
            "selfUri": subject.self_uri,
        }

    # ---- OAuth clients -----------------------------------------------------------------------------
    def render_client(self, n: int) -> dict[str, Any]:
        """``OAuthClient`` as ``GET /api/v2/oauth/clients`` lists it, ``secret`` included (as Genesys may)."""
        subject = self.clients[n]
        _, grant_type, state, pairs = _client_template(n)
        org = self._org
        return {
            "id": subject.id,
            "name": subject.name,
            "accessTokenValiditySeconds": 86400,
            "description": f"Generated OAuth client {n + 1}",
            "registeredRedirectUri": ["https://example.com/callback"] if grant_type == "CODE" else [],
            "secret": f"emulated-client-secret-{org.seed}-{n}",
            "roleIds": list(dict.fromkeys(org.roles[role]["id"] for role, _ in pairs)),
            "dateCreated": iso(_MADE),
            "authorizedGrantType": grant_type,
            "scope": [],
            "roleDivisions": [
                {"roleId": org.roles[role]["id"], "divisionId": org.division_id(division)} for role, division in pairs
            ],
            "state": state,
            "selfUri": subject.self_uri,
        }

    # ---- grants ------------------------------------------------------------------------------------
    def _live(self) -> list[SubjectGrant]:
        """The grants whose role and division still exist."""
        return [g for g in self.grants if self._org.live(g[1], g[2])]

    def division_grants(self, division: int) -> list[SubjectGrant]:
        return [g for g in self._live() if g[2] == division]

    def role_subjects(self, role: int) -> list[tuple[Subject, list[int]]]:
        """(subject, its divisions for the role), in subject order."""
        held: dict[Subject, list[int]] = {}
        for subject, r, division, _ in self._live():
            if r == role:
                held.setdefault(subject, []).append(division)
        return list(held.items())

    def grants_of(self, subject_id: str) -> list[SubjectGrant]:
        return [g for g in self._live() if g[0].id == subject_id]

    def change_grants(
        self, subject: Subject, now: float, add: list[tuple[int, int]], remove: set[tuple[int, int]], replace: bool
    ) -> None:
        """A grant write naming a group (or OAuth client): as ``Org.change_grants`` does for users."""
        kept = [g for g in self.grants if g[0] != subject or not (
            (replace and (g[1], g[2]) not in add) or (g[1], g[2]) in remove)]
        held = {(g[1], g[2]) for g in kept if g[0] == subject}
        kept += [(subject, role, division, now) for role, division in add if (role, division) not in held]
        self.grants = kept

    def iter_grants(self) -> Iterator[tuple[str, str, str, str]]:
        """``(subject id, subject type, role id, division id)`` of every non-user grant."""
        for subject, role, division, _ in self._live():
            yield subject.id, subject.type, self._org.roles[role]["id"], self._org.division_id(division)
