"""Mask geometry, rasterisation, validation and the mask id.

The mask id is a stable hash of the *effective* mask set: polygon geometry (normalised, rounded to 1e-6
so that float noise does not change it), fill mode with the parameter of that mode, fill colour, and the
id of the reference view the set is checked against. Two nodes with the same masks and reference report
the same id; any change to what gets covered, or how, changes it. Mask names are labels, not geometry,
and are left out on purpose. The drift compensation (``ViewTransform``) is *not* part of the id: it is
measured from the view, not configured, and it is reported in health and in tamper events instead.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

import numpy as np
import numpy.typing as npt
from pydantic import ValidationError

from edge.config import PrivacyConfig, format_validation_errors
from edge.errors import EdgeError
from edge.privacy import fill
from edge.privacy.geometry import ViewTransform

NO_MASKS_ID = "none"
"""Mask id stamped on frames of a camera whose privacy masking is explicitly switched off."""

MaskMode = Literal["solid", "pixelate", "blur"]

_DEFAULTS = PrivacyConfig()


class MaskSetError(EdgeError, ValueError):
    """A mask set was refused; the message lists every problem with the path of the bad field."""


@dataclass(frozen=True, slots=True)
class Polygon:
    name: str
    points: tuple[tuple[float, float], ...]
    """Normalised (x, y), 0..1 of width and height."""


@dataclass(frozen=True, slots=True)
class MaskSet:
    """An immutable set of privacy polygons with the way they are filled."""

    polygons: tuple[Polygon, ...]
    mode: MaskMode = "solid"
    fill_bgr: tuple[int, int, int] = (0, 0, 0)
    pixelate_block_share: float = _DEFAULTS.pixelate_block_share
    blur_share: float = _DEFAULTS.blur_share
    reference_id: str = field(default="")
    """Id of the reference view these masks are checked against; set by the privacy stage."""

    @classmethod
    def from_config(cls, config: PrivacyConfig) -> MaskSet:
        return cls(
            polygons=tuple(Polygon(m.name, tuple(m.polygon)) for m in config.masks),
            mode=config.mode,
            fill_bgr=config.fill_bgr,
            pixelate_block_share=config.pixelate_block_share,
            blur_share=config.blur_share,
        )

    @property
    def empty(self) -> bool:
        return not self.polygons

    @property
    def mask_id(self) -> str:
        return _mask_id(self)

    def pixel_polygons(
        self, width: int, height: int, warp: ViewTransform | None = None
    ) -> tuple[npt.NDArray[np.int32], ...]:
        """Polygons in fixed-point pixels for ``cv2.fillPoly(..., shift=fill.SUBPIXEL_BITS)``.

        With a ``warp`` the result holds the configured polygons *and* the warped ones: while drift is
        compensated both places are covered, so a wrong estimate on a camera that did not move cannot
        uncover anything (see docs/privacy.md).
        """
        return _pixel_polygons(self, width, height, _effective(warp))

    def burn(self, pixels: npt.NDArray[np.uint8], warp: ViewTransform | None = None) -> None:
        """Burn every polygon into ``pixels`` (H x W x 3, uint8) in place, in this set's mode."""
        height, width = pixels.shape[:2]
        if self.empty:
            return
        key = _effective(warp)
        if self.mode == "solid":
            fill.solid(pixels, _pixel_polygons(self, width, height, key), self.fill_bgr)
            return
        cover, boxes = _raster(self, width, height, key)
        if self.mode == "pixelate":
            fill.pixelate(pixels, cover, boxes, self.block_px(width))
        else:
            fill.blur(pixels, cover, boxes, self.blur_px(width))

    def coverage(self, width: int, height: int, warp: ViewTransform | None = None) -> npt.NDArray[np.bool_]:
        """Boolean image, True where a mask covers the pixel (for tests and diagnostics overlays)."""
        return self.raster(width, height, warp).astype(bool)

    def raster(self, width: int, height: int, warp: ViewTransform | None = None) -> npt.NDArray[np.uint8]:
        """255 where a mask covers the pixel; cached and read-only."""
        return _raster(self, width, height, _effective(warp))[0]

    def block_px(self, width: int) -> int:
        """Edge of a pixelation block in pixels at this frame width."""
        return max(fill.MIN_BLOCK_PX, round(self.pixelate_block_share * width))

    def blur_px(self, width: int) -> int:
        """Cell size of the blur in pixels at this frame width."""
        return max(fill.MIN_BLOCK_PX, round(self.blur_share * width))


@dataclass(frozen=True, slots=True)
class AppliedMasks:
    """The mask set being burned in, with the drift compensation applied on top of it (if any)."""

    masks: MaskSet
    warp: ViewTransform | None = None

    def coverage(self, width: int, height: int) -> npt.NDArray[np.bool_]:
        return self.masks.coverage(width, height, self.warp)


def validate_mask_set(masks: MaskSet) -> None:
    """Apply the configuration's rules to a mask set from elsewhere (a command). Raises ``MaskSetError``."""
    data = {
        "mode": masks.mode,
        "fill_bgr": list(masks.fill_bgr),
        "pixelate_block_share": masks.pixelate_block_share,
        "blur_share": masks.blur_share,
        "masks": [{"name": p.name, "polygon": [list(pt) for pt in p.points]} for p in masks.polygons],
    }
    try:
        PrivacyConfig.model_validate(data)
    except ValidationError as exc:
        raise MaskSetError("; ".join(format_validation_errors(exc))) from None
    except (TypeError, ValueError) as exc:  # e.g. points that are not pairs of numbers
        raise MaskSetError(f"mask set is malformed: {exc}") from None


def _effective(warp: ViewTransform | None) -> ViewTransform | None:
    if warp is None or warp.is_identity:
        return None
    return warp.rounded()


@lru_cache(maxsize=64)
def _mask_id(masks: MaskSet) -> str:
    if masks.empty:
        return NO_MASKS_ID
    canonical: dict[str, object] = {
        "mode": masks.mode,
        "fill_bgr": list(masks.fill_bgr),
        "polygons": sorted([[round(x, 6), round(y, 6)] for x, y in p.points] for p in masks.polygons),
    }
    # Only the parameter of the mode in use counts: changing the blur strength of a solid set changes
    # nothing in the pixels, so it must not change the id.
    if masks.mode == "pixelate":
        canonical["pixelate_block_share"] = round(masks.pixelate_block_share, 6)
    elif masks.mode == "blur":
        canonical["blur_share"] = round(masks.blur_share, 6)
    if masks.reference_id:
        canonical["reference_id"] = masks.reference_id
    digest = hashlib.sha256(json.dumps(canonical, separators=(",", ":"), sort_keys=True).encode()).hexdigest()
    return f"m1-{digest[:16]}"


@lru_cache(maxsize=16)
def _pixel_polygons(
    masks: MaskSet, width: int, height: int, warp: ViewTransform | None
) -> tuple[npt.NDArray[np.int32], ...]:
    scale = 1 << fill.SUBPIXEL_BITS
    out: list[npt.NDArray[np.int32]] = []
    for p in masks.polygons:
        # A normalised 1.0 maps to the far edge of the last pixel, so covering [0, 1] covers the whole frame.
        px = np.array([(x * width, y * height) for x, y in p.points], np.float64)
        variants = [px] if warp is None else [px, warp.apply_px(px, width)]
        for pts in variants:
            fixed = np.round(pts * scale).astype(np.int32)
            fixed.flags.writeable = False
            out.append(fixed)
    return tuple(out)


@lru_cache(maxsize=8)
def _raster(
    masks: MaskSet, width: int, height: int, warp: ViewTransform | None
) -> tuple[npt.NDArray[np.uint8], tuple[fill.Box, ...]]:
    """Union coverage (255 = masked) and the regions ``pixelate`` / ``blur`` work on, for one geometry."""
    polys = _pixel_polygons(masks, width, height, warp)
    cover = np.zeros((height, width), np.uint8)
    fill.fill_polygons(cover, polys, 255)
    cover.flags.writeable = False
    if masks.mode == "pixelate":
        grid, margin = masks.block_px(width), 0
    else:
        grid, margin = 1, masks.blur_px(width)
    boxes = [_box(poly, grid, margin, width, height) for poly in polys]
    return cover, fill.merge_boxes([b for b in boxes if b is not None])


def _box(poly: npt.NDArray[np.int32], grid: int, margin: int, width: int, height: int) -> fill.Box | None:
    scale = 1 << fill.SUBPIXEL_BITS
    x0 = math.floor(poly[:, 0].min() / scale) - 1 - margin
    y0 = math.floor(poly[:, 1].min() / scale) - 1 - margin
    x1 = math.ceil(poly[:, 0].max() / scale) + 1 + margin
    y1 = math.ceil(poly[:, 1].max() / scale) + 1 + margin
    # Aligned to the frame's block grid, so a block never straddles two regions.
    x0, y0 = max(0, x0 // grid * grid), max(0, y0 // grid * grid)
    x1, y1 = min(width, -(-x1 // grid) * grid), min(height, -(-y1 // grid) * grid)
    if x1 <= x0 or y1 <= y0:
        return None
    return (x0, y0, x1, y1)
