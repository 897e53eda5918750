"""The conversations extract and its loader against the emulator: exact per interval, whatever fails.

The extract engine, the client and the SQL loader run here exactly as the operator and the example DAG
run them, without Airflow around them (the DAG itself runs the same week in tests/e2e).
"""

from __future__ import annotations

import gzip
import json
import sqlite3
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from airflow_provider_genesys.client import GenesysCloudClient
from airflow_provider_genesys.extract import ExtractOptions, run_extract
from airflow_provider_genesys.extract.plans.analytics import AnalyticsJobError, DataNotAvailableError
from airflow_provider_genesys.intervals import interval_chunks, parse_interval
from airflow_provider_genesys.loaders import load_conversations
from airflow_provider_genesys.settings import GenesysSettings
from airflow_provider_genesys.testing import GenesysCloudEmulator

MONDAY = datetime(2026, 3, 2, tzinfo=timezone.utc)


def day(n: int) -> str:
    start = MONDAY + timedelta(days=n)
    return f"{start:%Y-%m-%dT%H:%M:%SZ}/{start + timedelta(days=1):%Y-%m-%dT%H:%M:%SZ}"


def ms(interval: str) -> tuple[int, int]:
    span = parse_interval(interval)
    return int(span.start.timestamp() * 1000), int(span.end.timestamp() * 1000)


def ids_in(path: Path) -> Iterator[str]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt") as lines:
        for line in lines:
            yield json.loads(line)["conversationId"]


OPTIONS = {"poll_interval": 0}


@pytest.fixture
def week_emulator() -> Iterator[GenesysCloudEmulator]:
    # >= 100,000 conversations in the week; results pages of 1,000; jobs done when first polled
    with GenesysCloudEmulator(users=300, seed=11, job_seconds=0, rate_limit=1_000_000,
                              conversations_per_day=14_286, analytics_page_size=1000) as emu:
        emu.analytics.jobs.set_availability((MONDAY + timedelta(days=8)).timestamp())
        yield emu


@pytest.mark.slow  # the suite's one 100,000-conversation run (the e2e DAG test runs a small catch-up)
def test_a_week_of_100k_conversations_day_by_day_equals_ground_truth(
    week_emulator, tmp_path: Path, emulator_client
) -> None:
    """Seven daily intervals, each in chunks (mapped tasks in the DAG), with FAILED and EXPIRED jobs and
    429s on submission injected: every conversation once, in the file and in the tables of its day."""
    emu = week_emulator
    jobs = emu.analytics.jobs
    jobs.script("FAILED")  # the first job of day 0
    emu.faults.rate_limit(retry_after=1, path=r"/details/jobs$", method="POST", after=3, count=2)
    client = emulator_client(emu)
    db = sqlite3.connect(":memory:")  # 2.1 million rows: the same SQL, without the page writes
    total = 0
    for n in range(7):
        if n == 3:
            jobs.script("EXPIRED", after_pages=2)  # its results vanish while we read them
        chunks = interval_chunks(day(n), hours=12)
        files = []
        for c, chunk in enumerate(chunks):
            path = tmp_path / f"day{n}" / f"chunk{c}.ndjson"
            result = run_extract(client, "conversations", path, ExtractOptions(interval=chunk, **OPTIONS))
            ids = list(ids_in(path))
            assert sorted(ids) == sorted(cid for cid, _ in emu.analytics.history.started(*ms(chunk)))
            assert result["records"] == len(ids)
            files.append(path)
        counts = load_conversations(db, files, day(n))
        truth = sorted(cid for cid, _ in emu.analytics.history.started(*ms(day(n))))
        assert counts["conversations"] == len(truth)
        total += len(truth)
    assert total >= 100_000
    assert emu.stats.rate_limited >= 2
    assert [j.final_state for j in jobs.jobs].count("FAILED") == 1
    assert "EXPIRED" in [j.final_state for j in jobs.jobs]

    week = ms(f"{day(0).split('/')[0]}/{day(6).split('/')[1]}")
    truth = sorted(cid for cid, _ in emu.analytics.history.started(*week))
    loaded = [row[0] for row in db.execute("SELECT conversation_id FROM conversations ORDER BY conversation_id")]
    assert loaded == truth  # each conversation once: no gap or overlap at day or chunk boundaries
    per_conversation = db.execute(
        "SELECT (SELECT COUNT(*) FROM participants), (SELECT COUNT(*) FROM sessions), "
        "(SELECT COUNT(*) FROM segments), (SELECT COUNT(*) FROM metrics)"
    ).fetchone()
    # customer + acd + agent participants, one session each; 1 + 1 + 3 segments; 1 + 2 + 5 metrics
    assert per_conversation == (3 * total, 3 * total, 5 * total, 8 * total)
    orphans = db.execute(
        "SELECT COUNT(*) FROM segments s LEFT JOIN conversations c ON c.conversation_id = s.conversation_id "
        "WHERE c.conversation_id IS NULL"
    ).fetchone()[0]
    assert orphans == 0
    db.close()


@pytest.fixture
def small_emulator() -> Iterator[GenesysCloudEmulator]:
    with GenesysCloudEmulator(users=40, seed=2, job_seconds=0, rate_limit=100_000, conversations_per_day=400,
                              analytics_page_size=100) as emu:
        emu.analytics.jobs.set_availability((MONDAY + timedelta(days=3)).timestamp())
        yield emu


def test_reloading_an_interval_replaces_exactly_it(small_emulator, tmp_path: Path, emulator_client) -> None:
    emu = small_emulator
    client = emulator_client(emu)
    db = sqlite3.connect(tmp_path / "x.db")
    for n in (0, 1):
        path = tmp_path / f"d{n}.ndjson.gz"
        run_extract(client, "conversations", path, ExtractOptions(interval=day(n), **OPTIONS))
        load_conversations(db, [path], day(n))
    before = db.execute("SELECT COUNT(*) FROM conversations").fetchone()[0]
    again = load_conversations(db, [tmp_path / "d0.ndjson.gz"], day(0))
    tables = ("conversations", "participants", "sessions", "segments", "metrics")
    after = {t: db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in tables}
    assert after["conversations"] == before == 800
    assert again["conversations"] == 400
    assert after["metrics"] == 8 * 800
    with pytest.raises(ValueError, match="outside the interval"):
        load_conversations(db, [tmp_path / "d0.ndjson.gz"], day(1))
    assert db.execute("SELECT COUNT(*) FROM conversations").fetchone()[0] == 800  # rolled back


def test_an_interval_past_data_availability_is_refused(small_emulator, tmp_path: Path, emulator_client) -> None:
    emu = small_emulator
    emu.analytics.jobs.set_availability("2026-03-03T18:00:00Z")
    path = tmp_path / "late.ndjson"
    with pytest.raises(DataNotAvailableError, match=r"up to 2026-03-03T18:00:00.000Z only.*ends at 2026-03-05"):
        run_extract(emulator_client(emu), "conversations", path, ExtractOptions(interval=day(2), **OPTIONS))
    assert not path.exists()
    assert list(tmp_path.iterdir()) == []
    assert not emu.analytics.jobs.jobs  # nothing submitted


def test_jobs_failing_every_time_fail_the_extract_naming_each(small_emulator, tmp_path: Path, emulator_client) -> None:
    emu = small_emulator
    emu.analytics.jobs.script("FAILED", count=2)
    emu.analytics.jobs.script("CANCELLED")
    with pytest.raises(AnalyticsJobError, match=r"3 jobs ended without readable results.*FAILED.*CANCELLED"):
        run_extract(emulator_client(emu), "conversations", tmp_path / "x.ndjson",
                    ExtractOptions(interval=day(0), **OPTIONS))
    assert list(tmp_path.iterdir()) == []


def test_user_presence_one_record_per_user_and_interval(small_emulator, tmp_path: Path, emulator_client) -> None:
    emu = small_emulator
    path = tmp_path / "presence.ndjson"
    emu.analytics.jobs.script("EXPIRED", after_pages=0)
    result = run_extract(emulator_client(emu), "user_presence", path, ExtractOptions(interval=day(1), **OPTIONS))
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert result["records"] == len(records) == emu.org.user_count("active")
    assert {r["userId"] for r in records} == set(emu.org.user_ids("active"))
    assert all(r["interval"] == "2026-03-03T00:00:00.000Z/2026-03-04T00:00:00.000Z" for r in records)
    assert all(len(r["primaryPresence"]) == 5 for r in records)


def test_interval_is_required_and_validated(small_emulator, tmp_path: Path, emulator_client) -> None:
    client = emulator_client(small_emulator)
    with pytest.raises(ValueError, match="needs an interval"):
        run_extract(client, "conversations", tmp_path / "x.ndjson", ExtractOptions())
    with pytest.raises(ValueError, match="not an ISO-8601 interval"):
        run_extract(client, "conversations", tmp_path / "x.ndjson", ExtractOptions(interval="yesterday"))
    assert interval_chunks("2026-03-02T00:00:00Z/2026-03-02T10:00:00Z", hours=4) == [
        "2026-03-02T00:00:00.000Z/2026-03-02T04:00:00.000Z",
        "2026-03-02T04:00:00.000Z/2026-03-02T08:00:00.000Z",
        "2026-03-02T08:00:00.000Z/2026-03-02T10:00:00.000Z",
    ]


def test_queues_with_members_and_wrapup_codes(small_emulator, tmp_path: Path, emulator_client) -> None:
    emu = small_emulator
    client = emulator_client(emu)
    run_extract(client, "queues", tmp_path / "q.ndjson", ExtractOptions())
    records = [json.loads(line) for line in (tmp_path / "q.ndjson").read_text().splitlines()]
    routing = emu.analytics.routing
    assert [r["id"] for r in records if r["recordType"] == "queue"] == routing.queue_ids
    members = {(r["queueId"], r["member"]["id"]) for r in records if r["recordType"] == "member"}
    assert members == {(qid, emu.org.user_id(i)) for q, qid in enumerate(routing.queue_ids)
                       for i in routing.members(q)}
    run_extract(client, "wrapup_codes", tmp_path / "w.ndjson", ExtractOptions())
    codes = [json.loads(line)["id"] for line in (tmp_path / "w.ndjson").read_text().splitlines()]
    assert codes == routing.wrapup_ids


def test_requests_are_genesys_shaped_and_the_cursor_is_followed(requests_mock, tmp_path: Path) -> None:
    """Against a mocked API: the bodies we submit fit Genesys' query models; pages follow ``cursor``."""
    from tests.emulator.test_models import assert_conforms

    api = "https://api.mypurecloud.com/api/v2/analytics"
    requests_mock.get(f"{api}/conversations/details/jobs/availability",
                      json={"dataAvailabilityDate": "2026-03-04T00:00:00Z"})
    submit = requests_mock.post(f"{api}/conversations/details/jobs", status_code=202, json={"jobId": "j1"})
    requests_mock.get(f"{api}/conversations/details/jobs/j1", json={"state": "FULFILLED"})
    conversation = {"conversationId": "c1", "conversationStart": "2026-03-02T10:00:00.000Z",
                    "conversationEnd": "2026-03-02T10:05:00.000Z"}
    before = {"conversationId": "c0", "conversationStart": "2026-03-01T23:50:00.000Z"}  # activity after midnight
    results = requests_mock.get(f"{api}/conversations/details/jobs/j1/results", [
        {"json": {"conversations": [before], "cursor": "next-page"}},
        {"json": {"conversations": [conversation]}},
    ])
    settings = GenesysSettings.from_connection(login=None, password=None,
                                               extra={"grant_type": "access_token", "access_token": "t"})
    with GenesysCloudClient(settings) as client:
        result = run_extract(client, "conversations", tmp_path / "c.ndjson", ExtractOptions(interval=day(0)))
    assert result["records"] == 1
    assert [json.loads(line)["conversationId"] for line in (tmp_path / "c.ndjson").read_text().splitlines()] == ["c1"]
    body = submit.last_request.json()
    assert_conforms(body, "AsyncConversationQuery")
    assert body == {"interval": "2026-03-02T00:00:00.000Z/2026-03-03T00:00:00.000Z", "order": "asc",
                    "orderBy": "conversationStart"}
    assert [r.qs.get("cursor") for r in results.request_history] == [None, ["next-page"]]


def test_chunks_in_parallel_past_the_concurrent_jobs_limit_wait_their_turn(tmp_path: Path, emulator_client) -> None:
    """Mapped chunks running at once: a submission over the limit gets 429 + Retry-After and is retried.

    A job takes 3 s of the emulator's clock, so the second submission (milliseconds after the first) finds one
    unfinished; the client waits out Retry-After by moving that clock instead of sleeping."""
    from concurrent.futures import ThreadPoolExecutor

    with GenesysCloudEmulator(users=20, seed=4, job_seconds=3, rate_limit=100_000, conversations_per_day=48,
                              analytics_max_jobs=1) as emu:
        emu.analytics.jobs.set_availability("2026-03-05T00:00:00Z")
        chunks = interval_chunks(day(0), hours=12)
        with emulator_client(emu, sleep=emu.advance_clock) as client, ThreadPoolExecutor(2) as pool:
            results = list(pool.map(
                lambda n: run_extract(client, "conversations", tmp_path / f"{n}.ndjson",
                                      ExtractOptions(interval=chunks[n], poll_interval=0.2)),
                range(2),
            ))
        assert sum(r["rate_limited"] for r in results) >= 1
        assert sorted(i for n in range(2) for i in ids_in(tmp_path / f"{n}.ndjson")) == sorted(
            cid for cid, _ in emu.analytics.history.started(*ms(day(0))))
