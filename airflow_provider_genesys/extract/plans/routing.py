"""Routing datasets: ``queues`` (with their members) and ``wrapup_codes``.

``queues`` is one NDJSON file holding two kinds of lines, told apart by ``recordType``: a ``queue`` line
per queue (Genesys' ``Queue``), then a ``member`` line per queue membership
(``{"recordType": "member", "id": "<queueId>/<userId>", "queueId", "member": <QueueMember>}``). A queue
with thousands of members never sits in memory as one record: memory stays flat whatever the queue sizes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from airflow_provider_genesys.client import api_path
from airflow_provider_genesys.extract.fetch import PageFetcher

QUEUES = "/api/v2/routing/queues"
QUEUE_MEMBERS = "/api/v2/routing/queues/{}/members"
WRAPUP_CODES = "/api/v2/routing/wrapupcodes"


def queues(fetcher: PageFetcher, options: Any) -> Iterator[dict]:
    """Every queue, then every queue's members (member listings' first pages fetched in parallel)."""
    queue_ids: list[str] = []  # ids only: a few bytes per queue
    for queue in fetcher.listing(QUEUES):
        queue_ids.append(queue["id"])
        yield {"recordType": "queue", **queue}
    endpoints = [api_path(QUEUE_MEMBERS, queue_id) for queue_id in queue_ids]
    for queue_id, (_, members) in zip(queue_ids, fetcher.each_listing(endpoints), strict=True):
        for member in members:
            yield {"recordType": "member", "id": f"{queue_id}/{member['id']}", "queueId": queue_id,
                   "member": member}


def wrapup_codes(fetcher: PageFetcher, options: Any) -> Iterator[dict]:
    return fetcher.listing(WRAPUP_CODES)

