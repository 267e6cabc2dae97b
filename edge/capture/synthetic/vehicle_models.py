"""Vehicle bodies: a side profile extruded across the width, plus what is painted on front and rear.

A body is described from the front bumper (``l = 0``) to the rear (``l = length``) by its top line in
side view (``profile``); the first and last segments are the vertical front and rear faces. Above the
belt line the sides lean in towards the roof ("tumblehome"), which is what makes a box look like a car.
Seen from behind, the same profile is simply reversed.
"""

from __future__ import annotations

from dataclasses import dataclass

LZ = tuple[float, float]
Rect = tuple[float, float, float, float]
"""``(x_inner_m, x_outer_m, z_low_m, z_high_m)`` on a face, x measured from the centre line, per side."""


@dataclass(frozen=True, slots=True)
class FaceDetails:
    """What is painted on the front or rear face."""

    lamps: Rect
    """Headlights (front) or tail lights (rear), mirrored left and right."""
    plate_z_m: float
    """Height of the plate's centre."""
    dark_band: tuple[float, float]
    """Grille (front) or bumper (rear) band, ``(z_low, z_high)``."""
    band_half_width_m: float
    glass: tuple[Rect, ...] = ()
    """Windows in the face itself (a van's rear doors)."""


@dataclass(frozen=True, slots=True)
class BodyShape:
    kind: str
    length_m: float
    width_m: float
    roof_width_m: float
    belt_z_m: float
    profile: tuple[LZ, ...]
    glass: tuple[bool, ...]
    """Per profile segment (``len(profile) - 1`` entries): glass or body."""
    side_windows: tuple[tuple[LZ, ...], ...]
    axles_l_m: tuple[float, float]
    wheel_radius_m: float
    front: FaceDetails
    rear: FaceDetails

    @property
    def clearance_m(self) -> float:
        return self.profile[0][1]

    @property
    def roof_z_m(self) -> float:
        return max(z for _, z in self.profile)

    def reversed_profile(self) -> tuple[tuple[LZ, ...], tuple[bool, ...]]:
        """The profile seen from behind: rear face first."""
        return tuple((self.length_m - lon, z) for lon, z in reversed(self.profile)), tuple(
            reversed(self.glass)
        )


_FACE, _BODY, _GLASS = False, False, True

HATCHBACK = BodyShape(
    kind="hatchback",
    length_m=4.05,
    width_m=1.76,
    roof_width_m=1.38,
    belt_z_m=0.98,
    profile=(
        (0, 0.28),
        (0, 0.72),
        (0.2, 0.86),
        (1.05, 0.98),
        (1.8, 1.43),
        (3.3, 1.46),
        (3.85, 1.05),
        (4.05, 0.98),
        (4.05, 0.28),
    ),
    glass=(_FACE, _BODY, _BODY, _GLASS, _BODY, _GLASS, _BODY, _FACE),
    side_windows=(
        ((1.2, 1.0), (1.83, 1.39), (2.5, 1.39), (2.5, 1.0)),
        ((2.6, 1.0), (2.6, 1.39), (3.3, 1.39), (3.72, 1.05)),
    ),
    axles_l_m=(0.85, 3.35),
    wheel_radius_m=0.31,
    front=FaceDetails(
        lamps=(0.5, 0.82, 0.58, 0.69), plate_z_m=0.44, dark_band=(0.5, 0.56), band_half_width_m=0.42
    ),
    rear=FaceDetails(
        lamps=(0.6, 0.84, 0.74, 0.92), plate_z_m=0.6, dark_band=(0.28, 0.42), band_half_width_m=0.86
    ),
)
SEDAN = BodyShape(
    kind="sedan",
    length_m=4.7,
    width_m=1.82,
    roof_width_m=1.42,
    belt_z_m=1.0,
    profile=(
        (0, 0.28),
        (0, 0.7),
        (0.25, 0.84),
        (1.35, 0.98),
        (2.05, 1.42),
        (3.35, 1.44),
        (4.05, 1.02),
        (4.7, 0.96),
        (4.7, 0.28),
    ),
    glass=(_FACE, _BODY, _BODY, _GLASS, _BODY, _GLASS, _BODY, _FACE),
    side_windows=(
        ((1.5, 1.02), (2.08, 1.38), (2.75, 1.38), (2.75, 1.02)),
        ((2.85, 1.02), (2.85, 1.38), (3.35, 1.38), (3.9, 1.04)),
    ),
    axles_l_m=(0.95, 3.75),
    wheel_radius_m=0.32,
    front=FaceDetails(
        lamps=(0.48, 0.85, 0.57, 0.67), plate_z_m=0.43, dark_band=(0.49, 0.55), band_half_width_m=0.4
    ),
    rear=FaceDetails(
        lamps=(0.5, 0.86, 0.76, 0.9), plate_z_m=0.62, dark_band=(0.28, 0.4), band_half_width_m=0.88
    ),
)
SUV = BodyShape(
    kind="suv",
    length_m=4.6,
    width_m=1.9,
    roof_width_m=1.6,
    belt_z_m=1.12,
    profile=(
        (0, 0.36),
        (0, 0.86),
        (0.2, 1.0),
        (1.0, 1.1),
        (1.7, 1.66),
        (4.1, 1.7),
        (4.5, 1.22),
        (4.6, 1.12),
        (4.6, 0.36),
    ),
    glass=(_FACE, _BODY, _BODY, _GLASS, _BODY, _GLASS, _BODY, _FACE),
    side_windows=(
        ((1.15, 1.14), (1.72, 1.6), (2.6, 1.6), (2.6, 1.14)),
        ((2.7, 1.14), (2.7, 1.6), (4.0, 1.6), (4.35, 1.16)),
    ),
    axles_l_m=(0.95, 3.7),
    wheel_radius_m=0.37,
    front=FaceDetails(
        lamps=(0.52, 0.88, 0.7, 0.82), plate_z_m=0.52, dark_band=(0.6, 0.68), band_half_width_m=0.45
    ),
    rear=FaceDetails(
        lamps=(0.6, 0.9, 0.88, 1.05), plate_z_m=0.75, dark_band=(0.36, 0.5), band_half_width_m=0.92
    ),
)
VAN = BodyShape(
    kind="van",
    length_m=5.9,
    width_m=2.0,
    roof_width_m=1.88,
    belt_z_m=1.2,
    profile=(
        (0, 0.36),
        (0, 0.9),
        (0.35, 1.1),
        (0.75, 1.2),
        (1.55, 2.1),
        (1.75, 2.45),
        (5.85, 2.5),
        (5.9, 2.42),
        (5.9, 0.36),
    ),
    glass=(_FACE, _BODY, _BODY, _GLASS, _BODY, _BODY, _BODY, _FACE),
    side_windows=(((0.85, 1.25), (1.5, 2.0), (2.0, 2.0), (2.0, 1.25)),),
    axles_l_m=(0.9, 4.6),
    wheel_radius_m=0.36,
    front=FaceDetails(
        lamps=(0.55, 0.92, 0.72, 0.86), plate_z_m=0.55, dark_band=(0.62, 0.7), band_half_width_m=0.5
    ),
    rear=FaceDetails(
        lamps=(0.85, 0.98, 0.55, 1.05),
        plate_z_m=0.56,
        dark_band=(0.36, 0.48),
        band_half_width_m=0.98,
        glass=((0.08, 0.8, 1.55, 2.1),),
    ),
)
TRUCK = BodyShape(
    kind="truck",
    length_m=7.2,
    width_m=2.4,
    roof_width_m=2.4,
    belt_z_m=1.3,
    profile=(
        (0, 0.45),
        (0, 1.15),
        (0.05, 1.25),
        (0.25, 2.2),
        (0.4, 2.35),
        (1.7, 2.35),
        (1.75, 2.75),
        (7.2, 2.75),
        (7.2, 0.45),
    ),
    glass=(_FACE, _BODY, _GLASS, _BODY, _BODY, _BODY, _BODY, _FACE),
    side_windows=(((0.35, 1.45), (0.35, 2.15), (1.4, 2.15), (1.4, 1.45)),),
    axles_l_m=(1.3, 5.4),
    wheel_radius_m=0.46,
    front=FaceDetails(
        lamps=(0.7, 1.12, 0.6, 0.78), plate_z_m=0.62, dark_band=(0.82, 1.05), band_half_width_m=0.7
    ),
    rear=FaceDetails(
        lamps=(0.95, 1.15, 0.55, 0.75), plate_z_m=0.6, dark_band=(0.45, 0.52), band_half_width_m=1.2
    ),
)

SHAPES: dict[str, BodyShape] = {s.kind: s for s in (HATCHBACK, SEDAN, SUV, VAN, TRUCK)}
KIND_WEIGHTS: dict[str, float] = {"hatchback": 0.3, "sedan": 0.25, "suv": 0.2, "van": 0.15, "truck": 0.1}
PAINTS_BGR: tuple[tuple[tuple[int, int, int], float], ...] = (
    ((232, 234, 234), 0.22),
    ((28, 28, 30), 0.18),
    ((178, 178, 174), 0.16),
    ((105, 108, 110), 0.14),
    ((110, 52, 28), 0.08),
    ((36, 30, 168), 0.07),
    ((170, 95, 40), 0.06),
    ((48, 82, 42), 0.04),
    ((150, 182, 205), 0.03),
    ((30, 125, 232), 0.02),
)
