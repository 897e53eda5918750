"""
Ops automation from data: keep who holds a role in Genesys Cloud equal to a table, with a plan people read,
an approval, and an apply that is safe to kill and rerun.

1. ``plan``: reads the desired table (CSV: ``subject``, ``subject_type``, ``role``, ``division``) and the
   org's current grants, checks the guardrails (at most ``MAX_REMOVALS`` people losing access, protected
   subjects, the org's admins; a run loosens one with conf, e.g. ``{"max_removals": 300}``), writes the plan
   JSON to ``{plan_dir}/{run_id}.json`` and returns its path and a Markdown summary. It never writes to
   Genesys.
2. ``approve``: Airflow's ``ApprovalOperator`` (Airflow 3.1+) shows the summary in the UI's Required
   Actions (or answer through the REST API: ``PATCH .../taskInstances/approve/-1/hitlDetails``).
   ``Reject``, or no answer within a day, skips apply and verify: nothing is written.
3. ``apply``: applies the approved plan exactly once (a ledger next to the plan; a retry or rerun skips what
   is done), refusing subjects whose grants changed since the plan.
4. ``verify``: waits until every applied change shows in Genesys' reads (permission changes can take
   minutes), then succeeds; or fails listing what is not visible.

On Airflow 3.0 (no human-in-the-loop operator) this DAG only plans; apply a reviewed plan in a later run
of your own DAG with ``GenesysAccessApplyOperator(plan=<its path>)`` (docs/access.md).

Run against the bundled emulator, approval included: ``python3 dev.py access-demo``. Elsewhere:
``airflow dags test genesys_access_sync --conf '{"desired": "s3://bucket/access/desired.csv",
"plan_dir": "s3://bucket/access/plans"}'`` and approve in the UI.
"""

from __future__ import annotations

import inspect
from datetime import timedelta
from pathlib import Path

import pendulum
from airflow.sdk import Param, dag

from airflow_provider_genesys.operators.access import GenesysAccessApplyOperator, GenesysAccessPlanOperator
from airflow_provider_genesys.sensors.access import GenesysAccessVerifySensor

try:
    from airflow.providers.standard.operators.hitl import ApprovalOperator, HITLOperator
except ImportError:  # Airflow 3.0: no human-in-the-loop operators
    ApprovalOperator = HITLOperator = None  # type: ignore[assignment,misc]

# How long the approval waits: `response_timeout` in newer standard providers; before it (Airflow 3.1's),
# `execution_timeout` bounded the wait.
APPROVAL_WAIT = timedelta(days=1)
WAIT_ARGUMENT = (
    "response_timeout"
    if HITLOperator is not None and "response_timeout" in inspect.signature(HITLOperator.__init__).parameters
    else "execution_timeout"
)

# The project's demo_output folder (this file lives in <project>/dags_examples/); dev.py access-demo writes
# the desired table there. Point the params at your own storage.
DEFAULT_BASE = Path(__file__).resolve().parents[1] / "demo_output" / "access"
MANAGED_ROLES = ["Supervisor"]  # only grants of these roles are ever added or removed
MAX_REMOVALS = 25  # people losing access (a group's grant: each member) past this fail the plan
PLAN = "{{ ti.xcom_pull(task_ids='plan')['plan'] }}"


@dag(
    dag_id="genesys_access_sync",
    schedule=None,
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["genesys", "ops", "access", "example"],
    params={
        "desired": Param(str(DEFAULT_BASE / "desired.csv"), type="string",
                         description="The desired table: a CSV path or URL (s3://, gs://, file://...)."),
        "plan_dir": Param(str(DEFAULT_BASE / "plans"), type="string",
                          description="Where the plan, its ledger and report go (path or URL)."),
        # The guardrails, so that one run can loosen a rule that refused its plan: trigger it with conf, e.g.
        # {"max_removals": 300}. The defaults are what an unattended run accepts.
        "max_removals": Param(MAX_REMOVALS, type=["integer", "null"], minimum=0,
                              description="At most this many people lose access (null: no limit)."),
        "max_removal_fraction": Param(0.2, type=["number", "null"], minimum=0, maximum=1,
                                      description="At most this share of what people hold in scope is removed."),
        "min_admins": Param(2, type="integer", minimum=0,
                            description="Roles with * permissions keep at least this many active holders."),
    },
)
def genesys_access_sync() -> None:
    plan = GenesysAccessPlanOperator(
        task_id="plan",
        relation="grants",
        desired="{{ params.desired }}",
        plan_path="{{ params.plan_dir }}/{{ run_id }}.json",
        managed_roles=MANAGED_ROLES,
        max_removals="{{ params.max_removals }}",
        max_removal_fraction="{{ params.max_removal_fraction }}",
        min_admins="{{ params.min_admins }}",
    )
    if ApprovalOperator is None:
        return
    approve = ApprovalOperator(
        task_id="approve",
        subject="Genesys access changes",
        body="{{ ti.xcom_pull(task_ids='plan')['summary'] }}",
        defaults="Reject",  # no answer within the timeout: nothing is applied
        **{WAIT_ARGUMENT: APPROVAL_WAIT},
    )
    apply = GenesysAccessApplyOperator(task_id="apply", plan=PLAN)
    verify = GenesysAccessVerifySensor(task_id="verify", plan=PLAN, timeout=900, mode="reschedule",
                                       poke_interval=30)
    plan >> approve >> apply >> verify


genesys_access_sync()
