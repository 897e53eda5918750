"""Access engine: keep who-can-do-what in Genesys equal to a table (grants, group and queue members,
user state, ...), as a plan people review. Airflow-free; the access operators are its Airflow face.

Each relation is one module of ``relations/`` (registered in ``registry``); the stages, one job each, speak
only to its interface: ``desired`` reads the table (CSV, NDJSON, rows, SQL rows) as a stream; ``names``
resolves names to ids; ``state`` models the current state from API payloads; ``diff`` computes the
changes (pure); ``guardrails`` refuses dangerous plans; ``plan`` is the artifact and its summary;
``planner`` puts them together; ``apply`` and ``ledger`` make the writes exactly once. Design: docs/access.md.
"""

from __future__ import annotations

from airflow_provider_genesys.access import relations  # noqa: F401  (registers every relation)
from airflow_provider_genesys.access.desired import DesiredRow, read_file, read_rows, read_sql
from airflow_provider_genesys.access.diff import Change, Diff, Scope, diff
from airflow_provider_genesys.access.errors import (
    DesiredTableError,
    GenesysAccessError,
    GuardrailError,
    PlanError,
    UnresolvedNamesError,
)
from airflow_provider_genesys.access.guardrails import Guardrails, Protected, check_plan_age
from airflow_provider_genesys.access.names import Directory, NameIndex, UserIndex
from airflow_provider_genesys.access.plan import Plan, dumps, loads, summary
from airflow_provider_genesys.access.planner import plan_access
from airflow_provider_genesys.access.registry import RELATIONS
from airflow_provider_genesys.access.state import CurrentState

__all__ = [
    "RELATIONS", "Change", "CurrentState", "DesiredRow", "DesiredTableError", "Diff", "Directory",
    "GenesysAccessError", "GuardrailError", "Guardrails", "NameIndex", "Plan", "PlanError", "Protected",
    "Scope", "UnresolvedNamesError", "UserIndex", "check_plan_age", "diff", "dumps", "loads", "plan_access",
    "read_file", "read_rows", "read_sql", "summary",
]
