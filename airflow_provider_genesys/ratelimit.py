"""Rate limiting: reading Genesys' headers, the retry policy (as tenacity pieces) and the shared pacer.

Who retries what is the table in retrypolicy.py: an attempt raises RetryableFailure only where it says
client retry. Retry-After is honoured on every 429; other retried failures back off exponentially with jitter.
The pacer reads `inin-ratelimit-*` on every response so parallel threads slow down before a 429.
"""

from __future__ import annotations

import email.utils
import logging
import math
import random
import threading
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception_type

from airflow_provider_genesys.exceptions import GenesysCloudApiError
from airflow_provider_genesys.retrypolicy import Action

log = logging.getLogger(__name__)
T = TypeVar("T")

DEFAULT_429_WAIT = 3.0  # what Genesys' Java/.NET SDKs wait when a 429 has no Retry-After
PROBE_POLL = 0.02  # how often a pool asks again while every token's first request is still out
BACKOFF_CAP = 30.0  # longest exponential back-off step (the Terraform provider waits 1-30 s)
ORG_RATE_WINDOW = 60.0  # the minute of `org_rate_limit_per_minute` (tests and benchmarks compress it)


def _header_number(headers: Mapping[str, str], name: str) -> float | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        number = float(str(value).strip())
    except ValueError:
        return None
    return number if number >= 0 else None


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header: integer seconds or an HTTP-date."""
    if value is None or not str(value).strip():
        return None
    text = str(value).strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


@dataclass(frozen=True)
class RateLimitInfo:
    """What a response said about the rate-limit window (None when a header is absent)."""

    allowed: int | None = None
    count: int | None = None
    reset: float | None = None
    retry_after: float | None = None
    correlation_id: str | None = None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> RateLimitInfo:
        allowed = _header_number(headers, "inin-ratelimit-allowed")
        count = _header_number(headers, "inin-ratelimit-count")
        return cls(
            allowed=int(allowed) if allowed is not None else None,
            count=int(count) if count is not None else None,
            reset=_header_number(headers, "inin-ratelimit-reset"),
            retry_after=parse_retry_after(headers.get("Retry-After")),
            correlation_id=headers.get("inin-correlation-id"),
        )

    @property
    def server_delay(self) -> float | None:
        """How long the server asked us to wait: Retry-After, else the window's reset."""
        return self.retry_after if self.retry_after is not None else self.reset


class RetryableFailure(Exception):
    """One failed attempt that may be retried; `error` is what the caller gets if it is the last one."""

    def __init__(
        self,
        kind: str,
        error: GenesysCloudApiError,
        *,
        rate_limited: bool = False,
        server_delay: float | None = None,
    ) -> None:
        super().__init__(kind)
        self.kind = kind
        self.error = error
        self.rate_limited = rate_limited
        self.server_delay = server_delay


def retry_or_raise(kind: str, error: GenesysCloudApiError) -> RetryableFailure | GenesysCloudApiError:
    """What a failed attempt raises: a RetryableFailure where the retry policy says client retry, else the error."""
    return RetryableFailure(kind, error) if error.action is Action.CLIENT_RETRY else error


@dataclass(frozen=True)
class RetryPolicy:
    """Limits of one retried call, from the connection's extras."""

    max_attempts: int = 10
    max_retry_time: float = 600.0
    max_retry_wait: float = 180.0
    backoff_base: float = 1.0
    default_429_wait: float = DEFAULT_429_WAIT
    rand: Callable[[], float] = field(default=random.random, compare=False)

    def wait(self, retry_state: RetryCallState) -> float:
        """tenacity wait: the server's delay for 429s, exponential back-off with jitter otherwise."""
        failure = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(failure, RetryableFailure) and failure.rate_limited:
            delay = failure.server_delay
            return self.default_429_wait if delay is None else delay
        step = min(
            BACKOFF_CAP, self.max_retry_wait, self.backoff_base * 2 ** (retry_state.attempt_number - 1)
        )
        return step * (0.5 + self.rand() / 2)  # "equal jitter": at least half the step, never more than it


class _Stop:
    """tenacity stop over attempts, total time and the longest single wait; remembers why it stopped."""

    def __init__(self, policy: RetryPolicy, clock: Callable[[], float]) -> None:
        self.policy = policy
        self.clock = clock
        self.start = clock()
        self.reason = ""

    def elapsed(self) -> float:
        return self.clock() - self.start

    def __call__(self, retry_state: RetryCallState) -> bool:
        upcoming = retry_state.upcoming_sleep
        if retry_state.attempt_number >= self.policy.max_attempts:
            self.reason = f"max_attempts {self.policy.max_attempts} reached"
        elif upcoming > self.policy.max_retry_wait:
            self.reason = (
                f"the server asked to wait {upcoming:.0f} s, more than max_retry_wait "
                f"{self.policy.max_retry_wait:.0f} s (raise max_retry_wait in the connection extra "
                "or retry later)"
            )
        elif self.elapsed() + upcoming > self.policy.max_retry_time:
            limit = self.policy.max_retry_time
            self.reason = f"waiting {upcoming:.0f} s more would exceed max_retry_time {limit:.0f} s"
        else:
            return False
        return True


def call_with_retries(
    attempt: Callable[[int], T],
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    on_retry: Callable[[RetryableFailure, float], None] | None = None,
) -> T:
    """Run `attempt(n)` until it returns; retry while it raises RetryableFailure and the policy allows.

    Anything else it raises propagates at once. When retries end, the last failure's error is raised with
    a summary such as "gave up after 10 attempts over 62 s: 9x 429 rate limited, 1x 503 ...".
    """
    stop = _Stop(policy, clock)
    kinds: Counter[str] = Counter()

    def before_sleep(state: RetryCallState) -> None:
        failure = state.outcome.exception()  # type: ignore[union-attr]
        kinds[failure.kind] += 1
        log.info(
            "Genesys Cloud attempt %d failed (%s); retrying in %.1f s",
            state.attempt_number,
            failure.kind,
            state.upcoming_sleep,
        )
        if on_retry is not None:
            on_retry(failure, state.upcoming_sleep)

    def give_up(state: RetryCallState) -> T:
        failure: RetryableFailure = state.outcome.exception()  # type: ignore[union-attr,assignment]
        kinds[failure.kind] += 1
        tally = ", ".join(f"{n}x {kind}" for kind, n in kinds.most_common())
        attempts = state.attempt_number
        summary = (
            f"gave up after {attempts} attempt{'s' if attempts != 1 else ''} over {stop.elapsed():.0f} s: "
            f"{tally}; {stop.reason}"
        )
        raise failure.error.with_attempts(attempts, summary) from None

    retrying = Retrying(
        stop=stop,
        wait=policy.wait,
        retry=retry_if_exception_type(RetryableFailure),
        sleep=sleep,
        before_sleep=before_sleep,
        retry_error_callback=give_up,
    )
    for attempt_manager in retrying:
        with attempt_manager:
            result = attempt(attempt_manager.retry_state.attempt_number)
        if not attempt_manager.retry_state.outcome or not attempt_manager.retry_state.outcome.failed:
            return result
    raise AssertionError("unreachable: tenacity either returns, retries or gives up")  # pragma: no cover


@dataclass(frozen=True)
class Permit:
    """One request let through by a pacer: its place in the send order and how long it was held back."""

    seq: int
    waited: float = 0.0


@dataclass(frozen=True)
class Wait:
    """No room yet: the window that is spent ends at `window_end`; wait `delay` (capped) for it."""

    window_end: float
    delay: float


class Pacer:
    """Keeps one token's requests inside its rate-limit window, across every thread of the process.

    It learns the window from response headers (allowed, count, reset). A window's use is estimated as the
    larger of what this process sent in it and the highest count the server reported plus our requests
    sent after that reading (the server cannot have counted those yet). Counting every request in flight
    on top of the server's count instead would double-count and leave slots of each window unused. When
    the estimate reaches `allowed`, callers wait for the window to reset, at the earliest end
    any reading implies: exact when `reset` is whole seconds rounded up (the emulator; Genesys' rounding is
    unconfirmed), at worst a second early, which costs one 429 retried after its Retry-After. Without
    headers it never waits, and a wait never lasts longer than one window, so it cannot deadlock.
    """

    def __init__(
        self, *, clock: Callable[[], float] = time.monotonic, max_wait: float = 180.0
    ) -> None:
        self.max_wait = max_wait
        self._clock = clock
        self._lock = threading.Lock()
        self._allowed: int | None = None
        self._count = 0  # highest count the server reported in the current window
        self._counted_seq = -1  # requests up to this send number are in that count
        self._window_end: float | None = None
        self._seq = 0  # send number of the next request
        self._window_start_seq = 0  # send number of this process's first request in the current window
        self._in_flight: set[int] = set()
        self._window_length: float | None = None  # the longest reset seen: about one window
        self._provisional = False  # the window was inherited, not yet read from this token's responses
        self._inherited_out = False  # it was inherited while blind requests were out (they are in it)
        self._answered = False  # a response (with or without headers) came back
        self.paced_seconds = 0.0

    def _used(self) -> int:
        sent = self._seq - self._window_start_seq
        uncounted = sum(1 for seq in self._in_flight if seq > self._counted_seq)
        return max(sent, self._count + uncounted)

    def _new_window(self) -> None:
        """The window is over: everything sent so far belonged to it.

        The next window has the same size: until its first reading it is assumed to open with the next
        request (provisional), so threads that waited together do not burst past `allowed` into it.
        """
        self._count, self._counted_seq, self._window_end = 0, self._seq - 1, None
        self._window_start_seq = self._seq
        self._provisional = self._allowed is not None and self._window_length is not None

    def try_acquire(self, waited: float = 0.0, *, probe: bool = False) -> Permit | Wait:
        """A permit if a request may be sent now (counted in flight), else how long to wait for room.

        `probe`: until its first response, this token's window is unknown (at best inherited from another
        token: its size, not its use), so it lets one request out at a time; a pool sends the others to its
        other tokens rather than burst into this one.
        """
        with self._lock:
            now = self._clock()
            if probe and not self._answered and self._in_flight:
                return Wait(-math.inf, PROBE_POLL)
            if self._window_end is not None and now >= self._window_end:
                self._new_window()
            if self._provisional and self._window_end is None and self._window_length is not None:
                # An inherited window (a new token), or the next one after a window passed: assume it opens
                # with this request until a reading says. A new token may have requests out already (sent
                # blind before it inherited): they are in its first window, so that one opens with them.
                self._window_end = now + self._window_length
                first = min(self._in_flight, default=self._seq) if self._inherited_out else self._seq
                self._window_start_seq, self._inherited_out = first, False
            full = self._allowed is not None and self._window_end is not None and self._used() >= self._allowed
            if not full:
                permit = Permit(self._seq, waited)
                self._seq += 1
                self._in_flight.add(permit.seq)
                self.paced_seconds += waited
                return permit
            window_end: float = self._window_end  # type: ignore[assignment]
            return Wait(window_end, min(max(window_end - now, 0.0), self.max_wait))

    def window_passed(self, window_end: float) -> None:
        """A caller slept until `window_end`: unless a newer reading moved it, that window is over."""
        with self._lock:
            if self._window_end == window_end:
                self._new_window()

    def inherit(self, other: Pacer) -> None:
        """Start from what `other` learned (the window's size and length) instead of blind.

        Used for a new token of the same client (a refresh, another token of a pool): its window is its own,
        but its size is the same, so threads do not all burst into it before its first response. The first
        reading of the new token replaces this guess.
        """
        if other is self:
            return
        with other._lock:
            allowed, length = other._allowed, other._window_length
        with self._lock:
            if self._allowed is None and allowed is not None and length is not None:
                self._allowed, self._window_length, self._provisional = allowed, length, True
                self._inherited_out = bool(self._in_flight)

    @property
    def learned(self) -> bool:
        """Whether a response has told this pacer its window (so a new token can inherit it)."""
        return self._allowed is not None and self._window_length is not None

    def release(self, permit: Permit, info: RateLimitInfo | None) -> None:
        """The request finished: stop counting it and learn the window from its response headers."""
        with self._lock:
            self._in_flight.discard(permit.seq)
            self._answered = self._answered or info is not None
            if info is None or info.allowed is None or info.count is None or info.reset is None:
                return
            window_end = self._clock() + info.reset
            self._allowed = info.allowed
            self._window_length = max(self._window_length or 0.0, info.reset)
            provisional, self._provisional = self._provisional, False
            if (
                not provisional and self._window_end is not None and window_end <= self._window_end + 1.0
            ):  # same window
                if info.count > self._count or (
                    info.count == self._count and permit.seq > self._counted_seq
                ):
                    self._count, self._counted_seq = info.count, permit.seq
                self._window_end = min(self._window_end, window_end)
            else:
                # The first reading of a new window. This request was its count-th, and requests still in
                # flight may be in it too; those that finished earlier would have reported it first.
                first = min(permit.seq - info.count + 1, min(self._in_flight, default=permit.seq))
                self._count, self._counted_seq, self._window_end = info.count, permit.seq, window_end
                self._window_start_seq = max(self._window_start_seq, first)


# Limit keys of one token's own window (ErrorBody.limit.key): a 429 naming any other limit (the organisation's,
# the OAuth client's) is shared by every token of a pool. Genesys' org limits page lists these two per token.
TOKEN_LIMIT_KEYS = frozenset({"client.credentials.token.rate.per.minute", "token.rate.per.minute"})


def names_shared_limit(body: Mapping[str, object] | None, info: RateLimitInfo) -> bool:
    """Whether a 429 is about a limit shared by all tokens (organisation, OAuth client), not this token's.

    Genesys' ErrorBody may name the limit (``limit: {namespace, key, value}``); when it names a key other than
    a per-token one, it is shared. When it names none, the token's own ``inin-ratelimit-*`` headers decide: a
    429 while they show room in the token's window was refused by another limit. Without either, the 429 is
    taken as the token's own (what every client did before pools).
    """
    limit = (body or {}).get("limit")
    if isinstance(limit, Mapping) and limit.get("key"):
        return str(limit["key"]) not in TOKEN_LIMIT_KEYS
    if info.allowed is not None and info.count is not None:
        return info.count < info.allowed
    return False


class SharedBudget:
    """What every token of a pool shares: an optional cap on requests per window, and a pool-wide hold.

    The cap admits a request while fewer than `limit` requests are in flight or finished within the last
    `window` seconds. That holds whatever window alignment and latency the server has: a request the server
    counts in a window was sent before the window ended, when every other request it counts there was in
    flight or had finished less than `window` seconds before. A 429 naming a shared limit holds every token
    until its Retry-After has passed, instead of each thread finding the limit on its own.
    """

    def __init__(
        self,
        limit: int | None = None,
        window: float = ORG_RATE_WINDOW,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_wait: float = 180.0,
    ) -> None:
        self.limit = limit
        self.window = window
        self.max_wait = max_wait
        self._clock = clock
        self._lock = threading.Lock()
        self._finished: deque[float] = deque()
        self._in_flight = 0
        self._hold_until = 0.0

    def try_enter(self) -> float:
        """0.0 and the request is counted in flight; else the seconds to wait before asking again."""
        with self._lock:
            now = self._clock()
            if now < self._hold_until:
                return min(self._hold_until - now, self.max_wait)
            if self.limit is not None:
                while self._finished and self._finished[0] <= now - self.window:
                    self._finished.popleft()
                if self._in_flight + len(self._finished) >= self.limit:
                    if not self._finished:
                        return min(self.window, self.max_wait)  # all in flight: a finish frees nothing sooner
                    return min(max(self._finished[0] + self.window - now, 0.0), self.max_wait)
            self._in_flight += 1
            return 0.0

    def leave(self, *, sent: bool = True) -> None:
        """The request ended (`sent`: it may have reached the server, so it counts for one window)."""
        with self._lock:
            self._in_flight -= 1
            if sent and self.limit is not None:
                self._finished.append(self._clock())

    def hold(self, seconds: float) -> None:
        """Send nothing for `seconds` (a shared limit answered 429)."""
        with self._lock:
            self._hold_until = max(self._hold_until, self._clock() + seconds)


_PACERS: OrderedDict[str, Pacer] = OrderedDict()
_PACERS_LOCK = threading.Lock()
_MAX_PACERS = 256  # tokens rotate; forget the oldest windows rather than grow forever


def pacer_for(key: str, *, clock: Callable[[], float] = time.monotonic, max_wait: float = 180.0) -> Pacer:
    """The process-wide pacer of one token (keyed by its fingerprint, never the token itself)."""
    with _PACERS_LOCK:
        pacer = _PACERS.get(key)
        if pacer is None:
            pacer = _PACERS[key] = Pacer(clock=clock, max_wait=max_wait)
            while len(_PACERS) > _MAX_PACERS:
                _PACERS.popitem(last=False)
        else:
            _PACERS.move_to_end(key)
        return pacer
