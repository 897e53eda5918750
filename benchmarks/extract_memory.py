"""Peak memory of the users, grants and group_members extracts against orgs of 10,000 and 100,000 users.

    .venv/bin/python benchmarks/extract_memory.py [--users 10000 100000] [--datasets users grants group_members]

Each org is served by the emulator command in a subprocess (its memory is not counted; a high rate limit
so the extract runs at full speed). The extract runs in this process, as the operator would, into a
temporary folder. Measured: the growth of this process's peak resident memory during the extract (Linux
``VmHWM``, reset before it through ``/proc/self/clear_refs``; it counts everything, SQLite's page cache
included) and, with ``--tracemalloc`` (about three times slower), the peak of Python allocations.
Goal: flat, i.e. about the same at 100,000 users as at 10,000.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from airflow_provider_genesys.client import GenesysCloudClient
from airflow_provider_genesys.extract import run_extract
from airflow_provider_genesys.settings import GenesysSettings

CLIENT_ID, CLIENT_SECRET = "emulator-client", "emulator-secret"


@contextmanager
def emulator(users: int, *extra_args: str) -> Iterator[str]:
    """The emulator command in a subprocess; yields its base URL and stops it afterwards."""
    command = [sys.executable, "-m", "airflow_provider_genesys.testing.emulator", "--port", "0",
               "--users", str(users), *extra_args]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        yield process.stdout.readline().strip().removeprefix("listening on ")
    finally:
        process.terminate()
        process.wait(timeout=30)


def client_for(base_url: str) -> GenesysCloudClient:
    """A client on the emulator at ``base_url`` (the same settings the hook would build)."""
    host, port = base_url.removeprefix("http://").rsplit(":", 1)
    extra = {"gateway_host": host, "gateway_protocol": "http", "gateway_port": int(port)}
    return GenesysCloudClient(GenesysSettings.from_connection(login=CLIENT_ID, password=CLIENT_SECRET, extra=extra))


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status (Linux only)")


def rss_peak_growth() -> Callable[[], float]:
    """Reset the peak RSS; the returned function gives the peak's growth since then, in MiB."""
    Path("/proc/self/clear_refs").write_text("5")
    before = _status_kib("VmRSS")
    return lambda: (_status_kib("VmHWM") - before) / 1024


def measure(users: int, dataset: str, traced: bool) -> None:
    with emulator(users, "--rate-limit", "1000000") as base, client_for(base) as client, \
            tempfile.TemporaryDirectory() as folder:
        client.request("GET", "/api/v2/users", params={"pageSize": 1})  # token and session: not the extract's
        if traced:
            tracemalloc.start()
        rss_growth = rss_peak_growth()
        started = time.perf_counter()
        result = run_extract(client, dataset, Path(folder) / f"{dataset}.ndjson")
        seconds = time.perf_counter() - started
        rss = rss_growth()
        python = f", Python peak {tracemalloc.get_traced_memory()[1] / 2**20:5.1f} MiB" if traced else ""
        tracemalloc.stop()
    print(
        f"{dataset:7} users={users:>7,}: {result['records']:>8,} records, {result['requests']:>4} requests, "
        f"{seconds:5.1f} s, peak RSS growth {rss:5.1f} MiB{python}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--datasets", nargs="+", default=["users", "grants", "group_members"])
    parser.add_argument("--tracemalloc", action="store_true", help="also trace Python allocations (slower)")
    args = parser.parse_args()
    for dataset in args.datasets:
        for users in args.users:
            measure(users, dataset, args.tracemalloc)


if __name__ == "__main__":
    main()
