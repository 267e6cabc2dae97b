"""Capture-rate statistics: what the ANPR stage saw, so accuracy is reported rather than assumed.

``record`` is called by the ANPR stage thread for every ``VehiclePass``, ``frame`` for every processed
frame; ``snapshot`` is called by health from another thread. One lock guards all state; every method
holds it only for a few arithmetic operations.
"""

from __future__ import annotations

import itertools
import math
import threading
from collections import deque
from typing import Any

from edge.anpr.tracker import VehiclePass
from edge.clock import Clock, SystemClock

HISTOGRAM_EDGES: tuple[float, ...] = (0.0, 0.5, 0.7, 0.8, 0.9, 1.0)
"""Confidence bins ``[0, 0.5) [0.5, 0.7) [0.7, 0.8) [0.8, 0.9) [0.9, 1.0]`` (the last one is closed)."""
_BIN_LABELS = tuple(f"{lo:.1f}-{hi:.1f}" for lo, hi in itertools.pairwise(HISTOGRAM_EDGES))


def confidence_bin(confidence: float) -> int:
    """Index of the histogram bin of ``confidence`` (clamped to 0..1)."""
    value = min(max(confidence, 0.0), 1.0) if math.isfinite(confidence) else 0.0
    for index, upper in enumerate(HISTOGRAM_EDGES[1:-1]):
        if value < upper:
            return index
    return len(HISTOGRAM_EDGES) - 2


def percentile(values: list[float], fraction: float) -> float | None:
    """Linear-interpolated percentile (``fraction`` 0..1) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * min(max(fraction, 0.0), 1.0)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


class CaptureStats:
    """Thread-safe counters of vehicles tracked vs plates read, read confidence and processing time.

    ``samples``: how many recent frame processing times the median and p95 are taken over.
    ``window_s``: the rolling window (default one hour) reported next to the totals since start.
    """

    def __init__(self, *, clock: Clock | None = None, samples: int = 512, window_s: float = 3600.0) -> None:
        if samples < 1 or window_s <= 0:
            raise ValueError("samples must be >= 1 and window_s positive")
        self._clock = clock or SystemClock()
        self._window_ns = round(window_s * 1e9)
        self._lock = threading.Lock()
        self._vehicles = 0
        self._read = 0
        self._confidence_sum = 0.0
        self._histogram = [0] * (len(HISTOGRAM_EDGES) - 1)
        self._frames = 0
        self._detections = 0
        self._ms: deque[float] = deque(maxlen=samples)
        self._recent: deque[tuple[int, bool]] = deque()  # (monotonic ns recorded, read) inside the window

    def record(self, vehicle_pass: VehiclePass) -> None:
        """Count one vehicle pass: read when it carries a text, unread otherwise."""
        now = self._clock.monotonic_ns()
        read = vehicle_pass.text is not None
        with self._lock:
            self._vehicles += 1
            if read:
                self._read += 1
                self._confidence_sum += vehicle_pass.confidence
                self._histogram[confidence_bin(vehicle_pass.confidence)] += 1
            self._recent.append((now, read))
            self._prune(now)

    def frame(self, detections: int, ms: float) -> None:
        """Count one processed frame with ``detections`` plates found, taking ``ms`` milliseconds."""
        with self._lock:
            self._frames += 1
            self._detections += max(detections, 0)
            if math.isfinite(ms) and ms >= 0:
                self._ms.append(ms)

    def snapshot(self) -> dict[str, Any]:
        """JSON-ready totals since start, the rolling window and the processing-time percentiles."""
        now = self._clock.monotonic_ns()
        with self._lock:
            self._prune(now)
            window_read = sum(read for _, read in self._recent)
            window_vehicles = len(self._recent)
            samples = list(self._ms)
            vehicles, read = self._vehicles, self._read
            histogram = dict(zip(_BIN_LABELS, self._histogram, strict=True))
            confidence_sum, frames, detections = self._confidence_sum, self._frames, self._detections
        p50, p95 = percentile(samples, 0.5), percentile(samples, 0.95)
        return {
            "vehicles": vehicles,
            "read": read,
            "unread": vehicles - read,
            "capture_rate": round(read / vehicles, 4) if vehicles else None,
            "confidence_histogram": histogram,
            "mean_confidence": round(confidence_sum / read, 4) if read else None,
            "frames": frames,
            "detections": detections,
            "ms_p50": None if p50 is None else round(p50, 2),
            "ms_p95": None if p95 is None else round(p95, 2),
            "window_s": self._window_ns / 1e9,
            "window": {
                "vehicles": window_vehicles,
                "read": window_read,
                "capture_rate": round(window_read / window_vehicles, 4) if window_vehicles else None,
            },
        }

    def _prune(self, now_ns: int) -> None:
        """Forget passes older than the window. Caller holds the lock."""
        cutoff = now_ns - self._window_ns
        while self._recent and self._recent[0][0] < cutoff:
            self._recent.popleft()
