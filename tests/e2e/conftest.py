"""End-to-end harness: example DAGs run by ``airflow dags test`` on a real Airflow (SQLite metadata DB).

The emulator runs inside the pytest process (a loopback server in a thread); the DAGs run in one child
Airflow process per session that reaches it as a gateway through ``AIRFLOW_CONN_GENESYS_CLOUD_DEFAULT``
(``DagRunner``), whose first command migrates the metadata database.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from tests.compat.output import record_connection_secrets, save_run_output
from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.e2e


class DagRunner:
    """The session's Airflow process (tests/e2e/dag_runner.py): ``airflow dags test`` runs without paying
    Airflow's start-up each time. Started at the first run; a run's output is in its own log file."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.process: subprocess.Popen[str] | None = None

    def run(self, argv: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
        if self.process is None or self.process.poll() is not None:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tests.e2e.dag_runner"], env=self.env, cwd=PROJECT_ROOT, text=True,
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            )
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        log = cwd / f"dag-run-{len(list(cwd.glob('dag-run-*.log')))}.log"
        request = {"argv": argv, "env": env, "cwd": str(cwd), "log": str(log)}
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        reply = self.process.stdout.readline()
        output = log.read_text() if log.exists() else ""
        rc = json.loads(reply)["rc"] if reply else f"the runner died ({self.process.wait()})"
        return subprocess.CompletedProcess(["airflow", *argv], rc, stdout=output, stderr="")

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            self.process.wait(timeout=60)


@pytest.fixture(scope="session")
def dag_runner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DagRunner]:
    """The runner, its first command migrating the suite's Airflow home (see tests/conftest.py): SQLite."""
    runner = DagRunner(dict(os.environ))
    migrate = runner.run(["db", "migrate"], {}, tmp_path_factory.mktemp("airflow-db"))
    assert migrate.returncode == 0, f"airflow db migrate failed:\n{migrate.stdout[-3000:]}"
    yield runner
    runner.close()


@pytest.fixture
def run_dag(
    dag_runner: DagRunner, tmp_path: Path, request: pytest.FixtureRequest
) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run an example DAG to completion; fail the test with the DAG's log tail if the run fails.

    ``connection`` is the JSON form of the Genesys connection (``emu.connection_dict()``); ``conf`` becomes
    the run's params; ``env`` adds environment variables (e.g. other ``AIRFLOW_CONN_*``); ``logical_date``
    runs that date's data interval instead of now's; ``logical_dates`` runs each of them in turn (``None``:
    a manual run, now) and stops at the first that fails, as a catch-up would. Every run is a real DagRun
    as ``airflow dags test`` makes it, in the session's one Airflow process (see ``DagRunner``), unless
    ``own_process``: a new ``airflow dags test`` process, for what is read once at Airflow's start (the
    logging level, the DAGs folder) and for stdout and stderr apart. Under the compatibility matrix each
    run's command and output are kept for its secret scan (``artifacts`` names another folder, see
    tests/compat).
    """

    def _run(
        dag_id: str,
        *,
        connection: dict,
        conf: dict | None = None,
        env: dict[str, str] | None = None,
        expect_success: bool = True,
        logical_date: str | None = None,
        logical_dates: Sequence[str | None] = (),
        artifacts: Path | None = None,
        own_process: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        run_env = {"AIRFLOW_CONN_GENESYS_CLOUD_DEFAULT": json.dumps(connection), **(env or {})}
        record_connection_secrets(connection)
        for date in logical_dates or [logical_date]:
            argv = ["dags", "test", dag_id, *([date] if date else [])]
            if conf is not None:
                argv += ["--conf", json.dumps(conf)]
            if own_process:
                cmd = [sys.executable, "-m", "airflow", *argv]
                result = subprocess.run(cmd, env={**os.environ, **run_env}, capture_output=True, text=True,
                                        check=False, cwd=tmp_path)
            else:
                result = dag_runner.run(argv, run_env, tmp_path)
            save_run_output(f"{request.node.name}.{dag_id}", list(map(str, result.args)), result, folder=artifacts)
            if expect_success:
                output = result.stdout + result.stderr
                assert result.returncode == 0, f"DAG {dag_id} failed (rc={result.returncode}):\n{output[-6000:]}"
            if result.returncode != 0:
                break
        return result

    return _run
