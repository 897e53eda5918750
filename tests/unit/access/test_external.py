"""External-id lookups against a mocked API (requests-mock): each distinct key once, a chunk at a time,
404s kept as unknown keys whose rows the resolver lists together, keys quoted in the path, 429 honoured."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

import pytest

from airflow_provider_genesys.access.desired import read_rows
from airflow_provider_genesys.access.errors import UnresolvedNamesError
from airflow_provider_genesys.access.external import BY_EXTERNAL_ID, lookup_keys, user_keys
from airflow_provider_genesys.access.names import Directory, NameIndex, UserIndex, resolve
from airflow_provider_genesys.exceptions import GenesysCloudApiError
from tests.unit.conftest import API

LOOKUP = re.compile(re.escape(API) + r"/api/v2/users/externalid/([^/?]+)/([^/?]+)$")
NOT_FOUND = {"status_code": 404, "json": {"code": "not.found", "status": 404, "message": "not found"}}


def user_id(key: str) -> str:
    return f"00000000-0000-4000-8000-{abs(hash(key)) % 10**12:012d}"


def serve(requests_mock: Any, known: set[str]) -> list[str]:
    """Answer lookups of ``known`` keys with their user, others 404; returns the keys asked, in order."""
    asked: list[str] = []

    def answer(request: Any, context: Any) -> dict[str, Any]:
        authority, key = (unquote(part) for part in LOOKUP.match(request.url).groups())
        asked.append(key)
        assert authority == "hr"
        if key not in known:
            context.status_code = 404
            return NOT_FOUND["json"]
        return {"id": user_id(key), "name": key, "state": "active"}

    requests_mock.get(LOOKUP, json=answer)
    return asked


@pytest.fixture
def client(make_client):
    return make_client(max_retry_wait=0)


def test_each_distinct_key_is_looked_up_once(client, requests_mock) -> None:
    asked = serve(requests_mock, {"E1", "E2", "E3"})
    keys = ["E1", "E2", "E1", "E3", "E2", "E1"] * 500  # 3,000 names of 3 people
    found = lookup_keys(client, "hr", keys, chunk=1000)
    assert sorted(asked) == ["E1", "E2", "E3"]
    assert found.requests == 3
    assert found.ids == {k: user_id(k) for k in ("E1", "E2", "E3")}
    assert found.unknown == set()


def test_keys_are_read_a_chunk_at_a_time_never_all_at_once(client, requests_mock) -> None:
    asked = serve(requests_mock, {f"E{i}" for i in range(25)})
    lookups_when_pulled: list[int] = []

    def watched():
        for i in range(25):
            lookups_when_pulled.append(len(asked))
            yield f"E{i}"

    found = lookup_keys(client, "hr", watched(), chunk=10, max_workers=3)
    assert found.requests == 25
    assert len(found.ids) == 25
    # the 11th key is read after the first ten were looked up, the 21st after twenty
    assert lookups_when_pulled[10] == 10
    assert lookups_when_pulled[20] == 20
    assert lookups_when_pulled[9] == 0


def test_unknown_keys_are_all_listed_with_their_rows_and_other_unresolved_names(client, requests_mock) -> None:
    serve(requests_mock, {"E1"})
    rows = [{"subject": "E1", "role": "Agent", "division": "*"},
            {"subject": "E404", "role": "Agent", "division": "*"},
            {"subject": "E405", "role": "Agnet", "division": "*"},
            {"subject": "Support", "subject_type": "group", "role": "Agent", "division": "*"},
            {"subject": "E404", "role": "Agent", "division": "Nowhere"}]
    found = lookup_keys(client, "hr", user_keys(read_rows(rows, "grants"), "grants"))
    assert found.unknown == {"E404", "E405"}
    assert found.requests == 3
    users = UserIndex.of([{"id": user_id("E1"), "email": "ann@example.com"}], user_key="external:hr",
                         external_ids=found.ids)
    directory = Directory(roles=NameIndex.of("role", [{"id": "r1", "name": "Agent"}]),
                          divisions=NameIndex.of("division", [{"id": "d1", "name": "Home"}]),
                          groups=NameIndex.of("group", [{"id": "g1", "name": "Support"}]),
                          queues=NameIndex("queue"), users=users)
    items = list(resolve(read_rows(rows, "grants"), "grants", directory))
    assert [(i.row, i.subject) for i in items] == [(1, user_id("E1")), (4, "g1")]
    error = UnresolvedNamesError(directory.problems)
    assert error.problems == [
        "row 2 (E404, Agent, *): subject 'E404': no user has external id 'E404' under authority 'hr'",
        "row 3 (E405, Agnet, *): subject 'E405': no user has external id 'E405' under authority 'hr'",
        "row 3 (E405, Agnet, *): role 'Agnet': no role is called 'Agnet' (closest: 'Agent')",
        "row 5 (E404, Agent, Nowhere): subject 'E404': no user has external id 'E404' under authority 'hr'",
        "row 5 (E404, Agent, Nowhere): division 'Nowhere': no division is called 'Nowhere'",
    ]


@pytest.mark.parametrize(("relation", "column"), [("group_members", "user"), ("queue_members", "user"),
                                             ("user_state", "user")])
def test_user_keys_of_each_relation(relation: str, column: str) -> None:
    other = {"group_members": {"group": "G"}, "queue_members": {"queue": "Q"},
             "user_state": {"state": "inactive"}}[relation]
    rows = read_rows([{column: "E7", **other}, {column: "", **other}], relation)
    assert list(user_keys(rows, relation)) == ["E7", ""]


def test_keys_with_special_characters_are_quoted_and_path_breakers_never_sent(client, requests_mock) -> None:
    odd = ["a/b", "50%", "x y", "é+?#&", "..", ".", "", "  "]
    asked = serve(requests_mock, set(odd))
    found = lookup_keys(client, "hr", odd)
    assert sorted(asked) == sorted(["a/b", "50%", "x y", "é+?#&"])
    assert found.requests == 4
    assert set(found.ids) == {"a/b", "50%", "x y", "é+?#&"}
    paths = {r.path for r in requests_mock.request_history if "externalid" in r.url}
    assert "/api/v2/users/externalid/hr/a%2fb" in paths  # requests-mock lower-cases paths
    assert "/api/v2/users/externalid/hr/50%25" in paths
    assert "/api/v2/users/externalid/hr/%c3%a9%2b%3f%23%26" in paths


def test_the_authority_is_quoted_too(client, requests_mock) -> None:
    requests_mock.get(API + BY_EXTERNAL_ID.format("hr%2Feu", "E1"), json={"id": "u1"})
    assert lookup_keys(client, "hr/eu", ["E1"]).ids == {"E1": "u1"}


def test_a_429_is_honoured_and_the_key_asked_again(make_client, requests_mock, clock) -> None:
    url = API + BY_EXTERNAL_ID.format("hr", "E1")
    requests_mock.get(url, [{"status_code": 429, "headers": {"Retry-After": "7"},
                             "json": {"code": "too.many.requests.retry.after", "status": 429}},
                            {"json": {"id": "u1"}}])
    found = lookup_keys(make_client(), "hr", ["E1"])
    assert found.ids == {"E1": "u1"}
    assert found.requests == 1
    assert requests_mock.call_count >= 2
    assert 7 in clock.sleeps


def test_errors_other_than_404_fail_the_lookup(client, requests_mock) -> None:
    requests_mock.get(API + BY_EXTERNAL_ID.format("hr", "E1"), status_code=403,
                      json={"code": "missing.any.permissions", "status": 403,
                            "message": "You are missing the following permission: directory:user:view"})
    with pytest.raises(GenesysCloudApiError) as err:
        lookup_keys(client, "hr", ["E1"])
    assert err.value.status == 403
