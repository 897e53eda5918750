"""The access review campaign on the production-shaped deployment (PostgreSQL, CeleryExecutor + Redis, two
workers, api-server, scheduler, dag-processor, triggerer), on the oldest declared Airflow line, where a decision
task waits by deferring to the triggerer and the triggerer applies the default at the deadline.

The same campaign as the e2e test (a 1,000-user org, managers from its hierarchy, one made inactive so the
fallback reviewer gets their people), driven only through Airflow's REST API: triggered by an administrator,
answered by each reviewer logged in as themselves (another reviewer's task: 403), the fallback reviewer silent
until the short deadline passes. The org then holds exactly its grants minus the revoked ones and the evidence
says so line by line. Run on the oldest line by the compatibility matrix (docs/development.md).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_provider_genesys.access.review.model import FALLBACK, KEEP_ALL, REVOKE_SELECTED
from airflow_provider_genesys.testing import GenesysCloudEmulator
from tests import reviews
from tests.deployment.cluster import Deployment, wait_until
from tests.deployment.conftest import DEPLOYMENT
from tests.reviews import DIVISION, all_grants, expected_reviewers
from tests.servers import HOST

pytestmark = pytest.mark.deployment
DAG = "genesys_access_review"
CONN_ENV = "AIRFLOW_CONN_GENESYS_CLOUD_DEFAULT"
# Long enough for every decision task to start on the workers and be answered on a busy 2-core machine (each
# Celery task process takes 10-40 s to start there), short enough to wait out: the silent reviewer's default is
# what the triggerer applies at this deadline.
RESPONSE_TIMEOUT = 75


def _airflow_line() -> tuple[int, int]:
    from airflow import __version__

    major, minor = __version__.split(".")[:2]
    return int(major), int(minor)


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[GenesysCloudEmulator]:
    with GenesysCloudEmulator(users=1000, seed=1) as emu:
        monkeypatch.setenv(CONN_ENV, json.dumps(emu.connection_dict()))
        yield emu


@pytest.mark.skipif(_airflow_line() >= (3, 3), reason="Airflow 3.3 waits in awaiting_input without a triggerer: the "
                    "e2e test covers it; this one runs on the oldest declared line (python3 dev.py compat)")
def test_a_review_campaign_on_celery_with_a_triggerer_answered_through_the_rest_api(
    request: pytest.FixtureRequest, emulator: GenesysCloudEmulator, tmp_path: Path
) -> None:
    org = emulator.org
    role = next(org.role(i)["id"] for i in range(20) if org.role(i)["name"] == "Supervisor")
    division = next(org.division_id(d) for d in range(6) if org.division(d)["name"] == DIVISION)
    managers = sorted({m for m in expected_reviewers(emulator, role, division).values() if m != FALLBACK})
    org.set_state(org.index_of(managers[0]), "inactive", 0.0)
    expected = expected_reviewers(emulator, role, division)
    fallback = next(u for u in org.iter_users("active") if u["id"] not in expected and u["id"] not in managers)
    everyone = {u["id"]: u for u in org.iter_users("any")}
    people = [everyone[m]["email"] for m in set(expected.values()) - {FALLBACK}] + [fallback["email"]]
    original = all_grants(emulator)

    users = reviews.airflow_users(people, tmp_path / "passwords.json")
    cluster = Deployment(tmp_path / "airflow", {CONN_ENV: json.dumps(emulator.connection_dict()), **users})
    request.node.stash[DEPLOYMENT] = cluster
    try:
        cluster.start()
        base = f"http://{HOST}:{cluster.api_port}"
        admin = reviews.Api(reviews.ADMIN, base_url=base)
        wait_until(lambda: admin.call("GET", f"/api/v2/dags/{DAG}")[0] == 200, timeout=120,
                   what="the dag-processor to serialise the review DAG")
        assert admin.call("PATCH", f"/api/v2/dags/{DAG}", {"is_paused": False})[0] == 200
        conf = {"review_dir": str(tmp_path / "reviews"), "divisions": [DIVISION],
                "fallback_reviewers": [fallback["email"]], "response_timeout": f"{RESPONSE_TIMEOUT}s"}
        started = time.monotonic()
        status, body = admin.call("POST", f"/api/v2/dags/{DAG}/dagRuns",
                                  {"dag_run_id": "q4", "logical_date": None, "conf": conf})
        assert status == 200, body
        waiting = reviews.wait_for(admin, DAG, "q4", len(set(expected.values())), timeout=RESPONSE_TIMEOUT - 20)
        print(f"review deployment test: {len(waiting)} decision tasks asked {time.monotonic() - started:.0f} s after "
              "the run was triggered")
        managers_waiting = [d for d in waiting if d["assigned_users"][0]["id"] != fallback["email"]]
        first, second = managers_waiting[0], managers_waiting[1]
        status, _ = reviews.answer(reviews.Api(first["assigned_users"][0]["id"], base_url=base), DAG, "q4", second,
                                   KEEP_ALL)
        assert status == 403, "a reviewer cannot answer another reviewer's task"
        revoked_items: set[int] = set()
        for n, detail in enumerate(managers_waiting):
            items = [int(k) for k in detail["params"]["revoke"]["schema"]["examples"]]
            option, revoke = (REVOKE_SELECTED, items[:1]) if n % 2 else (KEEP_ALL, [])
            api = reviews.Api(detail["assigned_users"][0]["id"], base_url=base)
            status, body = reviews.answer(api, DAG, "q4", detail, option, revoke=revoke, justification="moved on")
            assert status == 200, body
            revoked_items.update(revoke)
        state = wait_until(lambda: _ended(admin), timeout=RESPONSE_TIMEOUT + 240, what="the run to end")
        print(f"review deployment test: run ended {time.monotonic() - started:.0f} s after it was triggered")
        assert state == "success", cluster.log_tails()
    finally:
        cluster.stop()

    evidence = tmp_path / "reviews" / "q4.evidence.ndjson"
    lines = [json.loads(x) for x in evidence.read_text().splitlines()]
    assert sorted(line["user_id"] for line in lines) == sorted(expected)
    revoked = set()
    for line in lines:
        assert line["reviewer_key"] == expected[line["user_id"]]
        assert line["decision"] == ("revoke" if line["item"] in revoked_items else "keep")
        assert line["default_applied"] is (line["reviewer_key"] == FALLBACK), "the triggerer applied the default"
        assert line["result"] == ("removed" if line["decision"] == "revoke" else "kept")
        if line["decision"] == "revoke":
            revoked.add((line["user_id"], "PC_USER", role, line["division_id"]))
    assert revoked
    assert all_grants(emulator) == original - revoked


def _ended(api: reviews.Api) -> str | None:
    status, body = api.call("GET", f"/api/v2/dags/{DAG}/dagRuns/q4")
    assert status == 200, body
    return body["state"] if body["state"] in ("success", "failed") else None
