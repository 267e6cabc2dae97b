"""``ReplayGuard``: remembers request ids until they expire (SQLite, so a restart does not reopen the
window). A request is accepted once; any later copy within its validity window is a replay, and after the
window the parser rejects it as expired, so ids can be forgotten when they expire."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path


class ReplayGuard:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("CREATE TABLE IF NOT EXISTS seen (id TEXT PRIMARY KEY, expires_ns INTEGER NOT NULL)")

    def first_use(self, request_id: str, expires_ns: int, now_ns: int) -> bool:
        """Record ``request_id``; False when it was already seen (a replay)."""
        with self._lock:
            self._db.execute("DELETE FROM seen WHERE expires_ns <= ?", (now_ns,))
            cur = self._db.execute(
                "INSERT INTO seen (id, expires_ns) VALUES (?, ?) ON CONFLICT (id) DO NOTHING",
                (request_id, expires_ns),
            )
            return cur.rowcount == 1

    def close(self) -> None:
        with self._lock:
            self._db.close()
