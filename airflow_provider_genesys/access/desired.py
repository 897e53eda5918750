"""Reading the desired table as a stream of rows, each with its row number.

The table comes as users keep it: a CSV or NDJSON file (the caller opens it: a local file, an fsspec file,
an ``ObjectStoragePath``; binary or text), rows from XCom (an iterable of dicts), or the rows of a SQL
query (an iterator of tuples and the column names; the operator runs the query through an Airflow SQL
hook, so this module stays database-agnostic). Rows are read one at a time: a 100,000-row table is never
held whole. ``row`` counts data rows from 1 (a CSV header is not a row; a blank NDJSON line is skipped).

Every source is checked the same way: the relation's required columns must be present (the error names the
missing and the present columns), values are stripped strings (``None`` and blanks become ``""``: the
resolver reports blank required values for all rows at once), and a table without a single row is refused
unless ``allow_empty`` is set, because a truncated export would otherwise read as "nobody holds anything".
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any

from airflow_provider_genesys.access.errors import DesiredTableError
from airflow_provider_genesys.access.registry import relation

FORMATS = ("csv", "ndjson")


@dataclass(frozen=True)
class DesiredRow:
    """One row of the desired table: its number (from 1) and its values by column name (stripped)."""

    number: int
    values: Mapping[str, str]

    def __getitem__(self, column: str) -> str:
        return self.values[column]


def format_of(path: str) -> str:
    """``csv`` or ``ndjson`` from a file name (``.csv``, ``.ndjson``, ``.jsonl``, optionally ``.gz``)."""
    lowered = str(path).lower().removesuffix(".gz")
    if lowered.endswith(".csv"):
        return "csv"
    if lowered.endswith((".ndjson", ".jsonl", ".json")):
        return "ndjson"
    raise DesiredTableError(
        f"Cannot tell the format of {path!r} from its name: name it .csv or .ndjson, or pass format='csv' "
        "or format='ndjson'"
    )


def read_file(file: IO[Any], rel: str, fmt: str, *, allow_empty: bool = False) -> Iterator[DesiredRow]:
    """Rows of a CSV or NDJSON file object (binary or text; a UTF-8 byte-order mark is dropped)."""
    if fmt not in FORMATS:
        raise DesiredTableError(f"Unknown format {fmt!r}: use 'csv' or 'ndjson'")
    relation(rel)

    def generate() -> Iterator[DesiredRow]:
        text, detach = _text(file)
        try:
            yield from read_csv(text, rel) if fmt == "csv" else read_ndjson(text, rel)
        finally:
            detach()

    return _not_empty(generate(), allow_empty, "The desired file")


def read_csv(text: IO[str], rel: str) -> Iterator[DesiredRow]:
    """Rows of a CSV text stream whose first line names the columns (any line endings)."""
    spec = relation(rel)
    reader = csv.reader(text)
    try:
        header = next(reader)
        while not any(cell.strip() for cell in header):  # blank lines before the header
            header = next(reader)
    except StopIteration:
        raise DesiredTableError(
            f"The desired file is empty: its first line must name the columns ({', '.join(spec.columns.columns)})"
        ) from None
    except csv.Error as err:
        raise DesiredTableError(f"The desired file is not valid CSV on line 1: {err}") from None
    columns = _columns(header, spec)
    number = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            raise DesiredTableError(
                f"The desired file is not valid CSV after row {number} (line {reader.line_num}): {err}"
            ) from None
        if not any(cell.strip() for cell in cells):
            continue  # a blank line, often the last one
        number += 1
        if len(cells) > len(columns):
            raise DesiredTableError(
                f"Row {number} (line {reader.line_num}) has {len(cells)} cells but the header names "
                f"{len(columns)} columns: quote values that contain commas"
            )
        yield _row(number, dict(zip(columns, cells, strict=False)), spec)


def read_ndjson(text: IO[str], rel: str) -> Iterator[DesiredRow]:
    """Rows of an NDJSON text stream: one JSON object per line; blank lines are skipped."""
    spec = relation(rel)
    number = 0
    for line_number, line in enumerate(text, 1):
        if line_number == 1:
            line = line.removeprefix("\ufeff")
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as err:
            raise DesiredTableError(f"Line {line_number} of the desired file is not JSON: {err}") from None
        if not isinstance(record, dict):
            raise DesiredTableError(
                f"Line {line_number} of the desired file is a JSON {type(record).__name__}, not an object "
                f"with the columns {', '.join(spec.columns.columns)}"
            )
        number += 1
        yield _mapping_row(number, record, spec, f"Line {line_number}")


def read_rows(rows: Iterable[Mapping[str, Any]], rel: str, *, allow_empty: bool = False) -> Iterator[DesiredRow]:
    """Rows given as dicts (from XCom, or built by a task): each must hold the relation's columns."""
    spec = relation(rel)

    def generate() -> Iterator[DesiredRow]:
        for number, record in enumerate(rows, 1):
            if not isinstance(record, Mapping):
                raise DesiredTableError(
                    f"Row {number} of the desired rows is a {type(record).__name__}, not a mapping of "
                    f"{', '.join(spec.columns.columns)}"
                )
            yield _mapping_row(number, record, spec, f"Row {number}")

    return _not_empty(generate(), allow_empty, "The desired rows")


def read_sql(
    rows: Iterable[Sequence[Any]], columns: Sequence[str], rel: str, *, allow_empty: bool = False
) -> Iterator[DesiredRow]:
    """Rows of a SQL result: tuples in the order of ``columns`` (the cursor's description names)."""
    spec = relation(rel)
    names = _columns([str(c) for c in columns], spec, what="The query's result")

    def generate() -> Iterator[DesiredRow]:
        for number, cells in enumerate(rows, 1):
            yield _row(number, dict(zip(names, cells, strict=True)), spec)

    return _not_empty(generate(), allow_empty, "The query")


# -- helpers ---------------------------------------------------------------------------------------------


def _text(file: IO[Any]) -> tuple[IO[str], Callable[[], object]]:
    """A text view of ``file`` that drops a UTF-8 byte-order mark and leaves line endings to the csv module,
    and how to let go of it without closing the caller's file."""
    if isinstance(file, io.TextIOBase) or isinstance(file.read(0), str):
        return file, lambda: None
    try:
        wrapper = io.TextIOWrapper(file, encoding="utf-8-sig", newline="")  # type: ignore[arg-type]
    except (AttributeError, TypeError, io.UnsupportedOperation):  # not a buffered binary file: slower, same text
        return codecs.getreader("utf-8-sig")(file, errors="strict"), lambda: None  # type: ignore[return-value]
    return wrapper, wrapper.detach


def _columns(header: Sequence[str], spec: Any, what: str = "The desired file") -> list[str]:
    names = [cell.removeprefix("\ufeff").strip().lower() for cell in header]
    seen: set[str] = set()
    for name in names:
        if name and name in seen:
            raise DesiredTableError(f"{what} names the column {name!r} twice: keep one")
        seen.add(name)
    _require(spec, names, what)
    return names


def _require(spec: Any, present: Iterable[str], what: str) -> None:
    present = [p for p in present if p]
    columns = spec.columns
    missing = [c for c in columns.required if c not in present]
    if missing:
        raise DesiredTableError(
            f"{what} lacks the column(s) {', '.join(missing)} that relation {spec.name!r} needs "
            f"(it has: {', '.join(present) or 'no columns'}; needed: {', '.join(columns.required)}"
            + (f"; optional: {', '.join(columns.optional)})" if columns.optional else ")")
        )


def _mapping_row(number: int, record: Mapping[str, Any], spec: Any, where: str) -> DesiredRow:
    values = {str(key).strip().lower(): value for key, value in record.items()}
    _require(spec, values, where)
    return _row(number, values, spec)


def _row(number: int, raw: Mapping[str, Any], spec: Any) -> DesiredRow:
    values = {column: _cell(raw.get(column)) for column in spec.columns.required}
    for column, default in spec.columns.optional.items():
        values[column] = _cell(raw.get(column)) or default
    return DesiredRow(number, values)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return str(value).strip()


def _not_empty(rows: Iterator[DesiredRow], allow_empty: bool, what: str) -> Iterator[DesiredRow]:
    empty = True
    for row in rows:
        empty = False
        yield row
    if empty and not allow_empty:
        raise DesiredTableError(
            f"{what} has no rows. An empty desired table would remove every managed grant, so it is refused: "
            "check the export, or pass allow_empty=True if empty is really what you want"
        )
