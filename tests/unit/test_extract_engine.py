"""The extract engine's progress log and summary, with a fake clock and a fake client."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_genesys.extract import ExtractOptions, run_extract
from airflow_provider_genesys.extract.engine import Progress


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_progress_logs_at_most_every_interval(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    progress = Progress("users", 30.0, clock=clock, logger=logging.getLogger("t"))
    with caplog.at_level(logging.INFO, logger="t"):
        for second in range(0, 70, 5):
            clock.now = 100.0 + second
            progress.tick(records=second * 10, pages=second // 5)
        progress.tick(records=700, pages=14, final=True)
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "users progress: 300 records, 6 pages, 10.0 records/s, 30.0 s",
        "users progress: 600 records, 12 pages, 10.0 records/s, 60.0 s",
        "users done: 700 records, 14 pages, 10.8 records/s, 65.0 s",
    ]


class FakeStats:
    def __init__(self) -> None:
        self.requests = 7
        self.rate_limited = 2

    def snapshot(self) -> dict[str, Any]:
        return {"requests": self.requests, "rate_limited": self.rate_limited}


class FakeClient:
    """One page of three divisions; counts requests like the real client's stats."""

    def __init__(self) -> None:
        self.stats = FakeStats()

    def request(self, method: str, endpoint: str, *, params: Any = None) -> dict:
        self.stats.requests += 1
        self.stats.rate_limited += 1
        entities = [{"id": "a"}, {"id": "b"}, {"id": "a"}]
        return {"entities": entities, "pageNumber": 1, "pageCount": 1, "total": 3}

    def iter_pages(self, endpoint: str, *, params: Any = None):  # pragma: no cover - unused
        raise AssertionError


def test_summary_counts_this_extract_only(tmp_path: Path) -> None:
    result = run_extract(FakeClient(), "divisions", tmp_path / "d.ndjson", ExtractOptions(), clock=Clock())
    assert result == {"dataset": "divisions", "path": str(tmp_path / "d.ndjson"), "records": 2, "pages": 1,
                      "requests": 1, "rate_limited": 1, "seconds": 0.0}


def test_unknown_dataset_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="use one of: users, roles"):
        run_extract(FakeClient(), "chats", tmp_path / "q.ndjson")
