"""A small org for the access engine's tests: its directory (names) and current state, from API shapes."""

from __future__ import annotations

from airflow_provider_genesys.access.names import Directory, NameIndex, UserIndex
from airflow_provider_genesys.access.state import CurrentState

ORG = "org-1"
ROLES = [
    {"id": "r-sup", "name": "Supervisor", "permissionPolicies": [{"domain": "routing", "entityName": "queue",
                                                                   "actionSet": ["view"]}]},
    {"id": "r-qe", "name": "Quality Evaluator"},
    {"id": "r-emp", "name": "Employee"},
    {"id": "r-admin", "name": "Master Admin", "permissionPolicies": [{"domain": "*", "entityName": "*",
                                                                       "actionSet": ["*"]}]},
]
DIVISIONS = [{"id": "d-home", "name": "Home"}, {"id": "d-sales", "name": "Sales"},
             {"id": "d-support", "name": "Support"}]
GROUPS = [{"id": "g-leads", "name": "Team Leads"}, {"id": "g-night", "name": "Night Shift"}]
QUEUES = [{"id": "q-billing", "name": "Billing"}, {"id": "q-tech", "name": "Tech"}]


def uid(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


USERS = [
    {"id": uid(1), "email": "ann@example.com", "state": "active", "name": "Ann"},
    {"id": uid(2), "email": "bob@example.com", "state": "active", "name": "Bob"},
    {"id": uid(3), "email": "cat@example.com", "state": "inactive", "name": "Cat"},
    {"id": uid(4), "email": "dan@example.com", "state": "deleted", "name": "Dan"},
    {"id": uid(5), "email": "eve@example.com", "state": "active", "name": "Eve"},
    {"id": uid(6), "email": "fay@example.com", "state": "active", "name": "Fay"},
]
ANN, BOB, CAT, DAN, EVE, FAY = (u["id"] for u in USERS)
CLIENT = "client-1"


def directory(users=USERS, divisions=DIVISIONS, **user_args) -> Directory:
    return Directory(
        roles=NameIndex.of("role", ROLES), divisions=NameIndex.of("division", divisions),
        groups=NameIndex.of("group", GROUPS), queues=NameIndex.of("queue", QUEUES),
        users=UserIndex.of(users, **user_args),
    )


def grants_state(grants=None, members=None, users=USERS) -> CurrentState:
    """Ann: Supervisor on Sales, Employee on Home; Bob: Quality Evaluator on *; Eve and Fay: Master Admin;
    group Team Leads (members Bob) holds Supervisor on Support; the OAuth client holds Supervisor on Home."""
    state = CurrentState("grants")
    state.add_users(users)
    state.add_roles(ROLES)
    default = [
        (ANN, "user", "r-sup", "d-sales"), (ANN, "user", "r-emp", "d-home"), (BOB, "user", "r-qe", "*"),
        (EVE, "user", "r-admin", "*"), (FAY, "user", "r-admin", "*"), ("g-leads", "group", "r-sup", "d-support"),
        (CLIENT, "oauth_client", "r-sup", "d-home"),
    ]
    for subject, kind, role, division in default if grants is None else grants:
        state.add_grant({"subjectId": subject, "subjectType": kind, "roleId": role, "divisionId": division})
    state.add_group_members(
        [{"groupId": "g-leads", "userId": BOB}] if members is None else members)
    return state
