"""OAuth: the four grants, and a token cache that refreshes before expiry and after a 401 (single flight).

Genesys' Python SDK never refreshes client-credentials tokens, so long-running users hit 401 after a day;
here the cache refreshes `token_refresh_margin` before expiry and single-flights the fetch across threads.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import requests
from requests.auth import AuthBase, HTTPBasicAuth

from airflow_provider_genesys.exceptions import (
    GenesysCloudApiError,
    GenesysCloudAuthError,
    GenesysCloudTransportError,
)
from airflow_provider_genesys.ratelimit import RateLimitInfo, RetryableFailure, RetryPolicy, call_with_retries
from airflow_provider_genesys.settings import SAML2_BEARER_URN, GenesysSettings
from airflow_provider_genesys.transport import DeadlineExceeded, send

log = logging.getLogger(__name__)
SecretCallback = Callable[[str], None]
_STATED_DELAY = re.compile(r"retry in (\d+(?:\.\d+)?) seconds?", re.IGNORECASE)
_BAD_CREDENTIALS = frozenset({"invalid_client", "unauthorized_client", "invalid_grant"})
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
        return call_with_retries(self._attempt, self._policy, sleep=self._sleep, clock=self._clock)

    def _attempt(self, attempt: int) -> Token:
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
            )
            raise RetryableFailure(type(exc).__name__, error) from None
        body = _json_or_empty(response)
        if response.ok and body.get("access_token"):
            return self._token_from(body, started)
        self._raise_for(response, body)
        raise GenesysCloudAuthError(  # a 2xx without a token
            f"The token endpoint {url} answered {response.status_code} without an access_token; "
            "check gateway_host / gateway_path_params_login point at Genesys Cloud's login service."
        )

    def _token_from(self, body: dict[str, Any], started: float) -> Token:
        value = str(body["access_token"])
        if self._on_secret is not None:
            self._on_secret(value)
        new_refresh = body.get("refresh_token")
        if new_refresh and self._settings.grant_type == "refresh_token":
            if self._on_secret is not None:
                self._on_secret(str(new_refresh))
            self._refresh_token = str(new_refresh)
        try:
            lifetime: float | None = float(body.get("expires_in"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            lifetime = None
        expires_at = started + lifetime if lifetime is not None else None
        log.info("Fetched a Genesys Cloud access token (%s, expires in %s s)", fingerprint(value), lifetime)
        return Token(value, expires_at, lifetime)

    def _raise_for(self, response: requests.Response, body: dict[str, Any]) -> None:
        """Classify a failed token response: retry throttling and server trouble, fail fast on credentials."""
        status = response.status_code
        error = str(body.get("error") or "")
        description = str(body.get("error_description") or body.get("description") or response.reason or "")
        info = RateLimitInfo.from_headers(response.headers)
        api_error = GenesysCloudApiError(
            status,
            error or None,
            description or "token request failed",
            method="POST",
            endpoint="/oauth/token",
            correlation_id=info.correlation_id,
            retry_after=info.retry_after,
        )
        if status == 429:
            raise RetryableFailure(
                "429 token endpoint rate limited",
                api_error,
                rate_limited=True,
                server_delay=info.server_delay,
            )
        if (
            status == 400
            and error == "invalid_request"
            and description.lower().startswith("rate limit exceeded")
        ):
            # When the description says how long ("retry in 42 seconds"), wait that; else back off.
            stated = _STATED_DELAY.search(description)
            raise RetryableFailure(
                "400 token endpoint rate limited",
                api_error,
                rate_limited=stated is not None,
                server_delay=float(stated.group(1)) if stated else None,
            )
        if status >= 500 or status == 408:
            raise RetryableFailure(f"{status} from the token endpoint", api_error)
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


def _json_or_empty(response: requests.Response) -> dict[str, Any]:
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
