"""RoutingApi: queues, a queue's members (read, add, remove), wrap-up codes (the model is ``org/routing.py``)
and the skill and language catalogues (``org/skills.py``; what users hold is ``user_routing.py``)."""

from __future__ import annotations

from typing import Any

from airflow_provider_genesys.testing.areas.calls import SEGMENT, Call, Context, Route, json_body
from airflow_provider_genesys.testing.areas.users import UserLookup
from airflow_provider_genesys.testing.errors import bad_request, not_found
from airflow_provider_genesys.testing.org.skills import LANGUAGE, SKILL
from airflow_provider_genesys.testing.paging import page_envelope

MAX_PAGE_SIZE = 100  # RoutingApi.get_routing_queue_members: "Max value is 100"; the house value elsewhere
MEMBERS_PER_WRITE = 100  # post_routing_queue_members: "Bulk add or delete up to 100 queue members" (SDK)
AUDIT_SERVICE, AUDIT_ENTITY = "Routing", "Queue"  # AuditLogMessage serviceName / entityType values


class RoutingApi:
    """``QueueEntityListing``, ``QueueMemberEntityListing`` and ``WrapupCodeEntityListing``."""

    def __init__(self, context: Context) -> None:
        self.routing = context.routing
        self.org = context.org
        self.writes = context.writes
        self.users = UserLookup(context)

    def routes(self) -> list[Route]:
        return [
            ("GET", "/api/v2/routing/queues", "/api/v2/routing/queues", self.list_queues),
            ("GET", f"/api/v2/routing/queues/{SEGMENT}/members", "/api/v2/routing/queues/{queueId}/members",
             self.queue_members),
            ("POST", f"/api/v2/routing/queues/{SEGMENT}/members", "/api/v2/routing/queues/{queueId}/members",
             self.change_queue_members),
            ("GET", "/api/v2/routing/wrapupcodes", "/api/v2/routing/wrapupcodes", self.list_wrapup_codes),
            ("GET", "/api/v2/routing/skills", "/api/v2/routing/skills", self.list_skills),
            ("GET", f"/api/v2/routing/skills/{SEGMENT}", "/api/v2/routing/skills/{skillId}", self.get_skill),
            ("GET", "/api/v2/routing/languages", "/api/v2/routing/languages", self.list_languages),
            ("GET", f"/api/v2/routing/languages/{SEGMENT}", "/api/v2/routing/languages/{languageId}",
             self.get_language),
        ]

    def list_queues(self, call: Call) -> tuple[int, Any]:
        items = range(len(self.routing.queue_ids))
        return 200, page_envelope(
            call.path, call.params, items, self.routing.render_queue, max_page_size=MAX_PAGE_SIZE
        )

    def _queue(self, queue_id: str) -> int:
        q = self.routing.queue_index.get(queue_id)
        if q is None:
            raise not_found(f"The queue {queue_id} was not found.")
        return q

    def queue_members(self, call: Call) -> tuple[int, Any]:
        q = self._queue(call.args[0])
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

    def change_queue_members(self, call: Call) -> tuple[int, Any]:
        """A list of ``WritableEntity`` (``{"id": userId}``, at most 100); ``?delete=true`` removes them. 204."""
        q = self._queue(call.args[0])
        delete = call.params.bool("delete", False)
        body = json_body(call)
        if not isinstance(body, list) or not body or not all(
            isinstance(m, dict) and isinstance(m.get("id"), str) and m["id"] for m in body
        ):
            raise bad_request('The request body must be a non-empty JSON list of members [{"id": "<userId>"}, ...].')
        if len(body) > MEMBERS_PER_WRITE:
            raise bad_request(f"Up to {MEMBERS_PER_WRITE} queue members can be changed per request; got {len(body)}.")
        users = self.users.all_known(list(dict.fromkeys(m["id"] for m in body)), "request")
        routing, org, queue_id = self.routing, self.org, call.args[0]
        action = "MemberRemove" if delete else "MemberAdd"

        def apply(now: float) -> None:
            with org._lock:
                for i in routing.change_members(q, users, add=not delete):
                    values = [org.user_id(i)]
                    change = {"property": "userId", "oldValues": values if delete else [],
                              "newValues": [] if delete else values}
                    org.record((now, AUDIT_SERVICE, AUDIT_ENTITY, action, queue_id, routing.queue_name(q), i,
                                [change]))

        self.writes.apply(apply)
        return 204, None

    # ---- the skill and language catalogues ---------------------------------------------------------
    def _catalogue(self, call: Call, kind: str, *, sortable: bool) -> tuple[int, Any]:
        """A catalogue by name: ``name`` keeps entries starting with it (case-insensitive), ``id`` a list."""
        catalogue = self.org.proficiencies.catalogues[kind]
        params = call.params
        order = sorted(catalogue.live(), key=lambda k: (catalogue.names[k].lower(), catalogue.ids[k]))
        name, ids = (params.get("name") or "").lower(), set(params.list("id"))
        if name:
            order = [k for k in order if catalogue.names[k].lower().startswith(name)]
        if ids:
            order = [k for k in order if catalogue.ids[k] in ids]
        if sortable and params.choice("sortOrder", "ASC", ("ASC", "DESC")) == "DESC":
            order = order[::-1]
        return 200, page_envelope(call.path, params, order, lambda k: self._render(kind, k),
                                  max_page_size=MAX_PAGE_SIZE)

    def _render(self, kind: str, k: int) -> dict[str, Any]:
        catalogue = self.org.proficiencies.catalogues[kind]
        return catalogue.render(k, self.org.division_ref(catalogue.division(k)) if kind == SKILL else None)

    def _entry(self, kind: str, entry_id: str) -> dict[str, Any]:
        k = self.org.proficiencies.catalogues[kind].index_of(entry_id)
        if k is None:
            raise not_found(f"The {kind} {entry_id} was not found.")
        return self._render(kind, k)

    def list_skills(self, call: Call) -> tuple[int, Any]:
        """``SkillEntityListing`` (the SDK's ``get_routing_skills`` takes no ``sortOrder``)."""
        return self._catalogue(call, SKILL, sortable=False)

    def get_skill(self, call: Call) -> tuple[int, Any]:
        return 200, self._entry(SKILL, call.args[0])

    def list_languages(self, call: Call) -> tuple[int, Any]:
        """``LanguageEntityListing``."""
        return self._catalogue(call, LANGUAGE, sortable=True)

    def get_language(self, call: Call) -> tuple[int, Any]:
        return 200, self._entry(LANGUAGE, call.args[0])
