"""Extracts under a tight rate limit: achieved requests/s vs the allowed rate, and 429s served.

    .venv/bin/python benchmarks/extract_rate_limit.py [--limit 10] [--window 2] [--workers 4]

Each case runs ``run_extract`` (as the operator does, ``max_workers`` threads through one client and its
shared pacer) against a fresh emulator allowing ``limit`` requests per ``window`` seconds per token:
users of a 10,000-user org (page-number listing, pages in parallel), users of a 60,000-user org (past the
10,000 cap: the cursor listing, sequential), grants of a 10,000-user org (many listings, first pages in
parallel) and roles. The emulator's window opens with the first request, so the fastest the limit allows
is (ceil(requests / limit) - 1) windows. Goal: no 429s, and close to that ideal.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

from airflow_provider_genesys import ratelimit
from airflow_provider_genesys.client import GenesysCloudClient
from airflow_provider_genesys.extract import ExtractOptions, run_extract
from airflow_provider_genesys.settings import GenesysSettings
from airflow_provider_genesys.testing import GenesysCloudEmulator

CASES = (("users", 10_000), ("users", 60_000), ("grants", 10_000), ("roles", 200))


def run(dataset: str, users: int, limit: int, window: float, workers: int) -> None:
    ratelimit._PACERS.clear()  # every case starts with a fresh pacer, as a fresh task would
    with GenesysCloudEmulator(users=users, rate_limit=limit, rate_window=window) as emu, \
            tempfile.TemporaryDirectory() as folder:
        conn = emu.connection_dict()
        settings = GenesysSettings.from_connection(login=conn["login"], password=conn["password"],
                                                   extra=conn["extra"])
        with GenesysCloudClient(settings) as client:
            started = time.monotonic()
            result = run_extract(client, dataset, Path(folder) / f"{dataset}.ndjson",
                                 ExtractOptions(max_workers=workers))
            elapsed = time.monotonic() - started
            paced = client.stats.snapshot()["paced_seconds"]
        served_429 = emu.stats.rate_limited
    requests = result["requests"]
    ideal = (math.ceil(requests / limit) - 1) * window
    print(
        f"{dataset:6} users={users:>6,}: {result['records']:>6,} records, {requests:>3} requests in "
        f"{elapsed:5.1f} s (ideal {ideal:4.1f} s) = {requests / elapsed:5.2f} req/s vs allowed "
        f"{limit / window:.2f}/s; 429s served {served_429}, seen {result['rate_limited']}, "
        f"paced {paced:.1f} thread-s"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=10, help="requests allowed per window")
    parser.add_argument("--window", type=float, default=2.0, help="window length, seconds")
    parser.add_argument("--workers", type=int, default=4, help="max_workers of the extract")
    args = parser.parse_args()
    for dataset, users in CASES:
        run(dataset, users, args.limit, args.window, args.workers)


if __name__ == "__main__":
    main()
