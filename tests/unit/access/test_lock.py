"""One apply per plan at a time, the pieces: the ledger's lock (a second holder is refused with who holds it,
a killed holder frees it), the lease on object storage (refused while live, taken over once expired, lost
by a holder that did not renew, released for the next one, best effort on a store without exclusive
create), and which copy of a ledger is newer."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from fsspec.implementations.memory import MemoryFileSystem

from airflow_provider_genesys.access.ledger import Ledger, LedgerConflictError, newer_copy, read_ledger
from airflow_provider_genesys.access.lock import ApplyLockedError, Lease, LedgerLock

PLAN = "s3://bucket/plans/run-1.json"


def test_a_second_lock_of_a_ledger_is_refused_naming_the_plan_the_lock_and_its_holder(tmp_path: Path) -> None:
    ledger = tmp_path / "plan.ledger.ndjson"
    with LedgerLock(ledger, PLAN):
        with pytest.raises(ApplyLockedError) as caught:
            LedgerLock(ledger, PLAN).acquire()
        message = str(caught.value)
        assert f"Another apply of the plan {PLAN} is running: the lock {ledger}.lock is held by host " \
            f"{socket.gethostname()}, pid {os.getpid()}, since 20" in message
        assert "stopped before sending anything" in message
    with LedgerLock(ledger, PLAN):  # released: the next apply takes it
        pass
    assert json.loads(Path(f"{ledger}.lock").read_text())["plan"] == PLAN, "the file stays, saying who held it"


HOLDER = textwrap.dedent("""
    import sys
    from airflow_provider_genesys.access.lock import LedgerLock
    LedgerLock(sys.argv[1], "plan").acquire()
    print("held", flush=True)
    sys.stdin.readline()
""")


def test_a_holder_killed_with_kill_9_does_not_block_the_next_apply(tmp_path: Path) -> None:
    ledger = tmp_path / "plan.ledger.ndjson"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(ledger)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        with pytest.raises(ApplyLockedError, match=f"pid {holder.pid}"):
            LedgerLock(ledger, "plan").acquire()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert holder.returncode == -signal.SIGKILL
    LedgerLock(ledger, "plan").acquire().release()


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def fs() -> Iterator[MemoryFileSystem]:
    memory = MemoryFileSystem()
    yield memory
    if memory.exists("/bucket"):  # the memory file system's store is one for the process
        memory.rm("/bucket", recursive=True)


def lease(fs: MemoryFileSystem, clock: Clock, warnings: list[str] | None = None, **options) -> Lease:
    return Lease(fs, "/bucket/plans/run-1.lease", PLAN, clock=clock,
                 warn=None if warnings is None else warnings.append, **options)


def test_a_live_lease_refuses_a_second_apply_naming_its_holder_until_it_is_released(fs) -> None:
    clock = Clock()
    first = lease(fs, clock).acquire()
    with pytest.raises(ApplyLockedError) as caught:
        lease(fs, clock).acquire()
    message = str(caught.value)
    assert f"Another apply of the plan {PLAN} is running: its lease /bucket/plans/run-1.lease/0000000001.json is " \
        f"held by host {socket.gethostname()}, pid {os.getpid()}, since 2027-01-15T08:00:00+00:00, renewed until " \
        "2027-01-15T08:05:00+00:00." in message
    first.release()
    second = lease(fs, clock).acquire()  # released: no waiting for the expiry
    assert second.number == 3  # 1 held, 2 released it, 3 now
    second.release()
    assert fs.ls("/bucket/plans/run-1.lease", detail=False) == ["/bucket/plans/run-1.lease/0000000004.json"], (
        "each claim removes the lower numbers: one object stays, the last release")


def test_an_expired_lease_is_taken_over_and_its_old_holder_stops_at_its_next_ledger_line(fs, tmp_path) -> None:
    clock = Clock()
    crashed = lease(fs, clock).acquire()
    clock.now += 299
    with pytest.raises(ApplyLockedError):
        lease(fs, clock).acquire()
    clock.now += 2  # past the 300 s: the holder did not renew (its worker froze, or died)
    taker = lease(fs, clock).acquire()
    ledger = Ledger(tmp_path / "plan.ledger.ndjson", "sha256:x", guard=crashed.check)
    with pytest.raises(ApplyLockedError, match="lost its lease"):
        ledger.start_run()
    assert not (tmp_path / "plan.ledger.ndjson").read_text(), "the line (and the write after it) never happened"
    taker.check()  # the taker holds it
    crashed._stop.set()
    taker.release()


def test_a_holder_that_renews_keeps_its_lease_past_the_first_expiry(fs) -> None:
    clock = Clock()
    holder = lease(fs, clock).acquire()
    for _ in range(10):  # 10 minutes, a check (a ledger line) every minute
        clock.now += 60
        holder.check()
    with pytest.raises(ApplyLockedError, match="is held by"):
        lease(fs, clock).acquire()
    holder.release()


class IgnoresExclusive(MemoryFileSystem):
    """A store that takes ``xb`` and overwrites anyway (an S3-compatible store ignoring If-None-Match)."""

    def _open(self, path, mode="rb", **kwargs):
        return super()._open(path, mode.replace("x", "w"), **kwargs)


class NoExclusiveMode(MemoryFileSystem):
    def _open(self, path, mode="rb", **kwargs):
        if "x" in mode:
            raise ValueError(f"unsupported file mode: {mode!r}")
        return super()._open(path, mode, **kwargs)


@pytest.mark.parametrize("store", [IgnoresExclusive, NoExclusiveMode])
def test_a_store_without_exclusive_create_gets_a_best_effort_lease_and_a_warning(store) -> None:
    clock, warnings = Clock(), []
    fs = store()
    try:
        first = lease(fs, clock, warnings).acquire()
        assert len(warnings) == 1
        assert "cannot create an object only if it is absent" in warnings[0]
        assert "best effort" in warnings[0]
        assert "ledger_path=" in warnings[0]
        with pytest.raises(ApplyLockedError):  # one started later still sees the live lease
            lease(fs, clock).acquire()
        first.release()
    finally:
        fs.rm("/bucket", recursive=True)


def test_a_store_that_refuses_duplicates_raises_no_warning(fs) -> None:
    warnings: list[str] = []
    held = lease(fs, Clock(), warnings).acquire()
    assert held.exclusive is True
    assert warnings == []
    held.release()


def test_the_newer_copy_of_a_ledger_is_the_one_that_continues_the_other() -> None:
    a, b, c = '{"type":"run","run":1}\n', '{"type":"intent","write":"1-1"}\n', '{"type":"outcome","write":"1-1"}\n'
    names = {"local_name": "/tmp/w1.ndjson", "remote_name": "s3://b/p.ledger.ndjson"}
    assert newer_copy(a, a + b, **names) == "remote"
    assert newer_copy(a + b, a, **names) == "local"
    assert newer_copy(a + b, a + b, **names) == "local"
    assert newer_copy("", a, **names) == "remote"
    assert newer_copy(a + '{"type":"inte', a + b, **names) == "remote", "a line cut by a kill is no line"
    with pytest.raises(LedgerConflictError) as caught:
        newer_copy(a + b, a + c, **names)
    assert "The ledger /tmp/w1.ndjson and its copy s3://b/p.ledger.ndjson differ from line 2 on" in str(caught.value)
    assert "make a new plan" in str(caught.value)


def test_a_line_cut_short_by_a_kill_does_not_swallow_the_next_one(tmp_path: Path) -> None:
    path = tmp_path / "plan.ledger.ndjson"
    path.write_text('{"type":"run","run":1,"plan":"sha256:x"}\n{"type":"intent","wri')
    ledger = Ledger(path, "sha256:x")
    ledger.start_run()
    ledger.close()
    assert [r["run"] for r in read_ledger(path.read_text().splitlines()).records] == [1, 2]
