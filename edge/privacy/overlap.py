"""The ANPR rule: a plate whose box touches a masked area is never read (requirement 7).

Masking already paints over a plate inside a mask; this rule also drops plates that are only partly
covered, whose visible half could still be read and would place a vehicle on private ground. The masks'
side is the very raster the masks are burned with (same fixed-point polygons, same drift compensation,
cached per geometry), so "overlaps" means "shares at least one pixel with what was masked".
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

from edge.privacy import fill
from edge.privacy.masks import AppliedMasks, MaskSet

Box = tuple[float, float, float, float]
"""``(x, y, w, h)`` in pixels, as ``VehicleTruth.bbox``."""
Quad = Sequence[tuple[float, float]]
"""Corner points in pixels, as ``PlateTruth.corners``."""


def box_overlaps_masks(
    quad_or_box: Box | Quad, masks: MaskSet | AppliedMasks, width: int, height: int
) -> bool:
    """True when the plate (a corner quad or an ``(x, y, w, h)`` box, pixels) overlaps any mask.

    ``masks`` is best the stage's ``applied_masks()``, which includes the drift compensation. A plate
    entirely outside the frame overlaps nothing.
    """
    applied = masks if isinstance(masks, AppliedMasks) else AppliedMasks(masks)
    if applied.masks.empty:
        return False
    points = _corners(quad_or_box)
    x0 = max(0, math.floor(float(points[:, 0].min())))
    y0 = max(0, math.floor(float(points[:, 1].min())))
    x1 = min(width, math.ceil(float(points[:, 0].max())) + 1)
    y1 = min(height, math.ceil(float(points[:, 1].max())) + 1)
    if x1 <= x0 or y1 <= y0:
        return False
    scale = 1 << fill.SUBPIXEL_BITS
    offset = np.array([x0 * scale, y0 * scale], np.int32)
    plate = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillPoly(
        plate, [np.round(points * scale).astype(np.int32) - offset], 255, cv2.LINE_8, fill.SUBPIXEL_BITS
    )
    covered = applied.masks.raster(width, height, applied.warp)[y0:y1, x0:x1]
    return bool(np.any(plate & covered))


def _corners(quad_or_box: Box | Quad) -> np.ndarray[tuple[int, int], np.dtype[np.float64]]:
    items = list(quad_or_box)
    if len(items) == 4 and all(isinstance(v, int | float) for v in items):
        x, y, w, h = (float(v) for v in items)  # type: ignore[arg-type]
        if w <= 0 or h <= 0:
            raise ValueError(f"box has no area: {quad_or_box}")
        return np.array([(x, y), (x + w, y), (x + w, y + h), (x, y + h)], np.float64)
    points = np.asarray(items, np.float64)
    if points.ndim != 2 or points.shape[1] != 2 or len(points) < 3 or not np.isfinite(points).all():
        raise ValueError(f"expected an (x, y, w, h) box or at least 3 corner points, got {quad_or_box!r}")
    return points
