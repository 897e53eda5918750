"""The diff: exactly the changes that make the current state equal the desired table within scope."""

from __future__ import annotations

import random

import pytest

from airflow_provider_genesys.access.diff import Change, Scope, diff
from airflow_provider_genesys.access.errors import DesiredTableError
from airflow_provider_genesys.access.names import DesiredItem
from airflow_provider_genesys.access.relations.queue_members import add_queue_members
from airflow_provider_genesys.access.state import CurrentState
from tests.unit.access.org import ANN, BOB, CAT, CLIENT, DAN, EVE, grants_state


def item(row, subject, role, division, kind="user"):
    return DesiredItem(row, subject, kind, (role, division))


def test_sync_adds_what_is_missing_and_removes_managed_grants_not_desired():
    current = grants_state()
    result = diff([item(1, ANN, "r-sup", "d-home"), item(2, BOB, "r-qe", "*")], current, Scope(groups=True))
    assert result.managed == {"r-sup", "r-qe"}
    assert result.changes == [
        Change("add", ANN, "user", ("r-sup", "d-home"), "row 1 of the desired table", 1),
        Change("remove", ANN, "user", ("r-sup", "d-sales"),
               "holds managed role r-sup on d-sales, not in the desired state"),
        Change("remove", "g-leads", "group", ("r-sup", "d-support"),
               "holds managed role r-sup on d-support, not in the desired state"),
    ]
    # Employee and Master Admin are not managed; the OAuth client's Supervisor grant is invisible
    assert all(c.target[0] in {"r-sup", "r-qe"} and c.subject != CLIENT for c in result.changes)
    assert result.counts() == {"add": 1, "remove": 2, "set": 0, "subjects": 2, "desired_rows": 2,
                               "managed_held": 3}


def test_a_table_that_names_no_group_leaves_groups_grants_alone_and_says_so():
    """An HR export lists people: a group holding a managed role keeps it unless the table names a group
    (or manage_groups=True), and the plan warns which groups it left alone."""
    current = grants_state()
    result = diff([item(1, ANN, "r-sup", "d-home"), item(2, BOB, "r-qe", "*")], current, Scope())
    assert [(c.action, c.subject) for c in result.changes] == [("add", ANN), ("remove", ANN)]
    (notice,) = result.notices
    assert notice.kind == "groups_kept"
    assert notice.examples == ["group g-leads holds r-sup on d-support"]
    assert result.counts()["managed_held"] == 2, "groups' grants are outside the scope"
    named = diff([item(1, ANN, "r-sup", "d-home"), item(2, "g-other", "r-emp", "d-home", "group")], current, Scope())
    assert ("remove", "g-leads") in [(c.action, c.subject) for c in named.changes], "a table naming a group"
    assert diff([item(1, ANN, "r-sup", "d-home")], current, Scope(groups=False, mode="add_only")).notices == []


def test_add_only_never_removes():
    result = diff([item(1, ANN, "r-sup", "d-home")], grants_state(), Scope(mode="add_only"))
    assert [c.action for c in result.changes] == ["add"]


def test_explicit_managed_roles_remove_grants_of_roles_the_table_does_not_name():
    result = diff([item(1, ANN, "r-sup", "d-sales")], grants_state(), Scope(frozenset({"r-sup", "r-qe"}),
                                                                            groups=True))
    assert [(c.action, c.subject, c.target) for c in result.changes] == [
        ("remove", BOB, ("r-qe", "*")), ("remove", "g-leads", ("r-sup", "d-support"))]


def test_rows_outside_the_managed_roles_are_ignored_with_a_warning():
    result = diff([item(1, ANN, "r-emp", "d-sales")], grants_state(), Scope(frozenset({"r-qe"}), "add_only"))
    assert result.changes == []
    (notice,) = result.notices
    assert notice.kind == "out_of_scope"
    assert notice.examples == ["row 1: role r-emp is not managed"]


def test_a_grant_held_through_a_group_is_never_removed_and_a_desired_one_is_flagged():
    current = grants_state()
    # Bob inherits Supervisor on Support from Team Leads; the table asks for it directly
    result = diff([item(1, BOB, "r-sup", "d-support"), item(2, "g-leads", "r-sup", "d-support", "group"),
                   item(3, ANN, "r-sup", "d-sales")], current, Scope())
    assert [(c.action, c.subject) for c in result.changes] == [("add", BOB)]
    (notice,) = result.notices
    assert notice.kind == "inherited"
    assert notice.examples == [f"row 1: {BOB} already holds r-sup on d-support through group g-leads"]
    # with the group's grant gone from the table, the group loses it; Bob's inherited grant is not "removed"
    result = diff([item(1, ANN, "r-sup", "d-sales")], current, Scope(groups=True))
    assert [(c.action, c.subject) for c in result.changes] == [("remove", "g-leads")]


def test_duplicates_collapse_and_deleted_and_inactive_users_are_flagged():
    result = diff([item(1, CAT, "r-sup", "d-home"), item(2, DAN, "r-sup", "d-home"), item(3, CAT, "r-sup", "d-home"),
                   item(4, ANN, "r-sup", "d-sales")], grants_state(), Scope(mode="add_only"))
    assert [(c.subject, c.row) for c in result.changes] == [(CAT, 1)]
    assert {n.kind: (n.count, n.examples) for n in result.notices} == {
        "duplicate": (1, ["row 3 repeats row 1"]),
        "inactive_user": (2, [f"row 1: {CAT}", f"row 3: {CAT}"]),
        "deleted_user": (1, [f"row 2: {DAN}"]),
    }


def test_the_wildcard_division_is_its_own_grant():
    result = diff([item(1, BOB, "r-qe", "d-home")], grants_state(), Scope())
    assert [(c.action, c.target) for c in result.changes] == [("add", ("r-qe", "d-home")), ("remove", ("r-qe", "*"))]


def test_labels_name_things_in_reasons():
    names = {"r-sup": "Supervisor", "d-sales": "Sales"}
    result = diff([item(1, ANN, "r-sup", "d-home")], grants_state(), Scope(frozenset({"r-sup"})),
                  label=lambda i: names.get(i, i))
    assert result.changes[1].reason == "holds managed role Supervisor on Sales, not in the desired state"


def test_group_and_queue_memberships():
    current = CurrentState("group_members")
    current.add_group_members([{"groupId": "g-leads", "userId": BOB}, {"groupId": "g-night", "userId": ANN}])
    result = diff([DesiredItem(1, ANN, "user", ("g-leads",))], current, Scope(frozenset({"g-leads"})))
    assert [(c.action, c.subject, c.target) for c in result.changes] == [
        ("add", ANN, ("g-leads",)), ("remove", BOB, ("g-leads",))]
    assert result.changes[1].reason == "holds managed group g-leads, not in the desired state"
    queues = CurrentState("queue_members")
    add_queue_members(queues, [{"recordType": "queue", "id": "q-tech"},
                              {"recordType": "member", "queueId": "q-tech", "member": {"id": ANN}}])
    result = diff([DesiredItem(1, BOB, "user", ("q-tech",))], queues, Scope())
    assert [(c.action, c.subject) for c in result.changes] == [("add", BOB), ("remove", ANN)]


def test_user_state_sets_only_what_differs_and_refuses_contradictions():
    current = CurrentState("user_state")
    current.add_users([{"id": ANN, "state": "active"}, {"id": CAT, "state": "inactive"},
                       {"id": DAN, "state": "deleted"}, {"id": EVE, "state": "active"}])
    result = diff([DesiredItem(1, ANN, "user", ("inactive",)), DesiredItem(2, CAT, "user", ("inactive",)),
                   DesiredItem(3, DAN, "user", ("active",))], current, Scope())
    assert result.changes == [Change("set", ANN, "user", ("inactive",), "row 1 of the desired table", 1, "active")]
    assert [n.kind for n in result.notices] == ["deleted_user"]
    both = diff([DesiredItem(1, ANN, "user", ("inactive",)), DesiredItem(2, ANN, "user", ("active",)),
                 DesiredItem(3, EVE, "user", ("active",)), DesiredItem(4, EVE, "user", ("inactive",))],
                current, Scope())
    assert both.problems == [f"rows 1 and 2 ask for {ANN} to be both inactive and active: keep one",
                             f"rows 3 and 4 ask for {EVE} to be both active and inactive: keep one"]


def test_a_bad_mode_is_refused():
    with pytest.raises(DesiredTableError, match="mode='mirror' is not one of sync, add_only"):
        Scope(mode="mirror")


# -- property: applying the diff gives the desired state in scope, and nothing else ------------------------


def apply(current: CurrentState, changes) -> dict[str, set]:
    after = {s: set(held) for s, held in current.held.items()}
    for change in changes:
        held = after.setdefault(change.subject, set())
        if change.action == "remove":
            assert change.target in held
            held.remove(change.target)
        else:
            assert change.target not in held
            held.add(change.target)
    return after


def random_case(rng: random.Random):
    roles = [f"r{n}" for n in range(6)]
    divisions = [f"d{n}" for n in range(4)] + ["*"]
    users = [(f"u{n}", rng.choice(["active", "active", "inactive", "deleted"])) for n in range(20)]
    groups = ["g0", "g1", "g2"]
    current = CurrentState("grants")
    current.add_users([{"id": u, "state": s} for u, s in users])
    current.add_group_members([{"groupId": rng.choice(groups), "userId": u} for u, _ in rng.sample(users, 8)])
    subjects = [(u, "user") for u, s in users if s != "deleted"] + [(g, "group") for g in groups]
    for _ in range(rng.randint(0, 60)):
        subject, kind = rng.choice([*subjects, ("client", "oauth_client")])
        current.add_grant({"subjectId": subject, "subjectType": kind, "roleId": rng.choice(roles),
                           "divisionId": rng.choice(divisions)})
    items = [DesiredItem(row, *rng.choice(subjects), (rng.choice(roles), rng.choice(divisions)))
             for row in range(1, rng.randint(1, 80))]
    managed = None if rng.random() < 0.5 else frozenset(rng.sample(roles, rng.randint(0, 6)))
    return current, items, Scope(managed, rng.choice(["sync", "add_only"]), rng.choice([None, None, True, False]))


@pytest.mark.parametrize("seed", range(300))
def test_applying_the_diff_yields_the_desired_state_within_scope(seed):
    current, items, scope = random_case(random.Random(seed))
    result = diff(items, current, scope)
    managed = result.managed
    groups_managed = scope.groups if scope.groups is not None else any(it.subject_type == "group" for it in items)
    after = apply(current, result.changes)
    wanted: dict[str, set] = {}
    for it in items:
        if it.target[0] in managed:
            wanted.setdefault(it.subject, set()).add(it.target)
    for subject in set(after) | set(wanted):
        kind = current.subject_types.get(subject)
        before = current.held.get(subject, set())
        now = after.get(subject, set())
        in_scope_now = {t for t in now if t[0] in managed}
        # unmanaged roles are never touched
        assert {t for t in now if t[0] not in managed} == {t for t in before if t[0] not in managed}
        if kind == "oauth_client" or (kind == "group" and not groups_managed and subject not in wanted):
            assert now == before
        elif kind == "group" and not groups_managed:
            assert wanted[subject] <= in_scope_now
        elif scope.mode == "sync":
            assert in_scope_now == wanted.get(subject, set())
        else:
            assert wanted.get(subject, set()) <= in_scope_now
            assert before <= now
    # running the diff again on the result changes nothing (a rerun is a no-op)
    again = CurrentState("grants", after, dict(current.subject_types), dict(current.user_states),
                         current.user_groups)
    assert diff(items, again, Scope(managed, scope.mode, scope.groups)).changes == []


def test_removable_limits_a_sync_to_the_removals_it_lists():
    """Only the listed holdings may go; everything else the table leaves out is kept, and the plan says so."""
    current = grants_state()
    scope = Scope(frozenset({"r-sup"}), groups=True, removable=frozenset({(ANN, ("r-sup", "d-sales"))}))
    result = diff([item(1, BOB, "r-sup", "d-home")], current, scope)
    assert [(c.action, c.subject, c.target) for c in result.changes] == [
        ("add", BOB, ("r-sup", "d-home")), ("remove", ANN, ("r-sup", "d-sales"))]
    (kept,) = [n for n in result.notices if n.kind == "not_removable"]
    assert kept.examples == ["g-leads: r-sup on d-support"]
