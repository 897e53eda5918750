from __future__ import annotations

import pytest

from airflow_provider_genesys.auth import TokenPool
from airflow_provider_genesys.exceptions import GenesysCloudApiError
from airflow_provider_genesys.ratelimit import (
    Pacer,
    Permit,
    RateLimitInfo,
    RetryableFailure,
    RetryPolicy,
    Wait,
    call_with_retries,
    pacer_for,
    parse_retry_after,
)
from tests.unit.conftest import FakeClock
from tests.unit.test_token_refresh_hardening import CountingSource, window


def test_retry_after_seconds_and_http_date() -> None:
    assert parse_retry_after("42") == 42.0
    assert parse_retry_after(" 0 ") == 0.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now=1445412480.0) == 30.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412480.0 + 99) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_headers_of_a_real_users_response() -> None:
    headers = {
        "ININ-Correlation-Id": "f3ac4404",
        "inin-ratelimit-count": "1",
        "inin-ratelimit-allowed": "180",
        "inin-ratelimit-reset": "61",
    }
    from requests.structures import CaseInsensitiveDict

    info = RateLimitInfo.from_headers(CaseInsensitiveDict(headers))
    assert (info.allowed, info.count, info.reset, info.correlation_id) == (180, 1, 61.0, "f3ac4404")
    assert info.retry_after is None
    assert info.server_delay == 61.0


def one_token(clock: FakeClock, max_wait: float = 180.0) -> TokenPool:
    """One token's pacer on the production path: a pool of one leases after the pacer's wait."""
    return TokenPool(CountingSource(clock), clock=clock, max_wait=max_wait)


def test_pacer_waits_only_when_the_window_is_spent(clock: FakeClock) -> None:
    pool = one_token(clock)
    first = pool.lease(clock.sleep)
    assert first.waited == 0
    pool.release(first, window(10, 9, 30))
    second = pool.lease(clock.sleep)
    assert second.waited == 0  # 9 used of 10: one more may go
    pool.release(second, window(10, 10, 29))
    assert clock.sleeps == []
    assert pool.lease(clock.sleep).waited == 29  # 10 of 10: wait for the earliest end a reading implies
    assert clock.sleeps == [29]
    assert first.pacer is not None
    assert first.pacer.paced_seconds == 29


def test_pacer_counts_requests_sent_after_the_latest_reading(clock: FakeClock) -> None:
    pool = one_token(clock)
    pool.release(pool.lease(clock.sleep), window(10, 7, 30))
    assert [pool.lease(clock.sleep).waited for _ in range(3)] == [0, 0, 0]  # 7 + 1, + 2, + 3 in flight
    assert pool.lease(clock.sleep).waited == 30  # 7 counted + 3 in flight reach 10
    assert clock.sleeps == [30]


def test_pacer_does_not_count_twice_what_the_server_has_counted(clock: FakeClock) -> None:
    """Four requests in flight, the last one sent reports count 4: the other three are in that count."""
    pool = one_token(clock)
    leases = [pool.lease(clock.sleep) for _ in range(4)]
    pool.release(leases[3], window(10, 4, 30))
    assert [pool.lease(clock.sleep).waited for _ in range(6)] == [0] * 6  # all 10 slots used
    assert pool.lease(clock.sleep).waited == 30


def test_pacer_keeps_a_slot_for_a_request_the_server_counts_late(clock: FakeClock) -> None:
    """The second request sent is counted first (count 1): the first still takes a slot of the window."""
    pool = one_token(clock)
    leases = [pool.lease(clock.sleep) for _ in range(2)]
    pool.release(leases[1], window(10, 1, 30))
    assert [pool.lease(clock.sleep).waited for _ in range(8)] == [0] * 8
    assert pool.lease(clock.sleep).waited == 30  # an eleventh request would have been a 429


def test_pacer_starts_counting_afresh_after_waiting_for_the_reset(clock: FakeClock) -> None:
    pool = one_token(clock)
    pool.release(pool.lease(clock.sleep), window(2, 2, 5))
    late = pool.lease(clock.sleep)
    assert late.waited == 5
    pool.release(late, window(2, 1, 5))  # the first reading of the new window
    assert pool.lease(clock.sleep).waited == 0
    assert pool.lease(clock.sleep).waited == 5  # the new window is spent: wait again


def test_a_token_that_inherits_its_window_while_a_blind_request_is_out_counts_that_request(
    clock: FakeClock,
) -> None:
    """A new token sends one request blind, then inherits the window another token learned: the blind
    request is in the same first window, so four requests in all fit a window of four, however the answers
    arrive (here the last one sent answers first, counted 2nd by the server)."""
    learned = Pacer(clock=clock)
    learned_permit = learned.try_acquire()
    assert isinstance(learned_permit, Permit)
    learned.release(learned_permit, window(4, 1, 2))
    pacer = Pacer(clock=clock)
    blind = pacer.try_acquire(probe=True)
    assert isinstance(blind, Permit)
    pacer.inherit(learned)
    permits = [pacer.try_acquire() for _ in range(3)]
    assert all(isinstance(permit, Permit) for permit in permits)
    assert isinstance(pacer.try_acquire(), Wait)  # 4 out of 4 sent
    pacer.release(permits[-1], window(4, 2, 2))  # type: ignore[arg-type]
    assert isinstance(pacer.try_acquire(), Wait)  # still 4 sent in this window: a 5th would be a 429


def test_until_its_first_answer_a_probing_token_carries_one_request_even_with_an_inherited_window(
    clock: FakeClock,
) -> None:
    learned = Pacer(clock=clock)
    learned_permit = learned.try_acquire()
    assert isinstance(learned_permit, Permit)
    learned.release(learned_permit, window(4, 1, 2))
    pacer = Pacer(clock=clock)
    pacer.inherit(learned)
    first = pacer.try_acquire(probe=True)
    assert isinstance(first, Permit)
    assert isinstance(pacer.try_acquire(probe=True), Wait)  # the window's size is known, not its use
    pacer.release(first, window(4, 1, 2))
    assert isinstance(pacer.try_acquire(probe=True), Permit)


def test_pacer_without_headers_never_waits(clock: FakeClock) -> None:
    pool = one_token(clock)
    for _ in range(1000):
        pool.release(pool.lease(clock.sleep), RateLimitInfo())
    assert clock.sleeps == []


def test_pacer_forgets_a_window_that_has_passed(clock: FakeClock) -> None:
    pool = one_token(clock)
    pool.release(pool.lease(clock.sleep), window(10, 10, 30))
    clock.now += 31
    assert pool.lease(clock.sleep).waited == 0


def test_pacer_makes_progress_when_time_does_not_move(clock: FakeClock) -> None:
    pool = one_token(clock)
    waits: list[float] = []
    pool.release(pool.lease(waits.append), window(1, 1, 60))
    assert pool.lease(waits.append).waited == 60  # returns instead of looping forever
    assert waits == [60]


def test_pacer_wait_is_capped(clock: FakeClock) -> None:
    pool = one_token(clock, max_wait=10)
    pool.release(pool.lease(clock.sleep), window(5, 5, 3600))
    assert pool.lease(clock.sleep).waited == 10


def test_one_pacer_per_token_fingerprint() -> None:
    assert pacer_for("aaa") is pacer_for("aaa")
    assert pacer_for("aaa") is not pacer_for("bbb")


def failure(kind: str, *, rate_limited: bool = False, delay: float | None = None) -> RetryableFailure:
    error = GenesysCloudApiError(
        429 if rate_limited else 503, "x", "failed", method="GET", endpoint="/api/v2/x"
    )
    return RetryableFailure(kind, error, rate_limited=rate_limited, server_delay=delay)


def test_backoff_is_exponential_with_jitter_and_capped(clock: FakeClock) -> None:
    policy = RetryPolicy(max_attempts=8, backoff_base=1.0, rand=lambda: 1.0)

    def attempt(number: int) -> str:
        if number < 8:
            raise failure("503 Service Unavailable")
        return "ok"

    assert call_with_retries(attempt, policy, sleep=clock.sleep, clock=clock) == "ok"
    assert clock.sleeps == [1, 2, 4, 8, 16, 30, 30]
    half = RetryPolicy(max_attempts=3, backoff_base=2.0, rand=lambda: 0.0)
    clock.sleeps.clear()
    with pytest.raises(GenesysCloudApiError):
        call_with_retries(
            lambda n: (_ for _ in ()).throw(failure("503")), half, sleep=clock.sleep, clock=clock
        )
    assert clock.sleeps == [1.0, 2.0]  # at least half of 2, 4


def test_final_error_says_how_many_attempts_and_why(clock: FakeClock) -> None:
    kinds = iter(["429 rate limited"] * 3 + ["503 Service Unavailable"])

    def attempt(number: int) -> None:
        kind = next(kinds)
        raise failure(kind, rate_limited=kind.startswith("429"), delay=20)

    with pytest.raises(GenesysCloudApiError) as excinfo:
        call_with_retries(
            attempt, RetryPolicy(max_attempts=4, rand=lambda: 0.5), sleep=clock.sleep, clock=clock
        )
    error = excinfo.value
    assert error.attempts == 4
    assert "gave up after 4 attempts over 60 s: 3x 429 rate limited, 1x 503 Service Unavailable" in str(error)
    assert "max_attempts 4 reached" in str(error)


def test_other_exceptions_are_not_retried(clock: FakeClock) -> None:
    calls = []

    def attempt(number: int) -> None:
        calls.append(number)
        raise GenesysCloudApiError(404, "not.found", "nope")

    with pytest.raises(GenesysCloudApiError, match="404"):
        call_with_retries(attempt, RetryPolicy(), sleep=clock.sleep, clock=clock)
    assert calls == [1]
