"""genesys_conversations_daily on real Airflow: day-by-day catch-up with faults, each day equal to truth.

Each day is one real DagRun of that logical date (data interval = that day), as ``airflow dags test
genesys_conversations_daily <date>`` makes it, the seven in one Airflow process. Airflow 3's ``airflow
backfill create`` only queues runs for a scheduler, so a test without a scheduler runs the days itself, in
order, as catch-up would: a week of 4,200 conversations (600 a day, result pages of 100), with a failed job,
an expired one and a 429 on submission. (The volume, 100,002 conversations in the same week, runs without
Airflow around it: tests/unit/test_extract_conversations.py.)
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from airflow_provider_genesys.testing import GenesysCloudEmulator

pytestmark = pytest.mark.e2e
DAG_ID = "genesys_conversations_daily"
FIRST = datetime(2026, 3, 2, tzinfo=timezone.utc)
DAYS = 7
PER_DAY = 600


def truth(emu: GenesysCloudEmulator, start: datetime, days: int) -> list[str]:
    span = (int(start.timestamp() * 1000), int((start + timedelta(days=days)).timestamp() * 1000))
    return sorted(cid for cid, _ in emu.analytics.history.started(*span))


@pytest.mark.slow  # about 3 minutes: the main suite runs it, the compatibility matrix does not
def test_daily_catch_up_with_faults_equals_ground_truth(run_dag, tmp_path: Path) -> None:
    base = tmp_path / "out"
    with GenesysCloudEmulator(users=80, seed=21, job_seconds=0, rate_limit=100_000, conversations_per_day=PER_DAY,
                              analytics_page_size=100) as emu:
        emu.analytics.jobs.set_availability(None)  # the emulator's clock: the week and yesterday are complete
        emu.analytics.jobs.script("FAILED")  # the first chunk's first job
        emu.analytics.jobs.script("EXPIRED", after_pages=1)  # the next job's results vanish after a page
        emu.faults.rate_limit(retry_after=1, path=r"/details/jobs$", method="POST", after=2, count=1)
        conf = {"base": str(base), "chunk_hours": 12}
        # The week, day by day, then a manual run (empty data interval), all in one Airflow process.
        run_dag(DAG_ID, connection=emu.connection_dict(), conf=conf,
                logical_dates=[*((FIRST + timedelta(days=n + 1)).isoformat() for n in range(DAYS)), None])
        assert emu.stats.rate_limited >= 1
        states = [job.final_state for job in emu.analytics.jobs.jobs]
        assert "FAILED" in states
        assert "EXPIRED" in states

        # The manual run (empty data interval) loaded the previous UTC day, next to the week's days.
        today = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
        yesterday = truth(emu, today - timedelta(days=1), 1)
        week = truth(emu, FIRST, DAYS)
        assert len(week) == DAYS * PER_DAY
        db = sqlite3.connect(base / "conversations.db")
        loaded = [r[0] for r in db.execute("SELECT conversation_id FROM conversations ORDER BY conversation_id")]
        assert loaded == sorted(week + yesterday)
        for n in range(DAYS):
            day = FIRST + timedelta(days=n)
            folder = base / "conversations" / f"{day:%Y-%m-%d}"
            assert sorted(p.name for p in folder.iterdir()) == ["part-000.ndjson", "part-001.ndjson"]
            # no temporary files, each chunk file only its chunk's conversations
            ids = sorted(json.loads(line)["conversationId"] for p in folder.iterdir()
                         for line in p.read_text().splitlines())
            assert ids == truth(emu, day, 1)
        assert db.execute("SELECT COUNT(*) FROM metrics").fetchone()[0] == 8 * len(loaded)
        db.close()
        # (Reruns replacing exactly their interval: tests/unit/test_extract_conversations.py.)


def test_one_day_equals_ground_truth(run_dag, tmp_path: Path) -> None:
    """The same DAG for one small day: what the compatibility matrix runs on every Airflow line."""
    base = tmp_path / "out"
    with GenesysCloudEmulator(users=20, seed=5, job_seconds=0, conversations_per_day=300) as emu:
        emu.analytics.jobs.set_availability(FIRST + timedelta(days=1))
        run_dag(DAG_ID, connection=emu.connection_dict(), conf={"base": str(base), "chunk_hours": 12},
                logical_date=(FIRST + timedelta(days=1)).isoformat())
        expected = truth(emu, FIRST, 1)
    with closing(sqlite3.connect(base / "conversations.db")) as db:
        loaded = [r[0] for r in db.execute("SELECT conversation_id FROM conversations ORDER BY conversation_id")]
    assert loaded == expected
    assert len(loaded) >= 250
    folder = base / "conversations" / f"{FIRST:%Y-%m-%d}"
    assert sorted(p.name for p in folder.iterdir()) == ["part-000.ndjson", "part-001.ndjson"]
