"""UsersApi: ``/api/v2/users`` (page-number listing with its result cap), ``/users/query`` (cursor paging)
and one user, with the ``expand`` values other areas' user listings share (:func:`expand_of`)."""

from __future__ import annotations

import bisect
from typing import Any

from airflow_provider_genesys.testing.areas.calls import SEGMENT, Call, Context, Route
from airflow_provider_genesys.testing.errors import ApiError, bad_request, not_found
from airflow_provider_genesys.testing.options import Settings
from airflow_provider_genesys.testing.org.directory import STATE_FILTERS, Org
from airflow_provider_genesys.testing.paging import (
    Params,
    cursor_uri,
    decode_cursor,
    encode_cursor,
    page_envelope,
    uri,
)

USERS_MAX_PAGE_SIZE = 500
USERS_RESULT_CAP = 10_000


def state_filter(params: Params) -> str:
    """The ``state`` parameter of the user listings (``active`` by default)."""
    return params.choice("state", "active", STATE_FILTERS)


def expand_of(params: Params, settings: Settings) -> frozenset[str]:
    """The ``expand`` values honoured (none with ``expand="dropped"``: Genesys resolves them best effort)."""
    return frozenset(params.list("expand")) if settings.expand == "honoured" else frozenset()


def user_index(org: Org, user_id: str) -> int:
    """The index of a user named in a path; 404 when unknown."""
    i = org.index_of(user_id)
    if i is None:
        raise not_found(f"The user {user_id} was not found.")
    return i


class UsersApi:
    """The org's users as ``UserEntityListing`` / ``UserCursorEntityListing`` / ``User``."""

    def __init__(self, context: Context) -> None:
        self.org = context.org
        self.settings = context.settings

    def routes(self) -> list[Route]:
        return [
            ("GET", "/api/v2/users", "/api/v2/users", self.list_users),
            ("GET", "/api/v2/users/query", "/api/v2/users/query", self.query_users),
            ("GET", f"/api/v2/users/{SEGMENT}", "/api/v2/users/{userId}", self.get_user),
        ]

    def list_users(self, call: Call) -> tuple[int, Any]:
        params = call.params
        size = params.page_size(USERS_MAX_PAGE_SIZE)
        number = params.int("pageNumber", 1)
        capped = self.settings.users_cap == "all" or state_filter(params) == "inactive"
        if capped and size * number > USERS_RESULT_CAP:
            raise bad_request(
                f"The requested page (pageNumber {number} x pageSize {size}) is past the first "
                f"{USERS_RESULT_CAP:,} results: this listing is limited to {USERS_RESULT_CAP:,} results. "
                "Use GET /api/v2/users/query (cursor paging) to read more users."
            )
        state = state_filter(params)
        descending = params.choice("sortOrder", "ASC", ("ASC", "DESC")) == "DESC"
        order = self.org.sorted_by_name(state)
        ids = params.list("id")
        if ids:
            wanted = {i for i in map(self.org.index_of, ids) if i is not None}
            order = [i for i in order if i in wanted]
        if descending:
            order = order[::-1]
        expand = expand_of(params, self.settings)
        body = page_envelope(
            call.path,
            params,
            order,
            lambda i: self.org.render_user(i, expand),
            max_page_size=USERS_MAX_PAGE_SIZE,
        )
        return 200, body

    def query_users(self, call: Call) -> tuple[int, Any]:
        """Cursor paging in id order; the cursor is the last id seen, so changes never shift pages."""
        if self.settings.users_query == "forbidden":
            raise ApiError(
                403, "missing.division.permission",
                "You are missing the following permission: directory:user:view in all divisions.",
            )
        params = call.params
        size = params.page_size(USERS_MAX_PAGE_SIZE)
        state = state_filter(params)
        descending = params.choice("sortOrder", "ASC", ("ASC", "DESC")) == "DESC"
        ids, order = self.org.sorted_by_id(state)
        cursor = params.get("cursor")
        last = decode_cursor(cursor) if cursor else None
        if descending:
            end = bisect.bisect_left(ids, last) if last is not None else len(ids)
            chunk, more = order[max(0, end - size) : end][::-1], end - size > 0
        else:
            start = bisect.bisect_right(ids, last) if last is not None else 0
            chunk, more = order[start : start + size], start + size < len(ids)
        expand = expand_of(params, self.settings)
        body: dict[str, Any] = {"entities": [self.org.render_user(i, expand) for i in chunk]}
        if more and chunk:
            next_cursor = encode_cursor(self.org.user_id(chunk[-1]))
            body["cursor"] = next_cursor
            body["nextUri"] = cursor_uri(call.path, params, next_cursor)
        body["selfUri"] = uri(call.path, params)
        return 200, body

    def get_user(self, call: Call) -> tuple[int, Any]:
        i = user_index(self.org, call.args[0])
        state = call.params.get("state")
        actual = self.org.state_of(i)
        if state is not None:
            state_filter(call.params)
        if (state in (None, "") and actual == "deleted") or (
            state not in (None, "", "any") and actual != state
        ):
            raise not_found(f"The user {call.args[0]} was not found in state {state or 'active/inactive'}.")
        return 200, self.org.render_user(i, expand_of(call.params, self.settings))
