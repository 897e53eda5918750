"""One chunk of the ``conversations`` extract at 10,000 and 100,000 conversations: peak memory, requests, time.

    .venv/bin/python benchmarks/conversations_extract.py [--conversations 10000 100000]
        [--rate-limit 300] [--rate-window 60] [--page-size 1000]

The emulator command runs in a subprocess (its memory is not counted) with the day 2026-03-02 holding
``N`` conversations, jobs done when first polled, and the rate limit given (Genesys' documented default,
300 requests a minute per token, unless told otherwise). The extract runs in this process, as the operator
would: one interval (one chunk) into a temporary NDJSON file. Measured: the growth of this process's peak
resident memory during the extract (``VmHWM``, see ``extract_memory.py``; with ``--tracemalloc`` also the
Python allocation peak), the requests and 429s of the extract, and time, each also per 10,000
conversations. Goal: peak memory flat from 10,000 to 100,000; requests per 10,000 about
``10,000 / page size`` plus four (availability, submit, status, first page), far inside the rate limit.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import tracemalloc
from pathlib import Path

from extract_memory import client_for, emulator, rss_peak_growth  # the sibling benchmark's helpers

from airflow_provider_genesys.extract import ExtractOptions, run_extract

DAY = "2026-03-02T00:00:00Z/2026-03-03T00:00:00Z"


def measure(conversations: int, rate_limit: int, rate_window: float, page_size: int, traced: bool) -> None:
    options = ("--job-seconds", "0", "--conversations-per-day", str(conversations), "--rate-limit",
               str(rate_limit), "--rate-window", str(rate_window), "--analytics-page-size", str(page_size))
    with emulator(10, *options) as base, client_for(base) as client, tempfile.TemporaryDirectory() as folder:
        client.request("GET", "/api/v2/analytics/conversations/details/jobs/availability")  # token: not counted
        if traced:
            tracemalloc.start()
        rss_growth = rss_peak_growth()
        started = time.perf_counter()
        result = run_extract(client, "conversations", Path(folder) / "conversations.ndjson",
                             ExtractOptions(interval=DAY, poll_interval=0.2))
        seconds = time.perf_counter() - started
        rss = rss_growth()
        python = f", Python peak {tracemalloc.get_traced_memory()[1] / 2**20:5.1f} MiB" if traced else ""
        tracemalloc.stop()
    per = 10_000 / max(result["records"], 1)
    print(
        f"{result['records']:>7,} conversations: peak RSS growth {rss:5.1f} MiB{python}; "
        f"{result['requests']} requests ({result['requests'] * per:.1f} per 10,000), "
        f"{result['rate_limited']} rate limited; {seconds:6.1f} s ({seconds * per:5.1f} s per 10,000) "
        f"at {rate_limit} requests per {rate_window:g} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--conversations", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--rate-limit", type=int, default=300)
    parser.add_argument("--rate-window", type=float, default=60.0)
    parser.add_argument("--page-size", type=int, default=1000, help="the emulator's analytics results page size")
    parser.add_argument("--tracemalloc", action="store_true", help="also trace Python allocations (slower)")
    args = parser.parse_args()
    for conversations in args.conversations:
        measure(conversations, args.rate_limit, args.rate_window, args.page_size, args.tracemalloc)


if __name__ == "__main__":
    main()
