"""GenesysCloudClient: one pooled session + OAuth + rate-limit-aware retries + pacing + paging. No Airflow.

Thread safe: operators fetch pages from a thread pool through one client.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from airflow_provider_genesys import __version__
from airflow_provider_genesys.auth import (
    TRANSPORT_ERRORS,
    BearerAuth,
    Lease,
    OAuthTokenSource,
    SecretCallback,
    StaticTokenSource,
    TokenPool,
    TokenSource,
    json_object,
    transport_failure,
)
from airflow_provider_genesys.exceptions import (
    GenesysCloudApiError,
    GenesysCloudTransportError,
)
from airflow_provider_genesys.paging import Page
from airflow_provider_genesys.paging import iter_pages as _iter_pages
from airflow_provider_genesys.ratelimit import (
    DEFAULT_429_WAIT,
    ORG_RATE_WINDOW,
    RateLimitInfo,
    RetryableFailure,
    RetryPolicy,
    SharedBudget,
    call_with_retries,
    retry_or_raise,
)
from airflow_provider_genesys.retrypolicy import Action, Failure
from airflow_provider_genesys.settings import GenesysSettings
from airflow_provider_genesys.transport import DeadlineAdapter, nothing_sent, send

log = logging.getLogger(__name__)

API_PREFIX = "/api/v2/"
USER_AGENT = f"airflow-provider-genesys/{__version__} python-requests/{requests.__version__}"


def api_path(template: str, *ids: Any) -> str:
    """Fill `{}` placeholders with URL-encoded ids, so an id like `a/b` or `..` cannot reach another path."""
    encoded = []
    for value in ids:
        text = str(value) if value is not None else ""
        if text.strip() in ("", ".", ".."):
            raise ValueError(
                f"Invalid path parameter {value!r} for {template}: ids must be non-empty and not '.' or '..'"
            )
        encoded.append(quote(text, safe=""))
    try:
        return template.format(*encoded)
    except (IndexError, KeyError) as exc:
        raise ValueError(f"{template} expects other path parameters than {len(ids)} id(s)") from exc


class ClientStats:
    """Counters a DAG can log or assert on; updated from many threads."""

    _FIELDS = ("requests", "rate_limited", "retries", "paced_seconds", "token_fetches")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests = 0
        self.rate_limited = 0
        self.retries = 0
        self.paced_seconds = 0.0
        self.token_fetches = 0

    def add(self, name: str, amount: float = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + amount)

    def snapshot(self) -> dict[str, float]:
        with self._lock:
            return {name: getattr(self, name) for name in self._FIELDS}

    def __repr__(self) -> str:
        return f"ClientStats({self.snapshot()})"


def _encode_params(params: Mapping[str, Any] | None) -> dict[str, str]:
    """Genesys wants list parameters comma-joined and booleans lower-case; None means "leave out"."""
    encoded: dict[str, str] = {}
    for key, value in (params or {}).items():
        if value is None:
            continue
        if isinstance(value, list | tuple | set | frozenset):
            value = ",".join(str(v) for v in value)
        elif isinstance(value, bool):
            value = "true" if value else "false"
        encoded[key] = str(value)
    return encoded


def _reason(response: requests.Response) -> str:
    """The reason phrase, from the standard table when the server (or a mock) sent none."""
    try:
        return response.reason or HTTPStatus(response.status_code).phrase
    except ValueError:
        return "no reason given"


@dataclass(frozen=True)
class _Call:
    """One API call as every attempt sends it."""

    method: str
    url: str
    endpoint: str
    query: dict[str, str]
    body: Any
    repeatable: bool  # the caller said a POST/PATCH is safe to send twice (retry_non_idempotent)
    once: bool = False  # the caller settles an unknown outcome itself: never resent, whatever the method
    retry_until: float = float("inf")  # on the client's clock: max_retry_time after the call started

    def failed(self, kind: str, error: GenesysCloudApiError) -> RetryableFailure | GenesysCloudApiError:
        """What to raise for a failed attempt, as the retry policy's cell says: retry it, or say why not."""
        if error.action is Action.FAIL_NOW and error.failure in (Failure.UNKNOWN_OUTCOME, Failure.SERVER_ERROR):
            n = error.attempts
            attempts = f"{n} attempt{'s' if n != 1 else ''}"
            if self.once:
                return error.with_attempts(n, f"{attempts}; not retried: the caller reads back what it may have "
                                              "changed before sending it again")
            return error.with_attempts(
                n,
                f"{attempts}; not retried: {self.method} is not idempotent and may "
                "have been processed, so the outcome is unknown: check (read back) what it changes before "
                "running it again (set retry_non_idempotent if sending it twice is safe, e.g. a query)",
            )
        return retry_or_raise(kind, error)


class GenesysCloudClient:
    """The Genesys Cloud Platform API v2 client behind the hook (usable without Airflow)."""

    def __init__(
        self,
        settings: GenesysSettings,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        on_secret: SecretCallback | None = None,
        org_rate_window: float = ORG_RATE_WINDOW,
    ) -> None:
        """`sleep`, `clock` and `org_rate_window` (the minute `org_rate_limit_per_minute` counts in) are for
        tests and benchmarks, which compress time as the emulator's `rate_window` does."""
        self.settings = settings
        self.stats = ClientStats()
        self._last = threading.local()  # this thread's last answer: (status, correlation id)
        self._sleep = sleep
        self._clock = clock
        self._session = session or requests.Session()
        self._configure_session(self._session)
        self._policy = RetryPolicy(
            max_attempts=settings.max_attempts,
            max_retry_time=settings.max_retry_time,
            max_retry_wait=settings.max_retry_wait,
            backoff_base=settings.backoff_base,
        )
        source: TokenSource
        if settings.grant_type == "access_token":
            source = StaticTokenSource(settings)
            if on_secret is not None and settings.access_token:
                on_secret(settings.access_token)
        else:
            source = OAuthTokenSource(settings, self._session, sleep=sleep, clock=clock, on_secret=on_secret)
        shared = None
        if settings.token_pool_size > 1 or settings.org_rate_limit_per_minute is not None:
            shared = SharedBudget(
                settings.org_rate_limit_per_minute,
                org_rate_window,
                clock=clock,
                max_wait=settings.max_retry_wait,
            )
        self._tokens = TokenPool(
            source,
            settings.token_pool_size,
            refresh_margin=settings.token_refresh_margin,
            clock=clock,
            on_fetch=lambda: self.stats.add("token_fetches"),
            pacing=settings.pacing,
            max_wait=settings.max_retry_wait,
            shared=shared,
        )

    def _configure_session(self, session: requests.Session) -> None:
        adapter = DeadlineAdapter(pool_connections=4, pool_maxsize=self.settings.pool_size, max_retries=0)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
        if self.settings.proxies:
            session.proxies.update(self.settings.proxies)
        session.verify = self.settings.verify
        session.cert = self.settings.cert

    def __repr__(self) -> str:
        return f"GenesysCloudClient(api={self.settings.api_base_url!r}, grant={self.settings.grant_type!r})"

    def __enter__(self) -> GenesysCloudClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Release pooled connections."""
        self._session.close()

    # -- requests -----------------------------------------------------------------------------------

    def _url(self, endpoint: str) -> str:
        """The full URL of an `/api/v2/...` path or a nextUri; other hosts and dot segments are refused."""
        base = self.settings.api_base_url
        if "://" in endpoint:
            if not endpoint.startswith(base + "/"):
                parts = urlsplit(endpoint)
                raise ValueError(
                    f"Refusing absolute URL to {parts.scheme}://{parts.netloc}: endpoints must be paths "
                    f"under {API_PREFIX} on {base}."
                )
            endpoint = endpoint[len(base) :]
        path = urlsplit(endpoint).path
        if not path.startswith(API_PREFIX):
            raise ValueError(f"Endpoint {endpoint!r} must be a path starting with {API_PREFIX}")
        if any(segment in (".", "..") for segment in path.split("/")):
            raise ValueError(f"Endpoint {endpoint!r} contains '.' or '..' segments; build it with api_path()")
        return base + endpoint

    def request(
        self,
        method: str,
        endpoint: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        retry_non_idempotent: bool | None = None,
        once: bool = False,
    ) -> Any | None:
        """Send one API call with retries; return the parsed JSON body (None when empty).

        ``once``: a call whose unknown outcome (a timeout, a 5xx) the caller settles itself is never sent again
        by the client, whatever its method (the access engine's writes: its ledger reads them back); a 429 or a
        connection never made is still resent (nothing was processed)."""
        method = method.upper()
        if retry_non_idempotent is None:
            retry_non_idempotent = self.settings.retry_non_idempotent
        call = _Call(
            method,
            self._url(endpoint),
            endpoint,
            _encode_params(params),
            json,
            repeatable=bool(retry_non_idempotent),
            once=once,
            retry_until=self._clock() + self._policy.max_retry_time,
        )
        return call_with_retries(
            lambda number: self._attempt(call, number),
            self._policy,
            sleep=self._sleep,
            clock=self._clock,
            on_retry=lambda failure, wait: self.stats.add("retries"),
        )

    def _attempt(self, call: _Call, number: int) -> Any:
        """One attempt; a 401 refreshes the token and replays once within the same attempt."""
        for replay in (False, True):
            response, lease = self._send(call, number)
            if response.status_code != 401:
                return self._handle(response, call, number)
            self._tokens.invalidate(lease)
            if replay:
                raise self._error(response, call, number, hint=self._refused_twice_hint())
            log.info(
                "Genesys Cloud answered 401 to %s %s; refreshing the token and replaying once",
                call.method,
                call.endpoint,
            )
        raise AssertionError("unreachable")  # pragma: no cover

    def _refused_twice_hint(self) -> str:
        if self.settings.grant_type == "access_token":
            return (
                "the pre-issued access token was refused (expired or revoked); put a new one in the "
                "extra access_token"
            )
        return (
            "the API refused a freshly issued token twice; check that the OAuth client is not revoked "
            "and that its roles allow this call"
        )

    def last_exchange(self) -> tuple[int | None, str | None]:
        """The HTTP status and ``inin-correlation-id`` of this thread's last answer (for write reports:
        ``request`` returns only the body)."""
        return getattr(self._last, "exchange", (None, None))

    @property
    def sleep(self) -> Callable[[float], None]:
        """How this client waits (tests and benchmarks give a fake clock's): what callers that wait between
        their own reads (the access apply, settling) use, so one test clock governs every wait."""
        return self._sleep

    def _budget_sleep(self, call: _Call) -> Callable[[float], None]:
        """The pacer's sleep, refusing a wait that would end after the call's max_retry_time."""

        def sleep(seconds: float) -> None:
            if self._clock() + seconds > call.retry_until:
                raise GenesysCloudApiError(
                    None,
                    "rate.limit.window",
                    f"the rate-limit window resets in {seconds:.0f} s, after max_retry_time "
                    f"{self._policy.max_retry_time:g} s of this call; not waiting (Airflow's task retries "
                    "may try later, or raise max_retry_time)",
                    method=call.method,
                    endpoint=call.endpoint,
                    failure=Failure.NOT_SENT,
                    repeatable=call.repeatable, once=call.once,
                )
            self._sleep(seconds)

        return sleep

    def _send(self, call: _Call, number: int) -> tuple[requests.Response, Lease]:
        """One HTTP exchange with a token leased from the pool after the pacers' wait."""
        lease = self._tokens.lease(self._budget_sleep(call))
        token = lease.token
        if lease.waited:
            self.stats.add("paced_seconds", lease.waited)
        info: RateLimitInfo | None = None
        try:
            response = send(
                self._session,
                call.method,
                call.url,
                redirect_origin=self.settings.api_base_url,
                params=call.query or None,
                json=call.body,
                auth=BearerAuth(token.value),
                timeout=(self.settings.connect_timeout, self.settings.read_timeout),
            )
            info = RateLimitInfo.from_headers(response.headers)
            self._last.exchange = (response.status_code, info.correlation_id)
        except TRANSPORT_ERRORS as exc:
            error = GenesysCloudTransportError(
                f"{transport_failure(exc)} talking to {self.settings.api_base_url}",
                method=call.method,
                endpoint=call.endpoint,
                attempts=number,
                failure=Failure.NOT_SENT if nothing_sent(exc) else Failure.UNKNOWN_OUTCOME,
                repeatable=call.repeatable, once=call.once,
            )
            raise call.failed(type(exc).__name__, error) from None
        finally:
            self._tokens.release(lease, info)
        self.stats.add("requests")
        return response, lease

    def _handle(self, response: requests.Response, call: _Call, number: int) -> Any:
        status = response.status_code
        if 200 <= status < 300:
            return self._parse(response, call, number)
        error = self._error(response, call, number)
        if status == 429:
            self.stats.add("rate_limited")
            info = RateLimitInfo.from_headers(response.headers)
            delay = info.server_delay if info.server_delay is not None else DEFAULT_429_WAIT
            self._tokens.rate_limited(json_object(response), info, delay)
            if error.action is Action.CLIENT_RETRY:  # never processed: resent after Retry-After
                raise RetryableFailure(
                    "429 rate limited", error, rate_limited=True, server_delay=info.server_delay
                )
        raise call.failed(f"{status} {_reason(response)}", error)

    def _parse(self, response: requests.Response, call: _Call, number: int) -> Any:
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            error = GenesysCloudTransportError(
                f"{response.status_code} with a truncated or invalid JSON body "
                f"({len(response.content)} bytes, {response.headers.get('Content-Type', 'no content type')})",
                code="invalid.response",
                method=call.method,
                endpoint=call.endpoint,
                attempts=number,
                correlation_id=response.headers.get("inin-correlation-id"),
                repeatable=call.repeatable, once=call.once,
            )
            raise call.failed("invalid JSON body", error) from None

    def _error(
        self, response: requests.Response, call: _Call, number: int, hint: str | None = None
    ) -> GenesysCloudApiError:
        """A structured error from Genesys' error body (code, message, contextId) or a non-JSON body."""
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            body = {}
        message = str(body.get("message") or _reason(response))
        if not body and response.text:
            message = f"{message}: {response.text[:200]}"
        if hint:
            message = f"{message} ({hint})"
        info = RateLimitInfo.from_headers(response.headers)
        return GenesysCloudApiError(
            response.status_code,
            body.get("code"),
            message,
            correlation_id=info.correlation_id or body.get("contextId"),
            method=call.method,
            endpoint=call.endpoint,
            attempts=number,
            retry_after=info.retry_after,
            details=body.get("details") or None,
            repeatable=call.repeatable, once=call.once,
        )

    # -- paging -------------------------------------------------------------------------------------

    def iter_pages(self, endpoint: str, *, params: Mapping[str, Any] | None = None) -> Iterator[Page]:
        """Pages of a listing, lazily (one page in memory); the largest page size unless `pageSize` given."""
        return _iter_pages(lambda url, query: self.request("GET", url, params=query), endpoint, params)

    def paginate(self, endpoint: str, *, params: Mapping[str, Any] | None = None) -> Iterator[dict]:
        """The entities of every page, lazily."""
        for page in self.iter_pages(endpoint, params=params):
            yield from page.entities


__all__ = ["ClientStats", "GenesysCloudClient", "api_path"]
