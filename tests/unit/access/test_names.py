"""Resolving names: ids or case-insensitive names; users by id, email or external key; every offending row
reported at once, with the closest names."""

from __future__ import annotations

import pytest

from airflow_provider_genesys.access.desired import read_rows
from airflow_provider_genesys.access.errors import DesiredTableError
from airflow_provider_genesys.access.names import DesiredItem, resolve
from tests.unit.access.org import ANN, BOB, DIVISIONS, directory


def resolved(rows, rel="grants", **kwargs):
    names = directory(**kwargs)
    items = list(resolve(read_rows(rows, rel), rel, names))
    return items, names.problems


def test_names_in_any_case_ids_and_the_wildcard_division():
    items, problems = resolved([
        {"subject": "ANN@example.com", "role": "supervisor", "division": "SALES"},
        {"subject": BOB.upper(), "role": "r-qe", "division": "*"},
        {"subject": "team leads", "subject_type": "Group", "role": "Employee", "division": "d-home"},
    ])
    assert problems == []
    assert items == [DesiredItem(1, ANN, "user", ("r-sup", "d-sales")), DesiredItem(2, BOB, "user", ("r-qe", "*")),
                     DesiredItem(3, "g-leads", "group", ("r-emp", "d-home"))]


def test_every_offending_row_is_reported_with_the_closest_names():
    items, problems = resolved([
        {"subject": "ann@example.com", "role": "Supervisr", "division": "Sales"},
        {"subject": "anne@example.com", "role": "Supervisor", "division": "Sals"},
        {"subject": "ann@example.com", "role": "", "division": "Sales"},
        {"subject": "not-an-id", "role": "Supervisor", "division": "Sales"},
        {"subject": "Team Leeds", "subject_type": "group", "role": "Supervisor", "division": "Sales"},
        {"subject": "ann@example.com", "subject_type": "robot", "role": "Supervisor", "division": "Sales"},
        {"subject": "00000000-0000-4000-8000-999999999999", "role": "Supervisor", "division": "Sales"},
    ])
    assert items == []
    assert problems == [
        "row 1 (ann@example.com, Supervisr, Sales): role 'Supervisr': no role is called 'Supervisr' (closest: "
        "'Supervisor')",
        "row 2 (anne@example.com, Supervisor, Sals): subject 'anne@example.com': no user has the email "
        "'anne@example.com' "
        "(closest: 'ann@example.com')",
        "row 2 (anne@example.com, Supervisor, Sals): division 'Sals': no division is called 'Sals' (closest: 'Sales')",
        "row 3 (ann@example.com, Sales): the role is blank",
        "row 4 (not-an-id, Supervisor, Sales): subject 'not-an-id': 'not-an-id' is neither a user id (UUID) nor an "
        "email: name users by one of them",
        "row 5 (Team Leeds, Supervisor, Sales, group): subject 'Team Leeds': no group is called 'Team Leeds' "
        "(closest: 'Team Leads')",
        "row 6 (ann@example.com, Supervisor, Sales, robot): subject_type 'robot' is not one of user, group",
        "row 7 (00000000-0000-4000-8000-999999999999, Supervisor, Sales): subject "
        "'00000000-0000-4000-8000-999999999999': no user has the id "
        "'00000000-0000-4000-8000-999999999999'",
    ]


def test_a_division_name_matching_two_divisions_is_ambiguous():
    twice = [*DIVISIONS, {"id": "d-sales-2", "name": "sales"}]
    items, problems = resolved([{"subject": "ann@example.com", "role": "Supervisor", "division": "Sales"},
                                {"subject": "ann@example.com", "role": "Supervisor", "division": "d-sales-2"}],
                               divisions=twice)
    assert problems == ["row 1 (ann@example.com, Supervisor, Sales): division 'Sales': 2 divisions are called "
                        "'Sales' (d-sales, d-sales-2): name it by id"]
    assert items == [DesiredItem(2, ANN, "user", ("r-sup", "d-sales-2"))]


def test_users_by_external_key_of_one_authority():
    items, problems = resolved(
        [{"group": "Night Shift", "user": "HR-1"}, {"group": "Night Shift", "user": "ann@example.com"}],
        "group_members", user_key="external:workday", external_ids={"HR-1": ANN},
    )
    assert items == [DesiredItem(1, ANN, "user", ("g-night",))]
    assert problems == ["row 2 (Night Shift, ann@example.com): user 'ann@example.com': no user has external id "
                        "'ann@example.com' under "
                        "authority 'workday'"]


@pytest.mark.parametrize("user_key", ["external", "external:", "email", "workday:x"])
def test_a_malformed_user_key_says_what_is_understood(user_key):
    with pytest.raises(DesiredTableError, match="external:<authority>"):
        directory(user_key=user_key, external_ids={})


def test_queues_and_user_states():
    items, problems = resolved([{"queue": "billing", "user": "bob@example.com"}, {"queue": "Tech", "user": "x@y"}],
                               "queue_members")
    assert items == [DesiredItem(1, BOB, "user", ("q-billing",))]
    assert problems == ["row 2 (Tech, x@y): user 'x@y': no user has the email 'x@y'"]
    items, problems = resolved([{"user": "ann@example.com", "state": "Inactive"},
                                {"user": "bob@example.com", "state": "gone"}], "user_state")
    assert items == [DesiredItem(1, ANN, "user", ("inactive",))]
    assert problems == ["row 2 (bob@example.com, gone): state 'gone' is not one of active, inactive"]


def test_a_name_of_something_else_says_what_it_is_and_what_to_do():
    """The engine knows a group, a role or a person by that name: it says so, and how to fix the row."""
    _, problems = resolved([
        {"subject": "Team Leads", "role": "Supervisor", "division": "Sales"},  # a group, without subject_type
        {"subject": "ann@example.com", "role": "Sales", "division": "Supervisor"},  # columns swapped
        {"subject": "Ann", "role": "Supervisor", "division": "Sales"},  # a person's name
    ])
    assert problems == [
        "row 1 (Team Leads, Supervisor, Sales): subject 'Team Leads': 'Team Leads' is neither a user id (UUID) nor "
        "an email: name users by one of them; a group is called that (g-leads): give its row subject_type=group "
        "(a column subject_type with user or group)",
        "row 2 (ann@example.com, Sales, Supervisor): role 'Sales': no role is called 'Sales'; a division is called "
        "that (d-sales): is it in the right column?",
        "row 2 (ann@example.com, Sales, Supervisor): division 'Supervisor': no division is called 'Supervisor'; "
        "a role is called that (r-sup): is it in the right column?",
        "row 3 (Ann, Supervisor, Sales): subject 'Ann': 'Ann' is neither a user id (UUID) nor an email: name users "
        "by one of them; a user is called that (ann@example.com): name users by email or id",
    ]


def test_suggestions_stop_after_many_problems_but_every_row_is_still_listed():
    rows = [{"subject": f"nobody{n}@example.com", "role": "Supervisor", "division": "Sales"} for n in range(60)]
    _, problems = resolved(rows)
    assert len(problems) == 60
    assert "closest" not in problems[-1]
