"""One apply per plan at a time, against the emulator and through the operator: a second apply started while
the first is inside a write stops at once, retryable, saying who holds the plan (a local plan's lock; a plan
on object storage's lease, from another worker's ledger), and nothing is sent twice; a holder killed with
kill -9 does not block the rerun; the verify sensor reads the ledger while apply holds it; and a worker's
stale copy of the ledger is replaced by the newer one beside the plan, never the other way round."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
from collections import Counter
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk import ObjectStoragePath
from airflow.sdk.io import attach
from fsspec.implementations.memory import MemoryFileSystem

from airflow_provider_genesys._compat import AirflowException, AirflowFailException
from airflow_provider_genesys.access.apply import Applier
from airflow_provider_genesys.access.ledger import read_ledger
from airflow_provider_genesys.access.lock import Lease
from airflow_provider_genesys.operators import access as operators
from airflow_provider_genesys.operators.access import beside
from airflow_provider_genesys.sensors.access import GenesysAccessVerifySensor
from airflow_provider_genesys.testing import GenesysCloudEmulator
from tests.unit.access.test_apply_emulator import apply, desired_rows, make_plan, start, writes_sent


@pytest.fixture
def emu(monkeypatch: pytest.MonkeyPatch) -> Iterator[GenesysCloudEmulator]:
    emulator = start(monkeypatch)
    yield emulator
    emulator.stop()


@pytest.fixture
def bucket(tmp_path: Path) -> Iterator[str]:
    """A folder on fsspec's in-memory file system, as Airflow's ``ObjectStoragePath`` opens ``memory://``."""
    memory = MemoryFileSystem()
    attach("memory", fs=memory)
    folder = f"/bucket/{tmp_path.name}"
    yield f"memory://{folder.lstrip('/')}"
    if memory.exists(folder):
        memory.rm(folder, recursive=True)


def inside_first_write(monkeypatch: pytest.MonkeyPatch, action: Callable[[], Any]) -> list[Any]:
    """Run ``action`` once, while the next apply is inside its first write (sent, outcome recorded)."""
    seen: list[Any] = []

    class Paused(Applier):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, on_write=self.pause, **kwargs)

        def pause(self, write: Any) -> None:
            if not seen:
                seen.append(write)
                try:
                    seen.append(action())
                except Exception as err:
                    seen.append(err)

    monkeypatch.setattr(operators, "Applier", Paused)
    return seen


def intents_per_change(ledger_text: str) -> Counter:
    return Counter(i for r in read_ledger(ledger_text.splitlines()).records if r["type"] == "intent"
                   for i in r["changes"])


def test_a_second_apply_of_a_local_plan_stops_at_once_and_nothing_is_sent_twice(emu, tmp_path, monkeypatch):
    plan_uri = make_plan(tmp_path, desired_rows())
    seen = inside_first_write(monkeypatch, lambda: apply(plan_uri))
    result = apply(plan_uri)
    _, second = seen
    assert isinstance(second, AirflowException)
    assert not isinstance(second, AirflowFailException), "retryable: a retry beside a dead zombie proceeds"
    message = str(second)
    assert f"Another apply of the plan {plan_uri} is running: the lock {tmp_path / 'plan.ledger.ndjson.lock'} is " \
        f"held by host {socket.gethostname()}, pid {os.getpid()}, since 20" in message
    assert "If that apply is still running, let it finish" in message
    assert result["settled"] == result["changes"] == 15
    assert sum(writes_sent(emu).values()) == result["writes"], "the second apply sent nothing"
    assert set(intents_per_change((tmp_path / "plan.ledger.ndjson").read_text()).values()) == {1}


def test_a_second_apply_from_another_worker_of_a_plan_on_object_storage_stops_at_the_lease(
        emu, tmp_path, bucket, monkeypatch):
    plan_uri = make_plan(tmp_path, desired_rows(), name="plan.json")
    plan = ObjectStoragePath(f"{bucket}/plan.json")
    plan.write_text(Path(plan_uri.removeprefix("file://")).read_text())
    worker_2 = str(tmp_path / "worker-2.ledger.ndjson")
    seen = inside_first_write(monkeypatch, lambda: apply(str(plan), ledger_path=worker_2))
    result = apply(str(plan), ledger_path=str(tmp_path / "worker-1.ledger.ndjson"))
    _, second = seen
    assert isinstance(second, AirflowException)
    assert not isinstance(second, AirflowFailException)
    message = str(second)
    assert f"Another apply of the plan {plan} is running: its lease /bucket/{tmp_path.name}/plan.lease/0000000001" \
        f".json is held by host {socket.gethostname()}, pid {os.getpid()}, since 20" in message
    assert "If its worker died, the lease expires at that time" in message
    assert not Path(worker_2).exists(), "the second apply stopped before reading or writing a ledger"
    assert sum(writes_sent(emu).values()) == result["writes"]
    assert set(intents_per_change(beside(plan, f"{bucket}/plan.ledger.ndjson").read_text()).values()) == {1}
    lease = json.loads(ObjectStoragePath(f"{bucket}/plan.lease/0000000002.json").read_text())
    assert lease["released"], "released when apply ended: the next apply need not wait for the expiry"


def test_an_apply_whose_lease_was_taken_over_stops_before_its_next_write(emu, tmp_path, bucket, monkeypatch):
    plan_uri = make_plan(tmp_path, desired_rows())
    plan = ObjectStoragePath(f"{bucket}/plan.json")
    plan.write_text(Path(plan_uri.removeprefix("file://")).read_text())
    clock = [1_800_000_000.0]
    monkeypatch.setattr(operators, "Lease", partial(Lease, clock=lambda: clock[0]))
    takers: list[Lease] = []

    def freeze_past_the_expiry_and_take_over() -> None:
        clock[0] += 301  # this worker froze for longer than the lease: another one takes the plan over
        takers.append(Lease(plan.fs, f"/bucket/{tmp_path.name}/plan.lease", str(plan), clock=lambda: clock[0]))
        takers[0].acquire()

    inside_first_write(monkeypatch, freeze_past_the_expiry_and_take_over)
    with pytest.raises(AirflowException, match="lost its lease") as caught:
        apply(str(plan), ledger_path=str(tmp_path / "worker-1.ndjson"))
    assert not isinstance(caught.value, AirflowFailException)
    assert sum(writes_sent(emu).values()) == 1, "stopped before its second write"
    assert not ObjectStoragePath(f"{bucket}/plan.ledger.ndjson").exists(), "the taker's ledger copy is left alone"
    takers[0].release()


PAUSED = textwrap.dedent("""
    import sys
    from airflow_provider_genesys.access.apply import Applier
    from airflow_provider_genesys.operators import access
    from airflow_provider_genesys.operators.access import GenesysAccessApplyOperator

    class Paused(Applier):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, on_write=self.pause, **kwargs)

        def pause(self, write):
            print("paused", flush=True)
            sys.stdin.readline()  # until the test kills this process

    access.Applier = Paused
    GenesysAccessApplyOperator(task_id="apply", plan=sys.argv[1]).execute({})
""")


def test_an_apply_in_another_process_blocks_a_second_one_until_it_is_killed(emu, tmp_path) -> None:
    plan_uri = make_plan(tmp_path, desired_rows())
    first = subprocess.Popen([sys.executable, "-c", PAUSED, plan_uri], env={**os.environ}, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    try:
        assert "paused\n" in iter(first.stdout.readline, ""), "the first apply sent a write and paused"
        with pytest.raises(AirflowException, match=f"pid {first.pid}, since ") as caught:
            apply(plan_uri)
        assert not isinstance(caught.value, AirflowFailException)
        assert sum(writes_sent(emu).values()) == 1
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    result = apply(plan_uri)  # the kernel released the dead holder's lock
    assert result["settled"] == 15
    assert sum(writes_sent(emu).values()) == 1 + result["writes"]
    assert set(intents_per_change((tmp_path / "plan.ledger.ndjson").read_text()).values()) == {1}


def test_the_verify_sensor_reads_the_ledger_while_apply_holds_its_lock(emu, tmp_path, monkeypatch) -> None:
    plan_uri = make_plan(tmp_path, desired_rows())
    sensor = GenesysAccessVerifySensor(task_id="verify", plan=plan_uri, timeout=900, mode="reschedule")
    seen = inside_first_write(monkeypatch, lambda: sensor.poke({}))
    apply(plan_uri)
    _, poked = seen
    assert poked is True, "not blocked: the first write's changes show, the rest are not in the ledger yet"
    assert sensor.poke({}) is True


class Interrupted(Exception):
    pass


def interrupt_after(monkeypatch: pytest.MonkeyPatch, writes: int) -> None:
    class Cut(Applier):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, on_write=self.cut, **kwargs)

        def cut(self, write: Any) -> None:
            if self.result.writes == writes:
                raise Interrupted

    monkeypatch.setattr(operators, "Applier", Cut)


def test_a_workers_stale_ledger_gives_way_to_the_newer_copy_beside_the_plan(monkeypatch, tmp_path, bucket) -> None:
    emu = start(monkeypatch, propagation_delay_seconds=120)  # reads cannot tell what was already sent
    try:
        plan_uri = make_plan(tmp_path, desired_rows())
        plan = ObjectStoragePath(f"{bucket}/plan.json")
        plan.write_text(Path(plan_uri.removeprefix("file://")).read_text())
        copy = ObjectStoragePath(f"{bucket}/plan.ledger.ndjson")
        worker_1, worker_2 = str(tmp_path / "worker-1.ndjson"), str(tmp_path / "worker-2.ndjson")
        with monkeypatch.context() as patch:
            interrupt_after(patch, 2)
            with pytest.raises(Interrupted):
                apply(str(plan), ledger_path=worker_1)  # its ledger is copied beside the plan as it fails
        rest = apply(str(plan), ledger_path=worker_2)  # the task's retry, on another worker
        assert rest["settled"] == 15
        sent = sum(writes_sent(emu).values())
        assert sent == 2 + rest["writes"]
        newer = copy.read_text()
        again = apply(str(plan), ledger_path=worker_1)  # a later retry back on the first worker
        assert sum(writes_sent(emu).values()) == sent, "the stale ledger was not used: nothing sent again"
        assert again["writes"] == 0
        assert copy.read_text().startswith(newer), "the newer ledger beside the plan was not overwritten"
        assert Path(worker_1).read_text() == copy.read_text()
        assert set(intents_per_change(copy.read_text()).values()) == {1}
    finally:
        emu.stop()


def test_two_copies_of_a_ledger_that_diverged_stop_apply_naming_both(emu, tmp_path, bucket, monkeypatch) -> None:
    plan_uri = make_plan(tmp_path, desired_rows())
    plan = ObjectStoragePath(f"{bucket}/plan.json")
    plan.write_text(Path(plan_uri.removeprefix("file://")).read_text())
    copy = ObjectStoragePath(f"{bucket}/plan.ledger.ndjson")
    worker_1 = tmp_path / "worker-1.ndjson"
    with monkeypatch.context() as patch:
        interrupt_after(patch, 2)
        with pytest.raises(Interrupted):
            apply(str(plan), ledger_path=str(worker_1))
    common = copy.read_text()
    run = json.loads(common.splitlines()[0])
    worker_1.write_text(common + json.dumps({**run, "run": 2, "time": "a"}) + "\n")  # each went on alone
    copy.write_text(common + json.dumps({**run, "run": 2, "time": "b"}) + "\n")
    before = sum(writes_sent(emu).values())
    with pytest.raises(AirflowFailException) as caught:
        apply(str(plan), ledger_path=str(worker_1))
    assert f"The ledger {worker_1} and its copy {copy} differ from line" in str(caught.value)
    assert sum(writes_sent(emu).values()) == before, "nothing sent"
    assert copy.read_text().endswith('"time": "b"}\n'), "neither copy was overwritten"


def test_the_ledger_and_report_beside_a_plan_use_the_plans_connection() -> None:
    plan = ObjectStoragePath("memory://bucket/plans/p.json", conn_id="lake")
    assert beside(plan, "memory://bucket/plans/p.ledger.ndjson").conn_id == "lake"
