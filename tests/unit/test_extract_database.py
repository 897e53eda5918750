"""Loading extracts into SQL: tables replaced in one transaction, the access table's wildcard expansion."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from airflow_provider_genesys.loaders import load_extracts

PERMISSIONS = [
    {"id": "directory", "domain": "directory", "permissionMap": {
        "user": [{"domain": "directory", "entityType": "user", "action": a} for a in ("view", "edit")],
        "group": [{"domain": "directory", "entityType": "group", "action": "view"}],
    }},
    {"id": "routing", "domain": "routing", "permissionMap": {
        "queue": [{"domain": "routing", "entityType": "queue", "action": "view", "divisionAware": True}],
    }},
]
ROLES = [
    {"id": "r-admin", "name": "admin", "permissionPolicies": [
        {"domain": "directory", "entityName": "*", "actionSet": ["*"]},
        {"domain": "telephony", "entityName": "plugin", "actionSet": ["all"]},  # not in the catalogue
    ]},
    {"id": "r-agent", "name": "agent", "permissionPolicies": [
        {"domain": "routing", "entityName": "queue", "actionSet": ["view"]},
    ]},
]
DIVISIONS = [{"id": "d-home", "name": "Home", "homeDivision": True}, {"id": "d-eu", "name": "EU"}]
USERS = [{"id": "u1", "name": "Ada", "state": "active", "division": {"id": "d-home"}},
         {"id": "u2", "name": "Bob", "state": "inactive", "manager": {"id": "u1"}}]
GRANTS = [
    {"id": "u1:r-admin:*", "subjectId": "u1", "subjectType": "user", "userId": "u1", "roleId": "r-admin",
     "roleName": "admin", "divisionId": "*"},
    {"id": "u2:r-agent:d-eu", "subjectId": "u2", "subjectType": "user", "userId": "u2", "roleId": "r-agent",
     "roleName": "agent", "divisionId": "d-eu"},
]
GROUPS = [{"id": "g1", "name": "EU agents", "memberCount": 2}]
GROUP_MEMBERS = [{"id": "g1:u1", "groupId": "g1", "userId": "u1"}, {"id": "g1:u9", "groupId": "g1", "userId": "u9"}]
OAUTH_CLIENTS = [{"id": "c1", "name": "export", "authorizedGrantType": "CLIENT-CREDENTIALS", "state": "active"}]
SKILLS = [{"id": "s-billing", "name": "Billing", "division": {"id": "d-eu"}, "state": "active", "version": "1"}]
LANGUAGES = [{"id": "l-en", "name": "English", "state": "active"}, {"id": "l-fr", "name": "French", "state": "active"}]
USER_SKILLS = [{"id": "u1:s-billing", "userId": "u1", "userName": "Ada", "skillId": "s-billing", "skillName": "Billing",
                "proficiency": 3.5, "state": "active"}]
USER_LANGUAGES = [{"id": f"u{n}:l-en", "userId": f"u{n}", "languageId": "l-en", "proficiency": 5.0, "state": "active"}
                  for n in (1, 2)]
ROUTING = {"skills": SKILLS, "languages": LANGUAGES, "user_skills": USER_SKILLS, "user_languages": USER_LANGUAGES}


def write_files(base: Path, **override: list[dict]) -> dict[str, Path]:
    data = {"users": USERS, "roles": ROLES, "permissions": PERMISSIONS, "divisions": DIVISIONS,
            "grants": GRANTS, "groups": GROUPS, "group_members": GROUP_MEMBERS, "oauth_clients": OAUTH_CLIENTS,
            **ROUTING}
    data.update(override)
    files = {}
    for name, records in data.items():
        files[name] = base / f"{name}.ndjson"
        files[name].write_text("".join(json.dumps(r) + "\n" for r in records))
    return files


def rows(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return sorted(conn.execute(sql).fetchall())


def test_tables_and_access_expansion(tmp_path: Path) -> None:
    db = tmp_path / "g.db"
    counts = load_extracts(sqlite3.connect(db), write_files(tmp_path))
    assert counts == {"users": 2, "roles": 2, "role_policies": 3, "permissions": 4, "divisions": 2,
                      "grants": 2, "groups": 1, "group_members": 2, "oauth_clients": 1, "skills": 1,
                      "languages": 2, "user_skills": 1, "user_languages": 2,
                      "effective_grants": 3, "access": 9, "oauth_client_access": 0}
    access = "SELECT user_id, role_id, division_id, domain, entity_type, action, in_catalogue, via FROM access"
    admin = [(d, *perm) for d in ("d-eu", "d-home") for perm in (
        ("directory", "group", "view", 1), ("directory", "user", "edit", 1),
        ("directory", "user", "view", 1), ("telephony", "plugin", "all", 0))]
    assert rows(db, access) == sorted(
        [("u1", "r-admin", *row, "direct") for row in admin]  # "*" expanded to every division
        + [("u2", "r-agent", "d-eu", "routing", "queue", "view", 1, "direct")]
    )
    assert rows(db, "SELECT id, subject_type, division_id FROM grants") == [
        ("u1:r-admin:*", "user", "*"), ("u2:r-agent:d-eu", "user", "d-eu")]  # raw grants keep "*"
    users = rows(db, "SELECT id, division_id, manager_id FROM users")
    assert users == [("u1", "d-home", None), ("u2", None, "u1")]


def test_group_and_oauth_client_grants_reach_their_tables(tmp_path: Path) -> None:
    more = [
        {"id": "g1:r-agent:*", "subjectId": "g1", "subjectType": "group", "roleId": "r-agent", "divisionId": "*"},
        {"id": "c1:r-agent:d-eu", "subjectId": "c1", "subjectType": "oauth_client", "roleId": "r-agent",
         "divisionId": "d-eu"},
        {"id": "t1:r-admin:*", "subjectId": "t1", "subjectType": "trustee_user", "roleId": "r-admin",
         "divisionId": "*"},
    ]
    db = tmp_path / "g.db"
    counts = load_extracts(sqlite3.connect(db), write_files(tmp_path, grants=[*GRANTS, *more]))
    assert counts["grants"] == 5
    via_group = rows(db, "SELECT user_id, role_id, division_id, action, via FROM access WHERE via <> 'direct'")
    # u1 is a member of g1 (u9 is no user of the org: left out); the group's "*" grant in every division
    assert via_group == [("u1", "r-agent", "d-eu", "view", "g1"), ("u1", "r-agent", "d-home", "view", "g1")]
    assert rows(db, "SELECT DISTINCT user_id FROM access") == [("u1",), ("u2",)]  # no trustee, group or client
    assert rows(db, "SELECT client_id, role_id, division_id, domain, entity_type, action FROM oauth_client_access") == [
        ("c1", "r-agent", "d-eu", "routing", "queue", "view")]


def test_reload_replaces_and_a_failed_load_keeps_the_previous_tables(tmp_path: Path) -> None:
    db = tmp_path / "g.db"
    load_extracts(sqlite3.connect(db), write_files(tmp_path))
    load_extracts(sqlite3.connect(db), write_files(tmp_path, users=USERS[:1]))
    assert rows(db, "SELECT id FROM users") == [("u1",)]
    broken = write_files(tmp_path, users=USERS, grants=[{"id": "x"}])  # grant without subjectId: KeyError
    with pytest.raises(KeyError):
        load_extracts(sqlite3.connect(db), broken)
    assert rows(db, "SELECT id FROM users") == [("u1",)]
    assert rows(db, "SELECT COUNT(*) FROM access") == [(8,)]  # the second load's: u2 was no user then


def test_missing_dataset_file_is_a_clear_error(tmp_path: Path) -> None:
    files = write_files(tmp_path)
    del files["grants"]
    with pytest.raises(ValueError, match="missing: grants"):
        load_extracts(sqlite3.connect(tmp_path / "g.db"), files)


def test_routing_skills_and_languages_load_with_their_proficiency(tmp_path: Path) -> None:
    db = tmp_path / "g.db"
    load_extracts(sqlite3.connect(db), write_files(tmp_path))
    assert rows(db, "SELECT id, name, division_id, state FROM skills") == [("s-billing", "Billing", "d-eu", "active")]
    assert rows(db, "SELECT user_id, skill_id, proficiency, state FROM user_skills") == [
        ("u1", "s-billing", 3.5, "active")]
    who_speaks = "SELECT u.name, l.name FROM user_languages x JOIN users u ON u.id = x.user_id " \
                 "JOIN languages l ON l.id = x.language_id"
    assert rows(db, who_speaks) == [("Ada", "English"), ("Bob", "English")]


def test_routing_tables_are_left_alone_without_their_files_and_need_all_four(tmp_path: Path) -> None:
    db = tmp_path / "g.db"
    load_extracts(sqlite3.connect(db), write_files(tmp_path))
    files = write_files(tmp_path, users=USERS[:1])
    for dataset in ROUTING:
        del files[dataset]
    counts = load_extracts(sqlite3.connect(db), files)  # a caller that extracts no skills
    assert "user_skills" not in counts
    assert rows(db, "SELECT id FROM users") == [("u1",)]
    assert rows(db, "SELECT user_id FROM user_languages") == [("u1",), ("u2",)]  # the previous load's
    partial = write_files(tmp_path)
    del partial["user_languages"]
    with pytest.raises(ValueError, match="together; missing: user_languages"):
        load_extracts(sqlite3.connect(db), partial)
