"""An access review campaign end to end on a real Airflow (3.3+: ``airflow dags test`` of the example DAG
``genesys_access_review``) against a 1,000-user emulator org, managers from the org's hierarchy, one of them
made inactive so the fallback reviewer gets their people.

Each reviewer answers through Airflow's REST API as themselves (a SimpleAuthManager user named by their
Genesys email, logged in with a password): one keeps all, others revoke items with a justification, the
fallback reviewer does not answer (their deadline is moved to now and the scheduler's timeout sweep applies
the default, as a scheduler does when the deadline passes; ``dags test`` runs none). A reviewer answering
another's task gets 403 and that task still waits. The org then holds exactly the grants it held minus the
revoked ones; the evidence has one line per item with its reviewer, decision and what apply did; a second close
and apply of the same review write nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from airflow_provider_genesys.access.review.model import FALLBACK, KEEP_ALL, REVOKE_ALL, REVOKE_SELECTED
from airflow_provider_genesys.operators.access import GenesysAccessApplyOperator, GenesysAccessPlanOperator
from airflow_provider_genesys.operators.review import GenesysAccessReviewCloseOperator
from airflow_provider_genesys.testing import GenesysCloudEmulator
from tests import reviews
from tests.approvals import running_run
from tests.e2e.conftest import DagRunner
from tests.reviews import DIVISION, all_grants, expected_reviewers

pytestmark = pytest.mark.e2e
DAG = "genesys_access_review"
CONN_ENV = "AIRFLOW_CONN_GENESYS_CLOUD_DEFAULT"
WRITES = ("POST ", "PATCH ", "DELETE ")


def _airflow_line() -> tuple[int, int]:
    from airflow import __version__

    major, minor = __version__.split(".")[:2]
    return int(major), int(minor)


def writes_sent(emu: GenesysCloudEmulator) -> int:
    return sum(n for route, n in emu.stats.by_path.items() if route.startswith(WRITES) and " /api/v2/" in route)


class Ti:
    def __init__(self) -> None:
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = value


@pytest.mark.skipif(_airflow_line() < (3, 3), reason="Airflow < 3.3's `dags test` cannot run a human-in-the-loop "
                    "trigger inline; the deployment test runs the campaign on 3.1 with a triggerer")
def test_a_campaign_answered_by_each_reviewer_through_the_rest_api_removes_exactly_the_revocations(
    dag_runner: DagRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with GenesysCloudEmulator(users=1000, seed=1) as emu:
        org = emu.org
        monkeypatch.setenv(CONN_ENV, json.dumps(emu.connection_dict(max_retry_wait=0, max_attempts=3)))
        role = next(org.role(i)["id"] for i in range(20) if org.role(i)["name"] == "Supervisor")
        division = next(org.division_id(d) for d in range(6) if org.division(d)["name"] == DIVISION)
        before = expected_reviewers(emu, role, division)
        managers = sorted({m for m in before.values() if m != FALLBACK})
        gone = managers[0]  # this manager leaves: their people go to the fallback reviewer
        org.set_state(org.index_of(gone), "inactive", 0.0)
        expected = expected_reviewers(emu, role, division)
        assert len(managers) >= 4
        assert [u for u, r in before.items() if r == gone]
        assert all(expected[u] == FALLBACK for u, r in before.items() if r == gone)
        fallback = next(u for u in org.iter_users("active") if u["id"] not in expected and u["id"] not in managers)
        original = all_grants(emu)

        passwords = tmp_path / "passwords.json"
        for name, value in reviews.airflow_users([], passwords).items():
            monkeypatch.setenv(name, value)
        conf = {"review_dir": str(tmp_path / "reviews"), "divisions": [DIVISION],
                "fallback_reviewers": [fallback["email"]]}
        env = {**dag_runner.env, CONN_ENV: os.environ[CONN_ENV]}
        run = subprocess.Popen([sys.executable, "-m", "airflow", "dags", "test", DAG, "--conf", json.dumps(conf)],
                               env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            app = reviews.in_process_app()
            admin = reviews.Api(reviews.ADMIN, app=app)
            deadline = time.monotonic() + 240
            while (run_id := running_run(admin, DAG)) is None:
                assert run.poll() is None, run.stdout.read()[-6000:]  # type: ignore[union-attr]
                assert time.monotonic() < deadline, "no run started within 240 s"
                time.sleep(0.5)  # a polling interval, not synchronisation
            count = len(set(expected.values()))
            waiting = reviews.wait_for(admin, DAG, run_id, count, timeout=240, alive=lambda: run.poll() is None)
            people = sorted({u["id"] for d in waiting for u in d["assigned_users"]})
            for name, value in reviews.airflow_users(people, passwords).items():
                monkeypatch.setenv(name, value)
            assert len(waiting) == count
            decided = answer_all(app, run_id, waiting, fallback["email"])
            output, _ = run.communicate(timeout=300)
        finally:
            if run.poll() is None:
                run.kill()
        assert run.returncode == 0, output[-6000:]

        review_file = tmp_path / "reviews" / f"{run_id}.review.ndjson"
        lines = [json.loads(x) for x in review_file.with_name(f"{run_id}.evidence.ndjson").read_text().splitlines()]
        assert sorted(line["user_id"] for line in lines) == sorted(expected), "one evidence line per item"
        revoked = set()
        for line in lines:
            assert line["reviewer_key"] == expected[line["user_id"]]
            choice, by = decided[line["reviewer_key"]]
            assert line["decision"] == ("revoke" if line["item"] in choice else "keep")
            assert line["decided_by"] == by
            assert line["default_applied"] is (line["reviewer_key"] == FALLBACK)
            assert line["result"] == ("removed" if line["decision"] == "revoke" else "kept")
            if line["decision"] == "revoke":
                revoked.add((line["user_id"], "PC_USER", role, line["division_id"]))
                assert line["justification"] == "left the team"
        assert revoked
        assert all_grants(emu) == original - revoked, "exactly the revoked grants are gone, nothing else changed"
        summary = review_file.with_name(f"{run_id}.summary.md").read_text()
        assert f"{len(revoked)} removed" in summary

        # A second close and apply of the same review (as clearing them would run them): nothing is written.
        sent = writes_sent(emu)
        admin_decisions = [xcom(admin, run_id, reviews.DECIDE, n) for n in range(count)]
        ti = Ti()
        GenesysAccessReviewCloseOperator(task_id="close", review=str(review_file),
                                         decisions=admin_decisions).execute({"ti": ti})
        plan = GenesysAccessPlanOperator(task_id="plan", relation="grants", mode="sync", rows=ti.xcom["rows"],
                                         managed_roles=ti.xcom["managed_roles"],
                                         plan_path=str(tmp_path / "again.json")).execute({})
        assert "**0 to add, 0 to remove**" in plan["summary"]
        GenesysAccessApplyOperator(task_id="apply", plan=plan["plan"]).execute({})
        assert writes_sent(emu) == sent
        assert all_grants(emu) == original - revoked


def answer_all(app: Any, run_id: str, waiting: list[dict], fallback: str) -> dict[str, tuple[set[int], str]]:
    """Each reviewer answers their own task (the first also tries another's: 403); the fallback does not.
    What each decided (revoked item numbers, who answered) by reviewer key (the open task's reviews, in the order
    the decision task is mapped over them)."""
    admin = reviews.Api(reviews.ADMIN, app=app)
    opened = xcom(admin, run_id, "open", -1)
    decided: dict[str, tuple[set[int], str]] = {}
    managers = [d for d in waiting if d["assigned_users"][0]["id"] != fallback]
    first, second = managers[0], managers[1]
    intruder = reviews.Api(first["assigned_users"][0]["id"], app=app)
    status, body = reviews.answer(intruder, DAG, run_id, second, KEEP_ALL)
    assert status == 403, body
    still = reviews.waiting(intruder, DAG, run_id)
    assert second["task_instance"]["map_index"] in [d["task_instance"]["map_index"] for d in still]
    for n, detail in enumerate(waiting):
        user = detail["assigned_users"][0]["id"]
        key = opened[detail["task_instance"]["map_index"]]["reviewer"]
        items = [int(k) for k in detail["params"]["revoke"]["schema"]["examples"]]
        if user == fallback:
            reviews.expire(DAG, run_id, detail["task_instance"]["map_index"])
            decided[key] = (set(), "")
            continue
        api = reviews.Api(user, app=app)
        if n == 0:
            option, revoke = KEEP_ALL, []
        elif n % 2:
            option, revoke = REVOKE_SELECTED, items[:1]
        else:
            option, revoke = REVOKE_ALL, items
        status, body = reviews.answer(api, DAG, run_id, detail, option, revoke=revoke, justification="left the team")
        assert status == 200, body
        assert body["responded_by"]["id"] == user
        decided[key] = (set(revoke if option != KEEP_ALL else []), user)
    return decided


def xcom(api: reviews.Api, run_id: str, task_id: str, map_index: int) -> Any:
    """A task's return value through the REST API."""
    status, body = api.call("GET", f"/api/v2/dags/{DAG}/dagRuns/{quote(run_id, safe='')}/taskInstances/"
                                   f"{task_id}/xcomEntries/return_value?map_index={map_index}")
    assert status == 200, body
    return body["value"] if not isinstance(body["value"], str) else json.loads(body["value"])
