"""Paging: recognise Genesys' envelopes, follow them, and stop where Genesys' own CLI stops.

Envelopes: page-number (`pageNumber`/`pageCount`/`total`, with or without URIs), `nextUri`, `cursor`
(`/api/v2/users/query`) and `after`. Iteration is a generator that holds one page at a time. A listing whose
operation takes no paging parameters (`GET /api/v2/oauth/clients`) is sent none: only a `nextUri` in its
envelope is followed, and an envelope that says more pages exist without one is an error, not a silent end.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from airflow_provider_genesys.exceptions import GenesysCloudError

MAX_EMPTY_CURSOR_PAGES = 3  # some endpoints hand out an "infinite nextUri"
MAX_REMEMBERED_PAGES = 10_000  # fingerprints of pages seen, to stop on a repeat (bounded memory)
DEFAULT_PAGE_SIZE = 100
_PAGE_SIZES: tuple[tuple[re.Pattern[str], int], ...] = (
    (re.compile(r"^/api/v2/users/?$"), 500),
    (re.compile(r"^/api/v2/users/query/?$"), 500),
    (re.compile(r"^/api/v2/authorization/divisions/[^/]+/grants/?$"), 500),
)
# Listings whose operation defines no paging parameter (the SDK's ``OAuthApi.get_oauth_clients`` has no query
# parameter at all, though its ``OAuthClientEntityListing`` has the whole page-number envelope).
_NO_PAGE_PARAMETERS: tuple[re.Pattern[str], ...] = (re.compile(r"^/api/v2/oauth/clients/?$"),)


def takes_page_parameters(endpoint: str) -> bool:
    """Whether the operation defines ``pageSize``/``pageNumber``: only then are they ever sent."""
    path = urlsplit(endpoint).path
    return not any(pattern.match(path) for pattern in _NO_PAGE_PARAMETERS)


def page_size_for(endpoint: str) -> int:
    """The largest page size the endpoint accepts (docs/architecture.md), sent when the caller sets none."""
    path = urlsplit(endpoint).path
    for pattern, size in _PAGE_SIZES:
        if pattern.match(path):
            return size
    return DEFAULT_PAGE_SIZE


@dataclass
class Page:
    """One page of a listing. `count` is the page count (`pageCount`) when the envelope gives it."""

    entities: list[Any]
    number: int | None = None
    count: int | None = None
    total: int | None = None
    next_uri: str | None = None
    cursor: str | None = None
    after: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def is_cursor(self) -> bool:
        """Cursor-style pages (nextUri/cursor/after without page numbers) may legitimately be empty."""
        return self.number is None and bool(self.next_uri or self.cursor or self.after)


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def parse_page(body: Any, endpoint: str = "") -> Page:
    """Read one response body as a page; a bare list is a single page."""
    if isinstance(body, list):
        return Page(entities=body)
    if not isinstance(body, Mapping) or not isinstance(body.get("entities"), list):
        raise GenesysCloudError(
            f"{endpoint or 'The endpoint'} did not answer with a paged listing (no 'entities' list); "
            "call request() for endpoints that are not paged."
        )
    return Page(
        entities=body["entities"],
        number=_int(body.get("pageNumber")),
        count=_int(body.get("pageCount")),
        total=_int(body.get("total")),
        next_uri=body.get("nextUri") or None,
        cursor=body.get("cursor") or None,
        after=body.get("after") or None,
        raw=dict(body),
    )


def page_count(page: Page, page_size: int) -> int | None:
    """The listing's page count: ``pageCount``, else derived from ``total``."""
    if page.count is not None:
        return page.count
    if page.total is not None:
        return math.ceil(page.total / page_size)
    return None


def _fingerprint(entities: list[Any]) -> str:
    ids = [e.get("id") if isinstance(e, Mapping) else None for e in entities]
    material = json.dumps(ids if all(ids) else entities, sort_keys=True, default=str)
    return hashlib.sha256(material.encode()).hexdigest()


def _next_request(page: Page, endpoint: str, params: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """Where the next page is, or None at the end."""
    if page.next_uri:
        # nextUri carries the whole query (page number, cursor or after); keep our params only if absent.
        query = parse_qs(urlsplit(page.next_uri).query)
        kept = {
            k: v for k, v in params.items() if k not in query and k not in ("pageNumber", "cursor", "after")
        }
        return page.next_uri, kept
    if page.cursor:
        return endpoint, {**params, "cursor": page.cursor}
    if page.after:
        return endpoint, {**params, "after": page.after}
    if page.number is not None and takes_page_parameters(endpoint):
        size = params.get("pageSize")
        count = page_count(page, int(size)) if size else page.count
        if count is not None and page.number < count:
            return endpoint, {**params, "pageNumber": page.number + 1}
    return None


def _unreachable_rest(page: Page, endpoint: str) -> GenesysCloudError | None:
    """The error for a listing that cannot be asked for pages it says it has, or None.

    Only for operations without paging parameters: their next page exists only as a ``nextUri``. Ending there
    quietly would hand over part of the listing as if it were all of it.
    """
    if takes_page_parameters(endpoint) or page.number is None:
        return None
    size = _int(page.raw.get("pageSize"))
    count = page.count if page.count is not None else page_count(page, size) if size else None
    if count is None or page.number >= count:
        return None
    return GenesysCloudError(
        f"GET {urlsplit(endpoint).path} answered page {page.number} of {count} without a nextUri to the next "
        "one (or with one that repeats a page), and the operation takes no paging parameters: the rest of "
        "the listing cannot be read, so nothing is returned as if it were all of it. Retry later; if it "
        "persists, report it to Genesys with the correlation id of the request."
    )


def iter_pages(
    fetch: Callable[[str, dict[str, Any]], Any],
    endpoint: str,
    params: Mapping[str, Any] | None = None,
) -> Iterator[Page]:
    """Fetch and yield pages until the envelope says there are no more (or the API loops)."""
    current = dict(params or {})
    if takes_page_parameters(endpoint):
        current.setdefault("pageSize", page_size_for(endpoint))
    seen: OrderedDict[str, None] = OrderedDict()
    empty_in_a_row = 0
    next_request: tuple[str, dict[str, Any]] | None = (endpoint, current)
    while next_request is not None:
        url, query = next_request
        page = parse_page(fetch(url, query), url)
        if not page.entities:
            empty_in_a_row += 1
            if not page.is_cursor or empty_in_a_row >= MAX_EMPTY_CURSOR_PAGES:
                return
        else:
            empty_in_a_row = 0
            key = _fingerprint(page.entities)
            if key in seen:
                error = _unreachable_rest(page, endpoint)
                if error is not None:
                    raise error
                return  # the API handed us a page we already have: it would loop forever
            seen[key] = None
            if len(seen) > MAX_REMEMBERED_PAGES:
                seen.popitem(last=False)
            yield page
        next_request = _next_request(page, endpoint, query)
        if next_request is None:
            error = _unreachable_rest(page, endpoint)
            if error is not None:
                raise error
