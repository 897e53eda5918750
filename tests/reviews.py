"""Answer an access review's decision tasks through Airflow's REST API, as each reviewer would.

The review demo (``dev.py review-demo``), the e2e test and the deployment test answer the way a reviewer's
browser or tool does: log in as that reviewer (SimpleAuthManager's ``POST /auth/token`` with a user name and
password: reviewers are distinct Airflow users, so ``assigned_users`` is enforced and another reviewer's
answer gets 403), list the run's waiting decisions (``GET .../dagRuns/{run_id}/hitlDetails``), then ``PATCH
.../taskInstances/decide/{map_index}/hitlDetails`` with the chosen option and the form's fields.

Reviewers are Airflow users named by their Genesys email (``assigned_users="email"``), configured with
``[core] simple_auth_manager_users`` and a passwords file (:func:`airflow_users`). ``airflow dags test`` runs no
scheduler, so nothing applies a decision task's timeout there: :func:`expire` moves one task's deadline to now
and runs the scheduler's own timeout sweep, as a scheduler does when the deadline passes.
"""

from __future__ import annotations

import hashlib
import json
import time
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from tests.approvals import HttpAirflowApi, hitl_path

ADMIN = "admin"
DECIDE = "decide"
# The e2e and deployment campaign: Supervisor on this division of the seed-1, 1,000-user emulator org (14 items
# for 5 managers and the fallback).
DIVISION = "Back Office"


def all_grants(emu: Any) -> set[tuple[str, str, str, str]]:
    """Every grant of the emulator's org: (subject, type, role, division)."""
    return set(emu.org.iter_all_grants())


def expected_reviewers(emu: Any, role: str, division: str) -> dict[str, str]:
    """The ground truth: each in-scope user's reviewer (their active manager, else the fallback)."""
    everyone = {u["id"]: u for u in emu.org.iter_users("any")}
    holders = {s for s, kind, r, d in emu.org.iter_all_grants() if kind == "PC_USER" and r == role and d == division}
    found = {}
    for user in holders:
        manager = (everyone[user].get("manager") or {}).get("id")
        active = manager and manager != user and everyone[manager]["state"] == "active"
        found[user] = manager if active else "fallback"
    return found


def password_of(user: str) -> str:
    """A fixed password per user (test and demo deployments only)."""
    return "pw-" + hashlib.sha256(user.encode()).hexdigest()[:16]


def airflow_users(reviewers: list[str], passwords_file: Path) -> dict[str, str]:
    """The environment that makes ``admin`` and each reviewer a SimpleAuthManager user (role ``user``: may answer
    what it is assigned) with :func:`password_of` as password, written to ``passwords_file``."""
    users = [ADMIN, *dict.fromkeys(reviewers)]
    passwords_file.write_text(json.dumps({u: password_of(u) for u in users}))
    return {
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(
            f"{u}:{'admin' if u == ADMIN else 'user'}" for u in users),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords_file),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
    }


class Api(HttpAirflowApi):
    """Airflow's REST API as one user (logged in with a password): over HTTP (``base_url``), or in this process
    through the api-server's own app (``app``)."""

    def __init__(self, user: str, *, base_url: str | None = None, app: Any = None) -> None:
        super().__init__(base_url or "http://testserver")
        self.user = user
        self._client = None
        if app is not None:
            from fastapi.testclient import TestClient

            self._client = TestClient(app)
        status, body = self._send("POST", "/auth/token", {"username": user, "password": password_of(user)})
        if status != 201:
            raise RuntimeError(f"POST /auth/token as {user} answered {status}: {body}")
        self._token = body["access_token"]

    def _send(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        if self._client is None:
            return super()._send(method, path, body)
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}
        answer = self._client.request(method, path, json=body, headers=headers)
        return answer.status_code, answer.json() if answer.content else None


def in_process_app() -> Any:
    """The api-server's FastAPI app (public API and auth manager) on this process's metadata database."""
    from airflow.api_fastapi.app import create_app

    return create_app(apps="core")


def waiting(api: Api, dag_id: str, run_id: str) -> list[dict[str, Any]]:
    """The run's decision tasks waiting for an answer (each with its map index, assigned users, form)."""
    status, body = api.call("GET", f"/api/v2/dags/{quote(dag_id, safe='')}/dagRuns/{quote(run_id, safe='')}/"
                                   f"hitlDetails?task_id={DECIDE}&response_received=false&limit=1000")
    if status != 200:
        raise RuntimeError(f"GET hitlDetails answered {status}: {body}")
    return sorted(body["hitl_details"], key=lambda d: d["task_instance"]["map_index"])


def wait_for(api: Api, dag_id: str, run_id: str, count: int, *, timeout: float, alive: Any = None) -> list[dict]:
    """Poll until ``count`` decision tasks wait (``alive()`` false or the timeout: RuntimeError)."""
    deadline = time.monotonic() + timeout
    while True:
        found = waiting(api, dag_id, run_id)
        if len(found) >= count:
            return found
        if alive is not None and not alive():
            raise RuntimeError(f"the run {run_id} ended with {len(found)} of {count} decision tasks asking")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(found)} of {count} decision tasks asked within {timeout:.0f} s")
        time.sleep(0.5)  # a polling interval, not synchronisation


def answer(api: Api, dag_id: str, run_id: str, detail: dict[str, Any], option: str, *,
           revoke: list[int] = (), justification: str = "") -> tuple[int, Any]:  # type: ignore[assignment]
    """PATCH one decision as ``api``'s user: every field of the form is sent back (as the UI does), the review's
    two with the given values."""
    fields = {name: (spec.get("value") if isinstance(spec, dict) else spec)
              for name, spec in (detail.get("params") or {}).items()}
    fields.update({"revoke": [str(n) for n in revoke], "justification": justification})
    path = hitl_path(dag_id, run_id, DECIDE, detail["task_instance"]["map_index"])
    return api.call("PATCH", path, {"chosen_options": [option], "params_input": fields})


def expire(dag_id: str, run_id: str, map_index: int) -> None:
    """Move one waiting decision task's deadline to now and run the scheduler's timeout sweep (Airflow 3.3+:
    ``SchedulerJobRunner.check_awaiting_input_timeouts``), which records the task's default as its answer."""
    import logging
    from types import SimpleNamespace

    from airflow.jobs.scheduler_job_runner import SchedulerJobRunner
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils import timezone
    from airflow.utils.session import create_session
    from sqlalchemy import update

    with create_session() as session:
        session.execute(update(TaskInstance).where(
            TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id, TaskInstance.task_id == DECIDE,
            TaskInstance.map_index == map_index).values(trigger_timeout=timezone.utcnow() - timedelta(seconds=1)))
    SchedulerJobRunner.check_awaiting_input_timeouts(SimpleNamespace(log=logging.getLogger("sweep")))


# -- the review demo (dev.py review-demo) ---------------------------------------------------------------------

def demo_table(out: Path, role: str = "Supervisor", reviewers: int = 3) -> list[str]:
    """Write a reviewer table for every direct holder of ``role``: the holders in ``reviewers`` contiguous
    shares, each reviewed by one active user who does not hold the role. The reviewers' emails."""
    from airflow_provider_genesys.access.review.scope import read_snapshot
    from tests.access_scenario import client_from_env

    with client_from_env() as client:
        snapshot = read_snapshot(client, [role])
    try:
        store = snapshot.store
        holders = [email for (email,) in store.rows(
            "SELECT DISTINCT u.email FROM grants g JOIN users u ON u.id = g.subject WHERE g.kind = 'user' AND "
            "u.state != 'deleted' ORDER BY u.email")]
        people = [email for (email,) in store.rows(
            "SELECT email FROM users WHERE state = 'active' AND email IS NOT NULL AND id NOT IN (SELECT subject "
            "FROM grants) ORDER BY email LIMIT ?", (reviewers,))]
    finally:
        snapshot.close()
    share = -(-len(holders) // len(people))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("user,reviewer\n" + "".join(f"{user},{people[n // share]}\n" for n, user in enumerate(holders)))
    return people


def demo_answers(dag_id: str, timeout: float) -> None:
    """Wait for the run's decision tasks, then answer as three reviewers: the first keeps all, the second
    revokes two items with a justification, the third does not answer (the default applies)."""
    import os

    home = Path(os.environ.get("AIRFLOW_HOME") or ".")
    passwords = home / "review-demo-passwords.json"
    os.environ.update(airflow_users([], passwords))
    app = in_process_app()
    admin = Api(ADMIN, app=app)
    from tests.approvals import running_run

    deadline = time.monotonic() + timeout
    while (run_id := running_run(admin, dag_id)) is None:
        if time.monotonic() > deadline:
            raise RuntimeError(f"no run of {dag_id} started within {timeout:.0f} s")
        time.sleep(0.5)  # a polling interval, not synchronisation
    while True:  # the open task's reviews: how many decision tasks will ask
        status, body = admin.call("GET", f"/api/v2/dags/{quote(dag_id, safe='')}/dagRuns/{quote(run_id, safe='')}/"
                                         "taskInstances/open/xcomEntries/return_value")
        if status == 200:
            opened = body["value"] if not isinstance(body["value"], str) else json.loads(body["value"])
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"the open task of {run_id} did not finish within {timeout:.0f} s")
        time.sleep(0.5)
    details = wait_for(admin, dag_id, run_id, len(opened), timeout=max(1.0, deadline - time.monotonic()))
    os.environ.update(airflow_users([u["id"] for d in details for u in d["assigned_users"]], passwords))
    for n, detail in enumerate(details):
        user = detail["assigned_users"][0]["id"]
        print(f"\n=== {detail['subject']} (map index {detail['task_instance']['map_index']}) ===\n"
              + "\n".join((detail.get("body") or "").splitlines()[:14]), flush=True)
        items = [int(k) for k in detail["params"]["revoke"]["schema"]["examples"]]
        if n == 0:
            status, _ = answer(Api(user, app=app), dag_id, run_id, detail, "Keep all",
                               justification="Everyone on my team still supervises a queue.")
            print(f"-> {user} answers Keep all ({status})", flush=True)
        elif n == 1:
            revoke = items[:2]
            status, _ = answer(Api(user, app=app), dag_id, run_id, detail, "Revoke selected", revoke=revoke,
                               justification="Moved to the billing team; no longer supervises.")
            print(f"-> {user} answers Revoke selected, items {revoke} ({status})", flush=True)
        else:
            expire(dag_id, run_id, detail["task_instance"]["map_index"])
            print(f"-> {user} does not answer: their deadline is moved to now and the scheduler's timeout sweep "
                  "applies the review's default (keep); `airflow dags test` runs no scheduler", flush=True)


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="The access review demo's reviewer table and answers.")
    sub = parser.add_subparsers(dest="command", required=True)
    table = sub.add_parser("table", help="write a reviewer table of three reviewers from the org")
    table.add_argument("--out", required=True, type=Path)
    answers = sub.add_parser("answer", help="answer the running review as three reviewers")
    answers.add_argument("--dag-id", default="genesys_access_review")
    answers.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args(argv)
    if args.command == "table":
        print(json.dumps({"reviewers": demo_table(args.out)}))
    else:
        demo_answers(args.dag_id, args.timeout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
