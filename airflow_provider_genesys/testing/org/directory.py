"""The generated org: deterministic for a seed, compact enough for 100,000 users.

Per user only the id, the name (for sorting) and a state byte are stored; every other attribute, the
user's grants, division, routing skills and languages are derived on demand from a hash of
``(seed, index)``. Grants changed through the API live in a small overlay (only the changed users' full
grant lists, plus a log of removed grants for the audit events); so do moved users' divisions and changed
skill and language sets (``skills.py``). Listing orders and grant indexes are built lazily and cached until
the org changes (see :meth:`Org.add_users` / :meth:`Org.remove_users`); grant writes patch the cached grant
index in place.
"""

from __future__ import annotations

import bisect
import threading
import uuid
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from itertools import islice
from typing import Any, TypeVar

import airflow_provider_genesys.testing.org.catalogue as cat
from airflow_provider_genesys.testing.clock import iso
from airflow_provider_genesys.testing.org.seeded import digest as _digest
from airflow_provider_genesys.testing.org.seeded import seeded_uuid as _uuid
from airflow_provider_genesys.testing.org.skills import LANGUAGE, SKILL, Held, Proficiencies
from airflow_provider_genesys.testing.org.subjects import USER, Subject, Subjects

T = TypeVar("T")

STATES = ("active", "inactive", "deleted")
ACTIVE, INACTIVE, DELETED = 0, 1, 2
STATE_FILTERS = ("active", "inactive", "deleted", "any")
WILDCARD = -1  # division index of grants on every division ("*")
WILDCARD_DIVISION_ID = "*"
_EPOCH_2019 = 1546300800.0
_SIX_YEARS = 6 * 365 * 86400
ADMIN_COUNT = 3  # the first users are admins with wildcard-division grants
_PATCH_LIMIT = 20  # grant writes to more users than this drop the grant index instead of patching it
HR_AUTHORITY = "hr"  # the external-id authority generated users' HR keys live under
_NO_HR_KEY_PERCENT = 10  # share of users without an HR key (hired before the HR sync, contractors)


def _slug(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


Grant = tuple[int, int, float]  # (role index, division index or WILDCARD, grantMadeAt epoch)
Pair = tuple[int, int]  # (role index, division index or WILDCARD)
GrantEvent = tuple[float, int, str, int, int]  # (when, user index, "Add"|"Remove", role, division)
GrantIndex = tuple[dict[int, list[tuple[int, int, float]]], dict[int, dict[int, list[int]]]]


class GrantRefused(ValueError):
    """A grant write the org refuses (deleted users cannot receive grants); nothing was changed."""


# One change an API write made, for the audit log: (when, serviceName, entityType, action, entity id,
# entity name, user index or -1, propertyChanges)
WriteEvent = tuple[float, str, str, str, str, str, int, list[dict[str, Any]]]


class Org:
    """Ground truth of the emulated org; thread safe (mutations and cache builds hold one lock)."""

    def __init__(self, users: int = 200, seed: int = 1, *, oauth_clients: int | None = None) -> None:
        if users < 0:
            raise ValueError(f"users must be >= 0; got {users}")
        self.seed = seed
        self._lock = threading.RLock()
        self._cache: dict[Any, Any] = {}
        self.version = 0
        self.org_id = _uuid(seed, "org", 0)
        self._org_slug = f"emulated-org-{seed}"
        self.organization: dict[str, Any] = {
            "id": self.org_id,
            "name": f"Emulated Org {seed}",
            "defaultLanguage": "en-us",
            "defaultCountryCode": "US",
            "thirdPartyOrgName": self._org_slug,
            "domain": self._org_slug,
            "version": 1,
            "state": "active",
            "productPlatform": "PureCloud",
            "voicemailEnabled": True,
            "features": {},
            "selfUri": f"/api/v2/organizations/{self.org_id}",
        }
        self._division_ids = [_uuid(seed, "division", i) for i in range(len(cat.DIVISIONS))]
        self._role_ids = [_uuid(seed, "role", i) for i in range(len(cat.ROLES))]
        self._role_by_id = {rid: i for i, rid in enumerate(self._role_ids)}
        self._division_by_id = {did: i for i, did in enumerate(self._division_ids)}
        self._division_by_id[WILDCARD_DIVISION_ID] = WILDCARD
        self._ids: list[str] = []
        self._names: list[str] = []
        self._states = bytearray()
        self._index: dict[str, int] = {}
        self._grant_overlay: dict[int, tuple[Grant, ...]] = {}  # users whose grants the API changed
        # grants API writes took away, for the audit events: (removedAt, user, role, division, madeAt)
        self._removed_grants: list[tuple[float, int, int, int, float]] = []
        self._user_versions: dict[int, int] = {}  # users an API write changed: their version now
        self._added_at: dict[int, float] = {}  # users added while the emulator runs: when
        self._deleted_roles: set[int] = set()
        self._deleted_divisions: set[int] = set()
        self._moved: dict[int, int] = {}  # users a division move changed: their division index now
        self.proficiencies = Proficiencies(seed)  # skill and language catalogues, users' sets (skills.py)
        self.write_events: list[WriteEvent] = []  # group, queue, user, skill changes (grants: grant_events)
        for i in range(users):
            self._append_user(i, None)
        self.permissions: list[dict[str, Any]] = [
            self._permission_collection(d) for d in sorted(cat.PERMISSIONS)
        ]
        self.divisions: list[dict[str, Any]] = [self.division(i) for i in range(len(cat.DIVISIONS))]
        self.roles: list[dict[str, Any]] = [self.role(i) for i in range(len(cat.ROLES))]
        self.subjects = Subjects(self, users, oauth_clients)  # groups, OAuth clients, trustees (org/subjects.py)

    # ---- users -------------------------------------------------------------------------------------
    def _append_user(self, i: int, state: int | None) -> None:
        d = _digest(self.seed, "user", i)
        user_id = str(uuid.UUID(bytes=d[:16], version=4))
        if state is None:
            roll = d[18] % 100
            state = ACTIVE if (roll < 85 or i < ADMIN_COUNT) else INACTIVE if roll < 95 else DELETED
        self._ids.append(user_id)
        self._names.append(
            f"{cat.FIRST_NAMES[d[16] % len(cat.FIRST_NAMES)]} {cat.LAST_NAMES[d[17] % len(cat.LAST_NAMES)]}"
        )
        self._states.append(state)
        self._index[user_id] = i

    def user_id(self, i: int) -> str:
        return self._ids[i]

    def user_name(self, i: int) -> str:
        return self._names[i]

    def index_of(self, user_id: str) -> int | None:
        return self._index.get(user_id)

    def state_of(self, i: int) -> str:
        return STATES[self._states[i]]

    def _matches(self, i: int, state: str) -> bool:
        return state == "any" or STATES[self._states[i]] == state

    def _cached(self, key: Any, build: Callable[[], T]) -> T:
        with self._lock:
            if key not in self._cache:
                self._cache[key] = build()
            return self._cache[key]

    def sorted_by_name(self, state: str) -> list[int]:
        """Indices in the users listing's order: name, then id as a stable tiebreak."""

        def build() -> list[int]:
            ordered = self._cached(
                "by_name", lambda: sorted(range(len(self._ids)), key=lambda i: (self._names[i], self._ids[i]))
            )
            return [i for i in ordered if self._matches(i, state)]

        return self._cached(("by_name", state), build)

    def sorted_by_id(self, state: str) -> tuple[list[str], list[int]]:
        """Ids in ascending order and their indices, for cursor paging by last id seen."""

        def build() -> tuple[list[str], list[int]]:
            order = sorted(
                (i for i in range(len(self._ids)) if self._matches(i, state)), key=self._ids.__getitem__
            )
            return [self._ids[i] for i in order], order

        return self._cached(("by_id", state), build)

    def user_ids(self, state: str = "any") -> list[str]:
        return [self._ids[i] for i in self.sorted_by_name(state)]

    def user_ids_by_index(self) -> list[str]:
        """Every user id (any state) in creation order."""
        return list(self._ids)

    def user_count(self, state: str = "any") -> int:
        return len(self.sorted_by_name(state))

    def iter_users(self, state: str = "any", expand: Iterable[str] = ()) -> Iterator[dict[str, Any]]:
        """API user dicts in the listing's order (what ``GET /api/v2/users?state=...`` pages through)."""
        wanted = frozenset(expand)
        for i in self.sorted_by_name(state):
            yield self.render_user(i, wanted)

    def user(self, user_id: str, expand: Iterable[str] = ()) -> dict[str, Any] | None:
        i = self.index_of(user_id)
        return None if i is None else self.render_user(i, frozenset(expand))

    def user_version(self, i: int) -> int:
        """The user's ``version`` (``PATCH /api/v2/users/{id}`` must send it; each change increments it)."""
        return self._user_versions.get(i, 1 + _digest(self.seed, "user", i)[22] % 60)

    def added_at(self, i: int) -> float | None:
        """When a user added while the emulator runs was created (``None`` for generated users)."""
        return self._added_at.get(i)

    def set_state(self, i: int, state: str, now: float) -> None:
        """A user's ``state`` changed through ``PATCH /api/v2/users/{id}``: the version increments and
        the change is audited (``Directory``/``User``/``Update``)."""
        with self._lock:
            old = STATES[self._states[i]]
            self._user_versions[i] = self.user_version(i) + 1
            if old != state:
                self._states[i] = STATES.index(state)
                self.write_events.append((now, "Directory", "User", "Update", self._ids[i], self._names[i], i,
                                          [{"property": "state", "oldValues": [old], "newValues": [state]}]))
                self._changed()

    def record(self, event: WriteEvent) -> None:
        """Note one group or queue change in the audit log."""
        with self._lock:
            self.write_events.append(event)

    # ---- external ids (HR keys) --------------------------------------------------------------------
    def external_ids(self, i: int) -> list[dict[str, Any]]:
        """``UserExternalIdentifier`` list of a user: most users hold their HR key (the employee id of
        ``employerInfo``) under the ``hr`` authority; deleted users and about 10% of users hold none."""
        if self._states[i] == DELETED or _digest(self.seed, "external", i)[0] % 100 < _NO_HR_KEY_PERCENT:
            return []
        key = f"E{i + 1:06d}"
        return [{"authorityName": HR_AUTHORITY, "externalKey": key,
                 "selfUri": f"/api/v2/users/{self._ids[i]}/externalid/{HR_AUTHORITY}/{key}"}]

    def by_external_id(self, authority: str, key: str) -> int | None:
        """The user holding ``key`` under ``authority`` (both case sensitive, as Genesys documents)."""
        if authority != HR_AUTHORITY or not key.startswith("E") or not key[1:].isdigit():
            return None
        i = int(key[1:]) - 1
        if not 0 <= i < len(self._ids) or not self.external_ids(i) or self.external_ids(i)[0]["externalKey"] != key:
            return None
        return i

    def user_created(self, i: int) -> float:
        d = _digest(self.seed, "user", i)
        return _EPOCH_2019 + int.from_bytes(d[23:27], "big") % _SIX_YEARS

    def render_user(self, i: int, expand: frozenset[str] = frozenset()) -> dict[str, Any]:
        d = _digest(self.seed, "user", i)
        user_id, name = self._ids[i], self._names[i]
        first, last = name.split(" ", 1)
        email = f"{_slug(first)}.{_slug(last)}.{i + 1}@{self._org_slug}.example.com"
        division = self.user_division(i)
        user: dict[str, Any] = {
            "id": user_id,
            "name": name,
            "division": self.division_ref(division),
            "chat": {"jabberId": f"{d[:12].hex()}@{self._org_slug}.orgspan.com"},
            "department": cat.DEPARTMENTS[d[20] % len(cat.DEPARTMENTS)],
            "email": email,
            "primaryContactInfo": [{"address": email, "mediaType": "EMAIL", "type": "PRIMARY"}],
            "addresses": [],
            "state": STATES[self._states[i]],
            "title": cat.TITLES[d[21] % len(cat.TITLES)],
            "username": email,
        }
        if i > 0 and d[27] % 100 < 40:
            manager = self._ids[int.from_bytes(d[28:30], "big") % i]
            user["manager"] = {"id": manager, "selfUri": f"/api/v2/users/{manager}"}
        user["version"] = self._user_versions.get(i, 1 + d[22] % 60)
        user["acdAutoAnswer"] = False
        created = self.user_created(i)
        if "authorization" in expand or "authorization.unusedRoles" in expand:
            user["authorization"] = self.user_authorization(i)
        if "groups" in expand:
            member_of = self.subjects.user_groups(i)
            user["groups"] = [
                {"id": self.subjects.groups[g].id, "name": self.subjects.groups[g].name,
                 "selfUri": self.subjects.groups[g].self_uri}
                for g in member_of
            ]
        for kind, name in ((SKILL, "skills"), (LANGUAGE, "languages")):
            if name in expand:
                held = self.holdings(kind, i)
                user[name] = [self.proficiencies.render_entry(kind, user_id, k, held[k])
                              for k in self.proficiencies.ordered(kind, held)]
        if "employerInfo" in expand:
            user["employerInfo"] = {
                "officialName": name,
                "employeeId": f"E{i + 1:06d}",
                "employeeType": "Full-time",
                "dateHire": iso(created)[:10],
            }
        if "dateLastLogin" in expand and self._states[i] == ACTIVE:
            user["dateLastLogin"] = iso(created + 86400 * (1 + d[29] % 200))
        if "lasttokenissued" in expand and self._states[i] == ACTIVE:
            user["lastTokenIssued"] = {"dateIssued": iso(created + 86400 * (1 + d[29] % 200))}
        user["selfUri"] = f"/api/v2/users/{user_id}"
        return user

    @staticmethod
    def _user_division(d: bytes) -> int:
        """The division a user is created in (its generated grants name it, wherever it moves later)."""
        return 0 if d[19] % 100 < 55 else 1 + d[19] % (len(cat.DIVISIONS) - 1)

    def user_division(self, i: int) -> int:
        """The user's division index now (``User.division``): where it was created unless moved since."""
        moved = self._moved.get(i)
        return moved if moved is not None else self._user_division(_digest(self.seed, "user", i))

    def user_division_id(self, i: int) -> str:
        return self._division_ids[self.user_division(i)]

    def move_users(self, users: Sequence[int], division: int, now: float) -> list[int]:
        """Move users to a division (``POST /api/v2/authorization/divisions/{id}/objects/USER``); each
        move is audited (``Directory``/``User``/``Update``, property ``divisionId``). Returns the users
        that moved (those already there do not)."""
        with self._lock:
            moved = [i for i in dict.fromkeys(users) if self.user_division(i) != division]
            for i in moved:
                old = self.user_division_id(i)
                self._moved[i] = division
                self.write_events.append((now, "Directory", "User", "Update", self._ids[i], self._names[i], i, [
                    {"property": "divisionId", "oldValues": [old], "newValues": [self._division_ids[division]]}]))
            if moved:
                self.version += 1
                self._cache.pop("division_counts", None)
            return moved

    # ---- routing skills and languages (skills.py) ---------------------------------------------------
    def holdings(self, kind: str, i: int) -> Held:
        """What user ``i`` holds of ``kind`` (``skill`` or ``language``): catalogue index -> proficiency."""
        return {} if self._states[i] == DELETED else self.proficiencies.held(kind, i)

    def user_skills(self, i: int) -> dict[str, float]:
        """Ground truth: the user's routing skills, ``{skillId: proficiency}``."""
        return self._by_id(SKILL, self.holdings(SKILL, i))

    def user_languages(self, i: int) -> dict[str, float]:
        """Ground truth: the user's routing languages, ``{languageId: proficiency}``."""
        return self._by_id(LANGUAGE, self.holdings(LANGUAGE, i))

    def _by_id(self, kind: str, held: Held) -> dict[str, float]:
        ids = self.proficiencies.catalogues[kind].ids
        return {ids[k]: level for k, level in held.items()}

    def change_proficiencies(
        self, kind: str, i: int, now: float, *, put: dict[int, float] | None = None,
        remove: frozenset[int] = frozenset(), replace: bool = False,
    ) -> None:
        """What the skill and language writes call (catalogue indexes); each entry that changed is audited
        as ``Routing``/``RoutingSkill`` (``RoutingLanguage``) ``MemberAdd``, ``MemberUpdate`` or
        ``MemberRemove`` with the entry as entity and ``propertyChanges`` ``userId`` and ``proficiency``."""
        with self._lock:
            if self._states[i] == DELETED:
                return  # deleted while the write was pending: it lands on nobody
            catalogue = self.proficiencies.catalogues[kind]
            entity = "RoutingSkill" if kind == SKILL else "RoutingLanguage"
            changed = self.proficiencies.change(kind, i, put=put, remove=remove, replace=replace)
            for k, old, new in changed:
                action = "MemberAdd" if old is None else "MemberRemove" if new is None else "MemberUpdate"
                user = [self._ids[i]]
                changes = [
                    {"property": "userId", "oldValues": [] if old is None else user,
                     "newValues": [] if new is None else user},
                    {"property": "proficiency", "oldValues": [] if old is None else [f"{old:g}"],
                     "newValues": [] if new is None else [f"{new:g}"]},
                ]
                self.write_events.append((now, "Routing", entity, action, catalogue.ids[k], catalogue.names[k], i,
                                          changes))
            if changed:
                self.version += 1

    # ---- grants ------------------------------------------------------------------------------------
    def grants_of(self, i: int) -> list[Grant]:
        """The user's grants; deleted users hold none, everybody else at least ``employee`` in Home
        (unless an API write took it away)."""
        if self._states[i] == DELETED:
            return []
        changed = self._grant_overlay.get(i)
        grants = list(changed) if changed is not None else self._generated_grants(i)
        if self._deleted_roles or self._deleted_divisions:
            grants = [g for g in grants if self.live(g[0], g[1])]
        return grants

    def live(self, role: int, division: int) -> bool:
        """Whether a grant's role and division still exist (grants of deleted ones vanish with them)."""
        return role not in self._deleted_roles and division not in self._deleted_divisions

    def _generated_grants(self, i: int) -> list[Grant]:
        d = _digest(self.seed, "user", i)
        div = self._user_division(d)
        other = 1 + d[31] % (len(cat.DIVISIONS) - 1)
        if other == div:
            other = 1 + other % (len(cat.DIVISIONS) - 1)
        pairs = [(cat.EMPLOYEE, 0)]
        profile = d[30] % 100
        if profile < 40:
            pairs.append((cat.AGENT, div))
        elif profile < 55:
            pairs += [(cat.AGENT, div), (cat.USER, div)]
        elif profile < 65:
            pairs += [(cat.SUPERVISOR, div), (cat.AGENT, other)]
        elif profile < 70:
            pairs += [(6, div), (cat.SUPERVISOR, other), (7, 0)]
        elif profile < 75:
            custom = 8 + d[31] % 4
            pairs += [(custom, div), (custom, other)]
        if i < ADMIN_COUNT:
            pairs += [(cat.ADMIN, WILDCARD), (cat.MASTER_ADMIN, WILDCARD), (cat.ADMIN, 0)]
        created = self.user_created(i)
        step = 86400 * (1 + d[29] % 30)
        grants: list[Grant] = []
        for pair in dict.fromkeys(pairs):
            grants.append((pair[0], pair[1], created + step * (len(grants) + 1)))
        return grants

    def iter_grants(self) -> Iterator[tuple[str, str, str]]:
        """Every grant as ``(subject_id, role_id, division_id)``; division ``"*"`` for wildcard grants."""
        for i in range(len(self._ids)):
            for role, division, _ in self.grants_of(i):
                yield self._ids[i], self._role_ids[role], self.division_id(division)

    def iter_all_grants(self) -> Iterator[tuple[str, str, str, str]]:
        """Every grant of every subject: ``(subject_id, subject type, role_id, division_id)``, the type as
        ``SubjectDivisionGrants.type`` spells it (``PC_USER``, ``PC_GROUP``, ...)."""
        for subject, role, division in self.iter_grants():
            yield subject, USER, role, division
        yield from self.subjects.iter_grants()

    def grant_count(self) -> int:
        return sum(len(v) for v in self._grant_index()[0].values())

    def grant_events(self) -> Iterator[GrantEvent]:
        """Audit history derived from the grants: an ``Add`` per grant held or once held, a ``Remove``
        per grant an API write took away."""
        for i in range(len(self._ids)):
            for role, division, made in self.grants_of(i):
                yield made, i, "Add", role, division
        with self._lock:
            removed = list(self._removed_grants)
        for removed_at, i, role, division, made in removed:
            yield made, i, "Add", role, division
            yield removed_at, i, "Remove", role, division

    def _grant_index(self) -> GrantIndex:
        """(division -> [(user, role, madeAt)], role -> {user: [divisions]}), both in user order; built
        once per org change and patched copy-on-write by grant writes (readers keep a consistent list)."""

        def build() -> GrantIndex:
            by_division: dict[int, list[tuple[int, int, float]]] = {}
            by_role: dict[int, dict[int, list[int]]] = {}
            for i in range(len(self._ids)):
                for role, division, made in self.grants_of(i):
                    by_division.setdefault(division, []).append((i, role, made))
                    by_role.setdefault(role, {}).setdefault(i, []).append(division)
            return by_division, by_role

        return self._cached("grants", build)

    def division_grants(self, division: int) -> list[tuple[int | Subject, int, float]]:
        """``(subject, role, madeAt)`` in one division: users (by index) first, then other subjects."""
        users: list[tuple[int | Subject, int, float]] = list(self._grant_index()[0].get(division, []))
        return users + [(s, role, made) for s, role, _, made in self.subjects.division_grants(division)]

    def role_subjects(self, role: int) -> list[tuple[int | Subject, list[int]]]:
        """``(subject, divisions)`` holding ``role``: users (by index) first, then other subjects."""
        users: list[tuple[int | Subject, list[int]]] = list(self._grant_index()[1].get(role, {}).items())
        return users + list(self.subjects.role_subjects(role))

    def subject_ref(self, subject: int | Subject) -> Subject:
        """What grant listings show of a subject, a user (index) or another kind."""
        if isinstance(subject, Subject):
            return subject
        user_id = self._ids[subject]
        return Subject(user_id, self._names[subject], USER, f"/api/v2/users/{user_id}")

    def role_user_count(self, role_id: str) -> int:
        role = self._role_by_id.get(role_id)
        return 0 if role is None else len(self._grant_index()[1].get(role, {}))

    def render_grant(self, i: int | Subject, role: int, division: int, made: float) -> dict[str, Any]:
        return {
            "subjectId": self.subject_ref(i).id,
            "division": self.grant_division(division),
            "role": self.grant_role(role),
            "grantMadeAt": iso(made),
        }

    def subject(self, i: int, include_duplicates: bool = False) -> dict[str, Any]:
        """AuthzSubject: the user's grants, then those it holds through its groups (``subjectId`` the
        group), not paged; a role and division held twice is listed once unless ``include_duplicates``."""
        grants = [self.render_grant(i, *grant) for grant in self.grants_of(i)]
        if self._states[i] != DELETED:
            seen = {(g["role"]["id"], g["division"]["id"]) for g in grants}
            for g in self.subjects.user_groups(i):
                for subject, role, division, made in self.subjects.grants_of(self.subjects.groups[g].id):
                    pair = (self._role_ids[role], self.division_id(division))
                    if include_duplicates or pair not in seen:
                        seen.add(pair)
                        grants.append(self.render_grant(subject, role, division, made))
        return {
            "id": self._ids[i],
            "name": self._names[i],
            "grants": grants,
            "version": 1 + _digest(self.seed, "user", i)[22] % 60,
            "selfUri": f"/api/v2/authorization/subjects/{self._ids[i]}",
        }

    def other_subject(self, subject_id: str) -> dict[str, Any] | None:
        """AuthzSubject of a group, OAuth client or trustee (``None`` for unknown ids)."""
        subject = self.subjects.by_id.get(subject_id)
        if subject is None:
            return None
        grants = [self.render_grant(s, role, division, made) for s, role, division, made in
                  self.subjects.grants_of(subject_id)]
        return {"id": subject.id, "name": subject.name, "grants": grants, "version": 1,
                "selfUri": f"/api/v2/authorization/subjects/{subject.id}"}

    def subject_pairs(self, subject: int | Subject) -> set[Pair]:
        """The (role, division) pairs a user (index) or another subject holds directly."""
        if isinstance(subject, int):
            return {(role, division) for role, division, _ in self.grants_of(subject)}
        return {(role, division) for _, role, division, _ in self.subjects.grants_of(subject.id)}

    def user_authorization(self, i: int) -> dict[str, Any]:
        """UserAuthorization (``/users/{id}/roles`` and ``expand=authorization``)."""
        roles = list(dict.fromkeys(role for role, _, _ in self.grants_of(i)))
        permissions = sorted({p for r in roles for p in self.roles[r]["permissions"]})
        policies = [
            {
                "id": f"{self._role_ids[r]}:{n}",
                "domain": policy["domain"],
                "entityName": policy["entityName"],
                "policyName": policy["policyName"],
                "actionSet": policy["actionSet"],
                "allowConditions": policy["allowConditions"],
            }
            for r in roles
            for n, policy in enumerate(self.roles[r]["permissionPolicies"])
        ]
        return {
            "roles": [{"id": self._role_ids[r], "name": cat.ROLES[r][0]} for r in roles],
            "unusedRoles": [],
            "permissions": permissions,
            "permissionPolicies": policies,
        }

    # ---- divisions, roles, permissions -------------------------------------------------------------
    def division_index(self, division_id: str) -> int | None:
        division = self._division_by_id.get(division_id)
        return None if division in self._deleted_divisions else division

    def division_id(self, division: int) -> str:
        return WILDCARD_DIVISION_ID if division == WILDCARD else self._division_ids[division]

    def division_ref(self, division: int) -> dict[str, Any]:
        did = self.division_id(division)
        if division == WILDCARD:
            return {"id": did, "selfUri": f"/api/v2/authorization/divisions/{did}"}
        return {
            "id": did,
            "name": cat.DIVISIONS[division][0],
            "selfUri": f"/api/v2/authorization/divisions/{did}",
        }

    def grant_division(self, division: int) -> dict[str, Any]:
        if division == WILDCARD:
            return {"id": "*", "homeDivision": False, "selfUri": "/api/v2/authorization/divisions/*"}
        return self.division(division)

    def division(self, division: int) -> dict[str, Any]:
        did = self._division_ids[division]
        name, description = cat.DIVISIONS[division]
        return {
            "id": did,
            "name": name,
            "description": description,
            "homeDivision": division == 0,
            "selfUri": f"/api/v2/authorization/divisions/{did}",
        }

    def division_user_count(self, division: int) -> int:
        def build() -> list[int]:
            counts = [0] * len(cat.DIVISIONS)
            for i in range(len(self._ids)):
                if self._states[i] != DELETED:
                    counts[self.user_division(i)] += 1
            return counts

        return self._cached("division_counts", build)[division]

    def role_index(self, role_id: str) -> int | None:
        role = self._role_by_id.get(role_id)
        return None if role in self._deleted_roles else role

    def role_deleted(self, role: int) -> bool:
        return role in self._deleted_roles

    def division_deleted(self, division: int) -> bool:
        return division in self._deleted_divisions

    def delete_role(self, role_id: str) -> None:
        """Delete a role (a test control; Genesys' ``DELETE /api/v2/authorization/roles/{id}``): it leaves
        the listings and every grant of it vanishes, so a later grant write naming it is refused."""
        self._delete(self._role_by_id, self._deleted_roles, role_id, "role")

    def delete_division(self, division_id: str) -> None:
        """Delete a division (a test control): it leaves the listings and its grants vanish; its users and
        queues keep pointing at it (Genesys refuses deleting a division that holds objects)."""
        self._delete(self._division_by_id, self._deleted_divisions, division_id, "division")

    def _delete(self, known: dict[str, int], deleted: set[int], entity_id: str, kind: str) -> None:
        index = known.get(entity_id)
        if index is None or index == WILDCARD:
            raise KeyError(f"no {kind} {entity_id!r} in this org")
        with self._lock:
            deleted.add(index)
            self._changed()

    def role(self, role: int) -> dict[str, Any]:
        """DomainOrganizationRole without ``userCount`` (what a listing with ``userCount=false`` returns)."""
        name, description, builtin, base, policies = cat.ROLES[role]
        rid = self._role_ids[role]
        result: dict[str, Any] = {"id": rid, "name": name, "description": description}
        if builtin:
            result["defaultRoleId"] = _slug(name)
        result["permissions"] = [f"{d}:{e}:{a}" for d, e, actions in policies for a in actions]
        result["permissionPolicies"] = [
            {
                "domain": d,
                "entityName": e,
                "policyName": f"{d}-{e}",
                "policyDescription": f"{name}: {', '.join(actions)} on {d}:{e}",
                "actionSet": list(actions),
                "allowConditions": False,
            }
            for d, e, actions in policies
        ]
        result.update({"base": base, "default": builtin, "selfUri": f"/api/v2/authorization/roles/{rid}"})
        return result

    def grant_role(self, role: int) -> dict[str, Any]:
        """AuthzGrantRole: the role as embedded in a grant."""
        name, description, builtin, _, policies = cat.ROLES[role]
        rid = self._role_ids[role]
        return {
            "id": rid,
            "name": name,
            "description": description,
            "policies": [{"actions": list(a), "domain": d, "entityName": e} for d, e, a in policies],
            "default": builtin,
            "selfUri": f"/api/v2/authorization/roles/{rid}",
        }

    @staticmethod
    def _permission_collection(domain: str) -> dict[str, Any]:
        return {
            "id": domain,
            "name": domain,
            "domain": domain,
            "permissionMap": {
                entity: [
                    {
                        "domain": domain,
                        "entityType": entity,
                        "action": action,
                        "label": action.capitalize(),
                        "allowsConditions": conditions,
                        "divisionAware": division_aware,
                    }
                    for action in actions
                ]
                for entity, actions, division_aware, conditions in cat.PERMISSIONS[domain]
            },
            "selfUri": f"/api/v2/authorization/permissions/{domain}",
        }

    # ---- changes -----------------------------------------------------------------------------------
    def _changed(self) -> None:
        self.version += 1
        self._cache.clear()

    def add_users(self, count: int, now: float | None = None) -> list[str]:
        """Add ``count`` active users (hired mid-extract), created at ``now``; returns their ids."""
        with self._lock:
            start = len(self._ids)
            for i in range(start, start + count):
                self._append_user(i, ACTIVE)
                if now is not None:
                    self._added_at[i] = now
            self._changed()
            return self._ids[start:]

    def change_grants(
        self,
        users: Sequence[int],
        now: float,
        add: Collection[Pair] = (),
        remove: Collection[Pair] = (),
        remove_roles: Collection[int] = (),
        replace: bool = False,
    ) -> None:
        """Apply one API write to every user in ``users``, all or nothing.

        ``add`` pairs the user lacks are granted at ``now`` (existing ones keep their ``grantMadeAt``);
        ``remove`` drops exact pairs, ``remove_roles`` a role in every division; ``replace`` keeps only
        ``add``. Raises :class:`GrantRefused` when a deleted user would receive a grant.
        """
        with self._lock:
            if add:
                deleted = [self._ids[i] for i in users if self._states[i] == DELETED]
                if deleted:
                    raise GrantRefused(f"Deleted users cannot receive grants: {', '.join(deleted)}.")
            unique = list(dict.fromkeys(users))
            patch = len(unique) <= _PATCH_LIMIT  # one patch costs ~20 ms at 100k users, a rebuild ~1 s
            if not patch:
                self._cache.pop("grants", None)

            def dropped(role: int, division: int) -> bool:
                if replace:
                    return (role, division) not in add
                return (role, division) in remove or role in remove_roles

            for i in unique:
                old = self.grants_of(i)
                new = [g for g in old if not dropped(g[0], g[1])]
                held = {(role, division) for role, division, _ in new}
                new += [(role, division, now) for role, division in add if (role, division) not in held]
                if new == old:
                    continue
                self._removed_grants += [(now, i, r, d, made) for r, d, made in old if dropped(r, d)]
                self._grant_overlay[i] = tuple(new)
                if patch:
                    self._reindex(i, old, new)
                self.version += 1

    def _reindex(self, i: int, old: list[Grant], new: list[Grant]) -> None:
        """Patch the cached grant index for one user (rebuilding it costs ~1 s per 100,000 users)."""
        index: GrantIndex | None = self._cache.get("grants")
        if index is None:
            return
        by_division, by_role = index
        for division in {g[1] for g in old} | {g[1] for g in new}:
            entries = list(by_division.get(division, []))
            # entries are (user, role, madeAt) in user order; (i,) sorts before every entry of user i
            lo, hi = bisect.bisect_left(entries, (i,)), bisect.bisect_left(entries, (i + 1,))
            entries[lo:hi] = [(i, role, made) for role, d, made in new if d == division]
            if entries:
                by_division[division] = entries
            else:
                by_division.pop(division, None)
        for role in {g[0] for g in old} | {g[0] for g in new}:
            current = by_role.get(role, {})
            divisions = [d for r, d, _ in new if r == role]
            if divisions and i not in current and current and next(reversed(current)) > i:
                # a new holder in the middle: keep user order, as a rebuild would (linear, no sort)
                position = bisect.bisect_left(list(current), i)
                holders = dict(islice(current.items(), position))
                holders[i] = divisions
                holders.update(islice(current.items(), position, None))
            else:
                holders = dict(current)
                if divisions:
                    holders[i] = divisions
                else:
                    holders.pop(i, None)
            if holders:
                by_role[role] = holders
            else:
                by_role.pop(role, None)

    def deactivate_users(self, count: int) -> list[str]:
        """Deactivate the first ``count`` active users in listing order (every later active page shifts)."""
        return self._retire(count, INACTIVE)

    def remove_users(self, count: int) -> list[str]:
        """Delete the first ``count`` active users in listing order (so every later page shifts)."""
        return self._retire(count, DELETED)

    def _retire(self, count: int, state: int) -> list[str]:
        with self._lock:
            victims = self.sorted_by_name("active")[:count]
            for i in victims:
                self._states[i] = state
            self._changed()
            return [self._ids[i] for i in victims]
