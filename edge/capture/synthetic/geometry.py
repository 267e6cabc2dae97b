"""The synthetic street's camera model and layout.

The camera hangs on a mast arm over the road, 3 m up, and looks along the street. It is modelled as a
pinhole with a shifted principal point ("shift lens"): the optical axis is horizontal and the horizon
sits at ``HORIZON_Y``. Compared with a truly pitched camera this keeps verticals vertical, which makes
façades and vehicle faces exact homographies of flat textures; at the ~13° equivalent pitch the
difference is not visible.

All projections work in *normalised* image coordinates (0..1 of width and height, like the privacy
masks) so the scene is resolution independent; ``FOCAL_X`` is ``FOCAL_Y * 9 / 16`` so pixels are square
at 16:9 and other aspect ratios simply stretch.

World coordinates, metres: ``x_m`` across the road (0 = road centre line, positive to the right as seen
by the camera), ``depth_m`` along the road away from the camera, ``z_m`` up from the road surface.

Why the camera is this low: a plate near the bottom of a 1080p frame must be about 150 px wide *and*
the horizon must stay in view (a street, a sky, a vanishing point). Both together pin the mounting
height to roughly 3 m; real ANPR cameras are often mounted higher and see no sky.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

HORIZON_Y = 0.24
"""Normalised image y of the horizon (and the vanishing point)."""
VANISH_X = 0.56
"""Normalised image x of the vanishing point of the road."""
FOCAL_Y = 1.2
"""Focal length in frame heights (vertical field of view about 45°)."""
FOCAL_X = FOCAL_Y * 9.0 / 16.0
"""Focal length in frame widths."""
CAMERA_HEIGHT_M = 3.0
CAMERA_X_M = 0.5
"""The camera hangs slightly right of the centre line, over the receding lane."""
NEAR_M = 0.4
"""Near clipping plane: geometry closer than this (or behind the camera) is cut away."""

ROAD_HALF_WIDTH_M = 3.3
APPROACH_LANE_X_M = -1.65
"""Lane of the vehicles coming towards the camera (traffic drives on the right)."""
RECEDE_LANE_X_M = 1.65
KERB_HEIGHT_M = 0.12
FACADE_X_M = -6.3
"""Building line of the façade on the left side of the street."""
RIGHT_PAVEMENT_END_X_M = 5.8
FAR_DEPTH_M = 230.0
"""Vehicles appear (approaching) or disappear (receding) at this distance."""


def project(
    x_m: FloatArray | float, depth_m: FloatArray | float, z_m: FloatArray | float
) -> tuple[FloatArray, FloatArray]:
    """World point(s) to normalised image coordinates. ``depth_m`` must be positive."""
    depth = np.asarray(depth_m, dtype=np.float64)
    u = VANISH_X + FOCAL_X * (np.asarray(x_m, dtype=np.float64) - CAMERA_X_M) / depth
    v = HORIZON_Y + FOCAL_Y * (CAMERA_HEIGHT_M - np.asarray(z_m, dtype=np.float64)) / depth
    return u, v


def project_px(points_m: FloatArray, width: int, height: int) -> FloatArray:
    """``(n, 3)`` world points ``(x, depth, z)`` to ``(n, 2)`` pixel coordinates."""
    out = np.empty((len(points_m), 2), np.float64)
    inv_depth = 1.0 / points_m[:, 1]
    out[:, 0] = (VANISH_X + FOCAL_X * (points_m[:, 0] - CAMERA_X_M) * inv_depth) * width
    out[:, 1] = (HORIZON_Y + FOCAL_Y * (CAMERA_HEIGHT_M - points_m[:, 2]) * inv_depth) * height
    return out


def clip_near(points_m: FloatArray, near_m: float = NEAR_M) -> FloatArray:
    """Clip a planar polygon ``(n, 3)`` to ``depth >= near_m`` (Sutherland-Hodgman, one plane)."""
    out: list[FloatArray] = []
    count = len(points_m)
    for i in range(count):
        cur = points_m[i]
        nxt = points_m[(i + 1) % count]
        cur_in = cur[1] >= near_m
        nxt_in = nxt[1] >= near_m
        if cur_in:
            out.append(cur)
        if cur_in != nxt_in:
            t = (near_m - cur[1]) / (nxt[1] - cur[1])
            out.append(cur + t * (nxt - cur))
    if len(out) < 3:
        return np.empty((0, 3))
    return np.array(out)


def clip_polygon_to_rect(
    points: Sequence[tuple[float, float]], x0: float, y0: float, x1: float, y1: float
) -> list[tuple[float, float]]:
    """Clip a 2-D polygon to an axis-aligned rectangle (Sutherland-Hodgman)."""
    poly = [(float(x), float(y)) for x, y in points]
    if all(x0 <= x <= x1 and y0 <= y <= y1 for x, y in poly):
        return poly
    for axis, bound, keep_above in ((0, x0, True), (0, x1, False), (1, y0, True), (1, y1, False)):
        if not poly:
            break
        poly = _clip_half_plane(poly, axis, bound, keep_above)
    # Clamp float noise from the intersections back onto the rectangle.
    return [(min(max(x, x0), x1), min(max(y, y0), y1)) for x, y in poly]


def _clip_half_plane(
    poly: list[tuple[float, float]], axis: int, bound: float, keep_above: bool
) -> list[tuple[float, float]]:
    def inside(p: tuple[float, float]) -> bool:
        return p[axis] >= bound if keep_above else p[axis] <= bound

    out: list[tuple[float, float]] = []
    for i, cur in enumerate(poly):
        nxt = poly[(i + 1) % len(poly)]
        if inside(cur):
            out.append(cur)
        if inside(cur) != inside(nxt):
            t = (bound - cur[axis]) / (nxt[axis] - cur[axis])
            x, y = cur[0] + t * (nxt[0] - cur[0]), cur[1] + t * (nxt[1] - cur[1])
            out.append((bound, y) if axis == 0 else (x, bound))
    return out


def polygon_area(points: Sequence[tuple[float, float]]) -> float:
    """Unsigned area of a simple polygon (shoelace)."""
    area2 = 0.0
    for i, (x0, y0) in enumerate(points):
        x1, y1 = points[(i + 1) % len(points)]
        area2 += x0 * y1 - x1 * y0
    return abs(area2) / 2.0
