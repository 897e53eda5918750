"""``group_members``: which users are members of which groups.

Desired table: ``group``, ``user``. Memberships come from the group member listings (the same listing feeds
the org's grants model, so the admin guardrail sees a removal that takes an admin role away from someone
through the group). Writes (SDK ``GroupsApi``, model ``GroupMembersUpdate``): ``POST
/api/v2/groups/{id}/members`` with ``memberIds`` and the group's current ``version``, ``DELETE
/api/v2/groups/{id}/members?ids=...``, at most 50 ids per call each.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_genesys.access.registry import register
from airflow_provider_genesys.access.relations.base import AdminEffect, Columns
from airflow_provider_genesys.access.relations.membership import Membership
from airflow_provider_genesys.access.writes import Write, splittable
from airflow_provider_genesys.client import api_path

GROUP_MEMBERS_PER_CALL = 50  # SDK model GroupMembersUpdate: at most 50 member ids per request


class GroupMembers(Membership):
    name = "group_members"
    holder = "group"
    columns = Columns(("group", "user"))
    target_fields = ("group",)
    named_fields = ("group",)
    scope_word = "group"
    managed_kind = "groups"
    held_word = "group memberships"
    needs_authz = True
    members_path = "/api/v2/groups/{}/members"
    per_call = GROUP_MEMBERS_PER_CALL
    field_kinds = {"group": "groups"}
    permissions = {"group_add": "directory:group:edit", "group_remove": "directory:group:edit"}

    def hold_member(self, current: Any, group_id: str, user_id: str) -> bool:
        current.hold(user_id, "user", (group_id,))
        return True

    def read(self, org: Any, current: Any) -> None:
        org.read_authz(current.authz, also=current)

    def write(self, holder: str, action: str, parts: list[list[Any]], user_of: Mapping[Any, str]) -> Write:
        path = api_path("/api/v2/groups/{}/members", holder)
        if action == "remove":
            return splittable("group_remove", "DELETE", path, parts, lambda ps: {
                "params": {"ids": ",".join(user_of[p[0]] for p in ps)}}, "members")
        return splittable("group_add", "POST", path, parts, lambda ps: {
            "body": {"memberIds": [user_of[p[0]] for p in ps]}}, "members", versioned=holder,
            version_path=api_path("/api/v2/groups/{}", holder))

    def admin_effect(self, diff: Any, authz: Any) -> AdminEffect | None:
        """Removing members of a group that holds an admin role takes it away from them."""
        roles = set(authz.admin_roles) if diff.count("remove") else set()
        effect = AdminEffect(roles)
        admin_groups = {s for s, kind in authz.subject_types.items()
                        if kind == "group" and any(t[0] in roles for t in authz.held.get(s, ()))}
        for change in diff.changes_on(admin_groups):
            member_of = effect.groups_after.setdefault(change.subject,
                                                       set(authz.user_groups.get(change.subject, ())))
            if change.action == "remove":
                member_of.discard(change.target[0])
            else:
                member_of.add(change.target[0])
        return effect


GROUP_MEMBERS = register(GroupMembers())
