"""
An access review (access certification) of Genesys Cloud: every reviewer attests who holds a role, revocations
go through the access engine's plan, guardrails and apply, and the evidence holds up in an audit. One DAG run
is one campaign; give the DAG a schedule (``"0 6 1 1,4,7,10 *"``: quarterly) to make it recur.

1. ``open``: snapshots who holds the managed roles directly (optionally on some divisions) and gives each item
   a reviewer: the user's Genesys manager, or a table (``user``, ``reviewer``); users whose manager is inactive
   or missing go to the fallback reviewers. Writes the checksummed review file; asks nobody anything yet.
2. ``decide``: one human-in-the-loop task per reviewer (Airflow 3.1+), assigned to that reviewer only. They see
   their people's access as a table and answer *Keep all*, *Revoke selected* or *Revoke all*, with a
   justification (Browse -> Required Actions, or the REST API). At the deadline, unanswered items are kept.
3. ``close``: gathers every decision, refuses revocations of users whose grants changed since the snapshot,
   writes the evidence (NDJSON, CSV, a Markdown summary) and the desired table for the plan.
4. ``plan`` -> ``apply`` -> ``verify``: the access engine removes exactly the revoked grants (guardrails:
   at most ``MAX_REMOVALS``), exactly once, and waits until Genesys shows it. Clear ``close`` and what follows
   to run them again (e.g. after a guardrail stopped the plan): the new plan goes to a file of its own.
5. ``evidence``: adds what apply did to each evidence line (removed, refused and why, not applied); the
   evidence and the summary are its output Assets. It runs even when the plan was refused, and then fails.

Run against the bundled emulator, three reviewers answering through the REST API: ``python3 dev.py
review-demo``. Elsewhere: ``airflow dags trigger genesys_access_review --conf '{"review_dir":
"s3://bucket/access/reviews", "fallback_reviewers": ["iam-team@example.com"]}'`` (docs/access.md,
"Access reviews").
"""

from __future__ import annotations

from pathlib import Path

import pendulum
from airflow.sdk import Param, dag

from airflow_provider_genesys.operators.access import GenesysAccessApplyOperator, GenesysAccessPlanOperator
from airflow_provider_genesys.operators.review import (
    GenesysAccessReviewCloseOperator,
    GenesysAccessReviewDecisionOperator,
    GenesysAccessReviewEvidenceOperator,
    GenesysAccessReviewOpenOperator,
)
from airflow_provider_genesys.sensors.access import GenesysAccessVerifySensor

# The project's demo_output folder (this file lives in <project>/dags_examples/); point review_dir at your storage.
DEFAULT_DIR = Path(__file__).resolve().parents[1] / "demo_output" / "review"
MANAGED_ROLES = ["Supervisor"]  # the roles whose direct grants are reviewed (and only those can change)
MAX_REMOVALS = 25  # more revocations than this stop at the plan, naming the rule (the evidence keeps them all)
REVIEW = "{{ params.review_dir }}/{{ run_id }}.review.ndjson"
# A plan per try: clearing close and what follows re-plans (and re-applies) into a new file beside the first.
PLAN_PATH = "{{ params.review_dir }}/{{ run_id }}.plan-{{ ti.try_number }}.json"
PLAN = "{{ ti.xcom_pull(task_ids='plan')['plan'] }}"
PLAN_MADE = "{{ (ti.xcom_pull(task_ids='plan') or {}).get('plan', '') }}"  # empty when the plan was refused


@dag(
    dag_id="genesys_access_review",
    schedule=None,
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    render_template_as_native_obj=True,  # list params (divisions, fallback reviewers) reach the operators as lists
    tags=["genesys", "access", "review", "example"],
    params={
        "review_dir": Param(str(DEFAULT_DIR), type="string",
                            description="Where the review, its evidence, summary and plan go (path or URL)."),
        "reviewers": Param("manager", type="string", description=(
            "'manager' (each user's Genesys manager) or a CSV/NDJSON table of user, reviewer (path or URL).")),
        "fallback_reviewers": Param([], type="array", description=(
            "Emails (or ids) of who reviews users without an active manager; they answer together.")),
        "divisions": Param(None, type=["null", "array"], description=(
            "Only grants on these divisions (names or ids; '*' for all-division grants); empty: every division.")),
        "response_timeout": Param("14d", type="string", description="How long reviewers have: 14d, 36h, 90m ..."),
    },
)
def genesys_access_review() -> None:
    opened = GenesysAccessReviewOpenOperator(
        task_id="open",
        managed_roles=MANAGED_ROLES,
        divisions="{{ params.divisions }}",
        reviewers="{{ params.reviewers }}",
        fallback_reviewers="{{ params.fallback_reviewers }}",
        response_timeout="{{ params.response_timeout }}",
        review_path=REVIEW,
    )
    decide = GenesysAccessReviewDecisionOperator.partial(task_id="decide").expand_kwargs(opened.output)
    close = GenesysAccessReviewCloseOperator(task_id="close", review=REVIEW, decisions=decide.output)
    plan = GenesysAccessPlanOperator(
        task_id="plan",
        relation="grants",
        mode="sync",
        rows=close.output["rows"],
        managed_roles=close.output["managed_roles"],
        removable=close.output["revoked"],  # the revocations alone: nothing else is removed
        plan_path=PLAN_PATH,
        max_removals=MAX_REMOVALS,
    )
    apply = GenesysAccessApplyOperator(task_id="apply", plan=PLAN)
    verify = GenesysAccessVerifySensor(task_id="verify", plan=PLAN, timeout=900, mode="reschedule", poke_interval=30)
    evidence = GenesysAccessReviewEvidenceOperator(task_id="evidence", review=REVIEW, plan=PLAN_MADE)
    plan >> apply >> verify >> evidence


genesys_access_review()
