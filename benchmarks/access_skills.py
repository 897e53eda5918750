"""Skills and languages on a 10,000-user org: what planning reads against the extract, and how fast apply
writes at the rate limit.

    .venv/bin/python -m benchmarks.access_skills [--users 10000] [--limit 300] [--window 6] \
        > benchmarks/access_skills.out.txt   (from the clone's root)

(a) ``reads``: for ``expand_missing_percent`` 0 and 5, side by side, the ``user_skills`` and ``user_languages``
extracts (``run_extract``) and planning each relation (``read_org``, the organisation read the operator makes,
``plan_access`` of the WFM table of ``tests/access_scenario.py``: 2,000 agents' skills changed, 300 agents'
languages). Requests are counted, so the rate limit is lifted. Target: planning costs no more requests than
the extract with the expand plus one per user whose expand was missing (``missing`` below: what Genesys left
out, each such user read directly).

(b) ``apply``: the 2,000-agent skills table (1,000 adds, 1,000 removals, 1,000 proficiency changes), and a
1,500-agent languages table whose removals are one DELETE each (with and without
``routing_write_conflict_seconds``), planned and applied (one process, as the operators do) against an
emulator allowing ``limit`` requests per ``window`` seconds per token. Genesys allows 300 a minute; the
window is scaled to 6 s (ten times Genesys' rate) so each run takes under a minute: the pacer learns the
window from the ``inin-ratelimit-*`` headers, whatever its length. Targets: at most one write per user
changed plus one per removal; requests per second at least 0.9 of ``limit / window`` over apply's whole run
(its re-read included; apply starts on a fresh window), and of what the windows the run spanned allow (a
fixed window opens with the first request after the last one closed, so a run of a few windows can beat
``limit / window`` per second); no 429.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from airflow_provider_genesys.access.apply import Applier
from airflow_provider_genesys.access.current import read_org
from airflow_provider_genesys.access.desired import read_rows
from airflow_provider_genesys.access.guardrails import Guardrails
from airflow_provider_genesys.access.ledger import Ledger
from airflow_provider_genesys.access.plan import checksum, dumps, loads
from airflow_provider_genesys.access.planner import plan_access
from airflow_provider_genesys.client import GenesysCloudClient
from airflow_provider_genesys.extract import ExtractOptions, run_extract
from airflow_provider_genesys.testing import GenesysCloudEmulator
from benchmarks.access_sync import client_of
from tests.access_scenario import proficiency_table

WRITES = ("POST ", "PATCH ", "PUT ", "DELETE ")
CHANGES = {"user_skills": 2000, "user_languages": 300}  # agents changed, as in tests/e2e/test_skills_sync.py
OWN = {"user_skills": "GET /api/v2/users/{userId}/routingskills",
       "user_languages": "GET /api/v2/users/{userId}/routinglanguages"}
# (b): the skills table; and 1,500 agents' languages (no replace: a DELETE per removal, after every agent's bulk
# write), also with a user's second write within 2 s refused as a concurrent change (409).
APPLY = (("user_skills", 2000, {}), ("user_languages", 1500, {}),
         ("user_languages", 1500, {"routing_write_conflict_seconds": 2}))
RELAXED = Guardrails(max_removals=None, max_removal_fraction=None, allow_roleless=True)


def plan_of(client: GenesysCloudClient, relation: str, folder: Path, changes: int) -> Any:
    """Plan the relation's WFM table (read as the operator reads the org), stored and loaded as apply reads it."""
    org_id = client.request("GET", "/api/v2/organizations/me")["id"]
    directory, current = read_org(client, relation)
    table = proficiency_table(relation, directory, current, changes)
    made = plan_access(read_rows(table.rows, relation), relation=relation, directory=directory, current=current,
                       org_id=org_id, created_at=datetime.now(UTC), rails=RELAXED)
    text = dumps(made)
    made.close()
    (folder / f"{relation}.json").write_text(text)
    return loads(text, org_id=org_id), table


def reads(users: int, missing: int, folder: Path) -> None:
    with GenesysCloudEmulator(users=users, rate_limit=1_000_000, expand_missing_percent=missing) as emu:
        for relation in CHANGES:
            with client_of(emu) as client:
                emu.stats.reset()
                extract = run_extract(client, relation, folder / f"{relation}.ndjson", ExtractOptions())["requests"]
                extract_paths = emu.stats.snapshot()["by_path"]
            with client_of(emu) as client:
                emu.stats.reset()
                plan_of(client, relation, folder, CHANGES[relation])
                planned = client.stats.snapshot()["requests"]
                plan_paths = emu.stats.snapshot()["by_path"]
            direct = plan_paths.get(OWN[relation], 0)  # one per user whose expand Genesys left out
            pages = "GET /api/v2/users"
            with_expand = extract - extract_paths.get(OWN[relation], 0)  # the extract's listing requests
            bound = with_expand + direct
            print(f"{relation:14} expand missing {missing}%: extract {extract} requests "
                  f"({extract_paths.get(pages, 0)} users pages, {extract_paths.get(OWN[relation], 0)} direct reads); "
                  f"plan {planned} requests ({plan_paths.get(pages, 0)} users pages, {direct} direct reads); bound: "
                  f"the extract's {with_expand} with the expand + {direct} users missing it = {bound}: "
                  f"{'met' if planned <= bound else 'MISSED'}")


def apply(relation: str, changes: int, users: int, limit: int, window: float, folder: Path, **options: Any) -> None:
    with GenesysCloudEmulator(users=users, rate_limit=limit, rate_window=window, **options) as emu, \
            client_of(emu) as client:
        plan, table = plan_of(client, relation, folder, changes)
        changed = len(table.changed)
        time.sleep(window)  # apply starts on a window of its own, not what planning left of one
        emu.stats.reset()
        started = time.monotonic()
        with closing(Ledger(folder / f"{relation}.{len(options)}.ledger.ndjson", checksum(plan.document()))) as ledger:
            result = Applier(plan, client, ledger).apply()
        seconds = time.monotonic() - started
        stats = emu.stats.snapshot()
        writes = {route: n for route, n in stats["by_path"].items() if route.startswith(WRITES) and "/api/" in route}
        bound = changed + table.counts["remove"]
        sent = stats["api_requests"]
        rate, allowed = sent / seconds, limit / window
        # A window opens with the first request after the last one closed: in `seconds` at most this many go in.
        windows = math.ceil(seconds / window)
        under = "".join(f", {k}={v}" for k, v in options.items())
        print(f"apply {relation} at {limit} requests per {window:g} s{under}: {changed} agents changed "
              f"{dict(table.counts)}; {sent} API requests in {seconds:.1f} s = {rate:.1f}/s of {allowed:.1f}/s allowed "
              f"({rate / allowed:.2f}; {sent / (windows * limit):.2f} of the {windows * limit} the {windows} windows "
              "it spanned allow); "
              f"writes {sum(writes.values())} {writes} (bound: {changed} users + {table.counts['remove']} removals = "
              f"{bound}: {'met' if sum(writes.values()) <= bound else 'MISSED'}); settled "
              f"{result.settled} of {len(plan.changes)}, failed {len(result.failed)}; 429s served "
              f"{stats['rate_limited']}; the client paced {client.stats.snapshot()['paced_seconds']:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--limit", type=int, default=300, help="requests allowed per window (apply)")
    parser.add_argument("--window", type=float, default=6.0, help="window length, seconds (apply)")
    args = parser.parse_args()
    print(f"# {args.users:,} users; reads with the rate limit lifted; apply at {args.limit} requests per "
          f"{args.window:g} s per token (Genesys: 300 per 60 s)")
    with tempfile.TemporaryDirectory() as folder:
        for missing in (0, 5):
            reads(args.users, missing, Path(folder))
        for relation, changes, options in APPLY:
            apply(relation, changes, args.users, args.limit, args.window, Path(folder), **options)


if __name__ == "__main__":
    main()
