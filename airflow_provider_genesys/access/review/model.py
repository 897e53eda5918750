"""What every stage of an access review shares: the decisions, the answers a reviewer can give, the error.

A review's **item** is one direct grant (user, role, division) of a managed role at the snapshot. Each item
has one **reviewer**: a Genesys user (the user's manager, or the reviewer a table names) or the fallback
reviewers together (any one of them answers for all). A reviewer's answer is one of :data:`OPTIONS`, with the
items to revoke and a justification; an item nobody answered for gets the review's ``default_decision``.
"""

from __future__ import annotations

from airflow_provider_genesys.access.errors import GenesysAccessError

SCHEMA = "genesys-access-review/1"
KEEP, REVOKE = "keep", "revoke"
DECISIONS = (KEEP, REVOKE)
# The answers a reviewer chooses between (the decision task's options); the first keeps everything.
KEEP_ALL, REVOKE_SELECTED, REVOKE_ALL = "Keep all", "Revoke selected", "Revoke all"
OPTIONS = (KEEP_ALL, REVOKE_SELECTED, REVOKE_ALL)
DEFAULT_OPTION = {KEEP: KEEP_ALL, REVOKE: REVOKE_ALL}  # what the response timeout chooses
FALLBACK = "fallback"  # the reviewer key of the fallback reviewers (one task, any of them answers)
MANAGER = "manager"


class ReviewError(GenesysAccessError, ValueError):
    """The review cannot be opened, answered or closed as asked: the message says what to fix. Raised before
    anything is asked of anyone (opening) or changed in Genesys (closing)."""


def default_decision(value: str) -> str:
    """``keep`` or ``revoke``; anything else is an error saying so."""
    if value not in DECISIONS:
        raise ReviewError(f"default_decision={value!r} is not valid: use 'keep' (the default) or 'revoke' "
                          "(unanswered items are then revoked, still under the plan's guardrails)")
    return value


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def seconds(value: object, name: str = "response_timeout") -> float:
    """A duration as seconds: a ``timedelta``, a number of seconds, or text such as ``"14d"``, ``"36h"``,
    ``"90m"``, ``"45s"`` or ``"3600"`` (what a template renders); it must be positive."""
    total: float | None = None
    if hasattr(value, "total_seconds"):
        total = float(value.total_seconds())  # type: ignore[attr-defined]
    elif isinstance(value, int | float) and not isinstance(value, bool):
        total = float(value)
    elif isinstance(value, str) and value.strip():
        text = value.strip().lower()
        unit = _UNITS.get(text[-1]) if text[-1].isalpha() else 1
        try:
            total = float(text[:-1] if text[-1].isalpha() else text) * unit if unit else None
        except ValueError:
            total = None
    if total is None or total <= 0:
        raise ReviewError(f"{name}={value!r} is not a duration: give a timedelta, seconds, or text like '14d', "
                          "'36h', '90m', '45s'")
    return total
