"""Groups (``GET /api/v2/groups``) and their members (``GET /api/v2/groups/{id}/members``).

Members are a dataset of their own, one record per (group, user): a group can hold thousands of users,
and one record per membership streams in constant memory where a member list inside the group would not.
They come from the users listing with ``expand=groups`` when Genesys honours it, else from every group's
member listing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from airflow_provider_genesys.client import api_path
from airflow_provider_genesys.extract.fetch import PageFetcher
from airflow_provider_genesys.extract.plans.common import ExtractOptions
from airflow_provider_genesys.extract.plans.users import users_in_state

log = logging.getLogger(__name__)

GROUPS = "/api/v2/groups"
GROUP_MEMBERS = "/api/v2/groups/{}/members"


def groups(fetcher: PageFetcher, options: ExtractOptions) -> Iterator[dict]:
    """Genesys' ``Group`` records, as the listing returns them."""
    return fetcher.listing(GROUPS)


def group_members(fetcher: PageFetcher, options: ExtractOptions) -> Iterator[dict]:
    """``{"id": "<groupId>:<userId>", "groupId", "groupName", "userId", "userName"}`` per membership.

    Cheapest first: the users listing with ``expand=groups`` (one listing instead of one per group). Genesys
    resolves ``expand`` best effort, so that answer is used only if every user carries ``groups``;
    otherwise (nothing written yet) every group's member listing is read instead.
    """
    names = {group["id"]: group.get("name") for group in fetcher.listing(GROUPS)}
    if not names:
        return
    without = 0  # users the expand was dropped for
    for user in users_in_state(fetcher, "any", {"pageSize": 500, "expand": "groups"}):
        if user.get("state") == "deleted":
            continue  # deleted users are members of nothing
        if "groups" not in user:
            without += 1
            continue
        for group in user["groups"] or []:
            if group.get("id") in names:
                yield membership(group["id"], names[group["id"]], user)
    if not without:
        return
    log.info("%d users came back without the groups expand: reading the %d groups' member listings",
             without, len(names))
    endpoints = [api_path(GROUP_MEMBERS, group_id) for group_id in names]
    for group_id, (_, members) in zip(names, fetcher.each_listing(endpoints), strict=True):
        for user in members:
            yield membership(group_id, names[group_id], user)


def membership(group_id: str, group_name: str | None, user: dict) -> dict:
    return {"id": f"{group_id}:{user['id']}", "groupId": group_id, "groupName": group_name,
            "userId": user["id"], "userName": user.get("name")}
