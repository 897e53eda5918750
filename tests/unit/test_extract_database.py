"""Loading extracts into SQL: tables replaced in one transaction, the access table's wildcard expansion."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from airflow_provider_genesys.extract.database import load_extracts

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
    {"id": "u1:r-admin:*", "userId": "u1", "roleId": "r-admin", "roleName": "admin", "divisionId": "*"},
    {"id": "u2:r-agent:d-eu", "userId": "u2", "roleId": "r-agent", "roleName": "agent", "divisionId": "d-eu"},
]


def write_files(base: Path, **override: list[dict]) -> dict[str, Path]:
    data = {"users": USERS, "roles": ROLES, "permissions": PERMISSIONS, "divisions": DIVISIONS,
            "grants": GRANTS}
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
                      "grants": 2, "access": 5}
    access = "SELECT user_id, role_id, division_id, domain, entity_type, action, in_catalogue FROM access"
    assert rows(db, access) == [
        ("u1", "r-admin", "*", "directory", "group", "view", 1),
        ("u1", "r-admin", "*", "directory", "user", "edit", 1),
        ("u1", "r-admin", "*", "directory", "user", "view", 1),
        ("u1", "r-admin", "*", "telephony", "plugin", "all", 0),
        ("u2", "r-agent", "d-eu", "routing", "queue", "view", 1),
    ]
    users = rows(db, "SELECT id, division_id, manager_id FROM users")
    assert users == [("u1", "d-home", None), ("u2", None, "u1")]


def test_access_keeps_users_only_when_groups_hold_grants(tmp_path: Path) -> None:
    group_grant = {"id": "g1:r-agent:d-eu", "userId": "g1", "roleId": "r-agent", "divisionId": "d-eu"}
    db = tmp_path / "g.db"
    counts = load_extracts(sqlite3.connect(db), write_files(tmp_path, grants=[*GRANTS, group_grant]))
    assert counts["grants"] == 3
    assert rows(db, "SELECT DISTINCT user_id FROM access") == [("u1",), ("u2",)]


def test_reload_replaces_and_a_failed_load_keeps_the_previous_tables(tmp_path: Path) -> None:
    db = tmp_path / "g.db"
    load_extracts(sqlite3.connect(db), write_files(tmp_path))
    load_extracts(sqlite3.connect(db), write_files(tmp_path, users=USERS[:1]))
    assert rows(db, "SELECT id FROM users") == [("u1",)]
    broken = write_files(tmp_path, users=USERS, grants=[{"id": "x"}])  # grant without userId: KeyError
    with pytest.raises(KeyError):
        load_extracts(sqlite3.connect(db), broken)
    assert rows(db, "SELECT id FROM users") == [("u1",)]
    assert rows(db, "SELECT COUNT(*) FROM access") == [(4,)]  # the second load's: u2 was no user then


def test_missing_dataset_file_is_a_clear_error(tmp_path: Path) -> None:
    files = write_files(tmp_path)
    del files["grants"]
    with pytest.raises(ValueError, match="missing: grants"):
        load_extracts(sqlite3.connect(tmp_path / "g.db"), files)
