"""Counters of what the emulator served, so tests can assert e.g. "no 429" or "3 token requests"."""

from __future__ import annotations

import threading
from collections import Counter


class Stats:
    """Thread-safe counters. ``by_path`` keys are route templates like ``GET /api/v2/users/{userId}``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.requests = 0  # every request received, login and API, faulted or not
            self.api_requests = 0
            self.token_requests = 0  # POST .../oauth/token, successful or not
            self.tokens_issued = 0
            self.rate_limited = 0  # 429s served (rate limit and rate_limit faults)
            self.org_rate_limited = 0  # of which refused by the organisation-wide window (org_rate_limit)
            self.faults_fired = 0
            self.incomplete = 0  # requests whose body never fully arrived (the client died): never served
            self.by_path: Counter[str] = Counter()
            self.by_status: Counter[int] = Counter()

    def record(
        self, route: str, status: int | None, *, api: bool, login: bool, issued: bool, faulted: bool
    ) -> None:
        with self._lock:
            self.requests += 1
            self.api_requests += api
            self.token_requests += login
            self.tokens_issued += issued
            self.faults_fired += faulted
            self.rate_limited += status == 429
            self.by_path[route] += 1
            if status is not None:
                self.by_status[status] += 1

    def count_incomplete(self) -> None:
        with self._lock:
            self.incomplete += 1

    def count_org_rate_limited(self) -> None:
        with self._lock:
            self.org_rate_limited += 1

    def snapshot(self) -> dict[str, object]:
        with self._lock:
            return {
                "requests": self.requests,
                "api_requests": self.api_requests,
                "token_requests": self.token_requests,
                "tokens_issued": self.tokens_issued,
                "rate_limited": self.rate_limited,
                "org_rate_limited": self.org_rate_limited,
                "faults_fired": self.faults_fired,
                "incomplete": self.incomplete,
                "by_path": dict(self.by_path),
                "by_status": dict(self.by_status),
            }
