"""Start-up time and memory of the emulator command with a large org (default 100,000 users).

    .venv/bin/python benchmarks/emulator_startup.py [--users 100000]

Runs the real command in a subprocess, times it until it prints ``listening on``, then times the first
requests that build the lazy indexes (users listing order, cursor order, grant index) and reads the
process's resident memory from /proc (Linux).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import requests


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=100_000)
    users = parser.parse_args().users
    module = "airflow_provider_genesys.testing.emulator"
    command = [sys.executable, "-m", module, "--port", "0", "--users", str(users)]
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        base = process.stdout.readline().strip().removeprefix("listening on ")
        ready = time.perf_counter() - started
        print(f"users={users}: listening after {ready:.2f} s, RSS {rss_mib(process.pid):.0f} MiB")
        token = requests.post(
            f"{base}/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=("emulator-client", "emulator-secret"),
            timeout=60,
        ).json()["access_token"]
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {token}"
        steps = [
            ("first users page (builds name order)", "/api/v2/users?pageSize=500"),
            ("first users/query page (builds id order)", "/api/v2/users/query?pageSize=500"),
            ("first role listing with userCount (builds grant index)", "/api/v2/authorization/roles"),
            ("a users page once warm", "/api/v2/users?pageSize=500&pageNumber=7"),
        ]
        for label, path in steps:
            t0 = time.perf_counter()
            response = session.get(base + path, timeout=120)
            response.raise_for_status()
            print(f"  {label}: {time.perf_counter() - t0:.2f} s")
        print(f"RSS after indexes: {rss_mib(process.pid):.0f} MiB")
    finally:
        process.terminate()
        process.wait(timeout=30)


if __name__ == "__main__":
    main()
