"""Desired access tables made from an org's current state: the access demo, its tests and its benchmark.

An administrator's daily table is mostly what the org already holds, plus joiners, movers and leavers. This
module writes that table for any org the API client can read (the emulator's, here): every current direct
holder of one role kept, except ``lose`` users dropped, ``move`` users moved to another division, ``gain``
users added on one division, and ``leave`` users in a ``user_state`` table as inactive. Picks are
deterministic (sorted ids), users are named by email and divisions by name, as HR exports name them.

    python -m tests.access_scenario --out desired.csv [--gain 5 --move 2 --lose 2]

reads the org through ``AIRFLOW_CONN_GENESYS_CLOUD_DEFAULT`` (the emulator's connection, as ``dev.py
access-demo`` sets it) and writes the ``grants`` table; ``--leavers`` also writes the ``user_state`` one.

A WFM/HR export of agents' routing (:func:`make_routing_scenario`) is the same idea for ``user_skills``,
``user_languages`` and ``user_division``: every agent's skills (languages) as held today, with
``skill_changes`` (``language_changes``) active agents changed in turn by an add, a removal, a proficiency
change or all three, and every user's division with ``moves`` active users moved to the next division;
skills, languages and divisions by name. Agents on leave (inactive) are listed unchanged: a sync would
otherwise take their skills away.

    python -m tests.access_scenario --skills skills.csv --languages languages.csv [--divisions divisions.csv]
        [--skill-changes 12 --language-changes 6 --moves 0]
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
from typing import Any

from airflow_provider_genesys.access.current import read_org
from airflow_provider_genesys.access.names import Directory
from airflow_provider_genesys.access.state import CurrentState
from airflow_provider_genesys.client import GenesysCloudClient
from airflow_provider_genesys.settings import GenesysSettings

GRANT_COLUMNS = ("subject", "subject_type", "role", "division")
STATE_COLUMNS = ("user", "state")
LISTED = ("active", "inactive")  # the users an HR export lists (deleted ones hold nothing and are gone)
ROUTING = ("user_skills", "user_languages", "user_division")
COLUMNS = {"user_skills": ("user", "skill", "proficiency"), "user_languages": ("user", "language", "proficiency"),
           "user_division": ("user", "division")}


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


@dataclass
class RoutingTable:
    """One relation's desired table and the org it must make: ``expected`` holds every user the org had
    (``{id: proficiency}`` of skills or languages, or the division id), ``changed`` the users it changes,
    ``counts`` the plan's changes (``add``, ``remove``, ``update`` or ``set``)."""

    relation: str
    rows: list[dict[str, str]]
    expected: dict[str, Any]
    changed: list[str]
    counts: Counter

    @property
    def columns(self) -> tuple[str, ...]:
        return COLUMNS[self.relation]


def read_routing(client: GenesysCloudClient) -> dict[str, tuple[Directory, CurrentState]]:
    """The org's names and current skills, languages and divisions, as planning reads them."""
    return {relation: read_org(client, relation) for relation in ROUTING}


def make_routing_scenario(org: Mapping[str, tuple[Directory, CurrentState]], *, skill_changes: int = 12,
                          language_changes: int = 6, moves: int = 0) -> dict[str, RoutingTable]:
    """The three tables of a WFM/HR export, by relation (``org`` from :func:`read_routing`)."""
    return {"user_skills": proficiency_table("user_skills", *org["user_skills"], skill_changes),
            "user_languages": proficiency_table("user_languages", *org["user_languages"], language_changes),
            "user_division": division_table(*org["user_division"], moves)}


def proficiency_table(relation: str, directory: Directory, current: CurrentState, changes: int) -> RoutingTable:
    """Every agent's skills (languages) as held, but for ``changes`` active agents holding two or more: the
    k-th of them gains the first entry it lacks (k % 4 == 0), loses its last (1), has its first one's
    proficiency raised by one, 5 wrapping to 0 (2), or all three (3)."""
    kind = COLUMNS[relation][1]
    index = directory.index(f"{kind}s")
    catalogue = sorted(index.by_id)
    agents = sorted(u for u, held in current.held.items() if held and current.user_states.get(u) in LISTED)
    candidates = [u for u in agents if current.user_states[u] == "active" and len(current.held[u]) >= 2]
    if len(candidates) < changes:
        raise ValueError(f"{len(candidates)} active agents hold two {kind}s or more; {changes} are needed")
    desired = {u: {entry: proficiency for entry, proficiency in current.held[u]} for u in agents}
    added, removed, updated = [], [], 0
    for k, user in enumerate(candidates[:changes]):
        mine = desired[user]
        held = sorted(mine)
        if k % 4 in (0, 3):
            new = next((e for e in catalogue if e not in mine), None)
            if new is not None:
                mine[new] = str(k % 5 + 1)
                added.append(new)
        if k % 4 in (1, 3):
            removed.append(held[-1])
            del mine[held[-1]]
        if k % 4 in (2, 3):
            mine[held[0]] = str((int(float(mine[held[0]])) + 1) % 6)
            updated += 1
    rows = [{"user": directory.users.label(u), kind: index.name(entry), "proficiency": proficiency}
            for u in agents for entry, proficiency in sorted(desired[u].items())]
    managed = {entry for held in desired.values() for entry in held}  # the default scope: what the table names
    expected = {u: {e: float(p) for e, p in held} for u, held in current.held.items()}
    for user, held in desired.items():  # what the table does not manage stays as it is
        expected[user] = {**{e: float(p) for e, p in current.held[user] if e not in managed},
                          **{e: float(p) for e, p in held.items()}}
    counts = Counter(add=len(added), remove=sum(1 for e in removed if e in managed), update=updated)
    return RoutingTable(relation, rows, expected, candidates[:changes], counts)


def division_table(directory: Directory, current: CurrentState, moves: int) -> RoutingTable:
    """Every user's division as today (deleted users aside), but for ``moves`` active users moved to the next
    division in name order."""
    divisions = sorted((d for d in directory.divisions.by_id if d != "*"), key=directory.divisions.name)
    division = {u: next(iter(held))[0] for u, held in current.held.items() if held}
    listed = sorted(u for u in division if current.user_states.get(u) in LISTED)
    movers = [u for u in listed if current.user_states[u] == "active"][:moves]
    if len(movers) < moves or len(divisions) < 2:
        raise ValueError(f"{len(movers)} active users and {len(divisions)} divisions; {moves} moves need more")
    expected = dict(division)
    for user in movers:
        expected[user] = divisions[(divisions.index(division[user]) + 1) % len(divisions)]
    rows = [{"user": directory.users.label(u), "division": directory.divisions.name(expected[u])} for u in listed]
    return RoutingTable("user_division", rows, expected, movers, Counter(set=len(movers)))


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
    parser.add_argument("--out", help="the grants table's CSV path")
    parser.add_argument("--leavers", help="the user_state table's CSV path (with --leave)")
    parser.add_argument("--role", default="Supervisor")
    for name, default in (("gain", 5), ("move", 2), ("lose", 2), ("leave", 0)):
        parser.add_argument(f"--{name}", type=int, default=default)
    for relation, option in zip(ROUTING, ("--skills", "--languages", "--divisions"), strict=True):
        parser.add_argument(option, dest=relation, help=f"the {relation} table's CSV path")
    for name, default in (("skill-changes", 12), ("language-changes", 6), ("moves", 0)):
        parser.add_argument(f"--{name}", type=int, default=default)
    args = parser.parse_args(argv)
    routing = [relation for relation in ROUTING if getattr(args, relation)]
    if not args.out and not routing:
        parser.error("give --out (grants) or --skills, --languages, --divisions")
    with client_from_env() as client:
        org = read_routing(client) if routing else {}
        grants = read_org(client, "grants") if args.out else None
    if grants is not None:
        scenario = make_scenario(*grants, role=args.role, gain=args.gain, move=args.move, lose=args.lose,
                                 leave=args.leave)
        write_csv(scenario.grants, args.out, GRANT_COLUMNS)
        if args.leavers:
            write_csv(scenario.user_state, args.leavers, STATE_COLUMNS)
        print(json.dumps({"grants": len(scenario.grants), "gain": len(scenario.gained), "move": len(scenario.moved),
                          "lose": len(scenario.lost), "leave": len(scenario.left)}))
    if routing:
        tables = make_routing_scenario(org, skill_changes=args.skill_changes, language_changes=args.language_changes,
                                       moves=args.moves)
        for relation in routing:
            table = tables[relation]
            write_csv(table.rows, getattr(args, relation), table.columns)
            print(json.dumps({relation: len(table.rows), "changed": len(table.changed), **table.counts}))


if __name__ == "__main__":
    main()
