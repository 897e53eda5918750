"""The routing skill and language datasets against the emulator: the catalogues, and who holds what,
exact whether Genesys returns the expand for every user, for none or for some, also while the org changes;
and what that costs (about one request per 500 users, plus one per user whose expand was missing)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_genesys.extract import ExtractOptions, run_extract
from airflow_provider_genesys.extract.plans import skills as skills_plan
from airflow_provider_genesys.extract.plans import users as users_plan
from airflow_provider_genesys.paging import Page, iter_pages
from airflow_provider_genesys.testing import GenesysCloudEmulator
from airflow_provider_genesys.testing import truth as ground_truth
from tests.conftest import client_for

# The expand option values a plan must give the same exact answer under (docs/emulator.md)
EXPANDS: dict[str, dict[str, Any]] = {
    "honoured": {},
    "dropped": {"expand": "dropped"},
    "missing for some users": {"expand_missing_percent": 30},
}
KINDS = {"user_skills": "skill", "user_languages": "language"}
USERS = "GET /api/v2/users"
OWN_LISTING = {"skill": "GET /api/v2/users/{userId}/routingskills",
               "language": "GET /api/v2/users/{userId}/routinglanguages"}


def extract(client: Any, dataset: str, path: Path) -> tuple[dict, list[dict]]:
    result = run_extract(client, dataset, path / f"{dataset}.ndjson", ExtractOptions(max_workers=3))
    return result, [json.loads(line) for line in (path / f"{dataset}.ndjson").read_text().splitlines()]


def triples(records: list[dict], kind: str) -> list[tuple[str, str, float]]:
    return sorted((r["userId"], r[f"{kind}Id"], r["proficiency"]) for r in records)


@pytest.mark.parametrize("dataset", ["skills", "languages"])
def test_catalogues_are_every_entry_once(tmp_path: Path, dataset: str) -> None:
    with GenesysCloudEmulator(users=20, seed=4) as emu, client_for(emu, max_retry_wait=0) as client:
        result, records = extract(client, dataset, tmp_path)
        catalogue = emu.org.proficiencies.catalogues[dataset[:-1]]
        assert sorted(r["id"] for r in records) == sorted(catalogue.ids)
        assert {r["name"] for r in records} == set(catalogue.names)
        assert result["requests"] == 1  # one page: atomic, read once
        if dataset == "skills":
            assert all(r["division"]["id"] for r in records)


@pytest.mark.parametrize("expand", list(EXPANDS))
@pytest.mark.parametrize("dataset", list(KINDS))
def test_who_holds_what_is_the_ground_truth_whatever_the_expand_does(tmp_path: Path, dataset: str, expand: str) -> None:
    kind = KINDS[dataset]
    with GenesysCloudEmulator(users=600, seed=5, rate_limit=100_000, **EXPANDS[expand]) as emu, \
            client_for(emu, max_retry_wait=0) as client:
        missing = users_without_the_expand(client, kind)
        emu.stats.reset()
        result, records = extract(client, dataset, tmp_path)
        assert triples(records, kind) == ground_truth.holdings(emu.org, kind)
        assert len({r["id"] for r in records}) == len(records)
        assert all(r["id"] == f"{r['userId']}:{r[f'{kind}Id']}" for r in records)
        assert all(r["userName"] and r[f"{kind}Name"] and r["state"] == "active" for r in records)
        by_path = emu.stats.snapshot()["by_path"]
        pages = sum(math.ceil(emu.org.user_count(state) / 500) for state in ("active", "inactive"))
        # the users listing twice (the second pass proves nothing moved), each missing user once
        assert by_path[USERS] == 2 * pages
        assert by_path.get(OWN_LISTING[kind], 0) == len(missing)
        assert result["requests"] == 2 * pages + len(missing)
        assert {"honoured": missing == set(), "dropped": len(missing) == emu.org.user_count() - emu.org.user_count(
            "deleted"), "missing for some users": 0 < len(missing) < emu.org.user_count()}[expand]


def users_without_the_expand(client: Any, kind: str) -> set[str]:
    """The active and inactive users the listing returns without the field (asked for directly, once)."""
    field = f"{kind}s"
    return {u["id"] for state in ("active", "inactive") for page in
            client.iter_pages("/api/v2/users", params={"pageSize": 500, "state": state, "expand": field})
            for u in page.entities if field not in u}


def test_a_user_with_more_entries_than_a_page_is_read_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(skills_plan, "USER_PAGE_SIZE", 2)
    with GenesysCloudEmulator(users=40, seed=6, expand="dropped") as emu, client_for(emu, max_retry_wait=0) as client:
        _, records = extract(client, "user_skills", tmp_path)
        assert triples(records, "skill") == ground_truth.holdings(emu.org, "skill")
        assert max(len(emu.org.user_skills(i)) for i in range(40)) > 2


class ChangingClient:
    """A client that, once ``after`` requests went through, lets another admin change the org (as
    ``change()`` says) before sending the next: the org changes in the middle of the extract."""

    def __init__(self, client: Any, after: int, change: Callable[[], None]) -> None:
        self.client, self.after, self.change, self.sent = client, after, change, 0
        self.stats = client.stats

    def request(self, method: str, endpoint: str, *, params: Mapping[str, Any] | None = None) -> Any:
        self.sent += 1
        if self.sent == self.after:
            self.change()
        return self.client.request(method, endpoint, params=params)

    def iter_pages(self, endpoint: str, *, params: Mapping[str, Any] | None = None) -> Iterator[Page]:
        return iter_pages(lambda url, query: self.request("GET", url, params=query), endpoint, params)


@pytest.mark.parametrize("expand", list(EXPANDS))
@pytest.mark.parametrize("dataset", list(KINDS))
def test_exact_while_users_and_their_sets_change_during_the_extract(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dataset: str, expand: str,
) -> None:
    """Every holding present for the whole run is written once (with its proficiency); nothing that never
    existed during the run is written; users deleted between the listing and their own read hold nothing."""
    monkeypatch.setattr(users_plan, "PAGE_SIZE", 50)  # pages of 50: several per state, so changes shift pages
    monkeypatch.setattr(skills_plan, "PAGE_SIZE", 50)
    kind = KINDS[dataset]
    with GenesysCloudEmulator(users=500, seed=7, rate_limit=100_000, **EXPANDS[expand]) as emu, \
            client_for(emu, max_retry_wait=0) as client:
        org = emu.org
        before = set(ground_truth.holdings(org, kind))
        changed = [i for i in range(40, 80) if org.state_of(i) != "deleted"]

        fault = emu.faults.org_change(remove=10, deactivate=10, add=10, after=1, path=r"^/api/v2/users$")

        def another_admin() -> None:
            for n, i in enumerate(changed):
                held = sorted(org.holdings(kind, i))
                if n % 3 == 0 and held:
                    org.change_proficiencies(kind, i, 0.0, remove=frozenset(held[:1]))
                elif n % 3 == 1:
                    org.change_proficiencies(kind, i, 0.0, put={(held or [0])[0]: 1.5, 5: 4.0})

        _, records = extract(ChangingClient(client, 3, another_admin), dataset, tmp_path)
        assert fault.fired == 1, "the users did not change mid-extract: the test would prove nothing"
        after = set(ground_truth.holdings(org, kind))
        written = set(triples(records, kind))
        assert len(records) == len({r["id"] for r in records}), "a holding was written twice"
        assert before != after, "the org did not change: the test would prove nothing"
        pairs = {(u, e) for u, e, _ in written}
        assert {(u, e) for u, e, _ in before & after} <= pairs, "missed holdings present for the whole run"
        assert written <= before | after, "wrote a holding (or a proficiency) that never existed during the run"
        if expand == "dropped":  # users listed, then deleted before their own listing was read: 404, skipped
            assert emu.stats.snapshot()["by_status"].get(404, 0) >= 1
