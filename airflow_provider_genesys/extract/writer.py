"""The atomic NDJSON writer: the destination appears complete or not at all.

Records go to a hidden temporary sibling which is moved onto the destination only after the last record is
written and the file is closed; on any failure the temporary file is deleted and the destination is left as
it was. A worker killed mid-write cannot delete it, so the temporary name says who wrote it and when
(``.<name>.tmp-<owner>-<pid>-<start>-<random>``) and each run sweeps its destination's stale ones: those of
a process of this machine that no longer exists, and any older than ``STALE_AFTER`` (another machine's, on
shared or object storage). A full, read-only or forbidden destination raises :class:`DestinationError`,
which names the destination. Names ending in ``.gz`` are gzip-compressed. Records are unique by
``id``: the writer remembers the ids it wrote and drops repeats, which paging through a changing org can
produce. The ids live in a private temporary SQLite database (a 16-byte hash each, a 2 MiB page cache,
spilled to a temporary file beyond that), so memory stays flat however many records there are.
"""

from __future__ import annotations

import errno
import gzip
import hashlib
import json
import logging
import os
import re
import socket
import sqlite3
import time
import uuid
import weakref
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import IO, Any, Protocol, TypeVar

log = logging.getLogger(__name__)


class StoragePath(Protocol):
    """The part of ``ObjectStoragePath`` (and ``pathlib.Path``) the writer uses."""

    name: str

    @property
    def parent(self) -> StoragePath: ...

    def __truediv__(self, other: str) -> StoragePath: ...

    def open(self, mode: str = ...) -> IO[Any]: ...

    def mkdir(self, parents: bool = ..., exist_ok: bool = ...) -> None: ...

    def rename(self, target: Any) -> Any: ...

    def exists(self) -> bool: ...

    def unlink(self) -> None: ...

    def iterdir(self) -> Iterator[StoragePath]: ...


# A temporary file older than this is another run's leftover whoever wrote it: no extract runs this long.
STALE_AFTER = 24 * 3600.0
# What the destination's storage said, in words a user acts on; anything else stays a plain OSError.
_DESTINATION_ERRNOS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
}


class DestinationError(OSError):
    """The destination cannot be written (full, read-only, forbidden); retrying the task will not help."""


@contextmanager
def _naming(destination: StoragePath) -> Iterator[None]:
    """Re-raise a full/read-only/forbidden-storage ``OSError`` as a :class:`DestinationError` naming it."""
    try:
        yield
    except DestinationError:
        raise
    except OSError as err:
        reason = _DESTINATION_ERRNOS.get(err.errno or 0)
        if reason is None:
            raise
        raise DestinationError(
            err.errno, f"Could not write destination {destination}: {reason} ({err.strerror or err})"
        ) from err


def _owner() -> str:
    """This machine, as temporary names record it: host name plus its PID namespace (containers)."""
    host = re.sub(r"[^A-Za-z0-9.]", "", socket.gethostname()) or "host"
    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        namespace = ""
    return f"{host}.{hashlib.blake2b(namespace.encode(), digest_size=3).hexdigest()}"


def _alive(pid: int) -> bool:
    """Whether a process of this machine still runs (True when unsure: never remove a live file)."""
    if os.name == "nt":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def temporary_name(destination_name: str, *, now: float | None = None) -> str:
    """The hidden sibling a run writes first: who (machine, process) and when (epoch seconds) wrote it."""
    start = int(time.time() if now is None else now)
    return f".{destination_name}.tmp-{_owner()}-{os.getpid()}-{start}-{uuid.uuid4().hex[:12]}"


def is_stale(temp_name: str, destination_name: str, *, now: float | None = None) -> bool:
    """Whether ``temp_name`` is a leftover of a run of ``destination_name`` that no longer writes it.

    Same machine: its process is gone. Any machine: it is older than ``STALE_AFTER``. Names in another
    format (or of another destination) are never stale: they may belong to someone else.
    """
    prefix = f".{destination_name}.tmp-"
    if not temp_name.startswith(prefix):
        return False
    fields = temp_name[len(prefix) :].rsplit("-", 3)
    if len(fields) != 4 or not (fields[1].isdigit() and fields[2].isdigit()):
        return False
    owner, pid, start = fields[0], int(fields[1]), int(fields[2])
    if (time.time() if now is None else now) - start > STALE_AFTER:
        return True
    return owner == _owner() and pid != os.getpid() and not _alive(pid)


def encode_record(record: Any) -> bytes:
    """One NDJSON line: compact, UTF-8, keys in API order."""
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=str).encode() + b"\n"


CACHE_KIB = 2048  # the page cache of a temporary database: beyond it, pages spill to its file


def temporary_database(cache_kib: int = CACHE_KIB) -> sqlite3.Connection:
    """A private temporary SQLite database with a small page cache, in one open transaction.

    ``""`` is an on-disk temporary database SQLite deletes itself (on close, and on Unix the file is
    unlinked as soon as it is opened, so even a killed process leaves nothing behind); its pages stay in the
    cache until it outgrows ``cache_kib``. Nothing is ever committed: the database dies with the connection.
    """
    db = sqlite3.connect("", isolation_level=None, check_same_thread=False)
    db.execute(f"PRAGMA cache_size=-{int(cache_kib)}")
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("BEGIN")
    return db


_Tables = TypeVar("_Tables", bound="ScratchTables")


class ScratchTables:
    """Tables in a :func:`temporary_database`, read back a batch at a time: the access engine's planning spill
    and the access review's snapshot store build on it. :meth:`close` (or losing the last reference) deletes
    the database; ``with`` closes it too."""

    BATCH = 500  # rows fetched from a query at a time

    def __init__(self, schema: Iterable[str]) -> None:
        self._db = temporary_database()
        self._closer = weakref.finalize(self, self._db.close)
        for statement in schema:
            self._db.execute(statement)

    def close(self) -> None:
        self._closer()

    @property
    def closed(self) -> bool:
        return not self._closer.alive

    def __enter__(self: _Tables) -> _Tables:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _rows(self, query: str, args: Sequence[Any] = ()) -> Iterator[tuple[Any, ...]]:
        """A query's rows, fetched ``BATCH`` at a time (the database may be written to in between)."""
        cursor = self._db.execute(query, args)
        try:
            while batch := cursor.fetchmany(self.BATCH):
                yield from batch
        finally:
            cursor.close()


class SeenIds:
    """A set of ids with flat memory: a private temporary SQLite database that deletes itself on close.

    Keys are 16-byte BLAKE2b hashes of the ids (fixed size, fast to index); two different ids would share
    one with a probability below 10^-20 even for a billion records. About 10 microseconds per id.
    """

    CACHE_KIB = CACHE_KIB

    def __init__(self) -> None:
        self._db = temporary_database(self.CACHE_KIB)
        self._db.execute("CREATE TABLE seen (key BLOB PRIMARY KEY) WITHOUT ROWID")

    def add(self, record_id: str) -> bool:
        """Remember ``record_id``; False when it was already there."""
        key = hashlib.blake2b(record_id.encode(), digest_size=16).digest()
        return self._db.execute("INSERT OR IGNORE INTO seen VALUES (?)", (key,)).rowcount == 1

    def close(self) -> None:
        self._db.close()


class AtomicNdjsonWriter:
    """Context manager writing unique-by-id records; ``records`` and ``duplicates`` count what happened."""

    def __init__(self, destination: StoragePath) -> None:
        self.destination = destination
        self.temporary = destination.parent / temporary_name(destination.name)
        self.records = 0
        self.duplicates = 0
        self._seen: SeenIds | None = None
        self._raw: IO[bytes] | None = None
        self._out: IO[bytes] | None = None

    def __enter__(self) -> AtomicNdjsonWriter:
        with _naming(self.destination):
            self.destination.parent.mkdir(parents=True, exist_ok=True)
            self.sweep()
            self._raw = self.temporary.open("wb")
        self._seen = SeenIds()
        if self.destination.name.endswith(".gz"):
            # filename="" and mtime=0: the same records give byte-identical files.
            self._out = gzip.GzipFile(filename="", mode="wb", fileobj=self._raw, mtime=0)
        else:
            self._out = self._raw
        return self

    def write(self, record: Any) -> bool:
        """Write one record; False (and nothing written) when its id was already written."""
        record_id = record.get("id") if isinstance(record, dict) else None
        if self._out is None or self._seen is None:
            raise RuntimeError("AtomicNdjsonWriter.write() needs the writer open: use it as a context manager")
        if record_id is not None and not self._seen.add(str(record_id)):
            self.duplicates += 1
            return False
        with _naming(self.destination):
            self._out.write(encode_record(record))
        self.records += 1
        return True

    def _close(self) -> None:
        seen, out, raw = self._seen, self._out, self._raw
        self._seen = self._out = self._raw = None
        try:
            if seen is not None:
                seen.close()
            if out is not None and out is not raw:
                out.close()  # gzip's last block: may fail on a full disk; the file is closed all the same
        finally:
            if raw is not None:
                raw.close()

    def __exit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        try:
            with _naming(self.destination):
                self._close()
                if exc_type is None:
                    self.temporary.rename(self.destination)
                    return
        except BaseException:
            self._discard()
            raise
        self._discard()

    def sweep(self) -> None:
        """Remove this destination's stale temporary files (see :func:`is_stale`); never fails the run."""
        try:
            for entry in self.destination.parent.iterdir():
                if is_stale(entry.name, self.destination.name):
                    log.info("Removing %s, left by an earlier run that did not finish", entry)
                    entry.unlink()
        except OSError as err:
            log.warning("Could not sweep stale temporary files next to %s: %s", self.destination, err)

    def _discard(self) -> None:
        """Remove the temporary file; a failure to do so is logged, never hides the original error."""
        try:
            if self.temporary.exists():
                self.temporary.unlink()
        except OSError as err:
            log.warning("Could not remove the temporary file %s: %s", self.temporary, err)


def iter_ndjson(path: StoragePath) -> Iterator[Any]:
    """Records of an NDJSON file written by :class:`AtomicNdjsonWriter` (gzip when the name ends in .gz)."""
    with path.open("rb") as raw:
        stream: IO[bytes] = gzip.GzipFile(fileobj=raw, mode="rb") if path.name.endswith(".gz") else raw
        for line in iter(stream.readline, b""):  # Airflow 3.0's file wrapper is not iterable
            if line.strip():
                yield json.loads(line)
