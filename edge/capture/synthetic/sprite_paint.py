"""Painting onto premultiplied BGRA sprite canvases: the plate warp, light glows and headlight beams."""

from __future__ import annotations

import functools
import math

import cv2
import numpy as np
import numpy.typing as npt

from edge.capture.synthetic.imaging import u8
from edge.types import Pixels, Point

Canvas = npt.NDArray[np.uint8]
"""Premultiplied BGRA."""
Quad = tuple[Point, Point, Point, Point]
_BEAM_DOWNSCALE = 4
_BEAM_MAX_SIGMA_PX = 24.0


def warp_plate(
    canvas: Canvas, origin: npt.NDArray[np.float64], plates: tuple[Pixels, ...], quad: Quad, light: float
) -> None:
    """Warp the plate image (from the pyramid ``plates``, largest first) onto ``quad`` of the canvas."""
    dst = np.array(quad, np.float64) - origin
    target_h = max(dst[3, 1] - dst[0, 1], dst[2, 1] - dst[1, 1], 1.0)
    level = next((p for p in reversed(plates) if p.shape[0] >= target_h), plates[0])
    h, w = level.shape[:2]
    x0, y0 = max(0, math.floor(dst[:, 0].min())), max(0, math.floor(dst[:, 1].min()))
    x1 = min(canvas.shape[1], math.ceil(dst[:, 0].max()) + 1)
    y1 = min(canvas.shape[0], math.ceil(dst[:, 1].max()) + 1)
    if x1 <= x0 or y1 <= y0:
        return
    src = np.array([[-0.5, -0.5], [w - 0.5, -0.5], [w - 0.5, h - 0.5], [-0.5, h - 0.5]], np.float32)
    matrix = cv2.getPerspectiveTransform(src, (dst - [x0, y0]).astype(np.float32))
    lit = level if light >= 0.999 else u8(cv2.convertScaleAbs(level, alpha=light))
    plate_bgra = cv2.cvtColor(lit, cv2.COLOR_BGR2BGRA)
    warped = u8(cv2.warpPerspective(plate_bgra, matrix, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR))
    roi = canvas[y0:y1, x0:x1]
    keep = (255 - warped[:, :, 3:4]).astype(np.uint16)
    roi[:] = (warped + (roi.astype(np.uint16) * keep + 127) // 255).clip(0, 255).astype(np.uint8)


_STAMP_SIGMAS = 2.5
"""A glow stamp reaches this many standard deviations from its centre."""


@functools.lru_cache(maxsize=16)
def glow_stamp(colour: tuple[float, float, float]) -> Pixels:
    """A 65 x 65 Gaussian spot of ``colour`` (BGRA, alpha 0: light adds, covers nothing).

    Resized to each glow's size, which is much cheaper than evaluating the Gaussian per pixel.
    """
    axis = np.linspace(-_STAMP_SIGMAS, _STAMP_SIGMAS, 65, dtype=np.float32)
    spot = np.exp(-(axis[:, None] ** 2 + axis[None, :] ** 2) / 2)
    return u8(np.clip(spot[:, :, None] * np.array([*colour, 0.0], np.float32), 0, 255))


def add_glow(canvas: Canvas, cx: float, cy: float, radius: float, colour: tuple[float, float, float]) -> None:
    """Add a round Gaussian light of standard deviation ``radius`` around ``(cx, cy)``, saturating."""
    reach = max(2, round(radius * _STAMP_SIGMAS))
    gx0, gy0 = round(cx) - reach, round(cy) - reach
    size = 2 * reach + 1
    x0, x1 = max(0, gx0), min(canvas.shape[1], gx0 + size)
    y0, y1 = max(0, gy0), min(canvas.shape[0], gy0 + size)
    if x1 <= x0 or y1 <= y0:
        return
    spot = u8(cv2.resize(glow_stamp(colour), (size, size), interpolation=cv2.INTER_LINEAR))
    # All four channels: OpenCV works on a view of whole pixels in place, but copies a 3-of-4 channel view.
    roi = canvas[y0:y1, x0:x1]
    cv2.add(roi, spot[y0 - gy0 : y1 - gy0, x0 - gx0 : x1 - gx0], dst=roi)


def add_beams(
    canvas: Canvas, origin: npt.NDArray[np.float64], beams: list[tuple[npt.NDArray[np.float64], float]]
) -> None:
    """Headlight beams on the road: nested pools (outer first), softened by a blur, added as light.

    Drawn at a quarter of the resolution and blurred, so the pools have no hard edges and cost little.
    """
    if not beams:
        return
    pts = np.concatenate([p for p, _ in beams]) - origin
    # Softness grows with the pool's size, within limits: a wide blur would cost more than it shows.
    sigma = min(max(2.0, 0.08 * min(float(np.ptp(pts[:, 0])), canvas.shape[1])), _BEAM_MAX_SIGMA_PX)
    pad = math.ceil(3 * sigma)  # room for the blur, so the pool fades out instead of being cut off
    x0 = max(0, math.floor(float(pts[:, 0].min())) - pad)
    y0 = max(0, math.floor(float(pts[:, 1].min())) - pad)
    x1 = min(canvas.shape[1], math.ceil(float(pts[:, 0].max())) + pad + 1)
    y1 = min(canvas.shape[0], math.ceil(float(pts[:, 1].max())) + pad + 1)
    w, h = math.ceil((x1 - x0) / _BEAM_DOWNSCALE), math.ceil((y1 - y0) / _BEAM_DOWNSCALE)
    if x1 <= x0 or y1 <= y0 or w < 1 or h < 1:
        return
    mask = np.zeros((h, w), np.float32)
    offset = origin + np.array([x0, y0], np.float64)
    for outline, level in beams:
        fixed = np.round((outline - offset) / _BEAM_DOWNSCALE * 16).astype(np.int32)
        cv2.fillPoly(mask, [fixed], level, lineType=cv2.LINE_AA, shift=4)
    mask = np.asarray(cv2.GaussianBlur(mask, (0, 0), sigmaX=max(0.5, sigma / _BEAM_DOWNSCALE)), np.float32)
    small = u8(np.clip(mask[:, :, None] * np.array([0.9, 1.0, 1.05, 0.0], np.float32), 0, 255))
    rows, cols = np.flatnonzero(small.any(axis=(1, 2))), np.flatnonzero(small.any(axis=(0, 2)))
    if not rows.size:
        return
    # Only the part that is actually lit goes back up to full size (in uint8, which is cheap).
    r0, r1, c0, c1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    fx0, fy0 = x0 + c0 * _BEAM_DOWNSCALE, y0 + r0 * _BEAM_DOWNSCALE
    fx1, fy1 = min(x1, x0 + c1 * _BEAM_DOWNSCALE), min(y1, y0 + r1 * _BEAM_DOWNSCALE)
    if fx1 <= fx0 or fy1 <= fy0:
        return
    light = u8(cv2.resize(small[r0:r1, c0:c1], (fx1 - fx0, fy1 - fy0), interpolation=cv2.INTER_LINEAR))
    roi = canvas[fy0:fy1, fx0:fx1]
    cv2.add(roi, light, dst=roi)
