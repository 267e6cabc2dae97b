"""A vehicle's geometry at one distance: its parts as projected polygons, in painter's order.

The body is the side profile of ``vehicle_models`` extruded across the width; the parts are drawn far to
near (ground shade, tyres, the side facing the camera, bonnet / windscreen / roof, wing mirrors, the
face with its lamps), so no depth buffer is needed for a convex-ish body seen from above.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from edge.capture.synthetic.geometry import (
    CAMERA_HEIGHT_M,
    CAMERA_X_M,
    NEAR_M,
    clip_near,
    clip_polygon_to_rect,
    project_px,
)
from edge.capture.synthetic.lighting import Light
from edge.capture.synthetic.vehicle_models import BodyShape
from edge.types import Direction, Point

GLASS_BGR = np.array([72, 64, 58], np.float32)
SIDE_GLASS_BGR = np.array([52, 48, 45], np.float32)
Polygon = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Appearance:
    """What the view needs to know about a vehicle besides its body shape."""

    shape: BodyShape
    direction: Direction
    lane_x_m: float
    paint_bgr: tuple[int, int, int]
    plate_x_m: float
    plate_yaw_rad: float
    plate_tilt_rad: float
    passengers: int
    daytime_lights: bool


@dataclass(slots=True)
class Drawing:
    """Projected parts, in painter's order, before the canvas size is known."""

    polys: list[tuple[Polygon, tuple[int, int, int, int]]]
    glows: list[tuple[Point, float, tuple[float, float, float]]]
    beams: list[tuple[Polygon, float]]
    body: list[Polygon]


class VehicleView:
    """The vehicle's geometry at one distance, projected, in painter's order."""

    def __init__(self, look: Appearance, depth_m: float, light: Light, width: int, height: int) -> None:
        self.look = look
        self.shape = look.shape
        self.depth_m = depth_m
        self.light = light
        self.width = width
        self.height = height
        self.front = look.direction is Direction.APPROACHING
        self.face = self.shape.front if self.front else self.shape.rear
        self.profile, self.glass = (
            (self.shape.profile, self.shape.glass) if self.front else self.shape.reversed_profile()
        )
        self.side = 1.0 if look.lane_x_m < CAMERA_X_M else -1.0  # the side facing the camera
        self.body_light = min(1.0, light.ambient + 0.3 * light.lamps)
        self.plate_light = max(self.body_light, 0.85 if light.headlights else 0.0)
        self.windscreen: tuple[Point, ...] = ()
        self.drawing = Drawing(polys=[], glows=[], beams=[], body=[])

    # -- helpers ---------------------------------------------------------------------------------

    def px(self, pts: list[tuple[float, float, float]]) -> npt.NDArray[np.float64] | None:
        """Vehicle-frame points (x across, l back from the face, z up) to pixels, near-clipped."""
        world = np.array(pts, np.float64)
        world[:, 0] += self.look.lane_x_m
        world[:, 1] += self.depth_m
        if world[:, 1].min() < NEAR_M:
            world = clip_near(world)
            if len(world) < 3:
                return None
        return project_px(world, self.width, self.height)

    def paint(self, factor: float, base: npt.NDArray[np.float32] | None = None) -> tuple[int, int, int, int]:
        colour = (
            (np.array(self.look.paint_bgr, np.float32) if base is None else base) * factor * self.body_light
        )
        b, g, r = (int(c) for c in np.clip(colour, 0, 255))
        return (b, g, r, 255)

    def add(
        self, pts: list[tuple[float, float, float]], colour: tuple[int, int, int, int], body: bool = True
    ) -> npt.NDArray[np.float64] | None:
        px = self.px(pts)
        if px is not None:
            self.drawing.polys.append((px, colour))
            if body:
                self.drawing.body.append(px)
        return px

    def half_width(self, z: float) -> float:
        shape = self.shape
        if z <= shape.belt_z_m:
            return shape.width_m / 2
        lean = (z - shape.belt_z_m) / max(shape.roof_z_m - shape.belt_z_m, 1e-6)
        return (shape.width_m - (shape.width_m - shape.roof_width_m) * lean) / 2

    def view_l(self, l_front: float) -> float:
        return l_front if self.front else self.shape.length_m - l_front

    # -- the parts -------------------------------------------------------------------------------

    def collect_body(self) -> Drawing:
        """Everything behind the face: ground shade, tyres, the near side, the tops, the mirrors."""
        shape = self.shape
        hw, length = shape.width_m / 2, shape.length_m
        # Shade under the body (the sun is high and the street lamps are overhead).
        shadow_alpha = int(40 + 60 * self.light.ambient)
        self.add(
            [
                (-hw - 0.08, 0.12, 0.0),
                (hw + 0.08, 0.12, 0.0),
                (hw + 0.08, length - 0.1, 0.0),
                (-hw - 0.08, length - 0.1, 0.0),
            ],
            (0, 0, 0, shadow_alpha),
            body=False,
        )
        self._tyres()
        self._sides()
        self._tops()
        self._mirrors()
        return self.drawing

    def _tyres(self) -> None:
        shape, r = self.shape, self.shape.wheel_radius_m
        hw = shape.width_m / 2
        tyre, hub = (
            self.paint(1.0, np.array([30, 30, 32], np.float32)),
            self.paint(1.0, np.array([165, 165, 160], np.float32)),
        )
        axles = sorted((self.view_l(a) for a in shape.axles_l_m), reverse=True)
        for axle in axles:
            for s in (-1.0, 1.0):
                x_in, x_out = s * (hw - 0.27), s * (hw - 0.03)
                self.add(
                    [
                        (x_in, axle - r * 0.9, 0.0),
                        (x_out, axle - r * 0.9, 0.0),
                        (x_out, axle - r * 0.9, 2 * r * 0.95),
                        (x_in, axle - r * 0.9, 2 * r * 0.95),
                    ],
                    tyre,
                )
        x = self.side * (hw + 0.005)
        for axle in axles:
            for radius, colour in ((r, tyre), (r * 0.55, hub)):
                ring = [
                    (x, axle + radius * math.cos(a), r + radius * math.sin(a))
                    for a in np.linspace(0, 2 * math.pi, 14, endpoint=False)
                ]
                self.add(ring, colour)

    def _sides(self) -> None:
        shape = self.shape
        outline = list(self.profile)
        belt = shape.belt_z_m
        lower = clip_polygon_to_rect(outline, -1.0, -1.0, shape.length_m + 1.0, belt)
        upper = clip_polygon_to_rect(outline, -1.0, belt, shape.length_m + 1.0, 10.0)
        for part, factor in ((lower, 0.78), (upper, 0.84)):
            if len(part) >= 3:
                self.add([(self.side * self.half_width(z), lon, z) for lon, z in part], self.paint(factor))
        glass = self.paint(1.0, SIDE_GLASS_BGR)
        for window in shape.side_windows:
            pts = [(self.view_l(lon), z) for lon, z in window]
            self.add([(self.side * (self.half_width(z) + 0.004), lon, z) for lon, z in pts], glass)

    def _mirrors(self) -> None:
        """Wing mirrors beside the foot of the windscreen: small, but they make a box read as a car."""
        shape = self.shape
        base = next((shape.profile[i] for i, g in enumerate(shape.glass) if g), None)
        if base is None:
            return
        lon, z = self.view_l(base[0] + 0.15), base[1]
        hw = shape.width_m / 2
        colour = self.paint(0.8)
        for s in (-1.0, 1.0):
            self.add(
                [
                    (s * hw, lon, z),
                    (s * (hw + 0.17), lon, z),
                    (s * (hw + 0.17), lon, z + 0.14),
                    (s * hw, lon, z + 0.14),
                ],
                colour,
            )

    def _tops(self) -> None:
        segments = list(zip(self.profile[1:-2], self.profile[2:-1], self.glass[1:-1], strict=True))
        first_glass = next((i for i, (_, _, g) in enumerate(segments) if g), None)
        order = sorted(range(len(segments)), key=lambda i: -(segments[i][0][0] + segments[i][1][0]))
        for i in order:
            (la, za), (lb, zb), is_glass = segments[i]
            l_mid, z_mid = (la + lb) / 2, (za + zb) / 2
            facing = -(zb - za) * -(self.depth_m + l_mid) + (lb - la) * (CAMERA_HEIGHT_M - z_mid)
            if facing <= 0:
                continue
            wa, wb = self.half_width(za), self.half_width(zb)
            quad = [(-wa, la, za), (wa, la, za), (wb, lb, zb), (-wb, lb, zb)]
            if is_glass:
                px = self.add(quad, self.paint(1.0, GLASS_BGR))
                if i == first_glass and px is not None:
                    self._windscreen(quad, px)
            else:
                up = (lb - la) / max(math.hypot(lb - la, zb - za), 1e-6)
                self.add(quad, self.paint(0.86 + 0.2 * up))

    def _windscreen(self, quad: list[tuple[float, float, float]], px: npt.NDArray[np.float64]) -> None:
        """Remember the windscreen's outline; put the driver (and maybe a passenger) behind it."""
        self.windscreen = tuple((float(x), float(y)) for x, y in px)
        (x_left, la, za), _, (_, lb, zb), _ = quad
        half = -x_left

        def across(share: float) -> float:  # 0 = the -x edge of the glass, 1 = the +x edge
            return -half + 2 * half * share

        # Left-hand drive: the driver sits on the vehicle's left, which faces +x when it comes at us.
        seats = [0.72 if self.front else 0.28]
        if self.look.passengers:
            seats.append(1.0 - seats[0])
        head = self.paint(1.0, np.array([52, 60, 78] if self.front else [32, 34, 40], np.float32))
        l_mid, z_mid = (la + lb) / 2, (za + zb) / 2
        r_l, r_z = (lb - la) * 0.13, (zb - za) * 0.18
        for seat in seats:
            x = across(seat)
            ring = [
                (x + 0.11 * math.cos(a), l_mid + r_l * math.sin(a), z_mid + r_z * math.sin(a))
                for a in np.linspace(0, 2 * math.pi, 12, endpoint=False)
            ]
            self.add(ring, head)
        stripe = self.paint(1.0, GLASS_BGR + 45)  # a sky reflection across the glass
        x0, x1 = across(0.12), across(0.2)
        self.add(
            [
                (x0, la + 0.02, za + 0.01),
                (x1, la + 0.02, za + 0.01),
                (x1 + 0.25, lb - 0.02, zb - 0.01),
                (x0 + 0.25, lb - 0.02, zb - 0.01),
            ],
            stripe,
        )
