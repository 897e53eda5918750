"""
Agents' routing skills and languages kept equal to a WFM/HR export, with one approval for both.

1. ``plan_skills`` and ``plan_languages``: read the export's two tables (CSV: ``user``, ``skill``,
   ``proficiency`` and ``user``, ``language``, ``proficiency``; users by email or id, skills and languages by
   name or id, proficiency 0-5) and each agent's current skills and languages, check the guardrails (at most
   ``MAX_REMOVALS`` skills or languages taken away per table; a run loosens one with conf, e.g.
   ``{"max_removals": 300}``), write each plan JSON under ``{plan_dir}`` and return its path and a Markdown
   summary. They never write to Genesys. The skills (languages) a plan manages are those its table names:
   an agent holding one of them that the table does not give it loses it; others are left alone.
2. ``approve``: Airflow's ``ApprovalOperator`` (Airflow 3.1+) shows both summaries in the UI's Required
   Actions (or answer through the REST API: ``PATCH .../taskInstances/approve/-1/hitlDetails``). ``Reject``,
   or no answer within a day, skips every apply and verify: nothing is written.
3. ``apply_skills`` and ``apply_languages``: apply each approved plan exactly once (a ledger next to the
   plan; a retry or rerun skips what is done), refusing agents whose skills (languages) changed since the
   plan. A changed proficiency is one update; each agent changed costs one bulk write (plus, for
   languages, one per removal).
4. ``verify_skills`` and ``verify_languages``: wait until every applied change shows in Genesys' reads.

On Airflow 3.0 (no human-in-the-loop operator) this DAG only plans; apply reviewed plans in a later run of
your own DAG with ``GenesysAccessApplyOperator(plan=<its path>)`` (docs/access.md).

Run against the bundled emulator, approval included: ``python3 dev.py skills-demo``. Elsewhere:
``airflow dags test genesys_skills_sync --conf '{"skills": "s3://bucket/wfm/skills.csv", "languages":
"s3://bucket/wfm/languages.csv", "plan_dir": "s3://bucket/wfm/plans"}'`` and approve in the UI.
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

# The project's demo_output folder (this file lives in <project>/dags_examples/); dev.py skills-demo writes
# the tables there. Point the params at your own storage.
DEFAULT_BASE = Path(__file__).resolve().parents[1] / "demo_output" / "skills"
MAX_REMOVALS = 25  # skills (languages) taken from agents past this, per table, fail the plan
# The relations, each with its table's param.
TABLES = {"skills": "user_skills", "languages": "user_languages"}


def pulled(name: str, key: str) -> str:
    """The template of what the plan task of ``name`` returned under ``key`` (its plan's path, its summary)."""
    return "{{ ti.xcom_pull(task_ids='plan_" + name + "')['" + key + "'] }}"


@dag(
    dag_id="genesys_skills_sync",
    schedule=None,
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["genesys", "ops", "access", "routing", "example"],
    params={
        "skills": Param(str(DEFAULT_BASE / "skills.csv"), type="string",
                        description="Agents' skills (user, skill, proficiency): a CSV path or URL."),
        "languages": Param(str(DEFAULT_BASE / "languages.csv"), type="string",
                           description="Agents' languages (user, language, proficiency): a CSV path or URL."),
        "plan_dir": Param(str(DEFAULT_BASE / "plans"), type="string",
                          description="Where the plans, their ledgers and reports go (path or URL)."),
        # The guardrails, so that one run can loosen a rule that refused its plan: trigger it with conf, e.g.
        # {"max_removals": 300}. The defaults are what an unattended run accepts.
        "max_removals": Param(MAX_REMOVALS, type=["integer", "null"], minimum=0,
                              description="At most this many skills (languages) are taken away (null: no limit)."),
        "max_removal_fraction": Param(0.2, type=["number", "null"], minimum=0, maximum=1,
                                      description="At most this share of what agents hold in scope is removed."),
    },
)
def genesys_skills_sync() -> None:
    plans = [
        GenesysAccessPlanOperator(
            task_id=f"plan_{name}",
            relation=relation,
            desired="{{ params." + name + " }}",
            plan_path="{{ params.plan_dir }}/{{ run_id }}." + name + ".json",
            max_removals="{{ params.max_removals }}",
            max_removal_fraction="{{ params.max_removal_fraction }}",
        )
        for name, relation in TABLES.items()
    ]
    if ApprovalOperator is None:
        return
    approve = ApprovalOperator(
        task_id="approve",
        subject="Genesys skills and languages changes",
        body="\n\n".join(pulled(name, "summary") for name in TABLES),  # both plans, one answer
        defaults="Reject",  # no answer within the timeout: nothing is applied
        **{WAIT_ARGUMENT: APPROVAL_WAIT},
    )
    plans >> approve
    for name in TABLES:
        apply = GenesysAccessApplyOperator(task_id=f"apply_{name}", plan=pulled(name, "plan"))
        verify = GenesysAccessVerifySensor(task_id=f"verify_{name}", plan=pulled(name, "plan"), timeout=900,
                                           mode="reschedule", poke_interval=30)
        approve >> apply >> verify


genesys_skills_sync()
