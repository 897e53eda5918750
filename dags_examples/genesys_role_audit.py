"""
Daily audit of role changes in a Genesys Cloud org, written to NDJSON.

Genesys records who was given or lost a role under the ``PeoplePermissions`` service as events of
``entityType`` ``Role`` with ``action`` ``MemberAdd`` / ``MemberRemove`` (the role is the entity); the
query asks for Role events only, oldest first (``sortOrder`` ``ascending``).

1. ``audit_interval``: the changes to look at: since the last successful run's data interval end (first
   run or manual run: the last ``lookback_hours``) until this run's data interval end (manual run: now).
   ``since``/``until`` params override both.
2. ``submit_audit``: ``POST /api/v2/audits/query`` (GenesysCloudAuditQueryOperator) with the filter
   ``EntityType = Role``, pushes the id.
3. ``wait_for_audit``: the deferrable GenesysCloudJobSensor: the wait happens in the triggerer.
4. ``extract_results``: pages ``/api/v2/audits/query/{id}/results`` (cursor, 500 per page, the documented
   maximum) into
   ``{base_path}/role_audit/audit_<start>_<end>.ndjson``, atomically (the file is complete or absent).

Trigger with other params: ``airflow dags test genesys_role_audit --conf '{"since":
"2025-04-01T00:00:00Z", "until": "2025-04-08T00:00:00Z"}'``. ``GENESYS_ROLE_AUDIT_POLL_SECONDS`` sets the
sensor's poll interval (default 30). See docs/sensors.md.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import Param, dag, task

try:
    from airflow.sdk.exceptions import AirflowFailException
except ImportError:  # Airflow < 3.2
    from airflow.exceptions import AirflowFailException

from airflow_provider_genesys.dag_helpers import AtomicNdjsonWriter, parse_interval
from airflow_provider_genesys.hooks.genesys import GenesysCloudHook
from airflow_provider_genesys.jobs import job_family
from airflow_provider_genesys.operators.audit import GenesysCloudAuditQueryOperator
from airflow_provider_genesys.operators.genesys import storage_path
from airflow_provider_genesys.sensors.genesys import GenesysCloudJobSensor

log = logging.getLogger(__name__)
DEFAULT_BASE = str(Path(__file__).resolve().parents[1] / "demo_output")
POLL_SECONDS = float(os.environ.get("GENESYS_ROLE_AUDIT_POLL_SECONDS", "30"))
ROLE_ENTITY = "Role"  # role membership changes: actions MemberAdd / MemberRemove
RESULTS_PAGE_SIZE = 500  # audit query results: "The maximum page size is 500" (SDK AuditApi docs)


def _utc(value: Any) -> datetime | None:
    # Context values may be lazy proxies: test what they stand for, not the proxy (`is None` is False).
    return value.astimezone(timezone.utc) if value else None


def _iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dag(
    dag_id="genesys_role_audit",
    schedule="@daily",
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["genesys", "audit", "example"],
    params={
        "base_path": Param(DEFAULT_BASE, type="string", description="Folder or URI for the results."),
        "service_name": Param("PeoplePermissions", type="string", description="Audited service."),
        "lookback_hours": Param(24, type="integer", minimum=1, description="First/manual run window."),
        "since": Param(None, type=["null", "string"], description="ISO-8601 start, overrides the window."),
        "until": Param(None, type=["null", "string"], description="ISO-8601 end, overrides the window."),
    },
)
def genesys_role_audit() -> None:
    @task
    def audit_interval(**context: Any) -> str:
        """ISO-8601 ``start/end`` of the changes this run reports (validated before anything is sent)."""
        params = context["params"]
        start = _utc(context.get("prev_data_interval_end_success"))
        end = _utc(context.get("data_interval_end"))
        if end is None or end == _utc(context.get("data_interval_start")):  # manual run: up to now
            end = datetime.now(timezone.utc)
        if start is None or start >= end:
            start = end - timedelta(hours=int(params["lookback_hours"]))
        interval = f"{params['since'] or _iso(start)}/{params['until'] or _iso(end)}"
        try:
            parse_interval(interval)
        except ValueError as err:  # a bad since/until param: retrying cannot fix it
            raise AirflowFailException(f"params since/until: {err}") from None
        log.info("Auditing %s changes over %s", params["service_name"], interval)
        return interval

    interval = audit_interval()
    submit = GenesysCloudAuditQueryOperator(
        task_id="submit_audit",
        service_name="{{ params.service_name }}",
        interval=interval,
        filters=[{"property": "EntityType", "value": ROLE_ENTITY}],
        sort=[{"name": "Timestamp", "sortOrder": "ascending"}],
    )
    wait = GenesysCloudJobSensor(
        task_id="wait_for_audit",
        job_id=submit.output,
        deferrable=True,
        poll_interval=POLL_SECONDS,
        timeout=6 * 3600,
    )

    @task
    def extract_results(job: dict[str, Any], interval: str, **context: Any) -> dict[str, Any]:
        """Every result record, cursor paged, written atomically; returns where and how many."""
        span = parse_interval(interval)
        start, end = (moment.strftime("%Y%m%dT%H%M%SZ") for moment in (span.start, span.end))
        destination = (
            storage_path(context["params"]["base_path"]) / "role_audit" / f"audit_{start}_{end}.ndjson"
        )
        with GenesysCloudHook() as hook, AtomicNdjsonWriter(destination) as writer:
            endpoint = job_family("audit_query").results_endpoint(job["job_id"])
            for record in hook.paginate(endpoint, params={"pageSize": RESULTS_PAGE_SIZE}):
                writer.write(record)
        log.info("Wrote %d audit records to %s", writer.records, destination)
        return {"path": str(destination), "records": writer.records, "job_id": job["job_id"]}

    extract_results(wait.output, interval)


genesys_role_audit()
