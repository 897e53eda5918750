"""GroupsApi: ``/api/v2/groups`` and a group's members, as Genesys' SDK documents them."""

from __future__ import annotations

from typing import Any

from airflow_provider_genesys.testing.areas.calls import SEGMENT, Call, Context, Route
from airflow_provider_genesys.testing.areas.users import expand_of
from airflow_provider_genesys.testing.errors import not_found
from airflow_provider_genesys.testing.paging import page_envelope

GROUPS_MAX_PAGE_SIZE = 100  # no published maximum; Genesys' Terraform provider pages groups by 100
MEMBERS_MAX_PAGE_SIZE = 100


class GroupsApi:
    """Groups (``GroupEntityListing``) and members (``UserEntityListing``) of the org's groups."""

    def __init__(self, context: Context) -> None:
        self.org = context.org
        self.settings = context.settings

    def routes(self) -> list[Route]:
        return [
            ("GET", "/api/v2/groups", "/api/v2/groups", self.list_groups),
            ("GET", f"/api/v2/groups/{SEGMENT}", "/api/v2/groups/{groupId}", self.get_group),
            ("GET", f"/api/v2/groups/{SEGMENT}/members", "/api/v2/groups/{groupId}/members", self.members),
        ]

    def _group(self, group_id: str) -> int:
        for g, subject in enumerate(self.org.subjects.groups):
            if subject.id == group_id:
                return g
        raise not_found(f"The group {group_id} was not found.")

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
        expand = expand_of(call.params, self.settings)
        return 200, page_envelope(
            call.path,
            call.params,
            members,
            lambda i: self.org.render_user(i, expand),
            max_page_size=MEMBERS_MAX_PAGE_SIZE,
        )
