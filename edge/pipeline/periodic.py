"""A named thread that calls a function every ``period_s`` until the shared stop event is set."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class Periodic:
    def __init__(self, name: str, period_s: float, stop: threading.Event, tick: Callable[[], None]) -> None:
        self.name = name
        self._period_s = period_s
        self._stop = stop
        self._tick = tick
        self.errors = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout_s: float) -> bool:
        self._thread.join(timeout_s)
        return not self._thread.is_alive()

    def _run(self) -> None:
        # The first tick comes one period after start, when there is something to report.
        while not self._stop.wait(self._period_s):
            try:
                self._tick()
            except Exception:  # the one broad catch of this loop: log, count, carry on
                self.errors += 1
                log.exception("periodic task %s failed", self.name)
