"""Where the façade's buildings, windows, doors and shop front are, and which masks cover them.

Everything lives on the façade plane ``x = FACADE_X_M`` in plane coordinates ``(depth_m, z_m)``. A
rectangle on that plane projects to an exact quadrilateral in the image (the mapping is a homography),
so the mask polygons below are exact, not approximations.

``FACADE_PRIVATE_AREAS`` is the contract with the privacy masks: every window, door and shop window the
camera can see lies inside one of these polygons (a test checks this pixel by pixel).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from edge.capture.synthetic.geometry import (
    CAMERA_HEIGHT_M,
    CAMERA_X_M,
    FACADE_X_M,
    FOCAL_X,
    FOCAL_Y,
    HORIZON_Y,
    VANISH_X,
    clip_polygon_to_rect,
    polygon_area,
)

BGR = tuple[int, int, int]
OpeningKind = Literal["window", "tv_window", "person_window", "door", "shop"]

MASK_MARGIN_M = 0.06
"""Masks extend this far beyond each opening so anti-aliased edges of the glass are covered too."""
ROOF_RISE_M = 3.2
BLOCK_DEPTH_M = 9.0
FAR_FACADE_START_M = 26.0
FACADE_END_M = 420.0


@dataclass(frozen=True, slots=True)
class Opening:
    """A window, door or shop window: a rectangle on the façade plane."""

    d0_m: float
    d1_m: float
    z0_m: float
    z1_m: float
    kind: OpeningKind


@dataclass(frozen=True, slots=True)
class Building:
    d0_m: float
    d1_m: float
    height_m: float
    wall_bgr: BGR
    roof_bgr: BGR
    openings: tuple[Opening, ...]
    sign: str | None = None
    """Shop sign text, painted above the shop window."""


SHOP = Opening(8.6, 14.8, 0.35, 2.85, "shop")
DOOR = Opening(15.5, 16.7, 0.0, 2.4, "door")
WINDOW_1_LEFT = Opening(9.0, 10.8, 3.8, 5.4, "person_window")
WINDOW_1_RIGHT = Opening(12.4, 14.2, 3.8, 5.4, "tv_window")
TV_SCREEN = (0.52, 0.38, 0.86, 0.66)
"""The television in ``window_1_right``, as fractions (x0, y0, x1, y1) of the opening, top-left origin."""

_BUILDING_A = Building(
    4.0,
    17.5,
    10.6,
    (196, 214, 226),
    (70, 70, 80),
    (
        SHOP,
        DOOR,
        WINDOW_1_LEFT,
        WINDOW_1_RIGHT,
        Opening(9.0, 10.8, 6.9, 8.5, "window"),
        Opening(12.4, 14.2, 6.9, 8.5, "window"),
    ),
    sign="BAKKERIJ",
)
_B_UPPER = (
    Opening(18.5, 20.2, 3.7, 5.3, "window"),
    Opening(23.0, 24.7, 3.7, 5.3, "window"),
    Opening(18.5, 20.2, 6.5, 8.0, "window"),
    Opening(23.0, 24.7, 6.5, 8.0, "window"),
)
_BUILDING_B = Building(
    17.5,
    26.0,
    9.2,
    (70, 85, 150),
    (60, 70, 120),
    (Opening(18.3, 20.8, 0.8, 2.5, "window"), Opening(21.6, 22.8, 0.0, 2.4, "door"), *_B_UPPER),
)


def _far_buildings() -> tuple[Building, ...]:
    """A terrace of ordinary houses down to the end of the street (fixed layout, not seeded)."""
    rng = np.random.default_rng(20260101)
    walls: tuple[BGR, ...] = (
        (180, 200, 215),
        (80, 95, 160),
        (150, 160, 170),
        (120, 170, 200),
        (210, 215, 215),
    )
    roofs: tuple[BGR, ...] = ((70, 70, 80), (60, 75, 130), (55, 60, 65))
    out: list[Building] = []
    d = FAR_FACADE_START_M
    while d < FACADE_END_M:
        width = float(rng.uniform(6.0, 10.0))
        floors = int(rng.integers(2, 5))
        height = 3.3 + 2.9 * (floors - 1) + 0.6
        openings: list[Opening] = []
        door_at = d + float(rng.uniform(0.8, width - 2.0))
        openings.append(Opening(door_at, door_at + 1.1, 0.0, 2.3, "door"))
        per_floor = 2 if width < 8 else 3
        slots = np.linspace(d + 0.9, d + width - 0.9, per_floor + 1)
        for floor in range(floors):
            z0 = 0.9 if floor == 0 else 3.5 + 2.9 * (floor - 1)
            for k in range(per_floor):
                w0, w1 = float(slots[k]) + 0.35, float(slots[k + 1]) - 0.35
                if floor == 0 and w1 > door_at - 0.3 and w0 < door_at + 1.4:
                    continue
                openings.append(Opening(w0, w1, z0, z0 + 1.5, "window"))
        wall = walls[int(rng.integers(0, len(walls)))]
        roof = roofs[int(rng.integers(0, len(roofs)))]
        out.append(Building(d, d + width, height, wall, roof, tuple(openings)))
        d += width
    return tuple(out)


BUILDINGS: tuple[Building, ...] = (_BUILDING_A, _BUILDING_B, *_far_buildings())


def plane_to_image(d_m: float, z_m: float) -> tuple[float, float]:
    """A point on the façade plane to normalised image coordinates."""
    return (
        VANISH_X + FOCAL_X * (FACADE_X_M - CAMERA_X_M) / d_m,
        HORIZON_Y + FOCAL_Y * (CAMERA_HEIGHT_M - z_m) / d_m,
    )


def _rect(opening: Opening, margin: float = MASK_MARGIN_M) -> list[tuple[float, float]]:
    d0, d1 = opening.d0_m - margin, opening.d1_m + margin
    z0, z1 = max(0.0, opening.z0_m - margin), opening.z1_m + margin
    return [(d0, z1), (d1, z1), (d1, z0), (d0, z0)]


def _far_outline() -> list[tuple[float, float]]:
    """The stepped outline (plane coordinates) of every building from ``FAR_FACADE_START_M`` on."""
    far = [b for b in BUILDINGS if b.d0_m >= FAR_FACADE_START_M - 1e-9]
    top: list[tuple[float, float]] = []
    for b in far:
        top += [(b.d0_m, b.height_m), (b.d1_m, b.height_m)]
    return [(far[0].d0_m, 0.0), *top, (far[-1].d1_m, 0.0)]


# Plane polygons of the masks, in the order they are reported.
_MASK_PLANE_POLYGONS: dict[str, list[tuple[float, float]]] = {
    "shop_front": _rect(SHOP),
    "door": _rect(DOOR),
    "window_1_left": _rect(WINDOW_1_LEFT),
    "window_1_right": _rect(WINDOW_1_RIGHT),
    "window_b_ground": _rect(_BUILDING_B.openings[0]),
    "door_b": _rect(_BUILDING_B.openings[1]),
    "windows_b_upper": [(18.3, 8.2), (24.9, 8.2), (24.9, 3.5), (18.3, 3.5)],
    "facade_far": _far_outline(),
}


def _project_mask(plane_polygon: list[tuple[float, float]]) -> list[tuple[float, float]]:
    image = [plane_to_image(d, z) for d, z in plane_polygon]
    return clip_polygon_to_rect(image, 0.0, 0.0, 1.0, 1.0)


def _visible_masks() -> dict[str, list[tuple[float, float]]]:
    masks: dict[str, list[tuple[float, float]]] = {}
    for name, plane_polygon in _MASK_PLANE_POLYGONS.items():
        clipped = _project_mask(plane_polygon)
        rounded = [(round(x, 6), round(y, 6)) for x, y in clipped]
        points = [p for i, p in enumerate(rounded) if p != rounded[i - 1]]  # drop repeated vertices
        if len(points) >= 3 and polygon_area(points) > 1e-6:
            masks[name] = points
    return masks


FACADE_PRIVATE_AREAS: dict[str, list[tuple[float, float]]] = _visible_masks()
"""Polygons (normalised 0..1 image coordinates) of everything private on the façade, by name."""
