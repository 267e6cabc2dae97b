"""Processing profiles and the legal limits that configuration cannot move.

This module imports nothing from the rest of ``edge`` so that the configuration schema can validate
against the same numbers the storage code enforces.
"""

from __future__ import annotations

import enum
from typing import Final

NS_PER_DAY: Final = 86_400 * 1_000_000_000


class Profile(enum.StrEnum):
    """Under which law the footage is processed; it sets the hard retention ceiling."""

    POLICE = "police"
    """Police cameras (police law): at most 12 months."""
    CAMERA_LAW = "camera_law"
    """Partner cameras under the camera law (stations, designated places): at most 3 months."""


RETENTION_CEILING_DAYS: Final[dict[Profile, int]] = {Profile.POLICE: 365, Profile.CAMERA_LAW: 90}
"""Hard ceilings. Configuration may ask for less, never for more; the store checks again at run time."""

ACCESS_WITHOUT_DECISION_DAYS: Final = 30
"""Footage older than this may be exported only with a prosecutor's decision reference."""


def ceiling_days(profile: Profile | str) -> int:
    return RETENTION_CEILING_DAYS[Profile(profile)]
