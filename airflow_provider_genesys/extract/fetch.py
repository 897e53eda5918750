"""Fetch the pages of Genesys listings in parallel, yielding them in page order.

Page-number listings tell us their page count on page 1, so pages 2..N can be fetched by a thread pool;
the client's shared pacer keeps the pool inside the rate limit. Results are handed out in page order (the
output is deterministic) with at most ``max_workers`` pages waiting per listing level, so memory stays
flat however large the org is.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, Protocol, TypeVar

from airflow_provider_genesys.exceptions import GenesysCloudError
from airflow_provider_genesys.paging import Page, page_count, page_size_for, parse_page, takes_page_parameters

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")
MAX_PASSES = 4
_MODULUS = 1 << 128


class ListingChangedError(GenesysCloudError):
    """The org kept changing while its listings were read: retry later (nothing was written)."""


class ApiClient(Protocol):
    """What the extract engine needs from ``GenesysCloudClient`` (kept narrow so tests can fake it)."""

    def request(self, method: str, endpoint: str, *, params: Mapping[str, Any] | None = None) -> Any: ...

    def iter_pages(self, endpoint: str, *, params: Mapping[str, Any] | None = None) -> Iterator[Page]: ...


class PageFetcher:
    """Parallel, ordered page fetching through one thread-safe client; counts the pages it fetched.

    ``on_progress`` (the engine's progress log) is called after every page, from whichever thread fetched
    it, and whenever a plan says what it is busy with (:meth:`doing`, :meth:`progress`), so a stretch
    without records (typing grant subjects, waiting for a job, a second pass) still shows in the task log.
    """

    def __init__(
        self, client: ApiClient, *, max_workers: int = 4, on_progress: Callable[[], None] | None = None
    ) -> None:
        if max_workers < 1:
            raise ValueError(f"max_workers must be at least 1; got {max_workers}")
        self.client = client
        self.max_workers = max_workers
        self.pages = 0
        self.on_progress = on_progress
        self.activity: str | None = None  # what the plan says it is doing now (shown in progress lines)
        # What a plan learns once per extract and reuses in later passes (exact_passes); values with a
        # close() method are closed with the fetcher.
        self.memo: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="genesys-extract")

    def __enter__(self) -> PageFetcher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        for value in self.memo.values():
            close = getattr(value, "close", None)
            if callable(close):
                close()
        self.memo.clear()

    def _counted(self) -> None:
        with self._lock:
            self.pages += 1
        self.progress()

    def count_page(self) -> None:
        """Count a page a plan fetched itself (e.g. the cursor-paged results of an analytics job)."""
        self._counted()

    def progress(self, activity: str | None = None) -> None:
        """Let the progress log look at the clock (a page came, a job's status was read); ``activity``, if
        given, says what the plan is doing from now on (until the enclosing :meth:`doing` block ends)."""
        if activity is not None:
            self.activity = activity
        if self.on_progress is not None:
            self.on_progress()

    @contextmanager
    def doing(self, activity: str) -> Iterator[None]:
        """Say what the plan is busy with during the block (progress lines show it); then what it was before."""
        previous = self.activity
        self.progress(activity)
        try:
            yield
        finally:
            self.activity = previous

    def ordered_map(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        """``map(fn, items)`` on the pool, in order, with at most ``max_workers`` results in flight."""
        window: deque[Future[R]] = deque()
        try:
            for item in items:
                window.append(self._pool.submit(fn, item))
                if len(window) >= self.max_workers:
                    yield window.popleft().result()
            while window:
                yield window.popleft().result()
        finally:
            for future in window:  # the consumer stopped early or a page failed: don't fetch the rest
                future.cancel()

    def get_page(self, endpoint: str, params: Mapping[str, Any] | None, number: int) -> Page:
        """One page of a page-number listing, at the endpoint's largest page size unless given."""
        if not takes_page_parameters(endpoint):
            raise ValueError(f"{endpoint} takes no paging parameters: read it with listing() or sequential()")
        query = {"pageSize": page_size_for(endpoint), **(params or {}), "pageNumber": number}
        page = parse_page(self.client.request("GET", endpoint, params=query), endpoint)
        self._counted()
        return page

    def rest(self, endpoint: str, params: Mapping[str, Any] | None, first: Page) -> Iterator[dict]:
        """The entities of pages 2..N of a listing whose first page is ``first``, fetched in parallel."""
        count = page_count(first, int((params or {}).get("pageSize") or page_size_for(endpoint)))
        if count is None:
            # No page count in the envelope: follow it sequentially, skipping the page we already have.
            pages = self.client.iter_pages(endpoint, params=params)
            next(pages, None)
            for page in pages:
                self._counted()
                yield from page.entities
            return
        for page in self.ordered_map(lambda n: self.get_page(endpoint, params, n), range(2, count + 1)):
            yield from page.entities

    def listing(
        self, endpoint: str, params: Mapping[str, Any] | None = None, *, first: Page | None = None
    ) -> Iterator[dict]:
        """Every entity of a listing, in order; pass ``first`` if page 1 is already fetched.

        A listing whose operation takes no paging parameters (``paging.takes_page_parameters``) is read as
        its envelope leads, one page after the other, with nothing added to the request.
        """
        if first is None and not takes_page_parameters(endpoint):
            yield from self.sequential(endpoint, params)
            return
        first = first or self.get_page(endpoint, params, 1)
        yield from first.entities
        yield from self.rest(endpoint, params, first)

    def each_listing(
        self, endpoints: Iterable[str], params: Mapping[str, Any] | None = None
    ) -> Iterator[tuple[str, Iterator[dict]]]:
        """``(endpoint, entities)`` per listing, in order; first pages are fetched ahead in parallel.

        Consume each ``entities`` before asking for the next listing.
        """
        firsts = self.ordered_map(lambda endpoint: (endpoint, self.get_page(endpoint, params, 1)), endpoints)
        for endpoint, first in firsts:
            yield endpoint, self.listing(endpoint, params, first=first)

    def listings(self, endpoints: Iterable[str], params: Mapping[str, Any] | None = None) -> Iterator[dict]:
        """Every entity of several listings, one listing after the other."""
        for _, entities in self.each_listing(endpoints, params):
            yield from entities

    def sequential(self, endpoint: str, params: Mapping[str, Any] | None = None) -> Iterator[dict]:
        """Every entity of a cursor listing (pages depend on each other, so one at a time)."""
        for page in self.client.iter_pages(endpoint, params=params):
            self._counted()
            yield from page.entities


def exact_passes(
    fetcher: PageFetcher, read: Callable[[], Iterable[dict]], what: str, *, max_passes: int = MAX_PASSES
) -> Iterator[dict]:
    """The records of ``read()``, re-read until two passes in a row return the same ids.

    Paging is not atomic: a record added, deleted or moved while a listing is paged shifts the others
    across page boundaries (page numbers) or may do so (cursors Genesys does not document), so one pass can
    miss a record that existed the whole time. A pass that needed one page is atomic and enough. Otherwise
    a second pass is read; when both have the same fingerprint (the count and the sum of a 128-bit hash of
    every id: the multiset of ids, whatever their order, in constant memory) nothing moved between them and
    the second pass is complete. If the org keeps changing, passes continue up to
    ``max_passes``, then :class:`ListingChangedError` (retryable) is raised before anything is committed.
    Every pass's records are yielded: the writer drops the ids it already wrote, so none is written twice.
    """
    previous: tuple[int, int] | None = None
    for number in range(1, max_passes + 1):
        total, count = 0, 0
        pages_before = fetcher.pages
        saying: AbstractContextManager[None] = nullcontext()
        if number > 1:
            saying = fetcher.doing(f"pass {number}: reading {what} again to prove nothing moved")
        with saying:
            for record in read():
                key = str(record.get("id") if isinstance(record, dict) else record).encode()
                total = (total + int.from_bytes(hashlib.blake2b(key, digest_size=16).digest(), "big")) % _MODULUS
                count += 1
                yield record
        fingerprint = (count, total)
        if (number == 1 and fetcher.pages - pages_before <= 1) or fingerprint == previous:
            return
        if number == 1:
            log.info("%s: read %d records in %d pages; reading them again to prove nothing moved between pages "
                     "(pass 2 of at most %d)", what, count, fetcher.pages - pages_before, max_passes)
        if previous is not None:
            log.warning("%s changed while it was read (pass %d differs from pass %d): reading it again",
                        what, number, number - 1)
        previous = fingerprint
    raise ListingChangedError(
        f"{what} changed during each of {max_passes} reads, so an extract could miss records; nothing was "
        "written. This is transient (users or grants were being changed): retry the task later."
    )
