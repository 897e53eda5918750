"""Desired access tables made from an org's current state: the access demo, its tests and its benchmark.

An administrator's daily table is mostly what the org already holds, plus joiners, movers and leavers. This
module writes that table for any org the API client can read (the emulator's, here): every current direct
holder of one role kept, except ``lose`` users dropped, ``move`` users moved to another division, ``gain``
users added on one division, and ``leave`` users in a ``user_state`` table as inactive. Picks are
deterministic (sorted ids), users are named by email and divisions by name, as HR exports name them.

    python -m tests.access_scenario --out desired.csv [--gain 5 --move 2 --lose 2]

reads the org through ``AIRFLOW_CONN_GENESYS_CLOUD_DEFAULT`` (the emulator's connection, as ``dev.py
access-demo`` sets it) and writes the ``grants`` table; ``--leavers`` also writes the ``user_state`` one.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from airflow_provider_genesys.access.current import read_org
from airflow_provider_genesys.access.names import Directory
from airflow_provider_genesys.access.state import CurrentState
from airflow_provider_genesys.client import GenesysCloudClient
from airflow_provider_genesys.settings import GenesysSettings

GRANT_COLUMNS = ("subject", "subject_type", "role", "division")
STATE_COLUMNS = ("user", "state")


@dataclass
class Scenario:
    """The desired tables and what they change, by user id (the tests' expectations)."""

    role_id: str
    grants: list[dict[str, str]] = field(default_factory=list)
    user_state: list[dict[str, str]] = field(default_factory=list)
    gained: list[str] = field(default_factory=list)
    moved: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)
    desired: set[tuple[str, str]] = field(default_factory=set)  # (subject id, division id) holding the role


def make_scenario(directory: Directory, current: CurrentState, *, role: str = "Supervisor", gain: int = 5,
                  move: int = 2, lose: int = 2, leave: int = 0) -> Scenario:
    """The tables for ``role``: today's direct holders, ``lose`` fewer, ``move`` moved, ``gain`` more."""
    role_id = directory.roles.resolve(role)
    divisions = sorted(d for d in directory.divisions.by_id if d != "*")
    active = {u for u, state in current.user_states.items() if state == "active"}
    holders = sorted((subject, division) for subject, held in current.held.items() for r, division in held
                     if r == role_id and current.subject_types.get(subject) in ("user", "group")
                     and current.user_states.get(subject) != "deleted")
    holding = Counter(s for s, _ in holders)
    # users holding the role on one division (not *): losing it or moving is then one clear change
    single = [(s, d) for s, d in holders if s in active and holding[s] == 1 and d != "*"]
    if len(single) < lose + move:
        raise ValueError(f"{role} has {len(single)} active users holding it on one division; {lose + move} needed")
    scenario = Scenario(role_id)
    lost = {s for s, _ in single[:lose]}
    moved = {s: next(d for d in divisions if d != division) for s, division in single[lose:lose + move]}
    scenario.lost, scenario.moved = sorted(lost), sorted(moved)
    kept = [(s, moved.get(s, d)) for s, d in holders if s not in lost]
    free = sorted(active - set(holding))
    if len(free) < gain + leave:
        raise ValueError(f"only {len(free)} active users do not hold {role}; {gain + leave} are needed")
    scenario.gained, scenario.left = free[:gain], free[gain:gain + leave]
    target = divisions[1 % len(divisions)]
    scenario.desired = set(kept) | {(u, target) for u in scenario.gained}
    for subject, division in sorted(scenario.desired):
        is_group = current.subject_types.get(subject) == "group"
        scenario.grants.append({
            "subject": subject if is_group else directory.users.label(subject),
            "subject_type": "group" if is_group else "user",
            "role": directory.roles.name(role_id),
            "division": "*" if division == "*" else directory.divisions.name(division),
        })
    scenario.user_state = [{"user": directory.users.label(u), "state": "inactive"} for u in scenario.left]
    return scenario


def write_csv(rows: Iterable[Mapping[str, str]], path: str | os.PathLike[str], columns: Iterable[str]) -> Path:
    """``rows`` as a CSV file with a header (parent folders created)."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=list(columns))
        writer.writeheader()
        writer.writerows(rows)
    return out


def client_from_env(variable: str = "AIRFLOW_CONN_GENESYS_CLOUD_DEFAULT") -> GenesysCloudClient:
    """A client for the connection Airflow would read from ``variable`` (a JSON connection)."""
    conn = json.loads(os.environ[variable])
    return GenesysCloudClient(GenesysSettings.from_connection(login=conn["login"], password=conn["password"],
                                                              extra=conn.get("extra") or {}))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="the grants table's CSV path")
    parser.add_argument("--leavers", help="the user_state table's CSV path (with --leave)")
    parser.add_argument("--role", default="Supervisor")
    for name, default in (("gain", 5), ("move", 2), ("lose", 2), ("leave", 0)):
        parser.add_argument(f"--{name}", type=int, default=default)
    args = parser.parse_args(argv)
    with client_from_env() as client:
        directory, current = read_org(client, "grants")
    scenario = make_scenario(directory, current, role=args.role, gain=args.gain, move=args.move,
                             lose=args.lose, leave=args.leave)
    write_csv(scenario.grants, args.out, GRANT_COLUMNS)
    if args.leavers:
        write_csv(scenario.user_state, args.leavers, STATE_COLUMNS)
    print(json.dumps({"grants": len(scenario.grants), "gain": len(scenario.gained), "move": len(scenario.moved),
                      "lose": len(scenario.lost), "leave": len(scenario.left)}))


if __name__ == "__main__":
    main()
