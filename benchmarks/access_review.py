"""Access reviews on a 10,000-user org: the requests opening a review costs against the users-and-grants extract
of the same org, and the memory of opening and closing as the number of items grows.

    .venv/bin/python -m benchmarks.access_review [--users 10000] [--limit 300] [--window 60]   (from the clone's root)

- ``requests``: one emulator allowing ``limit`` requests per ``window`` seconds per token (Genesys' documented
  300 a minute by default). The baseline is the users and grants extracts of the org (``run_extract``, as
  ``benchmarks/access_sync.py`` measures it); then a review of the Supervisors opened as the open operator
  does (the org's names, every user, the managed role's subject grants, the members of the groups holding it),
  and closed as the close operator does (the managed role's subject grants again).
- ``memory``: the emulator in a process of its own (its memory is not the review's, and no rate limit), the
  same org; reviews of three roles with about 1,200, 7,000 and 9,600 direct holders, first with ten reviewers
  (a reviewer table, streamed from a CSV file: the items grow, the reviewers do not), then by manager (the
  reviewers grow with the items). Per review, tracemalloc's peak (Python, above
  what was allocated before) and SQLite's own high-water mark (``sqlite3_memory_highwater``: the store's page
  cache, which tracemalloc does not see) for opening (snapshot, assignment, the review file) and closing (the
  decisions, the grants now, the evidence NDJSON and CSV, the desired rows for the plan); wall time without
  tracemalloc. Every reviewer answers keep all but one, who revokes one item.
Not a timed test: numbers go in docs/access.md ("Access reviews").
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import gc
import json
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from airflow_provider_genesys import ratelimit
from airflow_provider_genesys.access.review import (
    EvidenceWriter,
    Review,
    close_review,
    decision,
    open_review,
    read_current,
    read_snapshot,
)
from airflow_provider_genesys.access.review import table as reviewer_table
from airflow_provider_genesys.access.review.model import FALLBACK, KEEP_ALL, REVOKE_SELECTED
from airflow_provider_genesys.client import GenesysCloudClient
from airflow_provider_genesys.extract import ExtractOptions, run_extract
from airflow_provider_genesys.settings import GenesysSettings
from airflow_provider_genesys.testing import GenesysCloudEmulator

ROLES = ("Supervisor", "Agent", "employee")
NOW = datetime(2026, 12, 7, tzinfo=UTC)


def client_of(conn: dict[str, Any]) -> GenesysCloudClient:
    ratelimit._PACERS.clear()  # a fresh pacer per client, as a fresh task has
    return GenesysCloudClient(GenesysSettings.from_connection(login=conn["login"], password=conn["password"],
                                                              extra=conn["extra"]))


def sqlite_memory() -> Callable[[bool], float]:
    """SQLite's memory high-water mark in MiB (``reset``: start a new one), from the library ``sqlite3`` uses."""
    library = ctypes.CDLL(ctypes.util.find_library("sqlite3") or "libsqlite3.so.0")
    library.sqlite3_memory_highwater.restype = ctypes.c_int64
    library.sqlite3_memory_highwater.argtypes = [ctypes.c_int]
    return lambda reset: library.sqlite3_memory_highwater(int(reset)) / 2**20


def fallback_of(client: GenesysCloudClient) -> str:
    return next(u["email"] for u in client.paginate("/api/v2/users", params={"pageSize": 500})
                if u.get("state") == "active")


def opened(client: GenesysCloudClient, role: str, path: Path, fallback: str, table: Path | None = None) -> None:
    """Open a review of ``role`` into ``path``: by manager, or by the reviewer table at ``table`` (streamed)."""
    @contextmanager
    def out():
        with path.open("w") as file:
            yield file

    snapshot = read_snapshot(client, [role])
    try:
        if table is None:
            open_review(snapshot, out, org_id="org", created_at=NOW, due_at=NOW + timedelta(days=14),
                        fallback_reviewers=[fallback])
        else:
            with table.open("rb") as rows:
                open_review(snapshot, out, org_id="org", created_at=NOW, due_at=NOW + timedelta(days=14),
                            reviewers=reviewer_table.read_file(rows, "csv"), fallback_reviewers=[fallback])
    finally:
        snapshot.close()


def write_table(client: GenesysCloudClient, role: str, path: Path, reviewers: int = 10) -> None:
    """A reviewer table giving every direct holder of ``role`` one of ``reviewers`` people, in turn (a reviewer
    who would review themselves goes to the fallback)."""
    snapshot = read_snapshot(client, [role])
    try:
        store = snapshot.store
        people = [e for (e,) in store.rows("SELECT email FROM users WHERE state = 'active' ORDER BY email LIMIT ?",
                                           (reviewers,))]
        with path.open("w") as out:
            out.write("user,reviewer\n")
            for n, (user,) in enumerate(store.rows("SELECT DISTINCT u.email FROM grants g JOIN users u ON u.id = "
                                                   "g.subject WHERE g.kind = 'user' ORDER BY u.email")):
                out.write(f"{user},{people[n % len(people)]}\n")
    finally:
        snapshot.close()


def closed(client: GenesysCloudClient, path: Path, folder: Path) -> list[dict[str, str]]:
    review = Review(lambda: path.open())
    made = {}
    for n, entry in enumerate(review.reviewers):
        items = range(entry["first_item"], entry["last_item"] + 1)
        revoke = [entry["first_item"]] if n == 0 else []
        made[entry["key"]] = decision(review, entry["key"], items, chosen=[REVOKE_SELECTED if revoke else KEEP_ALL],
                                      params={"revoke": revoke}, responded_by=None if entry["key"] == FALLBACK
                                      else {"id": "a", "name": "a"}, responded_at=NOW.isoformat())
    current = read_current(client, [r["id"] for r in review.header["managed_roles"]])
    try:
        with (folder / "e.ndjson").open("w") as ndjson, (folder / "e.csv").open("w") as table:
            result = close_review(review, made, current, EvidenceWriter(ndjson, table))
    finally:
        current.close()
    return result.rows


def requests(users: int, limit: int, window: float, folder: Path) -> None:
    with GenesysCloudEmulator(users=users, rate_limit=limit, rate_window=window) as emu:
        conn = emu.connection_dict()
        with client_of(conn) as client:
            started = time.monotonic()
            baseline = sum(run_extract(client, dataset, folder / f"{dataset}.ndjson", ExtractOptions())["requests"]
                           for dataset in ("users", "grants"))
            print(f"extract users+grants: {baseline} requests in {time.monotonic() - started:.1f} s, "
                  f"429s served {emu.stats.rate_limited}", flush=True)
        with client_of(conn) as client:
            fallback = fallback_of(client)
            emu.stats.reset()
            before = client.stats.snapshot()["requests"]
            started = time.monotonic()
            opened(client, "Supervisor", folder / "r.ndjson", fallback)
            opening = client.stats.snapshot()["requests"] - before
            seconds = time.monotonic() - started
            items = sum(1 for _ in Review(lambda: (folder / "r.ndjson").open()).items())
            before = client.stats.snapshot()["requests"]
            closed(client, folder / "r.ndjson", folder)
            closing = client.stats.snapshot()["requests"] - before
        print(f"open a review of Supervisor ({items:,} items): {opening} requests in {seconds:.1f} s; close: "
              f"{closing} requests; 429s served {emu.stats.rate_limited}; by route (open and close): "
              f"{ {k: v for k, v in emu.stats.by_path.items() if 'token' not in k} }", flush=True)


@contextmanager
def emulator_process(users: int):
    """The emulator in a process of its own (no rate limit: the wall times are the review's); its connection."""
    process = subprocess.Popen([sys.executable, "-m", "airflow_provider_genesys.testing.emulator", "--host",
                                "127.0.0.1", "--port", "0", "--users", str(users), "--rate-limit", "1000000"],
                               stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        host, port = line.removeprefix("listening on http://").rsplit(":", 1)
        yield {"login": "emulator-client", "password": "emulator-secret",
               "extra": {"gateway_host": host, "gateway_protocol": "http", "gateway_port": int(port)}}
    finally:
        process.terminate()
        process.wait(timeout=30)


def measured(step: Callable[[], Any], sqlite: Callable[[bool], float]) -> tuple[float, float, float, Any]:
    """(wall seconds without tracemalloc, Python peak MiB, SQLite high-water MiB, the step's result)."""
    started = time.monotonic()
    step()
    seconds = time.monotonic() - started
    gc.collect()
    sqlite(True)
    tracemalloc.start()
    result = step()
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return seconds, peak, sqlite(False), result


def memory(users: int, folder: Path) -> None:
    sqlite = sqlite_memory()
    with emulator_process(users) as conn, client_of(conn) as client:
        fallback = fallback_of(client)
        for table, role in ((t, r) for t in (True, False) for r in ROLES):
            path = folder / f"{role}.ndjson"
            reviewers = folder / f"{role}.csv" if table else None
            if reviewers is not None:
                write_table(client, role, reviewers)
            open_s, open_peak, open_sqlite, _ = measured(partial(opened, client, role, path, fallback, reviewers),
                                                         sqlite)
            review = Review(path.open)
            items = review.header["counts"]["items"]
            close_s, close_peak, close_sqlite, rows = measured(partial(closed, client, path, folder), sqlite)
            _, rows_peak, _, _ = measured(partial(json.loads, json.dumps(rows)), sqlite)  # the rows XCom, alone
            print(f"{role} by {'a 10-reviewer table' if table else 'manager'}: {items:,} items, "
                  f"{review.header['counts']['reviewers']:,} reviewers; open {open_peak:.1f} MiB + {open_sqlite:.1f} "
                  f"MiB SQLite, {open_s:.1f} s; close {close_peak:.1f} MiB + {close_sqlite:.1f} MiB SQLite, "
                  f"{close_s:.1f} s, of which the {len(rows):,} desired rows (the rows XCom) {rows_peak:.1f} MiB; "
                  f"review file {path.stat().st_size / 2**20:.1f} MiB", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--limit", type=int, default=300, help="requests allowed per window")
    parser.add_argument("--window", type=float, default=60.0, help="window length, seconds")
    parser.add_argument("--only", choices=("requests", "memory"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        if args.only != "memory":
            requests(args.users, args.limit, args.window, Path(folder))
        if args.only != "requests":
            memory(args.users, Path(folder))


if __name__ == "__main__":
    main()
