from __future__ import annotations

import base64
import threading
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests

from airflow_provider_genesys.auth import BearerAuth, OAuthTokenSource, Token, TokenCache
from airflow_provider_genesys.exceptions import GenesysCloudApiError, GenesysCloudAuthError
from tests.unit.conftest import CLIENT_ID, CLIENT_SECRET, TOKEN_URL, FakeClock, make_settings, token_response

BASIC = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()


def source(clock: FakeClock, secrets: list[str] | None = None, **extra: Any) -> OAuthTokenSource:
    on_secret = secrets.append if secrets is not None else None
    return OAuthTokenSource(
        make_settings(**extra), requests.Session(), sleep=clock.sleep, clock=clock, on_secret=on_secret
    )


def form_of(request: Any) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.text).items()}


@pytest.mark.parametrize(
    ("extra", "form"),
    [
        ({}, {"grant_type": "client_credentials"}),
        (
            {"grant_type": "saml2_bearer", "saml_assertion": "PHNhbWw+", "org_name": "acme"},
            {
                "grant_type": "urn:ietf:params:oauth:grant-type:saml2-bearer",
                "orgName": "acme",
                "assertion": "PHNhbWw+",
            },
        ),
        (
            {"grant_type": "refresh_token", "refresh_token": "rt-1"},
            {"grant_type": "refresh_token", "refresh_token": "rt-1"},
        ),
    ],
)
def test_each_grant_posts_its_form_with_basic_auth(
    requests_mock: Any, clock: FakeClock, extra: dict[str, Any], form: dict[str, str]
) -> None:
    requests_mock.post(TOKEN_URL, **token_response("tok-A", 3600))
    token = source(clock, **extra).fetch()
    assert token.value == "tok-A"
    assert token.expires_at == clock.now + 3600
    request = requests_mock.last_request
    assert request.headers["Authorization"] == BASIC
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert form_of(request) == form


def test_refresh_token_grant_keeps_the_new_refresh_token_and_reports_secrets(
    requests_mock: Any, clock: FakeClock
) -> None:
    requests_mock.post(
        TOKEN_URL,
        [
            {"json": {"access_token": "tok-1", "expires_in": 600, "refresh_token": "rt-2"}},
            {"json": {"access_token": "tok-2", "expires_in": 600, "refresh_token": "rt-3"}},
        ],
    )
    secrets: list[str] = []
    oauth = source(clock, secrets, grant_type="refresh_token", refresh_token="rt-1")
    oauth.fetch()
    oauth.fetch()
    assert form_of(requests_mock.request_history[1])["refresh_token"] == "rt-2"
    assert secrets == ["tok-1", "rt-2", "tok-2", "rt-3"]


def test_token_is_cached_and_refreshed_before_expiry(requests_mock: Any, clock: FakeClock) -> None:
    requests_mock.post(TOKEN_URL, [token_response("tok-1", 3600), token_response("tok-2", 3600)])
    cache = TokenCache(source(clock), refresh_margin=300, clock=clock)
    assert cache.get().value == "tok-1"
    clock.now += 3299
    assert cache.get().value == "tok-1"
    assert requests_mock.call_count == 1
    clock.now += 2  # now inside the 300 s margin
    assert cache.get().value == "tok-2"
    assert requests_mock.call_count == 2


def test_refresh_margin_is_capped_at_half_the_lifetime(requests_mock: Any, clock: FakeClock) -> None:
    requests_mock.post(TOKEN_URL, [token_response("tok-1", 400), token_response("tok-2", 400)])
    cache = TokenCache(source(clock), refresh_margin=300, clock=clock)
    cache.get()
    clock.now += 150  # a 300 s margin on a 400 s token would already refresh here
    assert cache.get().value == "tok-1"
    clock.now += 51
    assert cache.get().value == "tok-2"


def test_invalidate_refetches_once_and_ignores_stale_tokens(requests_mock: Any, clock: FakeClock) -> None:
    requests_mock.post(TOKEN_URL, [token_response("tok-1"), token_response("tok-2")])
    cache = TokenCache(source(clock), clock=clock)
    first = cache.get()
    cache.invalidate(first)
    second = cache.get()
    assert second.value == "tok-2"
    cache.invalidate(first)  # another thread's 401 on the old token: already replaced
    assert cache.get() is second
    assert requests_mock.call_count == 2


class BlockingSource:
    """A token source that holds the fetch until released, counting fetches."""

    def __init__(self) -> None:
        self.fetches = 0
        self.release = threading.Event()

    def fetch(self) -> Token:
        self.fetches += 1
        self.release.wait(timeout=10)
        return Token(f"tok-{self.fetches}")


def test_single_flight_under_eight_threads() -> None:
    blocking = BlockingSource()
    cache = TokenCache(blocking)
    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(cache.get().value)) for _ in range(8)]
    for thread in threads:
        thread.start()
    waiting = threading.Event()
    for _ in range(2000):  # until the other 7 threads wait on the cache's condition
        if len(cache._cond._waiters) == 7:  # type: ignore[attr-defined]
            break
        waiting.wait(0.005)
    assert len(cache._cond._waiters) == 7  # type: ignore[attr-defined]
    blocking.release.set()
    for thread in threads:
        thread.join(timeout=10)
    assert blocking.fetches == 1
    assert results == ["tok-1"] * 8


def test_token_endpoint_throttling_is_retried(requests_mock: Any, clock: FakeClock) -> None:
    throttled = {"error": "invalid_request", "description": "rate limit exceeded, retry later"}
    requests_mock.post(
        TOKEN_URL,
        [
            {"status_code": 400, "json": throttled},
            {"status_code": 429, "headers": {"Retry-After": "7"}, "json": {}},
            {"status_code": 503, "text": "unavailable"},
            token_response("tok-1"),
        ],
    )
    assert source(clock, backoff_base=2).fetch().value == "tok-1"
    assert requests_mock.call_count == 4
    assert 1 <= clock.sleeps[0] <= 2  # back-off after the 400 throttle
    assert clock.sleeps[1] == 7  # Retry-After honoured
    assert 4 <= clock.sleeps[2] <= 8  # back-off after the 503


def test_token_endpoint_throttling_waits_the_delay_it_states(requests_mock: Any, clock: FakeClock) -> None:
    throttled = {"error": "invalid_request", "description": "rate limit exceeded; retry in 12 seconds"}
    requests_mock.post(TOKEN_URL, [{"status_code": 400, "json": throttled}, token_response("tok-1")])
    assert source(clock).fetch().value == "tok-1"
    assert clock.sleeps == [12]


def test_token_endpoint_connection_errors_are_retried(requests_mock: Any, clock: FakeClock) -> None:
    cut = requests.exceptions.ChunkedEncodingError("Connection broken")
    requests_mock.post(
        TOKEN_URL, [{"exc": requests.ConnectionError("refused")}, {"exc": cut}, token_response("tok-1")]
    )
    assert source(clock).fetch().value == "tok-1"
    assert len(clock.sleeps) == 2


def test_token_endpoint_that_stays_throttled_gives_up_with_a_count(
    requests_mock: Any, clock: FakeClock
) -> None:
    requests_mock.post(TOKEN_URL, status_code=503, text="down")
    with pytest.raises(GenesysCloudApiError) as excinfo:
        source(clock, max_attempts=3).fetch()
    assert excinfo.value.attempts == 3
    assert "gave up after 3 attempts" in str(excinfo.value)
    assert excinfo.value.retryable


@pytest.mark.parametrize(
    ("status", "body", "extra", "hint"),
    [
        (400, {"error": "invalid_client", "description": "client not found"}, {}, "client id (Login)"),
        (401, {"error": "invalid_client", "error_description": "authentication failed"}, {}, "client secret"),
        (
            400,
            {"error": "unauthorized_client", "description": "grant not allowed"},
            {},
            "Client Credentials grant",
        ),
        (
            400,
            {"error": "invalid_grant", "description": "expired"},
            {"grant_type": "refresh_token", "refresh_token": "rt-secret-1"},
            "refresh token",
        ),
        (
            400,
            {"error": "invalid_grant", "description": "bad assertion"},
            {"grant_type": "saml2_bearer", "saml_assertion": "ASSERT-secret", "org_name": "acme"},
            "SAML assertion",
        ),
    ],
)
def test_bad_credentials_fail_at_once_with_what_to_check(
    requests_mock: Any, clock: FakeClock, status: int, body: dict[str, str], extra: dict[str, Any], hint: str
) -> None:
    requests_mock.post(TOKEN_URL, status_code=status, json=body)
    with pytest.raises(GenesysCloudAuthError) as excinfo:
        source(clock, **extra).fetch()
    message = str(excinfo.value)
    assert requests_mock.call_count == 1
    assert clock.sleeps == []
    assert hint in message
    assert "login.mypurecloud.com" in message
    for secret in (CLIENT_SECRET, "rt-secret-1", "ASSERT-secret"):
        assert secret not in message


def test_bearer_auth_sets_the_header_and_hides_the_token() -> None:
    request = requests.Request("GET", "https://api.mypurecloud.com/api/v2/users/me").prepare()
    auth = BearerAuth("tok-hidden")
    assert auth(request).headers["Authorization"] == "Bearer tok-hidden"
    assert "tok-hidden" not in repr(auth)
    assert "tok-hidden" not in repr(Token("tok-hidden", 1.0))
    assert Token("tok-hidden").fingerprint not in ("tok-hidden", "")
