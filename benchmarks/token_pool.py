"""Token pools: extracts past one token's rate limit, held to the organisation's limit.

    .venv/bin/python benchmarks/token_pool.py [--limit 10] [--window 2] [--users 100000] [--datasets users grants]

Each case runs ``run_extract`` (as the operator does) against a fresh emulator allowing ``limit`` requests
per ``window`` seconds per token, and an organisation-wide window: generous (``--org-generous``, far above
what the pool can send) for pool sizes 1, 2 and 4, then below the sum of 4 tokens (``--org-limit``) with
the client told that cap (``org_rate_limit_per_minute``, counted over the same window). The extract's
``max_workers`` is ``workers_per_token`` times the pool size.

Bounds (the emulator opens a window with its first request, so the fastest a limit allows for R requests
is (ceil(R / per_window) - 1) windows): ``token bound`` for one token, ``pool bound`` for N tokens,
``org bound`` for the organisation's cap. ``x token`` = token bound / time (the pool's speed-up over what
one token can ever do); ``of its bound`` = the larger of pool and org bound / time (1.0 = as fast as the
limits allow). Goal: pool 4 with room at organisation level at
>= 3x the token bound, and under an organisation cap at >= 0.9 of the org bound, both with 0 429s.
``token_pool.out.txt`` beside this file is its output with the defaults (table in docs/connection.md).
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


def bound(requests: int, per_window: int, window: float) -> float:
    return (math.ceil(requests / per_window) - 1) * window


def run(
    dataset: str, users: int, pool: int, limit: int, window: float, org: int, *, capped: bool, per_token: int
) -> None:
    ratelimit._PACERS.clear()  # every case starts with fresh pacers, as a fresh task would
    extra: dict[str, object] = {"token_pool_size": pool}
    if capped:
        extra["org_rate_limit_per_minute"] = org
    with GenesysCloudEmulator(users=users, rate_limit=limit, rate_window=window, org_rate_limit=org) as emu, \
            tempfile.TemporaryDirectory() as folder:  # fmt: skip
        conn = emu.connection_dict(**extra)
        settings = GenesysSettings.from_connection(
            login=conn["login"], password=conn["password"], extra=conn["extra"]
        )
        # "per minute" = per emulator window
        with GenesysCloudClient(settings, org_rate_window=window) as client:
            started = time.monotonic()
            result = run_extract(
                client, dataset, Path(folder) / f"{dataset}.ndjson", ExtractOptions(max_workers=per_token * pool)
            )
            elapsed = time.monotonic() - started
        served, org_served, tokens = emu.stats.rate_limited, emu.stats.org_rate_limited, emu.stats.tokens_issued
    requests = result["requests"]
    token_bound = bound(requests, limit, window)
    pool_bound = bound(requests, pool * limit, window)
    org_bound = bound(requests, org, window)
    label = f"pool {pool}, org {org}/window{' (capped)' if capped else ''}"
    print(
        f"{dataset:6} {users:>7,} users, {label:32}: {result['records']:>7,} records, {requests:>4} requests in "
        f"{elapsed:6.1f} s; bounds: token {token_bound:5.1f} s, pool {pool_bound:5.1f} s, org {org_bound:5.1f} s; "
        f"{token_bound / elapsed:4.2f}x token, {max(pool_bound, org_bound) / elapsed:4.2f} of its bound; "
        f"429s {served} (org {org_served}); tokens {tokens}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=10, help="requests per token per window")
    parser.add_argument("--window", type=float, default=2.0, help="window length, seconds")
    parser.add_argument("--users", type=int, default=100_000, help="users in the org")
    parser.add_argument("--org-generous", type=int, default=1000, help="organisation limit with room")
    parser.add_argument("--org-limit", type=int, default=25, help="organisation limit below 4 tokens' sum")
    parser.add_argument("--workers-per-token", type=int, default=4, help="max_workers = this x pool size")
    parser.add_argument("--datasets", nargs="+", default=["users", "grants"])
    parser.add_argument("--pools", type=int, nargs="+", default=[1, 2, 4])
    args = parser.parse_args()
    for dataset in args.datasets:
        for pool in args.pools:
            run(dataset, args.users, pool, args.limit, args.window, args.org_generous, capped=False,
                per_token=args.workers_per_token)
        run(dataset, args.users, max(args.pools), args.limit, args.window, args.org_limit, capped=True,
            per_token=args.workers_per_token)


if __name__ == "__main__":
    main()
