"""The evidence of a review: one line per item (NDJSON and CSV), and a Markdown summary per reviewer.

Each line says what was reviewed (the user, role and division), by whom (the reviewer and why), the decision
(keep or revoke), who decided and when, or that nobody answered and the default applied, the justification,
the review's checksum, and the **result**: ``kept``, ``pending`` (to be removed by the plan and apply),
``removed``, ``refused`` (not revoked, and why: the grants changed since the snapshot, the connection's own
user, apply refused the write) or ``not_applied`` (the plan or apply did not complete it). Close writes the
evidence with the results it knows; :func:`complete` joins apply's report (``access/report.py`` lines) into it
once apply ran, so each pending revocation says what apply did. Streamed both ways: memory stays flat.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any

from airflow_provider_genesys.access.ledger import SETTLED
from airflow_provider_genesys.access.report import STALE
from airflow_provider_genesys.extract.writer import temporary_database

FIELDS = (
    "item", "user", "user_id", "user_name", "role", "role_id", "division", "division_id", "through_groups",
    "reviewer", "reviewer_key", "assigned_by", "decision", "decided_by", "decided_by_id", "decided_at",
    "default_applied", "justification", "result", "result_detail", "review_checksum",
)
KEPT, PENDING, REMOVED, REFUSED, NOT_APPLIED = "kept", "pending", "removed", "refused", "not_applied"
RESULTS = (KEPT, PENDING, REMOVED, REFUSED, NOT_APPLIED)
_line = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class EvidenceWriter:
    """Evidence lines to an NDJSON and a CSV text file at once."""

    def __init__(self, ndjson: IO[str], table: IO[str]) -> None:
        self._ndjson = ndjson
        self._csv = csv.DictWriter(table, fieldnames=FIELDS, extrasaction="ignore", lineterminator="\n")
        self._csv.writeheader()
        self.lines = 0

    def write(self, line: Mapping[str, Any]) -> None:
        self._ndjson.write(_line(dict(line)) + "\n")
        flat = dict(line)
        flat["through_groups"] = "; ".join(line.get("through_groups") or ())
        flat["default_applied"] = "true" if line.get("default_applied") else "false"
        self._csv.writerow(flat)
        self.lines += 1


@dataclass
class Tally:
    """Counts per reviewer and in all: items, kept, revoked, unanswered and each result."""

    reviewers: dict[str, dict[str, Any]] = field(default_factory=dict)
    total: dict[str, int] = field(default_factory=lambda: dict.fromkeys(("items", "kept", "revoked", "unanswered",
                                                                           *RESULTS), 0))

    def add(self, line: Mapping[str, Any]) -> None:
        entry = self.reviewers.setdefault(line["reviewer_key"], {
            "reviewer": line["reviewer"], "decided_by": line.get("decided_by") or "", "decided_at":
            line.get("decided_at") or "", "counts": dict.fromkeys(self.total, 0)})
        for counts in (entry["counts"], self.total):
            counts["items"] += 1
            counts["kept" if line["decision"] == "keep" else "revoked"] += 1
            counts["unanswered"] += 1 if line.get("default_applied") else 0
            if line["result"] != KEPT:  # a kept item's result is its decision, counted above
                counts[line["result"]] += 1


def summary(header: Mapping[str, Any], tally: Tally, *, checksum: str, completed: bool,
            unreviewed: Iterable[str] = ()) -> str:
    """Markdown: the review, the totals, a row per reviewer, and (once completed) what apply did."""
    roles = ", ".join(r["name"] for r in header["managed_roles"])
    divisions = "every division" if header.get("divisions") is None else ", ".join(
        d["name"] for d in header["divisions"])
    t = tally.total
    lines = [
        f"### Genesys access review: {roles} on {divisions}",
        "",
        f"Org `{header['org_id']}`, snapshot {header['created_at']}, due {header['due_at']}; unanswered items: "
        f"{header['default_decision']}. Review checksum `{checksum}`.",
        "",
        f"**{t['items']} item(s)**, {len(tally.reviewers)} reviewer(s): {t['kept']} kept, {t['revoked']} revoked, "
        f"{t['unanswered']} unanswered (default applied). Results: {t['removed']} removed, {t['pending']} pending, "
        f"{t['refused']} refused, {t['not_applied']} not applied."
        + ("" if completed else " Apply's outcome is added once apply ran."),
        "",
        "| reviewer | items | kept | revoked | unanswered | removed | refused | not applied | answered by | at |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for entry in tally.reviewers.values():
        c = entry["counts"]
        lines.append("| " + " | ".join(str(v).replace("|", "\\|") for v in (
            entry["reviewer"], c["items"], c["kept"], c["revoked"], c["unanswered"], c["removed"],
            c["refused"], c["not_applied"] + c["pending"], entry["decided_by"] or "(default)", entry["decided_at"],
        )) + " |")
    unreviewed = list(unreviewed)
    if unreviewed:
        lines += ["", f"**Changes apply made that the review did not decide: {len(unreviewed)}** (a grant changed "
                  "between close and plan):", *[f"- {u}" for u in unreviewed[:50]]]
    return "\n".join(lines) + "\n"


# -- completing the evidence with apply's report -------------------------------------------------------------

_DETAIL = {
    "done": "removed by apply", "confirmed": "removed by apply (confirmed by a read-back)",
    "absent": "already gone when apply removed it", STALE: "apply refused: the user's grants changed between the "
    "plan and apply (make a new plan)", "refused": "Genesys refused the removal",
}


class Report:
    """Apply's report lines, by (subject, role, division, action), in a temporary database (flat memory)."""

    def __init__(self, lines: Iterable[Mapping[str, Any]]) -> None:
        self._db = temporary_database()
        self._db.execute("CREATE TABLE report (subject TEXT, role TEXT, division TEXT, action TEXT, line TEXT, "
                         "used INTEGER DEFAULT 0, PRIMARY KEY (subject, role, division, action)) WITHOUT ROWID")
        self._db.executemany("INSERT OR REPLACE INTO report (subject, role, division, action, line) VALUES "
                             "(?, ?, ?, ?, ?)", ((str(r.get("subject")), str(r.get("role")), str(r.get("division")),
                                                  str(r.get("action")), json.dumps(r)) for r in lines))

    def take(self, subject: str, role: str, division: str) -> dict[str, Any] | None:
        key = (subject, role, division, "remove")
        found = self._db.execute("SELECT line FROM report WHERE subject = ? AND role = ? AND division = ? AND "
                                 "action = ?", key).fetchone()
        if found is None:
            return None
        self._db.execute("UPDATE report SET used = 1 WHERE subject = ? AND role = ? AND division = ? AND action = ?",
                         key)
        return json.loads(found[0])

    def unused(self) -> Iterator[str]:
        """Changes of the report no evidence line asked for: ``remove role on division from subject``."""
        for (line,) in self._db.execute("SELECT line FROM report WHERE used = 0 ORDER BY subject, role, division"):
            r = json.loads(line)
            yield (f"{r.get('action')} {r.get('role_name') or r.get('role')} on "
                   f"{r.get('division_name') or r.get('division')} for {r.get('subject_name') or r.get('subject')} "
                   f"({r.get('outcome')})")

    def close(self) -> None:
        self._db.close()


def completed(line: dict[str, Any], report: Report | None, why_missing: str) -> dict[str, Any]:
    """``line`` with its result from apply's report: a pending (or not yet applied) revocation says what apply
    did; every other line stays as it is (its report line, if any, still counts as asked for)."""
    if line["decision"] != "revoke":
        return line
    found = report.take(line["user_id"], line["role_id"], line["division_id"]) if report is not None else None
    if line["result"] not in (PENDING, NOT_APPLIED):
        return line
    if found is None:
        return {**line, "result": NOT_APPLIED, "result_detail": why_missing}
    outcome = str(found.get("outcome"))
    where = f"write {found.get('write')}, HTTP {found.get('status')}, correlation id {found.get('correlation_id')}"
    if outcome in SETTLED:
        return {**line, "result": REMOVED, "result_detail": f"{_DETAIL[outcome]} ({where}) at {found.get('time')}"}
    if outcome in (STALE, "refused"):
        message = f": {found['message']}" if found.get("message") else ""
        return {**line, "result": REFUSED, "result_detail": f"{_DETAIL[outcome]}{message} ({where})"}
    return {**line, "result": NOT_APPLIED, "result_detail": f"apply did not complete it (outcome {outcome}, {where}): "
            "rerun apply; its ledger skips what is done"}


def read_lines(file: IO[str]) -> Iterator[dict[str, Any]]:
    """The evidence lines of an NDJSON evidence file."""
    for line in file:
        if line.strip():
            yield json.loads(line)


def complete(header: Mapping[str, Any], checksum: str, lines: Iterable[dict[str, Any]], report: Report | None,
             out: EvidenceWriter, *, why_missing: str) -> tuple[str, Tally, list[str]]:
    """Write ``lines`` completed with apply's ``report`` to ``out``; the summary, the counts and the changes of the
    report no line asked for (``why_missing``: the detail of a revocation the report does not have)."""
    tally = Tally()
    for line in lines:
        done = completed(line, report, why_missing)
        out.write(done)
        tally.add(done)
    unreviewed = list(report.unused()) if report is not None else []
    return summary(header, tally, checksum=checksum, completed=True, unreviewed=unreviewed), tally, unreviewed
