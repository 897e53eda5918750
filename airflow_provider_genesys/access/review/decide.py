"""A reviewer's question and answer: the form a decision task shows, and what an answer means per item.

The form, built from the review file for one reviewer: a Markdown table of their items (number, person,
state, role, division, the groups through which the person also holds the role, why this reviewer), the
options :data:`~.model.OPTIONS` (keep all, revoke the selected items, revoke all), and two fields: the items
to revoke (a multi-select of the reviewer's item numbers, each shown with its person, role and division; the
REST API takes the numbers) and a justification. Hundreds of items are answered in one sitting: keep all is
one click, revoking a few is a few picks from a searchable list.

An answer becomes a :class:`Decision`: which items are revoked, who answered and when, or that nobody did
(the response timeout chose the default). An answer naming items that are not the reviewer's is refused
with the numbers it may name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from airflow_provider_genesys.access.review.file import Review, reviewer_label
from airflow_provider_genesys.access.review.model import (
    DEFAULT_OPTION,
    KEEP_ALL,
    OPTIONS,
    REVOKE_ALL,
    REVOKE_SELECTED,
    ReviewError,
)

REVOKE_PARAM, JUSTIFICATION_PARAM = "revoke", "justification"
_NUMBER = re.compile(r"^\s*#?(\d+)")


@dataclass
class Form:
    """What the decision task asks one reviewer."""

    subject: str
    body: str
    params: dict[str, dict[str, Any]]  # name -> Param arguments (default value and JSON schema)
    defaults: list[str]
    items: list[int] = field(default_factory=list)


def _cell(value: Any) -> str:
    return str(value if value is not None else "").replace("|", "\\|").replace("\n", " ")


def item_label(item: Mapping[str, Any]) -> str:
    """How an item reads in the multi-select: ``12 · jane@example.com · Supervisor · Sales``."""
    who = item.get("user_email") or item.get("user_name") or item["user"]
    return f"{item['item']} · {who} · {item['role_name']} · {item['division_name']}"


def form(review: Review, key: str) -> Form:
    """The question for reviewer ``key`` of ``review``."""
    entry = review.reviewer(key)
    header = review.header
    roles = ", ".join(r["name"] for r in header["managed_roles"])
    divisions = "" if header.get("divisions") is None else " on " + ", ".join(d["name"] for d in header["divisions"])
    default = header["default_decision"]
    lines = [
        f"### Access review for {_cell(reviewer_label(entry))}",
        "",
        f"{entry['items']} direct grant(s) of {roles}{divisions}, held by {entry['users']} person(s), as Genesys "
        f"showed them at {header['created_at']}. Please answer by {header['due_at']}: without an answer, "
        f"**{DEFAULT_OPTION[default].lower()}** applies"
        + (" (and the removals still pass the plan's guardrails)." if default == "revoke" else "."),
        "",
        f"Choose **{KEEP_ALL}** if everyone still needs this access. To remove some of it, pick the item numbers "
        f"under *Items to revoke* (below the table; type a name to find it) and choose **{REVOKE_SELECTED}** (or "
        f"**{REVOKE_ALL}**). The justification goes "
        "into the audit evidence with your name and the time. Revocations are applied by the same DAG, after "
        "every reviewer answered, through a plan and its guardrails.",
        "",
        "| # | person | state | role | division | also through group | why you |",
        "|---|---|---|---|---|---|---|",
    ]
    numbers, labels = [], {}
    for item in review.items(key):
        who = item.get("user_email") or item["user"]
        if item.get("user_name"):
            who = f"{who} ({item['user_name']})"
        lines.append("| " + " | ".join(_cell(c) for c in (
            item["item"], who, item.get("user_state"), item["role_name"], item["division_name"],
            ", ".join(item.get("through_groups") or ()) or "-", item.get("assigned_by"))) + " |")
        numbers.append(item["item"])
        labels[str(item["item"])] = item_label(item)
    params = {
        REVOKE_PARAM: {"value": [], "title": "Items to revoke", "description": (
            f"The item numbers to revoke (with {REVOKE_SELECTED}); the others are kept."),
            "schema": {"type": ["array", "null"], "items": {"type": "string"}, "examples": list(labels),
                       "values_display": labels}},
        JUSTIFICATION_PARAM: {"value": "", "title": "Justification", "description": (
            "Why (kept in the audit evidence with your answer)."),
            "schema": {"type": ["string", "null"], "format": "multiline"}},
    }
    subject = f"Access review: {entry['items']} grant(s) of {roles} for {reviewer_label(entry)}"
    return Form(subject, "\n".join(lines) + "\n", params, [DEFAULT_OPTION[default]], numbers)


@dataclass
class Decision:
    """One reviewer's answer, as the decision task returns it (XCom) and close reads it."""

    reviewer: str
    review_checksum: str
    choice: str
    revoke: list[int]
    justification: str
    decided_by: dict[str, str] | None  # the Airflow user who answered; None when the default applied
    decided_at: str | None
    default_applied: bool
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> Decision:
        try:
            return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})
        except TypeError as err:
            raise ReviewError(f"A decision is missing fields ({err}): pass close the decision task's output") from None


def decision(review: Review, key: str, items: Sequence[int], *, chosen: Sequence[str], params: Mapping[str, Any],
             responded_by: Mapping[str, Any] | None, responded_at: str | None) -> Decision:
    """What reviewer ``key``'s answer means for each of their ``items``; a bad answer is a ReviewError."""
    if len(chosen) != 1 or chosen[0] not in OPTIONS:
        raise ReviewError(f"The answer {list(chosen)!r} is not one of {', '.join(OPTIONS)}: answer again")
    choice = chosen[0]
    justification = str(params.get(JUSTIFICATION_PARAM) or "").strip()
    selected = numbers(params.get(REVOKE_PARAM), items)
    note = ""
    if choice == KEEP_ALL:
        revoke: list[int] = []
        if selected:
            note = f"{KEEP_ALL} chosen: the {len(selected)} selected item(s) were kept"
    elif choice == REVOKE_ALL:
        revoke = sorted(items)
    else:
        revoke = selected
        if not selected:
            note = f"{REVOKE_SELECTED} chosen with no item selected: everything was kept"
    by = None if responded_by is None else {"id": str(responded_by.get("id")), "name": str(responded_by.get("name"))}
    return Decision(key, review.checksum, choice, revoke, justification, by, responded_at, responded_by is None, note)


def numbers(values: Any, items: Iterable[int]) -> list[int]:
    """The item numbers an answer selects (``12``, ``"12"``, ``"12 · jane@..."``), each one of ``items``."""
    allowed = set(items)
    if values in (None, ""):
        return []
    if isinstance(values, str | int):
        values = [values]
    if not isinstance(values, Sequence):
        raise ReviewError(f"{REVOKE_PARAM} must be a list of item numbers; got {values!r}")
    chosen, bad = set(), []
    for value in values:
        match = _NUMBER.match(str(value))
        number = int(match.group(1)) if match else None
        if number is None or number not in allowed:
            bad.append(repr(value))
        else:
            chosen.add(number)
    if bad:
        ranges = _ranges(sorted(allowed))
        raise ReviewError(f"{REVOKE_PARAM} names {', '.join(bad)}, which are not among this reviewer's items "
                          f"({ranges}): answer with item numbers from the table")
    return sorted(chosen)


def _ranges(values: list[int]) -> str:
    if not values:
        return "none"
    parts, start, last = [], values[0], values[0]
    for value in [*values[1:], None]:
        if value is not None and value == last + 1:
            last = value
            continue
        parts.append(str(start) if start == last else f"{start}-{last}")
        if value is not None:
            start = last = value
    return ", ".join(parts)
