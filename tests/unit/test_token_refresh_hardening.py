"""Token endpoint answers that are not a usable token, `expires_in` <= 0, and pacing across a token refresh."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from airflow_provider_genesys.auth import Token, TokenPool
from airflow_provider_genesys.exceptions import GenesysCloudAuthError
from airflow_provider_genesys.ratelimit import RateLimitInfo
from tests.unit.conftest import TOKEN_URL, FakeClock, token_response
from tests.unit.test_client import ME, MakeClient


def token_calls(requests_mock: Any) -> int:
    return sum(1 for r in requests_mock.request_history if r.url == TOKEN_URL)


def bearer_of_api_calls(requests_mock: Any) -> list[str]:
    return [r.headers["Authorization"] for r in requests_mock.request_history if r.url.startswith(ME)]


@pytest.mark.parametrize(
    "bad",
    [
        {"text": '{"access_token": "tok-cut", "expi'},  # cut short, Content-Length intact
        {"text": "<html>maintenance</html>"},
        {"json": {"token_type": "bearer"}},
        {"json": {"access_token": 12345}},
        {"json": {"access_token": "tok-with\nnewline", "expires_in": 60}},
    ],
    ids=["cut-json", "html", "no-token", "not-a-string", "line-break"],
)
def test_a_200_without_a_usable_token_is_retried(
    requests_mock: Any, make_client: MakeClient, clock: FakeClock, bad: dict[str, Any]
) -> None:
    requests_mock.post(TOKEN_URL, [bad, token_response("tok-good")])
    requests_mock.get(ME, json={"id": "me"})
    assert make_client().request("GET", "/api/v2/users/me") == {"id": "me"}
    assert token_calls(requests_mock) == 2
    assert bearer_of_api_calls(requests_mock) == ["Bearer tok-good"]
    assert len(clock.sleeps) == 1  # one back-off step, as for any transient fault


def test_a_token_endpoint_that_never_gives_a_usable_token_fails_without_showing_it(
    requests_mock: Any, make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "tok-SECRET-part"
    requests_mock.post(TOKEN_URL, json={"access_token": f"{secret}\r\nX-Injected: 1", "expires_in": 60})
    requests_mock.get(ME, json={"id": "me"})
    caplog.set_level(logging.DEBUG)
    with pytest.raises(GenesysCloudAuthError) as raised:
        make_client().request("GET", "/api/v2/users/me")
    message = str(raised.value)
    assert "3 times in a row" in message
    assert "line breaks" in message
    assert "gateway_host" in message
    assert secret not in message
    assert secret not in repr(raised.value.__cause__)
    assert secret not in caplog.text
    assert token_calls(requests_mock) == 3  # bounded: the same bad answer thrice is not a transient fault
    assert not bearer_of_api_calls(requests_mock)


@pytest.mark.parametrize("expires_in", [0, -30, "nan"])
def test_expires_in_that_is_not_a_positive_number_keeps_the_token_until_a_401(
    requests_mock: Any, make_client: MakeClient, expires_in: Any
) -> None:
    requests_mock.post(TOKEN_URL, json={"access_token": "tok-1", "expires_in": expires_in})
    requests_mock.get(ME, [{"json": {"id": "me"}}] * 3 + [{"status_code": 401, "json": {}}, {"json": {}}])
    client = make_client()
    for _ in range(3):
        client.request("GET", "/api/v2/users/me")
    assert token_calls(requests_mock) == 1  # not one token request per API request
    client.request("GET", "/api/v2/users/me")
    assert token_calls(requests_mock) == 2  # the 401 renews it


def test_a_request_that_waited_out_its_window_leaves_with_a_token_valid_after_the_wait(
    requests_mock: Any, make_client: MakeClient, clock: FakeClock
) -> None:
    """The token expires while the pacer waits 150 s: the request goes out with the new token."""
    tokens = iter(["tok-1", "tok-2"])
    requests_mock.post(TOKEN_URL, json=lambda request, context: token_response(next(tokens), 100)["json"])
    spent = {"inin-ratelimit-allowed": "1", "inin-ratelimit-count": "1", "inin-ratelimit-reset": "150"}
    requests_mock.get(ME, json={"id": "me"}, headers=spent)
    client = make_client(token_refresh_margin=0)
    client.request("GET", "/api/v2/users/me")
    client.request("GET", "/api/v2/users/me")
    assert clock.sleeps == [150]
    assert bearer_of_api_calls(requests_mock) == ["Bearer tok-1", "Bearer tok-2"]


class CountingSource:
    """Issues tok-1, tok-2, ... that live `lifetime` seconds on the fake clock."""

    def __init__(self, clock: FakeClock, lifetime: float = 1000.0) -> None:
        self.clock, self.lifetime, self.issued = clock, lifetime, 0

    def fetch(self) -> Token:
        self.issued += 1
        return Token(f"tok-{self.issued}", self.clock.now + self.lifetime, self.lifetime)


def window(allowed: int, count: int, reset: float) -> RateLimitInfo:
    return RateLimitInfo(allowed=allowed, count=count, reset=reset)


def test_a_new_tokens_pacer_starts_from_what_the_old_one_learned(clock: FakeClock) -> None:
    """After a refresh, threads do not all burst into the new token: it keeps the window's size."""
    pool = TokenPool(CountingSource(clock, lifetime=100), refresh_margin=0, clock=clock)
    first = pool.lease(clock.sleep)
    pool.release(first, window(3, 1, 30))
    clock.now += 150  # tok-1 expired: the next lease fetches tok-2
    in_flight = [pool.lease(clock.sleep) for _ in range(3)]
    assert {lease.token.value for lease in in_flight} == {"tok-2"}
    assert [lease.waited for lease in in_flight] == [0, 0, 0]
    fourth = pool.lease(clock.sleep)  # blind, it would have been a fourth request in a window of three
    assert fourth.waited == 30
    # The server's first reading for tok-2 replaces the guess.
    pool.release(in_flight[0], window(5, 1, 50))
    assert pool.lease(clock.sleep).waited == 0


def test_after_a_window_passes_threads_that_waited_together_do_not_burst_past_its_size(clock: FakeClock) -> None:
    """The next window is as large as the last until its first reading: the fourth of three waits."""
    pool = TokenPool(CountingSource(clock), clock=clock)
    pool.release(pool.lease(clock.sleep), window(3, 3, 10))
    in_flight = [pool.lease(clock.sleep) for _ in range(3)]  # all sent after the 10 s wait, no answer yet
    assert [lease.waited for lease in in_flight] == [10, 0, 0]
    assert pool.lease(clock.sleep).waited == 10
