"""Time, behind a small interface so tests can drive it (the fake clock is a hardware-edge fake)."""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    """Wall-clock and monotonic time in nanoseconds."""

    def time_ns(self) -> int:
        """Nanoseconds since the Unix epoch (UTC)."""
        ...

    def monotonic_ns(self) -> int:
        """A clock that never goes backwards, for intervals."""
        ...


class SystemClock:
    """The real clocks of the machine."""

    def time_ns(self) -> int:
        return time.time_ns()

    def monotonic_ns(self) -> int:
        return time.monotonic_ns()


class FakeClock:
    """A clock that moves only when told to. Thread-safe.

    The wall clock can be jumped forwards or backwards independently of the monotonic clock, which is how
    real clock corrections behave.
    """

    def __init__(self, start_ns: int = 1_767_225_600_000_000_000) -> None:  # 2026-01-01T00:00:00Z
        self._lock = threading.Lock()
        self._wall_ns = start_ns
        self._mono_ns = 0

    def time_ns(self) -> int:
        with self._lock:
            return self._wall_ns

    def monotonic_ns(self) -> int:
        with self._lock:
            return self._mono_ns

    def advance(self, seconds: float) -> None:
        """Move both clocks forward."""
        if seconds < 0:
            raise ValueError("advance() moves forward only; use jump_wall() for wall-clock corrections")
        step = round(seconds * 1e9)
        with self._lock:
            self._wall_ns += step
            self._mono_ns += step

    def jump_wall(self, seconds: float) -> None:
        """Correct the wall clock by ``seconds`` (may be negative); the monotonic clock is untouched."""
        with self._lock:
            self._wall_ns += round(seconds * 1e9)
