"""Reading what a review covers: names, every user with their manager, the managed roles' direct grants.

The fewest requests Genesys offers for it, all listings (never one request per user): roles, divisions and
groups (names), every user of every state (``GET /api/v2/users?state=any``: id, email, name, state and
``manager``, a plain field of Genesys' ``User`` model, no ``expand``), then each managed role's subject grants
(``GET /api/v2/authorization/roles/{roleId}/subjectgrants``: every subject holding the role with its type
and divisions, so no listing is needed to tell users from groups), and the members of the few groups that
hold a managed role (``GET /api/v2/groups/{groupId}/members``), to say which items a user also holds through
a group. Everything goes to the snapshot's SQLite store (``store.py``); memory stays flat.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from airflow_provider_genesys.access.names import WILDCARD, NameIndex, Unresolved
from airflow_provider_genesys.access.review.model import ReviewError
from airflow_provider_genesys.access.review.store import Store
from airflow_provider_genesys.client import api_path
from airflow_provider_genesys.extract.fetch import ApiClient, PageFetcher
from airflow_provider_genesys.extract.plans.authorization import DIVISIONS, ROLE_PARAMS, ROLE_SUBJECT_GRANTS, ROLES
from airflow_provider_genesys.extract.plans.groups import GROUP_MEMBERS, GROUPS
from airflow_provider_genesys.extract.plans.subjects import subject_type
from airflow_provider_genesys.extract.plans.users import PAGE_SIZE, users_in_state

ALL_DIVISIONS = "all divisions (*)"


@dataclass
class Names:
    """Roles, divisions and groups by id and name (a few hundred entries: kept in memory)."""

    roles: NameIndex
    divisions: NameIndex
    groups: NameIndex

    def division(self, division_id: str) -> str:
        return ALL_DIVISIONS if division_id == WILDCARD else self.divisions.name(division_id)


def read_names(fetcher: PageFetcher) -> Names:
    return Names(NameIndex.of("role", fetcher.listing(ROLES, ROLE_PARAMS)),
                 NameIndex.of("division", fetcher.listing(DIVISIONS)),
                 NameIndex.of("group", fetcher.listing(GROUPS)))


def resolve_scope(names: Names, managed_roles: Sequence[str] | str,
                  divisions: Sequence[str] | str | None) -> tuple[list[str], list[str] | None]:
    """The managed roles' ids and the divisions' ids (``*``: grants on every division), every unknown name in
    one error; an empty list of roles is an error (a review of nothing)."""
    roles = [managed_roles] if isinstance(managed_roles, str) else list(managed_roles or ())
    wanted = [divisions] if isinstance(divisions, str) else None if divisions is None else list(divisions)
    problems: list[str] = []
    if not roles:
        problems.append("managed_roles is empty: name the roles whose grants are reviewed (by name or id)")
    role_ids = _resolve(names.roles, roles, "managed_roles", problems)
    division_ids = None
    if wanted is not None:
        if not wanted:
            problems.append("divisions is empty: leave it out to review every division, or name some")
        division_ids = []
        for division in wanted:
            text = str(division).strip()
            division_ids += [WILDCARD] if text == WILDCARD else _resolve(names.divisions, [text], "divisions", problems)
    if problems:
        raise ReviewError("The review's scope names what this org does not have (nothing was asked of anyone):\n"
                          + "\n".join(f"- {p}" for p in problems))
    return list(dict.fromkeys(role_ids)), None if division_ids is None else list(dict.fromkeys(division_ids))


def _resolve(index: NameIndex, names: Iterable[str], argument: str, problems: list[str]) -> list[str]:
    ids = []
    for name in names:
        try:
            ids.append(index.resolve(str(name).strip()))
        except Unresolved as why:
            problems.append(f"{argument} {name!r}: {why}")
    return ids


def managed_grants(fetcher: PageFetcher, roles: Sequence[str]) -> Iterator[tuple[str, str, str, str]]:
    """``(subject, kind, role, division)`` of every subject directly holding one of ``roles``, from each role's
    subject grants listing (its ``type`` says user, group, OAuth client, trustee)."""
    endpoints = [api_path(ROLE_SUBJECT_GRANTS, role) for role in roles]
    for role, (_, subjects) in zip(roles, fetcher.each_listing(endpoints), strict=True):
        for subject in subjects:
            kind = subject_type(subject.get("type"))
            for division in subject.get("divisions") or ():
                yield str(subject["id"]), kind, role, str(division.get("id"))


@dataclass
class Snapshot:
    """The names, the scope's ids and the store holding users, grants and group members."""

    names: Names
    roles: list[str]
    divisions: list[str] | None
    store: Store

    def close(self) -> None:
        self.store.close()


def read_snapshot(client: ApiClient, managed_roles: Sequence[str] | str, divisions: Sequence[str] | str | None = None,
                  *, max_workers: int = 4) -> Snapshot:
    """Read the scope of a review into a new store; the caller closes it."""
    store = Store()
    try:
        with PageFetcher(client, max_workers=max_workers) as fetcher:
            names = read_names(fetcher)
            roles, division_ids = resolve_scope(names, managed_roles, divisions)
            with fetcher.doing("reading every user (manager, state)"):
                store.add_users(users_in_state(fetcher, "any", {"pageSize": PAGE_SIZE}))
            store.add_grants(managed_grants(fetcher, roles))
            groups = [g for (g,) in store.rows("SELECT DISTINCT subject FROM grants WHERE kind = 'group' "
                                               "ORDER BY subject")]
            endpoints = [api_path(GROUP_MEMBERS, group) for group in groups]
            for group, (_, members) in zip(groups, fetcher.each_listing(endpoints), strict=True):
                store.add_members(group, (str(m["id"]) for m in members))
    except BaseException:
        store.close()
        raise
    return Snapshot(names, roles, division_ids, store)
