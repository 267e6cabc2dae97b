"""Per-stage counters, rate and latency, read by health while the stage thread writes them."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from edge.clock import Clock

_FPS_WINDOW_S = 5.0


@dataclass(frozen=True, slots=True)
class StageStatsSnapshot:
    name: str
    policy: str
    """``latest`` (newest frame, skips counted), ``every`` (every frame; a skip is loss) or ``inline``."""
    processed: int
    """Frames the stage finished."""
    dropped: int
    """Frames the stage never saw: replaced in its latest-frame slot or refused by a full queue."""
    errors: int
    fps: float
    """Processed frames per second over the last few seconds."""
    latency_ms: float | None
    """Capture to end of processing for the last frame, milliseconds."""
    queue_depth: int
    heartbeat_age_s: float | None
    """Seconds since the stage's loop last reported it is alive; None before its first beat."""


class StageStats:
    """Thread-safe counters for one stage. Times come from the monotonic clock."""

    def __init__(self, name: str, clock: Clock) -> None:
        self.name = name
        self._clock = clock
        self._lock = threading.Lock()
        self._processed = 0
        self._errors = 0
        self._latency_ns: int | None = None
        self._heartbeat_ns: int | None = None
        self._recent: list[int] = []  # monotonic ns of recent completions, pruned to the fps window

    def heartbeat(self) -> None:
        with self._lock:
            self._heartbeat_ns = self._clock.monotonic_ns()

    def processed(self, capture_monotonic_ns: int) -> None:
        now = self._clock.monotonic_ns()
        with self._lock:
            self._processed += 1
            self._heartbeat_ns = now
            self._latency_ns = now - capture_monotonic_ns
            self._recent.append(now)
            cutoff = now - int(_FPS_WINDOW_S * 1e9)
            if self._recent[0] < cutoff:
                self._recent = [t for t in self._recent if t >= cutoff]

    def error(self) -> None:
        with self._lock:
            self._errors += 1

    def snapshot(
        self, *, policy: str = "inline", dropped: int = 0, queue_depth: int = 0
    ) -> StageStatsSnapshot:
        now = self._clock.monotonic_ns()
        with self._lock:
            cutoff = now - int(_FPS_WINDOW_S * 1e9)
            recent = [t for t in self._recent if t >= cutoff]
            fps = 0.0
            if len(recent) >= 2:
                span_s = (recent[-1] - recent[0]) / 1e9
                fps = (len(recent) - 1) / span_s if span_s > 0 else 0.0
            return StageStatsSnapshot(
                name=self.name,
                policy=policy,
                processed=self._processed,
                dropped=dropped,
                errors=self._errors,
                fps=round(fps, 2),
                latency_ms=None if self._latency_ns is None else round(self._latency_ns / 1e6, 2),
                queue_depth=queue_depth,
                heartbeat_age_s=None if self._heartbeat_ns is None else (now - self._heartbeat_ns) / 1e9,
            )
