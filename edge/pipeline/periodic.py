"""A named thread that calls a function every ``period_s`` until the shared stop event is set.

The period may be changed while it runs (``set_period``, e.g. by ``set_config``): the thread waits on the
stop event in slices of at most ``_SLICE_S``, so a new period counts from the last tick within that long.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

_SLICE_S = 1.0


class Periodic:
    def __init__(self, name: str, period_s: float, stop: threading.Event, tick: Callable[[], None]) -> None:
        self.name = name
        self._period_s = period_s
        self._stop = stop
        self._tick = tick
        self.errors = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    @property
    def period_s(self) -> float:
        return self._period_s

    def set_period(self, period_s: float) -> None:
        if period_s <= 0:
            raise ValueError("a period must be positive")
        self._period_s = period_s  # a float assignment: atomic; the thread reads it each slice

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout_s: float) -> bool:
        self._thread.join(timeout_s)
        return not self._thread.is_alive()

    def _run(self) -> None:
        # The first tick comes one period after start, when there is something to report.
        while not self._wait_period():
            try:
                self._tick()
            except Exception:  # the one broad catch of this loop: log, count, carry on
                self.errors += 1
                log.exception("periodic task %s failed", self.name)

    def _wait_period(self) -> bool:
        """Wait one period (as it is while waiting); True when the stop event was set."""
        last_tick = time.monotonic()
        while True:
            remaining = last_tick + self._period_s - time.monotonic()
            if remaining <= 0:
                return self._stop.is_set()
            if self._stop.wait(min(remaining, _SLICE_S)):
                return True
