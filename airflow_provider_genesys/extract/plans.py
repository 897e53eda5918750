"""Dataset plans: which requests produce each dataset, chosen to need as few requests as possible.

A plan is a generator of records; it never holds a whole dataset in memory (only ids of roles or
divisions, which are few). See docs/operators.md for the reasoning behind each plan.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from airflow_provider_genesys.client import api_path
from airflow_provider_genesys.exceptions import GenesysCloudApiError
from airflow_provider_genesys.extract.analytics import ANALYTICS_PLANS
from airflow_provider_genesys.extract.fetch import PageFetcher
from airflow_provider_genesys.extract.routing import ROUTING_PLANS
from airflow_provider_genesys.paging import Page

log = logging.getLogger(__name__)

USERS = "/api/v2/users"
USERS_QUERY = "/api/v2/users/query"
ROLES = "/api/v2/authorization/roles"
ROLE_SUBJECT_GRANTS = "/api/v2/authorization/roles/{}/subjectgrants"
PERMISSIONS = "/api/v2/authorization/permissions"
DIVISIONS = "/api/v2/authorization/divisions"
DIVISION_GRANTS = "/api/v2/authorization/divisions/{}/grants"
WILDCARD_DIVISION = "*"
ROLE_PARAMS = {"userCount": "false"}  # the count is slow to compute and we don't need it

# GET /api/v2/users answers 400 past the first 10,000 results; the cursor listing has no such cap.
USERS_PAGE_NUMBER_CAP = 10_000
USER_STATES = ("active", "inactive", "deleted", "any")
DATASETS = ("users", "roles", "permissions", "divisions", "grants", "conversations", "user_presence", "queues",
            "wrapup_codes")


@dataclass(frozen=True)
class ExtractOptions:
    """What a plan may be told besides the dataset (only ``users`` takes state and expand)."""

    state: str = "any"
    expand: Sequence[str] = ()
    max_workers: int = 4
    # Interval datasets (conversations, user_presence): ISO-8601 "start/end"; the others ignore it.
    interval: str | None = None
    poll_interval: float | None = None  # seconds between job status reads; None: 1, 2, 4 ... 15
    job_attempts: int = 3  # analytics jobs submitted in all before a failed/expired job fails the extract


def users(fetcher: PageFetcher, options: ExtractOptions) -> Iterator[dict]:
    """Page-number listing in parallel up to 10,000 users; past that the cursor listing, sequentially."""
    params: dict[str, Any] = {"state": options.state, "pageSize": 500}
    if options.expand:
        params["expand"] = ",".join(options.expand)
    first = fetcher.get_page(USERS, params, 1)
    if first.total is not None and first.total > USERS_PAGE_NUMBER_CAP:
        log.info(
            "%d users is past the %d-result cap of %s: streaming %s by cursor instead",
            first.total, USERS_PAGE_NUMBER_CAP, USERS, USERS_QUERY,
        )
        yield from fetcher.sequential(USERS_QUERY, params)
        return
    yield from fetcher.listing(USERS, params, first=first)


def roles(fetcher: PageFetcher, options: ExtractOptions) -> Iterator[dict]:
    return fetcher.listing(ROLES, ROLE_PARAMS)


def permissions(fetcher: PageFetcher, options: ExtractOptions) -> Iterator[dict]:
    return fetcher.listing(PERMISSIONS)


def divisions(fetcher: PageFetcher, options: ExtractOptions) -> Iterator[dict]:
    return fetcher.listing(DIVISIONS)


# -- grants ------------------------------------------------------------------------------------------


def grant_record(
    user_id: str, role_id: str, role_name: str | None, division: dict, made_at: str | None
) -> dict[str, Any]:
    """One (subject, role, division) grant; division ``*`` means every division."""
    division_id = division.get("id")
    return {
        "id": f"{user_id}:{role_id}:{division_id}",
        "userId": user_id,
        "roleId": role_id,
        "roleName": role_name,
        "divisionId": division_id,
        "divisionName": division.get("name"),
        "grantMadeAt": made_at,
    }


def _from_division_grant(grant: dict) -> dict[str, Any]:
    role = grant.get("role") or {}
    return grant_record(grant["subjectId"], role["id"], role.get("name"), grant.get("division") or {},
                        grant.get("grantMadeAt"))


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
    if plan == "roles":
        yield from _grants_by_role(fetcher, fetcher.listing(ROLES, ROLE_PARAMS, first=first_roles))
        return
    division_ids = [d["id"] for d in fetcher.listing(DIVISIONS, first=first_divisions)]
    params = {"pageSize": 500}
    endpoints = (api_path(DIVISION_GRANTS, division_id) for division_id in division_ids)
    yield from map(_from_division_grant, fetcher.listings(endpoints, params))
    wildcard = api_path(DIVISION_GRANTS, WILDCARD_DIVISION)
    try:
        yield from map(_from_division_grant, fetcher.listing(wildcard, params))
    except GenesysCloudApiError as err:
        if err.status != 404:
            raise
        log.warning("%s answered 404: reading wildcard-division grants from the per-role listings", wildcard)
        roles_again = fetcher.listing(ROLES, ROLE_PARAMS, first=first_roles)
        yield from _grants_by_role(fetcher, roles_again, only_division=WILDCARD_DIVISION)


def _total(first: Page) -> int:
    return first.total if first.total is not None else len(first.entities)


def _grants_by_role(
    fetcher: PageFetcher, role_listing: Iterator[dict], *, only_division: str | None = None
) -> Iterator[dict]:
    """Records from ``/roles/{id}/subjectgrants``: one subject per entity, with its divisions for the role."""
    names = {role["id"]: role.get("name") for role in role_listing}
    endpoints = [api_path(ROLE_SUBJECT_GRANTS, role_id) for role_id in names]
    for role_id, (_, subjects) in zip(names, fetcher.each_listing(endpoints), strict=True):
        for subject in subjects:
            for division in subject.get("divisions") or []:
                if only_division is None or division.get("id") == only_division:
                    yield grant_record(subject["id"], role_id, names[role_id], division, None)


PLANS: dict[str, Callable[[PageFetcher, ExtractOptions], Iterator[dict]]] = {
    "users": users,
    "roles": roles,
    "permissions": permissions,
    "divisions": divisions,
    "grants": grants,
    **ANALYTICS_PLANS,
    **ROUTING_PLANS,
}
