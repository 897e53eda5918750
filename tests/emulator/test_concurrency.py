"""Parallel clients get consistent pages (parallel page fetching is part of the product)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from .conftest import ApiClient


def test_parallel_page_fetching_is_consistent(shared_emu):
    client = ApiClient(shared_emu)
    pages = client.ok("/api/v2/users", pageSize=10, state="any")["pageCount"]

    def fetch(number: int) -> list[str]:
        return [
            u["id"]
            for u in ApiClient(shared_emu).ok("/api/v2/users", pageSize=10, pageNumber=number, state="any")[
                "entities"
            ]
        ]

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(fetch, [n for n in range(1, pages + 1) for _ in range(2)]))
    firsts, seconds = results[::2], results[1::2]
    assert firsts == seconds
    assert [i for page in firsts for i in page] == shared_emu.org.user_ids("any")


def test_one_session_shared_by_threads(shared_emu):
    client = ApiClient(shared_emu)
    ids = shared_emu.org.user_ids("active")[:40]
    with ThreadPoolExecutor(max_workers=8) as pool:
        users = list(pool.map(lambda i: client.ok(f"/api/v2/users/{i}")["id"], ids))
    assert users == ids
