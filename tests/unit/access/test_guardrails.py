"""Guardrails: each rule fires on a case made for it, names the numbers and the override for one run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from airflow_provider_genesys.access.diff import Change, Diff, Scope, diff
from airflow_provider_genesys.access.errors import GuardrailError, PlanError
from airflow_provider_genesys.access.guardrails import (
    Guardrails,
    Protected,
    RuleValueError,
    check,
    check_plan_age,
    rule_value,
)
from airflow_provider_genesys.access.names import DesiredItem
from airflow_provider_genesys.access.spill import Spill
from airflow_provider_genesys.access.state import CurrentState
from tests.unit.access.org import ANN, BOB, EVE, FAY, USERS, grants_state, uid

NONE = Protected()


def item(row, subject, role, division, kind="user"):
    return DesiredItem(row, subject, kind, (role, division))


def violations(items, scope=None, rails=None, protected=NONE, current=None):
    current = current or grants_state()
    scope = scope or Scope()
    rails = rails or Guardrails()
    try:
        check(diff(items, current, scope), current, rails, protected)
    except GuardrailError as err:
        return err.violations
    return []


def many_holders(n):
    grants = [(uid(100 + i), "user", role, "d-home") for i in range(n) for role in ("r-sup", "r-emp")]
    users = [{"id": uid(100 + i), "state": "active"} for i in range(n)] + [{"id": ANN, "state": "active"}]
    return grants_state(grants=[*grants, (ANN, "user", "r-emp", "d-home")], members=[], users=users)


def test_a_quiet_plan_passes():
    assert violations([item(1, ANN, "r-sup", "d-sales"), item(2, BOB, "r-qe", "*"),
                       item(3, "g-leads", "r-sup", "d-support", "group")]) == []


def test_max_removals_names_the_count_and_the_override():
    current = many_holders(30)
    (found,) = violations([item(1, ANN, "r-sup", "d-home")], Scope(), Guardrails(max_removals=25,
                          max_removal_fraction=None), current=current)
    assert found == ("max_removals: the plan removes 30, more than max_removals=25. Check the desired table; "
                     "if the removals are intended, pass max_removals=30 for this run")
    assert violations([item(1, ANN, "r-sup", "d-home")], Scope(), Guardrails(max_removals=30,
                      max_removal_fraction=None), current=current) == []


def test_the_removal_fraction_fires_only_past_a_handful():
    current = many_holders(30)
    keep = [item(n, uid(100 + n), "r-sup", "d-home") for n in range(12)]  # keep 12 of 30: remove 18 (60%)
    (found,) = violations(keep, Scope(), Guardrails(max_removals=None, max_removal_fraction=0.5), current=current)
    assert found.startswith("max_removal_fraction: the plan removes 18 of the 30 managed grants (60%)")
    assert found.endswith("pass max_removal_fraction=0.6 for this run")
    small = many_holders(3)
    assert violations([item(1, ANN, "r-sup", "d-home")], current=small,
                      rails=Guardrails(max_removal_fraction=0.1)) == []


def test_protected_subjects_and_the_connections_own_identities():
    protected = Protected.of([ANN], oauth_client_id="client-1", token_user_id=BOB)
    found = violations([item(1, ANN, "r-sup", "d-home"), item(2, BOB, "r-sup", "d-home")],
                       Scope(mode="add_only"), protected=protected)
    assert found == [
        f"protected_subjects: the plan changes 1 subject(s) listed in protected_subjects (1 change(s), 0 "
        f"removal(s)): {ANN}; remove their rows or their managed grants from the scope, or drop them from "
        "protected_subjects for this run",
        "protected_subjects: the plan changes 1 of the connection's own identities, which are always protected (1 "
        f"change(s), 0 removal(s)): {BOB} (the user behind the connection's token); these have no override: "
        "change them by hand, never through a sync (or plan through a connection whose token is another user's or "
        "client's)",
    ]


def test_removing_the_token_users_and_the_oauth_clients_grants_is_refused_with_counts_and_first_three():
    listed = [uid(100 + i) for i in range(5)]
    protected = Protected.of(listed, oauth_client_id="client-1", token_user_id=BOB)

    def remove(subject, role, kind="user"):
        return Change("remove", subject, kind, (role, "d-home"), "not in the desired state")

    changes = [*(remove(s, "r-sup") for s in listed), remove(listed[0], "r-emp"), remove(BOB, "r-sup"),
               remove(BOB, "r-emp"), remove("client-1", "r-sup", "oauthclient"), remove(EVE, "r-sup")]
    spill = Spill(width=2)
    for change in changes:
        spill.add(change.action, change.subject, change.subject_type, change.target, change.reason)
    planned = Diff("grants", Scope(), frozenset({"r-sup", "r-emp"}), spill, [], managed_held=40, desired_rows=1)
    with planned, pytest.raises(GuardrailError) as caught:
        check(planned, grants_state(), Guardrails(max_removals=None, max_removal_fraction=None, min_admins=0,
                                                  allow_roleless=True), protected, label=lambda s: f"<{s[-3:]}>")
    assert caught.value.violations == [
        "protected_subjects: the plan changes 5 subject(s) listed in protected_subjects (6 change(s), 6 "
        "removal(s)): <100>, <101>, <102> and 2 more; remove their rows or their managed grants from the scope, "
        "or drop them from protected_subjects for this run",
        "protected_subjects: the plan changes 2 of the connection's own identities, which are always protected (3 "
        f"change(s), 3 removal(s)): <{BOB[-3:]}> (the user behind the connection's token), <t-1> (the "
        "connection's own OAuth client); these have no override: change them by hand, never through a sync (or "
        "plan through a connection whose token is another user's or client's)",
    ]
    assert str(caught.value).startswith("The plan was refused by 2 guardrail(s); nothing was changed:")


def test_the_last_admins_are_kept():
    found, roleless = violations([item(1, EVE, "r-admin", "*")])  # Fay would lose Master Admin: 1 left
    assert roleless.startswith(f"allow_roleless: the plan leaves 1 subject(s) with no roles at all ({FAY})")
    assert found == ("min_admins: role r-admin holds * permissions and would keep 1 active holder(s) (now 2), "
                     "fewer than min_admins=2. Keep at least 2 admins in the desired table; if intended, pass "
                     "min_admins=1 for this run")
    assert violations([item(1, EVE, "r-admin", "*")], rails=Guardrails(min_admins=1, allow_roleless=True)) == []


def test_admins_through_a_group_count_and_an_org_already_short_is_not_blocked_by_unrelated_changes():
    current = grants_state(grants=[(EVE, "user", "r-admin", "*"), ("g-leads", "group", "r-admin", "d-home"),
                                   (ANN, "user", "r-admin", "d-home"), (ANN, "user", "r-emp", "d-home")],
                           members=[{"groupId": "g-leads", "userId": BOB}])
    # Ann loses admin; Eve and Bob (through Team Leads) remain
    assert violations([item(1, EVE, "r-admin", "*"), item(2, "g-leads", "r-admin", "d-home", "group")],
                      current=current) == []
    # the group loses it too (a table naming no group leaves groups alone unless told): Eve alone
    assert violations([item(1, EVE, "r-admin", "*")], current=current) == []
    assert violations([item(1, EVE, "r-admin", "*")], Scope(groups=True), current=current)[0].startswith("min_admins")


def test_a_subject_left_without_any_role_is_refused_unless_allowed():
    current = grants_state(grants=[(ANN, "user", "r-sup", "d-sales"), (BOB, "user", "r-sup", "d-home"),
                                   (BOB, "user", "r-emp", "d-home"), (FAY, "user", "r-sup", "d-home")],
                           members=[{"groupId": "g-leads", "userId": FAY}])
    current.add_grant({"subjectId": "g-leads", "subjectType": "group", "roleId": "r-emp", "divisionId": "d-home"})
    # Ann: no roles left; Bob keeps Employee; Fay keeps Employee through Team Leads
    (found,) = violations([item(1, EVE, "r-sup", "d-home")], current=current)
    assert found.startswith(f"allow_roleless: the plan leaves 1 subject(s) with no roles at all ({ANN})")
    assert violations([item(1, EVE, "r-sup", "d-home")], current=current, rails=Guardrails(allow_roleless=True)) == []


def test_every_failing_rule_is_reported_together():
    current = many_holders(30)
    found = violations([item(1, ANN, "r-sup", "d-home")], current=current,
                       rails=Guardrails(max_removals=5), protected=Protected.of([ANN]))
    assert [v.split(":")[0] for v in found] == ["max_removals", "max_removal_fraction", "protected_subjects"]


def test_plan_age():
    made = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)
    check_plan_age(made, made + timedelta(hours=2), timedelta(hours=2))
    check_plan_age(made, made + timedelta(days=9), None)
    with pytest.raises(PlanError, match=r"made 2h00m01s ago .* max_plan_age=2h00m00s.* at least 2h00m01s"):
        check_plan_age(made, made + timedelta(hours=2, seconds=1), timedelta(hours=2))


def other_relation(relation, users=USERS, members=()):
    """A user_state or group_members state whose org (``authz``) has Eve and Fay as direct Master Admins and
    group Team Leads (members Ann, Bob) holding Master Admin too."""
    current = CurrentState(relation)
    current.add_users(users)
    current.add_group_members(members)
    current.authz = grants_state(grants=[(EVE, "user", "r-admin", "*"), (FAY, "user", "r-admin", "*"),
                                         ("g-leads", "group", "r-admin", "d-home")],
                                 members=list(members), users=users)
    return current


def test_deactivating_admins_is_refused_below_min_admins():
    current = other_relation("user_state", members=[{"groupId": "g-leads", "userId": ANN}])
    leave = [DesiredItem(1, EVE, "user", ("inactive",)), DesiredItem(2, FAY, "user", ("inactive",))]
    (found,) = violations(leave, current=current)  # Ann (through Team Leads) would be the only admin left
    assert found.startswith("min_admins: role r-admin holds * permissions and would keep 1 active holder(s) "
                            "(now 3)")
    assert violations(leave, current=current, rails=Guardrails(min_admins=1)) == []
    assert violations(leave[:1], current=current) == [], "Fay and Ann remain"
    assert violations([DesiredItem(1, BOB, "user", ("inactive",))], current=current) == [], "Bob is no admin"


def test_removing_members_of_a_group_holding_an_admin_role_is_refused_below_min_admins():
    members = [{"groupId": "g-leads", "userId": ANN}, {"groupId": "g-leads", "userId": BOB}]
    current = other_relation("group_members", members=members)
    current.authz.held[FAY] = set()  # Fay is no admin: Eve, and Ann and Bob through Team Leads
    keep_ann = [DesiredItem(1, ANN, "user", ("g-leads",))]
    assert violations(keep_ann, Scope(frozenset({"g-leads"})), current=current) == [], "Eve and Ann remain"
    current.authz.held[EVE] = set()
    (found,) = violations(keep_ann, Scope(frozenset({"g-leads"})), current=current)
    assert found.startswith("min_admins: role r-admin holds * permissions and would keep 1 active holder(s) "
                            "(now 2)")
    assert violations(keep_ann, Scope(frozenset({"g-leads"})), current=current,
                      rails=Guardrails(min_admins=1)) == []


# -- the removal rules count people -------------------------------------------------------------------------


def support_org(members: int = 106) -> CurrentState:
    """Group Support (``members`` active members) holds Telephony Admin on Billing; its first member also
    holds it directly, so it keeps it when the group loses it."""
    people = [{"id": uid(200 + n), "state": "active"} for n in range(members)]
    return grants_state(grants=[("g-support", "group", "r-tel", "d-billing"), (uid(200), "user", "r-tel", "d-billing"),
                                (ANN, "user", "r-emp", "d-home")],
                        members=[{"groupId": "g-support", "userId": p["id"]} for p in people], users=[*USERS, *people])


def test_a_groups_grant_counts_once_for_each_member_who_loses_the_role():
    current = support_org()
    # a users-only table managing Telephony Admin, told to manage groups: Support loses it
    rails = Guardrails(max_removals=10, max_removal_fraction=None, allow_roleless=True)
    found = violations([item(1, uid(200), "r-tel", "d-billing")], Scope(frozenset({"r-tel"}), groups=True), rails,
                       current=current)
    assert found == [
        "max_removals: the plan takes access away 105 time(s) (1 removal(s); a group's grant counts once per active "
        "member who loses the role: group g-support loses r-tel on d-billing: 105 active member(s) lose it), more "
        "than max_removals=10. Check the desired table; if intended, pass max_removals=105 for this run"]
    # the same table without manage_groups: a table naming no group leaves the group's grant alone
    assert violations([item(1, uid(200), "r-tel", "d-billing")], Scope(frozenset({"r-tel"})), rails,
                      current=current) == []


def test_the_removal_fraction_counts_people_out_of_what_people_hold():
    current = support_org(20)
    found = violations([item(1, uid(200), "r-tel", "d-billing")], Scope(frozenset({"r-tel"}), groups=True),
                       Guardrails(max_removals=None, max_removal_fraction=0.5, allow_roleless=True), current=current)
    assert [v.split(" (")[0] for v in found] == ["max_removal_fraction: the plan takes access away 19 time(s)"]
    assert "of the 20 holdings of managed roles by people now (directly or through a group) (95%)" in found[0]


def test_the_plan_summary_says_what_a_groups_removal_takes_from_its_members():
    from airflow_provider_genesys.access.desired import read_rows
    from airflow_provider_genesys.access.names import Directory, NameIndex, UserIndex
    from airflow_provider_genesys.access.plan import summary
    from airflow_provider_genesys.access.planner import plan_access

    people = [{"id": uid(200 + n), "state": "active", "email": f"p{n}@example.com"} for n in range(106)]
    current = support_org()
    directory = Directory(NameIndex.of("role", [{"id": "r-tel", "name": "Telephony Admin"}]),
                          NameIndex.of("division", [{"id": "d-billing", "name": "Billing"}]),
                          NameIndex.of("group", [{"id": "g-support", "name": "Support"}]), NameIndex("queue"),
                          UserIndex.of([*USERS, *people]))
    with plan_access(read_rows([{"subject": "p0@example.com", "role": "Telephony Admin", "division": "Billing"}],
                               "grants"), relation="grants", directory=directory, current=current, org_id="org-1",
                     created_at=datetime(2026, 12, 7, tzinfo=UTC), manage_groups=True,
                     rails=Guardrails(max_removals=None, max_removal_fraction=None, allow_roleless=True)) as plan:
        text = summary(plan)
    assert ("- group Support loses Telephony Admin on Billing: 105 member(s) lose it, 1 keeps it through another "
            "grant (e.g. p1@example.com, p2@example.com, p3@example.com)") in text
    assert plan.losses[0]["lose"] == 105
    assert plan.scope["groups"] == "managed"


def test_deactivations_count_as_removals():
    """500 people made inactive lose everything: the removal rules see 500, admins or not."""
    people = [{"id": uid(1000 + n), "state": "active"} for n in range(600)]
    current = CurrentState("user_state")
    current.add_users(people)
    current.authz = grants_state(users=people)
    leavers = [DesiredItem(n + 1, uid(1000 + n), "user", ("inactive",)) for n in range(500)]
    found = violations(leavers, current=current)
    assert found[0] == ("max_removals: the plan deactivates 500 user(s) (a deactivated person loses all access: each "
                        "counts as a removal), more than max_removals=100. Check the desired table; if intended, "
                        "pass max_removals=500 for this run")
    assert found[1].startswith("max_removal_fraction: the plan deactivates 500 user(s) (a deactivated person loses "
                               "all access: each counts as a removal) of the 600 active users (83%)")
    assert violations(leavers, rails=Guardrails(max_removals=500, max_removal_fraction=None), current=current) == []


@pytest.mark.parametrize(("name", "value", "expected"), [
    ("max_removals", "30", 30), ("max_removals", " None ", None), ("max_removals", 7, 7), ("max_removals", "", None),
    ("max_removal_fraction", "0.5", 0.5), ("max_removal_fraction", 1, 1.0), ("min_admins", "3", 3),
    ("allow_roleless", "true", True), ("allow_roleless", "False", False), ("manage_groups", "None", None),
])
def test_rule_values_rendered_as_text_are_read_as_their_kind(name, value, expected):
    assert rule_value(name, value) == expected


@pytest.mark.parametrize(("name", "value"), [("max_removals", "thirty"), ("max_removals", -1), ("max_removals", 2.5),
                                             ("max_removal_fraction", "2"), ("min_admins", None),
                                             ("allow_roleless", "maybe"), ("max_removals", True)])
def test_a_rule_value_of_the_wrong_kind_names_the_rule_and_what_it_takes(name, value):
    with pytest.raises(RuleValueError, match=f"{name}={value!r} is not "):
        rule_value(name, value)
