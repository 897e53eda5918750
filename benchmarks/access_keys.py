"""Naming users by HR key (``user_key="external:hr"``) against by email: requests and wall time of planning.

    .venv/bin/python -m benchmarks.access_keys [--users 10000] [--people 1000] [--limit 300] [--window 60]

A 10,000-user emulator org; a desired table of 2,000 rows naming 1,000 active people (each on two divisions
with Supervisor), once by email and once by the HR key the emulator keeps under the ``hr`` authority. Each
case plans on a fresh emulator, as the plan operator does: by email, the bulk listings and one read of the
table; by key, a first read of the table whose distinct keys are looked up once each
(``GET /api/v2/users/externalid/hr/{key}``, 4 workers), the bulk listings, then a second read to plan.
Both at ``limit`` requests per ``window`` (Genesys' documented 300 a minute) and unlimited. The two plans
must be equal. Not a timed test: numbers go in docs/access.md and the CHANGELOG.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from airflow_provider_genesys.access.current import read_org
from airflow_provider_genesys.access.desired import read_file
from airflow_provider_genesys.access.external import lookup_keys, user_keys
from airflow_provider_genesys.access.guardrails import Guardrails
from airflow_provider_genesys.access.planner import plan_access
from airflow_provider_genesys.testing import GenesysCloudEmulator
from airflow_provider_genesys.testing.org.directory import HR_AUTHORITY
from benchmarks.access_sync import client_of
from tests.access_scenario import write_csv

UNLIMITED = 1_000_000
COLUMNS = ("subject", "role", "division")


def tables(emu: GenesysCloudEmulator, people: int, folder: Path) -> tuple[Path, Path]:
    """The same desired table by email and by HR key: ``people`` active users with a key, two rows each."""
    org, chosen = emu.org, []
    for user_id in org.user_ids("active"):
        i = org.index_of(user_id)
        keys = org.external_ids(i)
        if keys:
            chosen.append((org.render_user(i)["email"], keys[0]["externalKey"]))
        if len(chosen) == people:
            break
    home = org.render_user(0).get("division", {}).get("name") or "Home"
    paths = []
    for column, name in ((0, "email"), (1, "key")):
        rows = [{"subject": person[column], "role": "Supervisor", "division": division}
                for person in chosen for division in ("*", home)]
        paths.append(write_csv(rows, folder / f"{name}.csv", COLUMNS))
    return paths[0], paths[1]


def plan_case(users: int, people: int, limit: int, window: float, by: str, folder: Path):
    with GenesysCloudEmulator(users=users, rate_limit=limit, rate_window=window) as emu, client_of(emu) as client:
        by_email, by_key = tables(emu, people, folder)
        started = time.monotonic()
        org_id = client.request("GET", "/api/v2/organizations/me")["id"]
        user_key, external, lookups = "id_or_email", None, 0
        if by == "key":
            user_key = f"external:{HR_AUTHORITY}"
            with by_key.open("rb") as first:
                found = lookup_keys(client, HR_AUTHORITY, user_keys(read_file(first, "grants", "csv"), "grants"))
            external, lookups = found.ids, found.requests
        directory, current = read_org(client, "grants", user_key=user_key, external_ids=external)
        with (by_key if by == "key" else by_email).open("rb") as rows:
            plan = plan_access(read_file(rows, "grants", "csv"), relation="grants", directory=directory,
                               current=current, org_id=org_id, created_at=datetime.now(UTC),
                               managed=["Supervisor"], oauth_client_id=client.settings.client_id,
                               rails=Guardrails(max_removals=None, max_removal_fraction=None, allow_roleless=True))
        seconds = time.monotonic() - started
        requests = client.stats.snapshot()["requests"]
        rate = "unlimited" if limit >= UNLIMITED else f"{limit}/{window:g} s"
        print(f"by {by:5} at {rate:9}: {2 * people:,} rows naming {people:,} people; plan {requests:,} requests "
              f"({lookups:,} key lookups) in {seconds:.1f} s, {plan.counts['add']:,} adds "
              f"{plan.counts['remove']:,} removals; 429s served {emu.stats.rate_limited}", flush=True)
        with plan:  # the changes are read from the planning spill, deleted when the plan closes
            return list(plan.changes)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--people", type=int, default=1_000)
    parser.add_argument("--limit", type=int, default=300, help="requests allowed per window")
    parser.add_argument("--window", type=float, default=60.0, help="window length, seconds")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for limit in (UNLIMITED, args.limit):
            plans = [plan_case(args.users, args.people, limit, args.window, by, Path(folder))
                     for by in ("email", "key")]
            assert plans[0] == plans[1], "the plan by HR key differs from the plan by email"


if __name__ == "__main__":
    main()
