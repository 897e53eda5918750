"""GenesysCloudJobTrigger run for real against the emulator: one terminal event, idempotent GETs only."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from functools import cached_property
from typing import Any

import msgspec
import pytest
from airflow.jobs.triggerer_job_runner import TriggerCommsDecoder
from airflow.sdk.execution_time import task_runner
from airflow.sdk.execution_time.comms import ConnectionResult, _RequestFrame, _ResponseFrame
from airflow.triggers.base import TriggerEvent

from airflow_provider_genesys.client import GenesysCloudClient
from airflow_provider_genesys.hooks.genesys import GenesysCloudHook
from airflow_provider_genesys.testing import GenesysCloudEmulator
from airflow_provider_genesys.triggers.genesys import GenesysCloudJobTrigger

JOB_SECONDS = 30.0


@pytest.fixture
def emu(monkeypatch: pytest.MonkeyPatch) -> Iterator[GenesysCloudEmulator]:
    with GenesysCloudEmulator(users=20, job_seconds=JOB_SECONDS) as emulator:
        conn = emulator.connection_dict(max_attempts=2, backoff_base=0.01)
        monkeypatch.setenv("AIRFLOW_CONN_GENESYS_CLOUD_DEFAULT", json.dumps(conn))
        yield emulator


@pytest.fixture
def hook_sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The hook's retry/pacing waits, recorded instead of slept (they run in the trigger's thread)."""
    sleeps: list[float] = []

    def client(self: GenesysCloudHook) -> GenesysCloudClient:
        return GenesysCloudClient(self.settings, sleep=sleeps.append)

    prop = cached_property(client)
    prop.__set_name__(GenesysCloudHook, "client")
    monkeypatch.setattr(GenesysCloudHook, "client", prop)
    return sleeps


@pytest.fixture
def loop_sleeps(monkeypatch: pytest.MonkeyPatch, emu: GenesysCloudEmulator) -> list[float]:
    """The trigger's poll waits: recorded, and the emulator's clock moves on instead of the test waiting."""
    sleeps: list[float] = []
    real_sleep = asyncio.sleep

    async def fake_sleep(seconds: float, *args: Any) -> None:
        sleeps.append(seconds)
        emu.advance_clock(seconds)
        await real_sleep(0)

    monkeypatch.setattr("airflow_provider_genesys.triggers.genesys.asyncio.sleep", fake_sleep)
    return sleeps


def submit(emu: GenesysCloudEmulator) -> str:
    hook = GenesysCloudHook()
    body = {"interval": "2020-01-01T00:00:00Z/2030-01-01T00:00:00Z", "serviceName": "PeoplePermissions"}
    return hook.request("POST", "/api/v2/audits/query", json=body)["id"]


def collect(trigger: GenesysCloudJobTrigger) -> list[dict[str, Any]]:
    async def run() -> list[TriggerEvent]:
        return [event async for event in trigger.run()]

    return [event.payload for event in asyncio.run(run())]


def test_serialize_round_trips() -> None:
    trigger = GenesysCloudJobTrigger(job_id="tx", genesys_conn_id="gc", poll_interval=5, end_time=123.5)
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_genesys.triggers.genesys.GenesysCloudJobTrigger"
    assert json.loads(json.dumps(kwargs)) == kwargs
    assert GenesysCloudJobTrigger(**kwargs).serialize() == (classpath, kwargs)


def test_polls_until_succeeded_then_yields_one_event(
    emu: GenesysCloudEmulator, loop_sleeps: list[float]
) -> None:
    job_id = submit(emu)
    events = collect(GenesysCloudJobTrigger(job_id=job_id, poll_interval=10))
    assert events == [
        {
            "status": "success",
            "job_id": job_id,
            "job_type": "audit_query",
            "state": "Succeeded",
            "message": f"Genesys audit_query job {job_id} ended Succeeded",
        }
    ]
    assert loop_sleeps == [10.0, 10.0, 10.0]  # Queued, Running, Running, then Succeeded
    assert emu.stats.by_path["POST /api/v2/audits/query"] == 1  # submitted once, by the test; never again
    assert emu.stats.by_path["GET /api/v2/audits/query/{transactionId}"] == 4


@pytest.mark.parametrize("state", ["Failed", "Cancelled"])
def test_failed_and_cancelled_jobs(emu: GenesysCloudEmulator, loop_sleeps: list[float], state: str) -> None:
    emu.faults.job_state(state)
    job_id = submit(emu)
    (event,) = collect(GenesysCloudJobTrigger(job_id=job_id, poll_interval=10))
    assert (event["status"], event["state"]) == ("failed", state)
    assert f"ended {state}" in event["message"]


def test_unknown_job_is_an_error_event(emu: GenesysCloudEmulator, loop_sleeps: list[float]) -> None:
    (event,) = collect(GenesysCloudJobTrigger(job_id="no-such-job", poll_interval=10))
    assert event["status"] == "error"
    assert "404" in event["message"]
    assert loop_sleeps == []


def test_429_is_waited_out_in_the_thread(
    emu: GenesysCloudEmulator, loop_sleeps: list[float], hook_sleeps: list[float]
) -> None:
    job_id = submit(emu)
    emu.advance_clock(JOB_SECONDS)
    emu.faults.rate_limit(retry_after=7, count=1, path=r"^/api/v2/audits/query/[^/]+$")
    (event,) = collect(GenesysCloudJobTrigger(job_id=job_id, poll_interval=10))
    assert event["status"] == "success"
    assert 7 in hook_sleeps  # Retry-After honoured by the hook's retry inside to_thread
    assert loop_sleeps == []
    assert emu.stats.rate_limited == 1


def test_busy_api_after_the_hooks_retries_keeps_polling(
    emu: GenesysCloudEmulator, loop_sleeps: list[float], hook_sleeps: list[float]
) -> None:
    job_id = submit(emu)
    emu.advance_clock(JOB_SECONDS)
    emu.faults.status(503, count=2, path=r"^/api/v2/audits/query/[^/]+$")  # both of the hook's attempts
    (event,) = collect(GenesysCloudJobTrigger(job_id=job_id, poll_interval=10))
    assert event["status"] == "success"
    assert loop_sleeps == [10.0]


def test_timeout_event(emu: GenesysCloudEmulator, loop_sleeps: list[float]) -> None:
    job_id = submit(emu)
    (event,) = collect(GenesysCloudJobTrigger(job_id=job_id, poll_interval=10, end_time=time.time() - 1))
    assert event["status"] == "timeout"
    assert "did not end in time" in event["message"]


def test_bad_connection_is_an_error_event(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_GENESYS_CLOUD_DEFAULT",
        json.dumps(
            {
                "conn_type": "genesys_cloud",
                "login": "id",
                "password": "pw",
                "extra": {"region": "mars_north_1"},
            }
        ),
    )
    (event,) = collect(GenesysCloudJobTrigger(job_id="tx"))
    assert event["status"] == "error"
    assert "mars_north_1" in event["message"]


def test_event_loop_keeps_running_while_a_request_is_in_flight(emu: GenesysCloudEmulator) -> None:
    job_id = submit(emu)
    emu.advance_clock(JOB_SECONDS)
    emu.faults.slow(ms=400, count=1, path=r"^/api/v2/audits/query/[^/]+$")
    ticks: list[float] = []

    async def ticker(done: asyncio.Event) -> None:
        while not done.is_set():
            ticks.append(time.monotonic())
            await asyncio.sleep(0.02)

    async def main() -> list[TriggerEvent]:
        done = asyncio.Event()
        tick_task = asyncio.create_task(ticker(done))
        events = [event async for event in GenesysCloudJobTrigger(job_id=job_id).run()]
        done.set()
        await tick_task
        return events

    events = asyncio.run(main())
    assert [e.payload["status"] for e in events] == ["success"]
    assert len(ticks) >= 10  # a blocking GET would have frozen the ticker for the whole 400 ms


def _serve_supervisor(sock: socket.socket, conn: dict[str, Any], asked: list[str]) -> None:
    """The triggerer supervisor's side of the comms socket: answers GetConnection (as if from the DB)."""
    decoder = msgspec.msgpack.Decoder(_RequestFrame)
    with sock:
        while header := sock.recv(4, socket.MSG_WAITALL):
            frame = decoder.decode(sock.recv(int.from_bytes(header, "big"), socket.MSG_WAITALL))
            body = frame.body or {}
            asked.append(body.get("type", ""))
            if body.get("type") == "GetConnection":
                answer = ConnectionResult(conn_id=body["conn_id"], **conn).model_dump(by_alias=True)
            else:  # MaskSecret and the like: acknowledged with an empty answer, as the supervisor does
                answer = None
            sock.sendall(_ResponseFrame(id=frame.id, body=answer).as_bytes())


def test_connection_from_the_triggerer_supervisor(
    emu: GenesysCloudEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """
    In ``airflow triggerer`` a connection that is not in the environment comes from the supervisor over
    ``TriggerCommsDecoder`` (the real one here). Its sync ``send`` only works off the event loop (from the
    loop it needs greenback's portal, which this test does not open), so a lookup moved onto the loop fails.
    """
    job_id = submit(emu)
    emu.advance_clock(JOB_SECONDS)
    stored = emu.connection_dict()
    conn = {**stored, "extra": json.dumps(stored["extra"]), "host": None, "schema": None, "port": None}
    asked: list[str] = []
    runner_sock, supervisor_sock = socket.socketpair()
    supervisor = threading.Thread(target=_serve_supervisor, args=(supervisor_sock, conn, asked), daemon=True)
    supervisor.start()

    async def main() -> list[TriggerEvent]:
        reader, writer = await asyncio.open_connection(sock=runner_sock)
        comms = TriggerCommsDecoder(socket=runner_sock, async_writer=writer, async_reader=reader)
        if hasattr(comms, "start_reader"):  # Airflow >= 3.3; earlier decoders read replies on demand
            await comms.start_reader()
        monkeypatch.setattr(task_runner, "SUPERVISOR_COMMS", comms, raising=False)
        try:
            trigger = GenesysCloudJobTrigger(job_id=job_id, genesys_conn_id="genesys_from_metadata_db")
            return [event async for event in trigger.run()]
        finally:
            writer.close()

    events = asyncio.run(main())
    supervisor.join(timeout=10)
    assert [e.payload["status"] for e in events] == ["success"]
    assert "GetConnection" in asked
