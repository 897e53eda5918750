"""``queue_members``: which users are members of which routing queues.

Desired table: ``queue``, ``user``. Queues and their members come from the ``queues`` extract dataset's
listings (queue lines give the names, member lines the memberships; inactive users are not listed as
members). Writes (SDK ``RoutingApi.post_routing_queue_members``: "Bulk add or delete up to 100 queue
members"): ``POST /api/v2/routing/queues/{id}/members`` with a list of ``{"id"}``, ``?delete=true`` to remove.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from airflow_provider_genesys.access.names import NameIndex
from airflow_provider_genesys.access.registry import register
from airflow_provider_genesys.access.relations.base import Columns
from airflow_provider_genesys.access.relations.membership import Membership
from airflow_provider_genesys.access.writes import Write, splittable
from airflow_provider_genesys.client import api_path
from airflow_provider_genesys.extract.plans.routing import queues

QUEUE_MEMBERS_PER_CALL = 100  # SDK RoutingApi docs: up to 100 members per call


class QueueMembers(Membership):
    name = "queue_members"
    holder = "queue"
    columns = Columns(("queue", "user"))
    target_fields = ("queue",)
    named_fields = ("queue",)
    scope_word = "queue"
    managed_kind = "queues"
    held_word = "queue memberships"
    members_path = "/api/v2/routing/queues/{}/members"
    per_call = QUEUE_MEMBERS_PER_CALL
    field_kinds = {"queue": "queues"}
    permissions = {"queue_add": "routing:queue:edit", "queue_remove": "routing:queue:edit"}

    def read(self, org: Any, current: Any) -> None:
        queue_list: list[dict[str, Any]] = []
        add_queue_members(current, _queue_lines(queues(org.fetcher, org.options), queue_list))
        org.indexes["queues"] = NameIndex.of("queue", queue_list)

    def write(self, holder: str, action: str, parts: list[list[Any]], user_of: Mapping[Any, str]) -> Write:
        return splittable(f"queue_{action}", "POST", api_path("/api/v2/routing/queues/{}/members", holder), parts,
                          lambda ps: {"body": [{"id": user_of[p[0]]} for p in ps]}, "members",
                          params={"delete": "true"} if action == "remove" else {})


def add_queue_members(current: Any, records: Iterator[Mapping[str, Any]]) -> None:
    """Extract ``queues`` member lines (``queueId``, ``member{id}``) or ``{"queueId", "userId"}``."""
    for record in records:
        if record.get("recordType", "member") != "member":
            continue
        user_id = record.get("userId") or (record.get("member") or {}).get("id")
        current.hold(str(user_id), "user", (str(record["queueId"]),))


def _queue_lines(lines: Iterator[dict], queue_list: list[dict]) -> Iterator[dict]:
    """Member lines of the queues dataset; queue lines are kept (id and name) for the name index."""
    for line in lines:
        if line.get("recordType") == "queue":
            queue_list.append({"id": line["id"], "name": line.get("name")})
        else:
            yield line


QUEUE_MEMBERS = register(QueueMembers())
