from __future__ import annotations

import logging
import pickle
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from airflow_provider_genesys import __version__
from airflow_provider_genesys.client import GenesysCloudClient, api_path
from airflow_provider_genesys.exceptions import GenesysCloudApiError, GenesysCloudTransportError
from tests.unit.conftest import API, CLIENT_SECRET, TOKEN_URL, FakeClock

MakeClient = Callable[..., GenesysCloudClient]
ME = f"{API}/api/v2/users/me"
NOT_FOUND = {
    "message": "The user was not found",
    "code": "not.found",
    "status": 404,
    "contextId": "ctx-404",
    "details": [],
    "errors": [],
}


def r429(retry_after: str | None = "7", **headers: str) -> dict[str, Any]:
    if retry_after is not None:
        headers["Retry-After"] = retry_after
    return {
        "status_code": 429,
        "headers": headers,
        "json": {"code": "too.many.requests.retry.after", "message": "x"},
    }


def ok(body: Any = None, **headers: str) -> dict[str, Any]:
    return {"json": body if body is not None else {"id": "me"}, "headers": headers}


def token_calls(requests_mock: Any) -> int:
    return sum(1 for r in requests_mock.request_history if r.url == TOKEN_URL)


def test_request_sends_bearer_and_user_agent_and_returns_json(
    requests_mock: Any, make_client: MakeClient
) -> None:
    requests_mock.get(ME, json={"id": "me"})
    client = make_client()
    assert client.request("GET", "/api/v2/users/me") == {"id": "me"}
    request = requests_mock.last_request
    assert request.headers["Authorization"] == "Bearer tok-1"
    assert request.headers["User-Agent"].startswith(
        f"airflow-provider-genesys/{__version__} python-requests/"
    )


def test_empty_body_and_204_return_none(requests_mock: Any, make_client: MakeClient) -> None:
    requests_mock.delete(ME, status_code=204)
    requests_mock.post(f"{API}/api/v2/x", status_code=200, text="")
    client = make_client()
    assert client.request("DELETE", "/api/v2/users/me") is None
    assert client.request("POST", "/api/v2/x", json={"a": 1}) is None
    assert requests_mock.last_request.json() == {"a": 1}


def test_token_is_fetched_once_across_calls(requests_mock: Any, make_client: MakeClient) -> None:
    requests_mock.get(ME, json={"id": "me"})
    client = make_client()
    for _ in range(3):
        client.request("GET", "/api/v2/users/me")
    assert token_calls(requests_mock) == 1
    assert client.stats.snapshot() == {
        "requests": 3,
        "rate_limited": 0,
        "retries": 0,
        "paced_seconds": 0.0,
        "token_fetches": 1,
    }


def test_token_refreshed_when_it_expires(
    requests_mock: Any, make_client: MakeClient, clock: FakeClock
) -> None:
    requests_mock.get(ME, json={"id": "me"})
    client = make_client()
    client.request("GET", "/api/v2/users/me")
    clock.now += 86400 - 299
    client.request("GET", "/api/v2/users/me")
    assert requests_mock.last_request.headers["Authorization"] == "Bearer tok-2"


def test_401_refreshes_the_token_and_replays_once(requests_mock: Any, make_client: MakeClient) -> None:
    requests_mock.get(ME, [{"status_code": 401, "json": {"code": "credentials.expired"}}, ok()])
    client = make_client()
    assert client.request("GET", "/api/v2/users/me") == {"id": "me"}
    api_calls = [r for r in requests_mock.request_history if r.url.startswith(ME)]
    assert [r.headers["Authorization"] for r in api_calls] == ["Bearer tok-1", "Bearer tok-2"]


def test_second_401_is_an_error_saying_the_token_was_refused_twice(
    requests_mock: Any, make_client: MakeClient
) -> None:
    requests_mock.get(
        ME, status_code=401, json={"code": "bad.credentials", "message": "Invalid login credentials."}
    )
    with pytest.raises(GenesysCloudApiError) as excinfo:
        make_client().request("GET", "/api/v2/users/me")
    assert excinfo.value.status == 401
    assert "refused a freshly issued token twice" in str(excinfo.value)
    assert token_calls(requests_mock) == 2


def test_threads_share_one_token_fetch(requests_mock: Any, make_client: MakeClient) -> None:
    requests_mock.get(ME, json={"id": "me"})
    client = make_client()
    start = threading.Barrier(8)

    def call() -> None:
        start.wait()
        client.request("GET", "/api/v2/users/me")

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert token_calls(requests_mock) == 1
    assert client.stats.requests == 8


@pytest.mark.parametrize(
    ("response", "wait"),
    [
        (r429("7"), 7),
        (r429(None, **{"inin-ratelimit-reset": "12"}), 12),
        (r429(None), 3),
    ],
    ids=["retry-after", "ratelimit-reset", "default"],
)
def test_429_waits_what_the_server_says(
    requests_mock: Any, make_client: MakeClient, clock: FakeClock, response: dict[str, Any], wait: float
) -> None:
    requests_mock.get(ME, [response, ok()])
    client = make_client()
    assert client.request("GET", "/api/v2/users/me") == {"id": "me"}
    assert clock.sleeps == [wait]
    assert client.stats.rate_limited == 1
    assert client.stats.retries == 1


def test_retry_after_above_max_retry_wait_fails_at_once(
    requests_mock: Any, make_client: MakeClient, clock: FakeClock
) -> None:
    requests_mock.get(ME, [r429("3600"), ok()])
    with pytest.raises(GenesysCloudApiError) as excinfo:
        make_client().request("GET", "/api/v2/users/me")
    assert excinfo.value.status == 429
    assert excinfo.value.retry_after == 3600
    assert "more than max_retry_wait 180 s" in str(excinfo.value)
    assert clock.sleeps == []


def test_5xx_backs_off_then_succeeds(
    requests_mock: Any, make_client: MakeClient, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    requests_mock.get(ME, [{"status_code": 503}, {"status_code": 502}, {"status_code": 504}, ok()])
    assert make_client().request("GET", "/api/v2/users/me") == {"id": "me"}
    assert "attempt 1 failed (503 Service Unavailable)" in caplog.text
    assert len(clock.sleeps) == 3
    for n, slept in enumerate(clock.sleeps):
        assert 2**n / 2 <= slept <= 2**n


def test_post_is_not_retried_on_503_unless_opted_in(requests_mock: Any, make_client: MakeClient) -> None:
    url = f"{API}/api/v2/audits/query"
    requests_mock.post(url, [{"status_code": 503}, ok({"id": "job"})])
    client = make_client()
    with pytest.raises(GenesysCloudApiError) as excinfo:
        client.request("POST", "/api/v2/audits/query", json={})
    assert excinfo.value.status == 503
    assert excinfo.value.attempts == 1
    assert "not retried: POST is not idempotent" in str(excinfo.value)  # and how to opt in:
    assert "set retry_non_idempotent" in str(excinfo.value)
    requests_mock.post(url, [{"status_code": 503}, ok({"id": "job"})])
    assert client.request("POST", "/api/v2/audits/query", json={}, retry_non_idempotent=True) == {"id": "job"}
    opted_in = make_client(retry_non_idempotent="true")
    requests_mock.post(url, [{"status_code": 503}, ok({"id": "job"})])
    assert opted_in.request("POST", "/api/v2/audits/query", json={}) == {"id": "job"}


def test_post_is_retried_on_429(requests_mock: Any, make_client: MakeClient, clock: FakeClock) -> None:
    requests_mock.post(f"{API}/api/v2/audits/query", [r429("2"), ok({"id": "job"})])
    assert make_client().request("POST", "/api/v2/audits/query", json={}) == {"id": "job"}
    assert clock.sleeps == [2]


def test_4xx_fails_at_once_with_status_code_message_and_correlation_id(
    requests_mock: Any, make_client: MakeClient, clock: FakeClock
) -> None:
    requests_mock.get(
        f"{API}/api/v2/users/x", status_code=404, json=NOT_FOUND, headers={"inin-correlation-id": "abc"}
    )
    with pytest.raises(GenesysCloudApiError) as excinfo:
        make_client().request("GET", "/api/v2/users/x")
    error = excinfo.value
    assert (error.status, error.code, error.message, error.correlation_id) == (
        404,
        "not.found",
        "The user was not found",
        "abc",
    )
    assert not error.retryable
    assert (
        str(error)
        == "GET /api/v2/users/x failed: 404 not.found: The user was not found (correlation id abc; 1 attempt)"
    )
    assert clock.sleeps == []


def test_correlation_id_falls_back_to_context_id_and_non_json_bodies_are_handled(
    requests_mock: Any, make_client: MakeClient
) -> None:
    requests_mock.get(f"{API}/api/v2/users/x", status_code=404, json=NOT_FOUND)
    requests_mock.post(
        f"{API}/api/v2/y", status_code=502, reason="Bad Gateway", text="<html>proxy down</html>"
    )
    client = make_client()
    with pytest.raises(GenesysCloudApiError) as not_found:
        client.request("GET", "/api/v2/users/x")
    assert not_found.value.correlation_id == "ctx-404"
    with pytest.raises(GenesysCloudApiError) as bad_gateway:
        client.request("POST", "/api/v2/y")
    assert bad_gateway.value.status == 502
    assert "Bad Gateway: <html>proxy down</html>" in bad_gateway.value.message


def test_final_error_after_exhausted_attempts(
    requests_mock: Any, make_client: MakeClient, clock: FakeClock
) -> None:
    requests_mock.get(
        ME, [r429("5"), r429("5"), r429("5"), {"status_code": 503, "reason": "Service Unavailable"}]
    )
    with pytest.raises(GenesysCloudApiError) as excinfo:
        make_client(max_attempts=4).request("GET", "/api/v2/users/me")
    error = excinfo.value
    assert error.attempts == 4
    assert error.status == 503
    assert "gave up after 4 attempts over 15 s: 3x 429 rate limited, 1x 503 Service Unavailable" in str(error)


def test_max_retry_time_bounds_the_total_wait(
    requests_mock: Any, make_client: MakeClient, clock: FakeClock
) -> None:
    requests_mock.get(ME, [r429("30")] * 10)
    with pytest.raises(GenesysCloudApiError) as excinfo:
        make_client(max_retry_time=100).request("GET", "/api/v2/users/me")
    assert clock.sleeps == [30, 30, 30]
    assert excinfo.value.attempts == 4
    assert "max_retry_time 100 s" in str(excinfo.value)


def test_transport_errors_are_retried_for_get_and_for_post_only_when_nothing_was_sent(
    requests_mock: Any, make_client: MakeClient, clock: FakeClock
) -> None:
    requests_mock.get(
        ME, [{"exc": requests.ConnectionError("reset")}, {"exc": requests.ReadTimeout("slow")}, ok()]
    )
    client = make_client()
    assert client.request("GET", "/api/v2/users/me") == {"id": "me"}
    assert len(clock.sleeps) == 2
    requests_mock.post(f"{API}/api/v2/x", [{"exc": requests.ReadTimeout("slow")}, ok()])
    with pytest.raises(GenesysCloudTransportError) as excinfo:
        client.request("POST", "/api/v2/x")
    assert excinfo.value.status is None
    assert not excinfo.value.retryable  # it may have been processed: check before running it again
    assert "ReadTimeout" in str(excinfo.value)
    assert "outcome is unknown" in str(excinfo.value)
    requests_mock.post(f"{API}/api/v2/x", [{"exc": requests.ConnectTimeout("slow")}, ok({"id": "x"})])
    assert client.request("POST", "/api/v2/x") == {"id": "x"}  # never connected: nothing to apply twice


def test_body_cut_short_by_the_connection_is_retried_for_get(
    requests_mock: Any, make_client: MakeClient
) -> None:
    """Content-Length promised more than arrived: requests raises ChunkedEncodingError while reading."""
    cut = requests.exceptions.ChunkedEncodingError("Connection broken: IncompleteRead(176 bytes read)")
    requests_mock.get(ME, [{"exc": cut}, ok()])
    assert make_client().request("GET", "/api/v2/users/me") == {"id": "me"}
    requests_mock.get(ME, exc=cut)
    with pytest.raises(GenesysCloudTransportError, match="truncated or undecodable response body"):
        make_client(max_attempts=2).request("GET", "/api/v2/users/me")


def test_truncated_json_is_retried_for_get(requests_mock: Any, make_client: MakeClient) -> None:
    requests_mock.get(ME, [{"text": '{"id": "m'}, ok()])
    assert make_client().request("GET", "/api/v2/users/me") == {"id": "me"}
    requests_mock.get(ME, text='{"id": "m')
    with pytest.raises(GenesysCloudTransportError, match="truncated or invalid JSON"):
        make_client(max_attempts=2).request("GET", "/api/v2/users/me")


def test_pacing_waits_when_the_window_is_spent_and_not_before(
    requests_mock: Any, make_client: MakeClient, clock: FakeClock
) -> None:
    window = {"inin-ratelimit-allowed": "3", "inin-ratelimit-reset": "40"}
    requests_mock.get(
        ME,
        [
            ok(**window, **{"inin-ratelimit-count": "1"}),
            ok(**window, **{"inin-ratelimit-count": "2"}),
            ok(**window, **{"inin-ratelimit-count": "3"}),
            ok(**window, **{"inin-ratelimit-count": "1"}),
        ],
    )
    client = make_client()
    for _ in range(3):
        client.request("GET", "/api/v2/users/me")
    assert clock.sleeps == []
    client.request("GET", "/api/v2/users/me")
    assert clock.sleeps == [40]
    assert client.stats.paced_seconds == 40


def test_pacing_can_be_switched_off(requests_mock: Any, make_client: MakeClient, clock: FakeClock) -> None:
    spent = {"inin-ratelimit-allowed": "1", "inin-ratelimit-count": "1", "inin-ratelimit-reset": "40"}
    requests_mock.get(ME, json={"id": "me"}, headers=spent)
    client = make_client(pacing="false")
    for _ in range(3):
        client.request("GET", "/api/v2/users/me")
    assert clock.sleeps == []


def test_api_path_encodes_every_id() -> None:
    assert api_path("/api/v2/users/{}/roles", "../x") == "/api/v2/users/..%2Fx/roles"
    assert api_path("/api/v2/users/{}", "a/b?c=d#e") == "/api/v2/users/a%2Fb%3Fc%3Dd%23e"
    assert api_path("/api/v2/authorization/roles/{}/users", 42) == "/api/v2/authorization/roles/42/users"
    for bad in ("", " ", ".", "..", None):
        with pytest.raises(ValueError, match="Invalid path parameter"):
            api_path("/api/v2/users/{}", bad)
    with pytest.raises(ValueError, match="expects other path parameters"):
        api_path("/api/v2/users/{}/roles/{}", "a")


def test_encoded_id_reaches_only_its_own_path(requests_mock: Any, make_client: MakeClient) -> None:
    requests_mock.get(f"{API}/api/v2/users/..%2Fx/roles", json={"roles": []})
    assert make_client().request("GET", api_path("/api/v2/users/{}/roles", "../x")) == {"roles": []}
    assert urlsplit(requests_mock.last_request.url).path == "/api/v2/users/..%2Fx/roles"


@pytest.mark.parametrize(
    "endpoint",
    [
        "/api/v1/users",
        "users/me",
        "https://evil.example.com/api/v2/users",
        "http://api.mypurecloud.com/api/v2/users",
        "/api/v2/users/../tokens/me",
    ],
)
def test_endpoints_outside_the_api_are_refused(make_client: MakeClient, endpoint: str) -> None:
    with pytest.raises(ValueError, match=r"api/v2|Refusing|segments"):
        make_client().request("GET", endpoint)


def test_absolute_next_uri_on_the_api_host_is_accepted(requests_mock: Any, make_client: MakeClient) -> None:
    requests_mock.get(ME, json={"id": "me"})
    assert make_client().request("GET", f"{API}/api/v2/users/me") == {"id": "me"}


def test_list_and_boolean_params(requests_mock: Any, make_client: MakeClient) -> None:
    requests_mock.get(f"{API}/api/v2/users", json={"entities": []})
    make_client().request(
        "GET",
        "/api/v2/users",
        params={"expand": ["authorization", "groups"], "userCount": False, "skip": None},
    )
    assert parse_qs(urlsplit(requests_mock.last_request.url).query) == {
        "expand": ["authorization,groups"],
        "userCount": ["false"],
    }


def test_paginate_streams_entities_with_the_largest_page_size(
    requests_mock: Any, make_client: MakeClient
) -> None:
    requests_mock.get(
        f"{API}/api/v2/users",
        [
            ok({"entities": [{"id": "a"}, {"id": "b"}], "pageNumber": 1, "pageCount": 2, "total": 3}),
            ok({"entities": [{"id": "c"}], "pageNumber": 2, "pageCount": 2, "total": 3}),
        ],
    )
    client = make_client()
    assert [u["id"] for u in client.paginate("/api/v2/users", params={"state": "any"})] == ["a", "b", "c"]
    queries = [parse_qs(urlsplit(r.url).query) for r in requests_mock.request_history if "/api/v2/" in r.url]
    assert queries == [
        {"state": ["any"], "pageSize": ["500"]},
        {"state": ["any"], "pageSize": ["500"], "pageNumber": ["2"]},
    ]


def test_session_is_configured_from_the_connection(make_client: MakeClient, tmp_path: Path) -> None:
    ca, cert, key = (tmp_path / name for name in ("ca.pem", "c.pem", "k.pem"))
    for path in (ca, cert, key):
        path.write_text("pem")
    client = make_client(
        pool_size=5,
        proxies="http://proxy:3128",
        ca_bundle=str(ca),
        client_cert=str(cert),
        client_key=str(key),
    )
    session = client._session
    assert session.adapters["https://"]._pool_maxsize == 5  # type: ignore[attr-defined]
    assert session.proxies == {"http": "http://proxy:3128", "https": "http://proxy:3128"}
    assert session.verify == str(ca)
    assert session.cert == (str(cert), str(key))


def test_gateway_reaches_the_emulator_style_host(requests_mock: Any, clock: FakeClock) -> None:
    from tests.unit.conftest import make_settings

    base = "http://127.0.0.1:5555"
    requests_mock.post(f"{base}/oauth/token", json={"access_token": "tok-e", "expires_in": 60})
    requests_mock.get(f"{base}/api/v2/organizations/me", json={"name": "Emu"})
    settings = make_settings(gateway_host="127.0.0.1", gateway_protocol="http", gateway_port="5555")
    with GenesysCloudClient(settings, sleep=clock.sleep, clock=clock) as client:
        assert client.request("GET", "/api/v2/organizations/me") == {"name": "Emu"}


def test_access_token_grant_uses_the_given_token(requests_mock: Any, clock: FakeClock) -> None:
    from airflow_provider_genesys.settings import GenesysSettings

    requests_mock.get(ME, [ok(), {"status_code": 401, "json": {}}, {"status_code": 401, "json": {}}])
    settings = GenesysSettings.from_connection(login=None, password=None, extra={"access_token": "pre-tok"})
    secrets: list[str] = []
    client = GenesysCloudClient(settings, sleep=clock.sleep, clock=clock, on_secret=secrets.append)
    client.request("GET", "/api/v2/users/me")
    assert requests_mock.last_request.headers["Authorization"] == "Bearer pre-tok"
    assert secrets == ["pre-tok"]
    with pytest.raises(GenesysCloudApiError, match="pre-issued access token was refused"):
        client.request("GET", "/api/v2/users/me")


def test_errors_survive_pickling() -> None:
    error = GenesysCloudApiError(
        429,
        "too.many.requests",
        "slow down",
        correlation_id="c",
        method="GET",
        endpoint="/api/v2/u",
        attempts=3,
        retry_after=7.0,
        summary="gave up",
    )
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.status, copy.code, copy.correlation_id, copy.attempts, copy.retry_after) == (
        429,
        "too.many.requests",
        "c",
        3,
        7.0,
    )
    assert str(copy) == str(error)
    transport = pickle.loads(pickle.dumps(GenesysCloudTransportError("reset", method="GET", attempts=2)))
    assert (transport.status, transport.message, transport.attempts) == (None, "reset", 2)


def test_secrets_never_reach_logs_errors_or_reprs(
    requests_mock: Any, make_client: MakeClient, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    requests_mock.get(
        ME,
        [
            {"status_code": 401, "json": {}},
            r429("1"),
            {"status_code": 503},
            ok(),
            {"status_code": 401, "json": {}},
            {"status_code": 401, "json": {}},
        ],
    )
    secrets: list[str] = []
    client = make_client(on_secret=secrets.append, max_attempts=5)
    client.request("GET", "/api/v2/users/me")
    with pytest.raises(GenesysCloudApiError) as excinfo:
        client.request("GET", "/api/v2/users/me")
    assert secrets == ["tok-1", "tok-2", "tok-3"]  # the last 401 invalidates tok-3 and fails: no 4th fetch
    exposed = "\n".join(
        [
            caplog.text,
            str(excinfo.value),
            repr(excinfo.value),
            repr(client),
            repr(client.settings),
            repr(client.stats),
        ]
    )
    for secret in [CLIENT_SECRET, *secrets]:
        assert secret not in exposed
    assert "Fetched a Genesys Cloud access token" in caplog.text  # the log is there, without the token
