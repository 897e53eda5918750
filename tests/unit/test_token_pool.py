"""The token pool: one window per token, tokens fetched when needed, the shared budget and pool-wide holds."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_genesys.auth import Token, TokenPool
from airflow_provider_genesys.exceptions import GenesysCloudApiError, GenesysCloudAuthError, GenesysCloudConfigError
from airflow_provider_genesys.ratelimit import RateLimitInfo, SharedBudget, names_shared_limit
from tests.unit.conftest import FakeClock, make_settings
from tests.unit.test_client import ME, MakeClient
from tests.unit.test_token_refresh_hardening import CountingSource, window

ORG_429_BODY = {
    "message": "Rate limit exceeded the maximum. Retry the request in [5] seconds",
    "code": "too.many.requests.retry.after",
    "status": 429,
    "limit": {"namespace": "platform.api", "key": "org.rate.per.minute", "value": 1000},
}


def pool_of(clock: FakeClock, size: int, shared: SharedBudget | None = None) -> tuple[TokenPool, CountingSource]:
    source = CountingSource(clock)
    return TokenPool(source, size, clock=clock, shared=shared), source


def test_each_request_takes_a_token_whose_window_has_room(clock: FakeClock) -> None:
    pool, source = pool_of(clock, 3)
    first = pool.lease(clock.sleep)
    pool.release(first, window(2, 1, 30))
    leases = [pool.lease(clock.sleep) for _ in range(5)]  # 1 more on tok-1, 2 on tok-2, 2 on tok-3
    assert [lease.waited for lease in leases] == [0] * 5
    assert [lease.token.value for lease in leases] == ["tok-1", "tok-2", "tok-2", "tok-3", "tok-3"]
    assert source.issued == 3
    sixth = pool.lease(clock.sleep)  # every window spent: wait for the soonest reset
    assert sixth.waited == 30
    assert sixth.token.value == "tok-1"


def test_a_pool_fetches_a_second_token_only_when_the_first_is_spent(clock: FakeClock) -> None:
    pool, source = pool_of(clock, 4)
    for _ in range(10):
        lease = pool.lease(clock.sleep)
        pool.release(lease, window(300, 1, 60))
    assert source.issued == 1


def test_a_401_renews_only_the_token_it_hit(clock: FakeClock) -> None:
    pool, source = pool_of(clock, 2)
    first = pool.lease(clock.sleep)
    pool.release(first, window(1, 1, 30))
    second = pool.lease(clock.sleep)
    assert second.token.value == "tok-2"
    pool.invalidate(second)
    pool.release(second, None)
    third = pool.lease(clock.sleep)
    assert third.token.value == "tok-3"
    assert source.issued == 3


def test_the_shared_cap_counts_requests_in_flight_and_finished_within_the_window(clock: FakeClock) -> None:
    budget = SharedBudget(3, 60, clock=clock)
    pool, _ = pool_of(clock, 4, budget)
    leases = [pool.lease(clock.sleep) for _ in range(3)]
    clock.now += 10
    pool.release(leases[0], None)  # finished at +10: frees its place at +70
    clock.now += 5
    pool.release(leases[1], None)
    late = pool.lease(clock.sleep)
    assert late.waited == 55
    assert clock.now == 1000 + 70


def test_a_request_never_sent_does_not_use_the_shared_cap(clock: FakeClock) -> None:
    budget = SharedBudget(1, 60, clock=clock)
    assert budget.try_enter() == 0
    budget.leave(sent=False)
    assert budget.try_enter() == 0


@pytest.mark.parametrize(
    ("body", "info", "shared"),
    [
        (ORG_429_BODY, RateLimitInfo(), True),  # the body names the organisation's limit
        ({"limit": {"key": "client.credentials.token.rate.per.minute"}}, RateLimitInfo(), False),
        ({}, RateLimitInfo(allowed=300, count=12, reset=40), True),  # the token's window has room
        ({}, RateLimitInfo(allowed=300, count=300, reset=40), False),  # the token's window is spent
        ({}, RateLimitInfo(), False),  # nothing to tell: the token's own, as before pools
    ],
    ids=["names-org-limit", "names-token-limit", "token-has-room", "token-spent", "unknown"],
)
def test_which_429s_name_a_limit_all_tokens_share(body: dict, info: RateLimitInfo, shared: bool) -> None:
    assert names_shared_limit(body, info) is shared


def test_a_429_for_a_shared_limit_holds_every_token(clock: FakeClock) -> None:
    pool, _ = pool_of(clock, 2, SharedBudget(clock=clock))
    pool.release(pool.lease(clock.sleep), None)
    pool.rate_limited({}, RateLimitInfo(allowed=10, count=10, reset=9), 9)  # the token's own: no hold
    assert pool.lease(clock.sleep).waited == 0
    pool.rate_limited(ORG_429_BODY, RateLimitInfo(), 5)
    assert pool.lease(clock.sleep).waited == 5


def test_client_with_a_pool_spreads_requests_and_backs_off_the_pool_on_an_org_429(
    requests_mock: Any, make_client: MakeClient, clock: FakeClock
) -> None:
    window_of = {"tok-1": 0, "tok-2": 0}

    def answer(request: Any, context: Any) -> dict:
        token = request.headers["Authorization"].removeprefix("Bearer ")
        window_of[token] += 1
        context.headers.update(
            {"inin-ratelimit-allowed": "2", "inin-ratelimit-count": str(window_of[token]), "inin-ratelimit-reset": "60"}
        )
        return {"id": "me"}

    requests_mock.get(ME, json=answer)
    client = make_client(token_pool_size=2)
    for _ in range(4):
        client.request("GET", "/api/v2/users/me")
    assert window_of == {"tok-1": 2, "tok-2": 2}
    assert clock.sleeps == []



@pytest.mark.parametrize(("pool_size", "held"), [(2, [5.0]), (1, [])])
def test_after_an_org_429_the_next_request_waits_whatever_token_it_takes(
    requests_mock: Any, make_client: MakeClient, clock: FakeClock, pool_size: int, held: list[float]
) -> None:
    """Pool size 1 keeps today's behaviour: only the request that got the 429 waits (its own retry)."""
    org_429 = {"status_code": 429, "json": ORG_429_BODY, "headers": {"Retry-After": "5"}}
    requests_mock.get(ME, [org_429, {"json": {"id": "me"}}])
    client = make_client(token_pool_size=pool_size, max_attempts=1)
    with pytest.raises(GenesysCloudApiError, match="429"):
        client.request("GET", "/api/v2/users/me")
    client.request("GET", "/api/v2/users/me")
    assert clock.sleeps == held


def test_pool_size_and_org_cap_are_validated() -> None:
    assert make_settings(token_pool_size="4").token_pool_size == 4
    assert make_settings(org_rate_limit_per_minute=" 900 ").org_rate_limit_per_minute == 900
    for bad in (0, 51, "two", 1.5):
        with pytest.raises(GenesysCloudConfigError, match=r"token_pool_size.*from 1 to 50"):
            make_settings(token_pool_size=bad)
    with pytest.raises(GenesysCloudConfigError, match="org_rate_limit_per_minute"):
        make_settings(org_rate_limit_per_minute=0)
    with pytest.raises(GenesysCloudConfigError, match="needs grant_type 'client_credentials'"):
        make_settings(token_pool_size=2, grant_type="refresh_token", refresh_token="rt")


def test_without_pacing_a_pool_takes_its_tokens_in_turn(requests_mock: Any, make_client: MakeClient) -> None:
    requests_mock.get(ME, json={"id": "me"})
    client = make_client(token_pool_size=2, pacing="false")
    for _ in range(4):
        client.request("GET", "/api/v2/users/me")
    sent = [r.headers["Authorization"] for r in requests_mock.request_history if r.url.startswith(ME)]
    assert sent == ["Bearer tok-1", "Bearer tok-2", "Bearer tok-1", "Bearer tok-2"]


def test_a_token_that_cannot_be_fetched_gives_back_its_shared_place(clock: FakeClock) -> None:
    class Flaky(CountingSource):
        def fetch(self) -> Token:
            if self.issued == 0:
                self.issued = -1
                raise GenesysCloudAuthError("refused")
            return super().fetch()

    pool = TokenPool(Flaky(clock), 2, clock=clock, shared=SharedBudget(1, 60, clock=clock))
    with pytest.raises(GenesysCloudAuthError):
        pool.lease(clock.sleep)
    assert pool.lease(clock.sleep).waited == 0  # the failed attempt holds no place in the budget
