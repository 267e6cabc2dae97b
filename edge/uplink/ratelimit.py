"""``TokenBucket``: the bandwidth cap for clip transfers (``mqtt.clip_max_bytes_per_s``).

Tokens are bytes. They accrue at ``rate`` per second up to ``burst_s`` seconds' worth. A message may be
sent whenever the balance is above zero and takes its whole size, so the balance can go negative by at
most one message: a chunk larger than the burst still goes out, and the long-run rate stays at ``rate``.
Over any interval of ``t`` seconds at most ``rate * (t + burst_s)`` bytes plus one message leave.

Times are seconds from a monotonic clock, passed in by the caller (the uplink's sender uses
``time.monotonic``: a cap on a real link is about real time). Thread-safe.
"""

from __future__ import annotations

import threading

BURST_S = 0.05
"""Seconds of the cap that may accrue while idle: enough to ride out a late wake-up of the sender thread
without losing throughput, small enough that a clip measured end to end stays within a few percent."""


class TokenBucket:
    def __init__(self, rate: float, now: float, burst_s: float = BURST_S) -> None:
        """``rate`` in bytes per second; 0 means no cap."""
        self._lock = threading.Lock()
        self._burst_s = burst_s
        self._rate = 0.0
        self._tokens = 0.0
        self._stamp = now
        self.set_rate(rate, now)

    def set_rate(self, rate: float, now: float) -> None:
        """Change the cap; the bucket starts full at the new rate."""
        if rate < 0:
            raise ValueError("a rate cannot be negative")
        with self._lock:
            self._rate = float(rate)
            self._tokens = self._rate * self._burst_s
            self._stamp = now

    def available(self, now: float) -> float | None:
        """Bytes that may go now (may be zero or negative: nothing may go); None when there is no cap."""
        with self._lock:
            if self._rate == 0:
                return None
            self._refill(now)
            return self._tokens

    def take(self, size: int, now: float) -> None:
        with self._lock:
            if self._rate == 0:
                return
            self._refill(now)
            self._tokens -= size

    def wait_s(self, now: float) -> float:
        """Seconds until the balance is above zero again (0 when it is, or without a cap)."""
        with self._lock:
            if self._rate == 0:
                return 0.0
            self._refill(now)
            if self._tokens > 0:
                return 0.0
            return (1.0 - self._tokens) / self._rate

    def _refill(self, now: float) -> None:
        elapsed = max(0.0, now - self._stamp)
        self._stamp = max(self._stamp, now)
        self._tokens = min(self._rate * self._burst_s, self._tokens + elapsed * self._rate)
