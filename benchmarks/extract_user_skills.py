"""Who holds which routing skill and language, for a 10,000-user org: requests and wall time.

    .venv/bin/python benchmarks/extract_user_skills.py [--users 10000] [--workers 4] \
        > benchmarks/extract_user_skills.out.txt

Each case runs ``run_extract`` (as the operator does) for ``user_skills`` and ``user_languages`` against a
fresh emulator whose ``expand`` is honoured for every user, missing for 10% of them
(``expand_missing_percent``) or dropped for all: the users listing with the expand (500 a page, two passes
that prove nothing moved), plus one direct read per user whose expand was missing, once per extract. The
emulator's rate limit is lifted so wall time is the extract's own work; the time the requests would take
at Genesys' default 300 requests a minute per token is printed beside it. Every result is checked against
the emulator's ground truth.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path

from airflow_provider_genesys import ratelimit
from airflow_provider_genesys.client import GenesysCloudClient
from airflow_provider_genesys.extract import ExtractOptions, run_extract
from airflow_provider_genesys.settings import GenesysSettings
from airflow_provider_genesys.testing import GenesysCloudEmulator, truth

CASES = {"honoured": {}, "missing for 10%": {"expand_missing_percent": 10}, "dropped": {"expand": "dropped"}}
DATASETS = {"user_skills": "skill", "user_languages": "language"}
PER_MINUTE = 300  # Genesys' default per client-credentials token


def run(case: str, users: int, workers: int) -> None:
    with GenesysCloudEmulator(users=users, rate_limit=1_000_000, **CASES[case]) as emu, \
            tempfile.TemporaryDirectory() as folder:
        conn = emu.connection_dict()
        settings = GenesysSettings.from_connection(login=conn["login"], password=conn["password"],
                                                   extra=conn["extra"])
        for dataset, kind in DATASETS.items():
            ratelimit._PACERS.clear()  # a fresh pacer, as a fresh task would have
            emu.stats.reset()
            path = Path(folder) / f"{dataset}.ndjson"
            with GenesysCloudClient(settings) as client:
                started = time.monotonic()
                result = run_extract(client, dataset, path, ExtractOptions(max_workers=workers))
                elapsed = time.monotonic() - started
            by_path = emu.stats.snapshot()["by_path"]
            listing = by_path.get("GET /api/v2/users", 0)
            own = sum(count for route, count in by_path.items() if "/routing" in route)
            written = sorted((r["userId"], r[f"{kind}Id"], r["proficiency"]) for r in map(json.loads, path.open()))
            exact = written == truth.holdings(emu.org, kind)
            at_limit = (math.ceil(result["requests"] / PER_MINUTE) - 1) * 60
            print(f"{dataset:14} expand {case:15}: {result['records']:>6,} records, {result['requests']:>5,} "
                  f"requests ({listing} users pages, {own:,} own listings) = {users / result['requests']:6.1f} "
                  f"users/request, {elapsed:5.1f} s wall; at {PER_MINUTE}/min >= {at_limit / 60:4.1f} min; "
                  f"exact {exact}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=10_000, help="generated users")
    parser.add_argument("--workers", type=int, default=4, help="max_workers of the extract")
    args = parser.parse_args()
    print(f"# {args.users:,} users, max_workers {args.workers}, emulator rate limit lifted")
    for case in CASES:
        run(case, args.users, args.workers)


if __name__ == "__main__":
    main()
