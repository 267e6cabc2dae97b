"""One frame of the synthetic street: background, façade animation, traffic, noise, ground truth.

Per frame: copy the lit background (recomputed only when the lighting step changes), draw the moving
parts of the façade, draw each vehicle far to near from its sprite cache, add noise. Vehicles further
than ``EXACT_BELOW_M`` reuse a sprite rendered at a nearby "keyframe" distance (keyframes 5 % apart),
rescaled about the vehicle's ground point; nearer ones, whose view changes quickly, are drawn exactly
each frame, clipped to the frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from edge.capture.synthetic.compose import IDENTITY, Kernel, Layer, Placement, blur_for, draw_sprite
from edge.capture.synthetic.facade_animation import FacadeAnimator
from edge.capture.synthetic.facade_layout import FACADE_PRIVATE_AREAS
from edge.capture.synthetic.geometry import (
    CAMERA_HEIGHT_M,
    CAMERA_X_M,
    FOCAL_X,
    FOCAL_Y,
    clip_polygon_to_rect,
    project,
)
from edge.capture.synthetic.lighting import Light, light_at
from edge.capture.synthetic.noise import noise_bank
from edge.capture.synthetic.scene import build_scene
from edge.capture.synthetic.traffic import LANES, LaneSchedule, VehiclePlan
from edge.capture.synthetic.vehicles import Sprite, VehicleLook, make_look, render_sprite
from edge.config import SyntheticCameraConfig
from edge.types import Direction, GroundTruth, Pixels, PlateTruth, Point, VehicleTruth

EXACT_BELOW_M = 9.0
KEYFRAME_RATIO = 1.05
_OCCLUDING_ALPHA = 64


@dataclass(slots=True)
class _Vehicle:
    vehicle_id: int
    plan: VehiclePlan
    look: VehicleLook | None = None
    sprite_key: tuple[int, int] | None = None
    sprite: Sprite | None = None


@dataclass(slots=True)
class _Drawn:
    vehicle: _Vehicle
    layer: Layer
    truth: VehicleTruth
    plate: PlateTruth | None
    plate_box: tuple[int, int, int, int]
    """Pixel box around the plate, for the occlusion check."""


class StreetRenderer:
    """Renders frame ``i`` at scene time ``i / fps``. Frames in increasing order are cheapest (the traffic
    moves on from where it was); an earlier frame replays the traffic from the start, so every frame is
    the same whatever was rendered before it (the detector's training data asks for frames at random)."""

    def __init__(self, config: SyntheticCameraConfig) -> None:
        self._config = config
        self._size = (config.width, config.height)
        self._scene = build_scene(config.width, config.height)
        self._noise = noise_bank(config.width, config.height, config.noise) if config.noise > 0 else None
        self._animator = FacadeAnimator(config.width, config.height)
        self._lanes: list[LaneSchedule] = []
        self._active: list[_Vehicle] = []
        self._next_id = 1
        self._last_index = -1
        self._start_traffic()
        self._background_key: int | None = None
        self._background: Pixels | None = None
        self.private_areas: tuple[tuple[Point, ...], ...] = tuple(
            tuple((x * config.width, y * config.height) for x, y in polygon)
            for polygon in FACADE_PRIVATE_AREAS.values()
        )

    def _start_traffic(self) -> None:
        config = self._config
        self._lanes = [
            LaneSchedule(config.seed, lane, config.vehicles_per_minute, config.plate_mix)
            for lane in range(len(LANES))
        ]
        self._active = []
        self._next_id = 1

    def render(self, index: int) -> tuple[Pixels, GroundTruth]:
        if index < self._last_index:
            self._start_traffic()  # the lane schedules only move forward
        self._last_index = index
        scene_t_s = index / self._config.fps
        light = light_at(self._config.lighting, self._config.cycle_seconds, scene_t_s)
        frame = np.array(self._lit_background(light), copy=True, order="C")
        self._animator.draw(frame, scene_t_s)
        self._update_traffic(scene_t_s)
        drawn = self._draw_vehicles(frame, scene_t_s, light)
        if self._noise is not None:
            self._noise.apply(frame, self._config.seed, index)
        plates = tuple(d.plate for d in self._occlusion(drawn) if d.plate is not None)
        truth = GroundTruth(
            frame_index=index,
            vehicles=tuple(d.truth for d in drawn),
            plates=plates,
            private_areas=self.private_areas,
            lux=light.ambient,
        )
        return frame, truth

    def _lit_background(self, light: Light) -> Pixels:
        if self._background is None or self._background_key != light.key:
            self._background = self._scene.lit(light)
            self._background_key = light.key
        return self._background

    def _update_traffic(self, scene_t_s: float) -> None:
        new = [plan for lane in self._lanes for plan in lane.until(scene_t_s)]
        for plan in sorted(new, key=lambda p: (p.spawn_t_s, p.lane)):
            self._active.append(_Vehicle(vehicle_id=self._next_id, plan=plan))
            self._next_id += 1
        self._active = [v for v in self._active if v.plan.exit_t_s > scene_t_s]

    def _draw_vehicles(self, frame: Pixels, scene_t_s: float, light: Light) -> list[_Drawn]:
        width, height = self._size
        drawn: list[_Drawn] = []
        by_distance = sorted(self._active, key=lambda v: -v.plan.face_depth_m(scene_t_s))
        for vehicle in by_distance:
            depth = vehicle.plan.face_depth_m(scene_t_s)
            if depth + vehicle.plan.length_m < 0.5:
                continue  # still (or already) behind the camera
            if vehicle.look is None:
                vehicle.look = make_look(vehicle.plan, self._config.seed, height)
            velocity = _image_velocity(vehicle.plan, depth, width, height)
            kernel = blur_for(velocity) if self._config.motion_blur else None
            sprite, placement = self._sprite(vehicle, vehicle.look, depth, light, kernel)
            if sprite is None:
                continue
            layer = draw_sprite(frame, sprite, placement, kernel)
            if layer is None:
                continue
            item = _truth(vehicle, sprite, placement, (width, height), math.hypot(*velocity))
            if item is not None:
                drawn.append(
                    _Drawn(vehicle=vehicle, layer=layer, truth=item[0], plate=item[1], plate_box=item[2])
                )
        return drawn

    def _sprite(
        self, vehicle: _Vehicle, look: VehicleLook, depth: float, light: Light, kernel: Kernel | None
    ) -> tuple[Sprite | None, Placement]:
        width, height = self._size
        if depth < EXACT_BELOW_M:
            margin = 8 + (0 if kernel is None else 32)
            clip = (-margin, -margin, width + margin, height + margin)
            vehicle.sprite, vehicle.sprite_key = None, None
            return render_sprite(look, depth, light, self._size, clip), IDENTITY
        step = round(math.log(depth) / math.log(KEYFRAME_RATIO))
        key = (step, light.key)
        if vehicle.sprite_key != key:
            # Keyframes are reused within 5 % of their distance, so they move little: a margin of
            # 15 % around the frame is plenty, and it bounds beams that reach towards the camera.
            mx, my = round(0.15 * width), round(0.15 * height)
            clip = (-mx, -my, width + mx, height + my)
            vehicle.sprite = render_sprite(look, KEYFRAME_RATIO**step, light, self._size, clip)
            vehicle.sprite_key = key
        sprite = vehicle.sprite
        if sprite is None:
            return None, IDENTITY
        scale = (KEYFRAME_RATIO**step) / depth
        anchor_x, anchor_y = _anchor(vehicle.plan.lane_x_m, depth, width, height)
        placement = Placement(scale, anchor_x - scale * sprite.anchor[0], anchor_y - scale * sprite.anchor[1])
        return sprite, placement

    def _occlusion(self, drawn: list[_Drawn]) -> list[_Drawn]:
        """Mark plates covered by a vehicle drawn after (nearer than) their own as not fully visible."""
        for i, item in enumerate(drawn):
            if item.plate is None or not item.plate.fully_visible:
                continue
            px0, py0, px1, py1 = item.plate_box
            for later in drawn[i + 1 :]:
                layer = later.layer
                lh, lw = layer.alpha.shape
                x0, y0 = max(px0, layer.x0), max(py0, layer.y0)
                x1, y1 = min(px1, layer.x0 + lw), min(py1, layer.y0 + lh)
                if x1 > x0 and y1 > y0:
                    patch = layer.alpha[y0 - layer.y0 : y1 - layer.y0, x0 - layer.x0 : x1 - layer.x0]
                    if int(patch.max()) >= _OCCLUDING_ALPHA:
                        p = item.plate
                        item.plate = PlateTruth(
                            p.vehicle_id, p.text, p.formatted, p.country, p.plate_format, p.corners, False
                        )
                        break
        return drawn


def _anchor(lane_x_m: float, depth_m: float, width: int, height: int) -> Point:
    """Pixel position of the ground point under the middle of a vehicle's face."""
    u, v = project(lane_x_m, depth_m, 0.0)
    return float(u) * width, float(v) * height


def _image_velocity(plan: VehiclePlan, face_depth_m: float, width: int, height: int) -> tuple[float, float]:
    """Image velocity (px/s) of the ground point under the vehicle's middle."""
    depth = max(face_depth_m + plan.length_m / 2, 2.0)
    toward = -1.0 if plan.direction is Direction.APPROACHING else 1.0
    ddepth = toward * plan.speed_m_s
    du = -FOCAL_X * (plan.lane_x_m - CAMERA_X_M) / depth**2 * ddepth * width
    dv = -FOCAL_Y * CAMERA_HEIGHT_M / depth**2 * ddepth * height
    return du, dv


def _truth(
    vehicle: _Vehicle, sprite: Sprite, placement: Placement, size: tuple[int, int], speed_px_s: float
) -> tuple[VehicleTruth, PlateTruth | None, tuple[int, int, int, int]] | None:
    width, height = size
    bx0, by0 = placement.apply(sprite.body_box[0], sprite.body_box[1])
    bx1, by1 = placement.apply(sprite.body_box[2], sprite.body_box[3])
    x0, y0 = max(0, math.floor(bx0)), max(0, math.floor(by0))
    x1, y1 = min(width, math.ceil(bx1)), min(height, math.ceil(by1))
    if x1 <= x0 or y1 <= y0:
        return None
    plan = vehicle.plan
    windscreen = (
        clip_polygon_to_rect([placement.apply(x, y) for x, y in sprite.windscreen], 0, 0, width, height)
        if sprite.windscreen
        else []
    )
    vehicle_truth = VehicleTruth(
        vehicle_id=vehicle.vehicle_id,
        direction=plan.direction,
        bbox=(x0, y0, x1 - x0, y1 - y0),
        speed_px_s=speed_px_s,
        plate_text=plan.plate_text,
        windscreen=tuple(windscreen) if len(windscreen) >= 3 else (),
    )
    if sprite.plate is None:
        return vehicle_truth, None, (0, 0, 0, 0)
    corners = tuple(placement.apply(x, y) for x, y in sprite.plate)
    xs, ys = [c[0] for c in corners], [c[1] for c in corners]
    if max(xs) < 0 or min(xs) > width or max(ys) < 0 or min(ys) > height:
        return vehicle_truth, None, (0, 0, 0, 0)
    inside = all(0 <= x <= width - 1 and 0 <= y <= height - 1 for x, y in corners)
    plate = PlateTruth(
        vehicle_id=vehicle.vehicle_id,
        text=plan.plate_text,
        formatted=plan.plate_formatted,
        country=plan.country,
        plate_format=plan.plate_format,
        corners=(corners[0], corners[1], corners[2], corners[3]),
        fully_visible=inside,
    )
    box = (math.floor(min(xs)), math.floor(min(ys)), math.ceil(max(xs)) + 1, math.ceil(max(ys)) + 1)
    return vehicle_truth, plate, box
