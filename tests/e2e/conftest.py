"""End-to-end harness: example DAGs run by ``airflow dags test`` on a real Airflow (SQLite metadata DB).

The emulator runs inside the pytest process (a loopback server in a thread); the DAG runs in a child
process that reaches it as a gateway through ``AIRFLOW_CONN_GENESYS_CLOUD_DEFAULT``. The metadata database
is migrated once per session (about 10 s).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.compat.output import record_connection_secrets, save_run_output

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="session")
def airflow_db() -> dict[str, str]:
    """The suite's Airflow home (see tests/conftest.py) with a migrated SQLite database."""
    env = dict(os.environ)
    result = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, f"airflow db migrate failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return env


@pytest.fixture
def run_dag(
    airflow_db: dict[str, str], tmp_path: Path, request: pytest.FixtureRequest
) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run an example DAG to completion; fail the test with the DAG's log tail if the run fails.

    ``connection`` is the JSON form of the Genesys connection (``emu.connection_dict()``); ``conf`` becomes
    the run's params; ``env`` adds environment variables (e.g. other ``AIRFLOW_CONN_*``); ``logical_date``
    runs that date's data interval instead of now's. Under the compatibility matrix each run's command,
    stdout and stderr are kept for its secret scan (``artifacts`` names another folder, see tests/compat).
    """

    def _run(
        dag_id: str,
        *,
        connection: dict,
        conf: dict | None = None,
        env: dict[str, str] | None = None,
        expect_success: bool = True,
        logical_date: str | None = None,
        artifacts: Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        run_env = {**airflow_db, "AIRFLOW_CONN_GENESYS_CLOUD_DEFAULT": json.dumps(connection), **(env or {})}
        cmd = [sys.executable, "-m", "airflow", "dags", "test", dag_id]
        if logical_date is not None:  # a run of that logical date (its data interval), e.g. for catch-up
            cmd.append(logical_date)
        if conf is not None:
            cmd += ["--conf", json.dumps(conf)]
        record_connection_secrets(connection)
        result = subprocess.run(cmd, env=run_env, capture_output=True, text=True, check=False, cwd=tmp_path)
        save_run_output(f"{request.node.name}.{dag_id}", cmd, result, folder=artifacts)
        output = result.stdout + result.stderr
        if expect_success:
            assert result.returncode == 0, f"DAG {dag_id} failed (rc={result.returncode}):\n{output[-6000:]}"
        return result

    return _run
