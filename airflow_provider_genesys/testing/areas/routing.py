"""RoutingApi: queues, a queue's members and wrap-up codes (the model is ``org/routing.py``)."""

from __future__ import annotations

from typing import Any

from airflow_provider_genesys.testing.areas.calls import SEGMENT, Call, Context, Route
from airflow_provider_genesys.testing.errors import not_found
from airflow_provider_genesys.testing.paging import page_envelope

MAX_PAGE_SIZE = 100  # RoutingApi.get_routing_queue_members: "Max value is 100"; the house value elsewhere


class RoutingApi:
    """``QueueEntityListing``, ``QueueMemberEntityListing`` and ``WrapupCodeEntityListing``."""

    def __init__(self, context: Context) -> None:
        self.routing = context.routing

    def routes(self) -> list[Route]:
        return [
            ("GET", "/api/v2/routing/queues", "/api/v2/routing/queues", self.list_queues),
            ("GET", f"/api/v2/routing/queues/{SEGMENT}/members", "/api/v2/routing/queues/{queueId}/members",
             self.queue_members),
            ("GET", "/api/v2/routing/wrapupcodes", "/api/v2/routing/wrapupcodes", self.list_wrapup_codes),
        ]

    def list_queues(self, call: Call) -> tuple[int, Any]:
        items = range(len(self.routing.queue_ids))
        return 200, page_envelope(
            call.path, call.params, items, self.routing.render_queue, max_page_size=MAX_PAGE_SIZE
        )

    def queue_members(self, call: Call) -> tuple[int, Any]:
        q = self.routing.queue_index.get(call.args[0])
        if q is None:
            raise not_found(f"The queue {call.args[0]} was not found.")
        envelope = page_envelope(
            call.path, call.params, self.routing.members(q), self.routing.render_member, max_page_size=MAX_PAGE_SIZE
        )
        # QueueMemberEntityListing has no total, pageCount or lastUri: clients follow nextUri.
        for name in ("total", "pageCount", "lastUri"):
            envelope.pop(name, None)
        return 200, envelope

    def list_wrapup_codes(self, call: Call) -> tuple[int, Any]:
        items = range(len(self.routing.wrapup_ids))
        return 200, page_envelope(
            call.path, call.params, items, self.routing.render_wrapup, max_page_size=MAX_PAGE_SIZE
        )
