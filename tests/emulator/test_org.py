"""The generated org: deterministic, realistic in shape, and consistent with itself."""

from __future__ import annotations

import tracemalloc
from collections import Counter

from airflow_provider_genesys.testing.org import Org


def test_same_seed_same_org_and_different_seed_different_org():
    a, b, c = Org(50, seed=1), Org(50, seed=1), Org(50, seed=2)
    assert list(a.iter_users()) == list(b.iter_users())
    assert list(a.iter_grants()) == list(b.iter_grants())
    assert set(a.user_ids()).isdisjoint(c.user_ids())


def test_user_states_are_mostly_active_with_some_inactive_and_deleted():
    org = Org(2000, seed=5)
    counts = Counter(user["state"] for user in org.iter_users("any"))
    assert counts["active"] + counts["inactive"] + counts["deleted"] == 2000
    assert 0.80 < counts["active"] / 2000 < 0.90
    assert 0.06 < counts["inactive"] / 2000 < 0.14
    assert 0.02 < counts["deleted"] / 2000 < 0.08
    for state in ("active", "inactive", "deleted"):
        assert org.user_count(state) == counts[state]
        assert {u["state"] for u in org.iter_users(state)} == {state}


def test_users_have_realistic_unique_fields():
    org = Org(500, seed=1)
    users = list(org.iter_users("any"))
    assert len({u["id"] for u in users}) == 500
    assert len({u["email"] for u in users}) == 500
    division_ids = {d["id"] for d in org.divisions}
    for user in users:
        assert user["division"]["id"] in division_ids
        assert user["email"] == user["username"] == user["primaryContactInfo"][0]["address"]
        assert user["selfUri"] == f"/api/v2/users/{user['id']}"
        assert isinstance(user["version"], int)
        assert user["version"] >= 1
        assert " " in user["name"]
        assert user["department"]
        assert user["title"]
    assert len({u["name"] for u in users}) < 500, "duplicate names exercise the sort tiebreak"
    assert any("manager" in u for u in users)


def test_exactly_one_home_division():
    org = Org(10)
    assert [d["homeDivision"] for d in org.divisions].count(True) == 1
    assert len(org.divisions) >= 3


def test_grants_rules():
    org = Org(1000, seed=9)
    by_subject: dict[str, list[tuple[str, str]]] = {}
    for subject, role, division in org.iter_grants():
        by_subject.setdefault(subject, []).append((role, division))
    deleted = set(org.user_ids("deleted"))
    living = set(org.user_ids("active")) | set(org.user_ids("inactive"))
    assert deleted.isdisjoint(by_subject), "deleted users hold no grants"
    assert set(by_subject) == living, "every active or inactive user holds at least one grant"
    employee = next(r["id"] for r in org.roles if r["name"] == "employee")
    home = next(d["id"] for d in org.divisions if d["homeDivision"])
    assert all((employee, home) in grants for grants in by_subject.values())
    several = [g for g in by_subject.values() if len({r for r, _ in g}) > 1 and len({d for _, d in g}) > 1]
    assert len(several) > 50, "some users hold several roles in several divisions"
    wildcard = [s for s, grants in by_subject.items() if any(d == "*" for _, d in grants)]
    assert 1 <= len(wildcard) <= 5, "a few admins hold wildcard-division grants"
    assert org.grant_count() == sum(len(g) for g in by_subject.values())


def test_roles_and_permission_catalogue_are_consistent():
    org = Org(10)
    domains = {p["domain"] for p in org.permissions}
    for role in org.roles:
        assert role["permissions"], role["name"]
        for policy in role["permissionPolicies"]:
            assert policy["domain"] in domains or policy["domain"] == "*"
    assert any(r["default"] for r in org.roles)
    assert any(not r["default"] for r in org.roles)
    for collection in org.permissions:
        for entity, permissions in collection["permissionMap"].items():
            assert all(p["entityType"] == entity and p["domain"] == collection["domain"] for p in permissions)


def test_large_org_is_generated_compactly_and_lazily():
    org = Org(20_000, seed=1)
    assert not org._cache, "listing orders and grant indexes are built on first use, not at start-up"
    assert org.user_count("any") == 20_000
    assert len(org.user_ids("active")) == org.user_count("active")
    tracemalloc.start()
    try:
        Org(4_000, seed=1)
        allocated, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert allocated / 4_000 < 600, f"{allocated / 4_000:.0f} bytes per user: only compact state is stored"


def test_add_and_remove_users_change_the_ground_truth():
    org = Org(100, seed=2)
    active = org.user_count("active")
    added = org.add_users(3)
    removed = org.remove_users(2)
    assert org.user_count("active") == active + 3 - 2
    assert set(added) <= set(org.user_ids("active"))
    assert set(removed) <= set(org.user_ids("deleted"))
    assert not {s for s, _, _ in org.iter_grants()} & set(removed)
