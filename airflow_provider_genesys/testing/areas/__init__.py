"""The Platform API areas the emulator serves, one module each, as Genesys' SDKs split them.

    calls.py          what every area shares: Context (what it is built from), Call, Route, json_body
    router.py         the route table: 404 for an unknown path, 405 for another method
    users.py          UsersApi          /api/v2/users, /users/query, /users/{id}
    user_routing.py   UsersApi          a user's routing skills and languages, their writes
    authorization.py  AuthorizationApi  roles, permissions, divisions, subjects, /users/{id}/roles, grant writes
    groups.py         GroupsApi         /api/v2/groups, a group's members
    oauth.py          OAuthApi          /api/v2/oauth/clients
    organization.py   OrganizationApi   /api/v2/organizations/me, /api/v2/tokens/me
    audits.py         AuditsApi         the asynchronous audit query
    routing.py        RoutingApi        queues, queue members, wrap-up codes, skill and language catalogues
    objects.py        ObjectsApi        moving users to a division
    analytics.py      AnalyticsApi      analytics details jobs and data availability

To add an area: a module with a class built from a ``Context`` whose ``routes()`` returns its rows, and one
line in :data:`AREAS`. To add an endpoint to an area: one row in its ``routes()`` and its handler. The
data the areas serve is the generated org (``testing/org/``); the options they read are ``testing/options.py``.
"""

from __future__ import annotations

from airflow_provider_genesys.testing.areas.analytics import AnalyticsApi
from airflow_provider_genesys.testing.areas.audits import AuditsApi
from airflow_provider_genesys.testing.areas.authorization import AuthorizationApi
from airflow_provider_genesys.testing.areas.calls import Area, Context
from airflow_provider_genesys.testing.areas.groups import GroupsApi
from airflow_provider_genesys.testing.areas.oauth import OAuthApi
from airflow_provider_genesys.testing.areas.objects import ObjectsApi
from airflow_provider_genesys.testing.areas.organization import OrganizationApi
from airflow_provider_genesys.testing.areas.router import Router
from airflow_provider_genesys.testing.areas.routing import RoutingApi
from airflow_provider_genesys.testing.areas.user_routing import UserRoutingApi
from airflow_provider_genesys.testing.areas.users import UsersApi

# Every area, one line each; their routes are tried in this order.
AREAS: tuple[type[Area], ...] = (
    UsersApi,
    AuthorizationApi,
    GroupsApi,
    OAuthApi,
    OrganizationApi,
    AuditsApi,
    RoutingApi,
    AnalyticsApi,
    UserRoutingApi,
    ObjectsApi,
)

__all__ = ["AREAS", "Area", "Context", "Router", "build_areas"]


def build_areas(context: Context) -> tuple[dict[type[Area], Area], Router]:
    """Every area built over one emulator's context, by class, and the router over their routes."""
    areas = {area: area(context) for area in AREAS}
    return areas, Router([route for area in areas.values() for route in area.routes()])
