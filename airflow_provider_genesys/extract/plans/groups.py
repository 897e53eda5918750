"""Groups (``GET /api/v2/groups``) and their members (``GET /api/v2/groups/{id}/members``).

Members are a dataset of their own, one record per (group, user): a group can hold thousands of users,
and one record per membership streams in constant memory where a member list inside the group would not.
"""

from __future__ import annotations

from collections.abc import Iterator

from airflow_provider_genesys.client import api_path
from airflow_provider_genesys.extract.fetch import PageFetcher
from airflow_provider_genesys.extract.plans.common import ExtractOptions

GROUPS = "/api/v2/groups"
GROUP_MEMBERS = "/api/v2/groups/{}/members"


def groups(fetcher: PageFetcher, options: ExtractOptions) -> Iterator[dict]:
    """Genesys' ``Group`` records, as the listing returns them."""
    return fetcher.listing(GROUPS)


def group_members(fetcher: PageFetcher, options: ExtractOptions) -> Iterator[dict]:
    """``{"id": "<groupId>:<userId>", "groupId", "groupName", "userId", "userName"}`` per membership."""
    names = {group["id"]: group.get("name") for group in fetcher.listing(GROUPS)}
    endpoints = [api_path(GROUP_MEMBERS, group_id) for group_id in names]
    for group_id, (_, members) in zip(names, fetcher.each_listing(endpoints), strict=True):
        for user in members:
            yield {
                "id": f"{group_id}:{user['id']}",
                "groupId": group_id,
                "groupName": names[group_id],
                "userId": user["id"],
                "userName": user.get("name"),
            }
