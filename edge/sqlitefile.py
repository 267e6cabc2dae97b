"""Opening a node-owned SQLite file that may be corrupt: move it aside (quarantine) and start afresh.

A corrupt database (a torn write on a failing SD card, a file overwritten by hand) must not keep the node
from starting. The damaged file and its ``-wal``/``-shm`` companions are renamed to
``<name>.corrupt-<ns>`` next to it, kept for inspection, never deleted.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path

log = logging.getLogger(__name__)

_COMPANIONS = ("", "-wal", "-shm")


def quarantine(path: Path) -> Path:
    """Rename ``path`` (and its WAL and shared-memory files) aside; returns the quarantined main file."""
    stamp = time.time_ns()
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    for suffix in _COMPANIONS:
        source = path.with_name(path.name + suffix)
        if source.exists():
            source.rename(path.with_name(f"{path.name}{suffix}.corrupt-{stamp}"))
    log.error("corrupt database %s quarantined as %s; starting with an empty one", path, target)
    return target


def is_corruption(exc: sqlite3.DatabaseError) -> bool:
    """True for "not a database" / "malformed" errors (not for a locked file or a full disk)."""
    text = str(exc).lower()
    return "not a database" in text or "malformed" in text or "corrupt" in text
