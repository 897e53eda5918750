"""Data intervals: the one reading of ``start/end`` text, of a run's data interval and of a manual run.

Every face that takes an interval (the extract operator, the audit query operator, the availability sensor,
the example DAGs) resolves it here, so a manual run means the same thing everywhere:

1. an explicit ``interval="start/end"`` (ISO-8601, each end with ``Z`` or an offset) wins;
2. else the run's data interval, when it is not empty (a scheduled run, a backfill);
3. else (a manual run: Airflow 3 gives it an empty data interval, start == end, or none) the previous
   UTC day before the run's date, ``[00:00 the day before, 00:00 that day)``.

Text without a time zone is refused (``2024-05-01T00:00`` in whose zone?); ``datetime`` objects without one
are UTC, as Airflow keeps them. Intervals are returned in UTC. Airflow-free: ``data_interval.py`` reads the
task context and turns :class:`IntervalError` into ``AirflowFailException``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from typing import Any

INTERVAL_EXAMPLE = "2024-05-01T00:00:00Z/2024-05-02T00:00:00Z"
# An interval is extracted only once it ended this long ago (docs/decisions.md, "Settling"): conversations
# near its end have ended by then, and the availability sensor waits for it too.
DEFAULT_SETTLE_MINUTES = 60.0
# What the extract does with conversations still in progress (no conversationEnd): refuse the interval, or
# write them as they are.
IN_PROGRESS_CHOICES = ("refuse", "write")


class IntervalError(ValueError):
    """A bad interval (unparsable, without a time zone, empty or ending before it starts); the message says
    what was wrong and shows the format. Retrying cannot fix it."""


@dataclass(frozen=True)
class Interval:
    """A half-open UTC interval ``[start, end)``."""

    start: datetime
    end: datetime

    def __str__(self) -> str:
        return f"{iso(self.start)}/{iso(self.end)}"

    def contains(self, instant: datetime) -> bool:
        return self.start <= instant < self.end


def iso(moment: datetime) -> str:
    """``2024-05-01T00:00:00.000Z``: UTC, milliseconds, as Genesys writes instants."""
    text = moment.astimezone(timezone.utc).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def parse_instant(text: str) -> datetime:
    """An ISO-8601 instant as Genesys sends them; without an offset it is UTC (for API data, not user input)."""
    value = datetime.fromisoformat(str(text).strip().replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _instant(part: str, text: str) -> datetime:
    value = datetime.fromisoformat(part.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise IntervalError(
            f"interval {text!r}: {part.strip()!r} has no time zone; end each instant with Z (UTC) or an offset "
            f"such as +02:00, e.g. {INTERVAL_EXAMPLE}"
        )
    return value.astimezone(timezone.utc)


def parse_interval(text: Any) -> Interval:
    """``start/end`` (ISO-8601 with time zones) into a UTC :class:`Interval`; :class:`IntervalError` otherwise."""
    parts = text.split("/") if isinstance(text, str) else []
    if len(parts) != 2 or not all(part.strip() for part in parts):
        raise IntervalError(
            f"interval {text!r} is not an ISO-8601 interval 'start/end' (two instants joined by one '/'), "
            f"e.g. {INTERVAL_EXAMPLE}"
        )
    try:
        start, end = (_instant(part, text) for part in parts)
    except IntervalError:
        raise
    except ValueError as err:  # fromisoformat's own message names the bad part
        raise IntervalError(
            f"interval {text!r} is not an ISO-8601 interval 'start/end' ({err}), e.g. {INTERVAL_EXAMPLE}"
        ) from None
    return checked(start, end, f"interval {text!r}")


def interval_chunks(interval: str, hours: float = 6) -> list[str]:
    """Split ``start/end`` into consecutive ``start/end`` chunks of at most ``hours`` (for ``expand``).

    The chunks share their boundaries and the extract keeps conversations by start in ``[start, end)``, so
    together they hold each conversation of the interval exactly once.
    """
    if hours <= 0:
        raise ValueError(f"hours must be positive; got {hours}")
    whole = parse_interval(interval)
    step = timedelta(hours=hours)
    chunks, start = [], whole.start
    while start < whole.end:
        end = min(start + step, whole.end)
        chunks.append(str(Interval(start, end)))
        start = end
    return chunks


def checked(start: datetime, end: datetime, what: str) -> Interval:
    """``[start, end)`` in UTC (a naive datetime is UTC); :class:`IntervalError` when it is empty or reversed."""
    start, end = (_utc(moment) for moment in (start, end))
    if end == start:
        raise IntervalError(f"{what} is empty: it starts and ends at {iso(start)}; its end must be after its start, "
                            f"e.g. {INTERVAL_EXAMPLE}")
    if end < start:
        raise IntervalError(f"{what} ends ({iso(end)}) before it starts ({iso(start)}); swap them, "
                            f"e.g. {INTERVAL_EXAMPLE}")
    return Interval(start, end)


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    utc = moment.astimezone(timezone.utc)  # a plain datetime, also from pendulum's subclass
    return datetime(utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second, utc.microsecond,
                    tzinfo=timezone.utc)


def previous_utc_day(moment: datetime) -> Interval:
    """The UTC day before the one ``moment`` falls in: what a manual run extracts."""
    today = datetime.combine(_utc(moment).date(), time(), tzinfo=timezone.utc)
    return Interval(today - timedelta(days=1), today)


def resolve_interval(
    explicit: str | None, start: datetime | None, end: datetime | None, *, now: datetime | None = None
) -> Interval:
    """The interval a task works on: ``explicit`` text, else the data interval ``[start, end)`` when it is
    not empty, else (a manual run) the previous UTC day before ``end`` (or ``start``, or ``now``)."""
    if explicit is not None:
        return parse_interval(explicit)
    if start and end and _utc(end) != _utc(start):
        return checked(start, end, "the run's data interval")
    return previous_utc_day(end or start or now or datetime.now(timezone.utc))


def settle_delta(settle_minutes: float | None) -> timedelta:
    """``settle_minutes`` as a timedelta (None: the default); ValueError when negative."""
    minutes = DEFAULT_SETTLE_MINUTES if settle_minutes is None else float(settle_minutes)
    if minutes < 0:
        raise ValueError(f"settle_minutes must be >= 0; got {settle_minutes}")
    return timedelta(minutes=minutes)
