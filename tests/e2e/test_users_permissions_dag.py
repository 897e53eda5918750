"""genesys_users_permissions_extract on real Airflow against the emulator: files and database vs truth."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from airflow_provider_genesys.testing import GenesysCloudEmulator

pytestmark = pytest.mark.e2e
DAG_ID = "genesys_users_permissions_extract"


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def expected_access(org) -> set[tuple]:
    """user x role x division x permission, computed independently of the loader's SQL."""
    catalogue = {
        (p["domain"], p["entityType"], p["action"])
        for collection in org.permissions
        for entries in collection["permissionMap"].values()
        for p in entries
    }
    policies = {
        role["id"]: [
            (pol["domain"], pol["entityName"], action)
            for pol in role["permissionPolicies"]
            for action in pol["actionSet"]
        ]
        for role in org.roles
    }
    rows = set()
    for user, role, division in org.iter_grants():
        for want in policies[role]:
            matches = [p for p in catalogue if all(w in ("*", v) for w, v in zip(want, p, strict=True))]
            rows.update((user, role, division, *p, 1) for p in matches)
            if not matches:
                rows.add((user, role, division, *want, 0))
    return rows


def test_extract_and_load_match_the_org(run_dag, tmp_path: Path) -> None:
    base = tmp_path / "out"
    with GenesysCloudEmulator(users=300, seed=42) as emu:
        run_dag(DAG_ID, connection=emu.connection_dict(), conf={"base": str(base)})
        org = emu.org
        assert emu.stats.rate_limited == 0

        (day,) = [p for p in base.iterdir() if p.is_dir()]
        assert sorted(p.name for p in day.iterdir()) == sorted(
            f"{name}.ndjson" for name in ("users", "roles", "permissions", "divisions", "grants")
        )  # and no temporary files
        users = read(day / "users.ndjson")
        assert sorted(u["id"] for u in users) == sorted(org.user_ids("any"))
        for name in ("roles", "permissions", "divisions"):
            written = sorted(r["id"] for r in read(day / f"{name}.ndjson"))
            assert written == sorted(r["id"] for r in getattr(org, name))
        grants = [(g["userId"], g["roleId"], g["divisionId"]) for g in read(day / "grants.ndjson")]
        assert sorted(grants) == sorted(org.iter_grants())

        db = sqlite3.connect(base / "genesys.db")
        try:
            ids = lambda table: sorted(r[0] for r in db.execute(f"SELECT id FROM {table}"))  # noqa: E731
            assert ids("users") == sorted(org.user_ids("any"))
            assert ids("roles") == sorted(r["id"] for r in org.roles)
            assert ids("divisions") == sorted(d["id"] for d in org.divisions)
            loaded = sorted(db.execute("SELECT user_id, role_id, division_id FROM grants"))
            assert loaded == sorted(org.iter_grants())
            perms = sorted(db.execute("SELECT domain, entity_type, action FROM permissions"))
            assert perms == sorted(
                (p["domain"], p["entityType"], p["action"])
                for c in org.permissions
                for v in c["permissionMap"].values()
                for p in v
            )
            access = set(
                db.execute(
                    "SELECT user_id, role_id, division_id, domain, entity_type, action, "
                    "in_catalogue FROM access"
                )
            )
            assert access == expected_access(org)
        finally:
            db.close()

        # Again, into a database given by connection id: files replaced in place, same tables.
        other = tmp_path / "other.db"
        run_dag(
            DAG_ID,
            connection=emu.connection_dict(),
            conf={"base": str(base), "database_conn_id": "test_db"},
            env={"AIRFLOW_CONN_TEST_DB": json.dumps({"conn_type": "sqlite", "host": str(other)})},
        )
        assert sorted(p.name for p in day.iterdir()) == sorted(
            f"{name}.ndjson" for name in ("users", "roles", "permissions", "divisions", "grants")
        )
        counts = (
            "SELECT (SELECT COUNT(*) FROM users), (SELECT COUNT(*) FROM grants), "
            "(SELECT COUNT(*) FROM access)"
        )
        with sqlite3.connect(base / "genesys.db") as first, sqlite3.connect(other) as second:
            assert first.execute(counts).fetchall() == second.execute(counts).fetchall()
