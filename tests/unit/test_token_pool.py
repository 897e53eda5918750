"""The token pool: one window per token, tokens fetched when needed, the shared budget and pool-wide holds."""

from __future__ import annotations

import threading
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
    on_one = pool.lease(clock.sleep)  # tok-1's last place
    new_two = pool.lease(clock.sleep)  # tok-2 is new: it carries one request until its first answer
    new_three = pool.lease(clock.sleep)  # so this one takes tok-3
    pool.release(new_two, window(2, 1, 30))
    on_two = pool.lease(clock.sleep)  # tok-2 answered: its second place
    pool.release(new_three, window(2, 1, 30))
    on_three = pool.lease(clock.sleep)
    leases = [on_one, new_two, new_three, on_two, on_three]
    assert [lease.waited for lease in leases] == [0] * 5
    assert [lease.token.value for lease in leases] == ["tok-1", "tok-2", "tok-3", "tok-2", "tok-3"]
    assert source.issued == 3
    sixth = pool.lease(clock.sleep)  # every window spent: wait for the soonest reset
    assert sixth.waited == 30
    assert sixth.token.value == "tok-1"


def test_a_new_token_carries_one_request_until_its_first_answer_though_it_knows_the_windows_size(
    clock: FakeClock,
) -> None:
    """docs/connection.md: until a pool token's first answer tells its window, it carries one request."""
    pool, source = pool_of(clock, 3)
    pool.release(pool.lease(clock.sleep), window(5, 5, 30))  # tok-1 spent; the window's size is learned
    blind = pool.lease(clock.sleep)
    assert blind.token.value == "tok-2"
    assert pool.lease(clock.sleep).token.value == "tok-3"  # not a second request into tok-2's unread window
    pool.release(blind, window(5, 1, 30))
    assert [pool.lease(clock.sleep).token.value for _ in range(4)] == ["tok-2"] * 4
    assert source.issued == 3


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


class GatedSource(CountingSource):
    """Issues tok-1, tok-2, ...; the fetch of tok-2 says it started and waits until the test lets it end."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock)
        self.fetching, self.finish = threading.Event(), threading.Event()

    def fetch(self) -> Token:
        if self.issued == 1:
            self.fetching.set()
            assert self.finish.wait(10)
        return super().fetch()


class SignallingCondition(threading.Condition):
    """A condition that says when a thread starts waiting on it (here: for another thread's token fetch)."""

    def __init__(self) -> None:
        super().__init__()
        self.waiting = threading.Event()

    def wait(self, timeout: float | None = None) -> bool:
        self.waiting.set()
        return super().wait(timeout)


def test_threads_waiting_for_a_new_tokens_fetch_send_nothing_until_an_org_hold_ends(clock: FakeClock) -> None:
    """An org-wide 429 arrives while one thread fetches a new token and another waits for that fetch: when
    the fetch ends, neither sends before the hold has passed (the hold is checked at send time)."""
    source = GatedSource(clock)
    pool = TokenPool(source, 2, clock=clock, shared=SharedBudget(clock=clock))
    first = pool.lease(clock.sleep)  # tok-1's first request is out: the next ones go to tok-2
    for_fetch = SignallingCondition()
    pool._caches[1]._cond = for_fetch  # to know when the second thread waits for the first one's fetch
    sent: dict[str, float] = {}  # when each thread's request went out, on the clock both threads move

    def send(name: str) -> None:
        pool.lease(clock.sleep)
        sent[name] = clock.now

    fetcher = threading.Thread(target=send, args=("fetcher",))
    fetcher.start()
    assert source.fetching.wait(10)
    waiter = threading.Thread(target=send, args=("waiter",))
    waiter.start()
    assert for_fetch.waiting.wait(10)
    pool.rate_limited(ORG_429_BODY, RateLimitInfo(), 5)  # tok-1's answer: the organisation's limit, 5 s
    pool.release(first, RateLimitInfo())
    source.finish.set()
    fetcher.join(10)
    waiter.join(10)
    assert sorted(sent) == ["fetcher", "waiter"]
    assert min(sent.values()) >= 1005, sent  # the hold set at 1000 for 5 s had passed


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
