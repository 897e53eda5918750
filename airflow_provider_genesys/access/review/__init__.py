"""Access reviews (access certification), Airflow-free: every reviewer attests who can do what, revocations
go through the access engine's plan and apply, and the evidence holds up in an audit.

One job per module: ``scope`` reads what a review covers (names, users with their managers, the managed
roles' grants) into ``store``'s temporary SQLite database; ``table`` reads a reviewer table; ``assign`` gives
each item its reviewer (every problem at once); ``opening`` writes the checksummed review ``file``; ``decide``
is one reviewer's form and what an answer means; ``closing`` checks the decisions against Genesys now (the
stale rule) and writes the ``evidence`` and the desired rows the plan takes; ``evidence`` completes the
evidence with apply's report. The operators in ``operators/review.py`` are its Airflow face. Design:
docs/access.md, "Access reviews".
"""

from __future__ import annotations

from airflow_provider_genesys.access.review.closing import Closed, close_review, decisions_by_reviewer, read_current
from airflow_provider_genesys.access.review.decide import Decision, Form, decision, form
from airflow_provider_genesys.access.review.evidence import FIELDS, EvidenceWriter, Report, complete
from airflow_provider_genesys.access.review.file import Review
from airflow_provider_genesys.access.review.model import DECISIONS, OPTIONS, SCHEMA, ReviewError
from airflow_provider_genesys.access.review.opening import Opened, open_review
from airflow_provider_genesys.access.review.scope import Snapshot, read_snapshot

__all__ = [
    "DECISIONS", "FIELDS", "OPTIONS", "SCHEMA", "Closed", "Decision", "EvidenceWriter", "Form", "Opened",
    "Report", "Review", "ReviewError", "Snapshot", "close_review", "complete", "decision", "decisions_by_reviewer",
    "form", "open_review", "read_current", "read_snapshot",
]
