"""When an accepted write shows: at once, or ``propagation_delay_seconds`` of the emulator clock later.

Genesys documents that permission changes can take minutes to show in reads. The emulator models it by
deferring a write's effect: the handler checks the request against what reads show now and answers, and
the change itself lands in the org (``emu.org``, every read endpoint, the audit log with the write's
time) once the delay has passed on the emulator clock. Due changes are applied, in the order written,
before each API request is handled and whenever a test moves the clock, so a test that advances the clock
past the delay sees them, deterministically, without sleeping.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from airflow_provider_genesys.testing.clock import Clock

Change = Callable[[float], None]  # applies one write to the org; given the time it was written


class Writes:
    """The writes accepted but not yet visible, and when each becomes visible."""

    def __init__(self, clock: Clock, delay_seconds: float) -> None:
        self._clock = clock
        self.delay_seconds = delay_seconds
        self._pending: list[tuple[float, float, Change]] = []  # (visible at, written at, change)
        self._lock = threading.RLock()

    def apply(self, change: Change) -> None:
        """Apply an accepted write now, or queue it for ``delay_seconds``."""
        now = self._clock.now()
        with self._lock:
            if self.delay_seconds <= 0 and not self._pending:
                change(now)
            else:
                self._pending.append((now + self.delay_seconds, now, change))
                self.settle()

    def settle(self) -> int:
        """Apply every queued write whose time has come, oldest first; returns how many."""
        now = self._clock.now()
        applied = 0
        with self._lock:
            while self._pending and self._pending[0][0] <= now:
                _, written, change = self._pending.pop(0)
                change(written)
                applied += 1
        return applied

    def flush(self) -> int:
        """Apply every queued write now, whatever the delay (a test control)."""
        with self._lock:
            pending, self._pending = self._pending, []
            for _, written, change in pending:
                change(written)
            return len(pending)

    @property
    def pending(self) -> int:
        """How many accepted writes reads do not show yet."""
        with self._lock:
            return len(self._pending)
