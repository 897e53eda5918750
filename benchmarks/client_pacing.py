"""Proactive pacing under a tight rate limit: 8 threads share one client, pacing on vs off.

    .venv/bin/python benchmarks/client_pacing.py [--limit 60] [--window 5] [--requests 180] [--threads 8]
        [--latency-ms 0]

Each run starts a fresh emulator with `limit` requests per `window` seconds per token, then `threads`
workers fetch `requests` pages of /api/v2/users through one GenesysCloudClient (as the extract operator
does). The emulator's window opens with the first request, so the fastest the limit allows is
(ceil(requests / limit) - 1) windows. Printed per mode: wall time vs that ideal, requests/s after the
first window's burst vs the allowed rate, 429s the emulator served, retries, and seconds the pacer made
threads wait (summed over threads).
Goal: pacing on -> no 429s and close to the ideal time.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import math
import time
from concurrent.futures import ThreadPoolExecutor

from airflow_provider_genesys import ratelimit
from airflow_provider_genesys.client import GenesysCloudClient
from airflow_provider_genesys.settings import GenesysSettings
from airflow_provider_genesys.testing import GenesysCloudEmulator

USERS = 200
PAGE_SIZE = 25


def run(pacing: bool, limit: int, window: float, total: int, threads: int, latency_ms: int) -> None:
    ratelimit._PACERS.clear()  # a fresh token anyway; keeps the two runs independent
    with GenesysCloudEmulator(
        users=USERS, rate_limit=limit, rate_window=window, latency_ms=latency_ms
    ) as emu:
        conn = emu.connection_dict(pacing=pacing)
        settings = GenesysSettings.from_connection(
            login=conn["login"], password=conn["password"], extra=conn["extra"]
        )
        pages = math.ceil(emu.org.user_count("active") / PAGE_SIZE)
        numbers = itertools.count()
        with GenesysCloudClient(settings) as client:

            def fetch(_: int) -> int:
                page = next(numbers) % pages + 1
                body = client.request("GET", "/api/v2/users", params={"pageSize": PAGE_SIZE, "pageNumber": page})
                return len(body["entities"])

            started = time.monotonic()
            with ThreadPoolExecutor(threads) as pool:
                fetched = sum(pool.map(fetch, range(total)))
            elapsed = time.monotonic() - started
            stats = client.stats.snapshot()
    ideal = (math.ceil(total / limit) - 1) * window
    # The first window's `limit` requests go at once; the rest is what the limit paces.
    steady = (total - limit) / elapsed
    print(
        f"pacing={'on ' if pacing else 'off'}: {total} requests ({fetched} users) in {elapsed:5.2f} s "
        f"(ideal {ideal:.1f} s); after the first window {steady:5.2f} req/s vs allowed "
        f"{limit / window:.2f}/s; 429s served {emu.stats.rate_limited}, retries {stats['retries']}, "
        f"paced {stats['paced_seconds']:.1f} thread-s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=60)
    parser.add_argument("--window", type=float, default=5.0)
    parser.add_argument("--requests", type=int, default=180)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--latency-ms", type=int, default=0, help="delay the emulator adds to each answer")
    args = parser.parse_args()
    logging.disable(logging.INFO)  # retries log at INFO; the summary line is what matters here
    print(f"{args.threads} threads, rate limit {args.limit} per {args.window:g} s, latency {args.latency_ms} ms")
    for pacing in (True, False):
        run(pacing, args.limit, args.window, args.requests, args.threads, args.latency_ms)


if __name__ == "__main__":
    main()
