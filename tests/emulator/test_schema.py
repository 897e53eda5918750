"""Payloads against real Genesys payloads: every field Genesys was seen sending, the emulator sends too.

``test_models.py`` proves the emulator sends nothing outside Genesys' published models, with the right
types; models cannot say which optional fields Genesys actually fills in. The captured payloads in
``shared/samples`` (beside the project, see ``GENESYS_API.md``) can, so these tests check presence and
the exact shape of small nested objects. They skip when the samples are not there (a bare clone).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from .conftest import ApiClient

SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "samples"
pytestmark = pytest.mark.skipif(not SAMPLES.is_dir(), reason=f"Genesys samples not found at {SAMPLES}")


def sample(name: str) -> Any:
    return json.loads((SAMPLES / name).read_text())


def assert_has(payload: dict[str, Any], real: dict[str, Any]) -> None:
    assert set(real) <= set(payload), f"fields Genesys sends but the emulator does not: {set(real) - set(payload)}"


def test_users_carry_every_field_of_real_users(shared_client):
    listed = shared_client.ok("/api/v2/users", pageSize=5)["entities"]
    item = sample("users_list_item.json")
    for user in listed:
        assert_has(user, item)
        for key in ("division", "chat"):
            assert set(user[key]) == set(item[key])
        assert set(user["primaryContactInfo"][0]) == set(item["primaryContactInfo"][0])
    assert_has(shared_client.ok(f"/api/v2/users/{listed[0]['id']}"), sample("user_get.json"))


def test_subject_grants_have_the_real_shape(shared_client, shared_emu):
    real = sample("subject_grants.json")
    real_wildcard = sample("subject_grants_all_divisions.json")["grants"][0]["division"]
    admin = shared_emu.org.user_ids_by_index()[0]  # holds grants on "*" and in named divisions
    subject = shared_client.ok(f"/api/v2/authorization/subjects/{admin}")
    assert_has(subject, real)
    seen_wildcard = False
    for grant in subject["grants"]:
        assert_has(grant, real["grants"][0])  # plus grantMadeAt, newer than this capture
        assert set(grant["role"]) == set(real["grants"][0]["role"])
        assert set(grant["role"]["policies"][0]) == set(real["grants"][1]["role"]["policies"][0])
        wildcard = grant["division"]["id"] == "*"
        seen_wildcard |= wildcard
        assert set(grant["division"]) == set(real_wildcard if wildcard else real["grants"][0]["division"])
    assert seen_wildcard


def test_audit_events_have_the_real_shape(client):
    query = {"interval": "2019-01-01T00:00:00Z/2030-01-01T00:00:00Z", "serviceName": "PeoplePermissions"}
    job = client.post("/api/v2/audits/query", query).json()
    results = client.ok(f"/api/v2/audits/query/{job['id']}/results", pageSize=2)
    real = sample("audit_query_results.json")
    assert_has(results, real)
    assert set(results["entities"][0]) == set(real["entities"][0])


def test_error_bodies_carry_every_field_of_a_real_one(emu):
    assert_has(ApiClient(emu).get("/api/v2/users/nope").json(), sample("error_429.json"))
