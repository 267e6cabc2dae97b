"""``SegmentStore``: sealed segments on disk, their index, legal holds, and retention.

Layout under the storage directory::

    index.sqlite3                   the index (WAL)
    segments/YYYY-MM-DD/<id>.seg    sealed segments, one folder per UTC day of their start

Ordering (the crash-safety contract; docs/storage.md): a segment is sealed into ``<id>.seg.tmp``, fsynced,
renamed, the folder fsynced, and only then indexed. A purge first moves the row to the ``purging`` table,
then unlinks the file, then drops the intent. Reconciliation at start-up (``reconcile``) finishes or undoes
whatever a crash interrupted.

Locking: one lock guards the index and the counters. Sealing and writing a segment happen outside it;
hooks (audit, alarm) are called outside it, after the state change they report, so a hook may call
``state()``. ``store`` is called from the recorder thread only; everything else from any thread.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
import secrets
import sqlite3
import threading
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from edge.clock import Clock
from edge.storage.encoder import EncodedVideo
from edge.storage.errors import StorageError, StorageFullError
from edge.storage.files import make_dirs_durably, remove_durably, remove_empty_dirs, write_atomically
from edge.storage.index import SegmentIndex
from edge.storage.model import (
    AlarmHook,
    AlarmKind,
    AuditHook,
    EventKind,
    Hold,
    PurgeReason,
    ReconcileReport,
    Segment,
    StorageAlarm,
    StorageEvent,
    StorageState,
)
from edge.storage.profiles import NS_PER_DAY
from edge.storage.reconcile import SEGMENT_SUFFIX, SEGMENTS_DIR, reconcile
from edge.storage.retention import DiskUsage, RetentionPolicy, statvfs_usage
from edge.storage.sealing import Sealer, SegmentHeader

log = logging.getLogger(__name__)

INDEX_NAME = "index.sqlite3"
_BATCH = 64
_MAX_TEXT = 200


class SegmentStore:
    """The ring buffer. Construct it once at start; construction reconciles index and files."""

    def __init__(
        self,
        root: Path,
        node_id: str,
        recipient: X25519PublicKey,
        policy: RetentionPolicy,
        clock: Clock,
        *,
        audit: AuditHook | None = None,
        alarm: AlarmHook | None = None,
        disk_usage: Callable[[Path], DiskUsage] = statvfs_usage,
    ) -> None:
        self.root = root
        self.node_id = node_id
        self.policy = policy
        self._recipient = recipient
        self._clock = clock
        self._audit = audit
        self._alarm = alarm
        self._disk_usage = disk_usage
        self._lock = threading.Lock()
        self._pending: list[StorageEvent | StorageAlarm] = []  # reported once the lock is released
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
        (root / SEGMENTS_DIR).mkdir(exist_ok=True, mode=0o700)
        self._index = SegmentIndex(root / INDEX_NAME)
        self._purged = dict.fromkeys(PurgeReason, 0)
        self._purged_bytes = 0
        self._last_purge_ns: int | None = None
        self._alarms = 0
        self._last_alarm = ""
        self._dropped = 0
        self._hold_pressure = False
        with self._lock:
            result = reconcile(root, self._index, node_id, clock.time_ns())
            self.reconcile_report: ReconcileReport = result.report
            if result.dropped:
                self._record_purges(result.dropped, PurgeReason.MISSING, clock.time_ns())
            _, self._used_bytes, _, _ = self._index.totals()
            self._purge_expired()
        self._flush_hooks()

    def close(self) -> None:
        with self._lock:
            self._index.close()

    def set_policy(self, policy: RetentionPolicy) -> None:
        """New retention rules at run time (``set_config``); the next write or retention run applies them."""
        with self._lock:
            self.policy = policy

    # ------------------------------------------------------------------------------------ writing

    def store(self, video: EncodedVideo, start_ns: int, end_ns: int, mask_id: str, encoder: str) -> Segment:
        """Seal ``video`` to the central key, write it crash-safely and index it. Evicts to make room."""
        now_ns = self._clock.time_ns()
        segment_id = f"{start_ns:019d}-{secrets.token_hex(4)}"
        rel = f"{SEGMENTS_DIR}/{self._day(start_ns)}/{segment_id}{SEGMENT_SUFFIX}"
        header = SegmentHeader(
            node_id=self.node_id,
            segment_id=segment_id,
            start_ns=start_ns,
            end_ns=end_ns,
            frames=video.frames,
            mask_id=mask_id,
            profile=self.policy.profile.value,
            width=video.width,
            height=video.height,
            container=video.container,
            codec=video.codec,
            encoder=encoder,
            created_ns=now_ns,
        )
        sealer = Sealer(header, self._recipient)
        size = sealer.sealed_size(len(video.data))
        try:
            with self._lock:
                held_needed = self._evict_unheld(size)
            if held_needed:
                # Only held footage is left to evict. The alarm goes out (hooks run) before any of it goes.
                with self._lock:
                    self._raise_alarm(
                        AlarmKind.HELD_EVICTION,
                        f"the quota is full of footage under legal hold; evicting {held_needed} bytes of it",
                    )
                self._flush_hooks()
                with self._lock:
                    self._evict_held(size)
            path = self.root / rel
            make_dirs_durably(path.parent, self.root)
            sealed = write_atomically(path, lambda f: sealer.write(video.data, f))
        except (StorageError, OSError, sqlite3.Error) as exc:  # sqlite3: the index on a full disk
            raise self._dropped_segment(segment_id, exc) from exc
        segment = Segment(
            segment_id=segment_id,
            path=rel,
            start_ns=start_ns,
            end_ns=end_ns,
            frames=video.frames,
            sealed_bytes=sealed.sealed_bytes,
            mask_id=mask_id,
            profile=header.profile,
            sha256=sealed.sha256,
            width=video.width,
            height=video.height,
            held=False,
        )
        with self._lock:
            try:
                self._index.add(segment)
            except sqlite3.Error as exc:  # e.g. a full disk: the file goes too rather than stay unindexed
                failure: sqlite3.Error | None = exc
            else:
                failure = None
                self._used_bytes += segment.sealed_bytes
                self._purge_expired()
                self._check_hold_pressure()
                stored = self._index.get(segment_id, self._clock.time_ns()) or segment
        if failure is not None:
            with contextlib.suppress(OSError):
                (self.root / rel).unlink()
            raise self._dropped_segment(segment_id, failure) from failure
        self._flush_hooks()
        return stored

    def _dropped_segment(self, segment_id: str, exc: BaseException) -> StorageError:
        """Count, alarm and report a segment that could not be stored; the error for the caller to raise."""
        message = f"segment {segment_id} not stored: {exc}"
        with self._lock:
            self._dropped += 1
            self._raise_alarm(AlarmKind.SEGMENT_DROPPED, message)
        self._flush_hooks()
        return StorageError(message)

    def now_ns(self) -> int:
        """The node's wall clock (UTC ns), as the store sees it."""
        return self._clock.time_ns()

    def path_of(self, segment: Segment) -> Path:
        return self.root / segment.path

    # ---------------------------------------------------------------------------------- retention

    def enforce_retention(self) -> None:
        """Purge everything past the age limit (run periodically: frames may not be arriving)."""
        with self._lock:
            self._purge_expired()
            self._check_hold_pressure()
            remove_empty_dirs(self.root / SEGMENTS_DIR, before=self._day(self._clock.time_ns() - NS_PER_DAY))
        self._flush_hooks()

    def _purge_expired(self) -> None:
        now_ns = self._clock.time_ns()
        cutoff = self.policy.cutoff_ns(now_ns)
        while batch := self._index.expired(cutoff, now_ns, _BATCH):
            self._purge(batch, PurgeReason.AGE, now_ns)

    def _evict_unheld(self, incoming: int) -> int:
        """Evict the oldest unheld footage until ``incoming`` bytes fit; return what only held footage could
        still free for the quota (0 when it fits). Held footage is never evicted because something else
        filled the filesystem: then the segment is refused instead."""
        need_quota = self.policy.quota_excess(self._used_bytes, incoming)
        need_disk = self.policy.free_space_shortfall(self._disk_usage(self.root), incoming)
        if incoming > self.policy.quota_bytes:
            raise StorageFullError(f"a segment of {incoming} bytes exceeds the whole quota")
        need = max(need_quota, need_disk)
        now_ns = self._clock.time_ns()
        freed = 0
        while freed < need and (batch := self._index.oldest(held=False, now_ns=now_ns, limit=_BATCH)):
            freed += self._purge(_enough(batch, need - freed), PurgeReason.QUOTA, now_ns)
        if freed < need_disk:
            raise StorageFullError(
                f"the filesystem stays below its free share of {self.policy.min_free_share:.0%} "
                "with no unheld footage left to evict"
            )
        return max(0, need_quota - freed)

    def _evict_held(self, incoming: int) -> None:
        """The last resort, called only after the HELD_EVICTION alarm went out: oldest held footage first."""
        need = self.policy.quota_excess(self._used_bytes, incoming)
        now_ns = self._clock.time_ns()
        freed = 0
        while freed < need and (batch := self._index.oldest(held=True, now_ns=now_ns, limit=_BATCH)):
            freed += self._purge(_enough(batch, need - freed), PurgeReason.QUOTA_HELD, now_ns)
        if freed < need:
            raise StorageFullError(f"cannot free {need} bytes within the quota of {self.policy.quota_bytes}")

    def _purge(self, segments: Sequence[Segment], reason: PurgeReason, now_ns: int) -> int:
        purges = self._index.begin_purge(segments, reason, now_ns)
        remove_durably(self.root / s.path for s in segments)
        self._index.end_purge(s.segment_id for s in segments)
        freed = self._record_purges(segments, reason, now_ns)
        self._used_bytes -= freed
        log.info(
            "purged %d segment(s) (%s): %s .. %s, %d bytes",
            len(purges),
            reason.value,
            _iso(min(p.start_ns for p in purges)),
            _iso(max(p.end_ns for p in purges)),
            freed,
        )
        return freed

    def _record_purges(self, segments: Sequence[Segment], reason: PurgeReason, now_ns: int) -> int:
        freed = sum(s.sealed_bytes for s in segments)
        self._purged[reason] += len(segments)
        self._purged_bytes += freed
        self._last_purge_ns = now_ns
        self._pending.append(
            StorageEvent(
                kind=EventKind.PURGE,
                at_ns=now_ns,
                actor="node",
                start_ns=min(s.start_ns for s in segments),
                end_ns=max(s.end_ns for s in segments),
                detail=f"reason={reason.value} bytes={freed}",
                segment_ids=tuple(s.segment_id for s in segments),
            )
        )
        return freed

    # -------------------------------------------------------------------------------------- holds

    def place_hold(self, start_ns: int, end_ns: int, case_ref: str, requester: str, expires_ns: int) -> Hold:
        """Keep footage in ``[start_ns, end_ns)`` past the age limit until ``expires_ns``."""
        now_ns = self._clock.time_ns()
        if end_ns <= start_ns:
            raise StorageError("a hold needs end_ns after start_ns")
        if expires_ns <= now_ns:
            raise StorageError("a hold must expire in the future")
        _check_text("case_ref", case_ref)
        _check_text("requester", requester)
        hold = Hold(uuid.uuid4().hex, start_ns, end_ns, case_ref, requester, now_ns, expires_ns, None, None)
        with self._lock:
            self._index.add_hold(hold)
            detail = f"case={case_ref} hold={hold.hold_id} expires_ns={expires_ns}"
            self._pending.append(StorageEvent(EventKind.HOLD, now_ns, requester, start_ns, end_ns, detail))
            self._check_hold_pressure()
        log.info("legal hold %s placed: %s .. %s", hold.hold_id, _iso(start_ns), _iso(end_ns))
        self._flush_hooks()
        return hold

    def release_hold(self, hold_id: str, requester: str) -> Hold:
        _check_text("requester", requester)
        now_ns = self._clock.time_ns()
        with self._lock:
            hold = next((h for h in self._index.holds() if h.hold_id == hold_id), None)
            if hold is None:
                raise StorageError(f"no hold {hold_id}")
            if hold.released_ns is not None:
                raise StorageError(f"hold {hold_id} was already released")
            self._index.release_hold(hold_id, now_ns, requester)
            detail = f"case={hold.case_ref} hold={hold_id}"
            self._pending.append(
                StorageEvent(EventKind.RELEASE, now_ns, requester, hold.start_ns, hold.end_ns, detail)
            )
        log.info("legal hold %s released", hold_id)
        self._flush_hooks()
        return dataclasses.replace(hold, released_ns=now_ns, released_by=requester)

    def holds(self, *, active_only: bool = False) -> list[Hold]:
        now_ns = self._clock.time_ns()
        with self._lock:
            holds = self._index.holds()
        return [h for h in holds if h.active(now_ns)] if active_only else holds

    # ------------------------------------------------------------------------------------ queries

    def segments(self, start_ns: int, end_ns: int) -> list[Segment]:
        """Segments overlapping ``[start_ns, end_ns)``, oldest first."""
        with self._lock:
            return self._index.overlapping(start_ns, end_ns, self._clock.time_ns())

    def audit(self, event: StorageEvent) -> None:
        """Report an event that another part of the storage area (export) performed on this store."""
        with self._lock:
            self._pending.append(event)
        self._flush_hooks()

    def state(self) -> StorageState:
        now_ns = self._clock.time_ns()
        try:
            disk = self._disk_usage(self.root)
            free_share = disk.free_bytes / disk.total_bytes if disk.total_bytes else None
        except OSError:
            free_share = None
        with self._lock:
            count, used, oldest, newest = self._index.totals()
            held_count, held_bytes = self._index.held_totals(now_ns)
            active = sum(1 for h in self._index.holds() if h.active(now_ns))
            return StorageState(
                profile=self.policy.profile.value,
                max_age_days=self.policy.max_age_days,
                quota_bytes=self.policy.quota_bytes,
                segments=count,
                used_bytes=used,
                held_segments=held_count,
                held_bytes=held_bytes,
                active_holds=active,
                oldest_start_ns=oldest,
                newest_end_ns=newest,
                fs_free_share=free_share,
                purged_age=self._purged[PurgeReason.AGE],
                purged_quota=self._purged[PurgeReason.QUOTA],
                purged_held=self._purged[PurgeReason.QUOTA_HELD],
                purged_bytes=self._purged_bytes,
                last_purge_ns=self._last_purge_ns,
                alarms=self._alarms,
                last_alarm=self._last_alarm,
                segments_dropped=self._dropped,
                reconcile=self.reconcile_report,
            )

    # ---------------------------------------------------------------------------------- internals

    def _check_hold_pressure(self) -> None:
        _, held_bytes = self._index.held_totals(self._clock.time_ns())
        pressure = self.policy.hold_pressure(held_bytes)
        if pressure and not self._hold_pressure:
            self._raise_alarm(
                AlarmKind.HOLD_PRESSURE,
                f"held footage uses {held_bytes} bytes, over {self.policy.held_alarm_share:.0%} of the quota",
                held_bytes,
            )
        self._hold_pressure = pressure

    def report_corrupt(self, segment: Segment, detail: str) -> None:
        """A segment found not to match its recorded hash: raised as a ``segment_corrupt`` alarm (health and
        an event). The segment stays in the index and on disk, for a technician and for the evidence trail;
        exports leave it out."""
        with self._lock:
            self._raise_alarm(AlarmKind.SEGMENT_CORRUPT, f"segment {segment.segment_id}: {detail}")
        self._flush_hooks()

    def _raise_alarm(self, kind: AlarmKind, message: str, held_bytes: int | None = None) -> None:
        now_ns = self._clock.time_ns()
        if held_bytes is None:
            _, held_bytes = self._index.held_totals(now_ns)
        self._alarms += 1
        self._last_alarm = f"{kind.value}: {message}"
        log.error("storage alarm %s: %s", kind.value, message)
        self._pending.append(StorageAlarm(kind, message, now_ns, held_bytes, self.policy.quota_bytes))

    def _flush_hooks(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        for item in pending:
            if isinstance(item, StorageAlarm):
                if self._alarm is not None:
                    self._alarm(item)
            elif self._audit is not None:
                self._audit(item)

    @staticmethod
    def _day(ts_ns: int) -> str:
        return dt.datetime.fromtimestamp(ts_ns / 1e9, dt.UTC).strftime("%Y-%m-%d")


def _enough(batch: Sequence[Segment], need_bytes: int) -> list[Segment]:
    """The shortest prefix of ``batch`` (oldest first) that frees at least ``need_bytes``."""
    out: list[Segment] = []
    freed = 0
    for segment in batch:
        if freed >= need_bytes:
            break
        out.append(segment)
        freed += segment.sealed_bytes
    return out


def _check_text(name: str, value: str) -> None:
    if not value.strip() or len(value) > _MAX_TEXT or not value.isprintable():
        raise StorageError(f"{name} must be 1 to {_MAX_TEXT} printable characters")


def _iso(ts_ns: int) -> str:
    return dt.datetime.fromtimestamp(ts_ns / 1e9, dt.UTC).isoformat(timespec="seconds")
