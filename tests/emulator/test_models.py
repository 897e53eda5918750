"""Every emulator response against Genesys' published models (names and types, recursively).

``models/genesys_models.json`` is extracted from Genesys' official Python SDK by
``models/extract_models.py`` (run by hand). A field the model does not have, or a value of another type
than the model's swagger type, fails with the path to it.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from airflow_provider_genesys.testing import GenesysCloudEmulator

from .conftest import ApiClient

MODELS: dict[str, dict[str, str]] = json.loads((Path(__file__).parent / "models" / "genesys_models.json").read_text())
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
_SCALARS: dict[str, tuple[type, ...]] = {"str": (str,), "bool": (bool,), "int": (int,), "float": (int, float)}


def problems(value: Any, swagger_type: str, where: str = "$") -> list[str]:
    """Where ``value`` deviates from ``swagger_type`` (empty when it conforms)."""
    if value is None:
        return []  # Genesys omits or nulls any optional field
    if swagger_type.startswith("list[") and swagger_type.endswith("]"):
        if not isinstance(value, list):
            return [f"{where}: expected a list ({swagger_type}), got {type(value).__name__}"]
        return [p for n, item in enumerate(value) for p in problems(item, swagger_type[5:-1], f"{where}[{n}]")]
    if swagger_type.startswith("dict(str, ") and swagger_type.endswith(")"):
        if not isinstance(value, dict):
            return [f"{where}: expected an object ({swagger_type}), got {type(value).__name__}"]
        inner = swagger_type[len("dict(str, ") : -1]
        return [p for key, item in value.items() for p in problems(item, inner, f"{where}.{key}")]
    if swagger_type == "object":
        return []
    if swagger_type in ("datetime", "date"):
        text_ok = isinstance(value, str) and (
            _ISO_DATETIME.match(value) if swagger_type == "datetime" else re.match(r"^\d{4}-\d{2}-\d{2}$", value)
        )
        if text_ok:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
            return []
        return [f"{where}: expected an ISO-8601 {swagger_type} string, got {value!r}"]
    if swagger_type in _SCALARS:
        allowed = _SCALARS[swagger_type]
        if isinstance(value, bool) and bool not in allowed:
            return [f"{where}: expected {swagger_type}, got bool"]
        return [] if isinstance(value, allowed) else [f"{where}: expected {swagger_type}, got {value!r}"]
    fields = MODELS.get(swagger_type)
    assert fields is not None, f"{swagger_type} is not in genesys_models.json: rerun extract_models.py"
    if not isinstance(value, dict):
        return [f"{where}: expected a {swagger_type} object, got {type(value).__name__}"]
    found = [f"{where}.{key}: not a field of {swagger_type}" for key in value if key not in fields]
    for key, item in value.items():
        if key in fields:
            found += problems(item, fields[key], f"{where}.{key}")
    return found


def assert_conforms(body: Any, swagger_type: str) -> None:
    found = problems(body, swagger_type)
    assert not found, f"{swagger_type}:\n" + "\n".join(found[:20])


def test_the_checker_catches_wrong_names_and_types():
    """A guard: the checker itself must reject what the emulator must never send."""
    grant = {"subjectId": "x", "grantMadeAt": "2024-01-02T03:04:05Z", "division": {"id": "d", "homeDivision": True}}
    assert problems(grant, "AuthzGrant") == []
    assert problems({**grant, "subjectid": "x"}, "AuthzGrant") == ["$.subjectid: not a field of AuthzGrant"]
    assert problems({**grant, "grantMadeAt": 1700000000}, "AuthzGrant")
    assert problems({**grant, "grantMadeAt": "2024-01-02"}, "AuthzGrant")
    assert problems({**grant, "division": {"homeDivision": "true"}}, "AuthzGrant")
    assert problems({"entities": [{"id": 3}]}, "UserEntityListing") == ["$.entities[0].id: expected str, got 3"]
    assert problems({"total": True}, "UserEntityListing") == ["$.total: expected int, got bool"]
    assert problems({"permissionMap": {"x": [{"divisionAware": 1}]}}, "DomainPermissionCollection")


USER_EXPANDS = "authorization,employerInfo,dateLastLogin,lasttokenissued,groups,skills,languages"
# (request, model): every read endpoint, with the parameters that add fields
READS: list[tuple[str, dict[str, Any], str]] = [
    ("/api/v2/users", {"pageSize": 50, "state": "any", "expand": USER_EXPANDS}, "UserEntityListing"),
    ("/api/v2/users/query", {"pageSize": 50, "state": "any", "expand": USER_EXPANDS}, "UserCursorEntityListing"),
    ("/api/v2/users/{user}", {"expand": USER_EXPANDS}, "User"),
    ("/api/v2/users/{user}/roles", {}, "UserAuthorization"),
    ("/api/v2/authorization/roles", {"pageSize": 100}, "OrganizationRoleEntityListing"),
    ("/api/v2/authorization/roles", {"userCount": "false"}, "OrganizationRoleEntityListing"),
    ("/api/v2/authorization/roles/{role}", {}, "DomainOrganizationRole"),
    ("/api/v2/authorization/roles/{role}/users", {"pageSize": 100}, "UserReferenceEntityListing"),
    ("/api/v2/authorization/roles/{role}/subjectgrants", {"pageSize": 100}, "SubjectDivisionGrantsEntityListing"),
    ("/api/v2/authorization/permissions", {"pageSize": 100}, "PermissionCollectionEntityListing"),
    ("/api/v2/authorization/divisions", {"objectCount": "true"}, "AuthzDivisionEntityListing"),
    ("/api/v2/authorization/divisions/{division}", {}, "AuthzDivision"),
    ("/api/v2/authorization/divisions/{division}/grants", {"pageSize": 500}, "AuthzDivisionGrantEntityListing"),
    ("/api/v2/authorization/divisions/*/grants", {}, "AuthzDivisionGrantEntityListing"),
    ("/api/v2/authorization/subjects/{user}", {}, "AuthzSubject"),
    ("/api/v2/authorization/subjects/{group}", {}, "AuthzSubject"),
    ("/api/v2/groups", {"pageSize": 100}, "GroupEntityListing"),
    ("/api/v2/groups/{group}", {}, "Group"),
    ("/api/v2/groups/{group}/members", {"pageSize": 100, "expand": USER_EXPANDS}, "UserEntityListing"),
    ("/api/v2/oauth/clients", {}, "OAuthClientEntityListing"),
    ("/api/v2/oauth/clients/{client}", {}, "OAuthClient"),
    ("/api/v2/routing/skills", {"pageSize": 100}, "SkillEntityListing"),
    ("/api/v2/routing/skills/{skill}", {}, "RoutingSkill"),
    ("/api/v2/routing/languages", {"pageSize": 100, "sortOrder": "DESC"}, "LanguageEntityListing"),
    ("/api/v2/routing/languages/{language}", {}, "Language"),
    ("/api/v2/users/{agent_user}/routingskills", {"pageSize": 100}, "UserSkillEntityListing"),
    ("/api/v2/users/{agent_user}/routinglanguages", {"sortOrder": "DESC"}, "UserLanguageEntityListing"),
    ("/api/v2/tokens/me", {}, "TokenInfo"),
    ("/api/v2/organizations/me", {}, "Organization"),
]


@pytest.mark.parametrize(("path", "params", "model"), READS, ids=[f"{m}:{p}" for p, _, m in READS])
def test_read_endpoints_match_the_models(shared_emu, shared_client, path, params, model):
    org = shared_emu.org
    admin = org.user_ids_by_index()[0]  # holds wildcard grants and the most roles
    agent = next(r["id"] for r in org.roles if r["name"] == "Agent")
    home = next(d["id"] for d in org.divisions if d["homeDivision"])
    group, client = org.subjects.groups[0].id, org.subjects.clients[0].id  # group 0 holds a "*" grant
    agent_user = next(u for u in org.user_ids("active") if org.user_skills(org.index_of(u))
                      and org.user_languages(org.index_of(u)))
    skill, language = (org.proficiencies.catalogues[kind].ids[0] for kind in ("skill", "language"))
    body = shared_client.ok(
        path.format(user=admin, role=agent, division=home, group=group, client=client, agent_user=agent_user,
                    skill=skill, language=language), **params
    )
    if "entities" in body:
        assert body["entities"], f"{path} returned no entities: the check would prove nothing"
    assert_conforms(body, model)


def test_audit_query_job_matches_the_models(emu, client):
    query = {
        "interval": "2019-01-01T00:00:00Z/2030-01-01T00:00:00Z",
        "serviceName": "PeoplePermissions",
        "filters": [{"property": "Action", "value": "MemberAdd"}],
        "sort": [{"name": "Timestamp", "sortOrder": "descending"}],
    }
    assert_conforms(query, "AuditQueryRequest")
    created = client.post("/api/v2/audits/query", query)
    assert created.status_code == 202, created.text
    assert_conforms(created.json(), "AuditQueryExecutionStatusResponse")
    job = created.json()["id"]
    assert_conforms(client.ok(f"/api/v2/audits/query/{job}"), "AuditQueryExecutionStatusResponse")
    results = client.ok(f"/api/v2/audits/query/{job}/results", pageSize=5)
    assert results["entities"]
    assert "cursor" in results
    assert_conforms(results, "AuditQueryExecutionResultsResponse")


def test_removal_events_match_the_models(emu, client):
    user = emu.org.user_ids_by_index()[0]
    role_id = emu.org.roles[0]["id"]
    response = client.session.put(f"{emu.api_url}/api/v2/authorization/roles/{role_id}/users/remove", json=[user])
    assert response.status_code == 200, response.text
    query = {"interval": "2019-01-01T00:00:00Z/2100-01-01T00:00:00Z", "serviceName": "PeoplePermissions"}
    job = client.post("/api/v2/audits/query", {**query, "filters": [{"property": "Action", "value": "MemberRemove"}]})
    results = client.ok(f"/api/v2/audits/query/{job.json()['id']}/results")
    assert results["entities"]
    assert_conforms(results, "AuditQueryExecutionResultsResponse")


def test_error_bodies_match_the_models(emu):
    client = ApiClient(emu)
    bodies = [
        requests.get(f"{emu.api_url}/api/v2/users", timeout=10),  # 401, no token
        client.get("/api/v2/users/not-a-user"),  # 404
        client.get("/api/v2/nothing/here"),  # 404, unknown path
        client.get("/api/v2/users", pageSize=501),  # 400
        client.session.delete(f"{emu.api_url}/api/v2/users", timeout=10),  # 405
        client.post("/api/v2/audits/query", {"interval": "nonsense", "serviceName": "Directory"}),  # 400
        client.session.post(f"{emu.api_url}/api/v2/audits/query", data=b"x" * 512_001, timeout=10),  # 413
    ]
    emu.faults.rate_limit(retry_after=3, count=1)
    bodies.append(client.get("/api/v2/users"))  # 429
    emu.faults.status(503, count=1)
    bodies.append(client.get("/api/v2/users"))
    for response in bodies:
        assert response.status_code >= 400
        assert_conforms(response.json(), "ErrorBody")


def test_a_fresh_default_org_matches_the_models():
    """Another seed and size: generated values vary per user, so one org is not proof for all."""
    with GenesysCloudEmulator(users=1000, seed=11) as emu:
        client = ApiClient(emu)
        for state in ("active", "inactive", "deleted"):
            body = client.ok("/api/v2/users", pageSize=500, state=state, expand=USER_EXPANDS)
            assert body["entities"]
            assert_conforms(body, "UserEntityListing")
