"""genesys_users_permissions_extract on real Airflow against the emulator: files and database vs truth."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from airflow_provider_genesys.testing import GenesysCloudEmulator, truth

pytestmark = pytest.mark.e2e
DAG_ID = "genesys_users_permissions_extract"


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


DATASETS = ("users", "roles", "permissions", "divisions", "grants", "groups", "group_members", "oauth_clients",
            "skills", "languages", "user_skills", "user_languages")
def test_extract_and_load_match_the_org(run_dag, tmp_path: Path) -> None:
    base = tmp_path / "out"
    with GenesysCloudEmulator(users=300, seed=42) as emu:
        run_dag(DAG_ID, connection=emu.connection_dict(), conf={"base": str(base)})
        org = emu.org
        assert emu.stats.rate_limited == 0

        (day,) = [p for p in base.iterdir() if p.is_dir()]
        assert sorted(p.name for p in day.iterdir()) == sorted(
            f"{name}.ndjson" for name in DATASETS
        )  # and no temporary files
        users = read(day / "users.ndjson")
        assert sorted(u["id"] for u in users) == sorted(org.user_ids("any"))
        for name in ("roles", "permissions", "divisions"):
            written = sorted(r["id"] for r in read(day / f"{name}.ndjson"))
            assert written == sorted(r["id"] for r in getattr(org, name))
        expected_grants = truth.grants(org)
        grants = [(g["subjectId"], g["subjectType"], g["roleId"], g["divisionId"]) for g in read(day / "grants.ndjson")]
        assert sorted(grants) == expected_grants
        assert all("secret" not in c for c in read(day / "oauth_clients.ndjson"))

        db = sqlite3.connect(base / "genesys.db")
        try:
            ids = lambda table: sorted(r[0] for r in db.execute(f"SELECT id FROM {table}"))  # noqa: E731
            assert ids("users") == sorted(org.user_ids("any"))
            assert ids("roles") == sorted(r["id"] for r in org.roles)
            assert ids("divisions") == sorted(d["id"] for d in org.divisions)
            loaded = sorted(db.execute("SELECT subject_id, subject_type, role_id, division_id FROM grants"))
            assert loaded == expected_grants
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
                    "in_catalogue, via FROM access"
                )
            )
            clients = set(db.execute("SELECT client_id, role_id, division_id, domain, entity_type, action, "
                                     "in_catalogue FROM oauth_client_access"))
            assert (access, clients) == truth.access(org)
            assert any(row[-1] != "direct" for row in access)
            assert clients
            for kind in ("skill", "language"):  # who can take which interactions, with the proficiency
                held = sorted(db.execute(f"SELECT user_id, {kind}_id, proficiency FROM user_{kind}s"))
                assert held == truth.holdings(org, kind)
                assert ids(f"{kind}s") == sorted(org.proficiencies.catalogues[kind].ids)
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
        assert sorted(p.name for p in day.iterdir()) == sorted(f"{name}.ndjson" for name in DATASETS)
        counts = (
            "SELECT (SELECT COUNT(*) FROM users), (SELECT COUNT(*) FROM grants), "
            "(SELECT COUNT(*) FROM access)"
        )
        with sqlite3.connect(base / "genesys.db") as first, sqlite3.connect(other) as second:
            assert first.execute(counts).fetchall() == second.execute(counts).fetchall()
