"""The users-and-permissions tables: the extract's NDJSON files loaded as one set, and the access tables.

``load_extracts`` replaces every table here at once (``replace_tables`` in ``loaders/database.py``), so a
reader sees the previous load or the new one, never a mix, and a rerun replaces rather than appends.

``skills``, ``languages``, ``user_skills`` and ``user_languages`` (who holds which routing skill and
language, with its proficiency) are part of the set when their four files are given (``ROUTING_DATASETS``);
without them those tables are left as they are.

``effective_grants`` is who holds which role in which division: every grant, a group's grants once per
member (``via`` the group id, else ``direct``), and a ``*`` grant once per division. ``access`` is user x
role x division x permission from it, ``oauth_client_access`` the same for OAuth clients: each effective
grant joined with its role's permission policies, with ``*`` in a policy's domain, entity or action
expanded against the permission catalogue. A policy that matches nothing in the catalogue is kept
literally (``in_catalogue = 0``), so no granted permission silently disappears.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from airflow_provider_genesys.extract.writer import StoragePath, iter_ndjson
from airflow_provider_genesys.loaders.database import KEY, column_count, insert_rows, replace_tables

TABLES: dict[str, tuple[str, ...]] = {
    "users": (f"id {KEY} PRIMARY KEY", "name TEXT", "email TEXT", "username TEXT", "state TEXT", "title TEXT",
              "department TEXT", f"division_id {KEY}", f"manager_id {KEY}", "version INTEGER", "record TEXT"),
    "roles": (f"id {KEY} PRIMARY KEY", "name TEXT", "description TEXT", "default_role_id TEXT",
              "is_default INTEGER", "record TEXT"),
    "role_policies": (f"role_id {KEY}", f"domain {KEY}", f"entity_name {KEY}", f"action {KEY}",
                      "policy_name TEXT", "allow_conditions INTEGER"),
    "permissions": (f"domain {KEY}", f"entity_type {KEY}", f"action {KEY}", "label TEXT",
                    "allows_conditions INTEGER", "division_aware INTEGER",
                    "PRIMARY KEY (domain, entity_type, action)"),
    "divisions": (f"id {KEY} PRIMARY KEY", "name TEXT", "description TEXT", "home_division INTEGER",
                  "record TEXT"),
    "grants": (f"id {KEY} PRIMARY KEY", f"subject_id {KEY}", f"subject_type {KEY}", f"user_id {KEY}",
               f"role_id {KEY}", "role_name TEXT", f"division_id {KEY}", "division_name TEXT",
               "grant_made_at TEXT"),
    "groups": (f"id {KEY} PRIMARY KEY", "name TEXT", "description TEXT", "state TEXT", "type TEXT",
               "member_count INTEGER", "record TEXT"),
    "group_members": (f"group_id {KEY}", f"user_id {KEY}", "PRIMARY KEY (group_id, user_id)"),
    "oauth_clients": (f"id {KEY} PRIMARY KEY", "name TEXT", "authorized_grant_type TEXT", "state TEXT",
                      "record TEXT"),
    "skills": (f"id {KEY} PRIMARY KEY", "name TEXT", f"division_id {KEY}", "state TEXT", "record TEXT"),
    "languages": (f"id {KEY} PRIMARY KEY", "name TEXT", "state TEXT", "record TEXT"),
    # proficiency: a number 0.0-5.0 (Genesys keeps a float; the UI shows whole stars)
    "user_skills": (f"user_id {KEY}", f"skill_id {KEY}", "proficiency DOUBLE PRECISION", "state TEXT",
                    "PRIMARY KEY (user_id, skill_id)"),
    "user_languages": (f"user_id {KEY}", f"language_id {KEY}", "proficiency DOUBLE PRECISION", "state TEXT",
                       "PRIMARY KEY (user_id, language_id)"),
    # derived (DERIVED_SQL): who holds which role in which division, wildcard "*" expanded to every division
    "effective_grants": (f"subject_id {KEY}", f"subject_type {KEY}", f"role_id {KEY}", f"division_id {KEY}",
                         f"via {KEY}"),
    "access": (f"user_id {KEY}", f"role_id {KEY}", f"division_id {KEY}", f"domain {KEY}",
               f"entity_type {KEY}", f"action {KEY}", "in_catalogue INTEGER", f"via {KEY}"),
    "oauth_client_access": (f"client_id {KEY}", f"role_id {KEY}", f"division_id {KEY}", f"domain {KEY}",
                            f"entity_type {KEY}", f"action {KEY}", "in_catalogue INTEGER"),
}
DERIVED = ("effective_grants", "access", "oauth_client_access")

# A grant on "*" holds in every division: one row per division; other grants as they are.
_DIVISIONS_OF = """
SELECT g.subject_id, g.subject_type, g.role_id, g.division_id FROM grants g WHERE g.division_id <> '*'
UNION
SELECT g.subject_id, g.subject_type, g.role_id, d.id FROM grants g JOIN divisions d ON g.division_id = '*'
"""
EFFECTIVE_GRANTS_SQL = f"""
INSERT INTO effective_grants (subject_id, subject_type, role_id, division_id, via)
SELECT x.subject_id, x.subject_type, x.role_id, x.division_id, 'direct'
FROM ({_DIVISIONS_OF}) x WHERE x.subject_type <> 'group'
UNION
SELECT m.user_id, 'user', x.role_id, x.division_id, x.subject_id
FROM ({_DIVISIONS_OF}) x JOIN group_members m ON m.group_id = x.subject_id WHERE x.subject_type = 'group'
"""  # noqa: S608 (fixed names)
_MATCH = """(rp.domain = '*' OR rp.domain = p.domain)
        AND (rp.entity_name = '*' OR rp.entity_name = p.entity_type)
        AND (rp.action = '*' OR rp.action = p.action)"""


def _permissions_sql(table: str, columns: str, subject: str, where: str, extra: str = "") -> str:
    """``table`` rows: each effective grant x its role's policies, ``*`` expanded against the catalogue;
    a policy matching nothing in the catalogue kept literally (``in_catalogue = 0``)."""
    return f"""
INSERT INTO {table} ({columns})
SELECT e.subject_id, e.role_id, e.division_id, p.domain, p.entity_type, p.action, 1{extra}
FROM effective_grants e
{subject}
JOIN role_policies rp ON rp.role_id = e.role_id
JOIN permissions p ON {_MATCH}
WHERE {where}
UNION
SELECT e.subject_id, e.role_id, e.division_id, rp.domain, rp.entity_name, rp.action, 0{extra}
FROM effective_grants e
{subject}
JOIN role_policies rp ON rp.role_id = e.role_id
WHERE {where} AND NOT EXISTS (SELECT 1 FROM permissions p WHERE {_MATCH})
"""  # noqa: S608 (fixed names)


ACCESS_SQL = _permissions_sql(
    "access", "user_id, role_id, division_id, domain, entity_type, action, in_catalogue, via",
    "JOIN users u ON u.id = e.subject_id", "e.subject_type = 'user'", ", e.via",
)
OAUTH_CLIENT_ACCESS_SQL = _permissions_sql(
    "oauth_client_access", "client_id, role_id, division_id, domain, entity_type, action, in_catalogue",
    "JOIN oauth_clients c ON c.id = e.subject_id", "e.subject_type = 'oauth_client'",
)
# Run in order after the tables are loaded; each fills the table of DERIVED at the same position.
DERIVED_SQL = (EFFECTIVE_GRANTS_SQL, ACCESS_SQL, OAUTH_CLIENT_ACCESS_SQL)


def _flag(value: Any) -> int | None:
    return None if value is None else int(bool(value))


def _ref(value: Any) -> Any:
    return value.get("id") if isinstance(value, dict) else None


def user_rows(user: dict) -> Iterator[tuple]:
    yield (user["id"], user.get("name"), user.get("email"), user.get("username"), user.get("state"),
           user.get("title"), user.get("department"), _ref(user.get("division")), _ref(user.get("manager")),
           user.get("version"), json.dumps(user))


def role_rows(role: dict) -> Iterator[tuple]:
    yield (role["id"], role.get("name"), role.get("description"), role.get("defaultRoleId"),
           _flag(role.get("default")), json.dumps(role))


def role_policy_rows(role: dict) -> Iterator[tuple]:
    for policy in role.get("permissionPolicies") or []:
        for action in policy.get("actionSet") or []:
            yield (role["id"], policy.get("domain"), policy.get("entityName"), action,
                   policy.get("policyName"), _flag(policy.get("allowConditions")))


def permission_rows(collection: dict) -> Iterator[tuple]:
    for entries in (collection.get("permissionMap") or {}).values():
        for p in entries:
            yield (p.get("domain") or collection.get("domain"), p["entityType"], p["action"], p.get("label"),
                   _flag(p.get("allowsConditions")), _flag(p.get("divisionAware")))


def division_rows(division: dict) -> Iterator[tuple]:
    yield (division["id"], division.get("name"), division.get("description"),
           _flag(division.get("homeDivision")), json.dumps(division))


def grant_rows(grant: dict) -> Iterator[tuple]:
    yield (grant["id"], grant["subjectId"], grant["subjectType"], grant.get("userId"), grant["roleId"],
           grant.get("roleName"), grant["divisionId"], grant.get("divisionName"), grant.get("grantMadeAt"))


def group_rows(group: dict) -> Iterator[tuple]:
    yield (group["id"], group.get("name"), group.get("description"), group.get("state"), group.get("type"),
           group.get("memberCount"), json.dumps(group))


def group_member_rows(member: dict) -> Iterator[tuple]:
    yield (member["groupId"], member["userId"])


def oauth_client_rows(client: dict) -> Iterator[tuple]:
    yield (client["id"], client.get("name"), client.get("authorizedGrantType"), client.get("state"),
           json.dumps(client))


def skill_rows(skill: dict) -> Iterator[tuple]:
    yield (skill["id"], skill.get("name"), _ref(skill.get("division")), skill.get("state"), json.dumps(skill))


def language_rows(language: dict) -> Iterator[tuple]:
    yield (language["id"], language.get("name"), language.get("state"), json.dumps(language))


def user_skill_rows(holding: dict) -> Iterator[tuple]:
    yield (holding["userId"], holding["skillId"], holding.get("proficiency"), holding.get("state"))


def user_language_rows(holding: dict) -> Iterator[tuple]:
    yield (holding["userId"], holding["languageId"], holding.get("proficiency"), holding.get("state"))


# table -> (dataset file it comes from, record -> rows)
LOADERS: dict[str, tuple[str, Callable[[dict], Iterator[tuple]]]] = {
    "users": ("users", user_rows),
    "roles": ("roles", role_rows),
    "role_policies": ("roles", role_policy_rows),
    "permissions": ("permissions", permission_rows),
    "divisions": ("divisions", division_rows),
    "grants": ("grants", grant_rows),
    "groups": ("groups", group_rows),
    "group_members": ("group_members", group_member_rows),
    "oauth_clients": ("oauth_clients", oauth_client_rows),
    "skills": ("skills", skill_rows),
    "languages": ("languages", language_rows),
    "user_skills": ("user_skills", user_skill_rows),
    "user_languages": ("user_languages", user_language_rows),
}
# Loaded when all of their files are given, else left as they are (load_extracts' callers before they existed
# pass the other files only).
ROUTING_DATASETS = ("skills", "languages", "user_skills", "user_languages")


def _unique(rows: Iterable[tuple], key_width: int) -> Iterator[tuple]:
    """Drop rows repeating a key (the catalogue may list a permission twice); keys are few and small."""
    seen: set[tuple] = set()
    for row in rows:
        if row[:key_width] not in seen:
            seen.add(row[:key_width])
            yield row


def _insert(cursor: Any, table: str, rows: Iterable[tuple], placeholder: str) -> int:
    return insert_rows(cursor, table, column_count(TABLES[table]), rows, placeholder)


def load_extracts(
    connection: Any, files: Mapping[str, StoragePath], *, placeholder: str = "?", dialect: str | None = None
) -> dict[str, int]:
    """Replace every table from ``files`` (dataset name -> NDJSON path) at once (``replace_tables``); row counts.

    The routing skill and language tables are part of the set when the files of all of ``ROUTING_DATASETS``
    are given (none of them: those tables are left as they are). ``placeholder`` is the driver's parameter
    marker (a hook's ``placeholder``); ``dialect`` defaults to the one the connection's driver tells
    (``connection_dialect``).
    """
    routing = [dataset for dataset in ROUTING_DATASETS if dataset in files]
    if routing and len(routing) < len(ROUTING_DATASETS):
        absent = ", ".join(d for d in ROUTING_DATASETS if d not in files)
        raise ValueError(f"load_extracts loads {', '.join(ROUTING_DATASETS)} together; missing: {absent}")
    loaders = {table: loader for table, loader in LOADERS.items() if loader[0] not in ROUTING_DATASETS or routing}
    missing = sorted({dataset for dataset, _ in loaders.values()} - set(files))
    if missing:
        raise ValueError(f"load_extracts needs the files of every dataset; missing: {', '.join(missing)}")
    tables = {table: columns for table, columns in TABLES.items() if table in loaders or table in DERIVED}

    def fill(cursor: Any) -> dict[str, int]:
        counts: dict[str, int] = {}
        for table, (dataset, to_rows) in loaders.items():
            rows = (row for record in iter_ndjson(files[dataset]) for row in to_rows(record))
            if table == "permissions":
                rows = _unique(rows, 3)
            counts[table] = _insert(cursor, table, rows, placeholder)
        for table, sql in zip(DERIVED, DERIVED_SQL, strict=True):
            cursor.execute(sql)
            cursor.execute(f"SELECT COUNT(*) FROM {table}")  # noqa: S608 (fixed names)
            counts[table] = int(cursor.fetchall()[0][0])
        return counts

    return replace_tables(connection, tables, fill, dialect=dialect)
