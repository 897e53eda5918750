"""Reading the org's names and current state in bulk, through the extract's listings (no Airflow).

The same listings the extract reads, nothing per user where a listing serves: roles, divisions, groups,
users of every state (``id``, ``email``, ``state`` kept; a few dozen bytes each), then what the relation
needs: the grants listings (per division or per role, whichever is fewer) and group memberships for
``grants``; group memberships for ``group_members``; queues and their member listings for
``queue_members``. For ``user_state`` and ``group_members`` the grants listings (and group memberships) are
read too, into ``current.authz``: the admin guardrail must see a deactivation or a group removal that takes
away an admin role.
"""

from __future__ import annotations

from collections.abc import Iterator

from airflow_provider_genesys.access.errors import GenesysAccessError
from airflow_provider_genesys.access.names import Directory, NameIndex, UserIndex
from airflow_provider_genesys.access.state import CurrentState
from airflow_provider_genesys.exceptions import GenesysCloudApiError
from airflow_provider_genesys.extract.fetch import ApiClient, PageFetcher
from airflow_provider_genesys.extract.plans.authorization import DIVISIONS, ROLE_PARAMS, ROLES, grants
from airflow_provider_genesys.extract.plans.common import ExtractOptions
from airflow_provider_genesys.extract.plans.groups import GROUPS, group_members
from airflow_provider_genesys.extract.plans.routing import queues
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


def read_org(client: ApiClient, relation: str, *, user_key: str = "id_or_email",
             external_ids: dict[str, str] | None = None, max_workers: int = 4) -> tuple[Directory, CurrentState]:
    """The names a desired table may use, and the current state of ``relation``."""
    options = ExtractOptions(max_workers=max_workers)
    current = CurrentState(relation)
    with PageFetcher(client, max_workers=max_workers) as fetcher:
        roles = list(fetcher.listing(ROLES, ROLE_PARAMS))
        current.add_roles(roles)
        divisions = list(fetcher.listing(DIVISIONS))
        groups = list(fetcher.listing(GROUPS))
        current.versions.update({str(g["id"]): int(g["version"]) for g in groups if g.get("version") is not None})
        users = [{k: u.get(k) for k in USER_FIELDS} for u in users_in_state(fetcher, "any", {"pageSize": 500})]
        current.add_users(users)
        queue_list: list[dict] = []
        authz = current if relation == "grants" else None
        if relation in ("user_state", "group_members"):
            authz = current.authz = CurrentState("grants")
            authz.add_roles(roles)
            authz.add_users(users)
        if authz is not None:
            for record in grants(fetcher, options):
                authz.add_grant(record)
            for member in group_members(fetcher, options):  # one listing feeds both states
                authz.add_group_members([member])
                if relation == "group_members":
                    current.add_group_members([member])
        if relation == "queue_members":
            current.add_queue_members(_queue_lines(queues(fetcher, options), queue_list))
    directory = Directory(
        roles=NameIndex.of("role", roles), divisions=NameIndex.of("division", divisions),
        groups=NameIndex.of("group", groups), queues=NameIndex.of("queue", queue_list),
        users=UserIndex.of(users, user_key=user_key, external_ids=external_ids),
    )
    return directory, current


def _queue_lines(lines: Iterator[dict], queue_list: list[dict]) -> Iterator[dict]:
    """Member lines of the queues dataset; queue lines are kept (id and name) for the name index."""
    for line in lines:
        if line.get("recordType") == "queue":
            queue_list.append({"id": line["id"], "name": line.get("name")})
        else:
            yield line
