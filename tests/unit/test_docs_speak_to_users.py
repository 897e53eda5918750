"""What users read names no internal tracker item: a reader who cannot open the tracker learns nothing from
"(issue 8)", so the README, the PyPI readme, the CHANGELOG, ``docs/`` and the example DAGs say what they mean
instead."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
READ_BY_USERS = [
    "README.md", "README-pypi.md", "CHANGELOG.md",
    *sorted(f"docs/{p.name}" for p in (ROOT / "docs").glob("*.md")),
    *sorted(f"dags_examples/{p.name}" for p in (ROOT / "dags_examples").glob("*.py")),
]
TRACKER_NUMBER = re.compile(r"\bissues?\s*#?\s*\d+", re.IGNORECASE)


@pytest.mark.parametrize("path", READ_BY_USERS)
def test_no_tracker_numbers(path: str) -> None:
    lines = (ROOT / path).read_text(encoding="utf-8").splitlines()
    found = [f"{path}:{n}: {line.strip()}" for n, line in enumerate(lines, 1) if TRACKER_NUMBER.search(line)]
    assert not found, "say what is meant instead of naming a tracker item:\n" + "\n".join(found)


@pytest.mark.parametrize("text", ["(issue 8)", "see issue 15, item 1", "Issues 7 and 9", "issue #12", "issue 17's"])
def test_the_check_finds_tracker_numbers(text: str) -> None:
    assert TRACKER_NUMBER.search(text)


@pytest.mark.parametrize("text", ["psf/requests#3829", "emu.issue_token()", "it issued 3 tokens",
                                  "a real-time issue may"])
def test_the_check_leaves_other_words_alone(text: str) -> None:
    assert not TRACKER_NUMBER.search(text)
