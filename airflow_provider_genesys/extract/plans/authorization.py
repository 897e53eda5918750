"""Roles, permissions, divisions and grants (AuthorizationApi)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from airflow_provider_genesys.client import api_path
from airflow_provider_genesys.exceptions import GenesysCloudApiError
from airflow_provider_genesys.extract.fetch import PageFetcher
from airflow_provider_genesys.extract.plans.common import ExtractOptions
from airflow_provider_genesys.extract.plans.subjects import SubjectTypes, subject_type
from airflow_provider_genesys.paging import Page

log = logging.getLogger(__name__)

ROLES = "/api/v2/authorization/roles"
ROLE_SUBJECT_GRANTS = "/api/v2/authorization/roles/{}/subjectgrants"
PERMISSIONS = "/api/v2/authorization/permissions"
DIVISIONS = "/api/v2/authorization/divisions"
DIVISION_GRANTS = "/api/v2/authorization/divisions/{}/grants"
WILDCARD_DIVISION = "*"
ROLE_PARAMS = {"userCount": "false"}  # the count is slow to compute and we don't need it


def roles(fetcher: PageFetcher, options: ExtractOptions) -> Iterator[dict]:
    return fetcher.listing(ROLES, ROLE_PARAMS)


def permissions(fetcher: PageFetcher, options: ExtractOptions) -> Iterator[dict]:
    return fetcher.listing(PERMISSIONS)


def divisions(fetcher: PageFetcher, options: ExtractOptions) -> Iterator[dict]:
    return fetcher.listing(DIVISIONS)


# -- grants ------------------------------------------------------------------------------------------


def grant_record(
    subject_id: str, kind: str, role_id: str, role_name: str | None, division: dict, made_at: str | None
) -> dict[str, Any]:
    """One (subject, role, division) grant; division ``*`` means every division. ``userId`` only on users."""
    division_id = division.get("id")
    record: dict[str, Any] = {"id": f"{subject_id}:{role_id}:{division_id}", "subjectId": subject_id,
                              "subjectType": kind}
    if kind == "user":
        record["userId"] = subject_id
    record.update({"roleId": role_id, "roleName": role_name, "divisionId": division_id,
                   "divisionName": division.get("name"), "grantMadeAt": made_at})
    return record


def choose_grants_plan(division_count: int, role_count: int) -> str:
    """``divisions`` when it needs no more listings than ``roles`` (its pages also hold 500, not 100)."""
    return "divisions" if division_count + 1 <= role_count else "roles"


def grants(fetcher: PageFetcher, options: ExtractOptions) -> Iterator[dict]:
    """Grant listings per division (plus ``*``) or per role, whichever needs fewer listings."""
    first_divisions = fetcher.get_page(DIVISIONS, None, 1)
    first_roles = fetcher.get_page(ROLES, ROLE_PARAMS, 1)
    division_count = _total(first_divisions)
    role_count = _total(first_roles)
    plan = choose_grants_plan(division_count, role_count)
    log.info(
        "Grants plan: per %s (%d division listings + 1 wildcard vs %d role listings)",
        plan[:-1], division_count, role_count,
    )
    role_names = {role["id"]: role.get("name") for role in fetcher.listing(ROLES, ROLE_PARAMS, first=first_roles)}
    if plan == "roles":
        yield from _grants_by_role(fetcher, role_names)
        return
    # Read once per extract: a later pass reuses it (a subject created since is typed from a role listing).
    types = fetcher.memo.get("subject_types")
    if types is None:
        types = fetcher.memo["subject_types"] = SubjectTypes(fetcher)
    yield from _grants_by_division(fetcher, first_divisions, role_names, types)


def _grants_by_division(
    fetcher: PageFetcher, first_divisions: Page, role_names: dict[str, str | None], types: SubjectTypes
) -> Iterator[dict]:
    unresolved: list[dict] = []  # grants of subjects no listing has (trustees): few, typed at the end
    holders: dict[str, int] = {}  # grants per role: the smallest role listing types a subject cheapest

    def typed(grant: dict) -> Iterator[dict]:
        role = grant.get("role") or {}
        holders[role["id"]] = holders.get(role["id"], 0) + 1
        kind = types.resolve(grant["subjectId"])
        record = grant_record(grant["subjectId"], kind or "unknown", role["id"], role.get("name"),
                              grant.get("division") or {}, grant.get("grantMadeAt"))
        if kind is None:
            unresolved.append(record)
        else:
            yield record

    division_ids = [d["id"] for d in fetcher.listing(DIVISIONS, first=first_divisions)]
    params = {"pageSize": 500}
    endpoints = (api_path(DIVISION_GRANTS, division_id) for division_id in division_ids)
    for grant in fetcher.listings(endpoints, params):
        yield from typed(grant)
    wildcard = api_path(DIVISION_GRANTS, WILDCARD_DIVISION)
    wildcard_grants = 0
    try:
        for grant in fetcher.listing(wildcard, params):
            wildcard_grants += 1
            yield from typed(grant)
    except GenesysCloudApiError as err:
        if err.status is None or not 400 <= err.status < 500:
            raise
        log.warning("%s answered %s: reading all-division grants from the per-role listings", wildcard, err.status)
    if wildcard_grants == 0:
        # Unconfirmed endpoint: "no grants" and "not supported" look the same, so ask the role listings.
        log.info("No all-division grants from %s: reading them from the per-role listings", wildcard)
        with fetcher.doing("reading the all-division (*) grants from every role's listing"):
            yield from _grants_by_role(fetcher, role_names, only_division=WILDCARD_DIVISION)
    if unresolved:
        smallest: dict[str, str] = {}
        for record in unresolved:
            current = smallest.get(record["subjectId"])
            if current is None or holders.get(record["roleId"], 0) < holders.get(current, 0):
                smallest[record["subjectId"]] = record["roleId"]
        with fetcher.doing(f"typing {len(smallest)} subjects no listing has (trustees) from their roles' "
                           "listings"):
            kinds = _types_from_roles(fetcher, set(smallest.values()))
        types.others.update({sid: kinds[sid] for sid in smallest if sid in kinds})  # for later passes
        for record in unresolved:
            kind = kinds.get(record["subjectId"], "unknown")
            yield grant_record(record["subjectId"], kind, record["roleId"], record["roleName"],
                               {"id": record["divisionId"], "name": record["divisionName"]}, record["grantMadeAt"])


def _types_from_roles(fetcher: PageFetcher, role_ids: set[str]) -> dict[str, str]:
    """Subject id -> type from the role subject grants of ``role_ids`` (only for subjects no listing had)."""
    kinds: dict[str, str] = {}
    endpoints = [api_path(ROLE_SUBJECT_GRANTS, role_id) for role_id in sorted(role_ids)]
    for subject in fetcher.listings(endpoints):
        kinds[subject["id"]] = subject_type(subject.get("type"))
    return kinds


def _total(first: Page) -> int:
    return first.total if first.total is not None else len(first.entities)


def _grants_by_role(
    fetcher: PageFetcher, names: dict[str, str | None], *, only_division: str | None = None
) -> Iterator[dict]:
    """Records from ``/roles/{id}/subjectgrants``: one subject per entity, with its divisions for the role."""
    endpoints = [api_path(ROLE_SUBJECT_GRANTS, role_id) for role_id in names]
    for role_id, (_, subjects) in zip(names, fetcher.each_listing(endpoints), strict=True):
        for subject in subjects:
            kind = subject_type(subject.get("type"))
            for division in subject.get("divisions") or []:
                if only_division is None or division.get("id") == only_division:
                    yield grant_record(subject["id"], kind, role_id, names[role_id], division, None)
