"""The review file: what was reviewed, by whom, at one instant; checksummed like an access plan.

NDJSON, so a review of 10,000 items is written and read a line at a time: a header line (schema, org, when,
the deadline and default decision, the scope, every reviewer with their item count), one line per item (its
number, the user, role and division with their names, the groups through which the user also holds that
role, the reviewer and why, and the user's managed grants at the snapshot, for close's stale rule), then a
line with the checksum: sha256 over the canonical JSON of the header and every item, in order. As with a
plan, the checksum catches an edited file or one of another org; it is not a signature.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import IO, Any

from airflow_provider_genesys.access.review.model import FALLBACK, SCHEMA, ReviewError

_canonical = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode
_line = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode

Opener = Callable[[], IO[str]]


def write(out: IO[str], header: Mapping[str, Any], items: Iterable[Mapping[str, Any]]) -> str:
    """Write the review (header, items, checksum) to a text file; returns the checksum."""
    digest = hashlib.sha256(_canonical(dict(header)).encode())
    out.write(_line(dict(header)) + "\n")
    for item in items:
        digest.update(b"\n" + _canonical(dict(item)).encode())
        out.write(_line(dict(item)) + "\n")
    checksum = "sha256:" + digest.hexdigest()
    out.write(_line({"checksum": checksum}) + "\n")
    return checksum


class Review:
    """A review file, verified (checksum, schema, org) when loaded; its items are read again on demand."""

    def __init__(self, opener: Opener, *, org_id: str | None = None, where: str = "the review file") -> None:
        self._opener = opener
        self.where = where
        self.header: dict[str, Any] = {}
        self.checksum = ""
        for _ in self._read():  # the first pass checks the whole file before anything uses it
            pass
        if self.header.get("schema") != SCHEMA:
            raise ReviewError(f"{where} is of schema {self.header.get('schema')!r}; this version reads {SCHEMA!r}: "
                              "give the path the open task returned")
        if org_id is not None and self.header.get("org_id") != org_id:
            raise ReviewError(f"{where} was made for org {self.header.get('org_id')!r}, but the connection is to org "
                              f"{org_id!r}: use the connection the review was opened with")

    @property
    def reviewers(self) -> list[dict[str, Any]]:
        return list(self.header.get("reviewers") or ())

    def reviewer(self, key: str) -> dict[str, Any]:
        for entry in self.reviewers:
            if entry["key"] == key:
                return entry
        known = ", ".join(e["key"] for e in self.reviewers[:10])
        raise ReviewError(f"{self.where} has no reviewer {key!r} (it has: {known}"
                          f"{' ...' if len(self.reviewers) > 10 else ''}): map the decision task over the open "
                          "task's reviews")

    def items(self, reviewer: str | None = None) -> Iterator[dict[str, Any]]:
        """The items in file order (only ``reviewer``'s when given); the checksum is checked again at the end."""
        for item in self._read():
            if reviewer is None or item["reviewer"] == reviewer:
                yield item

    def _read(self) -> Iterator[dict[str, Any]]:
        try:
            file = self._opener()
        except OSError as err:
            raise ReviewError(f"{self.where} cannot be read ({err}): give the path the open task returned") from None
        with file:
            digest = hashlib.sha256()
            stored = None
            for number, line in enumerate(file, 1):
                if not line.strip():
                    continue
                if stored is not None:
                    raise ReviewError(f"{self.where} goes on after its checksum line (line {number}): it was "
                                      "edited; open a new review")
                try:
                    record = json.loads(line)
                except ValueError:
                    raise ReviewError(f"line {number} of {self.where} is not JSON: it is not a review file, or it "
                                      "was cut short") from None
                if number == 1:
                    if not isinstance(record, dict) or "schema" not in record:
                        raise ReviewError(f"{self.where} is not a Genesys access review (no schema on its first "
                                          "line): give the path the open task returned")
                    self.header = record
                    digest.update(_canonical(record).encode())
                elif set(record) == {"checksum"}:
                    stored = record["checksum"]
                else:
                    digest.update(b"\n" + _canonical(record).encode())
                    yield record
        computed = "sha256:" + digest.hexdigest()
        if stored is None:
            raise ReviewError(f"{self.where} has no checksum line: it was cut short; open a new review")
        if stored != computed:
            raise ReviewError(f"The checksum of {self.where} does not match its content: it was edited after it was "
                              "made. Decisions are only recorded against the review as it was asked: open a new "
                              "review")
        self.checksum = computed


def reviewer_label(entry: Mapping[str, Any]) -> str:
    """Who a reviewer entry is, for people: the reviewer's email, or the fallback reviewers' emails."""
    people = [p.get("email") or p.get("name") or p["id"] for p in entry.get("reviewers") or ()]
    text = ", ".join(people) or entry["key"]
    return f"fallback ({text})" if entry["key"] == FALLBACK else text


def evidence_paths(review_path: str) -> tuple[str, str, str]:
    """Where close writes the evidence (NDJSON, CSV) and the summary: beside the review file, named after it
    (``q3.review.ndjson`` -> ``q3.evidence.ndjson``, ``q3.evidence.csv``, ``q3.summary.md``)."""
    stem = review_path
    for suffix in (".ndjson", ".jsonl", ".json"):
        stem = stem.removesuffix(suffix)
    stem = stem.removesuffix(".review")
    return f"{stem}.evidence.ndjson", f"{stem}.evidence.csv", f"{stem}.summary.md"
