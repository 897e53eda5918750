"""Run one dataset plan into the atomic writer and report what it cost (Airflow-free)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from airflow_provider_genesys.extract.fetch import ApiClient, PageFetcher, exact_passes
from airflow_provider_genesys.extract.plans import PLANS, SNAPSHOT_DATASETS, ExtractOptions, unknown_dataset_message
from airflow_provider_genesys.extract.writer import AtomicNdjsonWriter, StoragePath

log = logging.getLogger(__name__)


class StatsClient(ApiClient, Protocol):
    """A client with ``stats.snapshot()`` (``GenesysCloudClient``)."""

    stats: Any


class Progress:
    """What a long extract is doing, for the task log: a line at most every ``interval`` seconds, a last one.

    It is ticked by every record, by every page (from the fetcher's threads) and whenever the plan says what
    it is busy with (``PageFetcher.doing``), so stretches without records (typing grant subjects, waiting
    for an analytics job, a second pass whose records are all written already) show too, and the interval
    bounds the lines however fast pages come. Counts and the plan's words only: never a record or a token.
    """

    def __init__(
        self, dataset: str, interval: float, *, clock: Callable[[], float] = time.monotonic,
        logger: logging.Logger | logging.LoggerAdapter = log,
    ) -> None:
        self.dataset = dataset
        self.interval = interval
        self.clock = clock
        self.logger = logger
        self.started = clock()
        self._last = self.started
        self._lock = threading.Lock()

    def elapsed(self) -> float:
        return self.clock() - self.started

    def tick(
        self, records: int, pages: int, *, again: int = 0, activity: str | None = None, final: bool = False
    ) -> None:
        """Log a line if ``interval`` passed since the last one (always when ``final``).

        :param records: records written so far; ``again``: records read again and not written twice.
        :param activity: what the plan says it is doing, shown after the counts.
        """
        if not final and self.clock() - self._last < self.interval:
            return  # the common case, without the lock
        with self._lock:
            now = self.clock()
            if not final and now - self._last < self.interval:
                return  # another thread logged meanwhile
            self._last = now
            seconds = now - self.started
            rate = records / seconds if seconds > 0 else 0.0
            self.logger.info(
                "%s %s: %d records, %d pages%s, %.1f records/s, %.1f s%s",
                self.dataset, "done" if final else "progress", records, pages,
                f", {again} read again" if again else "", rate, seconds,
                f"; {activity}" if activity and not final else "",
            )


def run_extract(
    client: StatsClient,
    dataset: str,
    destination: StoragePath,
    options: ExtractOptions | None = None,
    *,
    progress_interval: float = 30.0,
    clock: Callable[[], float] = time.monotonic,
    logger: logging.Logger | logging.LoggerAdapter = log,
) -> dict[str, Any]:
    """Write ``dataset`` to ``destination`` atomically; return the small summary the operator pushes."""
    if dataset not in PLANS:
        raise ValueError(unknown_dataset_message(dataset))
    options = options or ExtractOptions()
    before = client.stats.snapshot()
    progress = Progress(dataset, progress_interval, clock=clock, logger=logger)
    with PageFetcher(client, max_workers=options.max_workers) as fetcher, \
            AtomicNdjsonWriter(destination) as writer:
        def tick(final: bool = False) -> None:
            progress.tick(writer.records, fetcher.pages, again=writer.duplicates, activity=fetcher.activity,
                          final=final)

        def read() -> Iterator[dict]:
            return PLANS[dataset].plan(fetcher, options)

        fetcher.on_progress = tick
        records = read() if dataset in SNAPSHOT_DATASETS else exact_passes(fetcher, read, dataset)
        for record in records:
            writer.write(record)
            tick()
        fetcher.on_progress = None
    tick(final=True)
    if writer.duplicates:
        logger.info("%s: dropped %d records already written (read again to prove nothing moved, or "
                    "listed twice by a changing org)", dataset, writer.duplicates)
    after = client.stats.snapshot()
    return {
        "dataset": dataset,
        "path": str(destination),
        "records": writer.records,
        "pages": fetcher.pages,
        "requests": int(after["requests"] - before["requests"]),
        "rate_limited": int(after["rate_limited"] - before["rate_limited"]),
        "seconds": round(progress.elapsed(), 3),
    }
