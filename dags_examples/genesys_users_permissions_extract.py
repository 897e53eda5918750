"""
Daily extract of a Genesys Cloud org's users and permissions into files and a SQL database.

Twelve extract tasks run in parallel (users, roles, permissions, divisions, grants, groups, group_members,
oauth_clients, and who can take which interactions: skills, languages, user_skills, user_languages), each
writing NDJSON to ``file://{base}/{ds}/{dataset}.ndjson`` atomically; then ``load_database`` replaces the
tables of a real database from those files and builds ``access`` (user x role x division x permission, held
directly or through a group) and ``oauth_client_access``. By default
the database is SQLite at ``{base}/genesys.db``; set the ``database_conn_id`` param to load any database
Airflow has a SQL hook for (PostgreSQL, MySQL/MariaDB, ...). Every run replaces the tables as one set, so
rerunning a day never duplicates rows. See docs/operators.md and docs/databases.md.

Trigger with other params: ``airflow dags test genesys_users_permissions_extract --conf
'{"base": "/data/genesys", "compress": true}'``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import Param, dag, task

from airflow_provider_genesys.loaders import load_extracts, sql_database
from airflow_provider_genesys.operators.genesys import GenesysCloudExtractOperator, storage_path

log = logging.getLogger(__name__)
DATASETS = (
    "users", "roles", "permissions", "divisions", "grants", "groups", "group_members", "oauth_clients",
    "skills", "languages", "user_skills", "user_languages",
)
# The project's demo_output folder (this file lives in <project>/dags_examples/).
DEFAULT_BASE = str(Path(__file__).resolve().parents[1] / "demo_output")


def _abspath(path: str) -> str:
    return str(Path(path).expanduser().resolve())


@dag(
    dag_id="genesys_users_permissions_extract",
    schedule="@daily",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["genesys", "example"],
    user_defined_filters={"abspath": _abspath},
    params={
        "base": Param(DEFAULT_BASE, type="string", description="Folder for files and SQLite db."),
        "database_conn_id": Param(
            None, type=["null", "string"], description="SQL connection to load into; empty: SQLite in base."
        ),
        "compress": Param(False, type="boolean", description="Write .ndjson.gz instead of .ndjson."),
    },
    doc_md=__doc__,
)
def genesys_users_permissions_extract() -> None:
    # Lineage: each destination holds templates, so each task's outlet is an AssetAlias that receives the day's
    # file as an Asset once written (Airflow's Assets page lists them); with apache-airflow-providers-openlineage
    # installed each task also reports the Genesys dataset as input and the file as output (docs/operators.md).
    extracts = {
        name: GenesysCloudExtractOperator(
            task_id=f"extract_{name}",
            dataset=name,
            destination="file://{{ params.base | abspath }}/{{ ds }}/" + name
            + ".ndjson{{ '.gz' if params.compress else '' }}",
        ).output
        for name in DATASETS
    }

    @task
    def load_database(
        results: dict[str, dict[str, Any]], params: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Replace the database tables from the extracted files; log and return where everything is."""
        params = params or {}
        base = _abspath(params.get("base") or DEFAULT_BASE)
        files = {name: storage_path(result["path"]) for name, result in results.items()}
        with sql_database(params.get("database_conn_id"), Path(base) / "genesys.db") as database:
            tables = load_extracts(database.connection, files, placeholder=database.placeholder)
        where = database.description
        summary = {
            "files": {name: result["path"] for name, result in results.items()},
            "records": {name: result["records"] for name, result in results.items()},
            "database": where,
            "tables": tables,
        }
        lines = [f"  {name}: {path}" for name, path in summary["files"].items()]
        log.info(
            "Genesys extract files:\n%s\nLoaded into %s: %s", "\n".join(lines), where,
            ", ".join(f"{table} {count}" for table, count in tables.items()),
        )
        return summary

    load_database(extracts)


genesys_users_permissions_extract()
