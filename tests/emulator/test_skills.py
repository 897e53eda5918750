"""Routing skills, languages and division moves: the catalogues, a user's sets and their writes, the
``expand`` that carries them in user listings, and the switches around them (a share of users whose expand
is missing, per-call maximums, concurrent-change refusals, propagation, write faults, audit)."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from airflow_provider_genesys.testing import GenesysCloudEmulator
from airflow_provider_genesys.testing.org import Org

from .conftest import ApiClient, page_through
from .test_access_writes import audit
from .test_models import assert_conforms
from .test_write_endpoints import ROLES, assert_error, division_id, role_id, write

SKILLS, LANGUAGES = "/api/v2/routing/skills", "/api/v2/routing/languages"
KINDS = {"skill": ("routingskills", "skills"), "language": ("routinglanguages", "languages")}


def user_path(user: str, kind: str) -> str:
    return f"/api/v2/users/{user}/{KINDS[kind][0]}"


def catalogue_id(emu: GenesysCloudEmulator, kind: str, name: str) -> str:
    catalogue = emu.org.proficiencies.catalogues[kind]
    return catalogue.ids[catalogue.names.index(name)]


def truth(emu: GenesysCloudEmulator, user: str, kind: str) -> dict[str, float]:
    i = emu.org.index_of(user)
    return emu.org.user_skills(i) if kind == "skill" else emu.org.user_languages(i)


def read(client: ApiClient, user: str, kind: str, **params: Any) -> dict[str, float]:
    """A user's set as its listing shows it (every page)."""
    return {e["id"]: e["proficiency"] for e in page_through(client, user_path(user, kind), **params)}


def move(client: ApiClient, division: str, ids: Any, object_type: str = "USER") -> requests.Response:
    return write(client, "POST", f"/api/v2/authorization/divisions/{division}/objects/{object_type}", ids)


def holder(emu: GenesysCloudEmulator, kind: str, n: int = 0) -> str:
    """The ``n``-th active user holding at least one entry of ``kind``."""
    return [u for u in emu.org.user_ids("active") if truth(emu, u, kind)][n]


# ---- the generated org --------------------------------------------------------------------------------
def test_generated_sets_are_deterministic_realistic_and_derived_not_stored():
    org, again = Org(2000, seed=9), Org(2000, seed=9)
    active = [i for i in range(2000) if org.state_of(i) == "active"]
    skills = [org.user_skills(i) for i in active]
    languages = [org.user_languages(i) for i in active]
    assert skills == [again.user_skills(i) for i in active]
    assert languages == [again.user_languages(i) for i in active]
    assert Org(50, seed=10).proficiencies.catalogues["skill"].ids != org.proficiencies.catalogues["skill"].ids
    counts = [len(s) for s in skills]
    assert 0.1 < counts.count(0) / len(counts) < 0.35  # some hold none
    assert max(counts) == 8
    assert sum(1 <= c <= 8 for c in counts) > 0.6 * len(counts)
    assert {len(s) for s in languages} == {0, 1, 2, 3}
    levels = {v for s in skills + languages for v in s.values()}
    assert levels == {0.0, 1.0, 2.0, 3.0, 4.0, 5.0}  # whole stars, as floats
    assert all(not org.user_skills(i) for i in range(2000) if org.state_of(i) == "deleted")
    assert len(org.proficiencies.catalogues["skill"].ids) >= 30
    assert len(org.proficiencies.catalogues["language"].ids) >= 10
    assert org.proficiencies.changed_users("skill") == 0  # nothing stored until the API changes a user


def test_test_controls_change_one_user_and_audit_it():
    org = Org(20, seed=2)
    user = next(i for i in range(20) if org.user_skills(i))
    kept, dropped = sorted(org.holdings("skill", user))[:1], sorted(org.holdings("skill", user))[1:]
    org.change_proficiencies("skill", user, 100.0, put={kept[0]: 2.5}, remove=frozenset(dropped))
    ids = org.proficiencies.catalogues["skill"].ids
    assert org.user_skills(user) == {ids[kept[0]]: 2.5}
    assert org.proficiencies.changed_users("skill") == 1
    actions = [e[3] for e in org.write_events]
    assert actions.count("MemberRemove") == len(dropped)
    assert actions.count("MemberUpdate") <= 1
    home, other = org.user_division(user), (org.user_division(user) + 1) % len(org.divisions)
    assert org.move_users([user], other, 200.0) == [user]
    assert org.user_division_id(user) == org.divisions[other]["id"] != org.divisions[home]["id"]
    assert org.move_users([user], other, 300.0) == []  # already there: no change, no event


# ---- catalogues -----------------------------------------------------------------------------------
def test_skill_and_language_catalogues_page_filter_and_answer_one(shared_client, shared_emu):
    catalogues = shared_emu.org.proficiencies.catalogues
    skills = page_through(shared_client, SKILLS, pageSize=10)
    assert sorted(s["id"] for s in skills) == sorted(catalogues["skill"].ids)
    assert [s["name"].lower() for s in skills] == sorted(s["name"].lower() for s in skills)
    assert {s["division"]["id"] for s in skills} > {division_id(shared_emu, 0)}  # some outside Home
    tech = shared_client.ok(SKILLS, name="technical")["entities"]
    assert [s["name"] for s in tech] == ["Technical Support L1", "Technical Support L2"]  # starts with, any case
    assert shared_client.ok(SKILLS, name="support")["entities"] == []
    two = catalogues["skill"].ids[:2]
    assert sorted(s["id"] for s in shared_client.ok(SKILLS, id=",".join(two))["entities"]) == sorted(two)
    assert shared_client.ok(f"{SKILLS}/{two[0]}")["id"] == two[0]
    languages = page_through(shared_client, LANGUAGES, pageSize=100, sortOrder="DESC")
    assert [x["name"] for x in languages] == sorted(catalogues["language"].names, reverse=True)
    english = catalogue_id(shared_emu, "language", "English")
    assert shared_client.ok(f"{LANGUAGES}/{english}")["name"] == "English"
    assert [x["name"] for x in shared_client.ok(LANGUAGES, name="SP")["entities"]] == ["Spanish"]
    assert [x["id"] for x in shared_client.ok(LANGUAGES, id=english)["entities"]] == [english]
    assert_error(shared_client.get(f"{SKILLS}/nothing"), 404, "not.found", "nothing")
    assert_error(shared_client.get(f"{LANGUAGES}/nothing"), 404, "not.found")
    assert_error(shared_client.get(SKILLS, pageSize=101), 400, "bad.request", "pageSize")


def test_a_deleted_skill_leaves_the_catalogue_and_every_user(client, emu):
    user = holder(emu, "skill")
    gone = next(iter(truth(emu, user, "skill")))
    emu.org.proficiencies.catalogues["skill"].delete(gone)
    assert gone not in {s["id"] for s in page_through(client, SKILLS, pageSize=100)}
    assert_error(client.get(f"{SKILLS}/{gone}"), 404, "not.found")
    assert gone not in truth(emu, user, "skill")
    assert gone not in read(client, user, "skill")
    body = [{"id": gone, "proficiency": 3}]
    assert_error(write(client, "PATCH", f"{user_path(user, 'skill')}/bulk", body), 400, "bad.request", gone)


# ---- a user's sets and the expand ---------------------------------------------------------------------
@pytest.mark.parametrize("kind", list(KINDS))
def test_a_users_listing_and_every_expand_show_the_ground_truth(shared_client, shared_emu, kind):
    user = holder(shared_emu, kind, 3)
    expected = truth(shared_emu, user, kind)
    assert read(shared_client, user, kind, pageSize=1) == expected  # paged one by one
    listing = shared_client.ok(user_path(user, kind))
    names = [e["name"] for e in listing["entities"]]
    assert names == sorted(names)
    assert listing["total"] == len(expected)
    descending = shared_client.ok(user_path(user, kind), sortOrder="DESC")["entities"]
    assert [e["name"] for e in descending] == names[::-1]
    field = KINDS[kind][1]
    one = shared_client.ok(f"/api/v2/users/{user}", expand=field)
    assert {e["id"]: e["proficiency"] for e in one[field]} == expected
    for path in ("/api/v2/users", "/api/v2/users/query"):
        for entity in page_through(shared_client, path, pageSize=500, state="any", expand=f"{field},groups"):
            i = shared_emu.org.index_of(entity["id"])
            want = shared_emu.org.user_skills(i) if kind == "skill" else shared_emu.org.user_languages(i)
            assert {e["id"]: e["proficiency"] for e in entity[field]} == want, entity["id"]
    assert field not in shared_client.ok(f"/api/v2/users/{user}")  # only when asked


def test_users_listing_of_unknown_and_deleted_users_is_404(shared_client, shared_emu):
    deleted = shared_emu.org.user_ids("deleted")[0]
    for kind in KINDS:
        assert_error(shared_client.get(user_path("nobody", kind)), 404, "not.found", "nobody")
        assert_error(shared_client.get(user_path(deleted, kind)), 404, "not.found")


@pytest.mark.parametrize("percent", [0, 30, 100])
def test_expand_missing_for_some_users_drops_every_expanded_field_of_the_same_users(percent):
    with GenesysCloudEmulator(users=400, seed=12, expand_missing_percent=percent) as emu:
        client = ApiClient(emu)
        group = emu.org.subjects.groups[0].id

        def without(path: str, **params: Any) -> set[str]:
            entities = page_through(client, path, pageSize=100, expand="skills,languages,groups", **params)
            assert entities
            partial = [u for u in entities if 0 < len({"skills", "languages", "groups"} & u.keys()) < 3]
            assert not partial, "a user came back with some expanded fields but not others"
            return {u["id"] for u in entities if "skills" not in u}

        missing = without("/api/v2/users", state="any")
        assert missing == without("/api/v2/users", state="any")  # the same users every time
        assert missing == without("/api/v2/users/query", state="any")
        assert without(f"/api/v2/groups/{group}/members") == missing & {
            emu.org.user_id(i) for i in emu.org.subjects.members(0)}
        share = len(missing) / emu.org.user_count()
        assert {0: share == 0, 30: 0.15 < share < 0.45, 100: share == 1}[percent]
        user = sorted(missing or {emu.org.user_ids("active")[0]})[0]
        assert "skills" in client.ok(f"/api/v2/users/{user}", expand="skills")  # one user: honoured
        assert "skills" not in page_through(client, "/api/v2/users", pageSize=100)[0]  # not asked: absent


def test_expand_dropped_still_drops_every_expand():
    with GenesysCloudEmulator(users=50, seed=13, expand="dropped", expand_missing_percent=10) as emu:
        client = ApiClient(emu)
        users = client.ok("/api/v2/users", pageSize=100, expand="skills,languages")["entities"]
        assert users
        assert not any("skills" in u or "languages" in u for u in users)


# ---- writes: add or update, replace, remove -------------------------------------------------------
@pytest.mark.parametrize("kind", list(KINDS))
def test_bulk_patch_adds_and_updates_and_delete_removes(client, emu, kind):
    user = holder(emu, kind)
    before = truth(emu, user, kind)
    held = next(iter(before))
    new = next(x for x in emu.org.proficiencies.catalogues[kind].ids if x not in before)
    body = [{"id": held, "proficiency": 2.5}, {"id": new, "proficiency": 4}]
    assert_conforms(body[0], "UserRoutingSkillPost" if kind == "skill" else "UserRoutingLanguagePost")
    response = write(client, "PATCH", f"{user_path(user, kind)}/bulk", body)
    assert response.status_code == 200, response.text
    expected = {**before, held: 2.5, new: 4.0}
    assert {e["id"]: e["proficiency"] for e in response.json()["entities"]} == expected
    assert_conforms(response.json(), "UserSkillEntityListing" if kind == "skill" else "UserLanguageEntityListing")
    assert truth(emu, user, kind) == expected == read(client, user, kind)
    assert write(client, "DELETE", f"{user_path(user, kind)}/{new}").status_code == 204
    assert new not in truth(emu, user, kind)
    assert new not in read(client, user, kind)
    assert_error(write(client, "DELETE", f"{user_path(user, kind)}/{new}"), 404, "not.found", new)
    assert_error(write(client, "DELETE", f"{user_path(user, kind)}/no-such-id"), 404, "not.found")
    assert_error(write(client, "DELETE", f"{user_path('nobody', kind)}/{held}"), 404, "not.found")


def test_put_replaces_every_skill_and_languages_have_no_replace(client, emu):
    user = holder(emu, "skill")
    one = next(x for x in emu.org.proficiencies.catalogues["skill"].ids if x not in truth(emu, user, "skill"))
    response = write(client, "PUT", f"{user_path(user, 'skill')}/bulk", [{"id": one, "proficiency": 1}])
    assert response.status_code == 200, response.text
    assert truth(emu, user, "skill") == {one: 1.0} == read(client, user, "skill")
    assert write(client, "PUT", f"{user_path(user, 'skill')}/bulk", []).status_code == 200
    assert truth(emu, user, "skill") == {}
    assert_error(write(client, "PUT", f"{user_path(user, 'language')}/bulk", []), 405, "method.not.allowed")


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"id": "x"}, ["list"]),
        ([], ["non-empty"]),
        (["just-an-id"], ["[0]", "id"]),
        ([{"proficiency": 3}], ["[0]", "id"]),
        ([{"id": "{skill}"}], ["proficiency"]),
        ([{"id": "{skill}", "proficiency": 5.5}], ["proficiency", "0 to 5"]),
        ([{"id": "{skill}", "proficiency": -1}], ["proficiency"]),
        ([{"id": "{skill}", "proficiency": "3"}], ["proficiency"]),
        ([{"id": "{skill}", "proficiency": True}], ["proficiency"]),
        ([{"id": "{skill}", "proficiency": 3}, {"id": "{skill}", "proficiency": 4}], ["twice"]),
        ([{"id": "ghost-skill", "proficiency": 3}], ["ghost-skill"]),
    ],
)
def test_malformed_bodies_are_400_naming_the_problem_and_change_nothing(client, emu, body, words):
    user = holder(emu, "skill")
    skill = emu.org.proficiencies.catalogues["skill"].ids[0]
    body = [{k: (v.format(skill=skill) if isinstance(v, str) else v) for k, v in e.items()}
            if isinstance(e, dict) else e for e in body] if isinstance(body, list) else body
    before = truth(emu, user, "skill")
    response = write(client, "PATCH", f"{user_path(user, 'skill')}/bulk", body)
    assert_error(response, 400, "bad.request", *words)
    assert truth(emu, user, "skill") == before


@pytest.mark.parametrize("kind", list(KINDS))
def test_at_most_50_per_call(kind):
    with GenesysCloudEmulator(users=10, seed=14) as emu:
        client = ApiClient(emu)
        catalogue = emu.org.proficiencies.catalogues[kind]
        user = emu.org.user_ids("active")[0]
        ids = catalogue.ids * (51 // len(catalogue.ids) + 1)  # the catalogue is smaller than 51: repeat it
        body = [{"id": x, "proficiency": 1} for x in ids[:51]]
        # the size is checked first, so this is the answer whatever else is wrong with the body
        assert_error(write(client, "PATCH", f"{user_path(user, kind)}/bulk", body), 400, "bad.request", "50", "51")
        unique = [{"id": x, "proficiency": 1} for x in catalogue.ids]
        assert write(client, "PATCH", f"{user_path(user, kind)}/bulk", unique).status_code == 200
        assert len(truth(emu, user, kind)) == len(catalogue.ids)


def test_writes_to_unknown_deleted_or_new_users_are_404():
    with GenesysCloudEmulator(users=40, seed=15, new_subject_404_seconds=30) as emu:
        client = ApiClient(emu)
        skill = emu.org.proficiencies.catalogues["skill"].ids[0]
        body = [{"id": skill, "proficiency": 3}]
        (young,) = emu.add_users(1)
        deleted = emu.org.user_ids("deleted")[0]
        for user in ("nobody", deleted, young):
            assert_error(write(client, "PATCH", f"{user_path(user, 'skill')}/bulk", body), 404, "not.found")
        assert_error(move(client, division_id(emu, 1), [young]), 400, "bad.request", young)
        emu.advance_clock(30)
        assert write(client, "PATCH", f"{user_path(young, 'skill')}/bulk", body).status_code == 200
        assert truth(emu, young, "skill")[skill] == 3.0


# ---- division moves -------------------------------------------------------------------------------
def test_moving_users_to_a_division_shows_everywhere(client, emu):
    users = emu.org.user_ids("active")[:3]
    target = division_id(emu, 4)
    before = {d["id"]: d["objectCounts"]["USER"]
              for d in client.ok("/api/v2/authorization/divisions", objectCount="true")["entities"]}
    moving = [u for u in users if emu.org.user_division_id(emu.org.index_of(u)) != target]
    response = move(client, target, users + users[:1])  # a repeated id moves once
    assert response.status_code == 204, response.text
    for user in users:
        assert emu.org.user_division_id(emu.org.index_of(user)) == target
        assert client.ok(f"/api/v2/users/{user}")["division"]["id"] == target
    after = {d["id"]: d["objectCounts"]["USER"]
             for d in client.ok("/api/v2/authorization/divisions", objectCount="true")["entities"]}
    assert after[target] == before[target] + len(moving)
    assert sum(after.values()) == sum(before.values())
    moved = [e for e in audit(client, "Directory") if e["action"] == "Update"]
    assert {(e["entity"]["id"], e["propertyChanges"][0]["property"], e["propertyChanges"][0]["newValues"][0])
            for e in moved} == {(u, "divisionId", target) for u in moving}


@pytest.mark.parametrize(
    ("division", "object_type", "body", "status", "words"),
    [
        ("nowhere", "USER", ["{user}"], 404, ["nowhere"]),
        ("*", "USER", ["{user}"], 404, ["*"]),
        ("{division}", "USERS", ["{user}"], 400, ["objectType", "USER"]),
        ("{division}", "QUEUE", ["{user}"], 400, ["USER"]),
        ("{division}", "USER", [], 400, ["non-empty"]),
        ("{division}", "USER", {"ids": ["{user}"]}, 400, ["list"]),
        ("{division}", "USER", ["{user}", "ghost"], 400, ["ghost"]),
        ("{division}", "USER", ["{deleted}"], 400, ["{deleted}"]),
    ],
)
def test_bad_division_moves_are_refused_and_move_nobody(client, emu, division, object_type, body, status, words):
    values = {"user": emu.org.user_ids("active")[0], "deleted": emu.org.user_ids("deleted")[0],
              "division": division_id(emu, 5)}
    body = [x.format(**values) for x in body] if isinstance(body, list) else {"ids": [values["user"]]}
    before = emu.org.user_division_id(0)
    response = move(client, division.format(**values), body, object_type)
    assert_error(response, status, "not.found" if status == 404 else "bad.request",
                 *(w.format(**values) for w in words))
    assert emu.org.user_division_id(0) == before
    assert not [e for e in emu.org.write_events if e[3] == "Update"]


def test_division_move_max_refuses_a_longer_body_as_a_whole():
    with GenesysCloudEmulator(users=30, seed=16, division_move_max=2) as emu:
        client = ApiClient(emu)
        users, target = emu.org.user_ids("active")[:3], division_id(emu, 3)
        assert_error(move(client, target, users), 400, "bad.request", "2", "3")
        assert not [e for e in emu.org.write_events if e[3] == "Update"]
        assert move(client, target, users[:2]).status_code == 204
        assert all(emu.org.user_division_id(emu.org.index_of(u)) == target for u in users[:2])


def test_role_grant_max_subjects_refuses_a_longer_body_as_a_whole():
    with GenesysCloudEmulator(users=30, seed=17, role_grant_max_subjects=2) as emu:
        client = ApiClient(emu)
        users, role = emu.org.user_ids("active")[:3], role_id(emu, "Quality Evaluator")
        body = {"subjectIds": users, "divisionIds": [division_id(emu, 1)]}
        before = sorted(emu.org.iter_grants())
        assert_error(write(client, "POST", f"{ROLES}/{role}", body), 400, "bad.request", "subjectIds", "2", "3")
        assert sorted(emu.org.iter_grants()) == before
        assert write(client, "POST", f"{ROLES}/{role}", {**body, "subjectIds": users[:2]}).status_code == 204


# ---- switches: concurrent changes, propagation, faults, audit, rate limit ----------------------------
@pytest.mark.parametrize(("mode", "status", "code"), [("409", 409, "conflict"), ("400", 400, "bad.request")])
def test_a_write_right_after_another_to_the_same_user_is_a_concurrent_change(mode, status, code):
    with GenesysCloudEmulator(users=40, seed=18, routing_write_conflict_seconds=5, version_conflict=mode) as emu:
        client = ApiClient(emu)
        user, other = holder(emu, "skill"), holder(emu, "skill", 1)
        skill = next(iter(truth(emu, user, "skill")))
        language = emu.org.proficiencies.catalogues["language"].ids[0]
        assert write(client, "PATCH", f"{user_path(user, 'skill')}/bulk", [{"id": skill, "proficiency": 1}]
                     ).status_code == 200
        emu.advance_clock(4)
        languages_before = truth(emu, user, "language")
        refused = write(client, "PATCH", f"{user_path(user, 'language')}/bulk", [{"id": language, "proficiency": 2}])
        assert_error(refused, status, code, "does not match the current version")
        assert_error(write(client, "DELETE", f"{user_path(user, 'skill')}/{skill}"), status, code)
        assert truth(emu, user, "language") == languages_before  # refused: nothing applied
        assert skill in truth(emu, user, "skill")
        assert write(client, "DELETE", f"{user_path(other, 'skill')}/{next(iter(truth(emu, other, 'skill')))}"
                     ).status_code == 204  # another user: no conflict
        emu.advance_clock(1)
        assert write(client, "DELETE", f"{user_path(user, 'skill')}/{skill}").status_code == 204
        assert skill not in truth(emu, user, "skill")


def test_writes_show_only_after_the_propagation_delay():
    with GenesysCloudEmulator(users=40, seed=19, propagation_delay_seconds=60) as emu:
        client = ApiClient(emu)
        user = holder(emu, "skill")
        before = truth(emu, user, "skill")
        new = next(x for x in emu.org.proficiencies.catalogues["skill"].ids if x not in before)
        assert write(client, "PATCH", f"{user_path(user, 'skill')}/bulk", [{"id": new, "proficiency": 5}]
                     ).status_code == 200
        target = next(d["id"] for d in emu.org.divisions if d["id"] != emu.org.user_division_id(emu.org.index_of(user)))
        assert move(client, target, [user]).status_code == 204
        assert emu.writes.pending == 2
        emu.advance_clock(59)
        assert read(client, user, "skill") == before == truth(emu, user, "skill")
        assert client.ok(f"/api/v2/users/{user}")["division"]["id"] != target
        emu.advance_clock(1)
        assert read(client, user, "skill") == {**before, new: 5.0}
        assert client.ok(f"/api/v2/users/{user}", expand="skills")["division"]["id"] == target


def test_write_faults_apply_the_change_but_lose_the_answer(client, emu):
    user = holder(emu, "skill")
    skill = next(iter(truth(emu, user, "skill")))
    emu.faults.write_applied_then_5xx(503, method="DELETE", path=r"/routingskills/")
    assert_error(write(client, "DELETE", f"{user_path(user, 'skill')}/{skill}"), 503, "service.unavailable")
    assert skill not in truth(emu, user, "skill")
    target = division_id(emu, 2)
    emu.faults.write_applied_then_cut(method="POST", path=r"/objects/USER$")
    with pytest.raises(requests.ConnectionError):
        move(client, target, [user])
    assert emu.org.user_division_id(emu.org.index_of(user)) == target


def test_skill_and_language_changes_are_audited_under_routing(client, emu):
    user = holder(emu, "skill")
    held = next(iter(truth(emu, user, "skill")))
    new = next(x for x in emu.org.proficiencies.catalogues["skill"].ids if x not in truth(emu, user, "skill"))
    languages = emu.org.proficiencies.catalogues["language"].ids
    language = next(x for x in languages if x not in truth(emu, user, "language"))
    assert write(client, "PATCH", f"{user_path(user, 'skill')}/bulk",
                 [{"id": new, "proficiency": 3}, {"id": held, "proficiency": 0.5}]).status_code == 200
    assert write(client, "DELETE", f"{user_path(user, 'skill')}/{new}").status_code == 204
    assert write(client, "PATCH", f"{user_path(user, 'language')}/bulk",
                 [{"id": language, "proficiency": 4}]).status_code == 200
    events = [(e["entityType"], e["action"], e["entity"]["id"], e["propertyChanges"][1]["newValues"])
              for e in audit(client, "Routing")]
    assert sorted(events) == sorted([
        ("RoutingSkill", "MemberAdd", new, ["3"]), ("RoutingSkill", "MemberUpdate", held, ["0.5"]),
        ("RoutingSkill", "MemberRemove", new, []), ("RoutingLanguage", "MemberAdd", language, ["4"]),
    ])
    assert all(e["propertyChanges"][0]["property"] == "userId" for e in audit(client, "Routing"))


def test_skill_writes_count_against_the_rate_limit():
    with GenesysCloudEmulator(users=20, seed=20, rate_limit=2) as emu:
        client = ApiClient(emu)
        user = holder(emu, "skill")
        skill = next(iter(truth(emu, user, "skill")))
        assert write(client, "PATCH", f"{user_path(user, 'skill')}/bulk", [{"id": skill, "proficiency": 1}]
                     ).status_code == 200
        assert move(client, division_id(emu, 1), [user]).status_code == 204
        refused = write(client, "DELETE", f"{user_path(user, 'skill')}/{skill}")
        assert_error(refused, 429, "too.many.requests.retry.after")
        assert skill in truth(emu, user, "skill")
