"""The atomic NDJSON writer: complete file or none, no temp file left, unique ids, gzip."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from airflow.sdk import ObjectStoragePath

from airflow_provider_genesys.extract.writer import AtomicNdjsonWriter, SeenIds, iter_ndjson


def _write(destination, records):
    with AtomicNdjsonWriter(destination) as writer:
        for record in records:
            writer.write(record)
    return writer


def _failing_after(record, error):
    """Records that fail mid-stream, as a failing page fetch does."""
    yield record
    raise error


@pytest.mark.parametrize("as_storage_path", [False, True], ids=["pathlib", "ObjectStoragePath"])
def test_writes_one_record_per_line_and_leaves_no_temp_file(tmp_path: Path, as_storage_path: bool) -> None:
    target = tmp_path / "out" / "users.ndjson"
    destination = ObjectStoragePath(f"file://{target}") if as_storage_path else target
    writer = _write(destination, [{"id": "a", "name": "Ä"}, {"id": "b"}])
    assert writer.records == 2
    assert [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()] == [
        {"id": "a", "name": "Ä"}, {"id": "b"},
    ]
    assert sorted(p.name for p in target.parent.iterdir()) == ["users.ndjson"]


def test_failure_leaves_no_file_and_keeps_previous_destination(tmp_path: Path) -> None:
    target = tmp_path / "users.ndjson"
    target.write_text('{"id": "old"}\n')
    with pytest.raises(RuntimeError, match="page 3 failed"):
        _write(target, _failing_after({"id": "new"}, RuntimeError("page 3 failed")))
    assert target.read_text() == '{"id": "old"}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["users.ndjson"]


def test_failure_without_previous_file_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(KeyError):
        _write(tmp_path / "grants.ndjson.gz", _failing_after({"id": "x"}, KeyError("boom")))
    assert list(tmp_path.iterdir()) == []


def test_duplicate_ids_are_dropped(tmp_path: Path) -> None:
    writer = _write(tmp_path / "u.ndjson", [{"id": "a"}, {"id": "b"}, {"id": "a", "v": 2}])
    assert (writer.records, writer.duplicates) == (2, 1)
    assert [r["id"] for r in iter_ndjson(tmp_path / "u.ndjson")] == ["a", "b"]


def test_gz_destination_is_gzip_and_deterministic(tmp_path: Path) -> None:
    records = [{"id": str(i)} for i in range(100)]
    _write(tmp_path / "a.ndjson.gz", records)
    _write(tmp_path / "b.ndjson.gz", records)
    raw = (tmp_path / "a.ndjson.gz").read_bytes()
    assert raw[:2] == b"\x1f\x8b"
    assert raw == (tmp_path / "b.ndjson.gz").read_bytes()
    assert gzip.decompress(raw).decode().splitlines()[0] == '{"id":"0"}'
    assert list(iter_ndjson(tmp_path / "a.ndjson.gz")) == records


def test_seen_ids_stay_exact_past_their_page_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dedupe memory is a bounded SQLite cache; once it spills to disk every id is still remembered."""
    monkeypatch.setattr(SeenIds, "CACHE_KIB", 64)
    seen = SeenIds()
    try:
        ids = [f"user-{i}:role-{i % 7}:division-{i % 3}" for i in range(20_000)]
        assert all(seen.add(record_id) for record_id in ids)
        assert not any(seen.add(record_id) for record_id in ids[::97])
        assert seen.add("user-20000:role-0:division-0")
    finally:
        seen.close()


# -- temporary-file names, stale sweep, storage errors ---------------------------------------------------


def test_temporary_names_say_who_and_when_and_only_dead_or_old_ones_are_stale(monkeypatch) -> None:
    import os

    from airflow_provider_genesys.extract import writer

    now = 1_700_000_000
    name = writer.temporary_name("u.ndjson", now=now)
    assert name.startswith(f".u.ndjson.tmp-{writer._owner()}-{os.getpid()}-{now}-")
    assert not writer.is_stale(name, "u.ndjson", now=now)  # ours, live
    assert not writer.is_stale(name, "roles.ndjson", now=now)  # another destination's
    assert writer.is_stale(name, "u.ndjson", now=now + writer.STALE_AFTER + 1)  # too old, whoever wrote it
    monkeypatch.setattr(writer, "_alive", lambda pid: False)
    other_pid = name.replace(f"-{os.getpid()}-", "-1-")
    assert writer.is_stale(other_pid, "u.ndjson", now=now)  # this machine, process gone
    assert not writer.is_stale(other_pid.replace(writer._owner(), "other.host"), "u.ndjson", now=now)
    assert not writer.is_stale(".u.ndjson.tmp-" + "0" * 32, "u.ndjson", now=now)  # unknown format: keep


@pytest.mark.parametrize("name", ["u.ndjson", "u.ndjson.gz"])
def test_a_full_disk_is_a_destination_error_naming_it_and_leaves_nothing(tmp_path: Path, name: str) -> None:
    import errno

    from airflow_provider_genesys.extract.writer import DestinationError

    class FullDisk:
        """A file that takes 100 bytes, then fails like a full disk."""

        def __init__(self, path: Path) -> None:
            self._file = path.open("wb")
            self._size = 0

        def write(self, data: bytes) -> int:
            self._size += len(data)
            if self._size > 100:
                raise OSError(errno.ENOSPC, "No space left on device")
            return self._file.write(data)

        def flush(self) -> None:
            self._file.flush()

        def close(self) -> None:
            self._file.close()

    class FullPath(type(tmp_path)):  # type: ignore[misc]
        def open(self, mode: str = "r", *args, **kwargs):
            return FullDisk(Path(self)) if "w" in mode else super().open(mode, *args, **kwargs)

    destination = FullPath(tmp_path / name)
    with pytest.raises(DestinationError, match=rf"Could not write .*{name}: the disk is full") as caught:
        _write(destination, [{"id": str(number), "pad": "x" * 50} for number in range(100)])
    assert caught.value.errno == errno.ENOSPC
    assert list(tmp_path.iterdir()) == []
