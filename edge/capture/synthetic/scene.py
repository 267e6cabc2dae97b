"""The static street, rendered once per resolution: sky, road, pavements, façade, trees and lamps.

Two layers come out: ``day`` (everything in daylight) and ``glow`` (what emits or is lit at night: lamp
heads, pools of lamplight on the ground, lit windows and the shop). A frame's background is
``day * ambient + glow * lamps`` (``lit()``), computed once per lighting step and then only copied.
"""

from __future__ import annotations

import functools
import logging
import math
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from edge.capture.synthetic.facade import paint_facade
from edge.capture.synthetic.facade_texture import HAZE_BGR
from edge.capture.synthetic.geometry import (
    CAMERA_HEIGHT_M,
    CAMERA_X_M,
    FOCAL_X,
    FOCAL_Y,
    HORIZON_Y,
    KERB_HEIGHT_M,
    RIGHT_PAVEMENT_END_X_M,
    ROAD_HALF_WIDTH_M,
    VANISH_X,
    clip_near,
    project_px,
)
from edge.capture.synthetic.imaging import f32, u8
from edge.capture.synthetic.lighting import Light
from edge.capture.synthetic.street_furniture import LAMP_POSTS, draw_lamp_posts, draw_trees_and_hedge
from edge.types import Pixels

logger = logging.getLogger(__name__)

FloatImage = npt.NDArray[np.float32]
_SHIFT = 4
_FAR_M = 2000.0
_LAMP_BGR = np.array([0.78, 0.92, 1.0], np.float32)
_LAMP_POOL_SIGMA_M = 4.5


@dataclass(frozen=True, slots=True)
class StaticScene:
    """The pre-rendered street at one resolution. All arrays are read-only."""

    width: int
    height: int
    day: Pixels
    glow: Pixels
    private: npt.NDArray[np.uint8]
    """255 where private content (room interiors, the shop) is painted; for checking the masks."""

    def lit(self, light: Light) -> Pixels:
        """The background under ``light`` (a new array unless it is plain daylight)."""
        if light.ambient >= 1.0 and light.lamps <= 0.0:
            return self.day
        return u8(cv2.addWeighted(self.day, light.ambient, self.glow, light.lamps, 0.0))


@functools.lru_cache(maxsize=3)
def build_scene(width: int, height: int) -> StaticScene:
    """Render the street at ``width`` x ``height`` (cached: the street does not depend on the seed)."""
    day = np.zeros((height, width, 3), np.uint8)
    glow = np.zeros_like(day)
    private = np.zeros((height, width), np.uint8)
    rng = np.random.default_rng(99)
    horizon_px = HORIZON_Y * height
    _paint_sky(day, glow, horizon_px, rng)
    _paint_far_scenery(day, horizon_px, rng)
    ground_rows = slice(max(0, math.floor(horizon_px) + 1), height)
    x_map, d_map = _ground_maps(width, height, ground_rows)
    _paint_ground(day, width, height)
    _texture_ground(day[ground_rows], x_map, d_map, height, rng)
    _paint_markings(day, width, height)
    _paint_pavement_joints(day, width, height)
    glow[ground_rows] = _lamp_pools(day[ground_rows], x_map, d_map)
    paint_facade(day, glow, private)
    draw_trees_and_hedge(day, glow, rng)
    draw_lamp_posts(day, glow)
    for img in (day, glow, private):
        img.setflags(write=False)
    logger.debug("synthetic street rendered at %dx%d", width, height)
    return StaticScene(width=width, height=height, day=day, glow=glow, private=private)


def fill_world_polygon(
    img: Pixels, points_m: list[tuple[float, float, float]], colour: tuple[int, ...]
) -> None:
    """Fill a planar world polygon (x, depth, z), clipped at the near plane, anti-aliased."""
    clipped = clip_near(np.array(points_m, np.float64))
    if len(clipped) < 3:
        return
    height, width = img.shape[:2]
    pts = np.clip(project_px(clipped, width, height), -1e6, 1e6)
    cv2.fillPoly(
        img, [np.round(pts * (1 << _SHIFT)).astype(np.int32)], colour, lineType=cv2.LINE_AA, shift=_SHIFT
    )


def _paint_sky(day: Pixels, glow: Pixels, horizon_px: float, rng: np.random.Generator) -> None:
    width = day.shape[1]
    rows = max(1, math.ceil(horizon_px) + 2)
    t = np.clip(np.arange(rows, dtype=np.float32) / max(horizon_px, 1.0), 0, 1)[:, None]
    top, low = np.array([200, 140, 80], np.float32), np.array([238, 220, 200], np.float32)
    sky = (top * (1 - t**0.7) + low * t**0.7)[:, None, :].repeat(width, axis=1)
    clouds = np.zeros((rows, width), np.float32)
    for _ in range(7):
        cx, cy = rng.uniform(0, width), rng.uniform(0.1, 0.7) * rows
        rx, ry = rng.uniform(0.05, 0.15) * width, rng.uniform(0.03, 0.08) * rows
        cv2.ellipse(
            clouds,
            (round(cx), round(cy)),
            (round(rx), round(ry)),
            0,
            0,
            360,
            float(rng.uniform(0.4, 0.8)),
            -1,
        )
    clouds = f32(cv2.GaussianBlur(clouds, (0, 0), sigmaX=max(1.0, width / 60)))
    sky = sky * (1 - clouds[:, :, None]) + np.float32(250) * clouds[:, :, None]
    day[:rows] = np.clip(sky, 0, 255).astype(np.uint8)
    # Light pollution: the night sky glows orange towards the horizon.
    night = (np.array([25, 45, 70], np.float32) * t**3)[:, None, :].repeat(width, axis=1)
    glow[:rows] = night.astype(np.uint8)


def _paint_far_scenery(day: Pixels, horizon_px: float, rng: np.random.Generator) -> None:
    """A hazy line of trees and roofs where the street meets the horizon."""
    height, width = day.shape[:2]
    knots = rng.uniform(5.0, 16.0, size=24)
    heights_m = np.interp(np.linspace(0, 23, width), np.arange(24), knots)
    heights_m += rng.uniform(0, 2.5, size=width) * (rng.random(width) < 0.3)
    depth = 700.0
    tops = HORIZON_Y * height + FOCAL_Y * (CAMERA_HEIGHT_M - heights_m) / depth * height
    base = HORIZON_Y * height + FOCAL_Y * CAMERA_HEIGHT_M / depth * height
    pts = [(0.0, base), *((float(x), float(y)) for x, y in enumerate(tops)), (float(width), base)]
    fixed = np.round(np.array(pts) * (1 << _SHIFT)).astype(np.int32)
    cv2.fillPoly(day, [fixed], (178, 182, 168), lineType=cv2.LINE_AA, shift=_SHIFT)


def _ground_maps(width: int, height: int, rows: slice) -> tuple[FloatImage, FloatImage]:
    """Per pixel below the horizon: where on the road surface it looks (x_m, depth_m)."""
    v = (np.arange(rows.start, rows.stop, dtype=np.float32) + 0.5) / height
    u = (np.arange(width, dtype=np.float32) + 0.5) / width
    depth = (FOCAL_Y * CAMERA_HEIGHT_M / np.maximum(v - HORIZON_Y, 1e-4)).astype(np.float32)
    depth = np.minimum(depth, _FAR_M)
    x_m = CAMERA_X_M + (u[None, :] - VANISH_X) * depth[:, None] / FOCAL_X
    return x_m.astype(np.float32), np.broadcast_to(depth[:, None], x_m.shape).astype(np.float32)


def _paint_ground(day: Pixels, width: int, height: int) -> None:
    half, kerb = ROAD_HALF_WIDTH_M, KERB_HEIGHT_M
    near, far = 0.3, _FAR_M

    def strip(x0: float, x1: float, z: float, colour: tuple[int, int, int]) -> None:
        fill_world_polygon(day, [(x0, near, z), (x1, near, z), (x1, far, z), (x0, far, z)], colour)

    strip(-2000.0, 2000.0, 0.0, (92, 130, 110))  # grass and soil everywhere off the street
    strip(-half, half, 0.0, (96, 96, 100))  # asphalt
    strip(-6.3, -half - 0.15, kerb, (165, 168, 170))  # left pavement
    strip(half + 0.15, RIGHT_PAVEMENT_END_X_M, kerb, (160, 165, 168))  # right pavement
    strip(RIGHT_PAVEMENT_END_X_M, 9.0, kerb, (70, 140, 90))  # grass verge
    for x_face, x_top in ((-half, -half - 0.15), (half, half + 0.15)):
        fill_world_polygon(
            day,
            [(x_face, near, 0.0), (x_face, far, 0.0), (x_face, far, kerb), (x_face, near, kerb)],
            (150, 150, 150),
        )
        strip(min(x_face, x_top), max(x_face, x_top), kerb, (200, 200, 198))


def _texture_ground(
    ground: Pixels, x_map: FloatImage, d_map: FloatImage, height: int, rng: np.random.Generator
) -> None:
    """Asphalt and paving grain, tyre tracks and distance haze, without shimmering far away."""
    px_per_m = FOCAL_Y * CAMERA_HEIGHT_M * height / np.maximum(d_map, 0.5) ** 2
    shade = np.ones(x_map.shape, np.float32)
    for texel_m, amplitude in ((0.02, 0.10), (0.35, 0.07)):
        noise = f32(cv2.GaussianBlur(rng.normal(0, 1, (256, 256)).astype(np.float32), (0, 0), 1.0))
        noise /= max(float(noise.std()), 1e-6)
        fade = np.clip(px_per_m * texel_m - 0.7, 0, 1)  # fade grain that would be finer than a pixel
        grain = cv2.remap(
            noise, x_map / texel_m, d_map / texel_m, cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP
        )
        shade += amplitude * fade * grain
    for lane_x in (-1.65, 1.65):
        for wheel in (-0.8, 0.8):
            shade -= 0.08 * np.exp(-((x_map - lane_x - wheel) ** 2) / (2 * 0.22**2))
        shade -= 0.04 * np.exp(-((x_map - lane_x) ** 2) / (2 * 0.3**2))
    haze = (1 - np.exp(-d_map / 420.0))[:, :, None]
    out = ground.astype(np.float32) * shade[:, :, None] * (1 - haze) + HAZE_BGR * haze
    ground[:] = np.clip(out, 0, 255).astype(np.uint8)


def _paint_markings(day: Pixels, width: int, height: int) -> None:
    white = (228, 230, 230)
    z = 0.002
    for edge in (-3.05, 3.05):
        fill_world_polygon(
            day,
            [
                (edge - 0.05, 0.3, z),
                (edge + 0.05, 0.3, z),
                (edge + 0.05, _FAR_M, z),
                (edge - 0.05, _FAR_M, z),
            ],
            white,
        )
    crossing = (30.0, 34.0)
    dash = 1.0
    while dash < 600.0:
        if not (crossing[0] - 4 < dash < crossing[1] + 1):
            fill_world_polygon(
                day, [(-0.06, dash, z), (0.06, dash, z), (0.06, dash + 3, z), (-0.06, dash + 3, z)], white
            )
        dash += 12.0
    for k in range(6):
        x0 = -2.9 + k * 1.05
        fill_world_polygon(
            day,
            [
                (x0, crossing[0], z),
                (x0 + 0.5, crossing[0], z),
                (x0 + 0.5, crossing[1], z),
                (x0, crossing[1], z),
            ],
            white,
        )
    ring = [
        (-1.1 + 0.35 * math.cos(a), 13.0 + 0.35 * math.sin(a), z)
        for a in np.linspace(0, 2 * math.pi, 20, endpoint=False)
    ]
    fill_world_polygon(day, ring, (70, 72, 75))
    inner = [
        (-1.1 + 0.28 * math.cos(a), 13.0 + 0.28 * math.sin(a), z)
        for a in np.linspace(0, 2 * math.pi, 20, endpoint=False)
    ]
    fill_world_polygon(day, inner, (105, 108, 112))
    for seam in (19.0, 57.0):  # resurfacing joints across the road
        fill_world_polygon(
            day,
            [(-3.3, seam, z), (3.3, seam + 0.6, z), (3.3, seam + 0.72, z), (-3.3, seam + 0.12, z)],
            (70, 70, 74),
        )


def _paint_pavement_joints(day: Pixels, width: int, height: int) -> None:
    """Joints between paving slabs, only where they are at least a few pixels apart."""
    colour = (120, 122, 125)
    z = KERB_HEIGHT_M
    max_depth = math.sqrt(FOCAL_Y * (CAMERA_HEIGHT_M - z) * height * 0.6 / 4.0)
    for x0, x1 in ((-6.3, -3.45), (3.45, RIGHT_PAVEMENT_END_X_M)):
        x = x0 + 0.6
        while x < x1 - 0.1:
            fill_world_polygon(
                day,
                [(x - 0.01, 0.5, z), (x + 0.01, 0.5, z), (x + 0.01, max_depth, z), (x - 0.01, max_depth, z)],
                colour,
            )
            x += 0.6
        d = 0.6
        while d < max_depth:
            fill_world_polygon(day, [(x0, d, z), (x1, d, z), (x1, d + 0.02, z), (x0, d + 0.02, z)], colour)
            d += 0.6


def _lamp_pools(ground: Pixels, x_map: FloatImage, d_map: FloatImage) -> Pixels:
    """Lamplight on the ground: the lit ground's own colour, brightened under each lamp."""
    light = np.zeros(x_map.shape, np.float32)
    for lamp in LAMP_POSTS:
        light += 0.9 * np.exp(
            -((x_map - lamp.head_x_m) ** 2 + (d_map - lamp.depth_m) ** 2) / (2 * _LAMP_POOL_SIGMA_M**2)
        )
    light += 0.04  # scattered light: the street is never pitch black under lamps
    lit = ground.astype(np.float32) * light[:, :, None] * _LAMP_BGR
    return u8(np.clip(lit, 0, 255))
