"""Mask geometry, rasterisation and the mask id.

The mask id is a stable hash of the *effective* mask set: polygon geometry (normalised, rounded to 1e-6
so that float noise does not change it), fill mode and colour. Two nodes with the same masks report the
same id; any change to what gets covered changes it. Mask names are labels, not geometry, and are left
out on purpose.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np
import numpy.typing as npt

from edge.config import PrivacyConfig

NO_MASKS_ID = "none"
"""Mask id stamped on frames of a camera whose privacy masking is explicitly switched off."""

_SUBPIXEL_BITS = 4  # cv2.fillPoly fixed-point precision: 1/16 px keeps edges stable across resolutions


@dataclass(frozen=True, slots=True)
class Polygon:
    name: str
    points: tuple[tuple[float, float], ...]
    """Normalised (x, y), 0..1 of width and height."""


@dataclass(frozen=True, slots=True)
class MaskSet:
    """An immutable set of privacy polygons with the way they are filled."""

    polygons: tuple[Polygon, ...]
    mode: str
    fill_bgr: tuple[int, int, int]

    @classmethod
    def from_config(cls, config: PrivacyConfig) -> MaskSet:
        return cls(
            polygons=tuple(Polygon(m.name, tuple(m.polygon)) for m in config.masks),
            mode=config.mode,
            fill_bgr=config.fill_bgr,
        )

    @property
    def empty(self) -> bool:
        return not self.polygons

    @property
    def mask_id(self) -> str:
        return _mask_id(self)

    def pixel_polygons(self, width: int, height: int) -> list[npt.NDArray[np.int32]]:
        """Polygons in fixed-point pixel coordinates for ``cv2.fillPoly(..., shift=_SUBPIXEL_BITS)``."""
        return _pixel_polygons(self, width, height)

    def burn(self, pixels: npt.NDArray[np.uint8]) -> None:
        """Fill every polygon into ``pixels`` in place."""
        height, width = pixels.shape[:2]
        polys = self.pixel_polygons(width, height)
        if polys:
            cv2.fillPoly(pixels, polys, self.fill_bgr, lineType=cv2.LINE_8, shift=_SUBPIXEL_BITS)

    def coverage(self, width: int, height: int) -> npt.NDArray[np.bool_]:
        """Boolean image, True where a mask covers the pixel (for tests and diagnostics overlays)."""
        canvas = np.zeros((height, width), np.uint8)
        polys = self.pixel_polygons(width, height)
        if polys:
            cv2.fillPoly(canvas, polys, 255, lineType=cv2.LINE_8, shift=_SUBPIXEL_BITS)
        return canvas.astype(bool)


@lru_cache(maxsize=64)
def _mask_id(masks: MaskSet) -> str:
    if masks.empty:
        return NO_MASKS_ID
    canonical = {
        "mode": masks.mode,
        "fill_bgr": list(masks.fill_bgr),
        "polygons": sorted([[round(x, 6), round(y, 6)] for x, y in p.points] for p in masks.polygons),
    }
    digest = hashlib.sha256(json.dumps(canonical, separators=(",", ":"), sort_keys=True).encode()).hexdigest()
    return f"m1-{digest[:16]}"


@lru_cache(maxsize=16)
def _pixel_polygons(masks: MaskSet, width: int, height: int) -> list[npt.NDArray[np.int32]]:
    scale = 1 << _SUBPIXEL_BITS
    # A normalised 1.0 maps to the far edge of the last pixel, so covering [0, 1] covers the whole frame.
    return [
        np.array([[round(x * width * scale), round(y * height * scale)] for x, y in p.points], np.int32)
        for p in masks.polygons
    ]
