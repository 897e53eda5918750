"""Skills, languages and divisions kept equal to a table, against the emulator: plan, apply, a new plan of
the same table finds nothing; a changed proficiency is one update; the fewest writes (one bulk write per
user changed, a replace where the whole set is managed, one delete per removal, moves per division); exact
whether the users listing's expand came back for everybody, for some or for nobody; concurrent-change
refusals, per-call limits, propagation, unknown outcomes; bad rows listed together, nothing written."""

from __future__ import annotations

import random
from collections import Counter
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_genesys.access.apply import Applier
from airflow_provider_genesys.access.current import read_org
from airflow_provider_genesys.access.desired import read_rows
from airflow_provider_genesys.access.errors import UnresolvedNamesError
from airflow_provider_genesys.access.guardrails import Guardrails
from airflow_provider_genesys.access.ledger import Ledger
from airflow_provider_genesys.access.plan import checksum, dumps, loads
from airflow_provider_genesys.access.planner import plan_access
from airflow_provider_genesys.testing import GenesysCloudEmulator
from tests.conftest import client_for

RELAXED = Guardrails(max_removals=None, max_removal_fraction=None, allow_roleless=True)
WRITES = ("POST ", "PATCH ", "PUT ", "DELETE ")


def writes_sent(emu: GenesysCloudEmulator) -> Counter:
    return Counter({route: n for route, n in emu.stats.by_path.items()
                    if route.startswith(WRITES) and " /api/v2/" in route})


def emulator(**options: Any) -> GenesysCloudEmulator:
    return GenesysCloudEmulator(users=120, seed=11, **options)


def plan_of(client: Any, relation: str, rows: list[dict], **options: Any):
    directory, current = read_org(client, relation)
    org_id = client.request("GET", "/api/v2/organizations/me")["id"]
    return plan_access(read_rows(rows, relation), relation=relation, directory=directory, current=current,
                       org_id=org_id, created_at=datetime.now(UTC), rails=options.pop("rails", RELAXED), **options)


def apply(client: Any, plan, tmp_path: Path, **options: Any):
    text = dumps(plan)
    plan.close()
    stored = loads(text, org_id=plan.org_id)
    with closing(Ledger(tmp_path / f"{random.random()}.ledger.ndjson", checksum(stored.document()))) as ledger:
        applier = Applier(stored, client, ledger, **options)
        result = applier.apply()
        result.intents = Counter(i for r in ledger.state.records if r["type"] == "intent" for i in r["changes"])
        return result, stored


def skills_table(client: Any, relation: str, seed: int = 1) -> tuple[list[dict], dict[str, Counter]]:
    """The org's holdings changed: some removed, some proficiencies changed, some catalogue entries added."""
    column = "skill" if relation == "user_skills" else "language"
    directory, current = read_org(client, relation)
    catalogue = sorted(directory.index(f"{column}s").by_id)
    rng = random.Random(seed)
    rows, expected = [], Counter()
    for user, held in sorted(current.held.items()):
        if current.user_states.get(user) != "active":  # kept as they are
            rows += [{"user": user, column: entry, "proficiency": p} for entry, p in sorted(held)]
            continue
        mine = {s for s, _ in held}
        for entry, proficiency in sorted(held):
            roll = rng.random()
            if roll < 0.15:
                expected["remove"] += 1
                continue
            if roll < 0.35:
                expected["update"] += 1
                proficiency = str((int(float(proficiency)) + 2) % 6)
            rows.append({"user": user, column: entry, "proficiency": proficiency})
        if rng.random() < 0.3:
            new = next((s for s in catalogue if s not in mine), None)
            if new is not None:
                expected["add"] += 1
                rows.append({"user": user, column: new, "proficiency": "3"})
    return rows, {"expected": expected}


@pytest.mark.parametrize("relation", ["user_skills", "user_languages"])
@pytest.mark.parametrize("expand", [{}, {"expand_missing_percent": 30}, {"expand": "dropped"}],
                         ids=["expand returned", "missing for 30%", "dropped"])
def test_a_table_of_proficiencies_is_planned_and_applied_exactly(tmp_path, relation, expand):
    with emulator(**expand) as emu:
        client = client_for(emu, sleep=emu.advance_clock)  # the rate limit waited out on the emulator's clock
        rows, meta = skills_table(client, relation)
        plan = plan_of(client, relation, rows, mode="sync")
        counts = {k: plan.counts[k] for k in ("add", "remove", "update")}
        assert counts == dict(meta["expected"])
        users_changed = plan.counts["subjects"]
        emu.stats.reset()
        result, stored = apply(client, plan, tmp_path)
        assert result.ok
        assert result.settled == len(stored.changes)
        assert result.writes <= users_changed + counts["remove"], "one bulk write per user changed + one per removal"
        if relation == "user_skills":
            assert writes_sent(emu)["PUT /api/v2/users/{userId}/routingskills/bulk"] > 0, "whole sets replaced"
        assert plan_of(client, relation, rows).changes == [], "a new plan of the same table finds nothing"
        truth = {(emu.org.user_id(i), e, p) for i in range(len(emu.org.user_ids_by_index()))
                 for e, p in (emu.org.user_skills(i) if relation == "user_skills"
                              else emu.org.user_languages(i)).items()}
        column = "skill" if relation == "user_skills" else "language"
        assert {(r["user"], r[column], float(r["proficiency"])) for r in rows} <= {
            (u, e, float(p)) for u, e, p in truth}


def test_a_changed_proficiency_is_one_update_recording_what_it_was(tmp_path):
    with emulator() as emu:
        client = client_for(emu, sleep=emu.advance_clock)
        _, current = read_org(client, "user_skills")
        user, held = next((u, h) for u, h in sorted(current.held.items()) if h and current.user_states[u] == "active")
        skill, proficiency = sorted(held)[0]
        new = "5" if proficiency != "5" else "1"
        rows = [{"user": user, "skill": skill, "proficiency": new}]
        plan = plan_of(client, "user_skills", rows, mode="add_only")
        (change,) = list(plan.changes)
        assert change["action"] == "update"
        assert change["was"] == int(proficiency)
        assert change["proficiency"] == int(new)
        result, _ = apply(client, plan, tmp_path)
        assert result.writes == 1
        assert emu.org.user_skills(emu.org.index_of(user))[skill] == float(new)


@pytest.mark.parametrize("limit", [None, 3])
def test_division_moves_go_per_division_and_adapt_to_a_per_call_limit(tmp_path, limit):
    with emulator(division_move_max=limit) as emu:
        client = client_for(emu, sleep=emu.advance_clock)
        directory, current = read_org(client, "user_division")
        divisions = sorted(directory.divisions.by_id)
        movers = sorted(u for u, s in current.user_states.items() if s == "active")[:20]
        target = {u: next(d for d in divisions if (d,) not in current.held.get(u, set())) for u in movers}
        rows = [{"user": u, "division": d} for u, d in target.items()]
        plan = plan_of(client, "user_division", rows)
        assert plan.counts["set"] == 20
        assert all(c["was"] == next(iter(current.held[c["subject"]]))[0] for c in plan.changes)
        emu.stats.reset()
        result, _ = apply(client, plan, tmp_path)
        assert result.ok
        moves = sum(n for route, n in writes_sent(emu).items() if "/objects/" in route)
        per_division = Counter(target.values())
        fewest = len(per_division) if limit is None else sum(-(-n // limit) for n in per_division.values())
        assert moves <= 2 * fewest + 4 * len(per_division), (moves, fewest)
        assert {u: emu.org.user_division_id(emu.org.index_of(u)) for u in movers} == target
        assert plan_of(client, "user_division", rows).changes == []


def test_writes_refused_as_concurrent_changes_are_read_back_and_sent_again(tmp_path):
    """With routing_write_conflict_seconds a second write to a user too soon is refused (409): apply waits
    (on the emulator's clock), reads back and sends again; the org ends exact, nothing applied twice."""
    with emulator(routing_write_conflict_seconds=1.5) as emu:
        client = client_for(emu, sleep=emu.advance_clock, max_retry_wait=0)
        rows, _ = skills_table(client, "user_skills", seed=3)
        directory, _ = read_org(client, "user_skills")
        half = sorted(directory.index("skills").by_id)[::2]  # users hold unmanaged skills: no whole-set replace
        rows = [r for r in rows if r["skill"] in half]
        plan = plan_of(client, "user_skills", rows, mode="sync", managed=half)
        emu.stats.reset()
        result, _ = apply(client, plan, tmp_path)
        assert emu.stats.by_status[409] > 0, "a user's deletes came right after its bulk write"
        assert result.ok
        assert set(result.intents.values()) == {1}
        assert plan_of(client, "user_skills", rows, managed=half).changes == []


def test_under_propagation_delay_and_writes_applied_then_503_nothing_is_sent_twice(tmp_path):
    with emulator(propagation_delay_seconds=20) as emu:
        client = client_for(emu, sleep=emu.advance_clock, max_retry_wait=0)
        rows, _ = skills_table(client, "user_skills", seed=5)
        plan = plan_of(client, "user_skills", rows, mode="sync")
        fault = emu.faults.write_applied_then_5xx(503, count=3, method="PATCH", path=r"/routingskills/bulk")
        emu.stats.reset()
        result, _ = apply(client, plan, tmp_path)
        assert result.ok
        assert set(result.intents.values()) == {1}, "every change sent once: the 503s were read back, not re-sent"
        assert fault.fired == 3
        assert sum(writes_sent(emu).values()) == result.writes, "every write the ledger holds, none more"
        emu.advance_clock(30)
        assert plan_of(client, "user_skills", rows).changes == []


def test_bad_rows_are_all_listed_in_one_error_and_nothing_is_planned():
    with emulator() as emu:
        client = client_for(emu, sleep=emu.advance_clock)
        directory, current = read_org(client, "user_skills")
        user = next(u for u, s in sorted(current.user_states.items()) if s == "active")
        skill = sorted(directory.index("skills").by_id)[0]
        rows = [{"user": user, "skill": "Underwater Basket Weaving", "proficiency": "3"},
                {"user": user, "skill": skill, "proficiency": "7"},
                {"user": user, "skill": skill, "proficiency": "high"},
                {"user": user, "skill": skill, "proficiency": "2"},
                {"user": user, "skill": skill, "proficiency": "4"}]
        with pytest.raises(UnresolvedNamesError) as caught:
            plan_of(client, "user_skills", rows)
        problems = caught.value.problems
        assert len(problems) == 4
        assert "no skill is called 'Underwater Basket Weaving'" in problems[0]
        assert problems[1].endswith("proficiency '7' is not a number from 0 to 5")
        assert problems[2].endswith("proficiency 'high' is not a number from 0 to 5")
        assert problems[3].startswith("rows 4 and 5: ")
        assert problems[3].endswith(f"is asked to hold skill {directory.index('skills').name(skill)} with "
                                    "proficiency 2 and 4: keep one")
        divisions = sorted(read_org(client, "user_division")[0].divisions.by_id)
        with pytest.raises(UnresolvedNamesError, match=r"rows 1 and 2 put .* in two divisions"):
            plan_of(client, "user_division", [{"user": user, "division": divisions[0]},
                                              {"user": user, "division": divisions[1]}])
        assert sum(writes_sent(emu).values()) == 0


def test_a_skill_deleted_between_plan_and_apply_is_refused_up_front(tmp_path):
    with emulator() as emu:
        client = client_for(emu, sleep=emu.advance_clock)
        directory, current = read_org(client, "user_skills")
        held = {s for h in current.held.values() for s, _ in h}
        skill = next(s for s in sorted(directory.index("skills").by_id) if s in held)
        gainers = sorted(u for u, s in current.user_states.items()
                         if s == "active" and skill not in {x for x, _ in current.held.get(u, ())})[:5]
        plan = plan_of(client, "user_skills", [{"user": u, "skill": skill, "proficiency": "2"} for u in gainers],
                       mode="add_only")
        emu.org.proficiencies.catalogues["skill"].delete(skill)
        emu.stats.reset()
        result, _ = apply(client, plan, tmp_path)
        assert sum(writes_sent(emu).values()) == 0
        assert len(result.failed) == 1
        assert "was deleted since the plan: its 5 change(s) were not sent" in result.failed[0]


def test_removals_from_inactive_agents_left_out_of_the_table_are_warned():
    """An export of active agents only removes what inactive agents hold: the plan says so."""
    with emulator() as emu:
        client = client_for(emu, sleep=emu.advance_clock)
        _, current = read_org(client, "user_skills")
        rows = [{"user": u, "skill": s, "proficiency": p} for u, held in sorted(current.held.items())
                if current.user_states.get(u) == "active" for s, p in sorted(held)]
        inactive = sum(len(h) for u, h in current.held.items() if current.user_states.get(u) == "inactive")
        assert inactive
        plan = plan_of(client, "user_skills", rows)
        (notice,) = [w for w in plan.warnings if w["kind"] == "inactive_removed"]
        assert notice["count"] == inactive == plan.counts["remove"]
        assert notice["message"].startswith("removals are of inactive users")
        plan.close()
