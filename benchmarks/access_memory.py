"""Peak memory of reading and planning a desired access table of 10,000 and 100,000 rows.

    .venv/bin/python benchmarks/access_memory.py [--rows 10000 100000] [--users 100000]

One synthetic org (``--users`` users, 5 roles, 20 divisions, each user holding one managed grant) is built
first and not counted: it is the current state, whose size is the org's. Then, per table size, a CSV file
is written to a temporary folder and measured: tracemalloc's peak (Python allocations above what was
allocated before) and SQLite's own high-water mark (``sqlite3_memory_highwater``: its page caches and
sorters, which tracemalloc does not see):
- ``read``: streaming the file's rows (the reader alone); goal: flat, the same at every table size.
- ``plan``: reading, resolving, diffing, guarding, making the plan and writing it; the desired set and the
  changes go to the planning spill (a temporary SQLite database, 2 MiB page cache), so the goal is flat in
  the table's size and in the number of changes.
- ``apply's plan load``: what apply holds once it has read and checked the plan just written (it grows
  with the plan's changes: apply keeps them in memory).
``add_only`` changes one grant in ten rows; ``sync`` also removes the grants of every user the table does
not name (90,000 for the 10,000-row table). Each plan runs twice: once for its wall time, once under
tracemalloc (several times slower). Not a timed test: a script whose numbers go in docs/access.md.
"""

from __future__ import annotations

import argparse
import csv
import ctypes
import ctypes.util
import gc
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from airflow_provider_genesys.access.desired import read_file
from airflow_provider_genesys.access.guardrails import Guardrails
from airflow_provider_genesys.access.names import Directory, NameIndex, UserIndex
from airflow_provider_genesys.access.plan import loads, write
from airflow_provider_genesys.access.planner import plan_access
from airflow_provider_genesys.access.state import CurrentState

ROLES = [{"id": f"role-{n}", "name": f"Role {n}"} for n in range(5)]
DIVISIONS = [{"id": f"division-{n}", "name": f"Division {n}"} for n in range(20)]


def uid(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def org(users: int) -> tuple[Directory, CurrentState]:
    people = [{"id": uid(n), "email": f"user{n}@example.com", "state": "active"} for n in range(users)]
    directory = Directory(NameIndex.of("role", ROLES), NameIndex.of("division", DIVISIONS),
                          NameIndex.of("group", []), NameIndex.of("queue", []), UserIndex.of(people))
    current = CurrentState("grants")
    current.add_users(people)
    for n in range(users):
        current.add_grant({"subjectId": uid(n), "subjectType": "user", "roleId": f"role-{n % 5}",
                           "divisionId": f"division-{n % 20}"})
    return directory, current


def table(path: Path, rows: int, users: int) -> None:
    """``rows`` rows: users keep their grant, and every tenth row moves a user to the next division."""
    with path.open("w", newline="") as file:
        out = csv.writer(file)
        out.writerow(["subject", "role", "division"])
        for n in range(rows):
            user = n % users
            division = (user % 20 + (1 if n % 10 == 0 else 0)) % 20
            out.writerow([f"user{user}@example.com", f"Role {user % 5}", f"Division {division}"])


def sqlite_memory() -> Callable[[bool], float]:
    """SQLite's memory high-water mark in MiB (``reset``: start a new one), from the library ``sqlite3`` uses."""
    library = ctypes.CDLL(ctypes.util.find_library("sqlite3") or "libsqlite3.so.0")
    library.sqlite3_memory_highwater.restype = ctypes.c_int64
    library.sqlite3_memory_highwater.argtypes = [ctypes.c_int]
    return lambda reset: library.sqlite3_memory_highwater(int(reset)) / 2**20


def peak(work: Callable[[], object], sqlite: Callable[[bool], float]) -> tuple[float, float, float]:
    """(peak MiB of Python allocations during ``work``, SQLite's peak MiB, seconds under tracemalloc)."""
    gc.collect()
    sqlite(True)
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    started = time.perf_counter()
    work()
    seconds = time.perf_counter() - started
    top = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return (top - base) / 2**20, sqlite(False), seconds


def timed(work: Callable[[], object]) -> float:
    gc.collect()
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--modes", nargs="+", default=["add_only", "sync"], choices=["add_only", "sync"])
    args = parser.parse_args()
    directory, current = org(args.users)
    sqlite = sqlite_memory()
    print(f"org: {args.users:,} users, {len(ROLES)} roles, {len(DIVISIONS)} divisions")
    with tempfile.TemporaryDirectory() as folder:
        for rows in args.rows:
            path = Path(folder) / f"desired-{rows}.csv"
            table(path, rows, args.users)

            def read(path: Path = path) -> None:
                with path.open("rb") as file:
                    for _ in read_file(file, "grants", "csv"):
                        pass

            def plan(path: Path = path, mode: str = "sync") -> None:
                directory.problems.clear()
                with path.open("rb") as file:
                    made = plan_access(read_file(file, "grants", "csv"), relation="grants", directory=directory,
                                       current=current, org_id="org", created_at=datetime.now(UTC),
                                       managed=[r["name"] for r in ROLES], mode=mode,
                                       rails=Guardrails(max_removals=None, max_removal_fraction=None,
                                                        allow_roleless=True))
                    with made, (Path(folder) / "plan.json").open("w") as out:
                        write(made, out)

            read_mib, _, read_s = peak(read, sqlite)
            size = path.stat().st_size / 2**20
            print(f"{rows:>8,} rows ({size:4.1f} MiB file): read peak {read_mib:5.2f} MiB ({read_s:4.1f} s)")
            for mode in args.modes:
                changes = rows // 10 * (2 if mode == "sync" else 1) + (args.users - rows if mode == "sync" else 0)
                wall = timed(lambda path=path, mode=mode: plan(path, mode))
                python_mib, sqlite_mib, traced_s = peak(lambda path=path, mode=mode: plan(path, mode), sqlite)
                print(f"{'':>8}  plan {mode:8} ({changes:>7,} changes): peak {python_mib:5.1f} MiB Python + "
                      f"{sqlite_mib:4.1f} MiB SQLite; {wall:4.1f} s ({traced_s:4.1f} s under tracemalloc)")
                plan_file = Path(folder) / "plan.json"
                load_mib, _, load_s = peak(lambda plan_file=plan_file: loads(plan_file.read_text(), org_id="org"),
                                           sqlite)
                print(f"{'':>8}  apply's plan load ({plan_file.stat().st_size / 2**20:5.1f} MiB file): peak "
                      f"{load_mib:5.1f} MiB Python ({load_s:4.1f} s under tracemalloc)")


if __name__ == "__main__":
    main()
