"""Access sync on a 10,000-user org at the emulator's rate limit: requests to plan and to apply, wall time,
429s, writes, and the apply's peak memory.

    .venv/bin/python -m benchmarks.access_sync [--users 10000] [--limit 300] [--window 60]   (from the clone's root)

Cases, each on a fresh emulator allowing ``limit`` requests per ``window`` seconds per token (Genesys'
documented 300 per minute by default):
- ``extract``: the users and grants extracts of the org (``run_extract``), the baseline planning is held to:
  planning reads the same bulk listings, so it must cost no more requests.
- ``scenario``: the issue's day: 1,000 users gain Supervisor on one division, 200 move division, 100 lose it
  (a desired CSV from ``tests/access_scenario.py``); plan, then apply (one process, as the operators do).
- ``gain``: only the 1,000 users gaining one role in one division: target at most 10 writes (one
  ``POST /api/v2/authorization/roles/{roleId}`` carries many subjects).
- ``gain, at most 100 a call``: the same, on an emulator whose role bulk-grant takes at most 100 subjects a
  call (``role_grant_max_subjects``: Genesys publishes no maximum): apply halves a refused write and keeps the
  size that went in, so the writes stay within about twice the fewest (10).
Peak memory of apply (tracemalloc, above what was allocated before) is measured in ``scenario``; planning's
memory against a 100,000-row table is ``benchmarks/access_memory.py``'s. Not a timed test: numbers go in
docs/access.md and the CHANGELOG.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import tracemalloc
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

from airflow_provider_genesys import ratelimit
from airflow_provider_genesys.access.apply import Applier
from airflow_provider_genesys.access.current import read_org
from airflow_provider_genesys.access.desired import read_file
from airflow_provider_genesys.access.guardrails import Guardrails
from airflow_provider_genesys.access.ledger import Ledger
from airflow_provider_genesys.access.plan import checksum, loads, write
from airflow_provider_genesys.access.planner import plan_access
from airflow_provider_genesys.client import GenesysCloudClient
from airflow_provider_genesys.extract import ExtractOptions, run_extract
from airflow_provider_genesys.settings import GenesysSettings
from airflow_provider_genesys.testing import GenesysCloudEmulator
from tests.access_scenario import GRANT_COLUMNS, make_scenario, write_csv

WRITES = ("POST ", "PATCH ", "DELETE ")
GAIN = {"gain": 1000, "move": 0, "lose": 0}
CASES = {"scenario": ({"gain": 1000, "move": 200, "lose": 100}, {}), "gain": (GAIN, {}),
         "gain, at most 100 a call": (GAIN, {"role_grant_max_subjects": 100})}


def client_of(emu: GenesysCloudEmulator) -> GenesysCloudClient:
    ratelimit._PACERS.clear()  # a fresh pacer per client, as a fresh task has
    conn = emu.connection_dict()
    return GenesysCloudClient(GenesysSettings.from_connection(login=conn["login"], password=conn["password"],
                                                              extra=conn["extra"]))


def writes_of(emu: GenesysCloudEmulator) -> int:
    return sum(n for route, n in emu.stats.by_path.items() if route.startswith(WRITES) and " /api/v2/" in route)


def extract(users: int, limit: int, window: float, folder: Path) -> None:
    with GenesysCloudEmulator(users=users, rate_limit=limit, rate_window=window) as emu, client_of(emu) as client:
        started = time.monotonic()
        requests = sum(run_extract(client, dataset, folder / f"{dataset}.ndjson", ExtractOptions())["requests"]
                       for dataset in ("users", "grants"))
        print(f"extract users+grants: {requests} requests in {time.monotonic() - started:.1f} s, "
              f"429s served {emu.stats.rate_limited}")


def sync(case: str, users: int, limit: int, window: float, folder: Path) -> None:
    sizes, options = CASES[case]
    with GenesysCloudEmulator(users=users, rate_limit=limit, rate_window=window, **options) as emu, \
            client_of(emu) as client:
        started = time.monotonic()
        directory, current = read_org(client, "grants")
        scenario = make_scenario(directory, current, **sizes)
        name = case.replace(" ", "_").replace(",", "")
        desired = write_csv(scenario.grants, folder / f"{name}.csv", GRANT_COLUMNS)
        org_id = client.request("GET", "/api/v2/organizations/me")["id"]
        with desired.open("rb") as rows:
            made = plan_access(read_file(rows, "grants", "csv"), relation="grants", directory=directory,
                               current=current, org_id=org_id, created_at=datetime.now(UTC), managed=["Supervisor"],
                               rails=Guardrails(max_removals=None, max_removal_fraction=None, allow_roleless=True),
                               oauth_client_id=client.settings.client_id)
        with made, (folder / f"{name}.json").open("w") as out:
            write(made, out)
        plan = loads((folder / f"{name}.json").read_text(), org_id=org_id)  # apply reads the file, as the operator
        planned = client.stats.snapshot()["requests"]
        plan_seconds = time.monotonic() - started
        started = time.monotonic()
        tracemalloc.start()
        with closing(Ledger(folder / f"{name}.ledger.ndjson", checksum(plan.document()))) as ledger:
            result = Applier(plan, client, ledger).apply()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        applied = client.stats.snapshot()["requests"] - planned
        print(f"{case}: {len(scenario.grants):,} desired rows, {plan.counts}; plan {planned} requests in "
              f"{plan_seconds:.1f} s; apply {applied} requests ({writes_of(emu)} writes: "
              f"{ {k: v for k, v in emu.stats.by_path.items() if k.startswith(WRITES)} }) in "
              f"{time.monotonic() - started:.1f} s, settled {result.settled}, failed {len(result.failed)}, "
              f"apply peak {peak / 2**20:.1f} MiB (tracemalloc); 429s served {emu.stats.rate_limited}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--limit", type=int, default=300, help="requests allowed per window")
    parser.add_argument("--window", type=float, default=60.0, help="window length, seconds")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        extract(args.users, args.limit, args.window, Path(folder))
        for case in CASES:
            sync(case, args.users, args.limit, args.window, Path(folder))


if __name__ == "__main__":
    main()
