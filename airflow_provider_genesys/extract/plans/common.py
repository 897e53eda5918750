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
    # Interval datasets (conversations, user_presence): ISO-8601 "start/end"; the others ignore it.
    interval: str | None = None
    poll_interval: float | None = None  # seconds between job status reads; None: 1, 2, 4 ... 15
    job_attempts: int = 3  # analytics jobs submitted in all before a failed/expired job fails the extract
    settle_minutes: float | None = None  # interval datasets: extract only once it ended this long ago; None: 60
    in_progress: str = "refuse"  # conversations without conversationEnd: "refuse" (retryable error) or "write"


Plan = Callable[[PageFetcher, ExtractOptions], Iterator[dict]]
