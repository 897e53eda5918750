"""Ground truth of what a users-and-permissions extract and load must give, computed from the org alone
(independently of the extract plans and of the loader's SQL), for tests of either: grants, access, and who
holds which routing skill and language."""

from __future__ import annotations

from collections.abc import Iterator

from airflow_provider_genesys.testing.org import Org

SUBJECT_TYPES = {"PC_USER": "user", "PC_GROUP": "group", "PC_OAUTH_CLIENT": "oauth_client",
                 "PC_TRUSTEE_USER": "trustee_user", "PC_TRUSTEE_GROUP": "trustee_group"}


def holdings(org: Org, kind: str) -> list[tuple[str, str, float]]:
    """``(userId, skillId or languageId, proficiency)`` of every skill (``kind="skill"``) or language a user
    holds, as ``user_skills`` / ``user_languages`` records spell them (deleted users hold none)."""
    ids = org.proficiencies.catalogues[kind].ids
    return sorted((org.user_id(i), ids[k], level) for i in range(len(org.user_ids_by_index()))
                  for k, level in org.holdings(kind, i).items())


def grants(org: Org) -> list[tuple[str, str, str, str]]:
    """``(subjectId, subjectType, roleId, divisionId)`` of every grant, as grant records spell them."""
    return sorted((s, SUBJECT_TYPES[kind], r, d) for s, kind, r, d in org.iter_all_grants())


def access(org: Org) -> tuple[set[tuple], set[tuple]]:
    """(``access`` rows, ``oauth_client_access`` rows): user x role x division x (domain, entity, action,
    in_catalogue) x how (``direct`` or the group id), ``*`` expanded to every division."""
    catalogue = {
        (p["domain"], p["entityType"], p["action"])
        for collection in org.permissions
        for entries in collection["permissionMap"].values()
        for p in entries
    }
    policies = {
        role["id"]: [(pol["domain"], pol["entityName"], action)
                     for pol in role["permissionPolicies"] for action in pol["actionSet"]]
        for role in org.roles
    }
    every_division = [d["id"] for d in org.divisions]
    subjects = org.subjects
    members = {group.id: [org.user_id(i) for i in subjects.members(g)] for g, group in enumerate(subjects.groups)}
    users, clients = set(), set()

    def permissions(role: str) -> Iterator[tuple]:
        for want in policies[role]:
            matches = [p for p in catalogue if all(w in ("*", v) for w, v in zip(want, p, strict=True))]
            yield from ((*p, 1) for p in matches)
            if not matches:
                yield (*want, 0)

    for subject, kind, role, division in org.iter_all_grants():
        for one in every_division if division == "*" else [division]:
            for perm in permissions(role):
                if kind == "PC_USER":
                    users.add((subject, role, one, *perm, "direct"))
                elif kind == "PC_GROUP":
                    users.update((user, role, one, *perm, subject) for user in members[subject])
                elif kind == "PC_OAUTH_CLIENT":
                    clients.add((subject, role, one, *perm))
    return users, clients
