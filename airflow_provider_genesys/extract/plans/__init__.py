"""Dataset plans: which requests produce each dataset, chosen to need as few requests as possible.

A plan is a generator of records; it never holds a whole dataset in memory (only ids of roles,
divisions, groups, queues or OAuth clients, which are few). One module per API area, like Genesys' SDKs:
``users``, ``authorization``, ``groups``, ``oauth``, ``analytics`` (interval datasets through details
jobs), ``routing`` and ``skills`` (routing skills and languages, and who holds them). ``PLANS`` is the
one registry: a new dataset is one entry here, and what the docs and the README say about the datasets is
generated from it (:func:`markdown_table`, :func:`dataset_list`; ``tests/unit/test_docs_tables.py`` fails
when a doc and this table disagree). See docs/operators.md for the reasoning behind each plan.
"""

from __future__ import annotations

from dataclasses import dataclass

from airflow_provider_genesys.extract.plans import analytics, authorization, groups, oauth, routing, skills, users
from airflow_provider_genesys.extract.plans.common import USER_STATES, ExtractOptions, Plan


@dataclass(frozen=True)
class Dataset:
    """One dataset: its plan, and what docs/operators.md says about it (markdown, generated from here)."""

    plan: Plan
    requests: str  # the requests that produce it
    record: str  # what one NDJSON line holds
    snapshot: bool = False  # read from one asynchronous job's results (see SNAPSHOT_DATASETS)


PLANS: dict[str, Dataset] = {
    "users": Dataset(
        users.users, "`GET /api/v2/users` (page size 500); past 10,000 users see below",
        "Genesys' `User`, as the listing returns it (with the requested `expand`s)",
    ),
    "roles": Dataset(
        authorization.roles, "`GET /api/v2/authorization/roles?userCount=false` (the count is slow and unused)",
        "`DomainOrganizationRole` incl. `permissionPolicies`",
    ),
    "permissions": Dataset(
        authorization.permissions, "`GET /api/v2/authorization/permissions`",
        "one permission collection per domain: `{id, name, domain, permissionMap: {entityType: [{domain, "
        "entityType, action, label, allowsConditions, divisionAware}]}}`",
    ),
    "divisions": Dataset(
        authorization.divisions, "`GET /api/v2/authorization/divisions`",
        "`AuthzDivision` `{id, name, description, homeDivision, selfUri}`",
    ),
    "grants": Dataset(
        authorization.grants, "see below",
        '`{"id": "<subjectId>:<roleId>:<divisionId>", "subjectId", "subjectType", "userId" (user subjects '
        'only), "roleId", "roleName", "divisionId", "divisionName", "grantMadeAt"}`',
    ),
    "groups": Dataset(
        groups.groups, "`GET /api/v2/groups` (page size 100)",
        "Genesys' `Group` `{id, name, description, memberCount, state, type, visibility, ...}`",
    ),
    "group_members": Dataset(
        groups.group_members,
        "`GET /api/v2/users?expand=groups`; if Genesys drops that expand, `GET /api/v2/groups/{id}/members` "
        "per group",
        '`{"id": "<groupId>:<userId>", "groupId", "groupName", "userId", "userName"}`, one per membership (a '
        "member list inside each group record would grow with the group; this streams)",
    ),
    "oauth_clients": Dataset(
        oauth.oauth_clients, "`GET /api/v2/oauth/clients`",
        "Genesys' `OAuthClient` `{id, name, authorizedGrantType, state, roleDivisions: [{roleId, divisionId}], "
        "roleIds, scope, ...}` **without any field whose name contains `secret`** (Genesys' model has "
        "`secret`): it is never written",
    ),
    "conversations": Dataset(
        analytics.conversations, "analytics conversation details job for the interval (see below)",
        "Genesys' `AnalyticsConversation` (participants, sessions, segments, metrics) plus `\"id\"` = "
        "`conversationId`; only conversations that **started** in `[start, end)`",
        snapshot=True,
    ),
    "user_presence": Dataset(
        analytics.user_presence, "analytics user details job for the interval",
        "`AnalyticsUserDetail` (`userId`, `primaryPresence`, `routingStatus`: the records overlapping the "
        "interval) plus `\"id\"` = `<userId>/<interval>` and `\"interval\"`",
        snapshot=True,
    ),
    "queues": Dataset(
        routing.queues,
        "`GET /api/v2/routing/queues`, then `GET /api/v2/routing/queues/{id}/members` per queue (page size "
        "100, the documented maximum)",
        'two kinds of lines, by `recordType`: `"queue"` lines are Genesys\' `Queue`; then `"member"` lines '
        '`{"recordType": "member", "id": "<queueId>/<userId>", "queueId", "member": <QueueMember>}`',
    ),
    "wrapup_codes": Dataset(routing.wrapup_codes, "`GET /api/v2/routing/wrapupcodes`", "Genesys' `WrapupCode`"),
    "skills": Dataset(skills.skills, "`GET /api/v2/routing/skills`", "Genesys' `RoutingSkill` `{id, name, division, "
                      "state, version, ...}`"),
    "languages": Dataset(skills.languages, "`GET /api/v2/routing/languages`", "Genesys' `Language` `{id, name, "
                         "state, version, ...}`"),
    "user_skills": Dataset(
        skills.user_skills,
        "`GET /api/v2/users?expand=skills` (page size 500, active and inactive users); for each user that comes "
        "back without `skills` (Genesys resolves expands best effort), `GET /api/v2/users/{id}/routingskills`",
        '`{"id": "<userId>:<skillId>", "userId", "userName", "skillId", "skillName", "proficiency", "state"}`, '
        "one per skill a user holds (`proficiency` a number 0-5, `state` the assignment's: `active`, `inactive`)",
    ),
    "user_languages": Dataset(
        skills.user_languages,
        "`GET /api/v2/users?expand=languages` (page size 500, active and inactive users); for each user that "
        "comes back without `languages`, `GET /api/v2/users/{id}/routinglanguages`",
        '`{"id": "<userId>:<languageId>", "userId", "userName", "languageId", "languageName", "proficiency", '
        '"state"}`, one per language a user holds',
    ),
}
DATASETS = tuple(PLANS)
# Datasets read from one asynchronous job's results: the job answers for a closed interval, a snapshot that
# paging cannot shift, so they are read once (a second pass would submit a second job for nothing).
SNAPSHOT_DATASETS = frozenset(name for name, dataset in PLANS.items() if dataset.snapshot)
# The datasets that take an interval: today exactly those read from one analytics job's results.
INTERVAL_DATASETS = tuple(name for name in PLANS if name in SNAPSHOT_DATASETS)


def unknown_dataset_message(dataset: str) -> str:
    """What the operator (at parse time) and the engine say about a dataset name that is not in PLANS."""
    return f"dataset {dataset!r} is not supported; use one of: {', '.join(DATASETS)}."


def markdown_table() -> str:
    """The "Datasets and record shapes" table of docs/operators.md."""
    lines = ["| dataset | requests | one record |", "|---|---|---|"]
    lines += [f"| `{name}` | {dataset.requests} | {dataset.record} |" for name, dataset in PLANS.items()]
    return "\n".join(lines)


def dataset_list() -> str:
    """Every dataset name in prose, for the READMEs: ```users`, `roles`, ... and `wrapup_codes```."""
    names = [f"`{name}`" for name in PLANS]
    return f"{', '.join(names[:-1])} and {names[-1]}"


__all__ = [
    "DATASETS",
    "INTERVAL_DATASETS",
    "PLANS",
    "SNAPSHOT_DATASETS",
    "USER_STATES",
    "Dataset",
    "ExtractOptions",
    "Plan",
    "dataset_list",
    "markdown_table",
    "unknown_dataset_message",
]
