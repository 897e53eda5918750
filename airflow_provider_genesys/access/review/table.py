"""The reviewer table: who reviews whom, as rows ``user``, ``reviewer`` (a file, SQL rows or dict rows).

Read as the access operators read desired tables (docs/access.md, "Reading the desired table"): streamed, a
row at a time, numbered from 1 (a CSV header is not a row, blank lines are skipped), header names in any case
or with spaces, extra columns ignored, a UTF-8 byte-order mark dropped; a missing column names the missing
and the present ones. Users and reviewers are named by id or email. Not an access relation (nothing is synced
from it), so it has its own two-column spec rather than a registered relation.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import IO, Any

from airflow_provider_genesys.access.desired import FORMATS
from airflow_provider_genesys.access.desired import _text as text_of
from airflow_provider_genesys.access.review.model import ReviewError

COLUMNS = ("user", "reviewer")
Row = tuple[int, str, str]  # (row number, user, reviewer)


def read_file(file: IO[Any], fmt: str) -> Iterator[Row]:
    """Rows of a CSV or NDJSON file object (binary or text)."""
    if fmt not in FORMATS:
        raise ReviewError(f"The reviewer table's format {fmt!r} is unknown: use 'csv' or 'ndjson'")
    text, detach = text_of(file)
    try:
        yield from _csv(text) if fmt == "csv" else _ndjson(text)
    finally:
        detach()


def read_rows(rows: Iterable[Mapping[str, Any]]) -> Iterator[Row]:
    """Rows given as dicts with ``user`` and ``reviewer`` (from XCom, or written in the DAG)."""
    for number, record in enumerate(rows, 1):
        if not isinstance(record, Mapping):
            raise ReviewError(f"Row {number} of the reviewer rows is a {type(record).__name__}, not a mapping of "
                              "user and reviewer")
        yield _mapping(number, record, f"Row {number} of the reviewer rows")


def read_sql(rows: Iterable[Sequence[Any]], columns: Sequence[str]) -> Iterator[Row]:
    """Rows of a SQL result in the order of ``columns`` (the cursor's description names)."""
    names = _columns(columns, "The reviewer query's result")
    for number, cells in enumerate(rows, 1):
        record = dict(zip(names, cells, strict=True))
        yield number, _cell(record["user"]), _cell(record["reviewer"])


def _csv(text: IO[str]) -> Iterator[Row]:
    reader = csv.reader(text)
    header: list[str] = []
    for header in reader:
        if any(cell.strip() for cell in header):
            break
    if not header:
        raise ReviewError("The reviewer table is empty: its first line must name the columns user, reviewer")
    names = _columns(header, "The reviewer table")
    number = 0
    try:
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue
            number += 1
            record = dict(zip(names, cells, strict=False))
            yield number, _cell(record.get("user")), _cell(record.get("reviewer"))
    except csv.Error as err:
        raise ReviewError(f"The reviewer table is not valid CSV after row {number}: {err}") from None


def _ndjson(text: IO[str]) -> Iterator[Row]:
    number = 0
    for line_number, line in enumerate(text, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line.removeprefix("\ufeff"))
        except ValueError as err:
            raise ReviewError(f"Line {line_number} of the reviewer table is not JSON: {err}") from None
        if not isinstance(record, dict):
            raise ReviewError(f"Line {line_number} of the reviewer table is not an object with user and reviewer")
        number += 1
        yield _mapping(number, record, f"Line {line_number} of the reviewer table")


def _mapping(number: int, record: Mapping[str, Any], where: str) -> Row:
    values = {str(key).strip().lower(): value for key, value in record.items()}
    missing = [c for c in COLUMNS if c not in values]
    if missing:
        raise ReviewError(f"{where} lacks {', '.join(missing)} (it has: {', '.join(values) or 'nothing'})")
    return number, _cell(values["user"]), _cell(values["reviewer"])


def _columns(header: Sequence[Any], what: str) -> list[str]:
    names = [str(cell).removeprefix("\ufeff").strip().lower() for cell in header]
    missing = [c for c in COLUMNS if c not in names]
    if missing:
        raise ReviewError(f"{what} lacks the column(s) {', '.join(missing)} (it has: "
                          f"{', '.join(n for n in names if n) or 'no columns'}; needed: user, reviewer)")
    return names


def _cell(value: Any) -> str:
    return "" if value is None else str(value).strip()
