"""``Outbox``: the durable store-and-forward queue in front of the MQTT client (SQLite, WAL).

Every message the node produces (status aside) is written here first and deleted only after the broker
acknowledged it (QoS 1 PUBACK), so nothing is lost to a broker outage, a restart or a power cut.

Envelope. ``enqueue`` stamps each JSON payload with ``msg_id`` (unique, random), ``stream`` and ``seq`` (per
node and stream, increasing by one, persisted in the same transaction as the row), so the centre can
de-duplicate redeliveries and detect gaps. Streams whose messages are coalesced (``health``) have gaps by
design; every other stream is gap-free unless the overflow policy dropped messages, which it reports.

Order. ``claim`` hands out rows by priority (``Priority``, lowest value first), then by age. A caller may
give a priority a byte budget (the uplink's clip bandwidth cap): rows of that priority are then handed out
only while the budget lasts, and the rows behind them (less important ones too) are not held up.

Bound and overflow policy, applied on ``enqueue`` when ``max_messages`` or ``max_bytes`` would be exceeded:
  1. health is coalesced: only the newest unclaimed health message is ever kept (on every enqueue);
  2. then the oldest unclaimed messages of the least important priority are dropped, one at a time, never
     a message more important than the one being enqueued; a new message that finds only more important
     messages in the way is itself dropped;
  3. any drop is counted per stream (persisted) and reported once by an ``event/outbox_overflow`` message
     carrying the totals, which replaces the previous unsent report. Plate reads are therefore never dropped
     silently. The reports have a stream of their own (``outbox_overflow``): a superseded report leaves a
     gap there by design (like ``health``: the newest report holds the totals), never in ``event``.

Threading: every method takes the one lock; SQLite is used from whichever thread calls (the connection is
shared and serialised by that lock).
"""

from __future__ import annotations

import enum
import json
import logging
import sqlite3
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge.sqlitefile import is_corruption, quarantine

log = logging.getLogger(__name__)

OVERFLOW_STREAM = "outbox_overflow"
OVERFLOW_KIND = "outbox_overflow"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    priority INTEGER NOT NULL,
    stream TEXT NOT NULL,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    created_ns INTEGER NOT NULL,
    coalesce_key TEXT
);
CREATE INDEX IF NOT EXISTS messages_order ON messages (priority, id);
CREATE TABLE IF NOT EXISTS streams (stream TEXT PRIMARY KEY, last_seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS dropped (stream TEXT PRIMARY KEY, count INTEGER NOT NULL);
"""


def _open(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        # FULL: a row the node reported as queued survives a power cut, not only a process crash.
        db.execute("PRAGMA synchronous=FULL")
        db.executescript(_SCHEMA)
        db.execute("SELECT count(*) FROM messages").fetchone()
    except sqlite3.DatabaseError:
        db.close()
        raise
    return db


class Priority(enum.IntEnum):
    """Delivery order: lower goes first."""

    HOTLIST_HIT = 0
    EVENT = 1
    """Alarms, tamper, state changes, command results, audit entries."""
    PLATE_READ = 2
    CLIP = 3
    HEALTH = 4


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    row_id: int
    topic: str
    payload: bytes
    priority: Priority


@dataclass(frozen=True, slots=True)
class OutboxState:
    depth: int
    bytes: int
    oldest_age_s: float | None
    delivered: int
    """Acknowledged by the broker since start."""
    coalesced: int
    """Health messages superseded by a newer one before they were sent, since start."""
    dropped_by_policy: int
    """Messages dropped because the outbox was full, in total (persisted across restarts)."""


OverflowReport = Callable[[dict[str, int]], tuple[str, dict[str, Any]]]
"""Given the dropped totals per stream, the (topic, body) of the overflow event to enqueue."""


class Outbox:
    def __init__(
        self,
        path: Path,
        *,
        max_messages: int,
        max_bytes: int,
        time_ns: Callable[[], int],
        overflow_report: OverflowReport,
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._max_messages = max_messages
        self._max_bytes = max_bytes
        self._time_ns = time_ns
        self._overflow_report = overflow_report
        self._lock = threading.Lock()
        self.quarantined: Path | None = None
        """Where a corrupt outbox found at start was moved (its undelivered messages are lost)."""
        try:
            self._db = _open(path)
        except sqlite3.DatabaseError as exc:
            if not is_corruption(exc):
                raise
            self.quarantined = quarantine(path)
            self._db = _open(path)
        self._claimed: set[int] = set()
        self._delivered = 0
        self._coalesced = 0
        depth, size = self._db.execute(
            "SELECT count(*), coalesce(sum(length(payload)), 0) FROM messages"
        ).fetchone()
        self._depth = int(depth)
        self._bytes = int(size)
        if self._depth:
            log.info("outbox %s holds %d undelivered messages from before the restart", path, self._depth)

    # producers (any thread)

    def enqueue(
        self, stream: str, topic: str, body: dict[str, Any], priority: Priority, *, coalesce: bool = False
    ) -> bool:
        """Store one message. Returns False when the overflow policy dropped it (it is then counted and
        reported). ``coalesce`` replaces any unclaimed message of the same stream (used for health)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                stored = self._enqueue_locked(
                    stream, topic, body, priority, coalesce_key=stream if coalesce else None
                )
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:  # a failed COMMIT (disk full) has rolled back already
                    self._db.execute("ROLLBACK")
                self._reload_totals()
                raise
            return stored

    def _enqueue_locked(
        self, stream: str, topic: str, body: dict[str, Any], priority: Priority, coalesce_key: str | None
    ) -> bool:
        if coalesce_key is not None:
            self._coalesced += self._delete_unclaimed(coalesce_key)
        seq = self._next_seq(stream)
        payload = _envelope(body, stream, seq)
        dropped = self._make_room(len(payload), priority)
        if dropped is None:
            self._count_drop(stream)
            self._report_overflow()
            return False
        self._insert(priority, stream, topic, payload, coalesce_key)
        if dropped:
            self._report_overflow()
        return True

    def _make_room(self, size: int, priority: Priority) -> int | None:
        """Drop less important messages until ``size`` more bytes fit; None when they cannot."""
        dropped = 0
        while self._depth + 1 > self._max_messages or self._bytes + size > self._max_bytes:
            # Claimed rows are in paho's hands and are skipped: there are at most max_inflight of them.
            candidates = self._db.execute(
                "SELECT id, stream, length(payload) FROM messages WHERE priority >= ? "
                "ORDER BY priority DESC, id LIMIT ?",
                (int(priority), len(self._claimed) + 1),
            ).fetchall()
            row = next((r for r in candidates if int(r[0]) not in self._claimed), None)
            if row is None:
                return None
            self._db.execute("DELETE FROM messages WHERE id = ?", (row[0],))
            self._depth -= 1
            self._bytes -= int(row[2])
            self._count_drop(str(row[1]))
            dropped += 1
        return dropped

    def _report_overflow(self) -> None:
        totals = {str(s): int(n) for s, n in self._db.execute("SELECT stream, count FROM dropped")}
        log.error("outbox full: dropped by policy so far %s", totals)
        self._delete_unclaimed(OVERFLOW_KIND)
        topic, body = self._overflow_report(totals)
        payload = _envelope(body, OVERFLOW_STREAM, self._next_seq(OVERFLOW_STREAM))
        # The report itself may exceed the bound by one message: it must never be dropped.
        self._insert(Priority.EVENT, OVERFLOW_STREAM, topic, payload, OVERFLOW_KIND)

    # the sender (one thread)

    def claim(self, limit: int, budgets: Mapping[Priority, float] | None = None) -> list[OutboxMessage]:
        """Up to ``limit`` messages not yet handed out, most important first. A claimed message stays
        stored until ``ack``; claims live in memory, so after a restart everything is sent again.

        ``budgets``: payload bytes that may be handed out per priority. A row of such a priority is handed
        out while its budget is above zero (the last one may overdraw it); once it is spent, that
        priority's rows are skipped and the rest (less important ones too) go ahead."""
        left = dict(budgets or {})
        spent = sorted(int(p) for p, b in left.items() if b <= 0)
        where = f"WHERE priority NOT IN ({', '.join('?' * len(spent))}) " if spent else ""
        with self._lock:
            rows = self._db.execute(
                f"SELECT id, topic, payload, priority FROM messages {where}"  # noqa: S608 - placeholders only
                "ORDER BY priority, id LIMIT ?",
                (*spent, len(self._claimed) + limit),
            ).fetchall()
            out: list[OutboxMessage] = []
            for row in rows:
                if len(out) == limit:
                    break
                msg = OutboxMessage(int(row[0]), str(row[1]), bytes(row[2]), Priority(int(row[3])))
                if msg.row_id in self._claimed:
                    continue
                if msg.priority in left:
                    if left[msg.priority] <= 0:
                        continue
                    left[msg.priority] -= len(msg.payload)
                out.append(msg)
            self._claimed.update(m.row_id for m in out)
            return out

    def pending(self, stream: str, topic_prefix: str) -> int:
        """Stored messages (claimed or not) of ``stream`` whose topic starts with ``topic_prefix``."""
        with self._lock:
            row = self._db.execute(
                "SELECT count(*) FROM messages WHERE stream = ? AND substr(topic, 1, ?) = ?",
                (stream, len(topic_prefix), topic_prefix),
            ).fetchone()
            return int(row[0])

    def unclaim(self, row_id: int) -> None:
        """The client refused the message; offer it again."""
        with self._lock:
            self._claimed.discard(row_id)

    def ack(self, row_ids: list[int]) -> None:
        """The broker acknowledged these messages: delete them."""
        if not row_ids:
            return
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            delivered = 0
            for row_id in row_ids:
                row = self._db.execute(
                    "SELECT length(payload) FROM messages WHERE id = ?", (row_id,)
                ).fetchone()
                if row is not None:
                    self._db.execute("DELETE FROM messages WHERE id = ?", (row_id,))
                    self._depth -= 1
                    self._bytes -= int(row[0])
                    delivered += 1
                self._claimed.discard(row_id)
            self._db.execute("COMMIT")
            self._delivered += delivered

    def room_bytes(self) -> int:
        """Payload bytes that can still be stored before the overflow policy starts dropping."""
        with self._lock:
            return max(0, self._max_bytes - self._bytes)

    def state(self) -> OutboxState:
        with self._lock:
            row = self._db.execute("SELECT created_ns FROM messages ORDER BY id LIMIT 1").fetchone()
            oldest = None if row is None else row[0]
            dropped = self._db.execute("SELECT coalesce(sum(count), 0) FROM dropped").fetchone()[0]
            return OutboxState(
                depth=self._depth,
                bytes=self._bytes,
                oldest_age_s=None if oldest is None else max(0.0, (self._time_ns() - int(oldest)) / 1e9),
                delivered=self._delivered,
                coalesced=self._coalesced,
                dropped_by_policy=int(dropped),
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # helpers; the lock is held

    def _next_seq(self, stream: str) -> int:
        row = self._db.execute(
            "INSERT INTO streams (stream, last_seq) VALUES (?, 1) "
            "ON CONFLICT (stream) DO UPDATE SET last_seq = last_seq + 1 RETURNING last_seq",
            (stream,),
        ).fetchone()
        return int(row[0])

    def _insert(self, priority: Priority, stream: str, topic: str, payload: bytes, key: str | None) -> None:
        self._db.execute(
            "INSERT INTO messages (priority, stream, topic, payload, created_ns, coalesce_key) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (int(priority), stream, topic, payload, self._time_ns(), key),
        )
        self._depth += 1
        self._bytes += len(payload)

    def _delete_unclaimed(self, coalesce_key: str) -> int:
        rows = self._db.execute(
            "SELECT id, length(payload) FROM messages WHERE coalesce_key = ?", (coalesce_key,)
        ).fetchall()
        deleted = 0
        for row_id, size in rows:
            if int(row_id) in self._claimed:
                continue
            self._db.execute("DELETE FROM messages WHERE id = ?", (row_id,))
            self._depth -= 1
            self._bytes -= int(size)
            deleted += 1
        return deleted

    def _count_drop(self, stream: str) -> None:
        self._db.execute(
            "INSERT INTO dropped (stream, count) VALUES (?, 1) "
            "ON CONFLICT (stream) DO UPDATE SET count = count + 1",
            (stream,),
        )

    def _reload_totals(self) -> None:
        depth, size = self._db.execute(
            "SELECT count(*), coalesce(sum(length(payload)), 0) FROM messages"
        ).fetchone()
        self._depth, self._bytes = int(depth), int(size)


ENVELOPE_FIELDS = frozenset({"msg_id", "stream", "seq"})


def _envelope(body: dict[str, Any], stream: str, seq: int) -> bytes:
    if ENVELOPE_FIELDS & body.keys():
        raise ValueError(f"a message body must not set the envelope fields {sorted(ENVELOPE_FIELDS)}")
    doc = {**body, "msg_id": uuid.uuid4().hex, "stream": stream, "seq": seq}
    return json.dumps(doc, separators=(",", ":"), allow_nan=False).encode()
