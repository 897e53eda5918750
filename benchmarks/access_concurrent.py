"""Two applies of one plan at once: what reaches Genesys (the emulator) when a second apply of the same plan
starts a second after the first, as a manual run beside a scheduled one would.

    .venv/bin/python benchmarks/access_concurrent.py [--users 3000] [--lose 90] [--gap 1] [--propagation 30]

A plan of ``lose`` removals (users losing Supervisor: one ``bulkremove`` each) is applied by two processes,
each running ``GenesysAccessApplyOperator.execute`` as a task does (Airflow imported before the start, so
the gap is the gap), the second started ``--gap`` seconds after the first one's first write reached the
emulator. The emulator allows Genesys' documented 300 requests a minute, answers after ``--latency-ms``
(so the first apply is still writing), and shows writes in reads ``--propagation`` seconds after answering
them (Genesys: permission changes "can take minutes" to show). Prints each process's outcome and the writes
the emulator received. Run from another folder with
``PYTHONPATH=<a checkout>`` to measure that checkout's code (before and after the apply lock:
``benchmarks/access_concurrent.out.txt``, docs/access.md). Not a timed test.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

from airflow_provider_genesys.access.current import read_org
from airflow_provider_genesys.access.desired import read_rows
from airflow_provider_genesys.access.guardrails import Guardrails
from airflow_provider_genesys.access.plan import write
from airflow_provider_genesys.access.planner import plan_access
from airflow_provider_genesys.client import GenesysCloudClient
from airflow_provider_genesys.settings import GenesysSettings
from airflow_provider_genesys.testing import GenesysCloudEmulator
from tests.access_scenario import make_scenario

APPLY = """
import json, sys
from airflow_provider_genesys.operators.access import GenesysAccessApplyOperator
print("ready", flush=True)
sys.stdin.readline()
try:
    result = GenesysAccessApplyOperator(task_id="apply", plan=sys.argv[1]).execute({})
    print("RESULT", json.dumps({"writes": result["writes"], "settled": result["settled"]}), flush=True)
except Exception as err:
    print("RESULT", json.dumps({"failed": type(err).__name__, "message": str(err).splitlines()[0][:300]}), flush=True)
"""


def plan_removals(emu: GenesysCloudEmulator, lose: int, folder: Path) -> Path:
    conn = emu.connection_dict()
    settings = GenesysSettings.from_connection(login=conn["login"], password=conn["password"], extra=conn["extra"])
    with GenesysCloudClient(settings) as client:
        directory, current = read_org(client, "grants")
        scenario = make_scenario(directory, current, gain=0, move=0, lose=lose)
        org_id = client.request("GET", "/api/v2/organizations/me")["id"]
        made = plan_access(read_rows(scenario.grants, "grants"), relation="grants", directory=directory,
                           current=current, org_id=org_id, created_at=datetime.now(timezone.utc),
                           managed=["Supervisor"], rails=Guardrails(max_removals=None, max_removal_fraction=None,
                                                                    allow_roleless=True),
                           oauth_client_id=client.settings.client_id)
        path = folder / "plan.json"
        with made, path.open("w") as out:
            write(made, out)
    return path


def written(emu: GenesysCloudEmulator) -> Counter:
    return Counter({route: n for route, n in emu.stats.by_path.items()
                    if route.split(" ")[0] in ("POST", "PATCH", "DELETE") and " /api/v2/" in route})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=3000)
    parser.add_argument("--lose", type=int, default=90)
    parser.add_argument("--limit", type=int, default=300, help="requests allowed per minute per token")
    parser.add_argument("--gap", type=float, default=1.0, help="seconds from the first write to the second start")
    parser.add_argument("--propagation", type=float, default=30.0, help="seconds before a write shows in reads")
    parser.add_argument("--latency-ms", type=int, default=100, help="the emulator's delay before each answer")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, \
            GenesysCloudEmulator(users=args.users, rate_limit=args.limit, rate_window=60,
                                 propagation_delay_seconds=args.propagation, latency_ms=args.latency_ms) as emu:
        plan = plan_removals(emu, args.lose, Path(folder))
        changes = len(json.loads(plan.read_text())["changes"])
        emu.stats.reset()
        env = {**os.environ, "AIRFLOW_CONN_GENESYS_CLOUD_DEFAULT": json.dumps(emu.connection_dict()),
               "AIRFLOW_HOME": folder, "AIRFLOW__CORE__UNIT_TEST_MODE": "True",
               "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
        runs = [subprocess.Popen([sys.executable, "-c", APPLY, str(plan)], env=env, text=True,
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
                for _ in range(2)]
        for run in runs:
            assert "ready\n" in iter(run.stdout.readline, ""), "the apply process did not start"
        started = time.monotonic()
        for number, run in enumerate(runs):
            if number:  # a benchmark: the second apply starts as a person would start it, a moment later
                while not written(emu):
                    time.sleep(0.01)
                time.sleep(args.gap)
            run.stdin.write("go\n")
            run.stdin.flush()
        outcomes = [next((line[7:] for line in run.communicate()[0].splitlines() if line.startswith("RESULT ")),
                         "no result") for run in runs]
        writes = written(emu)
        print(f"{changes} changes planned; two applies {args.gap:g} s apart, {time.monotonic() - started:.1f} s "
              f"in all; writes received: {sum(writes.values())} {dict(writes)}; 429s served {emu.stats.rate_limited}")
        for number, outcome in enumerate(outcomes, 1):
            print(f"apply {number}: {outcome}")


if __name__ == "__main__":
    main()
