"""Load ``conversations`` extracts into flat SQL tables, idempotently per interval (DB-API 2, any driver).

Tables (created when missing; keys are Genesys ids, so they are stable across reruns):

- ``conversations`` (``conversation_id``), ``participants`` (``participant_id``), ``sessions``
  (``session_id``), ``segments`` (``session_id``, ``segment_index``), ``metrics`` (``session_id``,
  ``metric_index``); every child row also carries ``conversation_id``.

:func:`load_conversations` deletes the rows of every conversation that started in the interval, then
inserts the files' rows, in one transaction: a rerun (or a backfill) of an interval replaces exactly that
interval, and a reader sees the old rows or the new ones, never a mix. Rows are inserted in batches as they
stream from the files, so memory does not grow with the interval. The SQL is portable (SQLite,
PostgreSQL, MariaDB/MySQL): ``VARCHAR`` keys, ISO-8601 text timestamps (``YYYY-MM-DDTHH:MM:SS.mmmZ``,
which sort as time), no upserts. Tables are created before the transaction starts, because MySQL commits
DDL implicitly.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from typing import Any

from airflow_provider_genesys.extract.writer import StoragePath, iter_ndjson
from airflow_provider_genesys.intervals import Interval, parse_instant, parse_interval
from airflow_provider_genesys.loaders.database import BatchInserter, column_count, transaction

KEY = "VARCHAR(64)"
TIME = "VARCHAR(32)"

TABLES: dict[str, tuple[str, ...]] = {
    "conversations": (f"conversation_id {KEY} PRIMARY KEY", f"conversation_start {TIME} NOT NULL",
                      f"conversation_end {TIME}", "originating_direction VARCHAR(16)",
                      "division_id VARCHAR(64)", "min_mos FLOAT"),
    "participants": (f"participant_id {KEY} PRIMARY KEY", f"conversation_id {KEY} NOT NULL",
                     "purpose VARCHAR(32)", "participant_name VARCHAR(255)", f"user_id {KEY}"),
    "sessions": (f"session_id {KEY} PRIMARY KEY", f"participant_id {KEY} NOT NULL",
                 f"conversation_id {KEY} NOT NULL", "media_type VARCHAR(32)", "direction VARCHAR(16)",
                 "ani VARCHAR(255)", "dnis VARCHAR(255)"),
    "segments": (f"session_id {KEY} NOT NULL", "segment_index INTEGER NOT NULL",
                 f"conversation_id {KEY} NOT NULL", "segment_type VARCHAR(32)", f"segment_start {TIME}",
                 f"segment_end {TIME}", f"queue_id {KEY}", f"wrap_up_code {KEY}", "disconnect_type VARCHAR(32)",
                 "PRIMARY KEY (session_id, segment_index)"),
    "metrics": (f"session_id {KEY} NOT NULL", "metric_index INTEGER NOT NULL",
                f"conversation_id {KEY} NOT NULL", "name VARCHAR(64)", "value BIGINT", f"emit_date {TIME}",
                "PRIMARY KEY (session_id, metric_index)"),
}
CHILDREN = ("metrics", "segments", "sessions", "participants")


def normal_time(value: Any) -> str | None:
    """Any ISO-8601 instant as ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (text that sorts as time); None stays None."""
    if not value:
        return None
    if len(value) == 24 and value[10] == "T" and value[19] == "." and value[23] == "Z":
        return value  # already the fixed form (what Genesys sends): skip parsing 20 timestamps a conversation
    return _fixed(parse_instant(value))


def _fixed(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def conversation_rows(conversation: dict) -> Iterator[tuple[str, tuple]]:
    """``(table, row)`` for one conversation record and everything inside it."""
    cid = conversation["conversationId"]
    divisions = conversation.get("divisionIds") or []
    yield "conversations", (cid, normal_time(conversation["conversationStart"]),
                            normal_time(conversation.get("conversationEnd")),
                            conversation.get("originatingDirection"), divisions[0] if divisions else None,
                            conversation.get("mediaStatsMinConversationMos"))
    for participant in conversation.get("participants") or []:
        pid = participant["participantId"]
        yield "participants", (pid, cid, participant.get("purpose"), participant.get("participantName"),
                               participant.get("userId"))
        for session in participant.get("sessions") or []:
            sid = session["sessionId"]
            yield "sessions", (sid, pid, cid, session.get("mediaType"), session.get("direction"),
                               session.get("ani"), session.get("dnis"))
            for n, segment in enumerate(session.get("segments") or []):
                yield "segments", (sid, n, cid, segment.get("segmentType"), normal_time(segment.get("segmentStart")),
                                   normal_time(segment.get("segmentEnd")), segment.get("queueId"),
                                   segment.get("wrapUpCode"), segment.get("disconnectType"))
            for n, metric in enumerate(session.get("metrics") or []):
                yield "metrics", (sid, n, cid, metric.get("name"), metric.get("value"),
                                  normal_time(metric.get("emitDate")))


def create_tables(connection: Any) -> None:
    """Create the five tables where missing (committed on its own: MySQL commits DDL implicitly anyway)."""
    cursor = connection.cursor()
    try:
        for table, columns in TABLES.items():
            cursor.execute(f"CREATE TABLE IF NOT EXISTS {table} ({', '.join(columns)})")
        connection.commit()
    finally:
        cursor.close()


def _records(files: Iterable[StoragePath], interval: Interval) -> Iterator[dict]:
    for path in files:
        for record in iter_ndjson(path):
            if not interval.contains(parse_instant(record["conversationStart"])):
                raise ValueError(
                    f"{path} holds conversation {record.get('conversationId')} started at "
                    f"{record['conversationStart']}, outside the interval {interval} being loaded; load each "
                    "file with the interval it was extracted for."
                )
            yield record


def load_conversations(
    connection: Any, files: Iterable[StoragePath], interval: str, *, placeholder: str = "?"
) -> dict[str, int]:
    """Replace the interval's conversations with those of ``files`` (one transaction); rows per table."""
    span = parse_interval(interval)
    create_tables(connection)
    bounds = (_fixed(span.start), _fixed(span.end))
    where = f"conversation_start >= {placeholder} AND conversation_start < {placeholder}"
    with transaction(connection) as cursor:
        for table in CHILDREN:
            cursor.execute(
                f"DELETE FROM {table} WHERE conversation_id IN "  # noqa: S608 (fixed names)
                f"(SELECT conversation_id FROM conversations WHERE {where})", bounds,
            )
        cursor.execute(f"DELETE FROM conversations WHERE {where}", bounds)  # noqa: S608
        batches = BatchInserter(cursor, {t: column_count(c) for t, c in TABLES.items()}, placeholder)
        for record in _records(files, span):
            for table, row in conversation_rows(record):
                batches.add(table, row)
        return batches.flush()  # parents first: the order of TABLES


