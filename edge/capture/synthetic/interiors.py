"""What the camera must not show: the insides of rooms and the shop behind the façade's glass.

Each generator paints a flat texture (as if seen straight through the glass) that is deliberately busy
and contrasting — patterned curtains, bookshelves, bright products — so that a masking leak shows up as
high pixel variance in tests. Sizes are in texture pixels; every generator copes with tiny sizes, since
far windows are only a few pixels big.
"""

from __future__ import annotations

import cv2
import numpy as np

from edge.types import Pixels

BGR = tuple[int, int, int]
_SATURATED: tuple[BGR, ...] = (
    (40, 40, 220),
    (30, 160, 250),
    (40, 200, 240),
    (60, 170, 60),
    (200, 120, 30),
    (170, 50, 140),
    (210, 210, 210),
    (30, 30, 30),
    (120, 60, 200),
    (200, 200, 40),
)
_WALLS: tuple[BGR, ...] = (
    (170, 200, 225),
    (200, 215, 190),
    (150, 180, 215),
    (215, 205, 200),
    (140, 190, 200),
)


def _pick(rng: np.random.Generator, colours: tuple[BGR, ...]) -> BGR:
    return colours[int(rng.integers(0, len(colours)))]


def _rect(img: Pixels, x0: float, y0: float, x1: float, y1: float, colour: BGR) -> None:
    cv2.rectangle(img, (round(x0), round(y0)), (round(x1) - 1, round(y1) - 1), colour, thickness=-1)


def _room_background(w: int, h: int, rng: np.random.Generator) -> Pixels:
    """Wall, a framed picture, a bookshelf full of coloured spines and a lamp."""
    img = np.empty((h, w, 3), np.uint8)
    img[:] = _pick(rng, _WALLS)
    _rect(img, 0, h * 0.78, w, h, (60, 80, 110))  # floor / furniture line
    px0, py0 = w * rng.uniform(0.1, 0.4), h * rng.uniform(0.08, 0.2)
    _rect(img, px0, py0, px0 + w * 0.3, py0 + h * 0.22, (30, 50, 80))
    for _ in range(6):  # an abstract painting: overlapping bright blocks
        x, y = px0 + w * rng.uniform(0.02, 0.22), py0 + h * rng.uniform(0.02, 0.15)
        _rect(
            img,
            x,
            y,
            x + w * rng.uniform(0.03, 0.08),
            y + h * rng.uniform(0.03, 0.07),
            _pick(rng, _SATURATED),
        )
    shelf_y = h * rng.uniform(0.45, 0.55)
    x = w * 0.05
    for row in range(2):
        base = shelf_y + row * h * 0.16
        _rect(img, w * 0.03, base, w * 0.97, base + max(1.0, h * 0.015), (50, 70, 100))
        x = w * 0.05
        while x < w * 0.93:
            spine = w * rng.uniform(0.015, 0.04)
            _rect(img, x, base - h * rng.uniform(0.08, 0.13), x + spine, base, _pick(rng, _SATURATED))
            x += spine + w * 0.004
    lamp_x = w * rng.uniform(0.6, 0.85)
    cv2.circle(img, (round(lamp_x), round(h * 0.3)), max(1, round(min(w, h) * 0.07)), (150, 235, 255), -1)
    return img


def curtained_room(w: int, h: int, rng: np.random.Generator) -> Pixels:
    """A room behind two patterned curtains drawn part of the way."""
    img = _room_background(w, h, rng)
    base, accent = _pick(rng, _SATURATED), _pick(rng, _SATURATED)
    pattern = int(rng.integers(0, 3))
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    stripe = max(2.0, w / 18)
    if pattern == 0:
        on = (xs // stripe) % 2 == 0
    elif pattern == 1:
        on = ((xs // stripe) + (ys // stripe)) % 2 == 0
    else:
        on = ((xs - w / 2) ** 2 + ((ys % (stripe * 3)) - stripe * 1.5) ** 2) < (stripe * 0.9) ** 2
    cloth = np.where(on[:, :, None], np.array(accent, np.uint8), np.array(base, np.uint8))
    folds = (0.75 + 0.25 * np.sin(xs * (2 * np.pi / max(3.0, w / 9))))[:, :, None]
    cloth = (cloth * folds).astype(np.uint8)
    gap_left, gap_right = w * rng.uniform(0.25, 0.4), w * rng.uniform(0.6, 0.75)
    covered = (xs < gap_left) | (xs > gap_right)
    img[covered] = cloth[covered]
    _rect(img, 0, 0, w, max(1.0, h * 0.04), (40, 40, 40))  # curtain rail
    return img


def tv_room(w: int, h: int, rng: np.random.Generator, screen: tuple[float, float, float, float]) -> Pixels:
    """A living room with a television; ``screen`` (x0, y0, x1, y1, fractions) is left for animation."""
    img = _room_background(w, h, rng)
    x0, y0, x1, y1 = screen
    pad = 0.03
    _rect(img, w * (x0 - pad), h * (y0 - pad), w * (x1 + pad), h * (y1 + pad), (20, 20, 20))
    _rect(img, w * (x0 - 0.05), h * (y1 + pad), w * (x1 + 0.05), h * 0.86, (40, 60, 90))  # cabinet
    _rect(img, w * x0, h * y0, w * x1, h * y1, (90, 60, 40))
    _rect(img, 0, 0, w * 0.18, h, (60, 60, 170))  # one curtain pushed aside
    return img


def shop_display(w: int, h: int, rng: np.random.Generator) -> Pixels:
    """A lit shop: shelves of bright products, a promotion poster, a counter."""
    img = np.empty((h, w, 3), np.uint8)
    img[:] = (235, 240, 245)
    for shelf in range(4):
        base = h * (0.22 + shelf * 0.17)
        _rect(img, 0, base, w, base + max(1.0, h * 0.02), (90, 90, 90))
        x = w * rng.uniform(0.0, 0.02)
        while x < w:
            item_w = w * rng.uniform(0.012, 0.03)
            item_h = h * rng.uniform(0.06, 0.13)
            colour = _pick(rng, _SATURATED)
            if rng.random() < 0.5:
                _rect(img, x, base - item_h, x + item_w, base, colour)
            else:  # a bottle: body and neck
                _rect(img, x, base - item_h * 0.7, x + item_w, base, colour)
                _rect(img, x + item_w * 0.3, base - item_h, x + item_w * 0.7, base - item_h * 0.7, colour)
            x += item_w + w * 0.004
    px = w * rng.uniform(0.55, 0.7)
    _rect(img, px, h * 0.03, px + w * 0.22, h * 0.2, (20, 20, 210))
    _rect(img, px + w * 0.02, h * 0.07, px + w * 0.2, h * 0.15, (0, 230, 255))
    _rect(img, 0, h * 0.8, w * 0.4, h, (40, 90, 150))  # counter
    _rect(img, w * 0.75, h * 0.8, w, h, (30, 30, 30))
    return img


def hallway(w: int, h: int, rng: np.random.Generator) -> Pixels:
    """A hallway seen through a glazed door: patterned wallpaper, coats, stairs."""
    img = np.empty((h, w, 3), np.uint8)
    a, b = _pick(rng, _WALLS), _pick(rng, _SATURATED)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    cell = max(2.0, w / 6)
    diamond = (np.abs((xs % cell) - cell / 2) + np.abs((ys % cell) - cell / 2)) < cell * 0.3
    img[:] = a
    img[diamond] = b
    for k in range(3):
        cx = w * (0.2 + 0.25 * k)
        _rect(img, cx - w * 0.08, h * 0.25, cx + w * 0.08, h * 0.6, _pick(rng, _SATURATED))
    for k in range(6):
        y = h * (0.65 + 0.055 * k)
        _rect(img, w * (0.5 - 0.05 * k), y, w, y + max(1.0, h * 0.02), (40, 60, 90))
    return img
