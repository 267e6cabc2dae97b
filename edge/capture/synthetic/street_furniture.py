"""Lamp posts, the hedge and the trees along the right side of the street."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from edge.capture.synthetic.geometry import (
    FOCAL_Y,
    KERB_HEIGHT_M,
    NEAR_M,
    clip_near,
    project,
    project_px,
)
from edge.types import Pixels

_SHIFT = 4
HEDGE_X_M = 9.0
HEDGE_HEIGHT_M = 1.3


@dataclass(frozen=True, slots=True)
class LampPost:
    pole_x_m: float
    head_x_m: float
    depth_m: float
    head_z_m: float = 7.0


LAMP_POSTS: tuple[LampPost, ...] = tuple(LampPost(3.75, 2.3, 11.0 + 26.0 * k) for k in range(9))


def _fill(img: Pixels, points_m: list[tuple[float, float, float]], colour: tuple[int, ...]) -> None:
    clipped = clip_near(np.array(points_m, np.float64))
    if len(clipped) < 3:
        return
    height, width = img.shape[:2]
    pts = np.clip(project_px(clipped, width, height), -1e6, 1e6)
    cv2.fillPoly(
        img, [np.round(pts * (1 << _SHIFT)).astype(np.int32)], colour, lineType=cv2.LINE_AA, shift=_SHIFT
    )


def add_glow(
    img: Pixels, centre_px: tuple[float, float], radius_px: float, colour: tuple[float, float, float]
) -> None:
    """Add a soft round light (Gaussian falloff) to ``img``, saturating."""
    height, width = img.shape[:2]
    reach = max(2, math.ceil(radius_px * 3))
    cx, cy = centre_px
    x0, x1 = max(0, math.floor(cx) - reach), min(width, math.floor(cx) + reach + 1)
    y0, y1 = max(0, math.floor(cy) - reach), min(height, math.floor(cy) + reach + 1)
    if x1 <= x0 or y1 <= y0:
        return
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    falloff = np.exp(-((xs + 0.5 - cx) ** 2 + (ys + 0.5 - cy) ** 2) / (2 * max(radius_px, 0.5) ** 2))
    light = falloff[:, :, None] * np.array(colour, np.float32)
    roi = img[y0:y1, x0:x1]
    roi[:] = np.clip(roi + light, 0, 255).astype(np.uint8)


def draw_lamp_posts(day: Pixels, glow: Pixels) -> None:
    height, width = day.shape[:2]
    grey = (70, 72, 75)
    for lamp in sorted(LAMP_POSTS, key=lambda p: -p.depth_m):
        d, x, top = lamp.depth_m, lamp.pole_x_m, lamp.head_z_m
        pole = [
            (x - 0.07, d, KERB_HEIGHT_M),
            (x + 0.07, d, KERB_HEIGHT_M),
            (x + 0.05, d, top),
            (x - 0.05, d, top),
        ]
        arm = [
            (x, d, top - 0.05),
            (lamp.head_x_m, d, top + 0.15),
            (lamp.head_x_m, d, top + 0.25),
            (x, d, top + 0.05),
        ]
        head = [
            (lamp.head_x_m - 0.35, d, top + 0.1),
            (lamp.head_x_m + 0.3, d, top + 0.1),
            (lamp.head_x_m + 0.3, d, top + 0.28),
            (lamp.head_x_m - 0.35, d, top + 0.28),
        ]
        for part in (pole, arm, head):
            _fill(day, part, grey)
            _fill(glow, part, (0, 0, 0))
        u, v = project(lamp.head_x_m, d, top + 0.08)
        radius = max(1.0, 0.25 * FOCAL_Y * height / d)
        add_glow(glow, (float(u) * width, float(v) * height), radius, (235, 250, 255))
        add_glow(glow, (float(u) * width, float(v) * height), radius * 4, (40, 60, 80))


def draw_trees_and_hedge(day: Pixels, glow: Pixels, rng: np.random.Generator) -> None:
    """The hedge behind the verge, then park trees behind it, far to near."""
    trees = [
        (11.5 + rng.uniform(-0.5, 1.5), depth + rng.uniform(-3, 3))
        for depth in (16, 34, 52, 73, 97, 124, 152, 185, 220, 260)
    ]
    for x_m, d_m in sorted(trees, key=lambda tree: -tree[1]):
        _draw_tree(day, glow, x_m, d_m, rng)
    # The hedge is nearer than every tree trunk, so it goes on top.
    far = 2000.0
    face = [
        (HEDGE_X_M, 6.0, KERB_HEIGHT_M),
        (HEDGE_X_M, far, KERB_HEIGHT_M),
        (HEDGE_X_M, far, HEDGE_HEIGHT_M),
        (HEDGE_X_M, 6.0, HEDGE_HEIGHT_M),
    ]
    top = [
        (HEDGE_X_M, 6.0, HEDGE_HEIGHT_M),
        (HEDGE_X_M, far, HEDGE_HEIGHT_M),
        (HEDGE_X_M + 0.9, far, HEDGE_HEIGHT_M),
        (HEDGE_X_M + 0.9, 6.0, HEDGE_HEIGHT_M),
    ]
    _fill(day, face, (40, 85, 45))
    _fill(day, top, (55, 115, 65))
    for part in (face, top):
        _fill(glow, part, (0, 0, 0))
    _speckle_hedge(day, rng)


def _draw_tree(day: Pixels, glow: Pixels, x_m: float, d_m: float, rng: np.random.Generator) -> None:
    height, width = day.shape[:2]
    trunk = [(x_m - 0.18, d_m, 0.0), (x_m + 0.18, d_m, 0.0), (x_m + 0.12, d_m, 4.0), (x_m - 0.12, d_m, 4.0)]
    _fill(day, trunk, (45, 60, 75))
    _fill(glow, trunk, (0, 0, 0))
    blobs = []
    for _ in range(40):
        offset = rng.normal(0, 1, 3) * np.array([1.6, 1.6, 1.5])
        bx, bd, bz = x_m + offset[0], d_m + offset[1], 6.3 + offset[2]
        blobs.append((bd, bx, bz, float(rng.uniform(0.6, 1.1))))
    for bd, bx, bz, radius_m in sorted(blobs, key=lambda b: -b[0]):
        if bd < NEAR_M:
            continue
        u, v = project(bx, bd, bz)
        radius_px = radius_m * FOCAL_Y * height / bd
        shade = float(np.clip(0.75 + (bz - 6.3) * 0.12 + rng.normal(0, 0.08), 0.45, 1.15))
        colour = tuple(int(c * shade) for c in (50, 125, 70))
        centre = (round(float(u) * width * 16), round(float(v) * height * 16))
        cv2.circle(day, centre, max(1, round(radius_px * 16)), colour, -1, lineType=cv2.LINE_AA, shift=_SHIFT)
        cv2.circle(
            glow, centre, max(1, round(radius_px * 16)), (0, 0, 0), -1, lineType=cv2.LINE_AA, shift=_SHIFT
        )


def _speckle_hedge(day: Pixels, rng: np.random.Generator) -> None:
    """Leaf texture on the near part of the hedge, where single leaves would be visible."""
    height, width = day.shape[:2]
    for _ in range(1500):
        d = float(rng.uniform(6.0, 40.0))
        z = float(rng.uniform(KERB_HEIGHT_M + 0.05, HEDGE_HEIGHT_M - 0.05))
        u, v = project(HEDGE_X_M, d, z)
        radius = 0.05 * FOCAL_Y * height / d
        if radius < 0.7:
            continue
        shade = float(rng.uniform(0.6, 1.4))
        colour = tuple(int(min(255, c * shade)) for c in (40, 95, 50))
        cv2.circle(
            day,
            (round(float(u) * width * 16), round(float(v) * height * 16)),
            round(radius * 16),
            colour,
            -1,
            lineType=cv2.LINE_AA,
            shift=_SHIFT,
        )
