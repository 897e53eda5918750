"""The fault matrix: each fault class against a real extract, ending in the exact file or a clean failure.

Every row runs ``GenesysCloudExtractOperator`` (users, 3 pages) against the emulator with one scripted
fault, and asserts either that the file holds exactly the org's users, or that the task failed with the
expected error and left nothing behind (no destination, no temporary file). Redirect rows also run a
second, independent loopback server (the "other host") and assert it received nothing.

Timeouts are small (0.5 s + 1 s) so a trickled answer hits its deadline in 1.5 s, while each trickled byte
(10-25 ms apart) stays 40-100 times inside the read timeout even on a loaded machine: what ends the call is
the deadline, not a read timeout.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import fsspec.implementations.local
import pytest

from airflow_provider_genesys._compat import AirflowFailException
from airflow_provider_genesys.exceptions import GenesysCloudApiError
from airflow_provider_genesys.extract import writer
from airflow_provider_genesys.operators.genesys import GenesysCloudExtractOperator
from airflow_provider_genesys.testing import GenesysCloudEmulator

CONN_ENV = "AIRFLOW_CONN_GENESYS_CLOUD_DEFAULT"
CONNECT_TIMEOUT, READ_TIMEOUT = 0.5, 1.0
MAX_RETRY_TIME = 2.0
USERS = r"^/api/v2/users$"
TOKEN = r"^/oauth/token$"


class OtherHost:
    """An independent loopback server a redirect points at; it records every request it receives."""

    def __init__(self) -> None:
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                received.append((self.command, self.path, dict(self.headers), self.rfile.read(length)))
                body = b'{"access_token": "other-host-token", "expires_in": 3600, "entities": []}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_GET

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        # shutdown() waits for serve_forever's next poll: 0.05 s, not the default 0.5 s, after each of ~25 tests
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class World:
    emu: GenesysCloudEmulator
    other: OtherHost
    folder: Path
    monkeypatch: pytest.MonkeyPatch


@dataclass(frozen=True)
class Row:
    name: str
    setup: Callable[[World], None]
    error: type[Exception] | None = None  # None: the extract succeeds with the exact file
    match: str = ""
    other_host_untouched: bool = False
    # 3 s of real time each (a deadline only real time proves): in the full run, not in `test --quick`, which
    # keeps the deadline itself (tests/unit/test_transport.py) and the trickled rows that recover ("once")
    slow: bool = False


def _disk_full(world: World) -> None:
    real = writer.encode_record
    written = iter(range(10**9))

    def encode(record: Any) -> bytes:
        if next(written) == 700:  # page 2 of 3: the temporary file already holds data
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(record)

    world.monkeypatch.setattr(writer, "encode_record", encode)


def _read_only(world: World) -> None:
    real = fsspec.implementations.local.LocalFileSystem._open

    def refuse(self: Any, path: str, mode: str = "rb", *args: Any, **kwargs: Any) -> Any:
        if "w" in mode:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), path)
        return real(self, path, mode, *args, **kwargs)

    world.monkeypatch.setattr(fsspec.implementations.local.LocalFileSystem, "_open", refuse)


ROWS = [
    Row("5xx burst", lambda w: w.emu.faults.status(503, count=2, after=1, path=USERS)),
    Row("429 storm", lambda w: w.emu.faults.rate_limit(retry_after=0, count=3, path=USERS)),
    Row("dropped connection", lambda w: w.emu.faults.drop(count=1, after=1, path=USERS)),
    Row("cut API body", lambda w: w.emu.faults.truncate(count=1, after=1, path=USERS)),
    Row("cut token body", lambda w: w.emu.faults.truncate(count=1, path=TOKEN)),
    Row("trickled API body, once", lambda w: w.emu.faults.trickle(ms=10, count=1, after=1, path=USERS)),
    Row("trickled token body, once", lambda w: w.emu.faults.trickle(ms=25, count=1, path=TOKEN)),
    Row(
        "trickled API body, always",
        lambda w: w.emu.faults.trickle(ms=10, count=None, after=1, path=USERS),
        GenesysCloudApiError, r"no complete answer within 1.5 s .*\d+x DeadlineExceeded", slow=True,
    ),
    Row(
        "trickled API headers, always",
        lambda w: w.emu.faults.trickle(ms=10, part="all", count=None, path=USERS),
        GenesysCloudApiError, r"no complete answer within 1.5 s .*\d+x DeadlineExceeded", slow=True,
    ),
    Row(
        "trickled token body, always",
        lambda w: w.emu.faults.trickle(ms=25, count=None, path=TOKEN),
        GenesysCloudApiError, r"POST /oauth/token failed: .*\d+x DeadlineExceeded", slow=True,
    ),
    *(
        Row(
            f"token endpoint {status} to another host",
            lambda w, status=status: w.emu.faults.redirect(w.other.url + "/oauth/token", status=status, path=TOKEN),
            AirflowFailException, rf"POST /oauth/token .* answered {status} redirecting to http://127\.0\.0\.1:\d+;",
            other_host_untouched=True,
        )
        for status in (301, 302, 307)
    ),
    *(
        Row(
            f"API page {status} to another host",
            lambda w, status=status: w.emu.faults.redirect(
                w.other.url + "/api/v2/users", status=status, after=1, path=USERS
            ),
            AirflowFailException, rf"GET /api/v2/users .* answered {status} redirecting to http://127\.0\.0\.1:\d+; r",
            other_host_untouched=True,
        )
        for status in (301, 302, 307)
    ),
    Row("disk full", _disk_full, AirflowFailException, r"Could not write .*users\.ndjson: the disk is full"),
    Row("read-only file system", _read_only, AirflowFailException, r"users\.ndjson: the file system is read-only"),
]


@pytest.fixture(scope="module")
def emu() -> Iterator[GenesysCloudEmulator]:
    with GenesysCloudEmulator(users=1100, seed=71) as emulator:
        yield emulator


@pytest.fixture
def world(emu: GenesysCloudEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    emu.faults.clear()
    extra = {
        "connect_timeout": CONNECT_TIMEOUT,
        "read_timeout": READ_TIMEOUT,
        "max_retry_time": MAX_RETRY_TIME,
        "max_attempts": 4,
        "backoff_base": 0.01,
    }
    monkeypatch.setenv(CONN_ENV, json.dumps(emu.connection_dict(**extra)))
    other = OtherHost()
    yield World(emu, other, tmp_path / "out", monkeypatch)
    other.close()
    emu.faults.clear()


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize(
    "row", [pytest.param(row, id=row.name, marks=[pytest.mark.slow] if row.slow else []) for row in ROWS]
)
def test_fault_ends_in_the_exact_file_or_a_clean_failure(world: World, row: Row) -> None:
    destination = world.folder / "users.ndjson"
    op = GenesysCloudExtractOperator(task_id="users", dataset="users", destination=str(destination))
    row.setup(world)
    started = time.monotonic()
    if row.error is None:
        assert op.execute({})["records"] == 1100
        ids = [user["id"] for user in _lines(destination)]
        assert len(ids) == len(set(ids))
        assert set(ids) == set(world.emu.org.user_ids("any"))
        assert sorted(p.name for p in world.folder.iterdir()) == ["users.ndjson"]  # no temporary file
    else:
        with pytest.raises(row.error, match=row.match) as caught:
            op.execute({})
        assert world.emu.client_secret not in str(caught.value)
        assert not world.folder.exists() or list(world.folder.iterdir()) == []
    # The call bound (docs/connection.md): max_retry_time + connect_timeout + read_timeout per retried call
    # (a token fetch is a call of its own). Generous slack for a loaded machine; a hang would take minutes.
    assert time.monotonic() - started < 2 * (MAX_RETRY_TIME + CONNECT_TIMEOUT + READ_TIMEOUT) + 10
    if row.other_host_untouched:
        assert world.other.received == []


def test_the_other_host_would_have_received_what_a_redirect_sent(world: World) -> None:
    """Guards the redirect rows: the other host records requests, so 'received nothing' means something."""
    import requests

    requests.post(world.other.url + "/oauth/token", data={"refresh_token": "r"}, timeout=5)
    assert world.other.received[0][3] == b"refresh_token=r"


def test_same_origin_redirect_is_followed(world: World) -> None:
    from airflow_provider_genesys.hooks.genesys import GenesysCloudHook

    fault = world.emu.faults.redirect("/api/v2/organizations/me?followed=1", status=302, path=r"organizations/me$")
    with GenesysCloudHook() as hook:
        assert hook.get_organization()["id"]
    assert fault.fired == 1


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_killed_runs_temporary_file_is_swept_and_a_live_one_kept(world: World) -> None:
    world.folder.mkdir()
    owner, now = writer._owner(), int(time.time())
    dead = world.folder / f".users.ndjson.tmp-{owner}-{_dead_pid()}-{now}-aaaaaaaaaaaa"
    live = world.folder / f".users.ndjson.tmp-{owner}-{os.getppid()}-{now}-bbbbbbbbbbbb"
    elsewhere_recent = world.folder / f".users.ndjson.tmp-otherhost.abcdef-12-{now}-cccccccccccc"
    elsewhere_old = world.folder / f".users.ndjson.tmp-otherhost.abcdef-12-{now - 2 * 86400}-dddddddddddd"
    other_destination = world.folder / f".roles.ndjson.tmp-{owner}-{_dead_pid()}-{now}-eeeeeeeeeeee"
    for path in (dead, live, elsewhere_recent, elsewhere_old, other_destination):
        path.write_text('{"id": "half"')
    op = GenesysCloudExtractOperator(
        task_id="users", dataset="users", destination=str(world.folder / "users.ndjson")
    )
    assert op.execute({})["records"] == 1100
    assert sorted(p.name for p in world.folder.iterdir()) == sorted(
        [live.name, elsewhere_recent.name, other_destination.name, "users.ndjson"]
    )


def test_file_uri_with_a_host_fails_instead_of_writing_under_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(AirflowFailException, match=r"names host 'data' after file:// .* file:///data/x\.ndjson"):
        GenesysCloudExtractOperator(task_id="x", dataset="roles", destination="file://data/x.ndjson")
    assert list(tmp_path.iterdir()) == []
