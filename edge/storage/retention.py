"""Retention rules: the age limit (capped by the profile's hard ceiling) and the space rules.

The ceilings live in ``profiles`` and are checked twice: by the configuration schema, and here, so a
policy built by any other path (tests, a future command) cannot exceed them either.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

from edge.config import StorageConfig
from edge.storage.profiles import NS_PER_DAY, Profile, ceiling_days


@dataclass(frozen=True, slots=True)
class DiskUsage:
    total_bytes: int
    free_bytes: int
    """Bytes available to this (unprivileged) process."""


def statvfs_usage(path: Path) -> DiskUsage:
    st = os.statvfs(path)
    return DiskUsage(total_bytes=st.f_blocks * st.f_frsize, free_bytes=st.f_bavail * st.f_frsize)


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    profile: Profile
    max_age_days: float
    quota_bytes: int
    min_free_share: float = 0.10
    held_alarm_share: float = 0.5

    def __post_init__(self) -> None:
        ceiling = ceiling_days(self.profile)
        if not (0 < self.max_age_days <= ceiling) or not math.isfinite(self.max_age_days):
            raise ValueError(
                f"max_age_days must be above 0 and at most {ceiling} for profile '{self.profile}', "
                f"got {self.max_age_days}"
            )
        if self.quota_bytes < 1:
            raise ValueError("quota_bytes must be positive")
        if not 0 <= self.min_free_share < 1:
            raise ValueError("min_free_share must be in [0, 1)")
        if not 0 < self.held_alarm_share <= 1:
            raise ValueError("held_alarm_share must be in (0, 1]")

    @classmethod
    def from_config(cls, config: StorageConfig) -> RetentionPolicy:
        return cls(
            profile=Profile(config.profile),
            max_age_days=config.max_age_days,
            quota_bytes=config.quota_bytes,
            min_free_share=config.min_free_share,
            held_alarm_share=config.held_alarm_share,
        )

    @property
    def max_age_ns(self) -> int:
        return round(self.max_age_days * NS_PER_DAY)

    def cutoff_ns(self, now_ns: int) -> int:
        """Segments that ended at or before this instant are past the age limit."""
        return now_ns - self.max_age_ns

    def quota_excess(self, used_bytes: int, incoming_bytes: int) -> int:
        """Bytes to evict so that ``incoming_bytes`` more fit the quota (0 when they already do)."""
        return max(0, used_bytes + incoming_bytes - self.quota_bytes)

    def free_space_shortfall(self, disk: DiskUsage, incoming_bytes: int) -> int:
        """Bytes to evict so that the filesystem keeps ``min_free_share`` free after writing."""
        floor = math.ceil(self.min_free_share * disk.total_bytes)
        return max(0, floor - (disk.free_bytes - incoming_bytes))

    def hold_pressure(self, held_bytes: int) -> bool:
        return held_bytes > self.held_alarm_share * self.quota_bytes
