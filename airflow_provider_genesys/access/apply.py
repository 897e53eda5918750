"""Apply a plan exactly once, safe to kill and rerun (no Airflow).

In order:

1. The plan is loaded (checksum, org) and refused if older than ``max_plan_age`` (:func:`load_plan`).
2. The touched subjects' current state is re-read in bulk, with the planner's own listings (``read_org``).
3. Every subject whose state moved on since the plan is refused, by name; the rest proceed. A subject's
   state counts as unchanged when it equals the plan's fingerprint once the changes an earlier run of this
   apply attempted (the ledger says which) are taken back: apply's own writes are not someone else's. A
   change naming a role, division, skill ... deleted since the plan is refused up front (:meth:`_gone`).
4. Each change the ledger settles is skipped (even if a read does not show it yet: propagation); each one
   the re-read shows done is recorded as confirmed; the rest become the fewest writes (each relation's
   ``writes``), adds before removes, in the relation's phases.
5. Each write: a ledger ``intent`` line (fsync'd), the request (never resent by the client: ``once=True``),
   a ledger ``outcome`` line. A write whose outcome is unknown (timeout, 5xx, cut connection; or, on a rerun,
   an intent with no outcome: a kill) stays ``unknown`` in the ledger and is never re-sent blindly. A write
   of many subjects refused for its size is halved (:meth:`_halve`); a version conflict or a concurrent
   change is read back before anything is sent again (:meth:`_recheck`).
6. Settling (:meth:`Applier._settle`): once the other writes are sent, the unknown changes are re-read with a
   bounded backoff on the client's sleep. Genesys' reads can lag writes by minutes, so "not shown" means
   "not applied" only once reads have caught up: when the changes of a write answered 2xx *after* the
   unknown one (the witnesses) show, or, with no such write, once ``settle_timeout`` has passed. Then what
   still does not show is sent again, once. If ``settle_timeout`` passes while the witnesses do not show
   yet, nothing is re-sent: apply fails retryable and the task's retry reads back first.
7. Leavers (``user_state``): before a user is deactivated, its direct grants, group and queue memberships
   go into the ledger as a snapshot; a plan's restores (planned from earlier snapshots) go after the user's
   reactivation is done (``relations/user_state.py``).

A 403 stops everything at once (:class:`WritePermissionError`, naming the permission each write needs).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from airflow_provider_genesys.access.current import read_org
from airflow_provider_genesys.access.errors import GenesysAccessError
from airflow_provider_genesys.access.guardrails import check_plan_age
from airflow_provider_genesys.access.ledger import (
    ABSENT,
    CONFIRMED,
    DONE,
    NOT_FOUND,
    NOT_SENT,
    REFUSED,
    SPLIT,
    UNKNOWN,
    Ledger,
    LedgerState,
)
from airflow_provider_genesys.access.names import Directory
from airflow_provider_genesys.access.plan import Plan, loads
from airflow_provider_genesys.access.registry import RELATIONS
from airflow_provider_genesys.access.registry import relation as relation_named
from airflow_provider_genesys.access.state import CurrentState, Target, fingerprint
from airflow_provider_genesys.access.writes import Write
from airflow_provider_genesys.exceptions import GenesysCloudApiError
from airflow_provider_genesys.retrypolicy import Failure

log = logging.getLogger(__name__)
# Failures whose outcome is unknown, or that were never processed: never a reason to split a write.
UNSURE = (Failure.UNKNOWN_OUTCOME, Failure.SERVER_ERROR, Failure.RATE_LIMITED, Failure.NOT_SENT)
# A write of many subjects (members, users) refused with one of these is halved: Genesys publishes no maximum
# per call for some (the role bulk-grant, a division move), and halving also isolates one bad subject.
SPLIT_ON = (400, 404, 413)
VERSION_RETRIES = 3  # re-reads of a group's or user's version after a conflict, per write
CONFLICT_WAIT = 1.0  # seconds before reading back a write refused as a concurrent change (then 2, 4)
STALE_VERSION = (409, 400)  # Genesys answers a stale version 409; Terraform retries a 400 "version" too
# How long reads may lag a write: Genesys documents that permission changes "can take minutes" to show
# (docs/decisions.md). Unknown outcomes are re-read for up to this long before anything is decided.
SETTLE_TIMEOUT = 300.0
SETTLE_FIRST_WAIT, SETTLE_MAX_WAIT = 2.0, 60.0  # the backoff between re-reads of unknown outcomes
WITNESSES = 5  # changes of the latest 2xx write read to tell whether reads caught up
PROGRESS_EVERY = 30.0  # seconds between progress lines while writing


class Api(Protocol):
    """What apply needs of the client (``GenesysCloudClient``)."""

    def request(self, method: str, endpoint: str, *, params: Mapping[str, Any] | None = None,
                json: Any = None, once: bool = False) -> Any: ...

    def paginate(self, endpoint: str, *, params: Mapping[str, Any] | None = None) -> Iterable[dict]: ...


class WritePermissionError(GenesysAccessError):
    """Genesys answered 403 to a write: the connection lacks a permission; nothing more was written."""


@dataclass
class ApplyResult:
    """What one run of apply did."""

    writes: int = 0
    settled: int = 0  # plan changes done (now or by an earlier run)
    refused_subjects: dict[str, str] = field(default_factory=dict)  # subject -> why
    failed: list[str] = field(default_factory=list)  # writes refused or still unknown, with why
    # writes a later run may complete: a 404 naming a subject (created moments ago?), an outcome unknown twice
    retry: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.refused_subjects and not self.failed and not self.retry


def load_plan(text: str | bytes, *, org_id: str, now: datetime, max_age: timedelta | None) -> Plan:
    """The plan, refused if edited, of another org, or older than ``max_age``."""
    plan = loads(text, org_id=org_id)
    check_plan_age(plan.created, now, max_age)
    return plan


def permission(kind: str) -> str:
    """The permission a kind of write needs, as its relation's module names it."""
    for spec in RELATIONS.values():
        if kind in spec.permissions:
            return spec.permissions[kind]
    return "to make this write"


def as_planned(relation: str, subject: str, changes: Iterable[Mapping[str, Any]], held: set[Target]) -> str:
    """The fingerprint of ``held`` with ``changes`` (attempted by apply) taken back."""
    spec = relation_named(relation)
    before = set(held)
    for change in changes:
        before = spec.undo(change, before)
    return fingerprint(relation, subject, before)


class Applier:
    """One run of apply over one plan and its ledger."""

    def __init__(self, plan: Plan, client: Api, ledger: Ledger, *, restore: Mapping[str, Mapping] | None = None,
                 on_write: Callable[[Write], None] | None = None, max_workers: int = 4,
                 reader: Callable[[str], CurrentState] | None = None, settle_timeout: float = SETTLE_TIMEOUT,
                 sleep: Callable[[float], None] | None = None, clock: Callable[[], float] | None = None) -> None:
        self.plan, self.client, self.ledger = plan, client, ledger
        self.relation = plan.relation
        self.spec = relation_named(plan.relation)
        # Plan changes by index; restores given to apply (``restore``) by a key of their own ("restore:...").
        self.changes: dict[int | str, Mapping[str, Any]] = dict(enumerate(plan.changes))
        self.changes.update(self.spec.restores(plan.changes, restore or {}))
        self.on_write = on_write  # called after each write's outcome is recorded (tests inject kills here)
        # The org's names and state of a relation; a reader may return the state alone (tests).
        self.read_org = reader or (lambda relation: read_org(client, relation, max_workers=max_workers))
        self.directory: Directory | None = None
        self.result = ApplyResult()
        self.versions: dict[str, int] = {}
        self.run = 0
        self._sent = 0
        self.settle_timeout = settle_timeout
        # The client's sleep (tests give the emulator's clock), so waiting for reads never waits in real time.
        self.sleep = sleep or getattr(client, "sleep", None) or time.sleep
        self.unknown: dict[int | str, int] = {}  # change -> the write number after which its outcome became unknown
        self.limits: dict[str, int] = {}  # write kind -> the most parts a call carried after a refusal for size
        self.unknown_why: Counter[str] = Counter()  # how the unknown outcomes came about ("answered 503", ...)
        self.clock = clock or time.monotonic  # progress lines: at most one per PROGRESS_EVERY of it
        self._planned_writes, self._sent_in_phase, self._last_line = 0, 0, 0.0
        self._witness: tuple[int, list[int]] = (0, [])  # (write number, changes) of the latest 2xx write

    @property
    def state(self) -> LedgerState:
        return self.ledger.state

    def read(self, relation: str) -> CurrentState:
        """The current state of ``relation`` (the directory of names it came with is kept)."""
        found = self.read_org(relation)
        if isinstance(found, tuple):
            self.directory, found = found
        return found

    # -- the run -------------------------------------------------------------------------------------

    def apply(self) -> ApplyResult:
        self.run = self.ledger.start_run()
        log.info("Re-reading the org's %s state before writing (the plan has %d change(s))", self.relation,
                 len(self.changes))
        current = self.read(self.relation)
        self.versions = dict(current.versions)
        pending = self._gone(self._accepted(current))
        done = sum(1 for i in self.changes if self.state.settled(i))
        log.info("%d change(s) to send; %d done already (by an earlier run or shown by the re-read), %d to read "
                 "back first, %d subject(s) refused as changed since the plan", len(pending), done, len(self.unknown),
                 len(self.result.refused_subjects))
        self.spec.before_writes(self, pending)
        for phase in self.spec.phases(self, pending):  # a phase's writes, then its unknown outcomes settled
            writes = self._writes(phase, current)
            self._planned_writes, self._sent_in_phase = len(writes), 0
            self._send_all(writes)
            if writes:
                log.info("Sent %d write(s) for %d change(s)", len(writes), len(phase))
            self._settle()
        self.result.settled = sum(1 for i in range(len(self.plan.changes)) if self.state.settled(i))
        return self.result

    def _writes(self, indexes: list[int | str], current: CurrentState) -> list[Write]:
        """The writes of ``indexes``, each relation's by its module (a restore's are another relation's)."""
        by_relation: dict[str, list[tuple[int | str, Mapping[str, Any]]]] = {}
        for i in indexes:
            by_relation.setdefault(self.changes[i].get("relation", self.relation), []).append((i, self.changes[i]))
        return [write for relation, items in by_relation.items()
                for write in relation_named(relation).writes(items, current if relation == self.relation else None,
                                                             self.plan.scope if relation == self.relation else None)]

    def own(self, index: int | str) -> bool:
        """Whether a change is of the plan's relation (not a restore of another one)."""
        return self.changes[index].get("relation", self.relation) == self.relation

    def _accepted(self, current: CurrentState) -> list[int | str]:
        """The changes still to send, after refusing stale subjects and skipping what is done."""
        by_subject: dict[str, list[int | str]] = {}
        for index, change in self.changes.items():
            by_subject.setdefault(change["subject"], []).append(index)
        pending: list[int | str] = []
        for subject, indexes in by_subject.items():
            if all(self.state.settled(i) for i in indexes):
                continue
            held = current.held.get(subject, set())
            attempted = [self.changes[i] for i in indexes if i in self.state.attempted and self.own(i)]
            planned = self.plan.fingerprints.get(subject)
            if planned is not None and as_planned(self.relation, subject, attempted, held) != planned:
                why = ("its state changed since the plan was made (someone else changed it): not overwritten; "
                       "make a new plan to include it")
                self.result.refused_subjects[subject] = why
                self.ledger.append({"type": "refused", "subject": subject, "why": why,
                                    "changes": [i for i in indexes if not self.state.settled(i)]})
                continue
            shown = []
            for index in indexes:
                if self.state.settled(index):
                    continue  # the ledger says done: never sent twice, even if reads lag
                if self.own(index) and self.spec.visible(self.changes[index], held):
                    shown.append(index)
                elif self.state.unsure(index):
                    self.unknown[index] = 0  # an earlier run's write with no outcome: settle, never resend blindly
                else:
                    pending.append(index)
            if shown:
                self.ledger.append({"type": "outcome", "write": f"{self.run}-read", "outcome": CONFIRMED,
                                    "changes": shown, "message": "the re-read shows it done"})
        return pending

    def _gone(self, pending: list[int | str]) -> list[int | str]:
        """Refuse up front the changes naming a role, division, group ... deleted since the plan (one line per
        thing deleted); a removal of something deleted has nothing left to remove (done, nothing sent)."""
        if self.directory is None:
            return pending
        kept: list[int | str] = []
        refused: dict[str, list[int | str]] = {}
        absent: dict[str, list[int | str]] = {}
        for index in pending:
            change = self.changes[index]
            # the re-read knows the plan's relation's names (a restore of another relation: its write says)
            missing = self.spec.gone(change, self.directory) if self.own(index) else []
            if not missing:
                kept.append(index)
            else:
                (absent if change["action"] == "remove" else refused).setdefault(", ".join(missing), []).append(index)
        for what, indexes in absent.items():
            self.ledger.append({"type": "outcome", "write": f"{self.run}-read", "outcome": ABSENT, "changes": indexes,
                                "message": f"{what} was deleted since the plan: nothing left to remove"})
        for what, indexes in refused.items():
            why = f"{what} was deleted since the plan: its {len(indexes)} change(s) were not sent"
            self.ledger.append({"type": "refused", "outcome": REFUSED, "why": why, "changes": indexes})
            self.result.failed.append(why + "; make a new plan")
            log.warning("Refused without sending: %s", why)
        return kept

    # -- sending -------------------------------------------------------------------------------------

    def _send_all(self, writes: list[Write], resend: bool = True) -> bool:
        """Send ``writes`` in order; True when every one was done."""
        done = True
        for write in writes:
            done = self._send(write, resend) and done
        return done

    def _send(self, write: Write, resend: bool) -> bool:
        """Send one write (as smaller ones where a size was learned this run); True when it was done."""
        limit = self.limits.get(write.kind)
        if limit is not None and write.splittable and len(write.parts or ()) > limit:
            return self._send_all(write.split(limit), resend)
        self._sent += 1
        write_id = f"{self.run}-{self._sent}"
        self.ledger.append({"type": "intent", "write": write_id, "kind": write.kind, "method": write.method,
                            "path": write.path, "changes": write.changes})
        attempts = 0
        while True:
            try:
                # Never the client's resend: a write whose outcome is unknown is the ledger's to settle, whatever
                # its method (PUT, DELETE) and the connection's retry_non_idempotent.
                self.client.request(write.method, write.path, params=write.params or None, json=self._body(write),
                                    once=True)
            except GenesysCloudApiError as err:
                if ((write.versioned or write.retry_on_conflict) and err.status in STALE_VERSION
                        and attempts < VERSION_RETRIES and (err.status == 409 or "version" in err.message.lower())):
                    attempts += 1
                    if write.versioned:
                        self._reread_version(write)
                    else:  # a concurrent change with no version to send: let it land, then look
                        self.sleep(CONFLICT_WAIT * 2 ** (attempts - 1))
                    rest, refused = self._recheck(write, write_id)
                    if rest is None:
                        self._counted(write)
                        return not refused
                    write = rest
                    continue
                self._counted(write)
                if write.splittable and err.status in SPLIT_ON and err.failure not in UNSURE:
                    return self._halve(write, write_id, err, resend)
                self._failed(write, write_id, err, resend)
                return False
            else:
                self._done(write, write_id)
                self._counted(write)
                return True

    def _recheck(self, write: Write, write_id: str) -> tuple[Write | None, bool]:
        """After a version conflict someone else changed the group or user since apply read it: before sending
        again, read what the write changes. A change the read shows made is confirmed; one whose subject no
        longer holds what the plan saw (nor what the plan wants) moved under us and is refused by name, not
        overwritten. The rest goes again (None: nothing is left to send), and whether any was refused."""
        cache: dict[str, Any] = {}
        shown, moved, rest = [], [], []
        for index in write.changes:
            change = self.changes[index]
            spec = self.spec_of(change)
            held = spec.read_back(self.client, change, cache)
            if spec.visible(change, held):
                shown.append(index)
            elif spec.moved(change, held):
                moved.append(index)
            else:
                rest.append(index)
        self.versions.update(cache.get("versions", {}))
        if shown:
            self.ledger.append({"type": "outcome", "write": write_id, "outcome": CONFIRMED, "changes": shown,
                                "message": "read back after a version conflict: already made"})
        for index in moved:
            subject = self.changes[index]["subject"]
            why = ("changed by someone else while apply was writing it (a version conflict, and its state is no "
                   "longer the plan's): not overwritten; make a new plan to include it")
            self.result.refused_subjects[subject] = why
            self.ledger.append({"type": "refused", "subject": subject, "why": why, "changes": [index]})
            log.warning("Refused %s: %s", self.changes[index].get("subject_name", subject), why)
        if not rest:
            return None, bool(moved)
        if len(rest) == len(write.changes):
            return write, False
        if write.splittable:
            return write.rebuild([part for part in write.parts or () if part[0] in rest]), bool(moved)
        if not moved:  # one user's bulk write: sent whole, what it carries already made is idempotent in effect
            return write, False
        # sent whole it would overwrite the change that moved: the rest waits for a rerun, which reads it back
        self.ledger.append({"type": "outcome", "write": write_id, "outcome": NOT_SENT, "changes": rest,
                            "message": "not sent again: the same write carries a change that moved"})
        self.result.retry.append(f"{write.describe()}: {len(rest)} change(s) not sent again beside one that moved "
                                 "(a version conflict): run apply again")
        return None, True

    def _counted(self, write: Write) -> None:
        self.result.writes += 1
        self._sent_in_phase += 1
        now = self.clock()
        if now - self._last_line >= PROGRESS_EVERY:
            self._last_line = now
            log.info("Writes sent so far: %d (this phase: %d of about %d); %d change(s) done, %d with an unknown "
                     "outcome to read back", self.result.writes, self._sent_in_phase, self._planned_writes,
                     sum(1 for i in self.changes if self.state.settled(i)), len(self.unknown))
        if self.on_write is not None:
            self.on_write(write)

    def _halve(self, write: Write, write_id: str, err: GenesysCloudApiError, resend: bool) -> bool:
        """A write of many parts refused: send it again as two halves. When both go in, the refusal was the
        write's size: at most a half's parts go in one call for the rest of the run. When one half is refused
        again, that half is halved in turn, which isolates a bad subject in a few calls."""
        parts = write.parts or []
        half = (len(parts) + 1) // 2
        self.ledger.append({"type": "outcome", "write": write_id, "outcome": SPLIT, "status": err.status,
                            "correlation_id": err.correlation_id, "message": err.message, "changes": write.changes})
        done = self._send_all(write.split(half), resend)
        known = self.limits.get(write.kind)
        if done and (known is None or half < known):
            self.limits[write.kind] = half
            log.info("Genesys refused %d %s in one %s %s (%s %s); both halves went in: at most %d %s a call "
                     "for the rest of this run", len(parts), write.unit, write.method, write.path, err.status,
                     err.message, half, write.unit)
        return done

    def _body(self, write: Write) -> Any:
        if write.versioned is None:
            return write.body
        version = self.versions.get(write.versioned)
        if version is None:
            version = self._reread_version(write)
        return {**write.body, "version": version}

    def _reread_version(self, write: Write) -> int:
        """The current version of the group or user a write names (after a conflict, or never read)."""
        body = self.client.request("GET", str(write.version_path)) or {}
        self.versions[str(write.versioned)] = int(body.get("version") or 0)
        return self.versions[str(write.versioned)]

    def _exchange(self) -> tuple[int | None, str | None]:
        last = getattr(self.client, "last_exchange", None)
        return last() if last is not None else (None, None)

    def _done(self, write: Write, write_id: str) -> None:
        status, correlation = self._exchange()
        self.ledger.append({"type": "outcome", "write": write_id, "outcome": DONE, "status": status,
                            "correlation_id": correlation, "changes": write.changes})
        if write.versioned and write.versioned in self.versions:
            self.versions[write.versioned] += 1  # Genesys increments the version on each change
        if not write.absent_on_404:  # a visible removal proves nothing about lag; an add or set does
            self._witness = (self._sent, list(write.changes[:WITNESSES]))

    def _failed(self, write: Write, write_id: str, err: GenesysCloudApiError, resend: bool) -> None:
        spec = self.spec_of(self.changes[write.changes[0]])
        unknown = err.status is None or err.failure in (Failure.UNKNOWN_OUTCOME, Failure.SERVER_ERROR)
        gone = write.absent_on_404 and err.status == 404
        not_sent = err.failure in (Failure.RATE_LIMITED, Failure.NOT_SENT)
        fallback = None if unknown or gone or err.status == 403 else spec.fallback(write, err.status, self.changes)
        # A subject (or group, queue) answering 404: Genesys can answer 404 for a user created moments ago.
        missing = err.status == 404 and len(write.changes) == 1 and fallback is None
        outcome = (ABSENT if gone else UNKNOWN if unknown else NOT_SENT if not_sent
                   else NOT_FOUND if missing else REFUSED)
        self.ledger.append({"type": "outcome", "write": write_id, "outcome": outcome, "status": err.status,
                            "correlation_id": err.correlation_id, "message": err.message, "changes": write.changes})
        if gone:
            return
        if err.status == 403:
            raise WritePermissionError(
                f"Genesys refused {write.method} {write.path} with 403 ({err.message}): the connection's OAuth "
                f"client needs the permission {permission(write.kind)} (with the divisions it writes to). Nothing "
                "more was written; give the client a role that has it and run apply again (the ledger keeps "
                "what was done)"
            )
        if unknown:
            if resend:
                self.unknown_why[f"answered {err.status}" if err.status else "no answer"] += 1
                for index in write.changes:
                    self.unknown.setdefault(index, self._sent)  # settled after the other writes (_settle)
            else:
                self.result.retry.append(
                    f"{write.describe()}: outcome unknown twice ({err}): run apply again, it reads back first "
                    "(the ledger makes that safe)")
        elif fallback is not None:
            self._send_all(fallback, resend)
        elif not_sent:
            raise err  # never processed: a task retry reruns apply and the ledger skips what is done
        elif missing or err.status == 404:
            self.result.retry.append(f"{write.describe()}: 404 {err.message} (a user created moments ago can be "
                                     "404 for a short while)")
        else:
            self.result.failed.append(f"{write.describe()}: refused, {err.status} {err.message}")

    def spec_of(self, change: Mapping[str, Any]) -> Any:
        """The relation of a change: the plan's, or the one a restore change names."""
        return relation_named(change.get("relation", self.relation))

    def _settle(self) -> None:
        """Decide the unknown outcomes once reads have caught up; re-send (once) only what is still absent."""
        waited, wait = 0.0, SETTLE_FIRST_WAIT
        if self.unknown:
            why = ", ".join(f"{n} {what}" for what, n in sorted(self.unknown_why.items())) or "an earlier run's"
            log.info("Reading back %d change(s) whose write's outcome is unknown (%s); waiting up to %gs for "
                     "Genesys' reads to catch up, re-reading every %g-%g s; nothing is sent again before",
                     len(self.unknown), why, self.settle_timeout, SETTLE_FIRST_WAIT, SETTLE_MAX_WAIT)
        while self.unknown:
            shown, missing = self.check(sorted(self.unknown, key=_order), self._read_cache(self.unknown))
            log.info("Read back after %gs: %d shown (confirmed), %d not shown yet", waited, len(shown), len(missing))
            if shown:
                self.ledger.append({"type": "outcome", "write": f"{self.run}-read", "outcome": CONFIRMED,
                                    "changes": shown, "message": "read back after an unknown outcome"})
                for index in shown:
                    del self.unknown[index]
            if not missing:
                return
            caught_up = self._reads_caught_up()
            if caught_up or (caught_up is None and waited >= self.settle_timeout):
                break
            if waited >= self.settle_timeout:
                log.warning("settle_timeout=%gs passed and reads still lag this run's later writes: the %d change(s) "
                            "not shown are left for the task's retry, which reads them back first",
                            self.settle_timeout, len(missing))
                self.result.retry.append(
                    f"{len(missing)} change(s) whose write had an unknown outcome are not shown, and reads still "
                    f"lag this run's later writes after settle_timeout={self.settle_timeout:g}s: nothing was sent "
                    "again; the task's retry reads them back first")
                self.unknown.clear()
                self.unknown_why.clear()
                return
            step = min(wait, self.settle_timeout - waited)
            self.sleep(step)
            waited, wait = waited + step, min(wait * 2, SETTLE_MAX_WAIT)
        missing = sorted(self.unknown, key=_order)
        self.unknown.clear()
        self.unknown_why.clear()
        if not missing:
            return
        log.info("Reads have caught up (%s) and %d change(s) still do not show: their writes were not applied; "
                 "sending them again, once", "a later write shows" if self._witness[1] else
                 f"settle_timeout={self.settle_timeout:g}s passed", len(missing))
        by_relation: dict[str, list[tuple[int, Mapping[str, Any]]]] = {}
        for i in missing:
            change = self.changes[i]
            by_relation.setdefault(change.get("relation", self.relation), []).append((i, change))
        for relation, items in by_relation.items():
            self._send_all(relation_named(relation).writes(items), resend=False)

    def _reads_caught_up(self) -> bool | None:
        """Whether reads show a write answered 2xx after every unknown one (None: there is no such write)."""
        number, changes = self._witness
        if not changes or number <= max(self.unknown.values(), default=0):
            return None
        _, hidden = self.check(changes, self._read_cache(changes))
        return not hidden

    # -- reading back --------------------------------------------------------------------------------

    def _read_cache(self, indexes: Iterable[int]) -> dict[str, Any]:
        """Reads many changes share, done once (a role's listing for its grants to many subjects)."""
        by_relation: dict[str, list[Mapping[str, Any]]] = {}
        for i in indexes:
            change = self.changes[i]
            by_relation.setdefault(change.get("relation", self.relation), []).append(change)
        cache: dict[str, Any] = {}
        for relation, records in by_relation.items():
            relation_named(relation).prefetch(self.client, records, cache)
        return cache

    def check(self, indexes: Iterable[int], cache: dict[str, Any] | None = None) -> tuple[list[int], list[int]]:
        """Which of the changes a targeted read shows made, and which not (one read per subject or target)."""
        shown, missing = [], []
        cache = {} if cache is None else cache
        for index in indexes:
            change = self.changes[index]
            spec = self.spec_of(change)
            held = spec.read_back(self.client, change, cache)
            (shown if spec.visible(change, held) else missing).append(index)
        self.versions.update(cache.get("versions", {}))
        return shown, missing


def _order(index: int | str) -> tuple[int, int, str]:
    """Plan changes by index, then restores by key."""
    return (0, index, "") if isinstance(index, int) else (1, 0, index)


def apply_plan(plan: Plan, client: Api, ledger: Ledger, **options: Any) -> ApplyResult:
    """Apply ``plan`` through ``client``, recording every write in ``ledger``; see :class:`Applier`."""
    return Applier(plan, client, ledger, **options).apply()


__all__ = [
    "Applier",
    "ApplyResult",
    "WritePermissionError",
    "apply_plan",
    "as_planned",
    "load_plan",
    "permission",
]
