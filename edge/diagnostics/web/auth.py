"""Logins for the diagnostics page: technicians' scrypt hashes, expiring sessions, a failed-login limit.

Contracts:
- ``Technicians.verify`` holds a lock while it hashes: scrypt costs 32 MiB and ~0.1 s on a Pi core, so at
  most one check runs at a time whatever the number of request threads.
- ``LoginLimiter`` counts failures per client address and per name; once either is over the limit, the
  attempt is refused *before* any hashing, so guessing costs the node nothing.
- Sessions live in memory only: a restart logs everyone out, which is the safe direction.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from edge.clock import Clock
from edge.provision.technicians import parse_technicians, verify_password

log = logging.getLogger(__name__)

# Checked against when the name is unknown, so an unknown name takes as long as a wrong password.
_DUMMY_HASH = "$scrypt$ln=15,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
_MAX_SESSIONS = 64


class Technicians:
    """The technicians file, re-read when it changes (a rotated credential takes effect without restart)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._mtime_ns: int | None = None
        self._entries: dict[str, str] = {}

    def _load(self) -> dict[str, str]:
        try:
            mtime_ns = self._path.stat().st_mtime_ns
            if mtime_ns != self._mtime_ns:
                self._entries = parse_technicians(self._path.read_text(encoding="utf-8"))
                self._mtime_ns = mtime_ns
        except (OSError, ValueError) as exc:
            log.error("technicians file %s unusable, nobody can log in: %s", self._path, exc)  # noqa: TRY400
            self._entries, self._mtime_ns = {}, None
        return self._entries

    def verify(self, name: str, password: str) -> bool:
        with self._lock:
            stored = self._load().get(name)
            ok = verify_password(stored or _DUMMY_HASH, password)
        return ok and stored is not None


class LoginLimiter:
    """Failed logins per key (client address, technician name) within a sliding window."""

    def __init__(self, max_failures: int, window_s: float, clock: Clock) -> None:
        self._max = max_failures
        self._window_ns = int(window_s * 1e9)
        self._clock = clock
        self._lock = threading.Lock()
        self._failures: dict[str, deque[int]] = {}

    def _recent(self, key: str, now_ns: int) -> deque[int]:
        times = self._failures.setdefault(key, deque())
        while times and now_ns - times[0] > self._window_ns:
            times.popleft()
        return times

    def allowed(self, *keys: str) -> bool:
        now = self._clock.monotonic_ns()
        with self._lock:
            return all(len(self._recent(k, now)) < self._max for k in keys)

    def failed(self, *keys: str) -> None:
        now = self._clock.monotonic_ns()
        with self._lock:
            for key in keys:
                self._recent(key, now).append(now)
            if len(self._failures) > 4096:  # bound memory against a spray of names
                for stale in [k for k, v in self._failures.items() if not v]:
                    del self._failures[stale]

    def succeeded(self, name_key: str) -> None:
        with self._lock:
            self._failures.pop(name_key, None)


@dataclass(frozen=True, slots=True)
class Session:
    token: str
    technician: str
    csrf: str
    expires_mono_ns: int


class Sessions:
    """Random session tokens with a fixed lifetime and a per-session CSRF token."""

    def __init__(self, ttl_s: float, clock: Clock) -> None:
        self._ttl_ns = int(ttl_s * 1e9)
        self._clock = clock
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {}

    def create(self, technician: str) -> Session:
        now = self._clock.monotonic_ns()
        session = Session(
            secrets.token_urlsafe(32), technician, secrets.token_urlsafe(32), now + self._ttl_ns
        )
        with self._lock:
            self._expire(now)
            if len(self._sessions) >= _MAX_SESSIONS:
                oldest = min(self._sessions.values(), key=lambda s: s.expires_mono_ns)
                del self._sessions[oldest.token]
            self._sessions[session.token] = session
        return session

    def get(self, token: str | None) -> Session | None:
        if not token:
            return None
        now = self._clock.monotonic_ns()
        with self._lock:
            self._expire(now)
            return self._sessions.get(token)

    def end(self, token: str) -> None:
        with self._lock:
            self._sessions.pop(token, None)

    def _expire(self, now_ns: int) -> None:
        for token in [t for t, s in self._sessions.items() if s.expires_mono_ns <= now_ns]:
            del self._sessions[token]


def csrf_ok(session: Session, presented: str | None) -> bool:
    return presented is not None and hmac.compare_digest(session.csrf.encode(), presented.encode())
