"""The docs say what the code does: every generated block (dataset tables and lists) equals what the
registry gives now, and the unknown-dataset message in the docs is the one the operator raises."""

from __future__ import annotations

import difflib

import pytest

from airflow_provider_genesys.extract.plans import DATASETS, PLANS, dataset_list, markdown_table
from airflow_provider_genesys.operators.genesys import GenesysCloudExtractOperator
from tests.docs_tables import REGENERATE, ROOT, files, render


@pytest.mark.parametrize("path", files())
def test_generated_parts_of_the_docs_match_the_code(path: str) -> None:
    text = (ROOT / path).read_text(encoding="utf-8")
    expected = render(text, path)
    diff = "".join(difflib.unified_diff(text.splitlines(True), expected.splitlines(True), path, "generated"))
    assert text == expected, f"{path} disagrees with the code; run `{REGENERATE}` and commit:\n{diff}"


def test_the_table_has_one_row_per_dataset_in_registry_order() -> None:
    rows = markdown_table().splitlines()[2:]
    assert [row.split("`")[1] for row in rows] == list(PLANS)
    assert dataset_list().count("`") == 2 * len(DATASETS)


def test_a_wrong_dataset_name_lists_every_dataset_of_the_registry() -> None:
    with pytest.raises(ValueError, match="dataset 'user' is not supported; use one of: ") as excinfo:
        GenesysCloudExtractOperator(task_id="x", dataset="user", destination="file:///tmp/x.ndjson")
    assert str(excinfo.value).endswith(", ".join(DATASETS) + ".")


def test_a_changed_registry_would_fail_the_check() -> None:
    text = (ROOT / "docs/operators.md").read_text(encoding="utf-8")
    stale = text.replace("| `wrapup_codes` |", "| `wrap_up_codes` |", 1)
    assert render(stale, "docs/operators.md") != stale


def test_interval_datasets_are_the_analytics_ones() -> None:
    from airflow_provider_genesys.extract.plans import INTERVAL_DATASETS

    assert INTERVAL_DATASETS == ("conversations", "user_presence")
