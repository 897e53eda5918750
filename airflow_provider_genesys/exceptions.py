"""Errors raised by the provider: structured so callers can act on them, and free of secrets.

Every error carries only what the API told us (status, code, message, correlation id) and what we did
(method, endpoint, attempts). Tokens, client secrets, assertions and refresh tokens never reach them.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_genesys.retrypolicy import Action, Failure, action, calls_of, failure_of


class GenesysCloudError(Exception):
    """Base class of every error this provider raises."""


class GenesysCloudConfigError(GenesysCloudError, ValueError):
    """The connection is wrong; the message names the field and how to fix it. Never retried."""


class GenesysCloudRedirectError(GenesysCloudConfigError):
    """A redirect we refuse to follow (off the API origin, or any on a token request); nothing was sent
    there. The message names where it pointed (scheme, host, port only). Never retried."""


class GenesysCloudAuthError(GenesysCloudError):
    """The token endpoint refused the credentials (client id/secret, assertion, refresh token)."""


class GenesysCloudApiError(GenesysCloudError):
    """A non-2xx answer from the Platform API, kept structured so callers can branch on `.status`.

    `failure` is what went wrong as the retry policy (retrypolicy.py) sees it, from `status` unless given;
    `repeatable` says the caller declared a POST/PATCH safe to send twice (retry_non_idempotent, a token
    request). Together with `method` they pick the policy's cell: `.action` and `.retryable`.
    """

    def __init__(
        self,
        status: int | None,
        code: str | None,
        message: str,
        *,
        correlation_id: str | None = None,
        method: str | None = None,
        endpoint: str | None = None,
        attempts: int = 1,
        retry_after: float | None = None,
        details: Any = None,
        summary: str | None = None,
        failure: Failure | None = None,
        repeatable: bool = False,
        once: bool = False,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.correlation_id = correlation_id
        self.method = method
        self.endpoint = endpoint
        self.attempts = attempts
        self.retry_after = retry_after
        self.details = details
        # Why the retries ended, e.g. "gave up after 10 attempts over 62 s: 9x 429 rate limited".
        self.summary = summary
        self.failure = failure if failure is not None else failure_of(status)
        self.repeatable = repeatable
        self.once = once
        super().__init__(status, code, message)

    @property
    def action(self) -> Action:
        """What the retry policy does after this error (the client's retries, if any, are behind it)."""
        return action(self.failure, calls_of(self.method, self.repeatable, self.once))

    @property
    def retryable(self) -> bool:
        """True when Airflow's task retries may help: the policy does not say fail now."""
        return self.action is not Action.FAIL_NOW

    def __str__(self) -> str:
        where = " ".join(part for part in (self.method, self.endpoint) if part) or "request"
        what = " ".join(str(part) for part in (self.status, self.code) if part is not None)
        head = f"{where} failed: {what}: {self.message}" if what else f"{where} failed: {self.message}"
        notes = []
        if self.correlation_id:
            notes.append(f"correlation id {self.correlation_id}")
        notes.append(self.summary or f"{self.attempts} attempt{'s' if self.attempts != 1 else ''}")
        return f"{head} ({'; '.join(notes)})"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.status!r}, {self.code!r}, {self.message!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only fields travel in the state dict, so Airflow can pickle the error across processes.
        return (type(self), (self.status, self.code, self.message), self.__dict__.copy())

    def with_attempts(self, attempts: int, summary: str | None = None) -> GenesysCloudApiError:
        """Record how many attempts were made before this error became final."""
        self.attempts = attempts
        if summary is not None:
            self.summary = summary
        return self


class GenesysCloudTransportError(GenesysCloudApiError):
    """Connection refused/reset, timeout or a truncated body: no usable HTTP answer (`status` is None)."""

    def __init__(self, message: str, **kwargs: Any) -> None:
        code = kwargs.pop("code", "transport.error")
        super().__init__(None, code, message, **kwargs)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.message,), self.__dict__.copy())
