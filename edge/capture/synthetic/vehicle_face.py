"""The face the camera sees (front or rear), the plate's corners on it, and the lights at night."""

from __future__ import annotations

import math

import numpy as np

from edge.capture.synthetic.geometry import FOCAL_Y, project_px
from edge.capture.synthetic.plates import PLATE_HEIGHT_M, PLATE_WIDTH_M
from edge.capture.synthetic.sprite_paint import Quad
from edge.capture.synthetic.vehicle_view import GLASS_BGR, VehicleView


def paint_face(view: VehicleView) -> None:
    shape, face = view.shape, view.face
    hw = shape.width_m / 2
    z0, z1 = view.profile[0][1], view.profile[1][1]
    c = 0.1
    outline = [
        (-hw + c, z0),
        (hw - c, z0),
        (hw, z0 + c),
        (hw, z1 - c * 0.6),
        (hw - c * 0.6, z1),
        (-hw + c * 0.6, z1),
        (-hw, z1 - c * 0.6),
        (-hw, z0 + c),
    ]
    view.add([(x, 0.0, z) for x, z in outline], view.paint(0.92))
    band_lo, band_hi = face.dark_band
    dark = view.paint(1.0, np.array([38, 38, 40], np.float32))
    bw = face.band_half_width_m
    view.add(
        [(-bw, -0.004, band_lo), (bw, -0.004, band_lo), (bw, -0.004, band_hi), (-bw, -0.004, band_hi)],
        dark,
    )
    if view.front:
        view.add(
            [
                (-hw * 0.55, -0.004, z0 + 0.04),
                (hw * 0.55, -0.004, z0 + 0.04),
                (hw * 0.55, -0.004, z0 + 0.13),
                (-hw * 0.55, -0.004, z0 + 0.13),
            ],
            dark,
        )
    for x_lo, x_hi, g_lo, g_hi in face.glass:
        view.add(
            [(x_lo, -0.004, g_lo), (x_hi, -0.004, g_lo), (x_hi, -0.004, g_hi), (x_lo, -0.004, g_hi)],
            view.paint(1.0, GLASS_BGR),
        )
        view.add(
            [(-x_hi, -0.004, g_lo), (-x_lo, -0.004, g_lo), (-x_lo, -0.004, g_hi), (-x_hi, -0.004, g_hi)],
            view.paint(1.0, GLASS_BGR),
        )
    if not view.front and view.shape.kind in ("van", "truck"):  # the seam between the rear doors
        seam = view.paint(0.55)
        top = z1 - 0.08
        view.add(
            [
                (-0.012, -0.005, z0 + 0.2),
                (0.012, -0.005, z0 + 0.2),
                (0.012, -0.005, top),
                (-0.012, -0.005, top),
            ],
            seam,
        )
        for s in (-1.0, 1.0):  # lock bars
            x = s * 0.12
            view.add(
                [
                    (x - 0.02, -0.006, z0 + 0.25),
                    (x + 0.02, -0.006, z0 + 0.25),
                    (x + 0.02, -0.006, top - 0.1),
                    (x - 0.02, -0.006, top - 0.1),
                ],
                seam,
            )
    x_in, x_out, l_lo, l_hi = face.lamps
    lamps_on = view.light.headlights
    if view.front:
        lamp = (250, 252, 252, 255) if lamps_on else view.paint(1.0, np.array([215, 212, 205], np.float32))
    else:
        lamp = (70, 60, 255, 255) if lamps_on else view.paint(1.0, np.array([40, 35, 150], np.float32))
    for s in (-1.0, 1.0):
        view.add(
            [
                (s * x_in, -0.006, l_lo),
                (s * x_out, -0.006, l_lo),
                (s * x_out, -0.006, l_hi),
                (s * x_in, -0.006, l_hi),
            ],
            lamp,
        )
        if view.front and view.look.daytime_lights and not lamps_on:
            strip = l_lo + (l_hi - l_lo) * 0.15
            view.add(
                [
                    (s * x_in, -0.008, l_lo),
                    (s * x_out, -0.008, l_lo),
                    (s * x_out, -0.008, strip),
                    (s * x_in, -0.008, strip),
                ],
                (245, 250, 250, 255),
            )


def plate_quad(view: VehicleView) -> Quad | None:
    look = view.look
    hw, hh = PLATE_WIDTH_M / 2, PLATE_HEIGHT_M / 2
    zc, xc = view.face.plate_z_m, look.plate_x_m
    tilt, yaw = math.sin(look.plate_tilt_rad) * hh, math.sin(look.plate_yaw_rad) * hw
    corners = [
        (xc - hw, -0.012 + tilt - yaw, zc + hh),
        (xc + hw, -0.012 + tilt + yaw, zc + hh),
        (xc + hw, -0.012 - tilt + yaw, zc - hh),
        (xc - hw, -0.012 - tilt - yaw, zc - hh),
    ]
    world = np.array([(look.lane_x_m + x, view.depth_m + lon, z) for x, lon, z in corners])
    if world[:, 1].min() < 0.5:
        return None
    px = project_px(world, view.width, view.height)
    return ((px[0, 0], px[0, 1]), (px[1, 0], px[1, 1]), (px[2, 0], px[2, 1]), (px[3, 0], px[3, 1]))


def lights_on(view: VehicleView) -> None:
    x_in, x_out, l_lo, l_hi = view.face.lamps
    if view.depth_m < 0.5:
        return
    scale = FOCAL_Y * view.height / view.depth_m
    cap = 0.08 * view.height  # bloom does not grow without bound as a lamp comes close
    for s in (-1.0, 1.0):
        px = view.px([(s * (x_in + x_out) / 2, -0.01, (l_lo + l_hi) / 2)] * 3)
        if px is None:
            continue
        centre = (float(px[0, 0]), float(px[0, 1]))
        if view.front:
            view.drawing.glows.append((centre, min(0.25 * scale, cap * 0.35), (200.0, 225.0, 235.0)))
            view.drawing.glows.append((centre, min(0.9 * scale, cap), (45.0, 52.0, 58.0)))
        else:
            view.drawing.glows.append((centre, min(0.2 * scale, cap * 0.3), (40.0, 40.0, 190.0)))
    if view.front:
        for reach, spread, level in ((13.0, 2.6, 14.0), (9.0, 2.0, 26.0), (5.5, 1.5, 40.0)):
            beam = [(-0.8, 0.5, 0.0), (0.8, 0.5, 0.0), (spread, -reach, 0.0), (-spread, -reach, 0.0)]
            px = view.px(beam)
            if px is not None:
                view.drawing.beams.append((px, level))
