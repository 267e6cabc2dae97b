"""Vehicles: their look (fixed at spawn, plate included) and their sprites (rendered per view).

A sprite is the vehicle projected exactly through the camera model at one distance, drawn with
anti-aliased polygons into a premultiplied BGRA canvas: ground shadow, tyres, the side facing the camera,
the bonnet / windscreen / roof, the face with lamps and grille, the plate (a perspective warp of the
plate image rendered at spawn), occupants behind the windscreen and, at night, light glows and headlight
beams (additive: colour without alpha).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from edge.capture.synthetic.geometry import FOCAL_Y, project_px
from edge.capture.synthetic.imaging import u8
from edge.capture.synthetic.lighting import Light
from edge.capture.synthetic.plates import PLATE_HEIGHT_M, render_plate
from edge.capture.synthetic.sprite_paint import Canvas, Quad, add_beams, add_glow, warp_plate
from edge.capture.synthetic.traffic import VehiclePlan
from edge.capture.synthetic.vehicle_face import lights_on, paint_face, plate_quad
from edge.capture.synthetic.vehicle_models import PAINTS_BGR, SHAPES
from edge.capture.synthetic.vehicle_view import Appearance, VehicleView
from edge.types import Pixels, Point

_SHIFT = 4


@dataclass(frozen=True, slots=True)
class VehicleLook:
    """Everything about a vehicle's appearance, decided once when it enters the scene."""

    plan: VehiclePlan
    appearance: Appearance
    plates: tuple[Pixels, ...]
    """The plate image, largest first, each half the height of the one before."""


def make_look(plan: VehiclePlan, seed: int, frame_height: int) -> VehicleLook:
    rng = np.random.default_rng(np.random.SeedSequence([seed, plan.lane, plan.number, 1]))
    paints, weights = zip(*PAINTS_BGR, strict=True)
    paint = paints[int(rng.choice(len(paints), p=np.array(weights) / sum(weights)))]
    # Large enough for the nearest view of the plate that is still fully in frame.
    top_px = max(16, math.ceil(PLATE_HEIGHT_M * FOCAL_Y * frame_height / 2.5))
    plate = render_plate(plan.plate_formatted, plan.plate_format, top_px, rng)
    levels = [plate]
    while levels[-1].shape[0] >= 12:
        levels.append(u8(cv2.resize(levels[-1], None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)))
    appearance = Appearance(
        shape=SHAPES[plan.kind],
        direction=plan.direction,
        lane_x_m=plan.lane_x_m,
        paint_bgr=paint,
        plate_x_m=float(rng.choice([0.0, 0.0, 0.0, -0.12, 0.12])),
        plate_yaw_rad=math.radians(float(rng.uniform(-3.0, 3.0))),
        plate_tilt_rad=math.radians(float(rng.uniform(0.0, 8.0))),
        passengers=int(rng.choice([0, 0, 0, 1])),
        daytime_lights=bool(rng.random() < 0.7),
    )
    return VehicleLook(plan=plan, appearance=appearance, plates=tuple(levels))


@dataclass(frozen=True, slots=True)
class Sprite:
    """A vehicle drawn at one distance. Coordinates are frame pixels at that distance."""

    bgra: Canvas
    origin: tuple[int, int]
    """Frame position of the canvas's pixel (0, 0)."""
    anchor: Point
    """Where the ground point under the centre of the face projects; the anchor for rescaling."""
    body_box: tuple[float, float, float, float]
    """``x0, y0, x1, y1`` of the body (no shadow, no glow)."""
    plate: Quad | None
    """Plate corners TL, TR, BR, BL, or None when the plate is behind the camera."""
    windscreen: tuple[Point, ...]
    """The glass the occupants are seen through (windscreen, or rear window from behind)."""


def render_sprite(
    look: VehicleLook,
    depth_m: float,
    light: Light,
    frame_size: tuple[int, int],
    clip: tuple[int, int, int, int] | None = None,
) -> Sprite | None:
    """Draw ``look`` with its face at ``depth_m``; ``clip`` (x0, y0, x1, y1) bounds the canvas."""
    width, height = frame_size
    view = VehicleView(look.appearance, depth_m, light, width, height)
    drawing = view.collect_body()
    paint_face(view)
    if light.headlights:
        lights_on(view)
    if not drawing.body:
        return None
    body = np.concatenate(drawing.body)
    box = (float(body[:, 0].min()), float(body[:, 1].min()), float(body[:, 0].max()), float(body[:, 1].max()))
    extent = np.concatenate([p for p, _ in drawing.polys] + [p for p, _ in drawing.beams])
    x0, y0 = math.floor(extent[:, 0].min()) - 1, math.floor(extent[:, 1].min()) - 1
    x1, y1 = math.ceil(extent[:, 0].max()) + 2, math.ceil(extent[:, 1].max()) + 2
    for (gx, gy), radius, _ in drawing.glows:
        reach = math.ceil(radius * 3)
        x0, y0 = min(x0, math.floor(gx) - reach), min(y0, math.floor(gy) - reach)
        x1, y1 = max(x1, math.ceil(gx) + reach), max(y1, math.ceil(gy) + reach)
    if clip is not None:
        x0, y0, x1, y1 = max(x0, clip[0]), max(y0, clip[1]), min(x1, clip[2]), min(y1, clip[3])
    if x1 <= x0 or y1 <= y0:
        return None
    canvas: Canvas = np.zeros((y1 - y0, x1 - x0, 4), np.uint8)
    origin = np.array([x0, y0], np.float64)
    for pts, colour in drawing.polys:
        fixed = np.round(np.clip(pts - origin, -2e6, 2e6) * (1 << _SHIFT)).astype(np.int32)
        cv2.fillPoly(canvas, [fixed], colour, lineType=cv2.LINE_AA, shift=_SHIFT)
    add_beams(canvas, origin, drawing.beams)
    plate = plate_quad(view)
    if plate is not None:
        warp_plate(canvas, origin, look.plates, plate, view.plate_light)
    for (gx, gy), radius, glow in drawing.glows:
        add_glow(canvas, gx - x0, gy - y0, radius, glow)
    anchor = project_px(np.array([[look.plan.lane_x_m, max(depth_m, 1e-3), 0.0]]), width, height)[0]
    return Sprite(
        bgra=canvas,
        origin=(x0, y0),
        anchor=(float(anchor[0]), float(anchor[1])),
        body_box=box,
        plate=plate,
        windscreen=view.windscreen,
    )
