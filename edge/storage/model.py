"""What crosses the storage area's borders: segments, holds, purges, alarms, audit events, state."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Segment:
    """One sealed, indexed segment on disk."""

    segment_id: str
    path: str
    """Relative to the storage directory, e.g. ``segments/2026-01-01/<id>.seg``."""
    start_ns: int
    """Capture time of the first frame, UTC ns."""
    end_ns: int
    """Just after the last frame, UTC ns; segments cover ``[start_ns, end_ns)``."""
    frames: int
    sealed_bytes: int
    mask_id: str
    profile: str
    sha256: str
    """Hex SHA-256 of the sealed file."""
    width: int
    height: int
    held: bool
    """Covered by an active legal hold at the time of the query."""


@dataclass(frozen=True, slots=True)
class Hold:
    """A legal hold: footage in ``[start_ns, end_ns)`` is kept past the age limit until ``expires_ns``."""

    hold_id: str
    start_ns: int
    end_ns: int
    case_ref: str
    requester: str
    created_ns: int
    expires_ns: int
    released_ns: int | None
    released_by: str | None

    def active(self, now_ns: int) -> bool:
        return self.released_ns is None and now_ns < self.expires_ns


class PurgeReason(enum.StrEnum):
    AGE = "age"
    """Older than the retention limit and not held."""
    QUOTA = "quota"
    """Evicted (oldest first, not held) to stay within the quota or the filesystem's free share."""
    QUOTA_HELD = "quota_held"
    """Held footage evicted under quota pressure, after an alarm; the last resort."""
    MISSING = "missing"
    """The file had vanished; the index entry was dropped at start-up reconciliation."""


@dataclass(frozen=True, slots=True)
class Purge:
    segment_id: str
    start_ns: int
    end_ns: int
    sealed_bytes: int
    reason: PurgeReason
    purged_ns: int


class AlarmKind(enum.StrEnum):
    HOLD_PRESSURE = "hold_pressure"
    """Held footage fills more than ``held_alarm_share`` of the quota: act before it must be evicted."""
    HELD_EVICTION = "held_eviction"
    """Held footage is about to be evicted because nothing else is left to evict."""
    SEGMENT_DROPPED = "segment_dropped"
    """A finished segment could not be stored (larger than the quota, disk error)."""
    SEGMENT_CORRUPT = "segment_corrupt"
    """A stored segment no longer matches its recorded hash (found by an export, which leaves it out)."""


@dataclass(frozen=True, slots=True)
class StorageAlarm:
    kind: AlarmKind
    message: str
    at_ns: int
    held_bytes: int
    quota_bytes: int


class EventKind(enum.StrEnum):
    PURGE = "purge"
    HOLD = "hold"
    RELEASE = "release"
    EXPORT = "export"
    REPAIR = "repair"


@dataclass(frozen=True, slots=True)
class StorageEvent:
    """An auditable action (requirement 10): who, when (UTC), what, time range, purpose."""

    kind: EventKind
    at_ns: int
    actor: str
    """Who: a requester for holds and exports, ``node`` for automatic purges and repairs."""
    start_ns: int
    end_ns: int
    detail: str
    """What and why, e.g. the purge reason, the case reference, the decision reference."""
    segment_ids: tuple[str, ...] = ()


AuditHook = Callable[[StorageEvent], None]
AlarmHook = Callable[[StorageAlarm], None]


@dataclass(frozen=True, slots=True)
class ReconcileReport:
    """What start-up reconciliation of index against files found and repaired."""

    partial_removed: int = 0
    """Unfinished ``.tmp`` files of the segment being written at the crash: deleted."""
    orphans_adopted: int = 0
    """Complete sealed files missing from the index (crash between rename and commit): indexed."""
    purges_completed: int = 0
    """Files of segments whose purge was interrupted: deleted."""
    invalid_removed: int = 0
    """Files that are not complete sealed segments of this node: deleted."""
    missing_dropped: int = 0
    """Index entries whose file had vanished (or had the wrong size): dropped."""

    @property
    def repairs(self) -> int:
        return (
            self.partial_removed
            + self.orphans_adopted
            + self.purges_completed
            + self.invalid_removed
            + self.missing_dropped
        )


@dataclass(frozen=True, slots=True)
class StorageState:
    """The ring buffer at a glance, for health."""

    profile: str
    max_age_days: float
    quota_bytes: int
    segments: int
    used_bytes: int
    held_segments: int
    held_bytes: int
    active_holds: int
    oldest_start_ns: int | None
    newest_end_ns: int | None
    fs_free_share: float | None
    purged_age: int
    purged_quota: int
    purged_held: int
    purged_bytes: int
    last_purge_ns: int | None
    alarms: int
    last_alarm: str
    segments_dropped: int
    reconcile: ReconcileReport
