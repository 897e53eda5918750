"""Run one dataset plan into the atomic writer and report what it cost (Airflow-free)."""

from __future__ import annotations

import logging
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
    """Logs records, pages and records/s at most every ``interval`` seconds (and once at the end)."""

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

    def elapsed(self) -> float:
        return self.clock() - self.started

    def tick(self, records: int, pages: int, *, final: bool = False) -> None:
        now = self.clock()
        if not final and now - self._last < self.interval:
            return
        self._last = now
        seconds = now - self.started
        rate = records / seconds if seconds > 0 else 0.0
        self.logger.info(
            "%s %s: %d records, %d pages, %.1f records/s, %.1f s",
            self.dataset, "done" if final else "progress", records, pages, rate, seconds,
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
        def read() -> Iterator[dict]:
            return PLANS[dataset].plan(fetcher, options)

        records = read() if dataset in SNAPSHOT_DATASETS else exact_passes(fetcher, read, dataset)
        for record in records:
            writer.write(record)
            progress.tick(writer.records, fetcher.pages)
    progress.tick(writer.records, fetcher.pages, final=True)
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
