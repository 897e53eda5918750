"""Settling: a conversations extract of a recent interval never stores a conversation incomplete.

The emulator's ``in_progress_minutes`` shows the conversations of a recent interval that have not ended
as Genesys does (no ``conversationEnd``, partial segments). The extract refuses such an interval
(``settle_minutes``) and such conversations (``in_progress``), so the tables hold every conversation whole
once a later run (a task retry) has extracted it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from airflow_provider_genesys.extract.plans.analytics import ConversationsInProgressError, DataNotAvailableError
from airflow_provider_genesys.intervals import Interval
from airflow_provider_genesys.loaders import load_conversations
from airflow_provider_genesys.testing import GenesysCloudEmulator

from .extract_support import extract_ids

JOBS = "POST /api/v2/analytics/conversations/details/jobs"


@pytest.fixture
def emu() -> Iterator[GenesysCloudEmulator]:
    with GenesysCloudEmulator(users=40, seed=11, job_seconds=0, rate_limit=100_000, conversations_per_day=2000,
                              in_progress_minutes=60) as emulator:
        yield emulator


@pytest.fixture
def recent() -> Interval:
    """Two hours that ended two minutes ago: its last conversations are still going on."""
    end = datetime.now(timezone.utc).replace(second=0, microsecond=0) - timedelta(minutes=2)
    return Interval(end - timedelta(hours=2), end)


def truth(emu: GenesysCloudEmulator, interval: Interval) -> list[str]:
    span = (int(interval.start.timestamp() * 1000), int(interval.end.timestamp() * 1000))
    return sorted(cid for cid, _ in emu.analytics.history.started(*span))


def test_a_conversation_in_progress_at_the_first_extract_is_whole_in_the_tables_after_the_later_run(
    emu: GenesysCloudEmulator, recent: Interval, tmp_path: Path
) -> None:
    path = tmp_path / "part-000.ndjson"
    with pytest.raises(ConversationsInProgressError, match="have not ended yet") as refused:
        extract_ids(emu, path, "conversations", interval=str(recent), poll_interval=0, settle_minutes=0)
    assert "in_progress='write'" in str(refused.value)
    assert not path.exists()  # nothing written, so nothing incomplete can be loaded

    emu.advance_clock(31 * 60)  # the task's retry, once every conversation of the interval has ended
    extract_ids(emu, path, "conversations", interval=str(recent), poll_interval=0, settle_minutes=0)
    db = sqlite3.connect(tmp_path / "c.db")
    load_conversations(db, [path], str(recent))
    rows = db.execute("SELECT conversation_id, conversation_end FROM conversations ORDER BY 1").fetchall()
    assert [cid for cid, _ in rows] == truth(emu, recent)
    assert all(end is not None for _, end in rows)
    open_segments = db.execute("SELECT COUNT(*) FROM segments WHERE segment_end IS NULL").fetchone()[0]
    assert open_segments == 0


def test_an_interval_that_has_not_settled_is_refused_before_any_request(
    emu: GenesysCloudEmulator, recent: Interval, tmp_path: Path
) -> None:
    with pytest.raises(DataNotAvailableError, match="settle_minutes=60") as refused:
        extract_ids(emu, tmp_path / "c.ndjson", "conversations", interval=str(recent), poll_interval=0)
    assert "GenesysCloudDataAvailabilitySensor" in str(refused.value)
    assert emu.stats.by_path.get(JOBS, 0) == 0
    with pytest.raises(DataNotAvailableError, match="settle_minutes=180"):
        extract_ids(emu, tmp_path / "c.ndjson", "conversations", interval=str(recent), settle_minutes=180)


def test_in_progress_write_stores_them_as_genesys_has_them(
    emu: GenesysCloudEmulator, recent: Interval, tmp_path: Path
) -> None:
    path = tmp_path / "c.ndjson"
    ids = extract_ids(emu, path, "conversations", interval=str(recent), poll_interval=0, settle_minutes=0,
                      in_progress="write")
    assert sorted(ids) == truth(emu, recent)
    db = sqlite3.connect(tmp_path / "c.db")
    load_conversations(db, [path], str(recent))
    assert db.execute("SELECT COUNT(*) FROM conversations WHERE conversation_end IS NULL").fetchone()[0] > 0
