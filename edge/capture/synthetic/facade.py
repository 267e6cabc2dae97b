"""Painting the façade into the static scene.

Each building is painted as a flat texture in plane coordinates (see ``facade_texture``) at a
resolution that matches its nearest visible point, then warped into the frame with the exact
plane-to-image homography, 2x supersampled so that window details far down the street do not shimmer.
Roofs, and the gable walls that show above lower neighbours, are plain polygons. Buildings are painted
far to near, so nearer ones cover farther ones.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import numpy.typing as npt

from edge.capture.synthetic.facade_layout import (
    BLOCK_DEPTH_M,
    BUILDINGS,
    ROOF_RISE_M,
    Building,
    plane_to_image,
)
from edge.capture.synthetic.facade_texture import HAZE_BGR, FacadeTexture, building_texture, haze
from edge.capture.synthetic.geometry import (
    CAMERA_HEIGHT_M,
    CAMERA_X_M,
    FACADE_X_M,
    FOCAL_X,
    FOCAL_Y,
    HORIZON_Y,
    VANISH_X,
    project_px,
)
from edge.capture.synthetic.imaging import U8, u8
from edge.types import Pixels

_SHIFT = 4
_SUPERSAMPLE = 2


def paint_facade(day: Pixels, glow: Pixels, private: U8, texture_seed: int = 7) -> None:
    """Paint every building onto ``day`` (daylight), ``glow`` (lit at night), ``private`` (255 = private)."""
    height, width = day.shape[:2]
    rng = np.random.default_rng(texture_seed)
    d_enter = FOCAL_X * (CAMERA_X_M - FACADE_X_M) / VANISH_X  # the façade leaves the frame's left edge here
    for index in range(len(BUILDINGS) - 1, -1, -1):
        building = BUILDINGS[index]
        nearer_height = BUILDINGS[index - 1].height_m if index > 0 else 0.0
        _paint_roof_and_gable(day, glow, private, building, nearer_height)
        d_lo = max(building.d0_m, d_enter - 0.4)
        if d_lo >= building.d1_m:
            continue
        # Nothing above the frame's top edge at the building's far end can be seen.
        z_hi = min(building.height_m, CAMERA_HEIGHT_M + HORIZON_Y * building.d1_m / FOCAL_Y + 0.4)
        across = FOCAL_X * (CAMERA_X_M - FACADE_X_M) / d_lo**2 * width
        px_per_m = float(np.clip(max(across, FOCAL_Y / d_lo * height), 4.0, 220.0))
        _warp_onto(day, glow, private, building_texture(building, d_lo, z_hi, px_per_m, rng))


def _warp_onto(day: Pixels, glow: Pixels, private: U8, texture: FacadeTexture) -> None:
    height, width = day.shape[:2]
    tex_h, tex_w = texture.glass.shape
    d_lo, z_hi, ppm = texture.d_lo_m, texture.z_hi_m, texture.px_per_m
    d_hi, z_lo = d_lo + tex_w / ppm, z_hi - tex_h / ppm
    src = np.array([[0, 0], [tex_w, 0], [tex_w, tex_h], [0, tex_h]], np.float32)
    corners = ((d_lo, z_hi), (d_hi, z_hi), (d_hi, z_lo), (d_lo, z_lo))
    dst = np.array([plane_to_image(d, z) for d, z in corners], np.float32) * np.array(
        [width, height], np.float32
    )
    x0, y0 = max(0, math.floor(float(dst[:, 0].min()))), max(0, math.floor(float(dst[:, 1].min())))
    x1, y1 = min(width, math.ceil(float(dst[:, 0].max()))), min(height, math.ceil(float(dst[:, 1].max())))
    if x1 <= x0 or y1 <= y0:
        return
    matrix = cv2.getPerspectiveTransform(src, (dst - np.array([x0, y0], np.float32)) * _SUPERSAMPLE)
    size = ((x1 - x0) * _SUPERSAMPLE, (y1 - y0) * _SUPERSAMPLE)
    cover = np.full((tex_h, tex_w), 255, np.uint8)

    def warp(layers: list[U8]) -> U8:
        big = cv2.warpPerspective(u8(cv2.merge(layers)), matrix, size, flags=cv2.INTER_LINEAR)
        return u8(cv2.resize(big, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA))

    day_layer = warp([*(u8(c) for c in cv2.split(texture.colour)), cover])
    glow_layer = warp([*(u8(c) for c in cv2.split(texture.lit)), texture.glass])
    alpha = day_layer[:, :, 3:4].astype(np.float32) / 255.0
    # The warped layers are premultiplied by coverage (zeros outside the texture), hence "+ layer".
    for target, layer in ((day, day_layer[:, :, :3]), (glow, glow_layer[:, :, :3])):
        roi = target[y0:y1, x0:x1]
        roi[:] = np.clip(roi * (1.0 - alpha) + layer, 0, 255).astype(np.uint8)
    roi_private = private[y0:y1, x0:x1]
    roi_private[:] = np.clip(roi_private * (1.0 - alpha[:, :, 0]) + glow_layer[:, :, 3], 0, 255).astype(
        np.uint8
    )


def _fill(targets: list[tuple[U8, tuple[int, ...]]], points_px: npt.NDArray[np.float64]) -> None:
    fixed = np.round(points_px * (1 << _SHIFT)).astype(np.int32)
    for img, colour in targets:
        cv2.fillPoly(img, [fixed], colour, lineType=cv2.LINE_AA, shift=_SHIFT)


def _hazed(bgr: tuple[int, int, int], factor: float, mix: float) -> tuple[int, int, int]:
    b, g, r = (int(c * factor * (1 - mix) + float(HAZE_BGR[i]) * mix) for i, c in enumerate(bgr))
    return (b, g, r)


def _paint_roof_and_gable(
    day: Pixels, glow: Pixels, private: U8, building: Building, nearer_height: float
) -> None:
    """The pitched roof above the cornice and, where this house is taller than the next one, its gable."""
    height, width = day.shape[:2]
    xf, top, ridge_x = FACADE_X_M, building.height_m, FACADE_X_M - BLOCK_DEPTH_M / 2
    mix = haze(building.d0_m)
    slope = np.array(
        [
            [xf, building.d0_m, top],
            [xf, building.d1_m, top],
            [ridge_x, building.d1_m, top + ROOF_RISE_M],
            [ridge_x, building.d0_m, top + ROOF_RISE_M],
        ]
    )
    dark: list[tuple[U8, tuple[int, ...]]] = [(glow, (0, 0, 0)), (private, (0,))]
    _fill([(day, _hazed(building.roof_bgr, 1.0, mix)), *dark], project_px(slope, width, height))
    if top > nearer_height:
        gable = np.array(
            [
                [xf, building.d0_m, 0.0],
                [xf, building.d0_m, top],
                [ridge_x, building.d0_m, top + ROOF_RISE_M],
                [xf - BLOCK_DEPTH_M, building.d0_m, top],
                [xf - BLOCK_DEPTH_M, building.d0_m, 0.0],
            ]
        )
        _fill([(day, _hazed(building.wall_bgr, 0.72, mix)), *dark], project_px(gable, width, height))
