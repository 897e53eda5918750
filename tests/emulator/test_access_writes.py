"""The writes ops automation needs (issue 15), beyond the bulk grant writes of test_write_endpoints.py:
the one-grant DELETE, ``POST /authorization/roles/{id}``, group and queue members, the user PATCH, external
ids, and the switches around them (propagation delay, a write applied but answered 5xx or cut, a subject
404 just after it was created, a role deleted under a grant write, a stale version)."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from airflow_provider_genesys.testing import GenesysCloudEmulator

from .conftest import ApiClient, page_through
from .test_models import assert_conforms
from .test_write_endpoints import (
    ROLES,
    SUBJECTS,
    assert_error,
    assert_reads_match_truth,
    division_id,
    grants_body,
    role_id,
    truth,
    write,
)

GROUPS = "/api/v2/groups"
QUEUES = "/api/v2/routing/queues"


def one_grant(user: str, division: str, role: str) -> str:
    return f"{SUBJECTS}/{user}/divisions/{division}/roles/{role}"


def group_members(client: ApiClient, group: str) -> set[str]:
    return {u["id"] for u in page_through(client, f"{GROUPS}/{group}/members", pageSize=100)}


def queue_members(client: ApiClient, queue: str) -> set[str]:
    return {m["id"] for m in page_through(client, f"{QUEUES}/{queue}/members", pageSize=100)}


def audit(client: ApiClient, service: str) -> list[dict[str, Any]]:
    query = {"interval": "2019-01-01T00:00:00Z/2100-01-01T00:00:00Z", "serviceName": service}
    job = client.post("/api/v2/audits/query", query)
    assert job.status_code == 202, job.text
    results = client.ok(f"/api/v2/audits/query/{job.json()['id']}/results", pageSize=500)
    assert_conforms(results, "AuditQueryExecutionResultsResponse")
    return list(results["entities"])


# ---- one grant, and a role deleted under a grant write ------------------------------------------
def test_one_grant_delete_removes_that_grant_and_is_404_when_absent(client, emu):
    user = emu.org.user_ids("active")[3]
    role, division = sorted(truth(emu, user))[0]
    response = write(client, "DELETE", one_grant(user, division, role))
    assert response.status_code == 204, response.text
    assert (role, division) not in truth(emu, user)
    assert_reads_match_truth(client, emu, user)
    assert_error(write(client, "DELETE", one_grant(user, division, role)), 404, "not.found", role)
    assert_error(write(client, "DELETE", one_grant(user, division, "no-role")), 404, "not.found")
    assert_error(write(client, "DELETE", one_grant(user, "no-division", role)), 404, "not.found")
    assert_error(write(client, "DELETE", one_grant("nobody", division, role)), 404, "not.found", "nobody")


def test_bulkremove_is_refused_as_a_whole_after_a_role_is_deleted_and_one_grant_deletes_finish(client, emu):
    user = emu.org.user_ids("active")[4]
    doomed, kept = role_id(emu, "Quality Evaluator"), role_id(emu, "Supervisor")
    pairs = [(doomed, division_id(emu, 1)), (kept, division_id(emu, 2))]
    assert write(client, "POST", f"{SUBJECTS}/{user}/bulkadd", grants_body(*pairs)).status_code == 204
    emu.org.delete_role(doomed)
    assert_error(write(client, "GET", f"{ROLES}/{doomed}"), 404, "not.found")
    assert doomed not in {r["id"] for r in page_through(client, ROLES, pageSize=100)}
    assert pairs[0] not in truth(emu, user)  # a deleted role's grants vanish with it
    response = write(client, "POST", f"{SUBJECTS}/{user}/bulkremove", grants_body(*pairs))
    assert_error(response, 400, "bad.request", f"role {doomed}")
    assert pairs[1] in truth(emu, user)  # refused as a whole: nothing removed
    # what Genesys' Terraform provider does then: one DELETE per grant, 404 counting as done
    assert_error(write(client, "DELETE", one_grant(user, pairs[0][1], doomed)), 404, "not.found")
    assert write(client, "DELETE", one_grant(user, pairs[1][1], kept)).status_code == 204
    assert pairs[1] not in truth(emu, user)
    assert_error(write(client, "POST", f"{SUBJECTS}/{user}/bulkadd", grants_body(pairs[0])), 400, "bad.request")
    direct = [g for g in client.ok(f"{SUBJECTS}/{user}")["grants"] if g["subjectId"] == user]
    assert {(g["role"]["id"], g["division"]["id"]) for g in direct} == truth(emu, user)


def test_a_deleted_division_leaves_the_listings_and_refuses_grant_writes(client, emu):
    user = emu.org.user_ids("active")[5]
    division = division_id(emu, 3)
    emu.org.delete_division(division)
    assert division not in {d["id"] for d in page_through(client, "/api/v2/authorization/divisions", pageSize=100)}
    assert all(d != division for _, d in truth(emu, user))
    body = grants_body((role_id(emu, "Agent"), division))
    assert_error(write(client, "POST", f"{SUBJECTS}/{user}/bulkadd", body), 400, "bad.request", division)
    with pytest.raises(KeyError):
        emu.org.delete_division("*")


# ---- one role to many subjects ----------------------------------------------------------------------
def test_post_role_grants_every_subject_every_division(client, emu):
    users = emu.org.user_ids("active")[20:23]
    role = role_id(emu, "Quality Evaluator")
    divisions = [division_id(emu, 1), division_id(emu, 2)]
    body = {"subjectIds": users, "divisionIds": divisions}
    assert_conforms(body, "SubjectDivisions")
    response = write(client, "POST", f"{ROLES}/{role}", body)
    assert response.status_code == 204, response.text
    for user in users:
        assert {(role, d) for d in divisions} <= truth(emu, user)
    assert_reads_match_truth(client, emu, users[0])
    before = {u: truth(emu, u) for u in users}
    refused = write(client, "POST", f"{ROLES}/{role}", {"subjectIds": [users[0], "ghost"], "divisionIds": ["*"]})
    assert_error(refused, 400, "bad.request", "ghost")
    assert {u: truth(emu, u) for u in users} == before
    assert_error(write(client, "POST", f"{ROLES}/{role}", {"subjectIds": users}), 400, "bad.request", "divisionIds")
    assert_error(write(client, "POST", f"{ROLES}/no-role", body), 404, "not.found")


def test_post_role_to_a_group_shows_in_the_group_and_through_it_in_its_members(client, emu):
    org = emu.org
    group = org.subjects.groups[1]
    member = org.user_id(org.subjects.members(1)[0])
    role, division = role_id(emu, "Quality Evaluator"), division_id(emu, 4)
    response = write(client, "POST", f"{ROLES}/{role}", {"subjectIds": [group.id], "divisionIds": [division]},
                     subjectType="PC_GROUP")
    assert response.status_code == 204, response.text
    grants = client.ok(f"{SUBJECTS}/{group.id}")["grants"]
    assert (group.id, role, division) in {(g["subjectId"], g["role"]["id"], g["division"]["id"]) for g in grants}
    inherited = client.ok(f"{SUBJECTS}/{member}")["grants"]
    assert (group.id, role, division) in {(g["subjectId"], g["role"]["id"], g["division"]["id"]) for g in inherited}
    # the user's direct grants (the sync's business) do not include it
    assert (role, division) not in truth(emu, member)
    assert write(client, "POST", f"{SUBJECTS}/{group.id}/bulkremove",
                 grants_body((role, division))).status_code == 204
    assert role not in {g["role"]["id"] for g in client.ok(f"{SUBJECTS}/{group.id}")["grants"]}


def test_include_duplicates_lists_a_grant_held_directly_and_through_a_group_twice(client, emu):
    org = emu.org
    group = org.subjects.groups[1]
    member = org.user_id(org.subjects.members(1)[0])
    pair = (role_id(emu, "Quality Evaluator"), division_id(emu, 2))
    assert write(client, "POST", f"{SUBJECTS}/{group.id}/bulkadd", grants_body(pair)).status_code == 204
    assert write(client, "POST", f"{SUBJECTS}/{member}/bulkadd", grants_body(pair)).status_code == 204

    def holders(**params: Any) -> list[str]:
        grants = client.ok(f"{SUBJECTS}/{member}", **params)["grants"]
        return sorted(g["subjectId"] for g in grants if (g["role"]["id"], g["division"]["id"]) == pair)

    assert holders() == [member]
    assert holders(includeDuplicates="true") == sorted([member, group.id])
    assert_conforms(client.ok(f"{SUBJECTS}/{member}", includeDuplicates="true"), "AuthzSubject")


# ---- group members ----------------------------------------------------------------------------------
def test_group_members_add_and_remove_with_the_groups_version(client, emu):
    org = emu.org
    group = org.subjects.groups[0].id
    outsiders = [u for u in org.user_ids("active") if u not in group_members(client, group)][:3]
    version = client.ok(f"{GROUPS}/{group}")["version"]
    body = {"memberIds": outsiders, "version": version}
    assert_conforms(body, "GroupMembersUpdate")
    response = write(client, "POST", f"{GROUPS}/{group}/members", body)
    assert (response.status_code, response.json()) == (202, {})
    after = client.ok(f"{GROUPS}/{group}")
    assert after["version"] == version + 1
    assert set(outsiders) <= group_members(client, group)
    assert after["memberCount"] == len(group_members(client, group))
    user = client.ok(f"/api/v2/users/{outsiders[0]}", expand="groups")
    assert group in {g["id"] for g in user["groups"]}
    # a stale version is refused and changes nothing
    stale = write(client, "POST", f"{GROUPS}/{group}/members", {"memberIds": [org.user_ids("active")[-1]],
                                                              "version": version})
    assert_error(stale, 409, "conflict", "version")
    assert client.ok(f"{GROUPS}/{group}")["version"] == version + 1
    removed = write(client, "DELETE", f"{GROUPS}/{group}/members", ids=",".join(outsiders[:2]))
    assert (removed.status_code, removed.json()) == (202, {})
    assert not set(outsiders[:2]) & group_members(client, group)
    assert client.ok(f"{GROUPS}/{group}")["version"] == version + 2


def test_group_member_writes_are_limited_to_50_ids_and_validated(client, emu):
    org = emu.org
    group = org.subjects.groups[0].id
    version = client.ok(f"{GROUPS}/{group}")["version"]
    fifty_one = org.user_ids("active")[:51]
    response = write(client, "POST", f"{GROUPS}/{group}/members", {"memberIds": fifty_one, "version": version})
    assert_error(response, 400, "bad.request", "50")
    assert_error(write(client, "DELETE", f"{GROUPS}/{group}/members", ids=",".join(fifty_one)), 400, "bad.request",
                 "50")
    assert write(client, "POST", f"{GROUPS}/{group}/members",
                 {"memberIds": fifty_one[:50], "version": version}).status_code == 202
    version += 1
    no_version = write(client, "POST", f"{GROUPS}/{group}/members", {"memberIds": fifty_one[:1]})
    assert_error(no_version, 400, "bad.request", "version")
    ghost = write(client, "POST", f"{GROUPS}/{group}/members", {"memberIds": ["ghost"], "version": version})
    assert_error(ghost, 400, "bad.request", "ghost")
    assert_error(write(client, "DELETE", f"{GROUPS}/{group}/members"), 400, "bad.request", "ids")
    assert_error(write(client, "DELETE", f"{GROUPS}/nogroup/members", ids=fifty_one[0]), 404, "not.found")
    assert client.ok(f"{GROUPS}/{group}")["version"] == version


def test_a_stale_version_can_be_a_400_as_terraform_also_sees():
    with GenesysCloudEmulator(users=30, seed=4, version_conflict="400") as emu:
        client = ApiClient(emu)
        group = emu.org.subjects.groups[0].id
        version = client.ok(f"{GROUPS}/{group}")["version"]
        response = write(client, "POST", f"{GROUPS}/{group}/members",
                         {"memberIds": emu.org.user_ids("active")[:1], "version": version + 7})
        assert_error(response, 400, "bad.request", "does not match the current version")


# ---- queue members ----------------------------------------------------------------------------------
def test_queue_members_add_remove_and_the_100_limit(client, emu):
    routing = emu.analytics.routing
    queue = routing.queue_ids[0]
    members = queue_members(client, queue)
    outsiders = [u for u in emu.org.user_ids("active") if u not in members][:2]
    body = [{"id": u} for u in outsiders]
    assert_conforms(body[0], "WritableEntity")
    response = write(client, "POST", f"{QUEUES}/{queue}/members", body)
    assert response.status_code == 204, response.text
    assert queue_members(client, queue) == members | set(outsiders)
    response = write(client, "POST", f"{QUEUES}/{queue}/members", body[:1], delete="true")
    assert response.status_code == 204, response.text
    assert queue_members(client, queue) == members | set(outsiders[1:])
    assert {routing.org.user_id(i) for i in routing.members(0)} == members | set(outsiders[1:])
    too_many = [{"id": u} for u in emu.org.user_ids("active")[:101]]
    assert_error(write(client, "POST", f"{QUEUES}/{queue}/members", too_many), 400, "bad.request", "100")
    assert_error(write(client, "POST", f"{QUEUES}/{queue}/members", [{"id": "ghost"}]), 400, "bad.request", "ghost")
    assert_error(write(client, "POST", f"{QUEUES}/no-queue/members", body), 404, "not.found")
    assert write(client, "POST", f"{QUEUES}/{queue}/members", too_many[:100]).status_code == 204


# ---- users: PATCH state, external ids -----------------------------------------------------------------
def test_patch_user_state_with_its_version(client, emu):
    user = emu.org.user_ids("active")[30]
    version = client.ok(f"/api/v2/users/{user}")["version"]
    body = {"state": "inactive", "version": version}
    assert_conforms(body, "UpdateUser")
    response = write(client, "PATCH", f"/api/v2/users/{user}", body)
    assert response.status_code == 200, response.text
    assert (response.json()["state"], response.json()["version"]) == ("inactive", version + 1)
    assert_conforms(response.json(), "User")
    assert user in emu.org.user_ids("inactive")
    assert user in {u["id"] for u in page_through(client, "/api/v2/users", state="inactive", pageSize=500)}
    assert_error(write(client, "PATCH", f"/api/v2/users/{user}", body), 409, "conflict", "version")
    assert_error(write(client, "PATCH", f"/api/v2/users/{user}", {"state": "active"}), 400, "bad.request", "version")
    assert_error(write(client, "PATCH", f"/api/v2/users/{user}", {"state": "gone", "version": version + 1}), 400,
                 "bad.request", "state")
    back = write(client, "PATCH", f"/api/v2/users/{user}", {"state": "active", "version": version + 1})
    assert back.status_code == 200, back.text
    assert emu.org.state_of(emu.org.index_of(user)) == "active"
    assert_error(write(client, "PATCH", "/api/v2/users/nobody", body), 404, "not.found")


def test_external_ids_find_users_by_their_hr_key(client, emu):
    org = emu.org
    holders = [i for i in range(org.user_count()) if org.external_ids(i)]
    assert 0 < len(holders) < org.user_count()  # some users have no HR key
    i = holders[0]
    ids = client.ok(f"/api/v2/users/{org.user_id(i)}/externalid")
    assert [(e["authorityName"], e["externalKey"]) for e in ids] == [("hr", f"E{i + 1:06d}")]
    for entry in ids:
        assert_conforms(entry, "UserExternalIdentifier")
    found = client.ok(f"/api/v2/users/externalid/hr/E{i + 1:06d}", expand="authorization")
    assert found["id"] == org.user_id(i)
    assert "authorization" in found
    assert_conforms(found, "User")
    assert_error(write(client, "GET", f"/api/v2/users/externalid/HR/E{i + 1:06d}"), 404, "not.found")  # case
    assert_error(write(client, "GET", "/api/v2/users/externalid/hr/E999999"), 404, "not.found")
    without = next(n for n in range(org.user_count()) if not org.external_ids(n))
    assert client.ok(f"/api/v2/users/{org.user_id(without)}/externalid") == []


# ---- switches ---------------------------------------------------------------------------------------
def test_propagation_delay_shows_the_old_state_until_the_clock_passes_it():
    with GenesysCloudEmulator(users=60, seed=5, propagation_delay_seconds=60) as emu:
        client = ApiClient(emu)
        user = emu.org.user_ids("active")[2]
        pair = (role_id(emu, "Quality Evaluator"), division_id(emu, 1))
        group = emu.org.subjects.groups[0].id
        version = client.ok(f"{GROUPS}/{group}")["version"]
        assert write(client, "POST", f"{SUBJECTS}/{user}/bulkadd", grants_body(pair)).status_code == 204
        assert write(client, "POST", f"{GROUPS}/{group}/members",
                     {"memberIds": [user], "version": version}).status_code == 202
        assert emu.writes.pending == 2
        emu.advance_clock(59)
        assert pair not in truth(emu, user)
        assert pair[0] not in {g["role"]["id"] for g in client.ok(f"{SUBJECTS}/{user}")["grants"]}
        assert client.ok(f"{GROUPS}/{group}")["version"] == version
        emu.advance_clock(1)
        assert emu.writes.pending == 0
        assert pair in truth(emu, user)
        assert_reads_match_truth(client, emu, user)
        assert client.ok(f"{GROUPS}/{group}")["version"] == version + 1
        assert user in group_members(client, group)


def test_a_write_applied_then_answered_503_changed_the_org(client, emu):
    user = emu.org.user_ids("active")[11]
    pair = (role_id(emu, "Quality Evaluator"), division_id(emu, 2))
    fault = emu.faults.add("write_applied_then_5xx", method="POST", path=r"/bulkadd$", status=503)
    response = write(client, "POST", f"{SUBJECTS}/{user}/bulkadd", grants_body(pair))
    assert_error(response, 503, "service.unavailable")
    assert_conforms(response.json(), "ErrorBody")
    assert fault.fired == 1
    assert pair in truth(emu, user)  # the answer failed; the write did not


def test_a_write_applied_then_cut_changed_the_org(client, emu):
    user = emu.org.user_ids("active")[12]
    version = client.ok(f"/api/v2/users/{user}")["version"]
    emu.faults.write_applied_then_cut(method="PATCH")
    with pytest.raises(requests.ConnectionError):
        requests.patch(f"{emu.api_url}/api/v2/users/{user}", json={"state": "inactive", "version": version},
                       headers=client.session.headers, timeout=10)
    assert emu.org.state_of(emu.org.index_of(user)) == "inactive"
    assert client.ok(f"/api/v2/users/{user}", state="any")["version"] == version + 1
    with pytest.raises(ValueError, match="500-599"):
        emu.faults.write_applied_then_5xx(404)


def test_a_new_subject_is_404_for_a_while():
    with GenesysCloudEmulator(users=20, seed=6, new_subject_404_seconds=30) as emu:
        client = ApiClient(emu)
        (user,) = emu.add_users(1)
        body = grants_body((role_id(emu, "Agent"), division_id(emu, 0)))
        assert_error(write(client, "GET", f"{SUBJECTS}/{user}"), 404, "not.found")
        assert_error(write(client, "POST", f"{SUBJECTS}/{user}/bulkadd", body), 404, "not.found")
        assert_error(write(client, "GET", f"/api/v2/users/{user}"), 404, "not.found")
        group = emu.org.subjects.groups[0].id
        version = client.ok(f"{GROUPS}/{group}")["version"]
        response = write(client, "POST", f"{GROUPS}/{group}/members", {"memberIds": [user], "version": version})
        assert_error(response, 400, "bad.request", user)
        emu.advance_clock(30)
        assert write(client, "POST", f"{SUBJECTS}/{user}/bulkadd", body).status_code == 204
        assert client.ok(f"/api/v2/users/{user}")["id"] == user


# ---- audit, tokens and the rate limit -----------------------------------------------------------------
def test_group_queue_and_user_writes_are_audited(client, emu):
    org = emu.org
    group = org.subjects.groups[0]
    newcomer = next(u for u in org.user_ids("active") if u not in group_members(client, group.id))
    version = client.ok(f"{GROUPS}/{group.id}")["version"]
    assert write(client, "POST", f"{GROUPS}/{group.id}/members",
                 {"memberIds": [newcomer], "version": version}).status_code == 202
    assert write(client, "DELETE", f"{GROUPS}/{group.id}/members", ids=newcomer).status_code == 202
    routing = emu.analytics.routing
    queue = routing.queue_ids[routing.queues_of(org.index_of(newcomer))[0]]  # a queue it is a member of
    assert write(client, "POST", f"{QUEUES}/{queue}/members", [{"id": newcomer}], delete="true").status_code == 204
    user_version = client.ok(f"/api/v2/users/{newcomer}")["version"]
    assert write(client, "PATCH", f"/api/v2/users/{newcomer}",
                 {"state": "inactive", "version": user_version}).status_code == 200
    grouped = [(e["entityType"], e["action"], e["entity"]["id"], e["propertyChanges"]) for e in audit(client, "Groups")]
    assert grouped == [
        ("DirectoryGroup", "MemberAdd", group.id, [{"property": "userId", "oldValues": [], "newValues": [newcomer]}]),
        ("DirectoryGroup", "MemberRemove", group.id,
         [{"property": "userId", "oldValues": [newcomer], "newValues": []}]),
    ]
    routed = [(e["entityType"], e["action"], e["entity"]["id"], e["propertyChanges"]) for e in audit(client, "Routing")]
    assert routed == [
        ("Queue", "MemberRemove", queue, [{"property": "userId", "oldValues": [newcomer], "newValues": []}])]
    updates = [e for e in audit(client, "Directory") if e["action"] == "Update"]
    assert [(e["entityType"], e["entity"]["id"], e["propertyChanges"]) for e in updates] == [
        ("User", newcomer, [{"property": "state", "oldValues": ["active"], "newValues": ["inactive"]}])]


def test_grants_from_post_role_and_one_grant_delete_are_audited_as_role_member_changes(client, emu):
    user = emu.org.user_ids("active")[40]
    role, division = role_id(emu, "Quality Evaluator"), division_id(emu, 1)
    body = {"subjectIds": [user], "divisionIds": [division]}
    assert write(client, "POST", f"{ROLES}/{role}", body).status_code == 204
    emu.advance_clock(5)
    assert write(client, "DELETE", one_grant(user, division, role)).status_code == 204
    member = {"property": "userId", "oldValues": [], "newValues": [user]}
    former = {"property": "userId", "oldValues": [user], "newValues": []}
    mine = [e["action"] for e in audit(client, "PeoplePermissions")
            if e["entity"]["id"] == role and (member in e["propertyChanges"] or former in e["propertyChanges"])]
    assert mine == ["MemberAdd", "MemberRemove"]


def test_writes_need_a_token_and_count_against_the_rate_limit():
    with GenesysCloudEmulator(users=30, seed=8, rate_limit=3) as emu:
        client = ApiClient(emu)
        user = emu.org.user_ids("active")[0]
        group = emu.org.subjects.groups[0].id
        anonymous = requests.post(f"{emu.api_url}{QUEUES}/{emu.analytics.routing.queue_ids[0]}/members",
                                  json=[{"id": user}], timeout=10)
        assert_error(anonymous, 401, anonymous.json()["code"])
        version = client.ok(f"{GROUPS}/{group}")["version"]  # 1
        assert write(client, "DELETE", f"{GROUPS}/{group}/members", ids=user).status_code == 202  # 2
        stale = emu.org.user_version(emu.org.index_of(user)) + 5
        response = write(client, "PATCH", f"/api/v2/users/{user}", {"state": "inactive", "version": stale})  # 3
        assert_error(response, 409, "conflict")
        refused = write(client, "POST", f"{GROUPS}/{group}/members", {"memberIds": [user], "version": version + 1})
        assert_error(refused, 429, "too.many.requests.retry.after")
        assert user not in {emu.org.user_id(i) for i in emu.org.subjects.members(0)}
