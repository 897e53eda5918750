"""genesys_role_audit on a real Airflow: submit, deferred wait (trigger runs inline), cursor-paged results."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from airflow_provider_genesys.testing import GenesysCloudEmulator


def test_role_audit_writes_every_role_change(run_dag: Callable[..., object], tmp_path: Path) -> None:
    base = tmp_path / "out"
    # The job ends on its third status read, however fast or slow Airflow runs: the sensor's own check sees
    # it Queued (so it defers), the trigger's first poll Running, its second Succeeded.
    with GenesysCloudEmulator(users=600, seed=7, job_polls=2) as emu:
        conf = {
            "base_path": str(base),  # service_name: the DAG's default, PeoplePermissions, as on Genesys
            "since": "2000-01-01T00:00:00Z",
            "until": "2100-01-01T00:00:00Z",
        }
        run_dag(
            "genesys_role_audit",
            connection=emu.connection_dict(),
            conf=conf,
            env={"GENESYS_ROLE_AUDIT_POLL_SECONDS": "1"},
        )
        expected = set(emu.org.iter_grants())
        stats = emu.stats
        status_polls = stats.by_path["GET /api/v2/audits/query/{transactionId}"]
        result_pages = stats.by_path["GET /api/v2/audits/query/{transactionId}/results"]

    (path,) = (base / "role_audit").iterdir()  # the atomic writer left no temporary file behind
    assert path.name == "audit_20000101T000000Z_21000101T000000Z.ndjson"
    records = [json.loads(line) for line in path.read_text().splitlines()]
    # as Genesys records role membership: the role is the entity, member and division are property changes
    assert {(r["serviceName"], r["entityType"], r["action"]) for r in records} == {
        ("PeoplePermissions", "Role", "MemberAdd")}
    changes = [
        (
            next(c["newValues"][0] for c in r["propertyChanges"] if c["property"] == "userId"),
            r["entity"]["id"],
            next(c["newValues"][0] for c in r["propertyChanges"] if c["property"] == "divisionId"),
        )
        for r in records
    ]
    assert len(changes) == len(expected) > 500  # every grant once, several result pages of 500
    assert set(changes) == expected
    assert len({r["id"] for r in records}) == len(records)
    assert stats.by_path["POST /api/v2/audits/query"] == 1
    assert status_polls == 3  # checked once before deferring, then polled twice by the trigger
    assert result_pages == -(-len(records) // 500)
    dates = [r["eventDate"] for r in records]
    assert dates == sorted(dates)  # sortOrder ascending
