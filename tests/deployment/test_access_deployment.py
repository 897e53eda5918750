"""The access DAG on the production-shaped deployment (PostgreSQL, CeleryExecutor + Redis, api-server,
triggerer), driven only through Airflow's REST API as an administrator's tool would: trigger
``genesys_access_sync``, wait for its approval, approve it (``PATCH .../hitlDetails``); apply and verify
run on the Celery workers and the emulator's org equals the desired table. A second run, rejected through
the REST API, writes nothing to Genesys.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_genesys.access.current import read_org
from airflow_provider_genesys.testing import GenesysCloudEmulator
from tests.access_scenario import (
    GRANT_COLUMNS,
    Scenario,
    client_from_env,
    make_scenario,
    write_csv,
)
from tests.approvals import APPROVE, REJECT, HttpAirflowApi, respond, wait_pending
from tests.deployment.cluster import Deployment, wait_until
from tests.deployment.conftest import DEPLOYMENT
from tests.servers import HOST

pytestmark = pytest.mark.deployment
DAG = "genesys_access_sync"
CONN_ENV = "AIRFLOW_CONN_GENESYS_CLOUD_DEFAULT"
WRITES = ("POST ", "PATCH ", "DELETE ")


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[GenesysCloudEmulator]:
    with GenesysCloudEmulator(users=80, seed=5) as emu:
        monkeypatch.setenv(CONN_ENV, json.dumps(emu.connection_dict()))
        yield emu


@pytest.fixture
def deployment(request: pytest.FixtureRequest, tmp_path: Path, emulator: GenesysCloudEmulator) -> Iterator[Deployment]:
    cluster = Deployment(tmp_path / "airflow", {CONN_ENV: json.dumps(emulator.connection_dict())})
    request.node.stash[DEPLOYMENT] = cluster
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


def scenario(**sizes: int) -> Scenario:
    with client_from_env() as client:
        directory, current = read_org(client, "grants")
    return make_scenario(directory, current, **sizes)


def writes_sent(emu: GenesysCloudEmulator) -> int:
    return sum(n for route, n in emu.stats.by_path.items() if route.startswith(WRITES) and " /api/v2/" in route)


def supervisors(emu: GenesysCloudEmulator, role_id: str) -> set[tuple[str, str]]:
    return {(s, d) for s, kind, r, d in emu.org.iter_all_grants() if r == role_id and kind in ("PC_USER", "PC_GROUP")}


def run_through_the_api(api: HttpAirflowApi, run_id: str, conf: dict[str, Any], answer: str) -> dict[str, Any]:
    """Trigger a run, answer its approval with ``answer``, wait for the run to end; the approval's details."""
    status, body = api.call("POST", f"/api/v2/dags/{DAG}/dagRuns",
                            {"dag_run_id": run_id, "logical_date": None, "conf": conf})
    assert status == 200, body
    detail = wait_pending(api, DAG, run_id, "approve", timeout=180)
    respond(api, DAG, run_id, "approve", answer)
    state = wait_until(lambda: _ended(api, run_id), timeout=180, what=f"run {run_id} to end")
    assert state == "success", state
    return detail


def _ended(api: HttpAirflowApi, run_id: str) -> str | None:
    status, body = api.call("GET", f"/api/v2/dags/{DAG}/dagRuns/{run_id}")
    assert status == 200, body
    return body["state"] if body["state"] in ("success", "failed") else None


def test_access_sync_approved_and_rejected_through_the_rest_api_on_celery(
    deployment: Deployment, emulator: GenesysCloudEmulator, tmp_path: Path
) -> None:
    api = HttpAirflowApi(f"http://{HOST}:{deployment.api_port}")
    wait_until(lambda: api.call("GET", f"/api/v2/dags/{DAG}")[0] == 200, timeout=120,
               what="the dag-processor to serialise the access DAG")
    status, body = api.call("PATCH", f"/api/v2/dags/{DAG}", {"is_paused": False})
    assert status == 200, body

    wanted = scenario(gain=5, move=2, lose=2)
    desired = write_csv(wanted.grants, tmp_path / "desired.csv", GRANT_COLUMNS)
    conf = {"desired": str(desired), "plan_dir": str(tmp_path / "plans")}
    detail = run_through_the_api(api, "approved", conf, APPROVE)
    assert "**7 to add, 4 to remove**" in detail["body"], "the approval shows the plan's summary"
    assert supervisors(emulator, wanted.role_id) == wanted.desired, "the org equals the desired table"
    states = dict(deployment.metadata("SELECT task_id, state FROM task_instance WHERE run_id = %s", "approved"))
    assert states == {"plan": "success", "approve": "success", "apply": "success", "verify": "success"}

    writes, before = writes_sent(emulator), supervisors(emulator, wanted.role_id)
    assert writes > 0
    unwanted = scenario(gain=3, move=1, lose=1)
    rejected_conf = {**conf, "desired": str(write_csv(unwanted.grants, tmp_path / "next.csv", GRANT_COLUMNS))}
    started = time.monotonic()
    run_through_the_api(api, "rejected", rejected_conf, REJECT)
    print(f"access deployment test: rejected run {time.monotonic() - started:.0f} s")
    assert writes_sent(emulator) == writes, "a rejected plan writes nothing"
    assert supervisors(emulator, wanted.role_id) == before
    states = dict(deployment.metadata("SELECT task_id, state FROM task_instance WHERE run_id = %s", "rejected"))
    assert states == {"plan": "success", "approve": "success", "apply": "skipped", "verify": "skipped"}
