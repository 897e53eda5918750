"""A long extract says what it is doing in the task log: bounded progress lines with growing counts.

The progress clock here advances 10 s per request the client sends: a slow organisation, deterministic, with
no sleeping. The engine logs at most one line per ``progress_interval`` of that clock, and a last one.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from airflow_provider_genesys.extract import ExtractOptions, run_extract
from airflow_provider_genesys.extract.engine import Progress
from airflow_provider_genesys.testing import GenesysCloudEmulator
from airflow_provider_genesys.testing.tokens import SECRETS_FILE_ENV
from tests.conftest import client_for

SECONDS_PER_REQUEST = 10.0
INTERVAL = 30.0
LINE = re.compile(r"^(\w+) (progress|done): (\d+) records, (\d+) pages(?:, (\d+) read again)?, [\d.]+ records/s, "
                  r"([\d.]+) s(?:; (.*))?$")


@pytest.fixture
def secrets_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every secret the emulator holds or hands out (client secret, each token), one per line."""
    path = tmp_path / "secrets.tsv"
    monkeypatch.setenv(SECRETS_FILE_ENV, str(path))
    return path


def run(emu: GenesysCloudEmulator, dataset: str, path: Path, caplog: pytest.LogCaptureFixture,
        **options: object) -> tuple[dict, list[re.Match[str]], str]:
    """Extract with the request-driven clock; the result, the engine's parsed lines, all the log text."""
    logger = logging.getLogger("task")
    with client_for(emu, max_retry_wait=0) as client, caplog.at_level(logging.INFO):
        result = run_extract(client, dataset, path / f"{dataset}.ndjson", ExtractOptions(**options),  # type: ignore[arg-type]
                             progress_interval=INTERVAL, logger=logger,
                             clock=lambda: client.stats.requests * SECONDS_PER_REQUEST)
    said = [r.getMessage() for r in caplog.records if r.name == "task"]
    lines = [LINE.match(line) for line in said if re.match(rf"{dataset} (progress|done): ", line)]
    assert all(lines), said
    return result, [m for m in lines if m], caplog.text


def test_a_long_extract_logs_growing_counts_a_bounded_number_of_times(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, secrets_file: Path
) -> None:
    with GenesysCloudEmulator(users=6000, seed=2) as emu:
        result, lines, text = run(emu, "users", tmp_path, caplog, max_workers=2)
    progress, done = lines[:-1], lines[-1]
    # 12 pages of 500 read twice (the second pass proves nothing moved): 240 s of this clock
    assert result["pages"] == 24
    seconds = result["requests"] * SECONDS_PER_REQUEST
    assert 3 <= len(progress) <= seconds // INTERVAL  # bounded by the interval, not one per page or record
    records = [int(m[3]) for m in progress]
    pages = [int(m[4]) for m in progress]
    assert records == sorted(records)
    assert records[0] < records[-1] == result["records"]  # growing while the first pass writes
    assert pages == sorted(pages)
    assert pages[0] < pages[-1]
    assert any(m[5] and m[7] == "pass 2: reading users again to prove nothing moved" for m in progress)
    assert [float(m[6]) for m in progress] == sorted(float(m[6]) for m in progress)  # seconds go forward
    assert done.group(1, 2, 3, 4) == ("users", "done", str(result["records"]), "24")
    assert done[5] == str(result["records"])  # every record read again once, none written twice
    assert "reading them again to prove nothing moved between pages (pass 2 of at most 4)" in text
    secrets = [line.split("\t", 1)[1] for line in secrets_file.read_text().splitlines()]
    assert len(secrets) >= 2  # the client secret and at least one token
    assert not [secret for secret in secrets if secret in text]


def test_reading_before_the_first_record_is_shown_with_what_it_is_for(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Grants write nothing until the users, groups and OAuth clients have been read to type subjects."""
    with GenesysCloudEmulator(users=5000, seed=3) as emu:
        result, lines, _ = run(emu, "grants", tmp_path, caplog, max_workers=1)
    typing = [m for m in lines if m[7] and "tell which kind of subject each grant names" in m[7]]
    assert typing
    assert all(m[3] == "0" for m in typing)
    assert [int(m[4]) for m in typing] == sorted(int(m[4]) for m in typing)
    assert lines[-1][3] == str(result["records"])


MONDAY = datetime(2026, 3, 2, tzinfo=timezone.utc)


@pytest.fixture
def slow_jobs() -> Iterator[GenesysCloudEmulator]:
    """Analytics jobs that stay QUEUED/PENDING for 12 status reads."""
    with GenesysCloudEmulator(users=30, seed=2, job_polls=12, conversations_per_day=50) as emu:
        emu.analytics.jobs.set_availability((MONDAY + timedelta(days=2)).timestamp())
        yield emu


def test_waiting_for_an_analytics_job_says_so(
    slow_jobs: GenesysCloudEmulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    interval = f"{MONDAY.isoformat()}/{(MONDAY + timedelta(days=1)).isoformat()}".replace("+00:00", "Z")
    result, lines, _ = run(slow_jobs, "conversations", tmp_path, caplog, interval=interval, poll_interval=0)
    waiting = [m for m in lines[:-1] if m[3] == "0"]
    assert len(waiting) >= 3  # 13 status reads at 10 s each: a line every 30 s while nothing is written
    assert all(re.fullmatch(r"Genesys conversation_details job \S+ (is QUEUED|is PENDING|ended FULFILLED)", m[7])
               for m in waiting)
    assert lines[-1][3] == str(result["records"]) != "0"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_progress_line_shows_what_was_read_again_and_the_activity_but_the_last_line_only_totals(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    progress = Progress("grants", 30.0, clock=clock, logger=logging.getLogger("t"))
    with caplog.at_level(logging.INFO, logger="t"):
        clock.now = 29.0
        progress.tick(10, 1, activity="typing subjects")  # too soon: nothing
        clock.now = 30.0
        progress.tick(10, 2, again=5, activity="pass 2: reading grants again to prove nothing moved")
        progress.tick(10, 3, again=6)  # the same instant: nothing
        clock.now = 40.0
        progress.tick(10, 4, again=10, activity="pass 2", final=True)
    assert [r.getMessage() for r in caplog.records] == [
        "grants progress: 10 records, 2 pages, 5 read again, 0.3 records/s, 30.0 s; pass 2: reading grants again "
        "to prove nothing moved",
        "grants done: 10 records, 4 pages, 10 read again, 0.2 records/s, 40.0 s",
    ]


def test_the_operator_task_log_gets_the_lines(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from airflow_provider_genesys.operators.genesys import GenesysCloudExtractOperator

    with GenesysCloudEmulator(users=20, seed=1) as emu:
        monkeypatch.setenv("AIRFLOW_CONN_GENESYS_CLOUD_DEFAULT", json.dumps(emu.connection_dict(max_retry_wait=0)))
        op = GenesysCloudExtractOperator(task_id="roles", dataset="roles", destination=str(tmp_path / "r.ndjson"))
        with caplog.at_level(logging.INFO):
            result = op.execute({})
    # the task logger is standard logging on some Airflow lines, structlog printing to the task's output on others
    out, err = capfd.readouterr()
    logged = caplog.text + out + err
    assert f"roles done: {result['records']} records, 1 pages, " in logged
