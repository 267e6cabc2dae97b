"""The façade's moving, private content: a flickering television, two people, a blinking sign.

Drawn straight into each frame. Every shape is clipped to its opening *on the façade plane* before it
is projected, so whatever moves stays inside its window, hence inside its privacy mask.
"""

from __future__ import annotations

import functools
import math

import cv2
import numpy as np
import numpy.typing as npt

from edge.capture.synthetic.facade_layout import (
    SHOP,
    TV_SCREEN,
    WINDOW_1_LEFT,
    WINDOW_1_RIGHT,
    Opening,
    plane_to_image,
)
from edge.capture.synthetic.facade_texture import GLASS_INSET_M
from edge.capture.synthetic.geometry import clip_polygon_to_rect
from edge.types import Pixels

PlanePoly = list[tuple[float, float]]
Bounds = tuple[float, float, float, float]
"""``(d0, d1, z0, z1)`` of a glass pane on the façade plane."""
_SHIFT = 4
_HEAD_COS = tuple(math.cos(2 * math.pi * k / 12) for k in range(12))
_HEAD_SIN = tuple(math.sin(2 * math.pi * k / 12) for k in range(12))
_SHOPPER_BGR = ((120, 150, 200), (150, 40, 40), (50, 40, 40))
_RESIDENT_BGR = ((110, 140, 190), (40, 120, 40), (40, 40, 40))


def _glass(opening: Opening) -> Bounds:
    return (
        opening.d0_m + GLASS_INSET_M,
        opening.d1_m - GLASS_INSET_M,
        opening.z0_m + GLASS_INSET_M,
        opening.z1_m - GLASS_INSET_M,
    )


def _person(d_centre: float, z_feet: float, scale: float = 1.0) -> list[PlanePoly]:
    """A standing person as plane polygons: head, torso, legs."""
    head_z = z_feet + 1.62 * scale
    head = [
        (d_centre + 0.11 * scale * c, head_z + 0.13 * scale * s)
        for c, s in zip(_HEAD_COS, _HEAD_SIN, strict=True)
    ]
    shoulders, hips = z_feet + 1.45 * scale, z_feet + 0.85 * scale
    torso = [
        (d_centre - 0.22 * scale, shoulders),
        (d_centre + 0.22 * scale, shoulders),
        (d_centre + 0.17 * scale, hips),
        (d_centre - 0.17 * scale, hips),
    ]
    legs = [
        (d_centre - 0.15 * scale, hips),
        (d_centre + 0.15 * scale, hips),
        (d_centre + 0.12 * scale, z_feet),
        (d_centre - 0.12 * scale, z_feet),
    ]
    return [head, torso, legs]


@functools.lru_cache(maxsize=8)
def _tv_tones(shot: int) -> npt.NDArray[np.int64]:
    """Three colours for one "shot" of the television programme."""
    return np.random.default_rng([4242, shot]).integers(30, 256, size=(3, 3))


class FacadeAnimator:
    """Draws the moving parts of the façade for a given scene time."""

    def __init__(self, width: int, height: int) -> None:
        self._scale = (width * (1 << _SHIFT), height * (1 << _SHIFT))
        self._tv_window = _glass(WINDOW_1_RIGHT)
        self._shop = _glass(SHOP)
        self._room = _glass(WINDOW_1_LEFT)

    def draw(self, frame: Pixels, scene_t_s: float) -> None:
        self._draw_tv(frame, scene_t_s)
        # A shopper walks back and forth along the shop window (period 14 s).
        g0, g1, _, h1 = self._shop
        phase = (scene_t_s / 14.0) % 1.0
        walk = 2 * phase if phase < 0.5 else 2 - 2 * phase
        for poly, colour in zip(_person(g0 + 0.4 + (g1 - g0 - 1.8) * walk, 0.0), _SHOPPER_BGR, strict=True):
            self._fill(frame, poly, self._shop, colour)
        # Someone in the first-floor room drifts across the window (period 23 s).
        r0, r1, q0, _ = self._room
        drift = 0.5 + 0.5 * math.sin(2 * math.pi * scene_t_s / 23.0)
        for poly, colour in zip(
            _person(r0 + 0.2 + (r1 - r0 - 0.4) * drift, q0 - 0.75, 0.95), _RESIDENT_BGR, strict=True
        ):
            self._fill(frame, poly, self._room, colour)
        if int(scene_t_s / 0.8) % 2 == 0:  # a neon "open" sign blinks in the shop window
            sign = [
                (g1 - 2.3, h1 - 0.25),
                (g1 - 1.5, h1 - 0.25),
                (g1 - 1.5, h1 - 0.55),
                (g1 - 2.3, h1 - 0.55),
            ]
            self._fill(frame, sign, self._shop, (60, 40, 255))

    def _draw_tv(self, frame: Pixels, scene_t_s: float) -> None:
        g0, g1, h0, h1 = self._tv_window
        x0, y0, x1, y1 = TV_SCREEN
        d0, d1 = g0 + (g1 - g0) * x0, g0 + (g1 - g0) * x1
        z1, z0 = h1 - (h1 - h0) * y0, h1 - (h1 - h0) * y1
        shot = int(scene_t_s * 5.0)  # five cuts a second: a flickering picture
        tones = [(int(t[0]), int(t[1]), int(t[2])) for t in _tv_tones(shot)]
        self._fill(frame, [(d0, z1), (d1, z1), (d1, z0), (d0, z0)], self._tv_window, tones[0])
        mid = (d0 + d1) / 2 + (d1 - d0) * 0.2 * math.sin(shot)
        figure = [
            (mid - 0.08, z0 + 0.05),
            (mid + 0.08, z0 + 0.05),
            (mid + 0.05, z1 - 0.08),
            (mid - 0.05, z1 - 0.08),
        ]
        self._fill(frame, figure, self._tv_window, tones[1])
        self._fill(frame, [(d0, z0 + 0.07), (d1, z0 + 0.07), (d1, z0), (d0, z0)], self._tv_window, tones[2])

    def _fill(self, frame: Pixels, poly: PlanePoly, bounds: Bounds, colour: tuple[int, int, int]) -> None:
        clipped = clip_polygon_to_rect(poly, bounds[0], bounds[2], bounds[1], bounds[3])
        if len(clipped) < 3:
            return
        fx, fy = self._scale
        fixed = np.array(
            [(round(u * fx), round(v * fy)) for u, v in (plane_to_image(d, z) for d, z in clipped)], np.int32
        )
        cv2.fillPoly(frame, [fixed], colour, lineType=cv2.LINE_AA, shift=_SHIFT)
