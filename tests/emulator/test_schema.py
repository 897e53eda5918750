"""Payload field names and types against Genesys' published models and real payloads.

Model field lists come from ``shared/samples/schema_fields_from_go_sdk.txt`` (JSON names extracted from
Genesys' Go SDK); real payloads from the sample JSON files beside it.
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

import pytest
import requests

from .conftest import ApiClient

SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "samples"
pytestmark = pytest.mark.skipif(not SAMPLES.is_dir(), reason=f"Genesys samples not found at {SAMPLES}")


def _models() -> dict[str, set[str]]:
    models: dict[str, set[str]] = {}
    lines = (SAMPLES / "schema_fields_from_go_sdk.txt").read_text().splitlines()
    for header, fields in itertools.pairwise(lines):
        match = re.search(r"platformclientv2/(\w+)\.go\]:$", header)
        if match:
            models[match.group(1)] = set(fields.split())
        match = re.search(r"type (\w+)\]: (.+)$", header)
        if match:
            models[match.group(1)] = set(match.group(2).split())
    return models


def _sample(name: str) -> Any:
    return json.loads((SAMPLES / name).read_text())


@pytest.fixture(scope="module")
def models() -> dict[str, set[str]]:
    return _models()


def check(payload: dict[str, Any], allowed: set[str], required: set[str] = frozenset()) -> None:
    assert set(payload) <= allowed, f"fields not in Genesys' model: {set(payload) - allowed}"
    assert required <= set(payload), f"missing fields: {required - set(payload)}"


def test_users_listing_and_user_fields(shared_client, models):
    body = shared_client.ok("/api/v2/users", pageSize=3, expand="authorization,employerInfo,dateLastLogin")
    check(
        body,
        models["userentitylisting"],
        models["userentitylisting"] - {"nextUri", "previousUri"} - {"nextUri"},
    )
    sample_item = _sample("users_list_item.json")
    for user in body["entities"]:
        check(user, models["user"], set(sample_item))
        check(user["authorization"], models["userauthorization"], models["userauthorization"])
        for key in ("division", "chat"):
            assert set(user[key]) == set(sample_item[key])
        assert set(user["primaryContactInfo"][0]) == set(sample_item["primaryContactInfo"][0])
        assert isinstance(user["version"], int)
        assert isinstance(user["acdAutoAnswer"], bool)
    single = shared_client.ok(f"/api/v2/users/{body['entities'][0]['id']}")
    check(single, models["user"], set(_sample("user_get.json")))


def test_cursor_listing_fields(shared_client):
    body = shared_client.ok("/api/v2/users/query", pageSize=2)
    assert set(body) == {"entities", "cursor", "nextUri", "selfUri"}
    assert isinstance(body["cursor"], str)


def test_roles_fields(shared_client, models):
    body = shared_client.ok("/api/v2/authorization/roles", pageSize=2)
    check(body, models["organizationroleentitylisting"])
    for role in body["entities"]:
        check(
            role, models["domainorganizationrole"], {"id", "name", "permissionPolicies", "default", "selfUri"}
        )
        assert isinstance(role["userCount"], int)
        for policy in role["permissionPolicies"]:
            check(policy, models["domainpermissionpolicy"], {"domain", "entityName", "actionSet"})
    users = shared_client.ok(f"/api/v2/authorization/roles/{body['entities'][0]['id']}/users")
    assert set(users) == models["userreferenceentitylisting"]
    assert set(users["entities"][0]) == models["userreference"]


def test_permissions_fields(shared_client, models):
    body = shared_client.ok("/api/v2/authorization/permissions")
    check(body, models["permissioncollectionentitylisting"])
    for collection in body["entities"]:
        assert set(collection) == models["domainpermissioncollection"]
        for permissions in collection["permissionMap"].values():
            for permission in permissions:
                assert set(permission) == models["domainpermission"]
                assert isinstance(permission["divisionAware"], bool)


def test_divisions_grants_and_subject_fields(shared_client, shared_emu, models):
    body = shared_client.ok("/api/v2/authorization/divisions", objectCount="true")
    check(body, models["authzdivisionentitylisting"])
    for division in body["entities"]:
        check(division, models["authzdivision"], {"id", "name", "homeDivision", "selfUri"})
    sample_grant = _sample("subject_grants.json")["grants"][0]
    wildcard_sample = _sample("subject_grants_all_divisions.json")["grants"][0]
    admin = shared_emu.org.user_ids_by_index()[0]
    subject = shared_client.ok(f"/api/v2/authorization/subjects/{admin}")
    check(subject, models["authzsubject"], set(_sample("subject_grants.json")))
    for grant in subject["grants"]:
        assert set(grant) == models["authzgrant"]
        assert set(grant["role"]) == models["authzgrantrole"] == set(sample_grant["role"])
        expected = wildcard_sample["division"] if grant["division"]["id"] == "*" else sample_grant["division"]
        assert set(grant["division"]) == set(expected)
        assert set(grant["role"]["policies"][0]) == set(
            _sample("subject_grants.json")["grants"][1]["role"]["policies"][0]
        )


def test_audit_query_fields(emu, client, models):
    job = client.post(
        "/api/v2/audits/query",
        {"interval": "2019-01-01T00:00:00Z/2026-01-01T00:00:00Z", "serviceName": "Directory"},
    ).json()
    assert set(job) == models["auditqueryexecutionstatusresponse"]
    results = client.ok(f"/api/v2/audits/query/{job['id']}/results", pageSize=2)
    assert set(results) == models["auditqueryexecutionresultsresponse"]
    sample = _sample("audit_query_results.json")
    assert set(results["entities"][0]) == set(sample["entities"][0])


def test_error_and_token_fields(emu, models):
    client = ApiClient(emu)
    error = client.get("/api/v2/users/nope").json()
    check(error, models["errorbody"], set(_sample("error_429.json")))
    token = requests.post(
        emu.login_url,
        data={"grant_type": "authorization_code", "code": "x"},
        auth=(emu.client_id, emu.client_secret),
    ).json()
    assert set(token) == models["AuthResponse"]
    bad = requests.post(emu.login_url, data={"grant_type": "client_credentials"}, auth=("x", "y")).json()
    assert set(bad) == models["AuthErrorResponse"] == set(_sample("oauth_token_error_invalid_client.json"))
