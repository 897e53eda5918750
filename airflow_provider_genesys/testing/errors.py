"""Genesys' error bodies: the Platform API's ErrorBody and the login service's OAuth error."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """Raised by endpoint code; the server turns it into Genesys' ErrorBody with the right status."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: dict[str, str] | None = None,
        limit: dict[str, object] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.limit = limit  # ErrorBody.limit: which limit refused the request (namespace, key, value)


class OAuthError(Exception):
    """Raised by the token endpoint; rendered as ``{"error", "description", "error_description"}``."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description

    def body(self) -> dict[str, str]:
        return {"error": self.error, "description": self.description, "error_description": self.description}


def bad_request(message: str) -> ApiError:
    return ApiError(400, "bad.request", message)


def not_found(message: str) -> ApiError:
    return ApiError(404, "not.found", message)


def stale_version(mode: str, entity: str, sent: object, current: int) -> ApiError:
    """A write sent with an outdated ``version``: 409, or 400 with the message Genesys' Terraform provider
    recognises (``mode`` is the ``version_conflict`` option)."""
    message = f"The version {sent} of {entity} does not match the current version {current}."
    return ApiError(409, "conflict", message) if mode == "409" else bad_request(message)


def concurrent_change(mode: str, entity: str) -> ApiError:
    """A write refused because another change to the same entity is still being applied: Genesys' user
    version moved underneath it (``mode`` is the ``version_conflict`` option: 409, or the 400 whose message
    Genesys' Terraform provider retries on)."""
    message = (f"The version of {entity} does not match the current version: another change to it is still "
               "being applied. Retry the request.")
    return ApiError(409, "conflict", message) if mode == "409" else bad_request(message)


def error_body(
    status: int, code: str, message: str, correlation_id: str, limit: dict[str, object] | None = None
) -> dict[str, Any]:
    """The ErrorBody every non-2xx Platform API answer carries (fields as in Genesys' models)."""
    body: dict[str, Any] = {
        "message": message,
        "code": code,
        "status": status,
        "messageWithParams": message,
        "messageParams": {},
        "contextId": correlation_id,
        "details": [],
        "errors": [],
    }
    if limit is not None:
        body["limit"] = limit
    return body


def rate_limited(retry_after: int, limit: dict[str, object] | None = None) -> ApiError:
    """The normalised 429 Genesys serves since November 2021 (with ``limit`` when the emulator names it)."""
    return ApiError(
        429,
        "too.many.requests.retry.after",
        f"Rate limit exceeded the maximum. Retry the request in [{retry_after}] seconds",
        {"Retry-After": str(retry_after)},
        limit,
    )
