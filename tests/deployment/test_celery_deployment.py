"""The example DAGs on a production-shaped Airflow: PostgreSQL, CeleryExecutor + Redis, 2 workers, triggerer.

One test, marked ``deployment`` and run by ``python3 dev.py test`` like the rest (docs/deployment.md). It is
also the proof that the users-and-permissions DAG loads SQLite, PostgreSQL and MariaDB with the same rows,
twice each without duplicates (docs/databases.md), from Celery workers as in production.
Measured wall time on the project's shared 2-core machine: 120 s at load average ~4.5 (setup 47 s, unpause
and trigger 12 s, the 7 DAG runs 48 s, teardown 7 s); 178 s at load 6-8 (benchmarks/deployment.md).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_genesys.testing import GenesysCloudEmulator, truth
from tests.deployment.cluster import Deployment, wait_until
from tests.deployment.conftest import DEPLOYMENT
from tests.e2e.test_users_permissions_dag import DATASETS
from tests.servers import conn_env, hook_query, sql_hook, table_contents

pytestmark = [pytest.mark.deployment, pytest.mark.databases]
USERS_DAG = "genesys_users_permissions_extract"
AUDIT_DAG = "genesys_role_audit"
DAY = "2025-06-01"
JOB_POLLS = 5  # the audit job answers Queued/Running 5 times: at 1 s per trigger poll, deferred >= 4 s
RUN_DEADLINE = 300.0
TARGETS = ("sqlite", "genesys_pg", "genesys_maria")  # sqlite: the DAG's default, {base}/genesys.db


@pytest.fixture
def emulator() -> Iterator[GenesysCloudEmulator]:
    with GenesysCloudEmulator(users=80, seed=5, job_polls=JOB_POLLS) as emu:
        yield emu


@pytest.fixture
def deployment(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    emulator: GenesysCloudEmulator,
    postgres_database: dict[str, Any],
    mariadb_database: dict[str, Any],
) -> Iterator[Deployment]:
    """The running deployment; stopped and cleaned up whatever happens, its log tails printed on failure."""
    extra_env = {
        "AIRFLOW_CONN_GENESYS_CLOUD_DEFAULT": json.dumps(emulator.connection_dict()),
        **conn_env("genesys_pg", postgres_database),
        **conn_env("genesys_maria", mariadb_database),
        "GENESYS_ROLE_AUDIT_POLL_SECONDS": "1",
    }
    cluster = Deployment(tmp_path / "airflow", extra_env)
    started = time.monotonic()
    request.node.stash[DEPLOYMENT] = cluster  # for the log tails in a failure's report (conftest.py)
    try:
        cluster.start()
        print(f"deployment test: migrated and up in {time.monotonic() - started:.0f} s")
        yield cluster
    finally:
        cluster.stop()


def _finished(cluster: Deployment, count: int, seen: set[tuple[str, str, str]]) -> dict[str, str] | None:
    """Run states once ``count`` runs are finished (else None); records every (run, task, state) seen."""
    cluster.assert_running()
    seen.update(cluster.metadata("SELECT run_id, task_id, state FROM task_instance WHERE state IS NOT NULL"))
    runs = dict(cluster.metadata("SELECT run_id, state FROM dag_run"))
    return runs if len(runs) == count and all(s in ("success", "failed") for s in runs.values()) else None


def test_example_dags_on_celery_with_two_workers_and_a_triggerer(
    deployment: Deployment,
    emulator: GenesysCloudEmulator,
    postgres_database: dict[str, Any],
    mariadb_database: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Both example DAGs on the deployment; the users DAG loads each database twice on the same day."""
    started = time.monotonic()
    base, audit_base = tmp_path / "out", tmp_path / "audit"
    wait_until(
        lambda: len(deployment.metadata("SELECT dag_id FROM serialized_dag WHERE dag_id IN (%s, %s)",
                                        USERS_DAG, AUDIT_DAG)) == 2,
        timeout=120, what="the dag-processor to serialise the example DAGs",
    )
    # Each database twice on the same day ({{ ds }} = DAY): the runs queue behind each other
    # (max_active_runs=1) and every load replaces the files and that database's tables.
    users_runs = {
        f"users_{target}_{round_}": (target, f"{DAY}T{hour:02d}:00:00+00:00")
        for hour, (round_, target) in enumerate(((r, t) for r in (1, 2) for t in TARGETS), start=1)
    }
    audit_conf = {"base_path": str(audit_base), "since": "2000-01-01T00:00:00Z", "until": "2100-01-01T00:00:00Z"}
    deployment.airflow(
        ["dags", "unpause", "--treat-dag-id-as-regex", "-y", f"^({USERS_DAG}|{AUDIT_DAG})$"],
        *(["dags", "trigger", USERS_DAG, "--run-id", run_id, "--logical-date", logical_date, "--conf",
           json.dumps({"base": str(base), "database_conn_id": None if target == "sqlite" else target})]
          for run_id, (target, logical_date) in users_runs.items()),
        ["dags", "trigger", AUDIT_DAG, "--run-id", "audit", "--conf", json.dumps(audit_conf),
         "--logical-date", f"{DAY}T01:00:00+00:00"],
    )
    print(f"deployment test: runs triggered {time.monotonic() - started:.0f} s after the deployment was up")

    seen: set[tuple[str, str, str]] = set()
    runs = wait_until(lambda: _finished(deployment, len(users_runs) + 1, seen), timeout=RUN_DEADLINE,
                      what="every run to finish")
    assert runs == dict.fromkeys([*users_runs, "audit"], "success"), sorted(seen)
    print(f"deployment test: runs done {time.monotonic() - started:.0f} s after the deployment was up")

    # Both workers ran tasks: the eight extracts of a run are more than one worker's two slots.
    assert len(deployment.task_workers()) == 2, deployment.task_workers()

    # The sensor deferred (to the triggerer, the only component running triggers) and resumed on a worker.
    assert ("audit", "wait_for_audit", "deferred") in seen
    org = emulator.org
    status_polls = emulator.stats.by_path["GET /api/v2/audits/query/{transactionId}"]
    assert status_polls == JOB_POLLS + 1  # the job's final answer came to the trigger, then the sensor resumed

    # Files: one of each dataset for the day (later runs replaced them), the audit with every grant.
    day = base / DAY
    assert sorted(p.name for p in day.iterdir()) == sorted(f"{name}.ndjson" for name in DATASETS)
    users = [json.loads(line)["id"] for line in (day / "users.ndjson").read_text().splitlines()]
    assert sorted(users) == sorted(org.user_ids("any"))
    (audit_file,) = (audit_base / "role_audit").iterdir()
    changes = [json.loads(line)["entity"]["id"] for line in audit_file.read_text().splitlines()]
    assert len(changes) == len(set(org.iter_grants()))

    # Tables, loaded twice by the Celery workers: SQLite holds the org once; PostgreSQL and MariaDB the same.
    with sqlite3.connect(base / "genesys.db") as db:
        expected = table_contents(lambda sql: db.execute(sql).fetchall())
        assert sorted(r[0] for r in db.execute("SELECT id FROM users")) == sorted(org.user_ids("any"))
        grants = db.execute("SELECT subject_id, subject_type, role_id, division_id FROM grants").fetchall()
        assert sorted(grants) == truth.grants(org)
        access = db.execute(
            "SELECT user_id, role_id, division_id, domain, entity_type, action, in_catalogue, via FROM access"
        ).fetchall()
        clients = db.execute(
            "SELECT client_id, role_id, division_id, domain, entity_type, action, in_catalogue "
            "FROM oauth_client_access"
        ).fetchall()
    assert len(access) == len(set(access))
    assert (set(access), set(clients)) == truth.access(org)
    for name, connection in (("PostgreSQL", postgres_database), ("MariaDB", mariadb_database)):
        assert table_contents(hook_query(sql_hook(connection, monkeypatch))) == expected, name
