"""Paths, parameters, envelopes and ground truth of every emulated endpoint."""

from __future__ import annotations

import pytest

from .conftest import page_through

PAGE_FIELDS = {"entities", "pageSize", "pageNumber", "total", "pageCount", "firstUri", "selfUri", "lastUri"}


# ---- users ---------------------------------------------------------------------------------------
def test_users_page_envelope_and_uris(shared_client, shared_emu):
    body = shared_client.ok("/api/v2/users")
    total = shared_emu.org.user_count("active")
    assert PAGE_FIELDS | {"nextUri"} == set(body)
    assert (body["pageSize"], body["pageNumber"], body["total"]) == (25, 1, total)
    assert body["pageCount"] == -(-total // 25)
    assert body["firstUri"] == body["selfUri"] == "/api/v2/users?pageSize=25&pageNumber=1"
    assert body["nextUri"] == "/api/v2/users?pageSize=25&pageNumber=2"
    assert body["lastUri"] == f"/api/v2/users?pageSize=25&pageNumber={body['pageCount']}"
    last = shared_client.ok("/api/v2/users", pageNumber=body["pageCount"])
    assert "nextUri" not in last
    assert last["previousUri"].endswith(f"pageNumber={body['pageCount'] - 1}")


def test_users_listing_matches_ground_truth_for_every_state(shared_client, shared_emu):
    for state in ("active", "inactive", "deleted", "any"):
        users = page_through(shared_client, "/api/v2/users", pageSize=100, state=state)
        assert users == list(shared_emu.org.iter_users(state)), state


def test_users_sorted_by_name_then_id_and_desc_reverses(shared_client):
    users = page_through(shared_client, "/api/v2/users", pageSize=500, state="any")
    keys = [(u["name"], u["id"]) for u in users]
    assert keys == sorted(keys)
    desc = page_through(shared_client, "/api/v2/users", pageSize=500, state="any", sortOrder="DESC")
    assert [u["id"] for u in desc] == [u["id"] for u in reversed(users)]


def test_users_id_filter_and_state(shared_client, shared_emu):
    active = shared_emu.org.user_ids("active")[:3]
    deleted = shared_emu.org.user_ids("deleted")[:1]
    body = shared_client.ok("/api/v2/users", id=",".join(active + deleted))
    assert {u["id"] for u in body["entities"]} == set(active)
    body = shared_client.ok("/api/v2/users", id=",".join(active + deleted), state="any")
    assert {u["id"] for u in body["entities"]} == set(active + deleted)


def test_users_expand_authorization_and_unknown_expands_ignored(shared_client, shared_emu):
    body = shared_client.ok("/api/v2/users", pageSize=5, expand="authorization,presence,bogus")
    for user in body["entities"]:
        auth = user["authorization"]
        assert set(auth) == {"roles", "unusedRoles", "permissions", "permissionPolicies"}
        roles = {r["id"] for r in auth["roles"]}
        assert roles == {role for subject, role, _ in shared_emu.org.iter_grants() if subject == user["id"]}
        assert "presence" not in user
        assert "bogus" not in user
    plain = shared_client.ok("/api/v2/users", pageSize=5)
    assert all("authorization" not in u for u in plain["entities"])


def test_users_page_size_limits_and_result_cap(shared_client):
    assert shared_client.ok("/api/v2/users", pageSize=500)["pageSize"] == 500
    too_big = shared_client.get("/api/v2/users", pageSize=501)
    assert too_big.status_code == 400
    assert "500" in too_big.json()["message"]
    assert shared_client.get("/api/v2/users", pageSize=100, pageNumber=100).status_code == 200
    capped = shared_client.get("/api/v2/users", pageSize=100, pageNumber=101)
    assert capped.status_code == 400
    assert capped.json()["code"] == "bad.request"
    assert "10,000" in capped.json()["message"]
    assert "/api/v2/users/query" in capped.json()["message"]
    assert shared_client.get("/api/v2/users", pageSize=500, pageNumber=21).status_code == 400


@pytest.mark.parametrize(
    "params",
    [{"pageSize": "abc"}, {"pageSize": 0}, {"pageNumber": 0}, {"state": "gone"}, {"sortOrder": "UP"}],
)
def test_bad_parameters_get_400_with_genesys_error_body(shared_client, params):
    response = shared_client.get("/api/v2/users", **params)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "bad.request"
    assert body["status"] == 400
    assert body["contextId"] == response.headers["inin-correlation-id"]


def test_users_query_cursor_paging_covers_every_user_once(shared_client, shared_emu):
    seen, params, pages = [], {"pageSize": 40, "state": "any"}, 0
    body = shared_client.ok("/api/v2/users/query", **params)
    while True:
        pages += 1
        seen += body["entities"]
        assert body["selfUri"].startswith("/api/v2/users/query")
        if "cursor" not in body:
            assert "nextUri" not in body
            break
        assert body["nextUri"].startswith("/api/v2/users/query?cursor=")
        body = shared_client.ok("/api/v2/users/query", cursor=body["cursor"], **params)
    ids = [u["id"] for u in seen]
    assert ids == sorted(shared_emu.org.user_ids("any"))
    assert pages == -(-len(ids) // 40)
    assert shared_client.get("/api/v2/users/query", pageSize=501).status_code == 400
    assert shared_client.get("/api/v2/users/query", cursor="!!!").status_code == 400


def test_users_query_desc(shared_client, shared_emu):
    first = shared_client.ok("/api/v2/users/query", pageSize=10, sortOrder="DESC")
    second = shared_client.ok("/api/v2/users/query", pageSize=10, sortOrder="DESC", cursor=first["cursor"])
    ids = [u["id"] for u in first["entities"] + second["entities"]]
    assert ids == sorted(shared_emu.org.user_ids("active"), reverse=True)[:20]


def test_get_user_roles_and_404(shared_client, shared_emu):
    user_id = shared_emu.org.user_ids("active")[0]
    assert shared_client.ok(f"/api/v2/users/{user_id}") == shared_emu.org.user(user_id)
    roles = shared_client.ok(f"/api/v2/users/{user_id}/roles")
    assert roles == shared_client.ok(f"/api/v2/users/{user_id}", expand="authorization")["authorization"]
    deleted = shared_emu.org.user_ids("deleted")[0]
    assert shared_client.get(f"/api/v2/users/{deleted}").status_code == 404
    assert shared_client.ok(f"/api/v2/users/{deleted}", state="deleted")["state"] == "deleted"
    missing = shared_client.get("/api/v2/users/00000000-0000-4000-8000-000000000000")
    assert missing.status_code == 404
    assert missing.json()["code"] == "not.found"


# ---- roles ---------------------------------------------------------------------------------------
def test_roles_listing_user_count_and_filters(shared_client, shared_emu):
    org = shared_emu.org
    without = page_through(shared_client, "/api/v2/authorization/roles", pageSize=5, userCount="false")
    assert sorted(without, key=lambda r: r["id"]) == sorted(org.roles, key=lambda r: r["id"])
    assert [r["name"].lower() for r in without] == sorted(r["name"].lower() for r in without)
    with_count = shared_client.ok("/api/v2/authorization/roles", pageSize=100)["entities"]
    assert all(r["userCount"] == org.role_user_count(r["id"]) for r in with_count)
    named = shared_client.ok("/api/v2/authorization/roles", name="admin", userCount="false")["entities"]
    assert {r["name"] for r in named} == {r["name"] for r in org.roles if "admin" in r["name"].lower()}
    assert len(named) >= 2
    some = [r["id"] for r in org.roles[:2]]
    assert {
        r["id"] for r in shared_client.ok("/api/v2/authorization/roles", id=",".join(some))["entities"]
    } == set(some)
    by_permission = shared_client.ok("/api/v2/authorization/roles", permission="quality:evaluation:add")
    assert [r["name"] for r in by_permission["entities"]] == ["Quality Evaluator"]
    assert shared_client.get("/api/v2/authorization/roles", pageSize=101).status_code == 400
    by_id = shared_client.ok("/api/v2/authorization/roles", sortBy="id", userCount="false")["entities"]
    assert [r["id"] for r in by_id] == sorted(r["id"] for r in by_id)


def test_role_get_users_and_subject_grants(shared_client, shared_emu):
    org = shared_emu.org
    supervisor = next(r for r in org.roles if r["name"] == "Supervisor")
    assert shared_client.ok(f"/api/v2/authorization/roles/{supervisor['id']}")["name"] == "Supervisor"
    expected: dict[str, set[str]] = {}
    types: dict[str, str] = {}
    for subject, kind, role, division in org.iter_all_grants():
        if role == supervisor["id"]:
            expected.setdefault(subject, set()).add(division)
            types[subject] = kind
    users = shared_client.ok(f"/api/v2/authorization/roles/{supervisor['id']}/users", pageSize=100)
    assert set(users) == {"entities", "pageSize", "pageNumber", "total", "pageCount"}
    assert {u["id"] for u in users["entities"]} == {s for s, kind in types.items() if kind == "PC_USER"}
    grants = page_through(
        shared_client, f"/api/v2/authorization/roles/{supervisor['id']}/subjectgrants", pageSize=7
    )
    assert {g["id"]: {d["id"] for d in g["divisions"]} for g in grants} == expected
    assert {g["id"]: g["type"] for g in grants} == types
    # every kind of subject holds Supervisor somewhere: users, a group, an OAuth client, trustees
    assert set(types.values()) == {"PC_USER", "PC_GROUP", "PC_OAUTH_CLIENT", "PC_TRUSTEE_USER", "PC_TRUSTEE_GROUP"}
    assert shared_client.get("/api/v2/authorization/roles/nope").status_code == 404


# ---- permissions, divisions, grants, subjects -----------------------------------------------------
def test_permissions_catalogue_and_queries(shared_client, shared_emu):
    everything = page_through(shared_client, "/api/v2/authorization/permissions", pageSize=4)
    assert everything == shared_emu.org.permissions
    routing = shared_client.ok("/api/v2/authorization/permissions", queryType="domain", query="routing")
    assert [p["domain"] for p in routing["entities"]] == ["routing"]
    by_permission = shared_client.ok(
        "/api/v2/authorization/permissions", queryType="permission", query="queue:join"
    )
    [collection] = by_permission["entities"]
    assert {k: [p["action"] for p in v] for k, v in collection["permissionMap"].items()} == {
        "queue": ["join"]
    }


def test_divisions_listing_filters_and_counts(shared_client, shared_emu):
    org = shared_emu.org
    assert page_through(shared_client, "/api/v2/authorization/divisions", pageSize=2) == org.divisions
    home = org.divisions[0]
    assert shared_client.ok("/api/v2/authorization/divisions", id=home["id"])["entities"] == [home]
    assert shared_client.ok("/api/v2/authorization/divisions", name="sales")["entities"][0]["name"] == "Sales"
    counted = shared_client.ok("/api/v2/authorization/divisions", objectCount="true")["entities"]
    living = org.user_count("active") + org.user_count("inactive")
    assert sum(d["objectCounts"]["USER"] for d in counted) == living
    assert shared_client.ok(f"/api/v2/authorization/divisions/{home['id']}") == home


def test_division_grants_cover_all_grants_including_wildcard(shared_client, shared_emu):
    org = shared_emu.org
    collected = set()
    for division_id in [d["id"] for d in org.divisions] + ["*"]:
        for grant in page_through(
            shared_client, f"/api/v2/authorization/divisions/{division_id}/grants", pageSize=40
        ):
            assert grant["division"]["id"] == division_id
            collected.add((grant["subjectId"], grant["role"]["id"], grant["division"]["id"]))
    assert collected == {(s, r, d) for s, _, r, d in org.iter_all_grants()}
    assert len(collected) == org.grant_count() + len(org.subjects.grants)
    home = shared_client.ok(f"/api/v2/authorization/divisions/{org.divisions[0]['id']}/grants", pageSize=40)
    assert set(home) == {"entities", "pageSize", "pageNumber", "total", "pageCount"}  # no URIs here
    assert home["pageCount"] > 1
    encoded = shared_client.ok("/api/v2/authorization/divisions/%2A/grants")
    assert encoded["total"] >= 1
    assert encoded["entities"][0]["division"] == {
        "id": "*",
        "homeDivision": False,
        "selfUri": "/api/v2/authorization/divisions/*",
    }
    assert shared_client.get("/api/v2/authorization/divisions/nope/grants").status_code == 404
    assert (
        shared_client.get(
            f"/api/v2/authorization/divisions/{org.divisions[0]['id']}/grants", pageSize=501
        ).status_code
        == 400
    )


def test_subject_grants_match_ground_truth(shared_client, shared_emu):
    org = shared_emu.org
    admin = org.user_ids_by_index()[0]
    subject = shared_client.ok(f"/api/v2/authorization/subjects/{admin}")
    assert set(subject) == {"id", "name", "grants", "version", "selfUri"}
    got = {(g["subjectId"], g["role"]["id"], g["division"]["id"]) for g in subject["grants"]}
    assert got == {g for g in org.iter_grants() if g[0] == admin}
    assert any(g["division"]["id"] == "*" for g in subject["grants"])
    deleted = org.user_ids("deleted")[0]
    assert shared_client.ok(f"/api/v2/authorization/subjects/{deleted}")["grants"] == []
    assert shared_client.get("/api/v2/authorization/subjects/nope").status_code == 404


def test_tokens_me_and_organizations_me(shared_client, shared_emu):
    info = shared_client.ok("/api/v2/tokens/me")
    assert info["OAuthClient"]["id"] == shared_emu.client_id
    assert info["organization"]["id"] == shared_emu.org.organization["id"]
    assert shared_client.ok("/api/v2/organizations/me") == shared_emu.org.organization


def test_unknown_path_404_and_wrong_method_405(shared_client):
    unknown = shared_client.get("/api/v2/nothing/here")
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "not.found"
    wrong = shared_client.post("/api/v2/users", json={})
    assert wrong.status_code == 405
    assert wrong.json()["status"] == 405
    for response in (unknown, wrong):
        assert response.json()["contextId"] == response.headers["inin-correlation-id"]
