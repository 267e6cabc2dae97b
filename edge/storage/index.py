"""``SegmentIndex``: the SQLite index of segments, legal holds and purges in flight.

SQLite in WAL mode with ``synchronous=FULL``: a committed row survives a power cut. One connection,
shared by the store's threads under the store's lock (the index itself does no locking).

Tables: ``segments`` (one row per sealed file on disk), ``holds`` (every hold ever placed, released ones
included, for audit), ``purging`` (purge intents: a segment's row moves here in the same transaction that
removes it from ``segments``, and leaves once its file is gone, so a crash in between is finished at the
next start rather than resurrecting purged footage).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import astuple
from pathlib import Path
from typing import Any

from edge.sqlitefile import is_corruption
from edge.storage.errors import StorageError
from edge.storage.model import Hold, Purge, PurgeReason, Segment

_SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS segments (
    segment_id   TEXT PRIMARY KEY,
    path         TEXT NOT NULL UNIQUE,
    start_ns     INTEGER NOT NULL,
    end_ns       INTEGER NOT NULL,
    frames       INTEGER NOT NULL,
    sealed_bytes INTEGER NOT NULL,
    mask_id      TEXT NOT NULL,
    profile      TEXT NOT NULL,
    sha256       TEXT NOT NULL,
    width        INTEGER NOT NULL,
    height       INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS segments_by_start ON segments (start_ns);
CREATE TABLE IF NOT EXISTS holds (
    hold_id      TEXT PRIMARY KEY,
    start_ns     INTEGER NOT NULL,
    end_ns       INTEGER NOT NULL,
    case_ref     TEXT NOT NULL,
    requester    TEXT NOT NULL,
    created_ns   INTEGER NOT NULL,
    expires_ns   INTEGER NOT NULL,
    released_ns  INTEGER,
    released_by  TEXT
);
CREATE TABLE IF NOT EXISTS purging (
    segment_id   TEXT PRIMARY KEY,
    path         TEXT NOT NULL,
    start_ns     INTEGER NOT NULL,
    end_ns       INTEGER NOT NULL,
    sealed_bytes INTEGER NOT NULL,
    reason       TEXT NOT NULL,
    purged_ns    INTEGER NOT NULL
);
"""

# A segment is held when an active hold overlaps it; evaluated at query time, so expiry needs no job.
_HELD = """EXISTS (SELECT 1 FROM holds h WHERE h.released_ns IS NULL AND h.expires_ns > :now
                  AND h.start_ns < s.end_ns AND h.end_ns > s.start_ns)"""
_COLUMNS = "s.segment_id, s.path, s.start_ns, s.end_ns, s.frames, s.sealed_bytes, s.mask_id, s.profile, "
_COLUMNS += f"s.sha256, s.width, s.height, {_HELD} AS held"
_HELD_TOTALS = f"SELECT COUNT(*), COALESCE(SUM(s.sealed_bytes), 0) FROM segments s WHERE {_HELD}"  # noqa: S608


def _open(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version not in (0, _SCHEMA_VERSION):
            raise sqlite3.DatabaseError(f"{path}: index schema version {version} is newer than this code")
        db.executescript(_SCHEMA)
        db.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")
        db.execute("SELECT count(*) FROM segments").fetchone()
    except sqlite3.DatabaseError:
        db.close()
        raise
    return db


class SegmentIndex:
    """Rows in, rows out. Callers serialise access (the store holds a lock around every call)."""

    def __init__(self, path: Path) -> None:
        try:
            self._db = _open(path)
        except sqlite3.DatabaseError as exc:
            if not is_corruption(exc):
                raise
            # Not rebuilt automatically: the sealed files describe themselves, but legal holds live only
            # here, and a rebuilt index without them would let retention purge held footage. Recording
            # stays off (health says why) and the file stays as it is for a technician (docs/storage.md).
            raise StorageError(
                f"{path}: the recording index is corrupt ({exc}); recording is off until a technician "
                "restores it or moves it aside (legal holds must then be placed again)"
            ) from None

    def close(self) -> None:
        self._db.close()

    # ------------------------------------------------------------------------------------ segments

    def add(self, segment: Segment) -> None:
        row = astuple(segment)[:-1]  # every column but ``held``, which is derived
        with self._tx():
            self._db.execute("INSERT INTO segments VALUES (?,?,?,?,?,?,?,?,?,?,?)", row)

    def get(self, segment_id: str, now_ns: int) -> Segment | None:
        rows = self._select("WHERE s.segment_id = :id", {"id": segment_id, "now": now_ns})
        return rows[0] if rows else None

    def overlapping(self, start_ns: int, end_ns: int, now_ns: int) -> list[Segment]:
        """Segments overlapping ``[start_ns, end_ns)``, oldest first."""
        where = "WHERE s.start_ns < :end AND s.end_ns > :start ORDER BY s.start_ns"
        return self._select(where, {"start": start_ns, "end": end_ns, "now": now_ns})

    def expired(self, cutoff_ns: int, now_ns: int, limit: int) -> list[Segment]:
        """Unheld segments that ended at or before ``cutoff_ns``, oldest first."""
        where = f"WHERE s.end_ns <= :cutoff AND NOT {_HELD} ORDER BY s.start_ns LIMIT :limit"
        return self._select(where, {"cutoff": cutoff_ns, "now": now_ns, "limit": limit})

    def oldest(self, *, held: bool, now_ns: int, limit: int) -> list[Segment]:
        """The oldest unheld (or held) segments: the eviction order."""
        where = f"WHERE {'' if held else 'NOT '}{_HELD} ORDER BY s.start_ns LIMIT :limit"
        return self._select(where, {"now": now_ns, "limit": limit})

    def files(self) -> dict[str, tuple[str, int]]:
        """segment id -> (relative path, sealed bytes), for reconciliation."""
        rows = self._db.execute("SELECT segment_id, path, sealed_bytes FROM segments")
        return {sid: (path, size) for sid, path, size in rows}

    def totals(self) -> tuple[int, int, int | None, int | None]:
        """(segments, sealed bytes, oldest start, newest end)."""
        row = self._db.execute(
            "SELECT COUNT(*), COALESCE(SUM(sealed_bytes), 0), MIN(start_ns), MAX(end_ns) FROM segments"
        ).fetchone()
        return int(row[0]), int(row[1]), row[2], row[3]

    def held_totals(self, now_ns: int) -> tuple[int, int]:
        """(held segments, held bytes)."""
        row = self._db.execute(_HELD_TOTALS, {"now": now_ns}).fetchone()
        return int(row[0]), int(row[1])

    # -------------------------------------------------------------------------------------- purges

    def begin_purge(self, segments: Sequence[Segment], reason: PurgeReason, now_ns: int) -> list[Purge]:
        """Move rows from ``segments`` to ``purging`` in one transaction; the files go next."""
        purges = [Purge(s.segment_id, s.start_ns, s.end_ns, s.sealed_bytes, reason, now_ns) for s in segments]
        with self._tx():
            for s in segments:
                self._db.execute("DELETE FROM segments WHERE segment_id = ?", (s.segment_id,))
                self._db.execute(
                    "INSERT OR REPLACE INTO purging VALUES (?,?,?,?,?,?,?)",
                    (s.segment_id, s.path, s.start_ns, s.end_ns, s.sealed_bytes, reason.value, now_ns),
                )
        return purges

    def pending_purges(self) -> dict[str, str]:
        """segment id -> relative path, for purges whose file may still exist."""
        return dict(self._db.execute("SELECT segment_id, path FROM purging").fetchall())

    def end_purge(self, segment_ids: Iterable[str]) -> None:
        with self._tx():
            self._db.executemany("DELETE FROM purging WHERE segment_id = ?", [(i,) for i in segment_ids])

    def drop_missing(self, segment_ids: Iterable[str]) -> None:
        with self._tx():
            self._db.executemany("DELETE FROM segments WHERE segment_id = ?", [(i,) for i in segment_ids])

    # --------------------------------------------------------------------------------------- holds

    def add_hold(self, hold: Hold) -> None:
        with self._tx():
            self._db.execute("INSERT INTO holds VALUES (?,?,?,?,?,?,?,?,?)", astuple(hold))

    def release_hold(self, hold_id: str, released_ns: int, released_by: str) -> None:
        with self._tx():
            self._db.execute(
                "UPDATE holds SET released_ns = ?, released_by = ? WHERE hold_id = ? AND released_ns IS NULL",
                (released_ns, released_by, hold_id),
            )

    def holds(self) -> list[Hold]:
        rows = self._db.execute("SELECT * FROM holds ORDER BY created_ns, hold_id").fetchall()
        return [Hold(*row) for row in rows]

    # ------------------------------------------------------------------------------------- helpers

    def _select(self, where: str, params: dict[str, object]) -> list[Segment]:
        rows = self._db.execute(f"SELECT {_COLUMNS} FROM segments s {where}", params).fetchall()  # noqa: S608
        return [_segment(row) for row in rows]

    def _tx(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``, or ``ROLLBACK`` when the block raises."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is not None:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            return
        try:
            self._db.execute("COMMIT")
        except sqlite3.Error:
            if self._db.in_transaction:  # a COMMIT that failed (disk full) must not leave it open
                self._db.execute("ROLLBACK")
            raise


def _segment(row: Any) -> Segment:
    # Column order is _COLUMNS, which is Segment's field order; ``held`` arrives as 0/1.
    fields: tuple[Any, ...] = (*row[:-1], bool(row[-1]))
    return Segment(*fields)
