from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_genesys.exceptions import GenesysCloudError
from airflow_provider_genesys.paging import iter_pages, page_size_for


class FakeApi:
    """Answers each fetch with the next scripted body and records what was asked."""

    def __init__(self, *bodies: Any) -> None:
        self.bodies = list(bodies)
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, url: str, params: dict[str, Any]) -> Any:
        self.calls.append((url, dict(params)))
        return self.bodies.pop(0)


def ents(*ids: str) -> list[dict[str, str]]:
    return [{"id": i} for i in ids]


def ids_of(api: FakeApi, endpoint: str, params: dict[str, Any] | None = None) -> list[str]:
    return [e["id"] for page in iter_pages(api, endpoint, params) for e in page.entities]


@pytest.mark.parametrize(
    ("endpoint", "size"),
    [
        ("/api/v2/users", 500),
        ("/api/v2/users/query", 500),
        ("/api/v2/authorization/divisions/d-1/grants", 500),
        ("/api/v2/authorization/roles", 100),
        ("/api/v2/authorization/divisions", 100),
        ("/api/v2/users/u-1/roles", 100),
    ],
)
def test_page_size_table(endpoint: str, size: int) -> None:
    assert page_size_for(endpoint) == size


def test_page_number_envelope_with_uris() -> None:
    api = FakeApi(
        {"entities": ents("a", "b"), "pageNumber": 1, "pageCount": 2, "total": 3, "nextUri": None},
        {"entities": ents("c"), "pageNumber": 2, "pageCount": 2, "total": 3},
    )
    pages = list(iter_pages(api, "/api/v2/users", {"state": "any"}))
    assert [(p.number, p.count, p.total) for p in pages] == [(1, 2, 3), (2, 2, 3)]
    assert api.calls == [
        ("/api/v2/users", {"state": "any", "pageSize": 500}),
        ("/api/v2/users", {"state": "any", "pageSize": 500, "pageNumber": 2}),
    ]


def test_page_number_envelope_without_uris_or_page_count() -> None:
    api = FakeApi(
        {"entities": ents("a", "b"), "pageSize": 2, "pageNumber": 1, "total": 3},
        {"entities": ents("c"), "pageSize": 2, "pageNumber": 2, "total": 3},
    )
    assert ids_of(api, "/api/v2/authorization/roles/r-1/users", {"pageSize": 2}) == ["a", "b", "c"]
    assert api.calls[0][1] == {"pageSize": 2}  # the caller's page size is kept


def test_next_uri_envelope_is_followed() -> None:
    api = FakeApi(
        {"entities": ents("a"), "nextUri": "/api/v2/authorization/roles?pageSize=1&pageNumber=2"},
        {"entities": ents("b"), "nextUri": None},
    )
    assert ids_of(api, "/api/v2/authorization/roles", {"userCount": False}) == ["a", "b"]
    assert api.calls[1] == ("/api/v2/authorization/roles?pageSize=1&pageNumber=2", {"userCount": False})


def test_cursor_envelope_of_users_query() -> None:
    api = FakeApi(
        {"entities": ents("a"), "cursor": "c1", "selfUri": "/api/v2/users/query"},
        {"entities": ents("b"), "cursor": "c2"},
        {"entities": ents("c")},
    )
    assert ids_of(api, "/api/v2/users/query") == ["a", "b", "c"]
    assert [call[1].get("cursor") for call in api.calls] == [None, "c1", "c2"]
    assert all(call[1]["pageSize"] == 500 for call in api.calls)


def test_after_envelope_as_field_and_in_next_uri() -> None:
    api = FakeApi(
        {"entities": ents("a"), "after": "x1"},
        {"entities": ents("b"), "nextUri": "/api/v2/authorization/divisions/query?after=x2&pageSize=100"},
        {"entities": ents("c")},
    )
    assert ids_of(api, "/api/v2/authorization/divisions/query") == ["a", "b", "c"]
    assert api.calls[1][1]["after"] == "x1"
    assert api.calls[2] == ("/api/v2/authorization/divisions/query?after=x2&pageSize=100", {})


def test_empty_page_stops_a_page_number_listing() -> None:
    api = FakeApi(
        {"entities": ents("a"), "pageNumber": 1, "pageCount": 5},
        {"entities": [], "pageNumber": 2, "pageCount": 5},
    )
    assert ids_of(api, "/api/v2/authorization/roles") == ["a"]
    assert len(api.calls) == 2


def test_repeated_page_stops_an_infinite_next_uri() -> None:
    looping = {"entities": ents("a", "b"), "nextUri": "/api/v2/authorization/roles?pageNumber=2"}
    api = FakeApi(looping, dict(looping), dict(looping))
    assert ids_of(api, "/api/v2/authorization/roles") == ["a", "b"]
    assert len(api.calls) == 2


def test_three_empty_cursor_pages_in_a_row_stop() -> None:
    api = FakeApi(
        {"entities": ents("a"), "cursor": "1"},
        {"entities": [], "cursor": "2"},
        {"entities": [], "cursor": "3"},
        {"entities": ents("b"), "cursor": "4"},
        {"entities": [], "cursor": "5"},
        {"entities": [], "cursor": "6"},
        {"entities": [], "cursor": "7"},
        {"entities": ents("never"), "cursor": "8"},
    )
    assert ids_of(api, "/api/v2/users/query") == ["a", "b"]
    assert len(api.calls) == 7


def test_pages_stream_one_fetch_at_a_time() -> None:
    api = FakeApi(
        {"entities": ents("a"), "pageNumber": 1, "pageCount": 3},
        {"entities": ents("b"), "pageNumber": 2, "pageCount": 3},
        {"entities": ents("c"), "pageNumber": 3, "pageCount": 3},
    )
    pages = iter_pages(api, "/api/v2/authorization/roles")
    assert api.calls == []
    next(pages)
    assert len(api.calls) == 1
    next(pages)
    assert len(api.calls) == 2


def test_bare_list_is_one_page_and_non_listing_is_an_error() -> None:
    assert ids_of(FakeApi(ents("a", "b")), "/api/v2/authorization/divisionspermitted") == ["a", "b"]
    with pytest.raises(GenesysCloudError, match="not answer with a paged listing"):
        ids_of(FakeApi({"id": "s", "grants": []}), "/api/v2/authorization/subjects/s")


# -- a listing whose operation takes no paging parameters (GET /api/v2/oauth/clients) ----------------------
OAUTH = "/api/v2/oauth/clients"


def test_a_listing_without_paging_parameters_is_sent_none() -> None:
    api = FakeApi({"entities": ents("a", "b"), "pageSize": 2, "pageNumber": 1, "total": 2, "pageCount": 1})
    assert ids_of(api, OAUTH) == ["a", "b"]
    assert api.calls == [(OAUTH, {})]


def test_its_next_uri_is_followed_when_genesys_fills_it() -> None:
    api = FakeApi(
        {"entities": ents("a"), "pageSize": 1, "pageNumber": 1, "pageCount": 2, "nextUri": f"{OAUTH}?pageNumber=2"},
        {"entities": ents("b"), "pageSize": 1, "pageNumber": 2, "pageCount": 2},
    )
    assert ids_of(api, OAUTH) == ["a", "b"]
    assert api.calls == [(OAUTH, {}), (f"{OAUTH}?pageNumber=2", {})]


@pytest.mark.parametrize(
    "envelope",
    [{"pageCount": 3}, {"total": 5, "pageSize": 2}],  # more pages said by pageCount, or by total and pageSize
)
def test_more_pages_without_a_next_uri_is_an_error_not_a_short_listing(envelope: dict[str, int]) -> None:
    api = FakeApi({"entities": ents("a", "b"), "pageNumber": 1, **envelope})
    with pytest.raises(GenesysCloudError, match=r"page 1 of 3 without a nextUri .* takes no paging parameters"):
        ids_of(api, OAUTH)
    assert api.calls == [(OAUTH, {})]  # no pageNumber invented


def test_a_next_uri_repeating_a_page_of_a_longer_listing_is_an_error() -> None:
    looping = {"entities": ents("a"), "pageNumber": 1, "pageCount": 2, "nextUri": f"{OAUTH}?pageNumber=2"}
    api = FakeApi(looping, dict(looping))
    with pytest.raises(GenesysCloudError, match="page 1 of 2"):
        ids_of(api, OAUTH)
    assert len(api.calls) == 2
