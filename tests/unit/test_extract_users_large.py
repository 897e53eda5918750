"""An org of 25,000 users (inactive and deleted users past the 10,000th result) extracts exactly however
the real API caps GET /api/v2/users and whether GET /api/v2/users/query is allowed."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_genesys.exceptions import GenesysCloudConfigError
from airflow_provider_genesys.testing import GenesysCloudEmulator

from .extract_support import extract_ids

USERS = 25_000


def extract(emu: GenesysCloudEmulator, path: Path, state: str) -> list[str]:
    return extract_ids(emu, path, "users", state=state, max_workers=4)


@pytest.mark.slow  # 25,000 users, four times
@pytest.mark.parametrize("users_query", ["allowed", "forbidden"])
@pytest.mark.parametrize("users_cap", ["inactive", "all"])
def test_25000_users_exactly_once_in_every_variant(tmp_path: Path, users_cap: str, users_query: str) -> None:
    with GenesysCloudEmulator(
        users=USERS, seed=8, rate_limit=1_000_000, users_cap=users_cap, users_query=users_query
    ) as emu:
        org = emu.org
        assert org.user_count("active") > 2 * 10_000  # one state past what page numbers reach when capped
        positions = {user_id: n for n, user_id in enumerate(org.user_ids("any"))}
        assert {org.state_of(org.index_of(u)) for u, n in positions.items() if n >= 10_000} == {
            "active", "inactive", "deleted"}
        if users_cap == "all" and users_query == "forbidden":
            # No published way lists more than 20,000 users of one state: a clear, non-retryable error.
            with pytest.raises(GenesysCloudConfigError, match="directory:user:view in all divisions"):
                extract(emu, tmp_path / "users.ndjson", "any")
            assert list(tmp_path.iterdir()) == []
            return
        ids = extract(emu, tmp_path / "users.ndjson", "any")
        assert len(ids) == len(set(ids)) == USERS
        assert set(ids) == set(positions)
        cursor_pages = emu.stats.snapshot()["by_path"].get("GET /api/v2/users/query", 0)
        if users_cap == "inactive":  # active users are not capped: page numbers in parallel, no cursor
            assert cursor_pages == 0
        else:  # capped: the cursor, one page at a time (each pass)
            assert cursor_pages > 2 * 20


@pytest.mark.parametrize("change", [None, {"deactivate": 20}, {"add": 20}])
def test_capped_state_without_the_cursor_reads_from_both_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: dict | None
) -> None:
    """Cap on every state and /users/query refused: page numbers up to the cap, the rest in descending
    order (shown with the cap scaled down to 400 results, pages of 50), exact even while the org changes."""
    from airflow_provider_genesys.extract.plans import users as users_plan
    from airflow_provider_genesys.testing.areas import users as emulator_users

    monkeypatch.setattr(emulator_users, "USERS_RESULT_CAP", 400)
    monkeypatch.setattr(users_plan, "USERS_PAGE_NUMBER_CAP", 400)
    monkeypatch.setattr(users_plan, "PAGE_SIZE", 50)
    with GenesysCloudEmulator(users=900, seed=21, users_cap="all", users_query="forbidden") as emu:
        before = set(emu.org.user_ids("active"))
        assert 400 < len(before) <= 800
        if change:
            emu.faults.org_change(after=3, path=r"^/api/v2/users$", **change)
        ids = extract(emu, tmp_path / "users.ndjson", "active")
        after = set(emu.org.user_ids("active"))
        assert len(ids) == len(set(ids))
        assert before & after <= set(ids) <= before | after
        if not change:
            assert set(ids) == before
        assert emu.stats.snapshot()["by_path"]["GET /api/v2/users"] > 1
