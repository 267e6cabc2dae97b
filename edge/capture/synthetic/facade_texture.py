"""A building's façade as a flat texture in plane coordinates (depth along the street, height).

Three layers per building: ``colour`` (daylight), ``lit`` (what shines at night: room interiors and
the shop sign) and ``glass`` (255 where private content is painted).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageDraw

from edge.capture.synthetic import interiors
from edge.capture.synthetic.facade_layout import SHOP, TV_SCREEN, Building, Opening
from edge.capture.synthetic.fonts import bold_condensed
from edge.capture.synthetic.imaging import U8, f32
from edge.types import Pixels

GLASS_INSET_M = 0.07
"""Window frames are this wide; the private content starts inside them."""
HAZE_BGR = np.array([215, 200, 185], np.float32)
BGR = tuple[int, int, int]


def haze(depth_m: float) -> float:
    """Share of the sky colour mixed into something this far away (aerial perspective)."""
    return 1.0 - math.exp(-depth_m / 420.0)


@dataclass(frozen=True, slots=True)
class FacadeTexture:
    colour: Pixels
    lit: Pixels
    glass: U8
    d_lo_m: float
    """Depth of the texture's left edge."""
    z_hi_m: float
    """Height of the texture's top edge."""
    px_per_m: float


class _Painter:
    """Paints rectangles given in plane coordinates onto the texture layers."""

    def __init__(self, width: int, height: int, d_lo_m: float, z_hi_m: float, px_per_m: float) -> None:
        self.d_lo_m, self.z_hi_m, self.px_per_m = d_lo_m, z_hi_m, px_per_m
        self.colour: Pixels = np.zeros((height, width, 3), np.uint8)
        self.lit: Pixels = np.zeros_like(self.colour)
        self.glass: U8 = np.zeros((height, width), np.uint8)

    def px(self, d_m: float, z_m: float) -> tuple[int, int]:
        return round((d_m - self.d_lo_m) * self.px_per_m), round((self.z_hi_m - z_m) * self.px_per_m)

    def rect(self, d0: float, z0: float, d1: float, z1: float, bgr: BGR) -> None:
        (x0, y1), (x1, y0) = self.px(d0, z0), self.px(d1, z1)
        cv2.rectangle(self.colour, (x0, y0), (max(x0, x1 - 1), max(y0, y1 - 1)), bgr, -1)

    def paste(self, x0: int, y0: int, content: Pixels, lit_share: float, private: bool) -> None:
        """Paste ``content`` at texture pixel ``(x0, y0)``, only where it overlaps the texture."""
        tex_h, tex_w = self.glass.shape
        h, w = content.shape[:2]
        cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x0 + w, tex_w), min(y0 + h, tex_h)
        if cx1 <= cx0 or cy1 <= cy0:
            return
        part = content[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0]
        self.colour[cy0:cy1, cx0:cx1] = part
        self.lit[cy0:cy1, cx0:cx1] = (part.astype(np.float32) * lit_share).astype(np.uint8)
        if private:
            self.glass[cy0:cy1, cx0:cx1] = 255


def building_texture(
    building: Building, d_lo_m: float, z_hi_m: float, px_per_m: float, rng: np.random.Generator
) -> FacadeTexture:
    """Paint ``building`` from depth ``d_lo_m`` on and up to ``z_hi_m`` at ``px_per_m``."""
    tex_w = max(2, math.ceil((building.d1_m - d_lo_m) * px_per_m))
    tex_h = max(2, math.ceil(z_hi_m * px_per_m))
    painter = _Painter(tex_w, tex_h, d_lo_m, z_hi_m, px_per_m)
    mottle = f32(
        cv2.resize(
            rng.normal(1.0, 0.05, (8, 8)).astype(np.float32), (tex_w, tex_h), interpolation=cv2.INTER_CUBIC
        )
    )
    painter.colour[:] = np.clip(np.array(building.wall_bgr, np.float32) * mottle[:, :, None], 0, 255).astype(
        np.uint8
    )
    painter.rect(d_lo_m, 0.0, building.d1_m, 0.45, (90, 95, 100))  # plinth
    floor_line = 3.3
    while floor_line < building.height_m - 1.0:
        painter.rect(d_lo_m, floor_line - 0.12, building.d1_m, floor_line, (215, 220, 222))
        floor_line += 2.9
    painter.rect(
        d_lo_m, building.height_m - 0.45, building.d1_m, building.height_m, (180, 185, 190)
    )  # cornice
    painter.rect(building.d0_m, 0.0, building.d0_m + 0.12, building.height_m, (120, 125, 130))  # party wall
    for opening in building.openings:
        _paint_opening(painter, opening, rng)
    if building.sign is not None:
        _paint_sign(painter, building.sign)
    mix = haze((d_lo_m + building.d1_m) / 2)
    colour = (painter.colour.astype(np.float32) * (1 - mix) + HAZE_BGR * mix).astype(np.uint8)
    return FacadeTexture(colour, painter.lit, painter.glass, d_lo_m, z_hi_m, px_per_m)


def _paint_opening(painter: _Painter, opening: Opening, rng: np.random.Generator) -> None:
    d0, d1, z0, z1 = opening.d0_m, opening.d1_m, opening.z0_m, opening.z1_m
    frame_bgr = (235, 238, 240) if opening.kind != "shop" else (40, 60, 30)
    if opening.kind in ("window", "tv_window", "person_window"):
        painter.rect(d0 - 0.1, z0 - 0.1, d1 + 0.1, z0, (200, 205, 210))  # sill
    painter.rect(d0, z0, d1, z1, frame_bgr)
    g0, g1, h0, h1 = d0 + GLASS_INSET_M, d1 - GLASS_INSET_M, z0 + GLASS_INSET_M, z1 - GLASS_INSET_M
    if opening.kind == "door":
        painter.rect(
            d0 + 0.05, z0, d1 - 0.05, z1 - 0.05, (40, 50, 110) if rng.random() < 0.5 else (60, 60, 60)
        )
        g0, g1, h0, h1 = d0 + 0.2, d1 - 0.2, z0 + 1.1, z1 - 0.25
    (x0, y0), (x1, y1) = painter.px(g0, h1), painter.px(g1, h0)
    w, h = max(1, x1 - x0), max(1, y1 - y0)
    if opening.kind == "shop":
        content = interiors.shop_display(w, h, rng)
    elif opening.kind == "door":
        content = interiors.hallway(w, h, rng)
    elif opening.kind == "tv_window":
        content = interiors.tv_room(w, h, rng, TV_SCREEN)
    else:
        content = interiors.curtained_room(w, h, rng)
    painter.paste(x0, y0, content, lit_share=0.85, private=True)
    if opening.kind == "shop":  # the shop door's frame inside the window
        painter.rect(d1 - 1.3, z0, d1 - 1.22, z1, frame_bgr)
    elif opening.kind != "door" and d1 - d0 > 1.2:
        mid = (d0 + d1) / 2
        painter.rect(mid - 0.03, z0, mid + 0.03, z1, frame_bgr)  # mullion


def _paint_sign(painter: _Painter, text: str) -> None:
    """The shop's name board above its window; lit at night."""
    (x0, y0), (x1, y1) = painter.px(SHOP.d0_m, SHOP.z1_m + 0.7), painter.px(SHOP.d1_m, SHOP.z1_m + 0.1)
    w, h = x1 - x0, y1 - y0
    if w < 4 or h < 3:
        return
    board = Image.new("RGB", (w, h), (30, 60, 20))
    font = bold_condensed(max(4, int(h * 0.8)))
    draw = ImageDraw.Draw(board)
    length = draw.textlength(text, font=font)
    draw.text(((w - length) / 2, h * 0.05), text, fill=(120, 220, 250), font=font)
    sign = np.ascontiguousarray(np.asarray(board, np.uint8)[:, :, ::-1])
    painter.paste(x0, y0, sign, lit_share=1.0, private=False)
