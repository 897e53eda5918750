"""The retry policy, written once: what went wrong x what kind of call -> who tries again, if anyone.

Three places act on it and all read :data:`POLICY`: the client's retry predicate (``client.py`` and the
token fetch in ``auth.py`` raise ``RetryableFailure`` only for ``CLIENT_RETRY``),
``GenesysCloudApiError.retryable`` (``exceptions.py``) and, through it, the operators' and sensors' fail-fast
mapping (``api_errors_as_failures`` in ``hooks/genesys.py``). docs/connection.md shows
:func:`markdown_table`, checked by a test. Why each cell is what it is: docs/decisions.md ("What is
retried"). Imports nothing: the core and the docs test read it alike.
"""

from __future__ import annotations

from enum import Enum

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


class Action(str, Enum):
    """What happens after a failure."""

    CLIENT_RETRY = "client retry"
    """The client backs off and sends again within its budget (``max_attempts``, ``max_retry_time``); when
    the budget is spent the error is retryable, so Airflow's task retries may try later."""
    TASK_RETRY = "task retry"
    """Not sent again by the client; the error is retryable, so Airflow's task retries apply."""
    FAIL_NOW = "fail now"
    """Not retried at all: operators and sensors fail the task with ``AirflowFailException``."""


class Calls(str, Enum):
    """The kind of call that failed: whether sending it twice can do harm."""

    IDEMPOTENT = "GET, HEAD, OPTIONS, PUT, DELETE"
    REPEATABLE = "POST/PATCH with retry_non_idempotent (a query that only reads), token requests"
    WRITE = "POST/PATCH (a write)"


class Failure(str, Enum):
    """What went wrong, as far as it decides whether the request may have been processed."""

    RATE_LIMITED = "429 (or the token endpoint's 400 rate limit exceeded)"
    NOT_SENT = "nothing reached the server: connection refused, name not resolved, connect timeout"
    UNKNOWN_OUTCOME = "408, 502, 503, 504, read timeout, connection reset, body cut short or not JSON"
    SERVER_ERROR = "500 and any other 5xx"
    UNAUTHORIZED = "401 after one token refresh and replay"
    REFUSED = "any other status (400, 403, 404, 409, ...)"


_C, _T, _F = Action.CLIENT_RETRY, Action.TASK_RETRY, Action.FAIL_NOW

#: The policy. Columns: Calls.IDEMPOTENT, Calls.REPEATABLE, Calls.WRITE.
POLICY: dict[Failure, tuple[Action, Action, Action]] = {
    # Genesys did not process a 429, so it is safe to resend whatever the method.
    Failure.RATE_LIMITED: (_C, _C, _C),
    # Nothing was sent: safe to send, whatever the method.
    Failure.NOT_SENT: (_C, _C, _C),
    # The server may have acted on it: resend only what is harmless twice; a write's outcome must be
    # checked (read back) by a person or the DAG before it is sent again.
    Failure.UNKNOWN_OUTCOME: (_C, _C, _F),
    # A server bug: sending the same request at once tends to fail the same way (Genesys' SDKs do not
    # retry it); a later task retry may find it fixed, unless the call was a write that may have half-applied.
    Failure.SERVER_ERROR: (_T, _T, _F),
    # A freshly issued token refused too (the client already renewed and replayed once): roles or revocation.
    Failure.UNAUTHORIZED: (_F, _F, _F),
    # The request itself is wrong or not allowed: the same request gets the same answer.
    Failure.REFUSED: (_F, _F, _F),
}
_COLUMNS = (Calls.IDEMPOTENT, Calls.REPEATABLE, Calls.WRITE)

# 408 Request Timeout and the gateway answers: the request may or may not have reached Genesys' service.
_UNKNOWN_OUTCOME_STATUSES = frozenset({408, 502, 503, 504})


def calls_of(method: str | None, repeatable: bool = False, once: bool = False) -> Calls:
    """The kind of call: an unknown method counts as a write (the safe assumption), and so does any call the
    caller sends ``once`` (it settles an unknown outcome itself, as the access engine's ledger does)."""
    if once:
        return Calls.WRITE
    if method is not None and method.upper() in IDEMPOTENT_METHODS:
        return Calls.IDEMPOTENT
    return Calls.REPEATABLE if repeatable else Calls.WRITE


def failure_of(status: int | None) -> Failure:
    """The failure an HTTP status (None: no usable answer, the request may have been sent) stands for."""
    if status is None or status in _UNKNOWN_OUTCOME_STATUSES:
        return Failure.UNKNOWN_OUTCOME
    if status == 429:
        return Failure.RATE_LIMITED
    if status == 401:
        return Failure.UNAUTHORIZED
    if status >= 500:
        return Failure.SERVER_ERROR
    return Failure.REFUSED


def action(failure: Failure, calls: Calls) -> Action:
    """The table's cell."""
    return POLICY[failure][_COLUMNS.index(calls)]


def markdown_table() -> str:
    """The policy as the Markdown table docs/connection.md shows (a test keeps the two equal)."""
    lines = [
        "| failure | " + " | ".join(calls.value for calls in _COLUMNS) + " |",
        "|---" * (len(_COLUMNS) + 1) + "|",
    ]
    for failure, cells in POLICY.items():
        lines.append(f"| {failure.value} | " + " | ".join(cell.value for cell in cells) + " |")
    return "\n".join(lines)


__all__ = ["IDEMPOTENT_METHODS", "POLICY", "Action", "Calls", "Failure", "action", "calls_of", "failure_of"]
