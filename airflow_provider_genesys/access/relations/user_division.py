"""``user_division``: the division each user the table names is in.

Desired table: ``user``, ``division``. A user is in exactly one division: a target is ``(division,)``, a
change is a ``set`` that records the division it moves the user from (``was``), never a removal, and two
rows putting one user in two divisions are an error. The scope is the users the table names. The current
division comes with the users listing (``User.division``).

Writes (SDK ``ObjectsApi.post_authorization_division_object``): ``POST
/api/v2/authorization/divisions/{divisionId}/objects/USER`` with a list of user ids, the users moving to one
division in one call. Genesys publishes no maximum per call: a move refused for its size is halved by apply,
which keeps the size that went in for the rest of the run. Permission: the help centre's Directory > User >
Edit in both divisions (``directory:user:edit``; the SDK lists none).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_genesys.access.names import DesiredItem, Directory
from airflow_provider_genesys.access.registry import register
from airflow_provider_genesys.access.relations.base import Columns, Indexed, Losses, Relation, Target
from airflow_provider_genesys.access.writes import Write, chunks, splittable
from airflow_provider_genesys.client import api_path

# No published maximum: 500 ids are ~20 KB of body; a smaller limit costs a few halvings, once per run.
USERS_PER_MOVE = 500
BY_ID = 100  # users read back at once with the users listing's id filter


class UserDivision(Relation):
    name = "user_division"
    columns = Columns(("user", "division"))
    target_fields = ("division",)
    named_fields = ("division",)
    key_width = 0
    scope_word = "user"
    held_word = "users"
    inactive_notice = None  # an inactive user is in a division all the same
    field_kinds = {"division": "divisions"}
    permissions = {"division_move": "directory:user:edit (in the user's division and the one it moves to)"}

    def resolve(self, row: Any, directory: Directory) -> DesiredItem | None:
        n = row.number
        user = directory.lookup(directory.users, n, "user", row["user"])
        division = directory.lookup(directory.divisions, n, "division", row["division"])
        if user and division:
            return DesiredItem(n, user, "user", (division,))
        return None

    def conflict(self, first: int, row: int, subject: str, first_target: Target, target: Target, label: Any) -> str:
        return (f"rows {first} and {row} put {label(subject)} in two divisions, {label(first_target[0])} and "
                f"{label(target[0])}: keep one")

    def user_extra(self, user: Mapping[str, Any]) -> dict[str, Any]:
        return {"division": (user.get("division") or {}).get("id")}

    def hold_user(self, current: Any, user: Mapping[str, Any]) -> None:
        if user.get("division"):
            current.held[str(user["id"])] = {(str(user["division"]),)}

    def losses(self, diff: Any, current: Any, label: Any) -> Losses:
        """A move takes a user out of what its division gave it: each counts as a removal, of the org's users."""
        moves = diff.count("set")
        users = sum(1 for state in current.user_states.values() if state != "deleted")
        return Losses(moves, users, moves, phrase="moves {n} user(s) to another division (each counts as a removal)",
                      base_words="users")

    def writes(self, items: list[Indexed], current: Any = None, scope: Mapping[str, Any] | None = None) -> list[Write]:
        per_division: dict[str, list[Indexed]] = {}
        for item in items:
            per_division.setdefault(str(item[1]["division"]), []).append(item)
        writes = []
        for division, moving in per_division.items():
            user_of = {index: change["subject"] for index, change in moving}
            path = api_path("/api/v2/authorization/divisions/{}/objects/USER", division)
            for part in chunks(moving, USERS_PER_MOVE):
                writes.append(splittable("division_move", "POST", path, [[i] for i, _ in part],
                                         lambda parts, user_of=user_of: {"body": [user_of[p[0]] for p in parts]},
                                         "users"))
        return writes

    def prefetch(self, api: Any, records: list[Mapping[str, Any]], cache: dict[str, Any]) -> None:
        """Many users' divisions at once: the users listing filtered by id, 100 a request."""
        users = sorted({str(r["subject"]) for r in records})
        if len(users) < 4:
            return
        for part in chunks(users, BY_ID):
            found = {u: set() for u in part}
            for user in api.paginate("/api/v2/users", params={"id": ",".join(part), "pageSize": BY_ID,
                                                              "state": "any"}):
                division = (user.get("division") or {}).get("id")
                found[str(user["id"])] = {(str(division),)} if division else set()
            cache.update({f"division:{u}": held for u, held in found.items()})

    def read_back(self, api: Any, record: Mapping[str, Any], cache: dict[str, Any]) -> set[Target]:
        key = f"division:{record['subject']}"
        if key not in cache:
            body = api.request("GET", api_path("/api/v2/users/{}", record["subject"])) or {}
            division = (body.get("division") or {}).get("id")
            cache[key] = {(str(division),)} if division else set()
        return cache[key]


USER_DIVISION = register(UserDivision())
