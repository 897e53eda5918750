"""UsersApi: ``/api/v2/users`` (page-number listing with its result cap), ``/users/query`` (cursor paging),
one user and its ``PATCH`` (state, with the user's version), external ids (HR keys), the token's own user
(``/users/me``), with the ``expand`` values other areas' user listings share (:func:`expand_of`,
:func:`listing_expand`) and the user lookup every area's writes share (:class:`UserLookup`: a user created
moments ago can be 404). A user's routing skills and languages are ``user_routing.py``."""

from __future__ import annotations

import bisect
from collections.abc import Callable
from typing import Any

from airflow_provider_genesys.testing.areas.calls import SEGMENT, Call, Context, Route, json_body
from airflow_provider_genesys.testing.errors import ApiError, bad_request, not_found, stale_version
from airflow_provider_genesys.testing.options import Settings
from airflow_provider_genesys.testing.org.directory import STATE_FILTERS
from airflow_provider_genesys.testing.org.seeded import digest
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
# GET /api/v2/users/me with a client-credentials token: the status and code of each users_me_client value
NO_USER_CODES = {400: "bad.request", 403: "not.authorized", 404: "not.found"}
PATCHABLE_STATES = ("active", "inactive")  # UpdateUser.state also allows "deleted": DELETE does that


def state_filter(params: Params) -> str:
    """The ``state`` parameter of the user listings (``active`` by default)."""
    return params.choice("state", "active", STATE_FILTERS)


def expand_of(params: Params, settings: Settings) -> frozenset[str]:
    """The ``expand`` values honoured (none with ``expand="dropped"``: Genesys resolves them best effort)."""
    return frozenset(params.list("expand")) if settings.expand == "honoured" else frozenset()


def listing_expand(params: Params, settings: Settings, seed: int) -> Callable[[int], frozenset[str]]:
    """The ``expand`` values a user listing honours for user ``i``: :func:`expand_of`, except none for the
    ``expand_missing_percent`` of users (the same users every time: a hash of the seed and the user)."""
    wanted = expand_of(params, settings)
    percent = settings.expand_missing_percent
    if not wanted or not percent:
        return lambda i: wanted
    return lambda i: frozenset() if digest(seed, "expand-missing", i)[0] % 100 < percent else wanted


class UserLookup:
    """Users named by id in a path or a write's body, as the API sees them: unknown ids, and (with
    ``new_subject_404_seconds``) users created less than that long ago on the emulator clock, are not found."""

    def __init__(self, context: Context) -> None:
        self.org = context.org
        self.clock = context.clock
        self.young_seconds = context.settings.new_subject_404_seconds

    def find(self, user_id: str) -> int | None:
        i = self.org.index_of(user_id)
        if i is None or not self.young_seconds:
            return i
        added = self.org.added_at(i)
        return None if added is not None and self.clock.now() - added < self.young_seconds else i

    def require(self, user_id: str) -> int:
        """The index of a user named in a path; 404 when not found."""
        i = self.find(user_id)
        if i is None:
            raise not_found(f"The user {user_id} was not found.")
        return i

    def all_known(self, user_ids: list[str], what: str) -> list[int]:
        """The indices of the users a write's body names, in its order; 400 naming every unknown one."""
        found = {u: self.find(u) for u in user_ids}
        unknown = [u for u, i in found.items() if i is None or self.org.state_of(i) == "deleted"]
        if unknown:
            raise bad_request(f"The {what} references users that do not exist: {', '.join(unknown)}.")
        return [i for i in found.values() if i is not None]


class UsersApi:
    """The org's users as ``UserEntityListing`` / ``UserCursorEntityListing`` / ``User``."""

    def __init__(self, context: Context) -> None:
        self.org = context.org
        self.settings = context.settings
        self.writes = context.writes
        self.users = UserLookup(context)

    def routes(self) -> list[Route]:
        return [
            ("GET", "/api/v2/users", "/api/v2/users", self.list_users),
            ("GET", "/api/v2/users/query", "/api/v2/users/query", self.query_users),
            ("GET", "/api/v2/users/me", "/api/v2/users/me", self.me),
            ("GET", f"/api/v2/users/{SEGMENT}", "/api/v2/users/{userId}", self.get_user),
            ("PATCH", f"/api/v2/users/{SEGMENT}", "/api/v2/users/{userId}", self.patch_user),
            ("GET", f"/api/v2/users/{SEGMENT}/externalid", "/api/v2/users/{userId}/externalid",
             self.user_external_ids),
            ("GET", f"/api/v2/users/externalid/{SEGMENT}/{SEGMENT}",
             "/api/v2/users/externalid/{authorityName}/{externalKey}", self.user_by_external_id),
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
        expand = listing_expand(params, self.settings, self.org.seed)
        body = page_envelope(
            call.path,
            params,
            order,
            lambda i: self.org.render_user(i, expand(i)),
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
        expand = listing_expand(params, self.settings, self.org.seed)
        body: dict[str, Any] = {"entities": [self.org.render_user(i, expand(i)) for i in chunk]}
        if more and chunk:
            next_cursor = encode_cursor(self.org.user_id(chunk[-1]))
            body["cursor"] = next_cursor
            body["nextUri"] = cursor_uri(call.path, params, next_cursor)
        body["selfUri"] = uri(call.path, params)
        return 200, body

    def get_user(self, call: Call) -> tuple[int, Any]:
        i = self.users.require(call.args[0])
        state = call.params.get("state")
        actual = self.org.state_of(i)
        if state is not None:
            state_filter(call.params)
        if (state in (None, "") and actual == "deleted") or (
            state not in (None, "", "any") and actual != state
        ):
            raise not_found(f"The user {call.args[0]} was not found in state {state or 'active/inactive'}.")
        return 200, self.org.render_user(i, expand_of(call.params, self.settings))

    def patch_user(self, call: Call) -> tuple[int, Any]:
        """``UpdateUser`` with ``state`` and the user's current ``version``: answers the updated ``User``."""
        i = self.users.require(call.args[0])
        if self.org.state_of(i) == "deleted":
            raise not_found(f"The user {call.args[0]} was not found.")
        body = json_body(call)
        if not isinstance(body, dict):
            raise bad_request('The request body must be a JSON object, e.g. {"state": "inactive", "version": 3}.')
        unsupported = sorted(set(body) - {"state", "version", "id", "selfUri"})
        if unsupported:
            raise bad_request(f"The emulator changes only state with PATCH; not {', '.join(unsupported)}.")
        version = body.get("version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise bad_request("version is required: the user's current version (GET the user first).")
        current = self.org.user_version(i)
        if version != current:
            raise stale_version(self.settings.version_conflict, f"user {call.args[0]}", version, current)
        state = body.get("state", self.org.state_of(i))
        if state not in PATCHABLE_STATES:
            raise bad_request(f"state must be one of {', '.join(PATCHABLE_STATES)}; got {state!r}.")
        answer = self.org.render_user(i)
        self.writes.apply(lambda now: self.org.set_state(i, state, now))
        return 200, {**answer, "state": state, "version": current + 1}

    def me(self, call: Call) -> tuple[int, Any]:
        """``UserMe``: the user behind a user token; a client-credentials token has none (``users_me_client``)."""
        user_id = getattr(call.token, "user_id", None)
        if user_id is None:
            status = int(self.settings.users_me_client)
            raise ApiError(status, NO_USER_CODES[status], "This request requires a user context. Client "
                           "credentials cannot be used for requests to this resource.")
        return 200, self.org.render_user(self.users.require(user_id), expand_of(call.params, self.settings))

    def user_external_ids(self, call: Call) -> tuple[int, Any]:
        """``list[UserExternalIdentifier]``: the HR keys of one user."""
        return 200, self.org.external_ids(self.users.require(call.args[0]))

    def user_by_external_id(self, call: Call) -> tuple[int, Any]:
        """The ``User`` holding an external key under an authority (both case sensitive)."""
        authority, key = call.args
        i = self.org.by_external_id(authority, key)
        if i is None or self.users.find(self.org.user_id(i)) is None:
            raise not_found(f"No user has the external id {key} under the authority {authority}.")
        return 200, self.org.render_user(i, expand_of(call.params, self.settings))
