"""Detector training scenes: vehicles with plates in procedurally varied surroundings, and frames of the
project's own synthetic street camera. Each scene comes with the mask of its plates at the detector's
output resolution (stride ``DETECTOR_STRIDE``)."""

from __future__ import annotations

import functools
import math

import cv2
import numpy as np

from edge.anpr.preprocess import DETECTOR_STRIDE
from models.training import platesynth
from models.training.platesynth import Rng

SCENE_W, SCENE_H = 256, 192


def _texture(rng: Rng, h: int, w: int) -> np.ndarray:
    """Ground, walls, foliage, tiles: smooth colour fields, noise at several scales, lines and boxes."""
    img = np.empty((h, w, 3), np.float32)
    c0, c1 = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    t = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    img[:] = c0 * (1 - t) + c1 * t
    for scale in (4, 16, 64):
        n = rng.normal(0, rng.uniform(0, 25), (max(1, h // scale), max(1, w // scale), 1)).astype(np.float32)
        img += cv2.resize(n, (w, h), interpolation=cv2.INTER_LINEAR)[..., None]
    kind = rng.random()
    if kind < 0.15:  # tiles / a chequered floor
        s = int(rng.integers(8, 40))
        yy, xx = np.mgrid[0:h, 0:w]
        img[((yy // s + xx // s) % 2).astype(bool)] *= rng.uniform(0.2, 0.7)
    elif kind < 0.3:  # stripes, railings, facades
        s = int(rng.integers(3, 20))
        xx = np.arange(w)[None, :]
        img[:, (xx[0] // s) % 2 == 0] *= rng.uniform(0.4, 0.8)
    for _ in range(int(rng.integers(0, 12))):
        colour = tuple(float(v) for v in rng.integers(0, 256, 3))
        x0, y0 = int(rng.integers(-20, w)), int(rng.integers(-20, h))
        if rng.random() < 0.5:
            cv2.rectangle(
                img,
                (x0, y0),
                (x0 + int(rng.integers(3, w // 2)), y0 + int(rng.integers(3, h // 2))),
                colour,
                -1,
            )
        else:
            cv2.line(
                img,
                (x0, y0),
                (int(rng.integers(0, w)), int(rng.integers(0, h))),
                colour,
                int(rng.integers(1, 5)),
            )
    if rng.random() < 0.35:  # text that is not a plate: shop signs, posters, stickers
        sign = _sign(rng)
        sh, sw = sign.shape[:2]
        if sh < h and sw < w:
            y, x = int(rng.integers(0, h - sh)), int(rng.integers(0, w - sw))
            img[y : y + sh, x : x + sw] = sign
    return np.clip(img, 0, 255).astype(np.uint8)


def _sign(rng: Rng) -> np.ndarray:
    """Lettering that is not a plate: several lines, big type, or no frame."""
    lines = int(rng.integers(1, 4))
    cap = int(rng.integers(6, 22))
    paper = rng.integers(0, 256, 3)
    ink = (255 - paper + rng.integers(-40, 40, 3)).clip(0, 255)
    width = int(rng.integers(40, 200))
    img = np.empty((lines * (cap + 4) + 4, width, 3), np.uint8)
    img[:] = paper
    font = platesynth.font_paths()[int(rng.integers(0, len(platesynth.font_paths())))]
    for i in range(lines):
        word = platesynth._pick(rng, platesynth.LETTERS + "    ", int(rng.integers(3, 14)))
        mask = platesynth._text_image(word.strip() or "A", font, cap, 0.05, 0)
        platesynth._paste(
            img, mask, (2, 2 + i * (cap + 4), width - 2, 2 + i * (cap + 4) + cap), tuple(int(v) for v in ink)
        )
    return img


def _vehicle(rng: Rng, canvas: np.ndarray, mask: np.ndarray, width: int, cx: int, bottom: int) -> None:
    """A car seen from the front or the rear, ``width`` pixels wide, with a plate on its bumper."""
    h, w = canvas.shape[:2]
    body_h = int(width * rng.uniform(0.55, 0.85))
    x0, x1, y0 = cx - width // 2, cx + width // 2, bottom - body_h
    paint = tuple(float(v) for v in rng.integers(0, 256, 3))
    cv2.rectangle(canvas, (x0, y0 + body_h // 3), (x1, bottom), paint, -1)
    roof = np.array(
        [
            [x0 + width * 0.12, y0 + body_h * 0.36],
            [x0 + width * 0.22, y0],
            [x1 - width * 0.22, y0],
            [x1 - width * 0.12, y0 + body_h * 0.36],
        ],
        np.int32,
    )
    cv2.fillPoly(canvas, [roof], paint)
    glass = np.array(
        [
            [x0 + width * 0.18, y0 + body_h * 0.33],
            [x0 + width * 0.25, y0 + body_h * 0.05],
            [x1 - width * 0.25, y0 + body_h * 0.05],
            [x1 - width * 0.18, y0 + body_h * 0.33],
        ],
        np.int32,
    )
    cv2.fillPoly(canvas, [glass], tuple(float(v) for v in rng.integers(10, 90, 3)))
    lamp = (
        (float(rng.integers(150, 256)), float(rng.integers(150, 256)), float(rng.integers(150, 256)))
        if rng.random() < 0.5
        else (30.0, 30.0, 200.0)
    )
    ly = int(y0 + body_h * 0.48)
    lw, lh = int(width * 0.16), max(2, int(body_h * 0.1))
    cv2.rectangle(canvas, (x0 + int(width * 0.04), ly), (x0 + int(width * 0.04) + lw, ly + lh), lamp, -1)
    cv2.rectangle(canvas, (x1 - int(width * 0.04) - lw, ly), (x1 - int(width * 0.04), ly + lh), lamp, -1)
    if rng.random() < 0.6:  # grille
        gy0, gy1 = int(y0 + body_h * 0.45), int(y0 + body_h * 0.62)
        for gx in range(x0 + int(width * 0.3), x1 - int(width * 0.3), max(2, width // 40)):
            cv2.line(canvas, (gx, gy0), (gx, gy1), (20.0, 20.0, 20.0), 1)
    bumper_y = int(y0 + body_h * rng.uniform(0.68, 0.78))
    cv2.rectangle(
        canvas, (x0, bumper_y), (x1, bottom - int(body_h * 0.05)), tuple(float(v) * 0.6 for v in paint), -1
    )
    for wx in (x0 + int(width * 0.15), x1 - int(width * 0.15)):
        cv2.circle(canvas, (wx, bottom), int(width * 0.1), (15.0, 15.0, 15.0), -1)
    plate_w = width * rng.uniform(0.24, 0.34)
    _place_plate(
        rng,
        canvas,
        mask,
        cx + rng.uniform(-0.05, 0.05) * width,
        bumper_y + body_h * rng.uniform(0.0, 0.08),
        plate_w,
    )
    _ = (h, w)


def _place_plate(
    rng: Rng, canvas: np.ndarray, mask: np.ndarray, cx: float, cy: float, plate_w: float
) -> None:
    layout = platesynth.random_layout(rng)
    flat = platesynth.draw_plate(layout, rng, height_px=int(np.clip(plate_w / 4.7 * 1.5, 24, 90)))
    fh, fw = flat.shape[:2]
    plate_h = plate_w * fh / fw
    angle = math.radians(rng.normal(0, 4))
    yaw = rng.uniform(-0.2, 0.2)
    corners = np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]], np.float32) * np.array(
        [plate_w, plate_h], np.float32
    )
    corners[:, 1] *= 1 + yaw * np.sign(corners[:, 0])
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]], np.float32)
    dst = corners @ rot.T + np.array([cx, cy], np.float32)
    src = np.array([[0, 0], [fw, 0], [fw, fh], [0, fh]], np.float32)
    m = cv2.getPerspectiveTransform(src, dst)
    h, w = canvas.shape[:2]
    warped = cv2.warpPerspective(flat, m, (w, h), flags=cv2.INTER_AREA if plate_w < fw else cv2.INTER_LINEAR)
    cover = cv2.warpPerspective(np.full((fh, fw), 255, np.uint8), m, (w, h))
    alpha = (cover.astype(np.float32) / 255.0)[..., None]
    canvas[:] = (canvas * (1 - alpha) + warped * alpha).astype(np.uint8)
    _mark(mask, dst)


def _mark(mask: np.ndarray, corners: np.ndarray) -> None:
    """Fill the plate's quadrilateral into the stride-4 target (shrunk a little: edges are ambiguous)."""
    centre = corners.mean(axis=0)
    inner = centre + (corners - centre) * np.array([0.92, 0.8], np.float32)
    pts = np.round(inner / DETECTOR_STRIDE * 8).astype(np.int32)  # 3 fractional bits
    cv2.fillPoly(mask, [pts], 1, lineType=cv2.LINE_8, shift=3)


def procedural_scene(rng: Rng) -> tuple[np.ndarray, np.ndarray]:
    canvas = _texture(rng, SCENE_H, SCENE_W)
    mask = np.zeros((SCENE_H // DETECTOR_STRIDE, SCENE_W // DETECTOR_STRIDE), np.uint8)
    cars = int(rng.choice([0, 1, 1, 1, 2, 2, 3]))
    for _ in range(cars):
        width = int(SCENE_W * rng.uniform(0.15, 1.1))
        cx = int(rng.uniform(0.1, 0.9) * SCENE_W)
        bottom = int(SCENE_H * rng.uniform(0.5, 1.15))
        _vehicle(rng, canvas, mask, width, cx, bottom)
    if rng.random() < 0.15:  # a plate on its own: a parked car cut off by the frame, a plate on a wall
        _place_plate(
            rng,
            canvas,
            mask,
            rng.uniform(30, SCENE_W - 30),
            rng.uniform(20, SCENE_H - 20),
            rng.uniform(20, 120),
        )
    return canvas, mask


@functools.cache
def _street_renderer(seed: int):  # type: ignore[no-untyped-def]
    from edge.capture.synthetic.render import StreetRenderer
    from edge.config import SyntheticCameraConfig

    lighting = ("day", "night", "cycle")[seed % 3]
    cfg = SyntheticCameraConfig(
        type="synthetic",
        seed=seed,
        width=960,
        height=540,
        realtime=False,
        vehicles_per_minute=40,
        lighting=lighting,
        cycle_seconds=120,
    )
    return StreetRenderer(cfg)


def street_scene(rng: Rng) -> tuple[np.ndarray, np.ndarray]:
    """A crop of a frame of the synthetic street camera, with its plates' ground truth."""
    renderer = _street_renderer(int(rng.integers(0, 6)))
    pixels, truth = renderer.render(int(rng.integers(0, 30 * 25)))
    h, w = pixels.shape[:2]
    crop_w = int(rng.uniform(0.3, 1.0) * w)
    crop_h = int(crop_w * SCENE_H / SCENE_W)
    crop_h = min(crop_h, h)
    plates = list(truth.plates) if truth is not None else []
    if plates and rng.random() < 0.8:  # centre on a plate most of the time
        p = plates[int(rng.integers(0, len(plates)))]
        px, py = np.mean([c[0] for c in p.corners]), np.mean([c[1] for c in p.corners])
        x0 = int(np.clip(px - rng.uniform(0.2, 0.8) * crop_w, 0, w - crop_w))
        y0 = int(np.clip(py - rng.uniform(0.2, 0.8) * crop_h, 0, h - crop_h))
    else:
        x0, y0 = int(rng.integers(0, w - crop_w + 1)), int(rng.integers(0, h - crop_h + 1))
    scale = SCENE_W / crop_w
    canvas = cv2.resize(
        pixels[y0 : y0 + crop_h, x0 : x0 + crop_w], (SCENE_W, SCENE_H), interpolation=cv2.INTER_AREA
    )
    mask = np.zeros((SCENE_H // DETECTOR_STRIDE, SCENE_W // DETECTOR_STRIDE), np.uint8)
    for p in plates:
        corners = (np.array(p.corners, np.float32) - np.array([x0, y0], np.float32)) * scale
        _mark(mask, corners)
    return canvas, mask


def scene(rng: Rng) -> tuple[np.ndarray, np.ndarray]:
    image, mask = street_scene(rng) if rng.random() < 0.25 else procedural_scene(rng)
    if rng.random() < 0.5:
        image, mask = image[:, ::-1], mask[:, ::-1]  # mirrored text is still "a plate" to the detector
    return light(image, rng), np.ascontiguousarray(mask)


def light(img: np.ndarray, rng: Rng) -> np.ndarray:
    f = img.astype(np.float32)
    if rng.random() < 0.15:
        f = f * rng.uniform(0.15, 0.5)
    elif rng.random() < 0.1:
        f = np.repeat(f.mean(axis=2, keepdims=True), 3, axis=2)
    f = f * rng.uniform(0.7, 1.3) + rng.uniform(-30, 30)
    f += rng.normal(0, rng.uniform(0, 8), f.shape).astype(np.float32)
    out = np.clip(f, 0, 255).astype(np.uint8)
    if rng.random() < 0.3:
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.3, 1.2))
    if rng.random() < 0.5:
        ok, enc = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(30, 95))])
        if ok:
            out = cv2.imdecode(enc, cv2.IMREAD_COLOR)
    return np.ascontiguousarray(out)
