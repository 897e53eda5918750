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
        "row 1: role 'Supervisr': no role is called 'Supervisr' (closest: 'Supervisor')",
        "row 2: subject 'anne@example.com': no user has the email 'anne@example.com' "
        "(closest: 'ann@example.com')",
        "row 2: division 'Sals': no division is called 'Sals' (closest: 'Sales')",
        "row 3: the role is blank",
        "row 4: subject 'not-an-id': 'not-an-id' is neither a user id (UUID) nor an email: name users by one of them",
        "row 5: subject 'Team Leeds': no group is called 'Team Leeds' (closest: 'Team Leads')",
        "row 6: subject_type 'robot' is not one of user, group",
        "row 7: subject '00000000-0000-4000-8000-999999999999': no user has the id "
        "'00000000-0000-4000-8000-999999999999'",
    ]


def test_a_division_name_matching_two_divisions_is_ambiguous():
    twice = [*DIVISIONS, {"id": "d-sales-2", "name": "sales"}]
    items, problems = resolved([{"subject": "ann@example.com", "role": "Supervisor", "division": "Sales"},
                                {"subject": "ann@example.com", "role": "Supervisor", "division": "d-sales-2"}],
                               divisions=twice)
    assert problems == ["row 1: division 'Sales': 2 divisions are called 'Sales' (d-sales, d-sales-2): name it by id"]
    assert items == [DesiredItem(2, ANN, "user", ("r-sup", "d-sales-2"))]


def test_users_by_external_key_of_one_authority():
    items, problems = resolved(
        [{"group": "Night Shift", "user": "HR-1"}, {"group": "Night Shift", "user": "ann@example.com"}],
        "group_members", user_key="external:workday", external_ids={"HR-1": ANN},
    )
    assert items == [DesiredItem(1, ANN, "user", ("g-night",))]
    assert problems == ["row 2: user 'ann@example.com': no user has external id 'ann@example.com' under "
                        "authority 'workday'"]


@pytest.mark.parametrize("user_key", ["external", "external:", "email", "workday:x"])
def test_a_malformed_user_key_says_what_is_understood(user_key):
    with pytest.raises(DesiredTableError, match="external:<authority>"):
        directory(user_key=user_key, external_ids={})


def test_queues_and_user_states():
    items, problems = resolved([{"queue": "billing", "user": "bob@example.com"}, {"queue": "Tech", "user": "x@y"}],
                               "queue_members")
    assert items == [DesiredItem(1, BOB, "user", ("q-billing",))]
    assert problems == ["row 2: user 'x@y': no user has the email 'x@y'"]
    items, problems = resolved([{"user": "ann@example.com", "state": "Inactive"},
                                {"user": "bob@example.com", "state": "gone"}], "user_state")
    assert items == [DesiredItem(1, ANN, "user", ("inactive",))]
    assert problems == ["row 2: state 'gone' is not one of active, inactive"]


def test_suggestions_stop_after_many_problems_but_every_row_is_still_listed():
    rows = [{"subject": f"nobody{n}@example.com", "role": "Supervisor", "division": "Sales"} for n in range(60)]
    _, problems = resolved(rows)
    assert len(problems) == 60
    assert "closest" not in problems[-1]
