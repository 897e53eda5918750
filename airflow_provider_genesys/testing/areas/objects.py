"""ObjectsApi: moving objects to a division (``post_authorization_division_object`` in the SDK).

"Set the division of a specified list of objects. The objects must all be of the same type, one of:
CAMPAIGN, MANAGEMENTUNIT, FLOW, QUEUE, DATATABLES or USER. The body of the request is a list of object IDs"
(SDK ``ObjectsApi``). The emulator moves users (``Org.move_users``); the other types answer 400 naming
what it supports. Genesys publishes no per-call maximum: ``division_move_max`` sets one (default none).
"""

from __future__ import annotations

from typing import Any

from airflow_provider_genesys.testing.areas.calls import SEGMENT, Call, Context, Route, json_body
from airflow_provider_genesys.testing.areas.users import UserLookup
from airflow_provider_genesys.testing.errors import bad_request, not_found

OBJECT_TYPES = ("CAMPAIGN", "MANAGEMENTUNIT", "FLOW", "QUEUE", "DATATABLES", "USER")
EMULATED_TYPES = ("USER",)


class ObjectsApi:
    """``POST /api/v2/authorization/divisions/{divisionId}/objects/{objectType}``."""

    def __init__(self, context: Context) -> None:
        self.org = context.org
        self.settings = context.settings
        self.writes = context.writes
        self.users = UserLookup(context)

    def routes(self) -> list[Route]:
        return [
            ("POST", f"/api/v2/authorization/divisions/{SEGMENT}/objects/{SEGMENT}",
             "/api/v2/authorization/divisions/{divisionId}/objects/{objectType}", self.move),
        ]

    def move(self, call: Call) -> tuple[int, Any]:
        """A JSON list of object ids, all of ``objectType``: 204; every id is moved or none is."""
        division_id, object_type = call.args
        division = self.org.division_index(division_id)
        if division is None or division < 0:
            raise not_found(f"The division {division_id} was not found.")
        if object_type not in OBJECT_TYPES:
            raise bad_request(f"objectType must be one of {', '.join(OBJECT_TYPES)}; got {object_type!r}.")
        if object_type not in EMULATED_TYPES:
            raise bad_request(f"The emulator moves {', '.join(EMULATED_TYPES)} objects only; got {object_type}.")
        body = json_body(call)
        if not isinstance(body, list) or not body or not all(isinstance(u, str) and u for u in body):
            raise bad_request('The request body must be a non-empty JSON list of object ids, e.g. ["<userId>"].')
        limit = self.settings.division_move_max
        if limit is not None and len(body) > limit:
            raise bad_request(f"A maximum of {limit} objects can be moved per request; got {len(body)}.")
        users = self.users.all_known(list(dict.fromkeys(body)), "request")
        org = self.org
        self.writes.apply(lambda now: org.move_users(users, division, now))
        return 204, None
