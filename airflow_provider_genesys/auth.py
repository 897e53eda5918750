"""OAuth: the four grants, and a token cache that refreshes before expiry and after a 401 (single flight).

Genesys' Python SDK never refreshes client-credentials tokens, so long-running users hit 401 after a day;
here the cache refreshes `token_refresh_margin` before expiry and single-flights the fetch across threads.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import math
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import requests
from requests.auth import AuthBase, HTTPBasicAuth

from airflow_provider_genesys.exceptions import (
    GenesysCloudApiError,
    GenesysCloudAuthError,
    GenesysCloudTransportError,
)
from airflow_provider_genesys.ratelimit import (
    Pacer,
    Permit,
    RateLimitInfo,
    RetryableFailure,
    RetryPolicy,
    SharedBudget,
    Wait,
    call_with_retries,
    names_shared_limit,
    pacer_for,
    retry_or_raise,
)
from airflow_provider_genesys.retrypolicy import Action, Failure
from airflow_provider_genesys.settings import SAML2_BEARER_URN, GenesysSettings
from airflow_provider_genesys.transport import DeadlineExceeded, nothing_sent, send

log = logging.getLogger(__name__)
SecretCallback = Callable[[str], None]
_STATED_DELAY = re.compile(r"retry in (\d+(?:\.\d+)?) seconds?", re.IGNORECASE)
_BAD_CREDENTIALS = frozenset({"invalid_client", "unauthorized_client", "invalid_grant"})
# A 2xx without a usable token is retried (a body cut short is transient); this many in one fetch means the
# URL does not lead to Genesys' login service, which no retry fixes.
UNUSABLE_TOKEN_ANSWERS = 3
# No usable HTTP answer: refused/reset connection, timeout, or a body cut short (ChunkedEncodingError is
# what requests raises when the connection closes before Content-Length bytes arrived).
TRANSPORT_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


def transport_failure(exc: BaseException) -> str:
    """A short, secret-free description of a transport failure (the exception text may hold URLs)."""
    if isinstance(exc, DeadlineExceeded):
        return f"DeadlineExceeded ({exc})"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError | requests.exceptions.ContentDecodingError):
        return f"{type(exc).__name__} (truncated or undecodable response body)"
    return type(exc).__name__


def fingerprint(secret: str) -> str:
    """A short, irreversible name for a token (keys the pacer; safe to log)."""
    return hashlib.sha256(secret.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Token:
    """An access token and when (on the injected clock) it expires; None means unknown."""

    value: str = field(repr=False)
    expires_at: float | None = None
    lifetime: float | None = None

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.value)


class TokenSource(Protocol):
    def fetch(self) -> Token: ...


class BearerAuth(AuthBase):
    """requests auth that sends one token as `Authorization: Bearer`, without ever showing it in repr."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:
        return "BearerAuth(<token>)"


class StaticTokenSource:
    """The `access_token` grant: a token issued elsewhere; nothing can refresh it."""

    def __init__(self, settings: GenesysSettings) -> None:
        self._token = Token(settings.access_token or "")

    def fetch(self) -> Token:
        return self._token


class OAuthTokenSource:
    """POSTs to `<login base>/oauth/token` for client_credentials, saml2_bearer and refresh_token grants."""

    def __init__(
        self,
        settings: GenesysSettings,
        session: requests.Session,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        on_secret: SecretCallback | None = None,
    ) -> None:
        self._settings = settings
        self._session = session
        self._sleep = sleep
        self._clock = clock
        self._on_secret = on_secret
        self._refresh_token = settings.refresh_token  # replaced by each new one the server returns
        self._policy = RetryPolicy(
            max_attempts=settings.max_attempts,
            max_retry_time=settings.max_retry_time,
            max_retry_wait=settings.max_retry_wait,
            backoff_base=settings.backoff_base,
        )

    def form(self) -> dict[str, str]:
        """The form body of the token request for the configured grant."""
        grant = self._settings.grant_type
        if grant == "saml2_bearer":
            return {
                "grant_type": SAML2_BEARER_URN,
                "orgName": self._settings.org_name or "",
                "assertion": self._settings.saml_assertion or "",
            }
        if grant == "refresh_token":
            return {"grant_type": "refresh_token", "refresh_token": self._refresh_token or ""}
        return {"grant_type": "client_credentials"}

    def fetch(self) -> Token:
        unusable: list[str] = []  # 2xx answers without a usable token, in this fetch
        return call_with_retries(
            lambda attempt: self._attempt(attempt, unusable), self._policy, sleep=self._sleep, clock=self._clock
        )

    def _attempt(self, attempt: int, unusable: list[str] | None = None) -> Token:
        url = self._settings.token_url
        started = self._clock()
        try:
            response = send(
                self._session,
                "POST",
                url,
                data=self.form(),
                auth=HTTPBasicAuth(self._settings.client_id or "", self._settings.client_secret or ""),
                headers={"Accept": "application/json"},
                timeout=(self._settings.connect_timeout, self._settings.read_timeout),
            )
        except TRANSPORT_ERRORS as exc:
            error = GenesysCloudTransportError(
                f"{transport_failure(exc)} reaching the token endpoint {url}",
                method="POST",
                endpoint="/oauth/token",
                failure=Failure.NOT_SENT if nothing_sent(exc) else Failure.UNKNOWN_OUTCOME,
                repeatable=True,  # a second token request creates nothing but a second token
            )
            raise retry_or_raise(type(exc).__name__, error) from None
        if not response.ok:
            self._raise_for(response, json_object(response))
        problem = _unusable_token(response)
        if problem is None:
            return self._token_from(response.json(), started)
        raise self._unusable(response, problem, unusable if unusable is not None else [])

    def _unusable(self, response: requests.Response, problem: str, seen: list[str]) -> Exception:
        """A 2xx without a usable token: a cut body is transient (retry), the same answer thrice is a wrong URL.

        The message says what was wrong with the body, never what it held (it may hold a token).
        """
        seen.append(problem)
        url = self._settings.token_url
        if len(seen) >= UNUSABLE_TOKEN_ANSWERS:
            return GenesysCloudAuthError(
                f"The token endpoint {url} answered {response.status_code} without a usable access token "
                f"{len(seen)} times in a row ({'; '.join(dict.fromkeys(seen))}); check gateway_host / "
                "gateway_path_params_login point at Genesys Cloud's login service."
            )
        error = GenesysCloudTransportError(
            f"The token endpoint {url} answered {response.status_code} without a usable access token ({problem})",
            code="invalid.response",
            method="POST",
            endpoint="/oauth/token",
            correlation_id=response.headers.get("inin-correlation-id"),
            repeatable=True,
        )
        return retry_or_raise(f"{response.status_code} without a usable token", error)

    def _token_from(self, body: dict[str, Any], started: float) -> Token:
        value = str(body["access_token"])
        if self._on_secret is not None:
            self._on_secret(value)
        new_refresh = body.get("refresh_token")
        if new_refresh and self._settings.grant_type == "refresh_token":
            if self._on_secret is not None:
                self._on_secret(str(new_refresh))
            self._refresh_token = str(new_refresh)
        lifetime = _lifetime(body.get("expires_in"))
        expires_at = started + lifetime if lifetime is not None else None
        log.info("Fetched a Genesys Cloud access token (%s, expires in %s s)", fingerprint(value), lifetime)
        return Token(value, expires_at, lifetime)

    def _raise_for(self, response: requests.Response, body: dict[str, Any]) -> None:
        """Classify a failed token response: retry throttling and server trouble, fail fast on credentials."""
        status = response.status_code
        error = str(body.get("error") or "")
        description = str(body.get("error_description") or body.get("description") or response.reason or "")
        info = RateLimitInfo.from_headers(response.headers)
        # Genesys' token endpoint throttles with 400 invalid_request "rate limit exceeded" as well as 429.
        throttled = (
            status == 400 and error == "invalid_request" and description.lower().startswith("rate limit exceeded")
        )
        api_error = GenesysCloudApiError(
            status,
            error or None,
            description or "token request failed",
            method="POST",
            endpoint="/oauth/token",
            correlation_id=info.correlation_id,
            retry_after=info.retry_after,
            failure=Failure.RATE_LIMITED if throttled else None,
            repeatable=True,
        )
        if status == 429 and api_error.action is Action.CLIENT_RETRY:
            raise RetryableFailure(
                "429 token endpoint rate limited",
                api_error,
                rate_limited=True,
                server_delay=info.server_delay,
            )
        if throttled and api_error.action is Action.CLIENT_RETRY:
            # When the description says how long ("retry in 42 seconds"), wait that; else back off.
            stated = _STATED_DELAY.search(description)
            raise RetryableFailure(
                "400 token endpoint rate limited",
                api_error,
                rate_limited=stated is not None,
                server_delay=float(stated.group(1)) if stated else None,
            )
        if api_error.action is not Action.FAIL_NOW:  # 408 and gateway answers back off; 500 is for task retries
            raise retry_or_raise(f"{status} from the token endpoint", api_error)
        if status in (400, 401, 403) and error in _BAD_CREDENTIALS:
            raise GenesysCloudAuthError(self._credential_hint(status, error, description))
        raise GenesysCloudAuthError(
            f"The token endpoint {self._settings.token_url} refused the request: {status} "
            f"{error or 'error'}: {description}. {self._check_hint()}"
        )

    def _check_hint(self) -> str:
        grant = self._settings.grant_type
        if grant == "saml2_bearer":
            return (
                "Check the SAML assertion (extra saml_assertion: valid, unexpired, for org_name "
                f"{self._settings.org_name!r}) and the OAuth client id/secret."
            )
        if grant == "refresh_token":
            return (
                "Check the refresh token (extra refresh_token: it expires or is revoked; obtain a new one) "
                "and the OAuth client id/secret."
            )
        where = (
            f"the gateway {self._settings.login_base_url} leads to its organisation's login service"
            if self._settings.gateway_host
            else f"it belongs to region {self._settings.region.name} ({self._settings.login_base_url})"
        )
        return (
            "Check the OAuth client id (Login) and client secret (Password), that the client uses the "
            f"Client Credentials grant, and that {where}."
        )

    def _credential_hint(self, status: int, error: str, description: str) -> str:
        return (
            f"Genesys Cloud refused the credentials ({status} {error}: {description}) at "
            f"{self._settings.token_url}. {self._check_hint()}"
        )


def _lifetime(expires_in: Any) -> float | None:
    """Seconds a token lives, or None (unknown: kept until the API refuses it with 401).

    `expires_in` of 0 or less (or not a finite number) cannot be right for a token just issued; taking it
    literally would fetch a new token for every request, so it is treated as unknown and logged.
    """
    if expires_in is None:
        return None
    try:
        lifetime = float(expires_in)
    except (TypeError, ValueError):
        lifetime = math.nan
    if isinstance(expires_in, bool) or not math.isfinite(lifetime) or lifetime <= 0:
        log.warning(
            "The token endpoint gave expires_in %.40r, not a positive number of seconds; the token will be "
            "renewed when the API refuses it (401)",
            expires_in,
        )
        return None
    return lifetime


def _unusable_token(response: requests.Response) -> str | None:
    """Why a 2xx token answer cannot be used (without quoting it), or None when it holds a usable token."""
    try:
        body = response.json()
    except ValueError:
        return "the body is not JSON, or was cut short"
    if not isinstance(body, dict) or "access_token" not in body:
        return "no access_token in the body"
    token = body["access_token"]
    if not isinstance(token, str) or not token:
        return "access_token is not a non-empty string"
    if not token.isprintable() or any(char.isspace() for char in token):
        # It goes into an HTTP header: http.client would refuse it with an error that quotes it.
        return "access_token contains spaces, line breaks or control characters"
    return None


def json_object(response: requests.Response) -> dict[str, Any]:
    """The body as a JSON object, or {} when it is not one."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


class TokenCache:
    """Hands out a valid token; one thread fetches while the others wait (single flight)."""

    def __init__(
        self,
        source: TokenSource,
        *,
        refresh_margin: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        on_fetch: Callable[[], None] | None = None,
    ) -> None:
        self._source = source
        self._refresh_margin = refresh_margin
        self._clock = clock
        self._on_fetch = on_fetch
        self._cond = threading.Condition()
        self._token: Token | None = None
        self._fetching = False

    def _fresh(self, token: Token | None) -> bool:
        if token is None:
            return False
        if token.expires_at is None:
            return True
        margin = self._refresh_margin
        if token.lifetime is not None:
            margin = min(margin, token.lifetime / 2)  # a short-lived token still gets half its life
        return self._clock() < token.expires_at - margin

    def get(self) -> Token:
        """The cached token, or a new one if it is missing or about to expire."""
        with self._cond:
            while True:
                if self._fresh(self._token):
                    return self._token  # type: ignore[return-value]
                if not self._fetching:
                    self._fetching = True
                    break
                self._cond.wait()
        try:
            token = self._source.fetch()
            if self._on_fetch is not None:
                self._on_fetch()
        except BaseException:
            with self._cond:
                self._fetching = False
                self._cond.notify_all()
            raise
        with self._cond:
            self._token = token
            self._fetching = False
            self._cond.notify_all()
        return token

    def invalidate(self, token: Token) -> None:
        """Forget `token` after a 401, unless another thread has already replaced it."""
        with self._cond:
            if self._token is not None and self._token.value == token.value:
                self._token = None


@dataclass(frozen=True)
class Lease:
    """One request's token, taken after its pacer's wait; hand it back to `TokenPool.release`."""

    token: Token
    slot: int
    waited: float = 0.0
    pacer: Pacer | None = field(default=None, repr=False)
    permit: Permit | None = None
    shared: bool = False  # counted by the pool's SharedBudget


class TokenPool:
    """`size` tokens of one OAuth client; each request takes a token whose rate-limit window has room.

    Each token has its own cache (refreshed on its own, single flight) and its own pacer (one window per
    token, process-wide by fingerprint). Tokens are fetched when first needed: a light load uses one. With
    `size` 1, no organisation cap and pacing on, this is exactly one cache and one pacer, as before pools.
    A request's token is taken after its pacer's wait, so it never leaves with a token that expired while
    it waited; a new token's pacer starts from what the pool's pacers learned (the window's size and length),
    and with more than one token it still carries one request at a time until its first answer.
    """

    def __init__(
        self,
        source: TokenSource,
        size: int = 1,
        *,
        refresh_margin: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        on_fetch: Callable[[], None] | None = None,
        pacing: bool = True,
        max_wait: float = 180.0,
        shared: SharedBudget | None = None,
    ) -> None:
        if size < 1:
            raise ValueError(f"a token pool needs at least one token; got {size}")
        self._caches = [
            TokenCache(source, refresh_margin=refresh_margin, clock=clock, on_fetch=on_fetch) for _ in range(size)
        ]
        self._clock = clock
        self._pacing = pacing
        self._max_wait = max_wait
        self.shared = shared
        self._learned: Pacer | None = None
        self._turn = itertools.count()

    @property
    def size(self) -> int:
        return len(self._caches)

    def _pacer(self, token: Token) -> Pacer:
        pacer = pacer_for(token.fingerprint, clock=self._clock, max_wait=self._max_wait)
        learned = self._learned
        if learned is not None and not pacer.learned:
            pacer.inherit(learned)
        return pacer

    def lease(self, sleep: Callable[[float], None] = time.sleep) -> Lease:
        """Wait until some token's window and the shared budget have room; then take that token.

        Whatever a thread waited on (a window, the shared cap, a pool-wide hold, a token's fetch by itself or
        another thread), it leaves only through `_admit`, immediately before its request is sent: a hold set
        while it waited keeps it back, and a token is taken after every wait, so it never leaves with one
        that expired meanwhile.
        """
        waited = 0.0
        while True:
            lease, wait = self._try_lease(waited)
            if lease is not None:
                return lease
            if wait is not None:
                pacer, until = wait
                log.debug("Pacing: no token may send (window spent or shared limit), waiting %.1f s", until.delay)
                sleep(until.delay)
                waited += until.delay
                if pacer is not None:
                    pacer.window_passed(until.window_end)

    def _try_lease(self, waited: float) -> tuple[Lease | None, tuple[Pacer | None, Wait] | None]:
        """A lease on the first token with room, else the soonest wait (its pacer; None for the shared one)."""
        if not self._pacing:
            slot = next(self._turn) % self.size
            return self._admit(slot, self._caches[slot].get(), None, waited)
        soonest: tuple[Pacer | None, Wait] | None = None
        for slot, cache in enumerate(self._caches):
            token = cache.get()  # may wait for this slot's fetch: the gate below comes after it
            lease, wait = self._admit(slot, token, self._pacer(token), waited)
            if lease is not None:
                return lease, None
            if wait is not None and wait[0] is None:
                return None, wait  # a hold or the shared cap: no token may send
            if wait is not None and (soonest is None or wait[1].delay < soonest[1].delay):
                soonest = wait
        return None, soonest

    def _admit(
        self, slot: int, token: Token, pacer: Pacer | None, waited: float
    ) -> tuple[Lease | None, tuple[Pacer | None, Wait] | None]:
        """The one gate before a send: the shared budget (its hold, its cap), then the token's window.

        Nothing that blocks runs between it and the request going out, so no request starts during a hold
        set while its thread waited elsewhere. Until a pool token's first answer tells its window, it
        carries one request at a time (`probe`), even when it inherited the window's size.
        """
        shared = self.shared
        if shared is not None:
            delay = shared.try_enter()
            if delay > 0:
                return None, (None, Wait(-math.inf, delay))
        if pacer is None:
            return Lease(token, slot, waited, shared=shared is not None), None
        outcome = pacer.try_acquire(waited, probe=self.size > 1)
        if isinstance(outcome, Wait):
            if shared is not None:
                shared.leave(sent=False)
            return None, (pacer, outcome)
        return Lease(token, slot, waited, pacer, outcome, shared is not None), None

    def release(self, lease: Lease, info: RateLimitInfo | None, *, sent: bool = True) -> None:
        """The request ended: free its place in its token's window (learning from `info`) and the budget."""
        if lease.pacer is not None and lease.permit is not None:
            lease.pacer.release(lease.permit, info)
            if lease.pacer.learned:
                self._learned = lease.pacer
        if lease.shared and self.shared is not None:
            self.shared.leave(sent=sent)

    def invalidate(self, lease: Lease) -> None:
        """Forget the lease's token after a 401 (its slot fetches a new one), unless already replaced."""
        self._caches[lease.slot].invalidate(lease.token)

    def rate_limited(self, body: Mapping[str, Any] | None, info: RateLimitInfo, delay: float) -> None:
        """A 429: when it names a limit every token shares, hold the whole pool for `delay` seconds."""
        if self.shared is not None and names_shared_limit(body, info):
            log.info("Genesys Cloud answered 429 for a limit all tokens share; holding every token %.0f s", delay)
            self.shared.hold(delay)
