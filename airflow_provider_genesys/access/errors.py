"""The access engine's errors: bad input, unknown names, a guardrail that fired, a plan refused.

All are :class:`GenesysAccessError`, a :class:`GenesysCloudError`; the operators turn them into
``AirflowFailException`` (a retry cannot fix the input). Each message says what to fix. Nothing is written
to Genesys when one is raised: they all come from reading the table, planning or loading a plan.
"""

from __future__ import annotations

from collections.abc import Sequence

from airflow_provider_genesys.exceptions import GenesysCloudError

# How many offending rows a message lists before "... and N more" (the exception keeps them all).
LISTED = 50


class GenesysAccessError(GenesysCloudError):
    """Base of the access engine's errors: the input (table, scope, plan) is wrong; never retried."""


class DesiredTableError(GenesysAccessError, ValueError):
    """The desired table cannot be read: missing columns, an empty file, a malformed line or value."""


class UnresolvedNamesError(DesiredTableError):
    """Rows name users, roles, divisions, groups or queues that do not exist (or match several), hold a value
    the relation does not accept, or contradict another row.

    ``problems`` holds one line per offending row, all of them, not only the first.
    """

    def __init__(self, problems: Sequence[str], what: str = "name something Genesys does not have") -> None:
        self.problems = list(problems)
        super().__init__(
            f"{len(self.problems)} row(s) of the desired table {what} "
            f"(fix or remove these rows, nothing was changed):\n{listing(self.problems)}"
        )


class GuardrailError(GenesysAccessError):
    """One or more guardrails refused the plan; ``violations`` says which rule, the numbers and the override."""

    def __init__(self, violations: Sequence[str]) -> None:
        self.violations = list(violations)
        super().__init__(
            f"The plan was refused by {len(self.violations)} guardrail(s); nothing was changed:\n"
            + listing(self.violations)
        )


class PlanError(GenesysAccessError):
    """A plan file cannot be used: edited by hand, from another org, of an unknown schema, or too old."""


def listing(lines: Sequence[str], limit: int = LISTED) -> str:
    """``- line`` per entry, at most ``limit`` of them, then how many more there are."""
    shown = [f"- {line}" for line in lines[:limit]]
    if len(lines) > limit:
        shown.append(f"- ... and {len(lines) - limit} more")
    return "\n".join(shown)
