"""A reviewer's form and what their answer means: the body lists exactly their items, the multi-select offers
exactly their item numbers (labelled), and an answer naming anything else is refused with what it may name."""

from __future__ import annotations

import pytest

from airflow_provider_genesys.access.review import ReviewError, decision, form
from airflow_provider_genesys.access.review.model import FALLBACK, KEEP_ALL, REVOKE_ALL, REVOKE_SELECTED
from tests.unit.review.conftest import loaded, review_text, users


@pytest.fixture(scope="module")
def review(emu):
    fallback = next(u for u in users(emu).values() if u["state"] == "active")
    return loaded(review_text(emu, fallback_reviewers=[fallback["email"]]))


def test_the_form_shows_the_reviewers_items_and_offers_exactly_their_numbers(review) -> None:
    entry = review.reviewer(FALLBACK)
    question = form(review, FALLBACK)
    mine = list(review.items(FALLBACK))
    assert question.items == [i["item"] for i in mine] == list(range(entry["first_item"], entry["last_item"] + 1))
    rows = [line for line in question.body.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert len(rows) == len(mine)
    for row, item in zip(rows, mine, strict=True):
        assert row.startswith(f"| {item['item']} | {item['user_email']} ({item['user_name']}) | ")
        assert f"| {item['division_name']} |" in row
    revoke = question.params["revoke"]
    assert revoke["value"] == []
    assert revoke["schema"]["examples"] == [str(n) for n in question.items]
    assert revoke["schema"]["values_display"][str(mine[0]["item"])] == (
        f"{mine[0]['item']} · {mine[0]['user_email']} · Supervisor · {mine[0]['division_name']}")
    assert question.defaults == [KEEP_ALL]
    assert question.subject.startswith(f"Access review: {entry['items']} grant(s) of Supervisor for fallback (")
    assert "without an answer, **keep all** applies" in question.body


def test_a_review_that_revokes_by_default_says_so_and_defaults_to_revoke_all(emu) -> None:
    fallback = next(u for u in users(emu).values() if u["state"] == "active")
    strict = loaded(review_text(emu, fallback_reviewers=[fallback["email"]], default="revoke"))
    question = form(strict, FALLBACK)
    assert question.defaults == [REVOKE_ALL]
    assert "**revoke all** applies (and the removals still pass the plan's guardrails)" in question.body


def test_a_pipe_or_line_break_in_a_name_does_not_break_the_table(review) -> None:
    item = next(review.items())
    shifted = {**item, "user_name": "Ann | Lee\nJr", "assigned_by": "x|y"}
    fake = type("R", (), {"header": review.header, "reviewer": review.reviewer,
                          "items": lambda self, key=None: iter([shifted])})()
    body = form(fake, item["reviewer"]).body  # type: ignore[arg-type]
    assert "(Ann \\| Lee Jr)" in body
    assert body.splitlines()[-1].count(" | ") == 6


def answer(review, **kwargs):
    entry = review.reviewer(FALLBACK)
    items = range(entry["first_item"], entry["last_item"] + 1)
    defaults = {"params": {}, "responded_by": {"id": "7", "name": "ann"}, "responded_at": "2026-12-08T10:00:00+00:00"}
    return decision(review, FALLBACK, items, **{**defaults, **kwargs}), list(items)


def test_keep_all_revoke_selected_and_revoke_all_mean_what_they_say(review) -> None:
    kept, items = answer(review, chosen=[KEEP_ALL], params={"justification": " still needed "})
    assert (kept.revoke, kept.justification, kept.default_applied) == ([], "still needed", False)
    assert kept.decided_by == {"id": "7", "name": "ann"}
    assert kept.review_checksum == review.checksum
    some, _ = answer(review, chosen=[REVOKE_SELECTED],
                     params={"revoke": [str(items[1]), items[0], f"{items[1]} · someone · Supervisor · Sales"]})
    assert some.revoke == [items[0], items[1]]
    everything, _ = answer(review, chosen=[REVOKE_ALL])
    assert everything.revoke == items
    nothing, _ = answer(review, chosen=[REVOKE_SELECTED], params={"revoke": None})
    assert (nothing.revoke, nothing.note) == ([], "Revoke selected chosen with no item selected: everything was kept")
    contradictory, _ = answer(review, chosen=[KEEP_ALL], params={"revoke": [str(items[0])]})
    assert contradictory.revoke == []
    assert "the 1 selected item(s) were kept" in contradictory.note


def test_no_answer_by_the_deadline_is_the_default_with_nobody_named(review) -> None:
    made, _ = answer(review, chosen=[KEEP_ALL], responded_by=None)
    assert (made.default_applied, made.decided_by, made.revoke) == (True, None, [])


def test_an_answer_naming_items_that_are_not_the_reviewers_is_refused_with_their_numbers(review) -> None:
    entry = review.reviewer(FALLBACK)
    outside = entry["first_item"] - 1 if entry["first_item"] > 1 else entry["last_item"] + 1
    with pytest.raises(ReviewError, match=rf"revoke names {outside!r}, 'abc', which are not among this reviewer's "
                                          rf"items \({entry['first_item']}-{entry['last_item']}\)"):
        answer(review, chosen=[REVOKE_SELECTED], params={"revoke": [outside, "abc"]})
    with pytest.raises(ReviewError, match="is not one of Keep all, Revoke selected, Revoke all"):
        answer(review, chosen=["Approve"])
    with pytest.raises(ReviewError, match="has no reviewer 'nobody'"):
        form(review, "nobody")
