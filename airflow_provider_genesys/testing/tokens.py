"""Access and refresh tokens: issue, validate, expire, revoke, and throttle their creation."""

from __future__ import annotations

import os
import secrets
import threading
from dataclasses import dataclass

from airflow_provider_genesys.testing.clock import Clock
from airflow_provider_genesys.testing.errors import ApiError, OAuthError
from airflow_provider_genesys.testing.ratelimit import FixedWindowLimiter

# When set, every secret the emulator holds or hands out (its client secret, each access and refresh token) is
# appended to this file as ``<kind>\t<value>`` lines, so a test run's output can be scanned for all of them
# (tests/compat/scan.py). Nothing on the wire changes; unset, nothing is written.
SECRETS_FILE_ENV = "GENESYS_EMULATOR_SECRETS_FILE"
_record_lock = threading.Lock()


def record_secret(kind: str, value: str) -> None:
    """Append ``value`` to the file named by ``GENESYS_EMULATOR_SECRETS_FILE``, if that variable is set."""
    path = os.environ.get(SECRETS_FILE_ENV)
    if not path:
        return
    with _record_lock, open(path, "a", encoding="utf-8") as file:
        file.write(f"{kind}\t{value}\n")


@dataclass(frozen=True)
class Token:
    value: str
    grant_type: str
    issued_at: float
    expires_at: float
    user_id: str | None = None  # the user behind a user token (SAML2 bearer, authorization code); None: a client's


class TokenStore:
    """Tokens live only in memory; ``revoke_all`` makes every API call answer 401 until a new token."""

    def __init__(self, clock: Clock, ttl: int, creation_limit: int | None, window: float) -> None:
        if ttl < 1:
            raise ValueError(f"token_ttl must be at least 1 second; got {ttl}")
        self._clock = clock
        self.ttl = ttl
        self._tokens: dict[str, Token] = {}
        self._refresh: dict[str, str | None] = {}  # refresh token -> the user of the token it came with
        self._lock = threading.Lock()
        self._creation = FixedWindowLimiter(creation_limit, window, clock) if creation_limit else None

    def issue(
        self, grant_type: str, *, with_refresh: bool = False, throttle: bool = True, user_id: str | None = None
    ) -> dict[str, object]:
        """Create a token (a user token when ``user_id`` is given) and return the token endpoint's JSON answer."""
        if throttle and self._creation is not None:
            decision = self._creation.hit("token-endpoint")
            if not decision.allowed:
                raise OAuthError(
                    "invalid_request", f"rate limit exceeded; retry in {decision.reset} seconds", status=400
                )
        now = self._clock.now()
        token = Token(secrets.token_urlsafe(32), grant_type, now, now + self.ttl, user_id)
        answer: dict[str, object] = {
            "access_token": token.value,
            "token_type": "bearer",
            "expires_in": self.ttl,
        }
        record_secret("access_token", token.value)
        with self._lock:
            self._tokens[token.value] = token
            if with_refresh:
                refresh = secrets.token_urlsafe(32)
                self._refresh[refresh] = user_id
                answer["refresh_token"] = refresh
        if with_refresh:
            record_secret("refresh_token", str(answer["refresh_token"]))
        return answer

    def refresh(self, refresh_token: str) -> dict[str, object]:
        """Exchange a refresh token (single use: it rotates) for a new access and refresh token."""
        with self._lock:
            known = refresh_token in self._refresh
            user_id = self._refresh.pop(refresh_token, None)
        if not known:
            raise OAuthError("invalid_grant", "invalid refresh token")
        return self.issue("refresh_token", with_refresh=True, user_id=user_id)

    def check(self, authorization: str | None) -> Token:
        """Validate an ``Authorization: Bearer`` header as Genesys does (401 with its codes)."""
        if not authorization or not authorization.lower().startswith("bearer "):
            raise ApiError(
                401,
                "authentication.required",
                "No authentication bearer token specified in authorization header.",
            )
        with self._lock:
            token = self._tokens.get(authorization[7:].strip())
        if token is None:
            raise ApiError(401, "bad.credentials", "Invalid login credentials.")
        if self._clock.now() >= token.expires_at:
            raise ApiError(
                401, "credentials.expired", "The supplied credentials are expired and cannot be used."
            )
        return token

    def revoke_all(self) -> int:
        with self._lock:
            count = len(self._tokens)
            self._tokens.clear()
            self._refresh.clear()
            return count
