"""Putting a vehicle sprite into a frame: rescale and move it, blur it along its motion, blend it.

Every operation works on the sprite's own small region of the frame, never on the whole frame.
Sprites are premultiplied BGRA, so blurring colour and coverage together is correct, and light that
adds without covering (headlight glow, beams) is simply colour with zero alpha.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from edge.capture.synthetic.imaging import u8
from edge.capture.synthetic.vehicles import Sprite
from edge.types import Pixels

Kernel = npt.NDArray[np.float32]
EXPOSURE_S = 1.0 / 250.0
_EXACT_BLUR_MAX_PX = 120_000
"""Shutter time of the simulated camera (daytime auto exposure of a traffic camera)."""


@dataclass(frozen=True, slots=True)
class Placement:
    """``frame = scale * sprite + shift``: how a sprite rendered at one distance is shown at another."""

    scale: float
    shift_x: float
    shift_y: float

    def apply(self, x: float, y: float) -> tuple[float, float]:
        return (self.scale * x + self.shift_x, self.scale * y + self.shift_y)


IDENTITY = Placement(1.0, 0.0, 0.0)


@dataclass(frozen=True, slots=True)
class Layer:
    """Where a sprite landed, with its coverage, to work out what it hides."""

    x0: int
    y0: int
    alpha: npt.NDArray[np.uint8]


@functools.lru_cache(maxsize=256)
def motion_kernel(length_px: int, angle_step: int) -> Kernel:
    """A normalised line kernel ``length_px`` long at ``angle_step`` x 10 degrees."""
    size = length_px | 1
    kernel = np.zeros((size, size), np.float32)
    angle = math.radians(angle_step * 10)
    dx, dy = math.cos(angle) * (length_px - 1) / 2, math.sin(angle) * (length_px - 1) / 2
    c = size // 2
    cv2.line(
        kernel,
        (round((c - dx) * 16), round((c - dy) * 16)),
        (round((c + dx) * 16), round((c + dy) * 16)),
        1.0,
        1,
        cv2.LINE_AA,
        4,
    )
    kernel /= max(float(kernel.sum()), 1e-6)
    # The line is symmetric about the centre, so cropping empty rows and columns keeps it centred and
    # saves filter2D most of its work (a near-vertical smear needs only a few columns).
    rows, cols = np.flatnonzero(kernel.any(axis=1)), np.flatnonzero(kernel.any(axis=0))
    r, q = min(rows[0], size - 1 - rows[-1]), min(cols[0], size - 1 - cols[-1])
    return np.ascontiguousarray(kernel[r : size - r, q : size - q])


def blur_for(velocity_px_s: tuple[float, float], max_px: int = 25) -> Kernel | None:
    """The motion-blur kernel for an image velocity, or None when the smear is under 1.5 px."""
    vx, vy = velocity_px_s
    length = math.hypot(vx, vy) * EXPOSURE_S
    if length < 1.5:
        return None
    angle_step = round(math.degrees(math.atan2(vy, vx)) / 10) % 18
    return motion_kernel(min(max_px, round(length)), angle_step)


def draw_sprite(frame: Pixels, sprite: Sprite, placement: Placement, kernel: Kernel | None) -> Layer | None:
    """Blend ``sprite`` into ``frame`` in place; returns where it went, or None when it is off-frame."""
    height, width = frame.shape[:2]
    canvas = sprite.bgra
    ch, cw = canvas.shape[:2]
    ox, oy = sprite.origin
    pad = max(kernel.shape) // 2 + 1 if kernel is not None else 0
    fx0, fy0 = placement.apply(ox, oy)
    fx1, fy1 = placement.apply(ox + cw, oy + ch)
    x0, y0 = max(0, math.floor(fx0) - pad), max(0, math.floor(fy0) - pad)
    x1, y1 = min(width, math.ceil(fx1) + pad + 1), min(height, math.ceil(fy1) + pad + 1)
    if x1 <= x0 or y1 <= y0:
        return None
    if placement == IDENTITY:
        layer = _crop(canvas, x0 - ox, y0 - oy, x1 - x0, y1 - y0)
    else:
        s = placement.scale
        matrix = np.array(
            [[s, 0.0, s * ox + placement.shift_x - x0], [0.0, s, s * oy + placement.shift_y - y0]], np.float64
        )
        layer = u8(
            cv2.warpAffine(
                canvas, matrix, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
            )
        )
    if kernel is not None:
        if layer.shape[0] * layer.shape[1] <= _EXACT_BLUR_MAX_PX:
            layer = u8(cv2.filter2D(layer, -1, kernel, borderType=cv2.BORDER_CONSTANT))
        else:
            # filter2D on a large four-channel layer costs tens of milliseconds; a box blur spanning
            # the smear's horizontal and vertical extent costs one, and is exact for vertical motion.
            layer = u8(cv2.blur(layer, (kernel.shape[1], kernel.shape[0]), borderType=cv2.BORDER_CONSTANT))
    return Layer(x0=x0, y0=y0, alpha=_blend(frame[y0:y1, x0:x1], layer))


def _crop(canvas: npt.NDArray[np.uint8], x: int, y: int, w: int, h: int) -> npt.NDArray[np.uint8]:
    """``canvas[y:y+h, x:x+w]`` with transparent padding where the window leaves the canvas."""
    ch, cw = canvas.shape[:2]
    if x >= 0 and y >= 0 and x + w <= cw and y + h <= ch:
        return canvas[y : y + h, x : x + w]
    out = np.zeros((h, w, 4), np.uint8)
    sx0, sy0, sx1, sy1 = max(x, 0), max(y, 0), min(x + w, cw), min(y + h, ch)
    if sx1 > sx0 and sy1 > sy0:
        out[sy0 - y : sy1 - y, sx0 - x : sx1 - x] = canvas[sy0:sy1, sx0:sx1]
    return out


def _blend(roi: Pixels, layer: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """``roi = roi * (1 - alpha) + colour`` for a premultiplied BGRA layer, in place; returns alpha."""
    alpha = u8(cv2.extractChannel(layer, 3))
    keep = cv2.multiply(roi, cv2.cvtColor(cv2.bitwise_not(alpha), cv2.COLOR_GRAY2BGR), scale=1.0 / 255.0)
    cv2.add(keep, cv2.cvtColor(layer, cv2.COLOR_BGRA2BGR), dst=roi)
    return alpha
