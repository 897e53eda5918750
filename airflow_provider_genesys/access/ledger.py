"""The apply ledger: an append-only NDJSON file next to the plan, recording each write as it happens.

Why a ledger: apply may be killed (``kill -9``, a lost worker) or retried between any two writes. The
ledger says which writes were *attempted* (an ``intent`` line, written and fsync'd before the request is
sent) and how each ended (an ``outcome`` line, fsync'd when the answer arrives). A rerun reads it back:

- a change with a ``done`` outcome is never sent again, even if a read does not show it yet (Genesys'
  permission changes can take minutes to show);
- a change with an intent and no outcome, or an ``unknown`` outcome, may or may not have been applied: it
  is read back before anything is sent again;
- the changes an earlier run attempted explain why a subject's state differs from the plan's fingerprint
  (apply itself changed it), so the rerun does not refuse it as changed by someone else.

It also keeps the leavers' snapshots (what a user held before being deactivated) and is the source of the
report. One JSON object per line; a line cut short by a kill (the last one) is ignored on reading. Lines:

    {"type": "run", "run": n, "plan": <checksum>, "time": ...}
    {"type": "intent", "write": id, "kind": ..., "method": ..., "path": ..., "changes": [i, ...], "time": ...}
    {"type": "outcome", "write": id, "outcome": done|confirmed|absent|refused|split|not_sent|not_found|unknown,
     "status": ...,
     "correlation_id": ..., "message": ..., "changes": [i, ...], "time": ...}
    {"type": "refused", "changes": [i, ...], "subject": id, "why": ..., "time": ...}
    {"type": "snapshot", "user": id, "grants": [[role, division], ...], "groups": [...], "queues": [...],
     "time": ...}

Changes are named by their index in the plan (``changes[i]``); the plan's checksum in each ``run`` line
ties the ledger to one plan, so a ledger of another plan is refused.

One apply writes a ledger at a time (``lock.py``: the caller holds the lock, and gives the lease's check as
``guard``). A plan on object storage has two copies of its ledger, the worker's and the one beside the plan;
:func:`newer_copy` says which one to continue from, and refuses two that each hold lines the other lacks.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from airflow_provider_genesys.access.errors import GenesysAccessError, PlanError

UTC = timezone.utc  # datetime.UTC is Python 3.11+; the package supports 3.10

DONE = "done"  # the write was answered 2xx (or a read-back showed it applied: "confirmed")
CONFIRMED = "confirmed"
ABSENT = "absent"  # a one-grant DELETE answered 404: nothing to remove, counts as done
REFUSED = "refused"  # answered 4xx: not applied
NOT_SENT = "not_sent"  # 429 or no connection after the client's retries: never processed
NOT_FOUND = "not_found"  # 404 naming the subject (or group, queue): a user created moments ago can be 404
UNKNOWN = "unknown"  # timeout, 5xx, cut connection: may or may not have been applied
SPLIT = "split"  # refused as a whole (for its size?): its changes went again in smaller writes
SETTLED = frozenset({DONE, CONFIRMED, ABSENT})


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def ledger_path(plan_path: str) -> str:
    """Where the ledger of the plan at ``plan_path`` lives: ``<plan without .json>.ledger.ndjson``."""
    return _beside(plan_path, ".ledger.ndjson")


def report_path(plan_path: str) -> str:
    """Where the report of the plan at ``plan_path`` goes: ``<plan without .json>.report.ndjson``."""
    return _beside(plan_path, ".report.ndjson")


def lease_path(plan_path: str) -> str:
    """Where apply's lease objects for a plan on object storage go: the folder ``<plan without .json>.lease``."""
    return _beside(plan_path, ".lease")


def _beside(plan_path: str, suffix: str) -> str:
    stem = plan_path[: -len(".json")] if plan_path.endswith(".json") else plan_path
    return stem + suffix


@dataclass
class LedgerState:
    """What the ledger's lines say, per plan change."""

    runs: int = 0
    status: dict[int, str] = field(default_factory=dict)  # change index -> last outcome (or "sent")
    attempted: set[int] = field(default_factory=set)  # changes any write was sent (or about to be) for
    snapshots: dict[str, dict[str, Any]] = field(default_factory=dict)  # user id -> latest snapshot
    records: list[dict[str, Any]] = field(default_factory=list)  # every line, in order

    def settled(self, change: int) -> bool:
        return self.status.get(change) in SETTLED

    def unsure(self, change: int) -> bool:
        """Sent (or about to be) and no answer that settles it: read it back before sending again."""
        return change in self.attempted and self.status.get(change) in ("sent", UNKNOWN)

    def add(self, record: dict[str, Any]) -> None:
        self.records.append(record)
        kind = record.get("type")
        if kind == "run":
            self.runs = max(self.runs, int(record.get("run", 0)))
        elif kind == "intent":
            for change in record.get("changes", ()):
                self.attempted.add(change)
                if self.status.get(change) not in SETTLED:
                    self.status[change] = "sent"
        elif kind == "outcome":
            for change in record.get("changes", ()):
                if self.status.get(change) not in SETTLED:  # done once is done for good
                    self.status[change] = record["outcome"]
        elif kind == "refused":
            for change in record.get("changes", ()):
                self.status.setdefault(change, REFUSED)
        elif kind == "snapshot":
            self.snapshots[record["user"]] = record


def read_lines(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    """Ledger records; a line that is not a whole JSON object (cut by a kill) is skipped."""
    for line in lines:
        line = line.strip()
        if not line:
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            yield record


class Ledger:
    """An append-only, fsync'd NDJSON file on a local (or mounted) file system.

    ``guard`` is called before each line is written and raises when this run may no longer write (its lease
    on a plan on object storage was lost): the line, and the write it announces, never happen.
    """

    def __init__(self, path: str | os.PathLike[str], plan_checksum: str, *,
                 guard: Callable[[], None] | None = None) -> None:
        self.path = Path(path)
        self.plan_checksum = plan_checksum
        self.guard = guard
        self.state = LedgerState()
        cut = False
        if self.path.exists():
            with self.path.open(encoding="utf-8") as old:
                text = old.read()
                cut = bool(text) and not text.endswith("\n")
                for record in read_lines(text.splitlines()):
                    if record.get("type") == "run" and record.get("plan") != plan_checksum:
                        raise PlanError(
                            f"The ledger {self.path} belongs to another plan (checksum {record.get('plan')}, "
                            f"this plan {plan_checksum}): give each plan its own path (e.g. with the run id)"
                        )
                    self.state.add(record)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("a", encoding="utf-8")
        if cut:  # a last line cut short: the next one starts on a line of its own, or both would be unreadable
            self._file.write("\n")

    def close(self) -> None:
        self._file.close()

    def append(self, record: dict[str, Any]) -> dict[str, Any]:
        """Write one line and fsync it before returning: once this returns, a kill cannot lose it."""
        if self.guard is not None:
            self.guard()
        record.setdefault("time", now_iso())
        self._file.write(json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())
        self.state.add(record)
        return record

    def start_run(self) -> int:
        run = self.state.runs + 1
        self.append({"type": "run", "run": run, "plan": self.plan_checksum})
        return run


def read_ledger(lines: Iterable[str]) -> LedgerState:
    """A ledger's state from its lines, read only (the verify sensor; a ledger copied next to the plan)."""
    state = LedgerState()
    for record in read_lines(lines):
        state.add(record)
    return state


class LedgerConflictError(GenesysAccessError):
    """The two copies of a ledger each hold lines the other lacks, or the copy beside the plan moved on."""


def complete(text: str) -> str:
    """``text`` up to its last newline: a last line cut short by a kill was never a record."""
    return text[: text.rfind("\n") + 1]


def newer_copy(local: str, remote: str, *, local_name: str, remote_name: str) -> str:
    """Which copy of a ledger holds everything: ``"local"`` (the worker's) or ``"remote"`` (beside the plan).

    A ledger only grows, so of two copies of one ledger, one is the other plus the lines written since: that
    one is newer. Two copies that differ inside their common length were continued separately (two applies
    from different copies): neither holds every write, so neither may replace the other.
    """
    ours, theirs = complete(local), complete(remote)
    if theirs.startswith(ours):
        return "remote" if len(theirs) > len(ours) else "local"
    if ours.startswith(theirs):
        return "local"
    line = next(i for i, (a, b) in enumerate(zip(ours.splitlines(), theirs.splitlines(), strict=False), 1)
                if a != b)
    raise LedgerConflictError(
        f"The ledger {local_name} and its copy {remote_name} differ from line {line} on: each holds writes the "
        "other lacks (two applies ran from different copies, e.g. one on another worker after this one was "
        "killed). Apply stops so that neither is overwritten and nothing is sent twice. Keep both files and "
        "make a new plan: planning reads the org as it is now, so it includes what both runs did."
    )


def snapshots_in(paths: Iterable[str | os.PathLike[str]]) -> dict[str, dict[str, Any]]:
    """The latest leaver snapshot per user across earlier ledgers (later files and lines win)."""
    found: dict[str, dict[str, Any]] = {}
    for path in paths:
        with Path(path).open(encoding="utf-8") as file:
            for record in read_lines(file):
                if record.get("type") == "snapshot":
                    found[record["user"]] = record
    return found


__all__ = ["ABSENT", "CONFIRMED", "DONE", "NOT_FOUND", "NOT_SENT", "REFUSED", "SETTLED", "SPLIT", "UNKNOWN", "Ledger",
           "LedgerConflictError", "LedgerState", "complete", "lease_path", "ledger_path", "newer_copy",
           "read_ledger", "read_lines", "report_path", "snapshots_in"]
