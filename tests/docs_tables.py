"""The parts of the docs generated from the code, and how to rewrite them: ``python -m tests.docs_tables``.

Each generated block sits between ``<!-- generated: NAME -->`` and ``<!-- end generated: NAME -->`` (HTML
comments: invisible on GitHub and PyPI); ``tests/unit/test_docs_tables.py`` fails when a block differs from
what the code gives now. The unknown-dataset message of docs/operators.md is checked the same way, by its
text.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

from airflow_provider_genesys import _deprecation
from airflow_provider_genesys.extract.plans import dataset_list, markdown_table, unknown_dataset_message

ROOT = Path(__file__).resolve().parents[1]
REGENERATE = "python -m tests.docs_tables"

# (file, block name) -> the block's text; a table gets its own lines, a list sits inside a sentence.
BLOCKS: dict[tuple[str, str], Callable[[], str]] = {
    ("docs/operators.md", "datasets table"): lambda: f"\n\n{markdown_table()}\n\n",
    ("README.md", "dataset list"): dataset_list,
    ("README-pypi.md", "dataset list"): dataset_list,
    ("docs/public-api.md", "deprecated places"): lambda: f"\n{_deprecation.markdown_table()}\n",
}
# (file, pattern) -> what the text matching the pattern must be.
UNKNOWN_DATASET = r"dataset 'user' is not supported; use one of: [^`]*"
MESSAGES: dict[tuple[str, str], Callable[[], str]] = {
    ("docs/operators.md", UNKNOWN_DATASET): lambda: unknown_dataset_message("user"),
}


def _block(name: str) -> re.Pattern[str]:
    return re.compile(rf"(<!-- generated: {re.escape(name)} -->)(.*?)(<!-- end generated: {re.escape(name)} -->)",
                      re.DOTALL)


def render(text: str, path: str) -> str:
    """``text`` (the file at ``path``) with every generated part as the code gives it now."""
    for (file, name), make in BLOCKS.items():
        if file == path:
            pattern = _block(name)
            if not pattern.search(text):
                raise ValueError(f"{path} has no <!-- generated: {name} --> ... <!-- end generated: {name} --> block")
            text = pattern.sub(lambda m, make=make: m.group(1) + make() + m.group(3), text)
    for (file, regex), make in MESSAGES.items():
        if file == path:
            if not re.search(regex, text):
                raise ValueError(f"{path} has no text matching {regex!r}")
            text = re.sub(regex, lambda _m, make=make: make(), text)
    return text


def files() -> list[str]:
    return sorted({file for file, _ in (*BLOCKS, *MESSAGES)})


def main() -> int:
    for path in files():
        target = ROOT / path
        old = target.read_text(encoding="utf-8")
        new = render(old, path)
        if new != old:
            target.write_text(new, encoding="utf-8")
            print(f"rewrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
