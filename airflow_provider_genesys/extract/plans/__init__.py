"""Dataset plans: which requests produce each dataset, chosen to need as few requests as possible.

A plan is a generator of records; it never holds a whole dataset in memory (only ids of roles,
divisions, groups or OAuth clients, which are few). One module per API area, like Genesys' SDKs:
``users``, ``authorization``, ``groups``, ``oauth`` here; ``extract/analytics.py`` and
``extract/routing.py`` for the analytics and routing datasets. ``PLANS`` is the one registry: a new dataset is one
line here. See docs/operators.md for the reasoning behind each plan.
"""

from __future__ import annotations

from airflow_provider_genesys.extract.analytics import ANALYTICS_PLANS
from airflow_provider_genesys.extract.plans import authorization, groups, oauth, users
from airflow_provider_genesys.extract.plans.common import USER_STATES, ExtractOptions, Plan
from airflow_provider_genesys.extract.routing import ROUTING_PLANS

PLANS: dict[str, Plan] = {
    "users": users.users,
    "roles": authorization.roles,
    "permissions": authorization.permissions,
    "divisions": authorization.divisions,
    "grants": authorization.grants,
    "groups": groups.groups,
    "group_members": groups.group_members,
    "oauth_clients": oauth.oauth_clients,
    **ANALYTICS_PLANS,  # conversations, user_presence (extract/analytics.py)
    **ROUTING_PLANS,  # queues, wrapup_codes (extract/routing.py)
}
DATASETS = tuple(PLANS)
# Datasets read from one asynchronous job's results: the job answers for a closed interval, a snapshot that
# paging cannot shift, so they are read once (a second pass would submit a second job for nothing).
SNAPSHOT_DATASETS = frozenset(ANALYTICS_PLANS)

__all__ = ["DATASETS", "PLANS", "SNAPSHOT_DATASETS", "USER_STATES", "ExtractOptions", "Plan"]
