"""Token pools against the emulator's per-token and organisation-wide windows, most on the emulator's clock.

The client waits out windows with :class:`SharedTime` instead of sleeping: a wait moves the emulator's clock
to the waiting thread's deadline, and never further, so concurrent waits overlap as they would in real time.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from airflow_provider_genesys.client import GenesysCloudClient
from airflow_provider_genesys.ratelimit import PROBE_POLL
from airflow_provider_genesys.settings import GenesysSettings
from airflow_provider_genesys.testing import GenesysCloudEmulator

WINDOW = 2.0  # the emulator's reset is whole seconds: a 1 s window is too coarse for the pacer
BODIES = ("plain", "limit")


class SharedTime:
    """The clock and sleep of the clients of one emulator: real time plus the offset the waits added.

    A thread's ``sleep(s)`` ends ``s`` after the time that thread last read (the pacer reads the clock, then
    waits until a window's end): it moves the emulator's clock, and this one in step, to that deadline unless
    another thread's wait already took it there, and returns at once. Moving the clock by ``s`` instead adds
    up the waits of threads that wait at the same time (8 threads waiting out one 2 s window would move it
    16 s): windows reset early for the others and a call's ``max_retry_time`` looks spent. A poll
    (``PROBE_POLL``: a new token's first answer is still out) waits for another thread, not for time: it
    sleeps for real, or the polls would move the clock on while that answer is on its way.
    """

    def __init__(self, emu: GenesysCloudEmulator) -> None:
        self._emu = emu
        self._offset = 0.0
        self._lock = threading.Lock()
        self._read = threading.local()  # what this thread last read

    def clock(self) -> float:
        with self._lock:
            self._read.now = time.monotonic() + self._offset
        return self._read.now

    def sleep(self, seconds: float) -> None:
        if seconds <= PROBE_POLL:  # a poll for another thread's answer, which comes in real time
            time.sleep(seconds)
            return
        deadline = getattr(self._read, "now", None) or self.clock()
        deadline += seconds
        with self._lock:
            ahead = deadline - (time.monotonic() + self._offset)
            if ahead > 0:
                self._offset += ahead
                self._emu.advance_clock(ahead)


def client_for(
    emu: GenesysCloudEmulator, shared: SharedTime | None = None, *, real_time: bool = False, **extra: object
) -> GenesysCloudClient:
    """A client on ``shared`` (a new :class:`SharedTime` if None), or sleeping for real with ``real_time``:
    the org-cap and token-creation tests, where a jump of the clock while another thread's request is in
    flight gave a per-token 429 in ~1 of 20 runs (likely: that request lands in the emulator's next window of
    its token, which the client's pacer does not count there; real time seldom crosses a window mid-request)."""
    conn = emu.connection_dict(**extra)
    settings = GenesysSettings.from_connection(login=conn["login"], password=conn["password"], extra=conn["extra"])
    if real_time:
        return GenesysCloudClient(settings, org_rate_window=WINDOW)
    shared = shared or SharedTime(emu)
    return GenesysCloudClient(settings, org_rate_window=WINDOW, clock=shared.clock, sleep=shared.sleep)


def run(client: GenesysCloudClient, requests: int, workers: int = 8) -> None:
    with ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(lambda _: client.request("GET", "/api/v2/organizations/me"), range(requests)))
    assert all(result["id"] for result in results)


def tokens_used(emu: GenesysCloudEmulator) -> int:
    return emu.stats.tokens_issued


def test_a_pool_goes_past_one_tokens_window_without_a_429() -> None:
    with GenesysCloudEmulator(users=5, rate_limit=4, rate_window=WINDOW) as emu, \
            client_for(emu, token_pool_size=3) as client:  # fmt: skip
        run(client, 12)  # three tokens' windows: no wait needed
        assert emu.stats.rate_limited == 0
        assert tokens_used(emu) == 3


@pytest.mark.parametrize("body", BODIES)
def test_an_org_cap_below_the_pools_sum_keeps_the_organisation_free_of_429s(body: str) -> None:
    with GenesysCloudEmulator(
        users=5, rate_limit=4, org_rate_limit=6, rate_window=WINDOW, rate_limit_body=body
    ) as emu, client_for(emu, real_time=True, token_pool_size=3, org_rate_limit_per_minute=6) as client:
        run(client, 10)  # two organisation windows
        assert (emu.stats.rate_limited, emu.stats.org_rate_limited) == (0, 0)


@pytest.mark.parametrize("body", BODIES)
def test_workers_that_split_the_org_limit_between_them_share_it_without_a_coordinator(body: str) -> None:
    """Two tasks on two workers (own clients, own tokens), each capped at half the organisation's limit:
    what an Airflow pool of 2 slots and org_rate_limit_per_minute = limit / 2 give."""
    with GenesysCloudEmulator(
        users=5, rate_limit=4, org_rate_limit=8, rate_window=WINDOW, rate_limit_body=body
    ) as emu, client_for(emu, shared := SharedTime(emu), token_pool_size=2, org_rate_limit_per_minute=4) as one, \
            client_for(emu, shared, token_pool_size=2, org_rate_limit_per_minute=4) as two:  # fmt: skip
        with ThreadPoolExecutor(2) as workers:
            list(workers.map(lambda client: run(client, 6, workers=4), (one, two)))
        assert emu.stats.rate_limited == 0
        assert emu.stats.api_requests == 12


@pytest.mark.parametrize("body", BODIES)
def test_without_a_cap_an_org_429_holds_the_whole_pool_and_every_request_succeeds(body: str) -> None:
    with GenesysCloudEmulator(
        users=5, rate_limit=10, org_rate_limit=6, rate_window=WINDOW, rate_limit_body=body
    ) as emu, client_for(emu, token_pool_size=2) as client:
        run(client, 10, workers=4)
        assert emu.stats.org_rate_limited >= 1  # the client did not know the organisation's limit
        assert emu.stats.org_rate_limited == emu.stats.rate_limited  # never blamed on a token
        assert emu.stats.api_requests == 10 + emu.stats.rate_limited


def test_a_token_answer_cut_short_is_retried() -> None:
    with GenesysCloudEmulator(users=5) as emu, client_for(emu) as client:
        emu.faults.truncate(mode="invalid_json", path="^/oauth/token$")
        assert client.request("GET", "/api/v2/organizations/me")["id"]
        assert emu.stats.token_requests == 2
        assert emu.stats.tokens_issued == 2


def test_a_pool_waits_out_the_token_creation_limit_and_still_sends_no_429() -> None:
    """Tokens are fetched as windows fill; the third waits for the token endpoint's window (400 retried)."""
    with GenesysCloudEmulator(users=5, rate_limit=4, token_rate_limit=2, rate_window=WINDOW) as emu, \
            client_for(emu, real_time=True, token_pool_size=3) as client:  # fmt: skip
        run(client, 12, workers=4)
        assert emu.stats.rate_limited == 0
        assert emu.stats.tokens_issued == 3
        assert emu.stats.by_status[400] >= 1  # the endpoint refused a third token within its window
