"""What a user's routing skills and languages share: each held with a proficiency from 0 to 5.

Desired table: ``user``, the skill's (language's) column, ``proficiency``. A target is ``(id, proficiency)``:
the id is the key and the proficiency its value, so a changed proficiency is one ``update`` (never a
removal and an add), and two rows giving one user two proficiencies of one skill are an error.

Reading (``read``): the users listing with ``expand=skills`` (``languages``), 500 users a page, serves most
users; Genesys resolves expands "with a best effort approach and not guaranteed to be returned", so a user
whose entry lacks the field is read from its own listing (``GET /api/v2/users/{id}/routingskills``), in
parallel: exact either way, at the cost of the listing plus one read per user left out.

Writes, per user, the fewest Genesys offers (SDK ``UsersApi``): adds and proficiency changes in one
``PATCH /api/v2/users/{id}/routingskills/bulk`` (at most 50 a call); a ``PUT .../bulk`` of the user's whole
set instead where every skill the user holds is managed and it saves calls (removals too); else one
``DELETE .../routingskills/{skillId}`` per removal (404: nothing left to remove). A user's writes are spread
over the run (all users' bulk writes, then one round of deletes after another), and a write refused as a
concurrent change (409, or 400 naming the version) is read back and sent again after a short wait.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from airflow_provider_genesys.access.names import DesiredItem, Directory, NameIndex
from airflow_provider_genesys.access.relations.base import Indexed, Relation, Target
from airflow_provider_genesys.access.writes import Write, chunks
from airflow_provider_genesys.client import api_path
from airflow_provider_genesys.extract.plans.skills import Holding, entries_of

MAX_PROFICIENCY = 5
PER_CALL = 50  # the bulk writes' maximum (SDK for languages, Terraform for skills)


def proficiency_text(value: Any) -> str:
    """A proficiency as the model holds it (``"4"``, ``"2.5"``); ValueError outside 0-5 or not a number."""
    number = float(value)
    if not math.isfinite(number) or not 0 <= number <= MAX_PROFICIENCY:
        raise ValueError(value)
    return str(int(number)) if number.is_integer() else repr(number)


class Proficiencies(Relation):
    """A user's skills or languages; subclasses name the kind, its endpoints and whether it can be replaced."""

    holding: ClassVar[Holding]  # the extract's description: kind, expand, a user's own listing
    write_path: ClassVar[str]  # "/api/v2/users/{}/routingskills"
    replaceable: ClassVar[bool] = False  # a PUT of the whole set exists
    key_width = 1
    inactive_notice = "rows name inactive users (kept: they hold it if reactivated)"
    inactive_removal_notice = ("removals are of inactive users (a table of active agents only removes what the "
                               "agents it leaves out hold: list them too, or plan with mode='add_only')")

    @property
    def kind(self) -> str:
        return self.holding.kind

    @property
    def user_expand(self) -> str:  # type: ignore[override]
        return self.holding.expand

    # -- the desired table ---------------------------------------------------------------------------------

    def resolve(self, row: Any, directory: Directory) -> DesiredItem | None:
        n = row.number
        user = directory.lookup(directory.users, n, "user", row["user"])
        entry = directory.lookup(directory.index(self.managed_kind or ""), n, self.kind, row[self.kind])
        try:
            proficiency = proficiency_text(row["proficiency"]) if row["proficiency"] else None
        except ValueError:
            directory.problems.append(f"{directory.where(n)}: proficiency {row['proficiency']!r} is not a number "
                                      f"from 0 to {MAX_PROFICIENCY}")
            return None
        if proficiency is None:
            directory.problems.append(f"{directory.where(n)}: the proficiency is blank")
            return None
        if user and entry:
            return DesiredItem(n, user, "user", (entry, proficiency))
        return None

    # -- the current state ---------------------------------------------------------------------------------

    def user_extra(self, user: Mapping[str, Any]) -> dict[str, Any]:
        entries = user.get(self.holding.expand)
        if entries is None:
            return {self.holding.expand: None}
        return {self.holding.expand: [(str(e["id"]), e.get("proficiency")) for e in entries]}

    def hold_user(self, current: Any, user: Mapping[str, Any]) -> None:
        entries = user.get(self.holding.expand)
        user_id = str(user["id"])
        if entries is None:
            if (user.get("state") or "active") != "deleted":  # a deleted user holds nothing
                current.unread.append(user_id)
            return
        for entry_id, proficiency in entries:
            current.hold(user_id, "user", (entry_id, _held_proficiency(proficiency)))

    def read(self, org: Any, current: Any) -> None:
        """The catalogue (names), then the users the listing's expand left out, one by one, in parallel."""
        org.indexes[self.managed_kind or ""] = NameIndex.of(self.kind, org.fetcher.listing(self.catalogue))
        unread, current.unread = current.unread, []
        reads = org.fetcher.ordered_map(lambda user: entries_of(org.fetcher, self.holding, user), unread)
        for user, entries in zip(unread, reads, strict=True):
            current.held.setdefault(user, set())
            for entry in entries or ():  # None: 404, gone since the listing: holds nothing
                current.hold(user, "user", (str(entry["id"]), _held_proficiency(entry.get("proficiency"))))

    catalogue: ClassVar[str]  # "/api/v2/routing/skills"

    # -- the plan ------------------------------------------------------------------------------------------

    def field_value(self, name: str, value: str) -> Any:
        if name == "proficiency":
            number = float(value)
            return int(number) if number.is_integer() else number
        return value

    def text(self, value: Any) -> str:  # type: ignore[override]
        return proficiency_text(value) if isinstance(value, int | float) and not isinstance(value, bool) else str(value)

    def conflict(self, first: int, row: int, subject: str, first_target: Target, target: Target, label: Any) -> str:
        return (f"rows {first} and {row}: {label(subject)} is asked to hold {self.kind} {label(target[0])} with "
                f"proficiency {first_target[1]} and {target[1]}: keep one")

    def removal_reason(self, target: Target, label: Any) -> str:
        return (f"holds managed {self.kind} {label(target[0])} (proficiency {target[1]}), not in the desired "
                "state")

    # -- writes --------------------------------------------------------------------------------------------

    def writes(self, items: list[Indexed], current: Any = None, scope: Mapping[str, Any] | None = None) -> list[Write]:
        """Per user: one bulk write of its adds and updates (or one replace of its whole set), then its
        removals one by one; users' writes interleaved so one user's come apart in time."""
        per_user: dict[str, list[Indexed]] = {}
        for item in items:
            per_user.setdefault(item[1]["subject"], []).append(item)
        managed = set((scope or {}).get("managed") or ())
        bulk: list[Write] = []
        deletes: list[list[Write]] = []
        for user, changes in per_user.items():
            sets = [c for c in changes if c[1]["action"] != "remove"]
            removes = [c for c in changes if c[1]["action"] == "remove"]
            held = current.held.get(user, set()) if current is not None else None
            if self.replaceable and removes and held is not None and managed and {t[0] for t in held} <= managed:
                final = {t[0]: t[1] for t in held}
                for _, change in removes:
                    final.pop(str(change[self.kind]), None)
                for _, change in sets:
                    final[str(change[self.kind])] = self.text(change["proficiency"])
                if len(final) <= PER_CALL:  # one call for the whole set, instead of 1 + one per removal
                    bulk.append(self._bulk("PUT", user, changes, [(k, v) for k, v in sorted(final.items())]))
                    continue
            for part in chunks(sets, PER_CALL):
                bulk.append(self._bulk("PATCH", user, part, [(str(c[self.kind]), self.text(c["proficiency"]))
                                                            for _, c in part]))
            deletes.append([Write(f"{self.kind}_delete", "DELETE", api_path(self.write_path + "/{}", user,
                                                                            c[self.kind]), [i], absent_on_404=True,
                                  retry_on_conflict=True) for i, c in removes])
        return bulk + [write for round_ in _rounds(deletes) for write in round_]

    def _bulk(self, method: str, user: str, changes: list[Indexed], entries: list[tuple[str, str]]) -> Write:
        body = [{"id": entry, "proficiency": float(proficiency)} for entry, proficiency in entries]
        kind = f"{self.kind}s_{'replace' if method == 'PUT' else 'bulk'}"
        return Write(kind, method, api_path(self.write_path + "/bulk", user), [i for i, _ in changes], body=body,
                     retry_on_conflict=True)

    def read_back(self, api: Any, record: Mapping[str, Any], cache: dict[str, Any]) -> set[Target]:
        user = record["subject"]
        key = f"{self.kind}:{user}"
        if key not in cache:
            cache[key] = {(str(e["id"]), _held_proficiency(e.get("proficiency")))
                          for e in api.paginate(api_path(self.write_path, user), params={"pageSize": PER_CALL})}
        return cache[key]


def _held_proficiency(value: Any) -> str:
    """A proficiency Genesys returned, as the model holds it (an odd value is kept as text: never equal)."""
    try:
        return proficiency_text(value)
    except (TypeError, ValueError):
        return str(value)


def _rounds(per_user: list[list[Write]]) -> Iterator[list[Write]]:
    """The first write of every user, then the second of every user, ..."""
    for n in range(max((len(w) for w in per_user), default=0)):
        yield [writes[n] for writes in per_user if n < len(writes)]
