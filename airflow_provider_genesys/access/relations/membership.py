"""What group and queue memberships share: a user is a member of a holder (a group or a queue).

Desired table: the holder's column and ``user``. A target is ``(holder,)``. Writes add or remove members of
one holder in chunks of at most the per-call maximum Genesys publishes; a membership is read back from the
holder's member listing (one listing per holder, shared by all its changes).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from airflow_provider_genesys.access.names import DesiredItem, Directory
from airflow_provider_genesys.access.relations.base import Indexed, Relation, Target
from airflow_provider_genesys.access.writes import Write, chunks
from airflow_provider_genesys.client import api_path


class Membership(Relation):
    """A user's membership of a group or a queue; subclasses set the holder and its writes."""

    holder: ClassVar[str]  # the column and the target field: "group" or "queue"
    members_path: ClassVar[str]  # the holder's member listing, "{}" for its id
    per_call: ClassVar[int]
    key_width = 1

    def resolve(self, row: Any, directory: Directory) -> DesiredItem | None:
        n = row.number
        user = directory.lookup(directory.users, n, "user", row["user"])
        index = directory.index(self.managed_kind or "")
        holder = directory.lookup(index, n, self.holder, row[self.holder])
        if user and holder:
            return DesiredItem(n, user, "user", (holder,))
        return None

    def writes(self, items: list[Indexed], current: Any = None, scope: Mapping[str, Any] | None = None) -> list[Write]:
        adds = [c for c in items if c[1]["action"] != "remove"]
        removes = [c for c in items if c[1]["action"] == "remove"]
        return self.member_writes(adds) + self.member_writes(removes)

    def member_writes(self, items: list[Indexed]) -> list[Write]:
        """One holder, one action, at most ``per_call`` users per call."""
        per_holder: dict[tuple[str, str], list[Indexed]] = {}
        for item in items:
            per_holder.setdefault((item[1][self.holder], item[1]["action"]), []).append(item)
        writes = []
        for (holder, action), members in per_holder.items():
            user_of = {index: change["subject"] for index, change in members}
            for part in chunks(members, self.per_call):
                writes.append(self.write(holder, action, [[i] for i, _ in part], user_of))
        return writes

    def write(self, holder: str, action: str, parts: list[list[Any]], user_of: Mapping[Any, str]) -> Write:
        """One write of ``parts`` (a member each: ``user_of`` names it), splittable into smaller ones."""
        raise NotImplementedError

    def read_back(self, api: Any, record: Mapping[str, Any], cache: dict[str, Any]) -> set[Target]:
        holder = str(record[self.holder])
        key = f"{self.holder}:{holder}"
        if key not in cache:
            cache[key] = set()
            for member in api.paginate(api_path(self.members_path, holder)):
                user = member.get("id") or (member.get("user") or {}).get("id")
                cache[key].add(str(user))
        return {(holder,)} if record["subject"] in cache[key] else set()
