"""An injectable clock: token expiry, rate-limit windows and audit jobs read it, so tests advance time
instead of sleeping."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone


class Clock:
    """Wall-clock seconds plus an offset that tests move forward with :meth:`advance`."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return time.time() + self._offset

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"the emulator clock only moves forward; got advance({seconds})")
        with self._lock:
            self._offset += seconds


def iso(epoch: float) -> str:
    """Genesys' timestamp format: UTC with milliseconds and a ``Z``."""
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{int(epoch * 1000) % 1000:03d}Z"
    )


def parse_iso(text: str) -> float:
    """Parse ``2024-01-01T00:00:00Z`` (optionally with fractions or an offset) into epoch seconds."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.timestamp()
