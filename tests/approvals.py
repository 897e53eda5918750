"""Answer an Airflow approval (``ApprovalOperator``, Airflow 3.1+) through Airflow's public REST API.

The access demo (``dev.py access-demo``) and the deployment test approve or reject the access DAG's plan the
way a person's tool would: ``GET`` then ``PATCH /api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/
{task_id}/{map_index}/hitlDetails`` with ``{"chosen_options": ["Approve"]}``. Authentication is a token from
the SimpleAuthManager's ``GET /auth/token``, which answers only when ``simple_auth_manager_all_admins`` is on
(a development setting: both callers set it). Over HTTP (:class:`HttpAirflowApi`, a running api-server) or
in-process (:class:`InProcessAirflowApi`: the api-server's own FastAPI app on the same metadata database,
for ``airflow dags test``, which waits for a response "recorded from outside" and never answers itself).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.request
from typing import Any, Protocol
from urllib.parse import quote

APPROVE, REJECT = "Approve", "Reject"  # ApprovalOperator's fixed options


def hitl_path(dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> str:
    return (f"/api/v2/dags/{quote(dag_id, safe='')}/dagRuns/{quote(run_id, safe='')}/taskInstances/"
            f"{quote(task_id, safe='')}/{map_index}/hitlDetails")


class AirflowApi(Protocol):
    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]: ...


class HttpAirflowApi:
    """A running api-server at ``base_url`` (``http://host:port``)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = ""

    def _send(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.base_url}{path}", data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if self._token:
            request.add_header("Authorization", f"Bearer {self._token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status, json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        if not self._token:
            status, answer = self._send("GET", "/auth/token")
            if status != 201:
                raise RuntimeError(f"GET /auth/token answered {status} {answer}: "
                                   "turn simple_auth_manager_all_admins on")
            self._token = answer["access_token"]
        return self._send(method, path, body)


class InProcessAirflowApi:
    """The api-server's FastAPI app (public API and auth manager) in this process, on this metadata database."""

    def __init__(self) -> None:
        from airflow.api_fastapi.app import create_app
        from fastapi.testclient import TestClient

        self._client = TestClient(create_app(apps="core"))
        answer = self._client.get("/auth/token")
        if answer.status_code != 201:
            raise RuntimeError(f"GET /auth/token answered {answer.status_code}: turn simple_auth_manager_all_admins on")
        self._client.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        answer = self._client.request(method, path, json=body)
        return answer.status_code, answer.json() if answer.content else None


def running_run(api: AirflowApi, dag_id: str) -> str | None:
    """The id of ``dag_id``'s newest running run, if any (``airflow dags test`` names its run itself)."""
    status, answer = api.call("GET", f"/api/v2/dags/{quote(dag_id, safe='')}/dagRuns?state=running"
                                     "&order_by=-start_date&limit=1")
    if status == 404:  # the DAG is not serialised yet
        return None
    if status != 200:
        raise RuntimeError(f"GET dagRuns answered {status}: {answer}")
    runs = answer.get("dag_runs") or []
    return runs[0]["dag_run_id"] if runs else None


def pending(api: AirflowApi, dag_id: str, run_id: str, task_id: str) -> dict[str, Any] | None:
    """The approval's details once it waits for an answer (subject, body, options), else None."""
    status, detail = api.call("GET", hitl_path(dag_id, run_id, task_id))
    if status == 404:  # the task has not asked yet
        return None
    if status != 200:
        raise RuntimeError(f"GET hitlDetails answered {status}: {detail}")
    return None if detail.get("response_received") else detail


def wait_pending(api: AirflowApi, dag_id: str, run_id: str, task_id: str, *, timeout: float,
                 alive: Any = None) -> dict[str, Any]:
    """Poll :func:`pending` until the approval waits (``alive()`` false or the timeout: RuntimeError)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if alive is not None and not alive():
            raise RuntimeError(f"the run {run_id} ended before {task_id} asked for an answer")
        detail = pending(api, dag_id, run_id, task_id)
        if detail is not None:
            return detail
        time.sleep(0.5)
    raise RuntimeError(f"{task_id} of {dag_id} run {run_id} did not ask for an answer within {timeout:.0f} s")


def respond(api: AirflowApi, dag_id: str, run_id: str, task_id: str, option: str) -> dict[str, Any]:
    """Answer the approval with ``option`` (``Approve`` or ``Reject``); the REST API's response."""
    status, answer = api.call("PATCH", hitl_path(dag_id, run_id, task_id), {"chosen_options": [option]})
    if status != 200:
        raise RuntimeError(f"PATCH hitlDetails answered {status}: {answer}")
    return answer


def main(argv: list[str] | None = None) -> int:
    """Wait for the newest running run of ``--dag-id`` to ask ``--task-id``, show the question, answer it."""
    parser = argparse.ArgumentParser(description="Answer an Airflow approval through the REST API (in-process).")
    parser.add_argument("--dag-id", required=True)
    parser.add_argument("--task-id", default="approve")
    parser.add_argument("--answer", choices=("approve", "reject", "ask"), default="ask",
                        help="ask: show the body and read y/N from the terminal")
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args(argv)
    api = InProcessAirflowApi()
    deadline = time.monotonic() + args.timeout
    while (run_id := running_run(api, args.dag_id)) is None:
        if time.monotonic() > deadline:
            raise RuntimeError(f"no run of {args.dag_id} started within {args.timeout:.0f} s")
        time.sleep(0.5)
    detail = wait_pending(api, args.dag_id, run_id, args.task_id, timeout=max(1.0, deadline - time.monotonic()))
    print(f"\n=== {detail['subject']} ({args.dag_id} {run_id}) ===\n{detail.get('body') or ''}\n", flush=True)
    answer = args.answer
    if answer == "ask":
        reply = input("Approve these changes? [y/N] ") if sys.stdin.isatty() else "y"
        answer = "approve" if reply.strip().lower() in ("y", "yes") else "reject"
    option = APPROVE if answer == "approve" else REJECT
    respond(api, args.dag_id, run_id, args.task_id, option)
    print(f"answered {option!r} through PATCH {hitl_path(args.dag_id, run_id, args.task_id)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
