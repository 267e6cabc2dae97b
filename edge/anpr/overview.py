"""Images of a read record: the plate crop and the overview, a downscaled masked frame with occupants blurred.

The overview is made from the ``MaskedFrame`` the best read came from, so masked areas are already burned
in (requirement 4); this module only copies, scales, blurs and encodes. Requirement 8: occupants are
blurred by default. The node has no vehicle detector, so the glass occupants are seen through is
*estimated* from each plate read in that frame (``windscreen_box``), in units of the plate box's width
``w`` (more stable under perspective than its height):

- across: ``WINDSCREEN_HALF_WIDTH`` = 2.4 w either side of the plate's centre (4.8 w in all);
- up: from ``WINDSCREEN_TOP`` = 3.4 w above the plate box's top down to ``WINDSCREEN_BOTTOM`` = 0.3 w
  above it.

On the synthetic street (1280x720, seed 1, 380 plates in view with their windscreens), the true windscreen
or rear window spans 1.5 to 3.25 plate widths above the plate's top at its upper edge, 0.7 to 1.8 at its
lower edge, and at most 2.4 plate widths to either side of the plate's centre: the estimate covers all of
them, with margin for the detector's box jitter. A real camera looking down at a different angle needs
these factors checked (docs/anpr.md). A vehicle whose plate was not read in that frame (too far, covered)
is not blurred: the overview is downscaled, so such far occupants are a few pixels tall.
"""

from __future__ import annotations

import base64

import cv2
import numpy as np

from edge.capture.synthetic.imaging import U8
from edge.privacy.masks import AppliedMasks
from edge.types import Pixels

WINDSCREEN_HALF_WIDTH = 2.4
WINDSCREEN_TOP = 3.4
WINDSCREEN_BOTTOM = 0.3
BLUR_SIGMA_SHARE = 0.25
"""Gaussian sigma as a share of the blurred region's height (at least ``_MIN_SIGMA_PX``): strong enough
that a face several hundred pixels tall keeps no detail."""
_MIN_SIGMA_PX = 6.0
OVERVIEW_QUALITY = 80
CROP_QUALITY = 90

Box = tuple[int, int, int, int]
"""``(x, y, w, h)`` in pixels."""


def windscreen_box(plate_box: Box, width: int, height: int) -> Box | None:
    """The estimated occupant area above a plate box, clipped to a ``width`` x ``height`` image."""
    x, y, w, _h = plate_box
    if w <= 0:
        return None
    centre = x + w / 2
    x0 = max(0, int(np.floor(centre - WINDSCREEN_HALF_WIDTH * w)))
    x1 = min(width, int(np.ceil(centre + WINDSCREEN_HALF_WIDTH * w)))
    y0 = max(0, int(np.floor(y - WINDSCREEN_TOP * w)))
    y1 = min(height, int(np.ceil(y - WINDSCREEN_BOTTOM * w)))
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1 - x0, y1 - y0


def overview_image(
    pixels: Pixels,
    plate_boxes: tuple[Box, ...],
    width_px: int,
    *,
    blur: bool,
    masks: AppliedMasks | None = None,
) -> U8:
    """A copy of ``pixels`` scaled to ``width_px`` wide (never up), with the estimated occupant area above
    every box in ``plate_boxes`` (full-frame pixels) strongly blurred when ``blur``. ``masks`` (those burned
    into ``pixels``) stay as they are: the blur never smears the street into a masked area."""
    height, width = pixels.shape[:2]
    scale = min(1.0, width_px / width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    out = (
        np.array(pixels, copy=True)
        if scale == 1.0
        else np.asarray(cv2.resize(pixels, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)
    )
    if not blur:
        return out
    covered = None if masks is None or masks.masks.empty else masks.masks.raster(size[0], size[1], masks.warp)
    for box in plate_boxes:
        region = windscreen_box(box, width, height)
        if region is None:
            continue
        rx, ry, rw, rh = region
        x0, y0 = int(rx * scale), int(ry * scale)
        x1 = min(size[0], int(np.ceil((rx + rw) * scale)))
        y1 = min(size[1], int(np.ceil((ry + rh) * scale)))
        if x1 > x0 and y1 > y0:
            _blur(out, (x0, y0, x1, y1), covered)
    return out


def _blur(image: U8, region: tuple[int, int, int, int], covered: U8 | None) -> None:
    """Blur ``region`` (x0, y0, x1, y1) of ``image`` in place: pixelate (nothing finer than a block
    survives) and blur the blocks away. The whole region is blurred fully; the blend fades out over a
    border *outside* it, so overlapping regions leave no hard seams. Pixels under a mask (``covered``,
    the mask raster of the whole image) keep their fill."""
    height, width = image.shape[:2]
    sigma = max(_MIN_SIGMA_PX, BLUR_SIGMA_SHARE * (region[3] - region[1]))
    ramp = max(1, round(sigma / 2))
    x0, y0 = max(0, region[0] - ramp), max(0, region[1] - ramp)
    x1, y1 = min(width, region[2] + ramp), min(height, region[3] + ramp)
    patch = image[y0:y1, x0:x1]
    h, w = patch.shape[:2]
    block = max(1, round(sigma))
    small = cv2.resize(patch, (max(1, w // block), max(1, h // block)), interpolation=cv2.INTER_AREA)
    coarse = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    blurred = cv2.GaussianBlur(coarse, (0, 0), sigma / 2, borderType=cv2.BORDER_REPLICATE).astype(np.float32)
    # Distance outside the region, per axis (0 inside): alpha 1 inside, falling to 0 over ``ramp`` pixels.
    dx = np.maximum(np.maximum(region[0] - np.arange(x0, x1), np.arange(x0, x1) - (region[2] - 1)), 0)
    dy = np.maximum(np.maximum(region[1] - np.arange(y0, y1), np.arange(y0, y1) - (region[3] - 1)), 0)
    alpha = np.minimum.outer(1.0 - dy / (ramp + 1), 1.0 - dx / (ramp + 1)).astype(np.float32)
    if covered is not None:
        alpha[covered[y0:y1, x0:x1] > 0] = 0.0
    alpha = alpha[:, :, None]
    mixed = patch.astype(np.float32) * (1.0 - alpha) + blurred * alpha
    image[y0:y1, x0:x1] = np.clip(np.round(mixed), 0, 255).astype(np.uint8)


def jpeg_b64(image: U8, quality: int) -> str:
    """``image`` (BGR) as base64 JPEG text."""
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return base64.b64encode(data.tobytes()).decode("ascii")
