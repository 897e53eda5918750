"""GenesysCloudExtractOperator with interval datasets: the run's data interval, or an explicit interval."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from airflow_provider_genesys._compat import AirflowFailException
from airflow_provider_genesys.extract.plans.analytics import DataNotAvailableError
from airflow_provider_genesys.operators.genesys import GenesysCloudExtractOperator
from airflow_provider_genesys.testing import GenesysCloudEmulator

CONTEXT = {"data_interval_start": datetime(2026, 3, 2, tzinfo=timezone.utc),
           "data_interval_end": datetime(2026, 3, 3, tzinfo=timezone.utc)}


@pytest.fixture
def emu(monkeypatch: pytest.MonkeyPatch) -> Iterator[GenesysCloudEmulator]:
    with GenesysCloudEmulator(users=30, seed=8, job_seconds=0, conversations_per_day=96) as emulator:
        emulator.analytics.jobs.set_availability("2026-03-10T00:00:00Z")
        monkeypatch.setenv("AIRFLOW_CONN_GENESYS_CLOUD_DEFAULT", json.dumps(emulator.connection_dict()))
        yield emulator


def starts(path: Path) -> list[str]:
    return [json.loads(line)["conversationStart"] for line in path.read_text().splitlines()]


def test_conversations_default_to_the_data_interval(emu, tmp_path: Path) -> None:
    op = GenesysCloudExtractOperator(task_id="x", dataset="conversations", destination=str(tmp_path / "c.ndjson"),
                                     poll_interval=0)
    result = op.execute(CONTEXT)
    found = starts(tmp_path / "c.ndjson")
    assert result["records"] == len(found) == 96
    assert found[0] >= "2026-03-02"
    assert found[-1] < "2026-03-03"


def test_an_explicit_interval_wins_and_a_bad_one_fails_fast(emu, tmp_path: Path) -> None:
    op = GenesysCloudExtractOperator(task_id="x", dataset="conversations", destination=str(tmp_path / "c.ndjson"),
                                     interval="2026-03-04T06:00:00Z/2026-03-04T12:00:00Z", poll_interval=0)
    assert op.execute(CONTEXT)["records"] == 24
    assert all("2026-03-04T06" <= s < "2026-03-04T12" for s in starts(tmp_path / "c.ndjson"))
    bad = GenesysCloudExtractOperator(task_id="y", dataset="conversations", destination=str(tmp_path / "d.ndjson"),
                                      interval="2026-03-04")
    with pytest.raises(AirflowFailException, match="not an ISO-8601 interval 'start/end'"):
        bad.execute(CONTEXT)
    assert "interval" in GenesysCloudExtractOperator.template_fields


def test_settling_arguments_are_checked_when_the_dag_is_parsed(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="settle_minutes must be >= 0"):
        GenesysCloudExtractOperator(task_id="x", dataset="conversations", destination=str(tmp_path / "c.ndjson"),
                                    settle_minutes=-5)
    with pytest.raises(ValueError, match="in_progress 'keep' is not valid; use one of: refuse, write"):
        GenesysCloudExtractOperator(task_id="x", dataset="conversations", destination=str(tmp_path / "c.ndjson"),
                                    in_progress="keep")


def test_a_recent_interval_waits_for_settle_minutes(emu, tmp_path: Path) -> None:
    """The operator's default settle_minutes (60) refuses an interval that ended minutes ago, retryably."""
    op = GenesysCloudExtractOperator(task_id="x", dataset="conversations", destination=str(tmp_path / "c.ndjson"))
    now = datetime.now(timezone.utc)
    with pytest.raises(DataNotAvailableError, match="less than settle_minutes=60 ago"):
        op.execute({"data_interval_start": now - timedelta(hours=1), "data_interval_end": now})
    assert not (tmp_path / "c.ndjson").exists()
