"""Licence plates: grammatical texts and an image renderer (also meant for ANPR training data).

Every plate is drawn on the EU 520 x 110 mm layout:

- Belgium ``be_current``: red characters on white, blue EU band with "B"; ``be_old``: red on white,
  no band.
- The Netherlands ``nl``: black on yellow, EU band "NL".
- France ``fr``: black on white, EU band "F", blue regional strip on the right (region logo and
  département number).
- Germany ``de``: black on white, EU band "D", the round inspection and state stickers between the
  district code and the letters.

The typeface is DejaVu Sans Condensed Bold (see ``fonts``), which only *approximates* the real plate
fonts (FE-Schrift, Kenteken, the Belgian and French administrative fonts): layout, colours and
proportions are right, individual glyph shapes are not. A reader trained only on these plates should be
checked against real photographs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageChops, ImageDraw

from edge.capture.synthetic.fonts import Font, bold_condensed
from edge.capture.synthetic.imaging import U8, f32, u8
from edge.capture.synthetic.plate_text import PLATE_FORMATS, normalise, random_plate
from edge.types import Pixels

__all__ = ["PLATE_FORMATS", "PLATE_HEIGHT_M", "PLATE_WIDTH_M", "normalise", "random_plate", "render_plate"]

PLATE_WIDTH_M = 0.52
PLATE_HEIGHT_M = 0.11
_ASPECT = PLATE_WIDTH_M / PLATE_HEIGHT_M
_MIN_RENDER_PX = 110  # below this, draw at 1 px/mm and shrink: glyphs stay well formed

RGB = tuple[int, int, int]
_WHITE: RGB = (246, 246, 242)
_YELLOW: RGB = (252, 196, 22)
_BE_RED: RGB = (165, 20, 38)
_BLACK: RGB = (22, 22, 24)
_EU_BLUE: RGB = (10, 55, 150)
_STAR_YELLOW: RGB = (255, 205, 0)
_FR_DEPARTMENTS = ("75", "59", "13", "69", "33", "67", "62", "06", "44", "31", "92", "93", "02", "08")
_REGION_COLOURS: tuple[RGB, ...] = (
    (200, 30, 40),
    (30, 120, 60),
    (240, 180, 0),
    (120, 40, 140),
    (0, 140, 200),
)
_HU_STICKER_COLOURS: tuple[RGB, ...] = ((230, 110, 160), (60, 170, 80), (240, 140, 40), (70, 120, 210))

TextMask = tuple[U8, int]
"""Coverage of a line of text and how many of its rows the capitals take."""


@dataclass(frozen=True, slots=True)
class _Style:
    background: RGB
    ink: RGB
    border: RGB
    eu_code: str | None
    regional_strip: bool = False


_STYLES = {
    "be_current": _Style(_WHITE, _BE_RED, _BE_RED, "B"),
    "be_old": _Style(_WHITE, _BE_RED, _BE_RED, None),
    "nl": _Style(_YELLOW, _BLACK, _BLACK, "NL"),
    "fr": _Style(_WHITE, _BLACK, _BLACK, "F", regional_strip=True),
    "de": _Style(_WHITE, _BLACK, _BLACK, "D"),
}


def render_plate(formatted: str, plate_format: str, height_px: int, rng: np.random.Generator) -> Pixels:
    """Draw ``formatted`` as a ``plate_format`` plate, ``height_px`` high (width follows the 520:110 ratio).

    ``rng`` adds the small variations of real plates (tint, wear, grime) so that a training set made
    from these images is not pixel-identical per format. Returns a C-contiguous BGR image.
    """
    style = _STYLES.get(plate_format)
    if style is None:
        raise ValueError(f"unknown plate format {plate_format!r}; known: {', '.join(_STYLES)}")
    if height_px < 1:
        raise ValueError("height_px must be at least 1")
    draw_h = max(height_px, _MIN_RENDER_PX)
    px_per_mm = draw_h / 110.0
    width = round(draw_h * _ASPECT)
    tint = int(rng.integers(-6, 4))
    r, g, b = (_clip8(c + tint) for c in style.background)
    img = Image.new("RGB", (width, draw_h), (r, g, b))
    draw = ImageDraw.Draw(img)

    def mm(value: float) -> int:
        return round(value * px_per_mm)

    draw.rounded_rectangle(
        (mm(2), mm(2), width - 1 - mm(2), draw_h - 1 - mm(2)),
        radius=mm(6),
        outline=style.border,
        width=max(1, mm(1.6)),
    )
    left_mm, right_mm = 9.0, 507.0
    if style.eu_code is not None:
        _draw_eu_band(img, style.eu_code, px_per_mm)
        left_mm = 52.0
    if style.regional_strip:
        _draw_regional_strip(img, px_per_mm, rng)
        right_mm = 466.0
    box = (mm(left_mm), mm(19), mm(right_mm), mm(91))
    if plate_format == "de":
        _draw_german_text(img, formatted, box, style.ink, px_per_mm, rng)
    else:
        _paste_text(img, _text_mask(formatted, box[3] - box[1]), box, style.ink)
    pixels = _weather(np.ascontiguousarray(np.asarray(img, dtype=np.uint8)[:, :, ::-1]), rng)
    if draw_h != height_px:
        pixels = u8(cv2.resize(pixels, (round(height_px * _ASPECT), height_px), interpolation=cv2.INTER_AREA))
    return np.ascontiguousarray(pixels)


def _clip8(value: int) -> int:
    return min(max(value, 0), 255)


def _draw_eu_band(img: Image.Image, code: str, px_per_mm: float) -> None:
    draw = ImageDraw.Draw(img)
    height = img.height

    def mm(value: float) -> float:
        return value * px_per_mm

    draw.rounded_rectangle((mm(3.5), mm(3.5), mm(46), height - 1 - mm(3.5)), radius=mm(4), fill=_EU_BLUE)
    cx, cy, ring = mm(24.7), mm(33), mm(11.5)
    for k in range(12):
        angle = 2 * math.pi * k / 12
        _star(draw, cx + ring * math.cos(angle), cy + ring * math.sin(angle), mm(2.6))
    cap = mm(24 if len(code) == 1 else 19)
    band = (round(mm(5)), round(mm(60)), round(mm(44.5)), round(mm(60) + cap))
    _paste_text(img, _text_mask(code, round(cap), tracking_em=0.02), band, (255, 255, 255))


def _star(draw: ImageDraw.ImageDraw, x: float, y: float, radius: float) -> None:
    points = []
    for k in range(10):
        r = radius if k % 2 == 0 else radius * 0.42
        angle = -math.pi / 2 + k * math.pi / 5
        points.append((x + r * math.cos(angle), y + r * math.sin(angle)))
    draw.polygon(points, fill=_STAR_YELLOW)


def _draw_regional_strip(img: Image.Image, px_per_mm: float, rng: np.random.Generator) -> None:
    draw = ImageDraw.Draw(img)
    width, height = img.size

    def mm(value: float) -> float:
        return value * px_per_mm

    draw.rounded_rectangle(
        (width - mm(48), mm(3.5), width - mm(3.5), height - mm(3.5)), radius=mm(4), fill=_EU_BLUE
    )
    logo = _REGION_COLOURS[int(rng.integers(0, len(_REGION_COLOURS)))]
    draw.rounded_rectangle(
        (width - mm(40), mm(12), width - mm(11), mm(50)), radius=mm(3), fill=(250, 250, 250)
    )
    draw.ellipse((width - mm(34), mm(20), width - mm(17), mm(42)), fill=logo)
    department = _FR_DEPARTMENTS[int(rng.integers(0, len(_FR_DEPARTMENTS)))]
    cap = mm(22)
    box = (round(width - mm(44)), round(mm(62)), round(width - mm(8)), round(mm(62) + cap))
    _paste_text(img, _text_mask(department, round(cap)), box, (255, 255, 255))


_ON_BASELINE = frozenset("J")
"""Letters DejaVu draws with a descender that plate fonts do not have: drawn squeezed onto the baseline."""


def _draw_on_baseline(canvas: Image.Image, ch: str, x: float, font: Font, cap_bottom: int) -> None:
    """Draw ``ch`` at ``x`` with its ink squeezed vertically to end on the baseline (``cap_bottom``): on a
    plate J sits on the baseline like every other character; DejaVu's hangs below it."""
    left, top, right, bottom = (int(v) for v in font.getbbox(ch))
    if bottom <= cap_bottom or right <= left:
        ImageDraw.Draw(canvas).text((x, 0), ch, fill=255, font=font)
        return
    glyph = Image.new("L", (right - left, bottom - top), 0)
    ImageDraw.Draw(glyph).text((-left, -top), ch, fill=255, font=font)
    squeezed = glyph.resize((right - left, cap_bottom - top), Image.Resampling.LANCZOS)
    origin = (round(x) + left, top)
    region = canvas.crop((*origin, origin[0] + squeezed.width, origin[1] + squeezed.height))
    canvas.paste(ImageChops.lighter(region, squeezed), origin)


def _text_mask(text: str, cap_px: int, tracking_em: float = 0.07) -> TextMask:
    """Coverage (0..255) of ``text`` whose capitals are ``cap_px`` high, and the rows the capitals take.

    The mask starts at the top of the capitals and keeps a little room below the baseline for the tail
    of a Q; it is cropped left and right to the ink.
    """
    probe = bold_condensed(100)
    probe_top, probe_bottom = (int(v) for v in probe.getbbox("H")[1::2])
    size = max(4, round(cap_px * 100 / max(probe_bottom - probe_top, 1)))
    font = bold_condensed(size)
    cap_top, cap_bottom = (int(v) for v in font.getbbox("H")[1::2])
    advance = [font.getlength(ch) + (tracking_em * size if ch != " " else 0.0) for ch in text]
    width = max(1, math.ceil(sum(advance)))
    canvas = Image.new("L", (width + 2, cap_bottom + size // 4), 0)
    draw = ImageDraw.Draw(canvas)
    x = 1.0
    for ch, step in zip(text, advance, strict=True):
        if ch in _ON_BASELINE:
            _draw_on_baseline(canvas, ch, x, font, cap_bottom)
        else:
            draw.text((x, 0), ch, fill=255, font=font)
        x += step
    mask = np.asarray(canvas, dtype=np.uint8)[cap_top : cap_bottom + size // 8]
    cols = np.flatnonzero(mask.max(axis=0))
    if cols.size:
        mask = mask[:, cols[0] : cols[-1] + 1]
    return np.ascontiguousarray(mask), cap_bottom - cap_top


def _paste_text(img: Image.Image, text: TextMask, box: tuple[int, int, int, int], ink: RGB) -> None:
    """Centre ``text`` in ``box`` (capitals filling its height), condensing it when it is too wide."""
    mask, cap_rows = text
    x0, y0, x1, y1 = box
    box_w, box_h = max(1, x1 - x0), max(1, y1 - y0)
    h, w = mask.shape
    scale_y = box_h / max(cap_rows, 1)
    new_w, new_h = min(w, box_w), max(1, round(h * scale_y))
    if (new_w, new_h) != (w, h):
        mask = u8(cv2.resize(mask, (new_w, new_h), interpolation=cv2.INTER_AREA))
    left = x0 + (box_w - new_w) // 2
    img.paste(Image.new("RGB", (new_w, new_h), ink), (left, y0), Image.fromarray(mask, mode="L"))


def _draw_german_text(
    img: Image.Image,
    formatted: str,
    box: tuple[int, int, int, int],
    ink: RGB,
    px_per_mm: float,
    rng: np.random.Generator,
) -> None:
    """District code, the two stickers, then letters and digits, condensed together if too wide."""
    district, rest = formatted.split("-", 1)
    letters, digits = rest.split(" ", 1)
    cap = box[3] - box[1]
    parts = [_text_mask(district, cap), _text_mask(letters, cap), _text_mask(digits, cap)]
    sticker_gap, word_gap = round(40 * px_per_mm), round(24 * px_per_mm)
    natural = sum(p[0].shape[1] for p in parts) + sticker_gap + word_gap
    squeeze = min(1.0, (box[2] - box[0]) / natural)
    x = box[0] + round(((box[2] - box[0]) - natural * squeeze) / 2)
    widths = [max(1, round(p[0].shape[1] * squeeze)) for p in parts]
    gaps = (round(sticker_gap * squeeze), round(word_gap * squeeze), 0)
    for i, (part, part_w, gap) in enumerate(zip(parts, widths, gaps, strict=True)):
        _paste_text(img, part, (x, box[1], x + part_w, box[3]), ink)
        x += part_w
        if i == 0:
            _draw_stickers(img, x + gap / 2, box[1], box[3], min(13 * px_per_mm, gap * 0.33), rng)
        x += gap


def _draw_stickers(
    img: Image.Image, cx: float, top: int, bottom: int, radius: float, rng: np.random.Generator
) -> None:
    """The round inspection sticker (colour by year) above the state seal."""
    draw = ImageDraw.Draw(img)
    upper_y, lower_y = top + (bottom - top) * 0.27, top + (bottom - top) * 0.75
    hu = _HU_STICKER_COLOURS[int(rng.integers(0, len(_HU_STICKER_COLOURS)))]
    draw.ellipse(
        (cx - radius, upper_y - radius, cx + radius, upper_y + radius), fill=hu, outline=(40, 40, 40)
    )
    inner = radius * 0.35
    draw.ellipse((cx - inner, upper_y - inner, cx + inner, upper_y + inner), fill=(250, 250, 250))
    draw.ellipse(
        (cx - radius, lower_y - radius, cx + radius, lower_y + radius),
        fill=(215, 215, 210),
        outline=(90, 90, 90),
    )
    draw.rectangle(
        (cx - radius * 0.4, lower_y - radius * 0.5, cx + radius * 0.4, lower_y + radius * 0.45),
        fill=(180, 40, 40),
    )


def _weather(pixels: U8, rng: np.random.Generator) -> U8:
    """Grime towards the edges and a faint blotch or two: plates on the road are never factory-clean."""
    h, w = pixels.shape[:2]
    ys = np.linspace(-1.0, 1.0, h, dtype=np.float32)[:, None]
    xs = np.linspace(-1.0, 1.0, w, dtype=np.float32)[None, :]
    grime = np.float32(rng.uniform(0.0, 0.10))
    shade = 1.0 - grime * (0.5 * ys**2 + 0.5 * xs**4)
    for _ in range(int(rng.integers(0, 3))):
        bx, by, br = (np.float32(rng.uniform(lo, hi)) for lo, hi in ((-0.9, 0.9), (-0.8, 0.8), (0.08, 0.25)))
        blotch = np.exp(-((xs - bx) ** 2 + ((ys - by) * 0.25) ** 2) / (2 * br * br))
        shade = shade - np.float32(0.08) * blotch
    shade3 = f32(cv2.merge([shade, shade, shade]))
    return u8(cv2.multiply(pixels, shade3, dtype=cv2.CV_8U))
