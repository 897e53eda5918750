"""The plan artifact: the JSON a person reviews and apply executes, and its short Markdown summary.

The JSON holds a versioned schema name, the org id, when it was made, the relation, the scope, every change
(with names next to ids, so the file reads on its own), a fingerprint of each touched subject's state when
planned (apply refuses subjects whose state moved on), the counts, the warnings, and a checksum of all of
that. The checksum catches a plan edited by hand (an edited plan is not the reviewed plan) and, with the org
id, a plan from another org; it is not a signature: whoever can write the plan's storage can recompute it.
"""

from __future__ import annotations

import hashlib
import io
import json
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

from airflow_provider_genesys.access.diff import Diff
from airflow_provider_genesys.access.errors import PlanError
from airflow_provider_genesys.access.registry import relation as relation_named
from airflow_provider_genesys.access.spill import Spill, SpilledFingerprints
from airflow_provider_genesys.access.state import CurrentState

SCHEMA = "genesys-access-plan/1"
SUMMARY_CHANGES = 20
SUMMARY_LIMIT = 16_000  # characters: far below what an XCom or an approval body holds


@dataclass
class Plan:
    """A plan as stored: plain data, so loading it back gives the same object.

    A plan just made reads its ``changes`` and ``fingerprints`` from the planning spill (a temporary SQLite
    database, a change at a time): use it in ``with plan:`` (or call :meth:`close`) to delete the spill once
    it is written. A plan loaded from its file holds plain lists and dicts; closing it does nothing.
    """

    org_id: str
    created_at: str  # ISO 8601 with a time zone
    relation: str
    scope: dict[str, Any]
    changes: Sequence[dict[str, Any]]
    fingerprints: Mapping[str, str]
    counts: dict[str, int]
    warnings: list[dict[str, Any]] = field(default_factory=list)
    schema: str = SCHEMA
    # Removals that take access from several people (a group's grant: its members), one line each; written
    # only when there are some (plans without them read as before).
    losses: list[dict[str, Any]] = field(default_factory=list)
    _spill: Spill | None = field(default=None, init=False, repr=False, compare=False)

    def close(self) -> None:
        """Delete the planning spill (a plan loaded from a file has none)."""
        if self._spill is not None:
            self._spill.close()

    def __enter__(self) -> Plan:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def document(self) -> dict[str, Any]:
        document = {"schema": self.schema, "org_id": self.org_id, "created_at": self.created_at,
                    "relation": self.relation, "scope": self.scope, "counts": self.counts}
        if self.losses:
            document["losses"] = self.losses
        return {**document, "warnings": self.warnings, "fingerprints": self.fingerprints, "changes": self.changes}

    @property
    def created(self) -> datetime:
        return datetime.fromisoformat(self.created_at)


class Chained(Sequence[dict[str, Any]]):
    """The diff's changes (spilled) followed by a few more made beside it (a leaver's restores)."""

    def __init__(self, first: Sequence[dict[str, Any]], then: list[dict[str, Any]]) -> None:
        self.first, self.then = first, then

    def __len__(self) -> int:
        return len(self.first) + len(self.then)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        yield from self.first
        yield from self.then

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step != 1:
                return list(self)[index]
            head = list(self.first[start:min(stop, len(self.first))]) if start < len(self.first) else []
            return head + self.then[max(0, start - len(self.first)):max(0, stop - len(self.first))]
        position = index + len(self) if index < 0 else index
        if not 0 <= position < len(self):
            raise IndexError("change index out of range")
        return self.first[position] if position < len(self.first) else self.then[position - len(self.first)]


def make_plan(diff: Diff, current: CurrentState, *, org_id: str, created_at: datetime,
              label: Callable[[str], str] = str, losses: list[dict[str, Any]] | None = None,
              extra: list[dict[str, Any]] | None = None) -> Plan:
    """The plan of ``diff``: ``label`` gives the names written next to ids for readers."""
    if created_at.tzinfo is None:
        raise PlanError("created_at must carry a time zone (use datetime.now(timezone.utc))")
    spec = relation_named(diff.relation)
    changes = diff.changes.mapped(lambda change: spec.record(change, label))
    diff.spill.keep_fingerprints(current.fingerprint)
    fingerprints = SpilledFingerprints(diff.spill)
    scope = {"mode": diff.scope.mode, "managed": sorted(diff.managed),
             "managed_names": [label(m) for m in sorted(diff.managed)],
             "managed_from": "the desired table" if diff.scope.managed is None else "managed list"}
    if diff.scope.groups is not None:  # said explicitly (manage_groups=): the plan shows it
        scope["groups"] = "managed" if diff.scope.groups else "kept"
    warnings = [{"kind": n.kind, "message": n.message, "count": n.count, "examples": n.examples}
                for n in diff.notices]
    counts = diff.counts()
    if extra:  # changes of other relations the plan makes too (restores): counted apart
        changes = Chained(changes, extra)
        counts["restore"] = len(extra)
    plan = Plan(org_id, created_at.isoformat(), diff.relation, scope, changes, fingerprints, counts,
                warnings, losses=list(losses or ()))
    plan._spill = diff.spill
    return plan


# json.dumps with these arguments, without building an encoder per call (a plan has a few per change).
_canonical = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode
_indented = json.JSONEncoder(indent=1, ensure_ascii=False).encode
_line = json.JSONEncoder(ensure_ascii=False).encode


def _streamed(head: dict[str, Any], dump: Callable[[Any], str], entries: Iterable[str], close: str) -> Iterator[str]:
    """``dump(head)`` in pieces, its ``fingerprints`` streamed from ``entries`` (one ``"subject": "sha"``
    each) rather than dumped at once: a plan touching 100,000 subjects never makes them one string."""
    hole = f"fingerprints-{uuid.uuid4().hex}"
    before, after = dump({**head, "fingerprints": hole}).split(json.dumps(hole), 1)
    yield before + "{"
    n = 0
    for n, entry in enumerate(entries, 1):
        yield ("," if n > 1 else "") + entry
    yield (close if n else "}") + after


def _by_subject(fingerprints: Mapping[str, str]) -> Iterable[tuple[str, str]]:
    if isinstance(fingerprints, SpilledFingerprints):
        return fingerprints.sorted_items()
    return sorted(fingerprints.items())


def checksum(document: Mapping[str, Any]) -> str:
    """sha256 of the canonical JSON of everything but the checksum, fed a change (and a fingerprint) at a time."""
    digest = hashlib.sha256()
    head = {k: v for k, v in document.items() if k != "changes"}
    fingerprints = head.get("fingerprints")
    if isinstance(fingerprints, Mapping):
        entries = (f"{_canonical(s)}:{_canonical(f)}" for s, f in _by_subject(fingerprints))
        for piece in _streamed(head, _canonical, entries, "}"):
            digest.update(piece.encode())
    else:
        digest.update(_canonical(head).encode())
    for change in document.get("changes") or ():
        digest.update(b"\n" + _canonical(change).encode())
    return "sha256:" + digest.hexdigest()


def write(plan: Plan, file: IO[str]) -> None:
    """Write the plan as JSON to a text file, a change at a time (one per line, so a reviewer's eye or a
    diff of two plans can follow it; a plan of 100,000 changes is never one string in memory)."""
    document = plan.document()
    head = {k: v for k, v in document.items() if k != "changes"}
    head["checksum"] = checksum(document)

    entries = (f"\n  {_indented(s)}: {_indented(f)}" for s, f in plan.fingerprints.items())
    last = ""
    for piece in _streamed(head, _indented, entries, "\n }"):
        file.write(last)
        last = piece
    file.write(last[:-2] + ',\n "changes": [')  # the head without its closing "\n}"
    for n, change in enumerate(plan.changes):
        file.write(("\n" if n == 0 else ",\n") + _line(change))
    file.write("\n ]\n}\n" if plan.changes else "]\n}\n")


def dumps(plan: Plan) -> str:
    """The plan as the JSON :func:`write` writes."""
    out = io.StringIO()
    write(plan, out)
    return out.getvalue()


def loads(text: str | bytes, *, org_id: str) -> Plan:
    """A plan read back, refused (``PlanError``) if unreadable, of another schema, edited, or of another org."""
    try:
        document = json.loads(text)
    except ValueError as err:
        raise PlanError(f"The plan is not JSON ({err}): give apply the file the plan task wrote") from None
    if not isinstance(document, dict) or "schema" not in document:
        raise PlanError("The file is not a Genesys access plan (no 'schema'): give apply the plan task's file")
    if document["schema"] != SCHEMA:
        raise PlanError(
            f"The plan's schema is {document['schema']!r}; this version reads {SCHEMA!r}: make a new plan"
        )
    stored = document.pop("checksum", None)
    if stored != checksum(document):
        raise PlanError(
            "The plan's checksum does not match its content: it was edited after it was made. Apply only "
            "runs the plan that was reviewed: make a new plan (change the desired table, not the plan)"
        )
    if document.get("org_id") != org_id:
        raise PlanError(
            f"The plan was made for org {document.get('org_id')!r}, but the connection is to org {org_id!r}: "
            "use the connection the plan was made with, or make a plan for this org"
        )
    try:
        return Plan(**document)
    except TypeError as err:
        raise PlanError(f"The plan does not have the fields of {SCHEMA!r} ({err}): make a new plan") from None


def summary(plan: Plan, first: int = SUMMARY_CHANGES) -> str:
    """Markdown for the approval body and XCom: counts, the first ``first`` changes, the warnings."""
    counts = plan.counts
    scope = plan.scope
    lines = [
        f"### Genesys access plan: {plan.relation} ({scope['mode']})",
        "",
        f"Org `{plan.org_id}`, planned {plan.created_at}. Managed ({scope['managed_from']}): "
        + (", ".join(scope["managed_names"][:20]) or "nothing")
        + (f" and {len(scope['managed_names']) - 20} more" if len(scope["managed_names"]) > 20 else "") + ".",
        "",
        f"**{counts.get('add', 0)} to add, {counts.get('remove', 0)} to remove"
        + (f", {counts['set']} to set" if counts.get("set") else "")
        + (f", {counts['update']} to update" if counts.get("update") else "")
        + (f", {counts['restore']} to restore" if counts.get("restore") else "")
        + f"** across {counts.get('subjects', 0)} subject(s), from {counts.get('desired_rows', 0)} desired rows "
        f"({counts.get('managed_held', 0)} held in scope now).",
    ]
    for loss in plan.losses:
        keeps = "keeps" if loss["keep"] == 1 else "keep"
        keep = f", {loss['keep']} {keeps} it through another grant" if loss["keep"] else ""
        lines.append(f"- group {_cell(loss['subject_name'])} loses {_cell(loss['role_name'])} on "
                     f"{_cell(loss['division_name'])}: {loss['lose']} member(s) lose it{keep}"
                     + (f" (e.g. {', '.join(_cell(e) for e in loss['examples'])})" if loss["examples"] else ""))
    if plan.changes:
        fields = relation_named(plan.relation).target_fields
        lines += ["", "| action | subject | " + " | ".join(fields) + " | why |",
                  "|---|---|" + "---|" * len(fields) + "---|"]
        for change in plan.changes[:first]:
            cells = [change["action"], change["subject_name"]]
            cells += [change.get(f"{f}_name", change.get(f, "")) for f in fields]
            if "was" in change:  # a set or update: what it replaces
                cells[-1] = f"{change.get('was_name', change['was'])} -> {cells[-1]}"
            cells.append(change["reason"])
            lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
        if len(plan.changes) > first:
            lines.append(f"\n... and {len(plan.changes) - first} more changes in the plan file.")
    else:
        lines += ["", "Nothing to change: Genesys already matches the desired table in scope."]
    if plan.warnings:
        lines += ["", "**Warnings**"]
        for warning in plan.warnings:
            example = f" (e.g. {warning['examples'][0]})" if warning["examples"] else ""
            lines.append(f"- {warning['count']} {warning['message']}{example}")
    text = "\n".join(lines) + "\n"
    if len(text) > SUMMARY_LIMIT:
        text = text[:SUMMARY_LIMIT].rsplit("\n", 1)[0] + "\n\n... (summary cut; the plan file has it all)\n"
    return text


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")
