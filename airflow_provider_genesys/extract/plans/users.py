"""Users, in every way the real API may page them past 10,000 results.

``GET /api/v2/users`` answers 400 for results past the first 10,000 of a listing: Genesys' Terraform
provider shows it for ``state=inactive``; whether other states are capped is not published. The cursor
listing ``GET /api/v2/users/query`` has no cap but needs ``directory:user:view`` in every division (403
without). So, per listing of more than 10,000 users: if the page past the cap answers, page numbers in
parallel; else the cursor listing (one page at a time); if that is refused, page numbers up to the cap and
the same listing in descending order for the rest (20,000 users of one state at most; past that a clear
error says which permission lifts the limit). ``state=any`` past
10,000 is read as its three states, each of which may be capped or not. The writer drops the users
two listings share.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from typing import Any

from airflow_provider_genesys.exceptions import GenesysCloudApiError, GenesysCloudConfigError
from airflow_provider_genesys.extract.fetch import PageFetcher
from airflow_provider_genesys.extract.plans.common import ExtractOptions

log = logging.getLogger(__name__)

USERS = "/api/v2/users"
USERS_QUERY = "/api/v2/users/query"
PAGE_SIZE = 500
# GET /api/v2/users answers 400 past the first 10,000 results (at least for state=inactive).
USERS_PAGE_NUMBER_CAP = 10_000
STATES = ("active", "inactive", "deleted")


def users(fetcher: PageFetcher, options: ExtractOptions) -> Iterator[dict]:
    """Every user of ``options.state``; page numbers in parallel up to 10,000 users."""
    params: dict[str, Any] = {"pageSize": PAGE_SIZE}
    if options.expand:
        params["expand"] = ",".join(options.expand)
    yield from users_in_state(fetcher, options.state, params)


def users_in_state(fetcher: PageFetcher, state: str, params: dict[str, Any]) -> Iterator[dict]:
    """One state's users (``any``: all), whichever of the three ways the API allows."""
    query = {**params, "state": state}
    first = fetcher.get_page(USERS, query, 1)
    total = first.total if first.total is not None else len(first.entities)
    if total <= USERS_PAGE_NUMBER_CAP:
        yield from fetcher.listing(USERS, query, first=first)
        return
    if state == "any":
        log.info("%d users is past the %d-result cap of %s: listing each state", total, USERS_PAGE_NUMBER_CAP, USERS)
        for one in STATES:
            yield from users_in_state(fetcher, one, params)
        return
    allowed = USERS_PAGE_NUMBER_CAP // PAGE_SIZE  # pages within the cap
    pages = range(2, allowed + 1)
    try:
        past = fetcher.get_page(USERS, query, allowed + 1)  # does the cap hold for this state?
    except GenesysCloudApiError as err:
        if err.status != 400:
            raise
    else:  # not capped: every page by number, in parallel
        log.info("%s pages %d %s users past %d results: reading them by page number", USERS, total, state,
                 USERS_PAGE_NUMBER_CAP)
        yield from first.entities
        yield from _pages(fetcher, query, pages)
        yield from past.entities
        yield from _pages(fetcher, query, range(allowed + 2, math.ceil(total / PAGE_SIZE) + 1))
        return
    try:
        cursor = fetcher.sequential(USERS_QUERY, query)
        head = next(cursor, None)
    except GenesysCloudApiError as err:
        if err.status is None or not 400 <= err.status < 500:
            raise
        log.warning("%s answered %s: reading %d %s users from both ends of %s", USERS_QUERY, err.status,
                    total, state, USERS)
    else:
        log.info("%d %s users is past the %d-result cap of %s: streaming %s by cursor", total, state,
                 USERS_PAGE_NUMBER_CAP, USERS, USERS_QUERY)
        if head is not None:
            yield head
            yield from cursor
        return
    if total > 2 * USERS_PAGE_NUMBER_CAP:
        raise GenesysCloudConfigError(
            f"{total} {state} users cannot be listed: {USERS} answers 400 past {USERS_PAGE_NUMBER_CAP:,} "
            f"results (read from both ends: {2 * USERS_PAGE_NUMBER_CAP:,}) and {USERS_QUERY} was refused. "
            f"Give the OAuth client's role directory:user:view in all divisions so the cursor listing works."
        )
    yield from first.entities
    yield from _pages(fetcher, query, pages)
    rest = math.ceil((total - USERS_PAGE_NUMBER_CAP) / PAGE_SIZE)
    yield from _pages(fetcher, {**query, "sortOrder": "DESC"}, range(1, rest + 1))


def _pages(fetcher: PageFetcher, query: dict[str, Any], numbers: range) -> Iterator[dict]:
    """The entities of pages ``numbers`` of the users listing, fetched in parallel, in order."""
    for page in fetcher.ordered_map(lambda n: fetcher.get_page(USERS, query, n), numbers):
        yield from page.entities
