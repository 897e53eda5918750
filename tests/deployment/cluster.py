"""A multi-process Airflow deployment on loopback, as production runs it, for the deployment test.

PostgreSQL metadata database (its own ``airflow_<random>``), the CeleryExecutor with Redis as broker (a
Redis db number this run claims) and the PostgreSQL result backend, two Celery workers with distinct
hostnames, a scheduler, a dag-processor, an api-server (execution API for the workers and the triggerer)
and a triggerer. Every component is its own process group, started by ``start()`` and stopped by
``stop()``, which also drops the database and flushes the Redis db; on failure ``log_tails()`` shows what
each component said.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.servers import (
    HOST,
    POSTGRES_PORT,
    POSTGRES_USER,
    REDIS_PORT,
    drop_postgres_database,
    free_port,
    new_postgres_database,
    require_server,
)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
_CLI_BATCH = """
import json, sys
from airflow.__main__ import main
for argv in json.loads(sys.argv[1]):
    sys.argv = ["airflow", *argv]
    try:
        main()
    except SystemExit as exit_:  # a command that ends with sys.exit(0) must not skip the next ones
        if exit_.code not in (None, 0):
            raise
"""
REDIS_OWNER_KEY = "airflow-provider-genesys:deployment-test"
COMPONENTS: dict[str, list[str]] = {
    "api-server": ["api-server", "--host", HOST, "--port", "{api_port}", "--workers", "1"],
    "scheduler": ["scheduler"],
    "dag-processor": ["dag-processor"],
    "triggerer": ["triggerer", "--skip-serve-logs"],
    "worker-1": ["celery", "worker", "--celery-hostname", "genesys-w1-{token}@%h", "--concurrency", "2",
                 "--skip-serve-logs", "--without-gossip", "--without-mingle"],
    "worker-2": ["celery", "worker", "--celery-hostname", "genesys-w2-{token}@%h", "--concurrency", "2",
                 "--skip-serve-logs", "--without-gossip", "--without-mingle"],
}


def wait_until(condition: Callable[[], Any], *, timeout: float, what: str, interval: float = 0.5) -> Any:
    """Poll ``condition`` until it returns something truthy, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)  # a polling interval, not synchronisation


def claim_redis_db() -> tuple[Any, int]:
    """A Redis db (1-15) nobody uses: empty, then marked with our key in one SET NX."""
    import redis

    token = secrets.token_hex(8)
    for number in secrets.SystemRandom().sample(range(1, 16), 15):
        client = redis.Redis(host=HOST, port=REDIS_PORT, db=number)
        if client.dbsize() == 0 and client.set(REDIS_OWNER_KEY, token, nx=True) and client.dbsize() == 1:
            return client, number
        client.close()
    raise AssertionError("no empty Redis db among 1-15 on 127.0.0.1:6379: nothing to use without disturbing")


class Deployment:
    """The deployment's processes and resources; ``env`` is what every component (and CLI call) runs with."""

    def __init__(self, home: Path, extra_env: dict[str, str]) -> None:
        require_server("PostgreSQL", POSTGRES_PORT)
        require_server("Redis", REDIS_PORT)
        self.home = home
        self.token = secrets.token_hex(4)
        self.api_port = free_port()
        self.database = ""
        self.redis: Any = None
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.extra_env = extra_env
        self.env: dict[str, str] = {}

    @property
    def metadata_url(self) -> str:
        return f"postgresql+psycopg2://{POSTGRES_USER}@{HOST}:{POSTGRES_PORT}/{self.database}"

    def _environment(self, redis_db: int) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
        env.update(
            AIRFLOW_HOME=str(self.home),
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            AIRFLOW__CORE__DAGS_FOLDER=str(PROJECT_ROOT / "dags_examples"),
            AIRFLOW__CORE__EXECUTOR="CeleryExecutor",
            AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://{HOST}:{self.api_port}/execution/",
            AIRFLOW__CORE__AUTH_MANAGER=(
                "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
            ),
            AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="True",
            AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=self.metadata_url,
            AIRFLOW__CELERY__BROKER_URL=f"redis://{HOST}:{REDIS_PORT}/{redis_db}",
            AIRFLOW__CELERY__RESULT_BACKEND=f"db+postgresql://{POSTGRES_USER}@{HOST}:{POSTGRES_PORT}/{self.database}",
            # Extended results record which worker ran each task (celery_taskmeta.worker).
            AIRFLOW__CELERY__EXTRA_CELERY_CONFIG='{"result_extended": true}',
            AIRFLOW__API__HOST=HOST,
            AIRFLOW__API__PORT=str(self.api_port),
            AIRFLOW__API__BASE_URL=f"http://{HOST}:{self.api_port}",
            AIRFLOW__API__SECRET_KEY=secrets.token_hex(16),
            AIRFLOW__API_AUTH__JWT_SECRET=secrets.token_hex(32),
            # Runs come from `airflow dags trigger` only: no scheduled run of the example DAGs' @daily.
            AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE="False",
            AIRFLOW__LOGGING__BASE_LOG_FOLDER=str(self.home / "logs"),
            PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        )
        env.update(self.extra_env)
        return env

    def airflow(self, *commands: list[str], timeout: float = 300) -> str:
        """Run ``airflow`` CLI commands against the deployment, in order; their output, or fail with it.

        The commands go through Airflow's own entry point (``airflow.__main__.main``, what the ``airflow``
        script runs), one after the other in one interpreter: importing Airflow costs 10-15 s per process on
        a busy machine, the commands themselves well under one.
        """
        result = subprocess.run([sys.executable, "-c", _CLI_BATCH, json.dumps(commands)], env=self.env, text=True,
                                capture_output=True, timeout=timeout, check=False)
        output = f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
        assert result.returncode == 0, f"airflow {commands} failed:\n{output}"
        return result.stdout

    def start(self) -> None:
        self.database = new_postgres_database("airflow")
        self.redis, redis_db = claim_redis_db()
        self.env = self._environment(redis_db)
        self.home.mkdir(parents=True, exist_ok=True)
        self.airflow(["db", "migrate"])
        for name, args in COMPONENTS.items():
            command = [a.format(api_port=self.api_port, token=self.token) for a in args]
            log = (self.home / f"{name}.log").open("wb")
            self.processes[name] = subprocess.Popen(
                [sys.executable, "-m", "airflow", *command], env=self.env, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True, cwd=self.home,
            )
            log.close()
        wait_until(self._api_healthy, timeout=120, what="the api-server's health endpoint")
        wait_until(self._workers_ready, timeout=120, what="both Celery workers to answer a ping")

    def _workers_ready(self) -> bool:
        from celery import Celery

        self.assert_running()
        app = Celery(broker=self.env["AIRFLOW__CELERY__BROKER_URL"])
        try:
            return len(app.control.ping(timeout=1.0)) == len(self.workers)
        finally:
            app.close()

    @property
    def workers(self) -> list[str]:
        return [name for name in COMPONENTS if name.startswith("worker")]

    def task_workers(self) -> set[str]:
        """The Celery workers that ran the deployment's tasks (from the result backend's table)."""
        return {row[0] for row in self.metadata("SELECT DISTINCT worker FROM celery_taskmeta")}

    def _api_healthy(self) -> bool:
        self.assert_running()
        try:
            with urllib.request.urlopen(f"http://{HOST}:{self.api_port}/api/v2/monitor/health", timeout=5) as r:
                return r.status == 200
        except OSError:
            return False

    def assert_running(self) -> None:
        """Fail at once (not at a deadline) when a component died."""
        dead = {name: p.returncode for name, p in self.processes.items() if p.poll() is not None}
        assert not dead, f"Airflow components exited: {dead}"

    def metadata(self, sql: str, *params: Any) -> list[tuple]:
        """Rows of a query on the deployment's metadata database."""
        import psycopg

        with psycopg.connect(host=HOST, port=POSTGRES_PORT, user=POSTGRES_USER, dbname=self.database) as db:
            return db.execute(sql, params).fetchall()

    def log_tails(self, lines: int = 40) -> str:
        """The last lines each component and each task wrote: printed when the test fails."""
        parts = []
        logs = sorted(self.home.glob("*.log")) + sorted((self.home / "logs").rglob("*.log"))
        for path in logs:
            text = path.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"===== {path.relative_to(self.home)} (last {len(text)} lines)\n" + "\n".join(text))
        return "\n".join(parts)

    def stop(self) -> None:
        """Stop every process group (TERM, then KILL after 30 s), drop the database, flush the Redis db."""
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for process in self.processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            # Task processes a worker forked may outlive it in its group: the group goes in every case.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        if self.redis is not None:
            self.redis.flushdb()
            self.redis.close()
        if self.database:
            drop_postgres_database(self.database)
