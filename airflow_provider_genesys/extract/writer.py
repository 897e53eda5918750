"""The atomic NDJSON writer: the destination appears complete or not at all.

Records go to a hidden temporary sibling (``.<name>.tmp-<uuid>``) which is moved onto the destination only
after the last record is written and the file is closed; on any failure the temporary file is deleted and
the destination is left as it was. Names ending in ``.gz`` are gzip-compressed. Records are unique by
``id``: the writer remembers the ids it wrote and drops repeats, which paging through a changing org can
produce. The ids live in a private temporary SQLite database (a 16-byte hash each, a 2 MiB page cache,
spilled to a temporary file beyond that), so memory stays flat however many records there are.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import sqlite3
import uuid
from collections.abc import Iterator
from typing import IO, Any, Protocol

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


def encode_record(record: Any) -> bytes:
    """One NDJSON line: compact, UTF-8, keys in API order."""
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=str).encode() + b"\n"


class SeenIds:
    """A set of ids with flat memory: a private temporary SQLite database that deletes itself on close.

    Keys are 16-byte BLAKE2b hashes of the ids (fixed size, fast to index); two different ids would share
    one with a probability below 10^-20 even for a billion records. About 10 microseconds per id.
    """

    CACHE_KIB = 2048

    def __init__(self) -> None:
        # "" = a private on-disk temporary database, kept in the page cache until it outgrows it.
        self._db = sqlite3.connect("", isolation_level=None, check_same_thread=False)
        self._db.execute(f"PRAGMA cache_size=-{self.CACHE_KIB}")
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("CREATE TABLE seen (key BLOB PRIMARY KEY) WITHOUT ROWID")
        self._db.execute("BEGIN")  # nothing is ever committed: the database dies with the connection

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
        self.temporary = destination.parent / f".{destination.name}.tmp-{uuid.uuid4().hex}"
        self.records = 0
        self.duplicates = 0
        self._seen: SeenIds | None = None
        self._raw: IO[bytes] | None = None
        self._out: IO[bytes] | None = None

    def __enter__(self) -> AtomicNdjsonWriter:
        self.destination.parent.mkdir(parents=True, exist_ok=True)
        self._seen = SeenIds()
        self._raw = self.temporary.open("wb")
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
        self._out.write(encode_record(record))
        self.records += 1
        return True

    def _close(self) -> None:
        if self._seen is not None:
            self._seen.close()
            self._seen = None
        if self._out is not None and self._out is not self._raw:
            self._out.close()
        if self._raw is not None:
            self._raw.close()
        self._out = self._raw = None

    def __exit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        try:
            self._close()
            if exc_type is None:
                self.temporary.rename(self.destination)
                return
        except BaseException:
            self._discard()
            raise
        self._discard()

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
