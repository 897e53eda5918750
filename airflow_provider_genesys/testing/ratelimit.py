"""Fixed-window rate limiting per key (an access token, the organisation, or the token endpoint as a whole)."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

from airflow_provider_genesys.testing.clock import Clock


@dataclass(frozen=True)
class Decision:
    """One request's verdict and the values of the ``inin-ratelimit-*`` headers."""

    allowed: bool
    limit: int
    count: int
    reset: int  # whole seconds until the window resets (at least 1)

    def headers(self) -> dict[str, str]:
        return {
            "inin-ratelimit-allowed": str(self.limit),
            "inin-ratelimit-count": str(self.count),
            "inin-ratelimit-reset": str(self.reset),
        }


class FixedWindowLimiter:
    """``limit`` requests per ``window`` seconds per key; a window starts with a key's first request."""

    def __init__(self, limit: int, window: float, clock: Clock) -> None:
        if limit < 1 or window <= 0:
            raise ValueError(f"rate limit needs limit >= 1 and window > 0; got {limit} per {window}s")
        self.limit = limit
        self.window = window
        self._clock = clock
        self._windows: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, *, count_it: bool = True) -> Decision:
        """Count one request for ``key``; refused requests do not count against the window.

        ``count_it=False`` only tells what counting would decide (the headers of a request refused elsewhere).
        """
        now = self._clock.now()
        with self._lock:
            start, count = self._windows.get(key, (now, 0))
            if now >= start + self.window:
                start, count = now, 0
            allowed = count < self.limit
            if allowed and count_it:
                count += 1
                self._windows[key] = (start, count)
        reset = max(1, math.ceil(start + self.window - now))
        return Decision(allowed, self.limit, count, reset)

    def peek(self, key: str) -> Decision:
        return self.hit(key, count_it=False)

    def forget(self, key: str) -> None:
        with self._lock:
            self._windows.pop(key, None)
