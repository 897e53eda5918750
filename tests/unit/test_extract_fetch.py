"""Parallel page fetching: page order kept, bounded in-flight window, stop on the first failure."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from airflow_provider_genesys.extract.fetch import ListingChangedError, PageFetcher, exact_passes


class FakeListing:
    """A page-number listing of ``total`` entities; pages may block until released, to force reordering."""

    def __init__(self, total: int, page_size: int = 10, *, fail_page: int | None = None) -> None:
        self.total = total
        self.page_size = page_size
        self.fail_page = fail_page
        self.requested: list[int] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self.page3_started = threading.Event()

    def request(self, method: str, endpoint: str, *, params: Any = None) -> dict:
        number = int(params["pageNumber"])
        with self._lock:
            self.requested.append(number)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if number == 3:
                self.page3_started.set()
            elif number == 2:  # page 2 answers only after page 3 started: order must still hold
                self.page3_started.wait(timeout=5)
            if number == self.fail_page:
                raise RuntimeError(f"page {number} failed")
            start = (number - 1) * self.page_size
            ids = range(start, min(start + self.page_size, self.total))
            return {
                "entities": [{"id": str(i)} for i in ids],
                "pageNumber": number,
                "pageSize": self.page_size,
                "total": self.total,
                "pageCount": -(-self.total // self.page_size),
            }
        finally:
            with self._lock:
                self.in_flight -= 1

    def iter_pages(self, endpoint: str, *, params: Any = None):  # pragma: no cover - not used here
        raise AssertionError("page-number listings are fetched by page number")


def test_pages_come_back_in_order_with_bounded_concurrency() -> None:
    listing = FakeListing(total=205)
    with PageFetcher(listing, max_workers=3) as fetcher:
        ids = [e["id"] for e in fetcher.listing("/api/v2/x", {"pageSize": 10})]
    assert ids == [str(i) for i in range(205)]
    assert sorted(listing.requested) == list(range(1, 22))
    assert fetcher.pages == 21
    assert 1 < listing.max_in_flight <= 3


def test_a_failed_page_stops_the_listing() -> None:
    listing = FakeListing(total=500, fail_page=5)
    with PageFetcher(listing, max_workers=2) as fetcher, pytest.raises(RuntimeError, match="page 5 failed"):
        list(fetcher.listing("/api/v2/x", {"pageSize": 10}))
    assert max(listing.requested) < 10  # pages far past the failure were never requested


def test_several_listings_are_chained_in_order() -> None:
    listing = FakeListing(total=25)
    with PageFetcher(listing, max_workers=4) as fetcher:
        ids = [e["id"] for e in fetcher.listings(["/a", "/b"], {"pageSize": 10})]
    assert ids == [str(i) for i in range(25)] * 2


def test_max_workers_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_workers"):
        PageFetcher(FakeListing(1), max_workers=0)


class _Counting:
    """A stand-in for PageFetcher: exact_passes reads ``pages`` and says which pass it reads (``doing``)."""

    def __init__(self) -> None:
        self.pages = 0
        self.said: list[str] = []

    @contextmanager
    def doing(self, activity: str) -> Iterator[None]:
        self.said.append(activity)
        yield


def _reader(fetcher: _Counting, passes: list[list[str]], pages_per_pass: int):
    calls = iter(passes)

    def read():
        fetcher.pages += pages_per_pass
        return [{"id": i} for i in next(calls)]

    return read


def test_exact_passes_reads_once_when_one_page_and_twice_otherwise() -> None:
    one = _Counting()
    assert [r["id"] for r in exact_passes(one, _reader(one, [["a", "b"]], 1), "x")] == ["a", "b"]
    many = _Counting()
    out = [r["id"] for r in exact_passes(many, _reader(many, [["a", "b"], ["b", "a"]], 3), "x")]
    assert out == ["a", "b", "b", "a"]  # same ids in another order: equal, done after two passes
    assert (one.said, many.said) == ([], ["pass 2: reading x again to prove nothing moved"])


def test_exact_passes_reads_until_two_agree_then_gives_up() -> None:
    settles = _Counting()
    passes = [["a"], ["a", "b"], ["a", "b"]]
    assert len(list(exact_passes(settles, _reader(settles, passes, 2), "x"))) == 5
    never = _Counting()
    with pytest.raises(ListingChangedError, match="changed during each of 4 reads"):
        list(exact_passes(never, _reader(never, [["a"], ["b"], ["c"], ["d"]], 2), "users"))
