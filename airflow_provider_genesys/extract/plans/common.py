"""What every plan shares: its options and its type."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from airflow_provider_genesys.extract.fetch import PageFetcher

USER_STATES = ("active", "inactive", "deleted", "any")


@dataclass(frozen=True)
class ExtractOptions:
    """What a plan may be told besides the dataset (only ``users`` takes state and expand)."""

    state: str = "any"
    expand: Sequence[str] = ()
    max_workers: int = 4


Plan = Callable[[PageFetcher, ExtractOptions], Iterator[dict]]
