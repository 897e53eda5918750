"""The audit query job family: Queued -> Running -> Succeeded on the injected clock, then results."""

from __future__ import annotations

import pytest

from airflow_provider_genesys.testing import GenesysCloudEmulator

from .conftest import ApiClient

QUERY = {"interval": "2019-01-01T00:00:00Z/2026-01-01T00:00:00Z", "serviceName": "PeoplePermissions"}


@pytest.fixture
def slow_jobs():
    with GenesysCloudEmulator(users=40, job_seconds=30) as emu:
        yield emu, ApiClient(emu)


def test_states_progress_with_the_clock(slow_jobs):
    emu, client = slow_jobs
    created = client.post("/api/v2/audits/query", QUERY)
    assert created.status_code == 202
    job = created.json()
    assert job["state"] == "Queued"
    assert (job["serviceName"], job["interval"]) == ("PeoplePermissions", QUERY["interval"])
    status = f"/api/v2/audits/query/{job['id']}"
    assert client.ok(status)["state"] == "Queued"
    assert client.get(f"{status}/results").status_code == 400
    emu.advance_clock(10)
    assert client.ok(status)["state"] == "Running"
    emu.advance_clock(20)
    assert client.ok(status)["state"] == "Succeeded"


def test_job_polls_ends_a_job_after_that_many_status_reads_whatever_the_clock():
    with GenesysCloudEmulator(users=20, job_seconds=0, job_polls=2) as emu:
        client = ApiClient(emu)
        job = client.post("/api/v2/audits/query", QUERY).json()
        status = f"/api/v2/audits/query/{job['id']}"
        assert client.get(f"{status}/results").status_code == 400  # results do not count as a read
        assert [client.ok(status)["state"] for _ in range(4)] == ["Queued", "Running", "Succeeded", "Succeeded"]
        assert client.get(f"{status}/results").status_code == 200

def test_results_are_cursor_paged_and_match_the_org(emu, client):
    job = client.post("/api/v2/audits/query", QUERY).json()
    entities, params = [], {"pageSize": 50}
    body = client.ok(f"/api/v2/audits/query/{job['id']}/results", **params)
    while True:
        assert body["id"] == job["id"]
        assert body["pageSize"] == 50
        entities += body["entities"]
        if "cursor" not in body:
            break
        body = client.ok(f"/api/v2/audits/query/{job['id']}/results", cursor=body["cursor"], **params)
    expected = {(s, r, d) for s, r, d in emu.org.iter_grants()}
    got = {
        (e["propertyChanges"][0]["newValues"][0], e["entity"]["id"], e["propertyChanges"][1]["newValues"][0])
        for e in entities
    }
    assert got <= expected
    assert len(got) == len(entities) > 0
    # as Genesys records role membership: service PeoplePermissions, entity the role, MemberAdd
    assert all(e["serviceName"] == "PeoplePermissions" and e["entityType"] == "Role" for e in entities)
    assert {e["action"] for e in entities} == {"MemberAdd"}
    assert all(e["entity"]["name"] == next(r["name"] for r in emu.org.roles if r["id"] == e["entity"]["id"])
               for e in entities)
    dates = [e["eventDate"] for e in entities]
    assert dates == sorted(dates)
    again = client.post("/api/v2/audits/query", QUERY).json()
    assert client.ok(f"/api/v2/audits/query/{again['id']}/results", pageSize=50)["entities"] == entities[:50]


def test_filters_and_other_services(emu, client):
    user = emu.org.user_ids("active")[5]
    body = {**QUERY, "serviceName": "Directory", "filters": [{"property": "EntityId", "value": user}]}
    job = client.post("/api/v2/audits/query", body).json()
    results = client.ok(f"/api/v2/audits/query/{job['id']}/results")
    assert [e["entity"]["id"] for e in results["entities"]] == [user]
    other = client.post("/api/v2/audits/query", {**QUERY, "serviceName": "Routing"}).json()
    assert client.ok(f"/api/v2/audits/query/{other['id']}/results")["entities"] == []


@pytest.mark.parametrize("state", ["Failed", "Cancelled"])
def test_job_state_fault(emu, client, state):
    emu.faults.job_state(state)
    failing = client.post("/api/v2/audits/query", QUERY).json()
    assert client.ok(f"/api/v2/audits/query/{failing['id']}")["state"] == state
    assert client.get(f"/api/v2/audits/query/{failing['id']}/results").status_code == 400
    fine = client.post("/api/v2/audits/query", QUERY).json()
    assert client.ok(f"/api/v2/audits/query/{fine['id']}")["state"] == "Succeeded"


@pytest.mark.parametrize(
    "body", [{}, {"serviceName": "Directory"}, {**QUERY, "interval": "yesterday"}, {**QUERY, "filters": "x"}]
)
def test_bad_query_400(client, body):
    response = client.post("/api/v2/audits/query", body)
    assert response.status_code == 400
    assert response.json()["code"] == "bad.request"


def test_sort_order_is_ascending_or_descending_and_pages_hold_500(emu, client):
    def events(order: str) -> list[dict]:
        job = client.post("/api/v2/audits/query", {**QUERY, "sort": [{"name": "Timestamp", "sortOrder": order}]})
        return client.ok(f"/api/v2/audits/query/{job.json()['id']}/results", pageSize=500)["entities"]

    up, down = events("ascending"), events("descending")
    assert len(up) > 100
    assert [e["eventDate"] for e in down] == sorted((e["eventDate"] for e in up), reverse=True)
    assert client.post("/api/v2/audits/query", {**QUERY, "sort": [{"sortOrder": "desc"}]}).status_code == 400
    job = client.post("/api/v2/audits/query", QUERY).json()
    assert client.get(f"/api/v2/audits/query/{job['id']}/results", pageSize=501).status_code == 400


def test_unknown_job_404(client):
    assert client.get("/api/v2/audits/query/nope").status_code == 404
