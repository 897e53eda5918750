"""
Daily Genesys Cloud conversation details into files and flat SQL tables, one data interval per run.

1. ``data_interval`` is the run's data interval (yesterday, for a scheduled daily run); a manual run, whose
   data interval is empty, takes the previous UTC day (``resolve_data_interval``, the rule every operator and
   sensor follows). ``wait_for_data`` (deferrable) waits until the interval has settled (it
   ended ``settle_minutes`` ago, default 60) and Genesys' analytics ``dataAvailabilityDate`` covers it.
2. ``plan_chunks`` splits the interval into ``chunk_hours`` chunks; ``extract_conversations`` is mapped over
   them (``expand_kwargs``): each chunk is its own asynchronous analytics job and its own atomic NDJSON file
   ``{base}/conversations/{data interval start date}/part-NNN.ndjson``, possibly on another worker.
3. ``load_tables`` replaces the interval's rows of ``conversations``, ``participants``, ``sessions``,
   ``segments`` and ``metrics`` in one transaction: SQLite at ``{base}/conversations.db`` by default, or the
   database of the ``database_conn_id`` param (any Airflow SQL connection: postgres, mysql, ...).

Each conversation belongs to the interval it started in, so runs (catch-up, backfill, reruns) never
overlap or leave gaps, and a rerun of a day replaces exactly that day. A conversation still in progress when
its chunk is extracted fails that chunk with a retryable error (nothing written); the task's retries
extract it again once it has ended, so the tables never hold it incomplete. Run a past day with
``airflow dags test genesys_conversations_daily 2024-05-01``; see docs/operators.md.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import Param, dag, task

from airflow_provider_genesys.dag_helpers import interval_chunks, resolve_data_interval
from airflow_provider_genesys.loaders import load_conversations, sql_database
from airflow_provider_genesys.operators.genesys import GenesysCloudExtractOperator, storage_path
from airflow_provider_genesys.sensors.genesys import GenesysCloudDataAvailabilitySensor

log = logging.getLogger(__name__)
# The project's demo_output folder (this file lives in <project>/dags_examples/).
DEFAULT_BASE = str(Path(__file__).resolve().parents[1] / "demo_output")


@dag(
    dag_id="genesys_conversations_daily",
    schedule="@daily",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,  # set True (or use `airflow backfill create`) to load past days; each run is one day
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
    tags=["genesys", "example"],
    params={
        "base": Param(DEFAULT_BASE, type="string", description="Folder for files and the SQLite database."),
        "database_conn_id": Param(
            None, type=["null", "string"], description="SQL connection to load into; empty: SQLite in base."
        ),
        "chunk_hours": Param(6, type="number", exclusiveMinimum=0, description="Hours per extract chunk."),
        "compress": Param(False, type="boolean", description="Write .ndjson.gz instead of .ndjson."),
    },
    doc_md=__doc__,
)
def genesys_conversations_daily() -> None:
    @task
    def data_interval(**context: Any) -> str:
        """The run's data interval; a manual run (whose interval is empty) takes the previous UTC day."""
        return str(resolve_data_interval(context, task="data_interval"))

    interval = data_interval()
    wait = GenesysCloudDataAvailabilitySensor(
        task_id="wait_for_data", interval="{{ ti.xcom_pull(task_ids='data_interval') }}", source="conversations",
        deferrable=True, poll_interval=300, timeout=12 * 3600,
    )

    @task
    def plan_chunks(interval: str, params: dict[str, Any] | None = None) -> list[dict[str, str]]:
        """One ``{interval, destination}`` per chunk of the interval."""
        params = params or {}
        base = Path(params.get("base") or DEFAULT_BASE).expanduser().resolve()
        suffix = ".ndjson.gz" if params.get("compress") else ".ndjson"
        day = interval[:10]  # the data's day (ds is the day after for a scheduled daily run)
        return [{"interval": chunk, "destination": f"file://{base}/conversations/{day}/part-{n:03d}{suffix}"}
                for n, chunk in enumerate(interval_chunks(interval, float(params.get("chunk_hours") or 6)))]

    chunks = plan_chunks(interval)
    interval >> wait >> chunks
    extract = GenesysCloudExtractOperator.partial(
        task_id="extract_conversations", dataset="conversations", execution_timeout=timedelta(hours=2),
    ).expand_kwargs(chunks)

    @task
    def load_tables(results: list[dict[str, Any]], interval: str,
                    params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Replace the interval's rows in the five tables from the chunk files."""
        params = params or {}
        base = str(Path(params.get("base") or DEFAULT_BASE).expanduser().resolve())
        files = [storage_path(result["path"]) for result in results]
        with sql_database(params.get("database_conn_id"), Path(base) / "conversations.db") as database:
            tables = load_conversations(database.connection, files, interval, placeholder=database.placeholder)
        where = database.description
        log.info("Loaded %s into %s: %s", interval, where, ", ".join(f"{t} {n}" for t, n in tables.items()))
        return {"interval": interval, "files": [r["path"] for r in results], "database": where, "tables": tables}

    load_tables(extract.output, interval)

genesys_conversations_daily()
