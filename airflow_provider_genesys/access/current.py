"""Reading the org's names and current state in bulk, through the extract's listings (no Airflow).

The same listings the extract reads, nothing per user where a listing serves: roles, divisions, groups,
users of every state (``id``, ``email``, ``state`` kept; a few dozen bytes each), then what the relation
needs, which its module reads (``Relation.read``) through an :class:`OrgReader`: the grants listings (per
division or per role, whichever is fewer) and group memberships for ``grants``; queues and their member
listings for ``queue_members``; and so on. A relation whose changes can take an admin role away
(``needs_authz``: ``user_state``, ``group_members``) gets the grants model too, in ``current.authz``: the
admin guardrail must see a deactivation or a group removal that does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_genesys.access.errors import GenesysAccessError
from airflow_provider_genesys.access.names import Directory, NameIndex, UserIndex
from airflow_provider_genesys.access.registry import relation as relation_named
from airflow_provider_genesys.access.state import CurrentState
from airflow_provider_genesys.exceptions import GenesysCloudApiError
from airflow_provider_genesys.extract.fetch import ApiClient, PageFetcher
from airflow_provider_genesys.extract.plans.authorization import DIVISIONS, ROLE_PARAMS, ROLES, grants
from airflow_provider_genesys.extract.plans.common import ExtractOptions
from airflow_provider_genesys.extract.plans.groups import GROUPS, group_members
from airflow_provider_genesys.extract.plans.users import users_in_state

USER_FIELDS = ("id", "email", "username", "state", "name", "version")
# GET /api/v2/users/me "is not valid when using the Client Credentials OAuth grant" (SDK UsersApi.get_users_me);
# Genesys does not publish the status: these answers mean "a token without a user", any other still fails
NO_TOKEN_USER = (400, 403, 404)


def token_user(client: ApiClient, grant_type: str) -> tuple[str | None, str]:
    """The id of the user behind the connection's token (``None`` for a client's token), and how it was found.

    Client credentials never ask. Other grants (SAML2 bearer, refresh token, a pre-issued access token, which
    may be a client's) ask ``GET /api/v2/users/me``; 400, 403 or 404 mean the token has no user.
    """
    if grant_type == "client_credentials":
        return None, "a client-credentials token has no user"
    try:
        me = client.request("GET", "/api/v2/users/me")
    except GenesysCloudApiError as err:
        if err.status in NO_TOKEN_USER:
            return None, (f"GET /api/v2/users/me answered {err.status} {err.code or ''}".rstrip()
                          + ": the token has no user (a client's token)")
        raise
    user_id = me.get("id") if isinstance(me, dict) else None
    if not user_id:
        raise GenesysAccessError("GET /api/v2/users/me answered without a user id: the user behind the "
                                 "connection's token cannot be protected; check the connection's grant")
    return str(user_id), f"the token is the user {me.get('email') or me.get('name') or user_id}'s"


@dataclass
class OrgReader:
    """What a relation's ``read`` may use: the open page fetcher, the extract options, the roles and users
    already read, and where to put name indexes of its own (``indexes``: Directory attribute -> index)."""

    fetcher: PageFetcher
    options: ExtractOptions
    roles: list[dict[str, Any]]
    users: list[dict[str, Any]]
    indexes: dict[str, NameIndex] = field(default_factory=dict)

    def read_authz(self, authz: CurrentState | None, also: CurrentState | None = None) -> None:
        """The org's direct grants and group memberships into ``authz`` (memberships into ``also`` too: one
        listing feeds both)."""
        if authz is None:
            return
        for record in grants(self.fetcher, self.options):
            authz.add_grant(record)
        for member in group_members(self.fetcher, self.options):
            authz.add_group_members([member])
            if also is not None:
                also.add_group_members([member])


def read_org(client: ApiClient, relation: str, *, user_key: str = "id_or_email",
             external_ids: Mapping[str, str] | None = None, max_workers: int = 4) -> tuple[Directory, CurrentState]:
    """The names a desired table may use, and the current state of ``relation``."""
    spec = relation_named(relation)
    options = ExtractOptions(max_workers=max_workers)
    current = CurrentState(relation)
    with PageFetcher(client, max_workers=max_workers) as fetcher:
        roles = list(fetcher.listing(ROLES, ROLE_PARAMS))
        current.add_roles(roles)
        divisions = list(fetcher.listing(DIVISIONS))
        groups = list(fetcher.listing(GROUPS))
        current.versions.update({str(g["id"]): int(g["version"]) for g in groups if g.get("version") is not None})
        params = {"pageSize": 500, **({"expand": spec.user_expand} if spec.user_expand else {})}
        users = [{**{k: u.get(k) for k in USER_FIELDS}, **spec.user_extra(u)}
                 for u in users_in_state(fetcher, "any", params)]
        current.add_users(users)
        if spec.needs_authz:
            current.authz = CurrentState("grants")
            current.authz.add_roles(roles)
            current.authz.add_users(users)
        org = OrgReader(fetcher, options, roles, users)
        spec.read(org, current)
    more = dict(org.indexes)
    queue_index = more.pop("queues", NameIndex("queue"))
    directory = Directory(
        roles=NameIndex.of("role", roles), divisions=NameIndex.of("division", divisions),
        groups=NameIndex.of("group", groups), queues=queue_index,
        users=UserIndex.of(users, user_key=user_key, external_ids=external_ids), more=more,
    )
    return directory, current
