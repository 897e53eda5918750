"""Exact users extracts while the org changes between pages: every user present for the whole run is
written exactly once, in each state filter, by page number and by cursor."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_provider_genesys.extract.fetch import ListingChangedError
from airflow_provider_genesys.extract.plans import users as users_plan
from airflow_provider_genesys.testing import GenesysCloudEmulator
from airflow_provider_genesys.testing.areas import users as emulator_users

from .extract_support import extract_ids

CHANGES = {
    "added": {"add": 40},
    "deactivated": {"deactivate": 40},
    "deleted": {"remove": 40},
    "deleted and added (same total)": {"remove": 30, "add": 30},
}
LISTINGS = {"page numbers": r"^/api/v2/users$", "cursor": r"^/api/v2/users/query$"}


@pytest.fixture
def emu() -> Iterator[GenesysCloudEmulator]:
    with GenesysCloudEmulator(users=900, seed=21, rate_limit=100_000) as emulator:
        yield emulator


@pytest.fixture(autouse=True)
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages of 20, so every state spans several pages."""
    monkeypatch.setattr(users_plan, "PAGE_SIZE", 20)


def extract(emu: GenesysCloudEmulator, path: Path, state: str) -> list[str]:
    return extract_ids(emu, path, "users", state=state, max_workers=2)


@pytest.mark.parametrize("listing", list(LISTINGS))
@pytest.mark.parametrize("change", list(CHANGES))
@pytest.mark.parametrize("state", ["active", "inactive", "deleted", "any"])
def test_users_present_for_the_whole_run_are_written_once(
    emu: GenesysCloudEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, state: str, change: str,
    listing: str,
) -> None:
    if listing == "cursor":  # a cap (emulator and plan) below every state's size: the plan uses /users/query
        monkeypatch.setattr(emulator_users, "USERS_RESULT_CAP", 40)
        monkeypatch.setattr(users_plan, "USERS_PAGE_NUMBER_CAP", 40)
    before = set(emu.org.user_ids(state))
    fault = emu.faults.org_change(after=1, path=LISTINGS[listing], **CHANGES[change])
    ids = extract(emu, tmp_path / "users.ndjson", state)
    after = set(emu.org.user_ids(state))
    assert fault.fired == 1, "the org did not change mid-extract: the test would prove nothing"
    assert len(ids) == len(set(ids)), "a user was written twice"
    assert before & after <= set(ids), f"missed {len((before & after) - set(ids))} users present all along"
    assert set(ids) <= before | after


def test_an_org_that_never_stops_changing_fails_cleanly(emu: GenesysCloudEmulator, tmp_path: Path) -> None:
    emu.faults.org_change(add=3, after=1, count=None, path=r"^/api/v2/users$")
    with pytest.raises(ListingChangedError, match="retry the task later"):
        extract(emu, tmp_path / "users.ndjson", "active")
    assert list(tmp_path.iterdir()) == []  # nothing committed, no temporary file left
