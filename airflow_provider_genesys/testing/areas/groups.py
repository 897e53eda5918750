"""GroupsApi: ``/api/v2/groups`` and a group's members (read, add with the group's version, remove), as
Genesys' SDK documents them."""

from __future__ import annotations

from typing import Any

from airflow_provider_genesys.testing.areas.calls import SEGMENT, Call, Context, Route, json_body
from airflow_provider_genesys.testing.areas.users import UserLookup, listing_expand
from airflow_provider_genesys.testing.errors import bad_request, not_found, stale_version
from airflow_provider_genesys.testing.paging import page_envelope

GROUPS_MAX_PAGE_SIZE = 100  # no published maximum; Genesys' Terraform provider pages groups by 100
MEMBERS_MAX_PAGE_SIZE = 100
MEMBERS_PER_WRITE = 50  # GroupMembersUpdate.memberIds and DELETE ids: "A maximum of 50 members" (SDK)
AUDIT_SERVICE, AUDIT_ENTITY = "Groups", "DirectoryGroup"  # AuditLogMessage serviceName / entityType values


class GroupsApi:
    """Groups (``GroupEntityListing``) and members (``UserEntityListing``) of the org's groups."""

    def __init__(self, context: Context) -> None:
        self.org = context.org
        self.settings = context.settings
        self.writes = context.writes
        self.users = UserLookup(context)

    def routes(self) -> list[Route]:
        return [
            ("GET", "/api/v2/groups", "/api/v2/groups", self.list_groups),
            ("GET", f"/api/v2/groups/{SEGMENT}", "/api/v2/groups/{groupId}", self.get_group),
            ("GET", f"/api/v2/groups/{SEGMENT}/members", "/api/v2/groups/{groupId}/members", self.members),
            ("POST", f"/api/v2/groups/{SEGMENT}/members", "/api/v2/groups/{groupId}/members", self.add_members),
            ("DELETE", f"/api/v2/groups/{SEGMENT}/members", "/api/v2/groups/{groupId}/members",
             self.remove_members),
        ]

    def _group(self, group_id: str) -> int:
        g = self.org.subjects.group_index.get(group_id)
        if g is None:
            raise not_found(f"The group {group_id} was not found.")
        return g

    def list_groups(self, call: Call) -> tuple[int, Any]:
        subjects = self.org.subjects
        order = sorted(range(len(subjects.groups)), key=lambda g: (subjects.groups[g].name, subjects.groups[g].id))
        ids = set(call.params.list("id"))
        if ids:
            order = [g for g in order if subjects.groups[g].id in ids]
        if call.params.choice("sortOrder", "ASC", ("ASC", "DESC")) == "DESC":
            order = order[::-1]
        return 200, page_envelope(
            call.path, call.params, order, subjects.render_group, max_page_size=GROUPS_MAX_PAGE_SIZE
        )

    def get_group(self, call: Call) -> tuple[int, Any]:
        return 200, self.org.subjects.render_group(self._group(call.args[0]))

    def members(self, call: Call) -> tuple[int, Any]:
        members = self.org.subjects.members(self._group(call.args[0]))
        if call.params.choice("sortOrder", "ASC", ("ASC", "DESC")) == "DESC":
            members = members[::-1]
        expand = listing_expand(call.params, self.settings, self.org.seed)
        return 200, page_envelope(
            call.path,
            call.params,
            members,
            lambda i: self.org.render_user(i, expand(i)),
            max_page_size=MEMBERS_MAX_PAGE_SIZE,
        )

    def _member_ids(self, ids: object, what: str) -> list[int]:
        if not isinstance(ids, list) or not ids or not all(isinstance(u, str) and u for u in ids):
            raise bad_request(f"{what} must be a non-empty list of user ids.")
        if len(ids) > MEMBERS_PER_WRITE:
            raise bad_request(f"A maximum of {MEMBERS_PER_WRITE} members are allowed per request; got {len(ids)}.")
        return self.users.all_known(list(dict.fromkeys(ids)), what)

    def _apply(self, group: int, users: list[int], add: bool) -> None:
        subjects, org = self.org.subjects, self.org
        action = "MemberAdd" if add else "MemberRemove"

        def apply(now: float) -> None:
            with org._lock:
                for i in subjects.change_members(group, users, add):
                    change = {"property": "userId", "oldValues": [], "newValues": [org.user_id(i)]}
                    if not add:
                        change = {**change, "oldValues": change["newValues"], "newValues": []}
                    org.record((now, AUDIT_SERVICE, AUDIT_ENTITY, action, subjects.groups[group].id,
                                subjects.groups[group].name, i, [change]))

        self.writes.apply(apply)

    def add_members(self, call: Call) -> tuple[int, Any]:
        """``GroupMembersUpdate`` (``memberIds``, the group's current ``version``): 202, empty object."""
        group = self._group(call.args[0])
        body = json_body(call)
        if not isinstance(body, dict):
            raise bad_request('The request body must be a JSON object {"memberIds": [...], "version": N}.')
        users = self._member_ids(body.get("memberIds"), "memberIds")
        version = body.get("version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise bad_request("version is required: the group's current version (GET the group first).")
        current = self.org.subjects.version(group)
        if version != current:
            raise stale_version(self.settings.version_conflict, f"group {call.args[0]}", version, current)
        self._apply(group, users, add=True)
        return 202, {}

    def remove_members(self, call: Call) -> tuple[int, Any]:
        """``?ids=a,b,...`` (at most 50): 202, empty object."""
        group = self._group(call.args[0])
        users = self._member_ids(call.params.list("ids"), "ids")
        self._apply(group, users, add=False)
        return 202, {}
