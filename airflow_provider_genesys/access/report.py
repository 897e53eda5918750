"""The apply report: one NDJSON line per change a write carried (or a subject refused), from the ledger.

Each line: ``write`` (its id in the ledger: run-number), ``subject``, ``subject_name``, ``relation``, the
target (``role``/``division``, ``group``, ``queue`` or ``state``, with names), ``action``, ``outcome``
(done, confirmed, absent, refused, unknown, stale), HTTP ``status``, ``correlation_id``, ``time``,
``method`` and ``path`` of the write. A bulk write carrying 500 subjects gives 500 lines with one
correlation id: the report reads per subject, the ledger per request. It is written next to the plan
(``<plan>.report.ndjson``) and is the apply task's output Asset.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import IO, Any

from airflow_provider_genesys.access.ledger import SPLIT, LedgerState
from airflow_provider_genesys.access.registry import relation as relation_named

STALE = "stale"  # the subject's state changed since the plan: refused, not written


def lines(state: LedgerState, changes: Mapping[int, Mapping[str, Any]], relation: str) -> Iterator[dict[str, Any]]:
    """The report's lines, in the ledger's order."""
    intents = {r["write"]: r for r in state.records if r.get("type") == "intent"}
    for record in state.records:
        kind = record.get("type")
        if kind not in ("outcome", "refused") or record.get("outcome") == SPLIT:
            continue  # a write split in smaller ones: they have the lines
        intent = intents.get(record.get("write"), {})
        for index in record.get("changes", ()):
            change = changes.get(index)
            if change is None:
                continue
            rel = change.get("relation", relation)
            line: dict[str, Any] = {"write": record.get("write"), "subject": change["subject"],
                                    "subject_name": change.get("subject_name", change["subject"]),
                                    "relation": rel}
            for name in (*relation_named(rel).target_fields, "was"):
                if name == "was" and "was" not in change:
                    continue
                line[name] = change.get(name)
                if f"{name}_name" in change:
                    line[f"{name}_name"] = change[f"{name}_name"]
            line.update({
                "action": change["action"],
                "outcome": record["outcome"] if kind == "outcome" else record.get("outcome", STALE),
                "status": record.get("status"), "correlation_id": record.get("correlation_id"),
                "time": record.get("time"), "method": intent.get("method"), "path": intent.get("path"),
            })
            if record.get("message"):
                line["message"] = record["message"] if kind == "outcome" else record.get("why")
            elif kind == "refused":
                line["message"] = record.get("why")
            yield line


def write(out: IO[str], state: LedgerState, changes: Mapping[int, Mapping[str, Any]], relation: str) -> int:
    """Write the report to a text file; returns the number of lines."""
    count = 0
    for line in lines(state, changes, relation):
        out.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")
        count += 1
    return count


__all__ = ["STALE", "lines", "write"]
