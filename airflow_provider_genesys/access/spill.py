"""Planning's spill: the desired set and the changes of one plan, in a private temporary SQLite database.

Planning would otherwise hold every distinct desired entry and every change in memory, growing with the
table and with the plan. Here they live in :func:`~airflow_provider_genesys.extract.writer.temporary_database`
(as the extract's ``SeenIds`` do: a 2 MiB page cache, the rest in a file SQLite deletes itself), and are
read back one at a time, always in the order they were added. Only counters stay in memory.

Four tables: ``desired`` (subject, the target's key) -> its value and first row; ``changes`` in order
(``seq``); ``subjects``, each touched subject with its first change (the order the plan lists fingerprints
in); ``fingerprints``, kept when the plan is made. A target has one or two fields (``width``), of which the
first ``key_width`` are its key (the rest its value); a missing second field is stored as ``""``.
"""

from __future__ import annotations

from collections.abc import Callable, ItemsView, Iterable, Iterator, Mapping, Sequence
from itertools import groupby
from typing import Any, TypeVar

from airflow_provider_genesys.extract.writer import ScratchTables

Target = tuple[str, ...]
# (action, subject, subject_type, target, reason, row, was): the fields of ``diff.Change``, in its order.
Record = tuple[str, str, str, Target, str, "int | None", "str | None"]
T = TypeVar("T")
U = TypeVar("U")
_SCHEMA = (
    "CREATE TABLE desired (subject TEXT NOT NULL, k1 TEXT NOT NULL, k2 TEXT NOT NULL, value TEXT NOT NULL, "
    "row INTEGER NOT NULL, PRIMARY KEY (subject, k1, k2)) WITHOUT ROWID",
    "CREATE TABLE changes (seq INTEGER PRIMARY KEY, action TEXT NOT NULL, subject TEXT NOT NULL, "
    "subject_type TEXT NOT NULL, t1 TEXT NOT NULL, t2 TEXT NOT NULL, reason TEXT NOT NULL, row INTEGER, was TEXT)",
    "CREATE INDEX changes_by_subject ON changes (subject, seq)",
    "CREATE TABLE subjects (subject TEXT PRIMARY KEY, first INTEGER NOT NULL) WITHOUT ROWID",
    "CREATE INDEX subjects_by_first ON subjects (first)",
    "CREATE TABLE fingerprints (subject TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
)


class Spill(ScratchTables):
    """The desired set and the changes of one plan; :meth:`close` (or losing the last reference) deletes it."""

    def __init__(self, width: int, key_width: int | None = None) -> None:
        super().__init__(_SCHEMA)
        self.width = width
        self.key_width = width if key_width is None else key_width
        self.desired_count = 0
        self.subject_count = 0
        self.counts = {"add": 0, "remove": 0, "set": 0, "update": 0}
        self._length = 0

    # -- the desired set ---------------------------------------------------------------------------------

    def desire(self, subject: str, target: Target, row: int) -> tuple[int, Target] | None:
        """Remember that ``row`` asks for ``subject`` to hold ``target``. When an earlier row already asked for
        the target's key: that row and what it asked for (the same target: a duplicate; another value: a
        conflict)."""
        k1, k2, value = self._split(target)
        added = self._db.execute("INSERT OR IGNORE INTO desired VALUES (?, ?, ?, ?, ?)", (subject, k1, k2, value, row))
        if added.rowcount == 1:
            self.desired_count += 1
            return None
        first, first_value = self._db.execute("SELECT row, value FROM desired WHERE subject = ? AND k1 = ? AND k2 = ?",
                                              (subject, k1, k2)).fetchone()
        return first, self._join(k1, k2, first_value)

    def desired_row(self, subject: str, target: Target) -> int | None:
        """The row that first asked for ``subject`` to hold ``target``'s key (whatever value), or None."""
        k1, k2, _ = self._split(target)
        found = self._db.execute("SELECT row FROM desired WHERE subject = ? AND k1 = ? AND k2 = ?",
                                 (subject, k1, k2)).fetchone()
        return None if found is None else found[0]

    def desired(self) -> Iterator[tuple[str, Target, int]]:
        """``(subject, target, first row)`` by subject, then row."""
        for subject, k1, k2, value, row in self._rows(
                "SELECT subject, k1, k2, value, row FROM desired ORDER BY subject, row"):
            yield subject, self._join(k1, k2, value), row

    # -- the changes -------------------------------------------------------------------------------------

    def add(self, action: str, subject: str, subject_type: str, target: Target, reason: str,
            row: int | None = None, was: str | None = None) -> None:
        """Append one change (``seq`` is its position); ``was``: the value a set or update replaces."""
        seq = self._length
        self._db.execute("INSERT INTO changes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         (seq, action, subject, subject_type, *self._pad(target), reason, row, was))
        if self._db.execute("INSERT OR IGNORE INTO subjects VALUES (?, ?)", (subject, seq)).rowcount == 1:
            self.subject_count += 1
        self._length += 1
        self.counts[action] += 1

    def __len__(self) -> int:
        return self._length

    def changes(self, start: int = 0, stop: int | None = None) -> Iterator[Record]:
        """The changes from position ``start`` to ``stop`` (the end), in order."""
        stop = self._length if stop is None else stop
        yield from self._records("SELECT action, subject, subject_type, t1, t2, reason, row, was FROM changes "
                                 "WHERE seq >= ? AND seq < ? ORDER BY seq", (start, stop))

    def changes_on(self, first_ids: Iterable[str]) -> Iterator[Record]:
        """The changes whose target's first id (role, group, queue, state) is one of ``first_ids``, in order."""
        ids = sorted(set(first_ids))
        marks = ", ".join("?" * len(ids))
        query = ("SELECT action, subject, subject_type, t1, t2, reason, row, was FROM changes "  # noqa: S608
                 f"WHERE t1 IN ({marks}) ORDER BY seq")  # placeholders only
        yield from self._records(query, ids)

    def changes_by_subject(self) -> Iterator[tuple[str, list[Record]]]:
        """Each touched subject with its changes (one subject's at a time), subjects in order of first change."""
        query = ("SELECT c.action, c.subject, c.subject_type, c.t1, c.t2, c.reason, c.row, c.was FROM subjects s "
                 "JOIN changes c ON c.subject = s.subject ORDER BY s.first, c.seq")
        for subject, records in groupby(self._records(query), key=lambda record: record[1]):
            yield subject, list(records)

    def changes_where(self, action: str, subject_type: str | None = None) -> Iterator[Record]:
        """The ``action`` changes (of subjects of ``subject_type``), in order."""
        yield from self._records("SELECT action, subject, subject_type, t1, t2, reason, row, was FROM changes "
                                 "WHERE action = ? AND subject_type LIKE ? ORDER BY seq", (action, subject_type or "%"))

    def has_change(self, subject: str, action: str, target: Target) -> bool:
        """Whether the plan has this change."""
        return self._db.execute("SELECT 1 FROM changes WHERE subject = ? AND action = ? AND t1 = ? AND t2 = ? LIMIT 1",
                                (subject, action, *self._pad(target))).fetchone() is not None

    def first_ids(self, action: str) -> set[str]:
        """The distinct first ids of the targets of ``action`` changes (a handful of roles or groups)."""
        return {t1 for (t1,) in self._rows("SELECT DISTINCT t1 FROM changes WHERE action = ?", (action,))}

    def has_target(self, target: Target) -> bool:
        """Whether some change has ``target``."""
        return self._db.execute("SELECT 1 FROM changes WHERE t1 = ? AND t2 = ? LIMIT 1",
                                self._pad(target)).fetchone() is not None

    def target_of(self, subject: str) -> Target | None:
        """The target of ``subject``'s first change (``user_state``: the one state it is set to), or None."""
        found = self._db.execute("SELECT t1, t2 FROM changes WHERE subject = ? ORDER BY seq LIMIT 1",
                                 (subject,)).fetchone()
        return None if found is None else self._target(*found)

    # -- touched subjects --------------------------------------------------------------------------------

    def subjects(self, *, by_name: bool = False) -> Iterator[str]:
        """Touched subjects, in order of first change (``by_name``: sorted)."""
        query = "SELECT subject FROM subjects ORDER BY subject" if by_name else \
            "SELECT subject FROM subjects ORDER BY first"
        for (subject,) in self._rows(query):
            yield subject

    def first_change(self, subject: str) -> int | None:
        """The position of ``subject``'s first change, or None when no change touches it."""
        found = self._db.execute("SELECT first FROM subjects WHERE subject = ?", (subject,)).fetchone()
        return None if found is None else found[0]

    def change_counts(self, subject: str) -> tuple[int, int]:
        """How many changes touch ``subject``, and how many of them are removals."""
        found = self._db.execute("SELECT COUNT(*), COALESCE(SUM(action = 'remove'), 0) FROM changes "
                                 "WHERE subject = ?", (subject,)).fetchone()
        return found[0], found[1]

    def keep_fingerprints(self, fingerprint: Callable[[str], str]) -> None:
        """Store ``fingerprint(subject)`` for every touched subject (what it holds as the plan is made)."""
        self._db.executemany("INSERT INTO fingerprints VALUES (?, ?)",
                             ((subject, fingerprint(subject)) for subject in self.subjects()))

    def fingerprint(self, subject: str) -> str | None:
        found = self._db.execute("SELECT value FROM fingerprints WHERE subject = ?", (subject,)).fetchone()
        return None if found is None else found[0]

    def fingerprints(self, *, by_name: bool = False) -> Iterator[tuple[str, str]]:
        """``(subject, fingerprint)`` in order of first change (``by_name``: sorted by subject)."""
        query = "SELECT subject, value FROM fingerprints ORDER BY subject" if by_name else \
            "SELECT s.subject, f.value FROM subjects s JOIN fingerprints f ON f.subject = s.subject ORDER BY s.first"
        yield from self._rows(query)

    # -- plumbing ----------------------------------------------------------------------------------------

    def _pad(self, target: Target) -> tuple[str, str]:
        if len(target) != self.width:
            raise ValueError(f"A target of {self.width} id(s) was expected, got {target!r}")
        return (target[0], target[1] if self.width == 2 else "")

    def _target(self, t1: str, t2: str) -> Target:
        return (t1, t2) if self.width == 2 else (t1,)

    def _split(self, target: Target) -> tuple[str, str, str]:
        """A target as (first key field, second key field, value), blanks where it has none."""
        self._pad(target)
        key, value = target[: self.key_width], target[self.key_width:]
        return (key[0] if key else "", key[1] if len(key) > 1 else "", value[0] if value else "")

    def _join(self, k1: str, k2: str, value: str) -> Target:
        key = (k1, k2)[: self.key_width]
        return key + ((value,) if self.width > self.key_width else ())

    def _records(self, query: str, args: Sequence[Any] = ()) -> Iterator[Record]:
        for action, subject, subject_type, t1, t2, reason, row, was in self._rows(query, args):
            yield action, subject, subject_type, self._target(t1, t2), reason, row, was


class SpilledSequence(Sequence[T]):
    """The changes of a spill as a read-only sequence, each converted by ``convert`` as it is read."""

    def __init__(self, spill: Spill, convert: Callable[[Record], T]) -> None:
        self.spill, self.convert = spill, convert

    def mapped(self, convert: Callable[[T], U]) -> SpilledSequence[U]:
        """The same changes, each then converted by ``convert``."""
        first = self.convert
        return SpilledSequence(self.spill, lambda record: convert(first(record)))

    def __len__(self) -> int:
        return len(self.spill)

    def __iter__(self) -> Iterator[T]:
        return map(self.convert, self.spill.changes())

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step != 1:
                return list(self)[index]
            return [self.convert(record) for record in self.spill.changes(start, max(start, stop))]
        position = index + len(self) if index < 0 else index
        if not 0 <= position < len(self):
            raise IndexError("change index out of range")
        return self.convert(next(self.spill.changes(position, position + 1)))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, str):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<{len(self)} spilled changes>"


class SpilledFingerprints(Mapping[str, str]):
    """Touched subject -> its fingerprint, as kept in the spill; iterated in order of first change."""

    def __init__(self, spill: Spill) -> None:
        self.spill = spill

    def __getitem__(self, subject: str) -> str:
        found = self.spill.fingerprint(subject)
        if found is None:
            raise KeyError(subject)
        return found

    def __iter__(self) -> Iterator[str]:
        return self.spill.subjects()

    def __len__(self) -> int:
        return self.spill.subject_count

    def items(self) -> ItemsView[str, str]:
        return _SpilledItems(self)

    def sorted_items(self) -> Iterator[tuple[str, str]]:
        """``(subject, fingerprint)`` sorted by subject (what ``sorted(mapping.items())`` gives, streamed)."""
        return self.spill.fingerprints(by_name=True)

    def __repr__(self) -> str:
        return f"<{len(self)} spilled fingerprints>"


class _SpilledItems(ItemsView[str, str]):
    """``items()`` read in one query rather than a lookup per subject."""

    _mapping: SpilledFingerprints

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return self._mapping.spill.fingerprints()
