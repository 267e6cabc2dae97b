"""Training plates: every format the node must read, drawn in many fonts, states and lights.

Nothing here comes from a photograph. Plates are drawn with fonts from Debian packages (see ``FONT_FILES``),
in the layouts of the formats in ``FORMATS``, then worn, framed, warped, blurred, shrunk and compressed the
way a street camera sees them, and cut out as a detector would (loose, tight, off-centre).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from edge.capture.synthetic.plates import PLATE_FORMATS, random_plate, render_plate

U8 = np.ndarray
Rng = np.random.Generator

FONT_DIRS = (
    "/usr/share/fonts/truetype/dejavu",
    "/usr/share/fonts/truetype/roboto/unhinted",
    "/usr/share/fonts/truetype/roboto/unhinted/RobotoTTF",
    "/usr/share/fonts/opentype/urw-base35",
    "/usr/share/fonts/truetype/liberation2",
    "/usr/share/fonts/truetype/freefont",
    "/usr/share/fonts/opentype/b612",
    "/usr/share/fonts/truetype/noto",
)
FONT_FILES = (
    "DejaVuSansCondensed-Bold.ttf",  # fonts-dejavu-core
    "DejaVuSans-Bold.ttf",
    "DejaVuSansMono-Bold.ttf",
    "RobotoCondensed-Bold.ttf",  # fonts-roboto-unhinted
    "RobotoCondensed-Regular.ttf",
    "Roboto-Bold.ttf",
    "Roboto-Medium.ttf",
    "NimbusSansNarrow-Bold.otf",  # fonts-urw-base35
    "NimbusSansNarrow-Regular.otf",
    "NimbusSans-Bold.otf",
    "LiberationSans-Bold.ttf",  # fonts-liberation2
    "LiberationMono-Bold.ttf",
    "FreeSansBold.ttf",  # fonts-freefont-ttf
    "B612-Bold.otf",  # fonts-b612
    "NotoSans-Bold.ttf",  # fonts-noto-core
)
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
DIGITS = "0123456789"
ALPHABET = DIGITS + LETTERS
CAMERA_FORMATS = tuple(sorted(PLATE_FORMATS))
CAMERA_PLATE_SHARE = 0.1
"""Share of reader samples drawn by the synthetic street camera's own renderer (``edge.capture.synthetic``):
the plates the demo, the tests and the benchmarks show, regional strip and stickers included."""
DIN_M_DIAGONAL = 0.6
"""Width of a DIN-like M's diagonals, relative to its stems."""
BE_NARROW_O_SHARE = 0.7
"""Belgian plates whose letter O is drawn with the zero's glyph, as the real Belgian plate font has it."""


@functools.cache
def font_paths() -> tuple[str, ...]:
    found = []
    for name in FONT_FILES:
        for folder in FONT_DIRS:
            path = Path(folder) / name
            if path.is_file():
                found.append(str(path))
                break
    if not found:
        raise RuntimeError("no plate fonts found: run scripts/ensure-system-deps.sh --train")
    return tuple(found)


@functools.lru_cache(maxsize=2048)
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


# --- texts -------------------------------------------------------------------------------------------


def _pick(rng: Rng, chars: str, n: int) -> str:
    return "".join(chars[int(i)] for i in rng.integers(0, len(chars), n))


def _nz(rng: Rng, n: int) -> str:
    s = _pick(rng, DIGITS, n)
    return s if s.strip("0") else "1" + s[1:]


@dataclass(frozen=True)
class Layout:
    """How a plate of one format looks: the groups of its printed text and its colours."""

    groups: tuple[str, ...]
    """Printed groups, left to right (top row first for two-row plates)."""
    country: str
    band: str | None
    """EU band country code, None for no band."""
    ink: tuple[int, int, int]
    paper: tuple[int, int, int]
    rows: int = 1
    separator: str = "-"
    emblem: str | None = None
    """Drawn between the first group and the rest: ``shield`` (Slovak coat of arms), ``stickers``
    (German inspection and state seals)."""
    sticker: str | None = None
    """Printed small in two lines at the right end: the expiry month and year of Belgian temporary
    plates (``08/13``)."""
    band_style: str = "eu"
    """``eu``: the blue band with the stars; ``white``: a small coat of arms over the code on the plate's
    own paper (older Slovak and Czech plates)."""


WHITE = (244, 244, 238)
YELLOW = (250, 200, 30)
BLACK = (25, 25, 28)
BE_RED = (170, 25, 40)


def _be_current(rng: Rng) -> Layout:
    return Layout((_pick(rng, "123456789", 1), _pick(rng, LETTERS, 3), _nz(rng, 3)), "BE", "B", BE_RED, WHITE)


def _be_old(rng: Rng) -> Layout:
    a, b = _pick(rng, LETTERS, 3), _nz(rng, 3)
    groups = (a, b) if rng.random() < 0.6 else (b, a)
    return Layout(groups, "BE", None if rng.random() < 0.7 else "B", BE_RED, WHITE)


def _be_special(rng: Rng) -> Layout:
    kind = rng.integers(0, 5)
    if kind == 0:  # diplomatic
        groups: tuple[str, ...] = ("CD", _pick(rng, LETTERS, 2) + _nz(rng, 3))
    elif kind == 1:  # temporary / transit
        groups = ("9", _nz(rng, 3), _pick(rng, LETTERS, 3))
    elif kind == 2:  # oldtimer
        groups = ("O", _pick(rng, LETTERS, 3), _nz(rng, 2))
    elif kind == 3:  # trailer
        groups = ("Q", _pick(rng, LETTERS, 3), _nz(rng, 3))
    else:  # vanity
        n = int(rng.integers(2, 8))
        groups = (_pick(rng, ALPHABET, n),)
    return Layout(groups, "BE", "B", BE_RED, WHITE)


def _be_temporary(rng: Rng) -> Layout:
    """White on red (orange-red on older ones), a digit and six digits, expiry month/year at the right."""
    paper = (190, 30, 40) if rng.random() < 0.6 else (225, 75, 35)
    expiry = f"{int(rng.integers(1, 13)):02d}/{int(rng.integers(10, 30)):02d}"
    return Layout(("1", _pick(rng, DIGITS, 6)), "BE", "B", WHITE, paper, sticker=expiry)


def _be_two_row(rng: Rng) -> Layout:
    if rng.random() < 0.5:
        groups = (_pick(rng, "123456789", 1) + "-" + _pick(rng, LETTERS, 3), _nz(rng, 3))
    else:
        groups = (_pick(rng, LETTERS, 3), _nz(rng, 3))
    return Layout(groups, "BE", "B" if rng.random() < 0.6 else None, BE_RED, WHITE, rows=2)


def _nl(rng: Rng) -> Layout:
    nl = "BDFGHJKLMNPRSTVXZ"
    code = ("XX-99-99", "99-XX-99", "XX-999-X", "X-999-XX", "99-XXX-9", "9-XXX-99", "XX-99-XX", "XXX-99-X")[
        int(rng.integers(0, 8))
    ]
    groups = tuple(
        "".join(_pick(rng, nl, 1) if c == "X" else _pick(rng, DIGITS, 1) for c in g) for g in code.split("-")
    )
    return Layout(groups, "NL", "NL", BLACK, YELLOW)


def _fr(rng: Rng) -> Layout:
    fr = "ABCDEFGHJKLMNPQRSTVWXYZ"
    return Layout((_pick(rng, fr, 2), _nz(rng, 3), _pick(rng, fr, 2)), "FR", "F", BLACK, WHITE)


def _de(rng: Rng) -> Layout:
    district = _pick(rng, LETTERS, int(rng.integers(1, 4)))
    letters = _pick(rng, LETTERS, int(rng.integers(1, 3)))
    n = max(1, min(4, 8 - len(district) - len(letters)))
    digits = _pick(rng, "123456789", 1) + _pick(rng, DIGITS, int(rng.integers(0, n)))
    emblem = "stickers" if rng.random() < 0.85 else None
    return Layout((district, letters + " " + digits), "DE", "D", BLACK, WHITE, separator=" ", emblem=emblem)


def _sk(rng: Rng) -> Layout:
    return Layout(
        (_pick(rng, LETTERS, 2), _nz(rng, 3) + _pick(rng, LETTERS, 2)),
        "SK",
        "SK",
        BLACK,
        WHITE,
        separator=" " if rng.random() < 0.5 else "-",
        emblem="shield" if rng.random() < 0.85 else None,
        band_style="white" if rng.random() < 0.6 else "eu",
    )


def _cz(rng: Rng) -> Layout:
    first = _pick(rng, "123456789", 1) + _pick(rng, LETTERS, 1) + _pick(rng, ALPHABET, 1)
    band_style = "white" if rng.random() < 0.3 else "eu"
    return Layout(
        (first, _pick(rng, DIGITS, 4)), "CZ", "CZ", BLACK, WHITE, separator=" ", band_style=band_style
    )


def _pl(rng: Rng) -> Layout:
    first = _pick(rng, LETTERS, int(rng.integers(2, 4)))
    return Layout(
        (first, _pick(rng, ALPHABET, int(rng.integers(4, 6)))), "PL", "PL", BLACK, WHITE, separator=" "
    )


def _gb(rng: Rng) -> Layout:
    paper = YELLOW if rng.random() < 0.5 else WHITE
    if rng.random() < 0.7:
        groups: tuple[str, ...] = (_pick(rng, LETTERS, 2) + _pick(rng, DIGITS, 2), _pick(rng, LETTERS, 3))
    else:
        groups = (_pick(rng, LETTERS, 1) + _nz(rng, int(rng.integers(1, 4))), _pick(rng, LETTERS, 3))
    return Layout(groups, "GB", None if rng.random() < 0.6 else "GB", BLACK, paper, separator=" ")


def _generic(rng: Rng) -> Layout:
    n = int(rng.integers(3, 9))
    text = _pick(rng, ALPHABET, n)
    cut = int(rng.integers(1, n)) if n > 3 and rng.random() < 0.7 else n
    groups = (text[:cut], text[cut:]) if cut < n else (text,)
    band = None if rng.random() < 0.4 else _pick(rng, LETTERS, int(rng.integers(1, 3)))
    ink = BE_RED if rng.random() < 0.15 else BLACK
    paper = YELLOW if rng.random() < 0.15 else WHITE
    return Layout(groups, "EU", band, ink, paper, separator=" " if rng.random() < 0.5 else "-")


FORMATS: dict[str, tuple[float, Callable[[Rng], Layout]]] = {
    "be_current": (0.20, _be_current),
    "be_old": (0.07, _be_old),
    "be_special": (0.04, _be_special),
    "be_two_row": (0.05, _be_two_row),
    "be_temporary": (0.02, _be_temporary),
    "nl": (0.08, _nl),
    "fr": (0.08, _fr),
    "de": (0.08, _de),
    "sk": (0.10, _sk),
    "cz": (0.07, _cz),
    "pl": (0.04, _pl),
    "gb": (0.04, _gb),
    "generic": (0.15, _generic),
}


def random_layout(rng: Rng) -> Layout:
    names = list(FORMATS)
    weights = np.array([FORMATS[n][0] for n in names])
    name = names[int(rng.choice(len(names), p=weights / weights.sum()))]
    return FORMATS[name][1](rng)


def label_of(layout: Layout) -> str:
    return "".join(c for c in "".join(layout.groups) if c.isalnum())


# --- drawing -----------------------------------------------------------------------------------------


def _jitter(colour: tuple[int, int, int], rng: Rng, amount: int) -> tuple[int, int, int]:
    r, g, b = (int(np.clip(c + rng.integers(-amount, amount + 1), 0, 255)) for c in colour)
    return (r, g, b)


def _text_image(
    text: str,
    font_path: str,
    cap_px: int,
    tracking: float,
    stroke: int,
    din_m: float = 0.0,
    o_as_zero: bool = False,
) -> np.ndarray:
    """Coverage mask of ``text``, cropped to the capitals' height, tracking in em. ``din_m`` > 0 draws M
    with straight sides and a V that ends that far down (0..1 of the cap height), as the DIN-like plate
    fonts of Slovakia, Czechia or Germany have it; no Debian font does, and readers trained without it
    read those M's as H. ``o_as_zero`` draws the letter O with the zero's glyph, as Belgian plates do (a
    narrow, straight-sided O that readers trained on round ones read as D). Glyphs are drawn once per font,
    size and stroke (``_glyph``) and composed here:
    generating the training sets is most of ``make models``' time."""
    size = max(6, int(cap_px * 1.42))
    top, bottom = _cap_rows(font_path, size)
    depth = round(din_m * 20) / 20
    drawn = text.replace("O", "0") if o_as_zero else text  # advances: the narrow O is as wide as the zero
    adv = [_advance(font_path, size, c) + (tracking * size if c != " " else size * 0.25) for c in drawn]
    pad = size // 2
    canvas = np.zeros((bottom + size // 2, int(sum(adv)) + size + 2 * pad), np.uint8)
    x = size * 0.1 + pad
    for c, a in zip(text, adv, strict=True):
        if c != " ":
            if o_as_zero and c == "O":
                glyph = _narrow_o(font_path, size, stroke)
            else:
                glyph = _glyph(font_path, size, c, stroke, depth if c == "M" else 0.0)
            x0 = round(x) - pad
            region = canvas[: glyph.shape[0], x0 : x0 + glyph.shape[1]]
            np.maximum(region, glyph[: region.shape[0], : region.shape[1]], out=region)
        x += a
    mask = canvas[max(0, top - stroke) : bottom + stroke + 1]
    cols = np.flatnonzero(mask.max(axis=0) > 0)
    if cols.size:
        mask = mask[:, cols[0] : cols[-1] + 1]
    return np.ascontiguousarray(mask)


@functools.lru_cache(maxsize=1024)
def _cap_rows(font_path: str, size: int) -> tuple[int, int]:
    top, bottom = (int(v) for v in _font(font_path, size).getbbox("H")[1::2])
    return top, bottom


@functools.lru_cache(maxsize=32768)
def _advance(font_path: str, size: int, char: str) -> float:
    return float(_font(font_path, size).getlength(char))


@functools.lru_cache(maxsize=32768)
def _glyph(font_path: str, size: int, char: str, stroke: int, din_m: float) -> np.ndarray:
    """One glyph's coverage, drawn ``size // 2`` pixels in from the left (room for negative bearings)."""
    font = _font(font_path, size)
    top, bottom = _cap_rows(font_path, size)
    pad = size // 2
    img = Image.new("L", (int(font.getlength(char)) + 2 * pad + 2 * stroke, bottom + size // 2), 0)
    draw = ImageDraw.Draw(img)
    if din_m > 0:
        _din_m(draw, font, pad, top, bottom, din_m, stroke)
    else:
        draw.text((pad, 0), char, fill=255, font=font, stroke_width=stroke, stroke_fill=255)
    glyph = np.asarray(img)
    if char in LETTERS + DIGITS:
        glyph = _onto_baseline(glyph, bottom + stroke)
    glyph.flags.writeable = False  # shared by every later use of the cache
    return glyph


@functools.lru_cache(maxsize=4096)
def _narrow_o(font_path: str, size: int, stroke: int) -> np.ndarray:
    """The font's O squeezed to the ink width of its zero (a dotted or slashed zero is no O to copy)."""
    o = _glyph(font_path, size, "O", stroke, 0.0)
    zero = _glyph(font_path, size, "0", stroke, 0.0)
    o_cols = np.flatnonzero(o.max(axis=0) > 0)
    z_cols = np.flatnonzero(zero.max(axis=0) > 0)
    out = np.zeros_like(zero)
    if o_cols.size and z_cols.size:
        z0, z1 = int(z_cols[0]), int(z_cols[-1]) + 1
        squeezed = cv2.resize(
            o[:, o_cols[0] : o_cols[-1] + 1], (z1 - z0, o.shape[0]), interpolation=cv2.INTER_AREA
        )
        rows = min(out.shape[0], squeezed.shape[0])
        out[:rows, z0:z1] = squeezed[:rows]
    out.flags.writeable = False
    return out


def _onto_baseline(glyph: np.ndarray, baseline: int) -> np.ndarray:
    """A glyph whose ink hangs below the baseline (DejaVu's J, some Qs) squeezed to end on it, as plate
    fonts draw every character. Cropping at the baseline instead (as ``_text_image`` does) would leave
    DejaVu's J a bare stem: an I."""
    rows = np.flatnonzero(glyph.max(axis=1) > 0)
    if rows.size == 0 or rows[-1] <= baseline + 1:
        return glyph
    top, bottom = int(rows[0]), int(rows[-1]) + 1
    out = np.zeros_like(glyph)
    out[top : baseline + 1] = cv2.resize(
        glyph[top:bottom], (glyph.shape[1], baseline + 1 - top), interpolation=cv2.INTER_AREA
    )
    return out


def _din_m(
    draw: ImageDraw.ImageDraw,
    font: ImageFont.FreeTypeFont,
    x: float,
    top: int,
    bottom: int,
    depth: float,
    stroke: int,
) -> None:
    left, right = _ink_columns(font, "M")
    i_left, i_right = _ink_columns(font, "I")
    left, right = left - stroke, right + stroke
    w = max(1, i_right - i_left + 2 * stroke)  # the stem: a sans-serif I is nothing else
    # The diagonals are thinner than the stems (about 0.6 of them, as in DIN 1451 and the plate fonts
    # derived from it): drawn as wide as the stems, a narrow M fills in to an arch and reads as H.
    d = max(1, round(w * DIN_M_DIAGONAL))
    x0, x1 = x + left + w / 2, x + right - w / 2
    mid = (x0 + x1) / 2, top + depth * (bottom - top)
    draw.rectangle([x + left, top, x + left + w - 1, bottom], fill=255)
    draw.rectangle([x + right - w, top, x + right - 1, bottom], fill=255)
    draw.line([(x0, top + d / 2), mid, (x1, top + d / 2)], fill=255, width=d, joint="curve")


def _ink_columns(font: ImageFont.FreeTypeFont, char: str) -> tuple[int, int]:
    """First and one-past-last column a glyph inks, from the pen position (``getbbox`` counts the side
    bearing in, and a monospaced I's serifs are no stem)."""
    size = int(font.size)
    img = Image.new("L", (2 * size, 2 * size), 0)
    ImageDraw.Draw(img).text((0, 0), char, fill=255, font=font)
    ink = np.asarray(img)
    if char == "I":
        rows = np.flatnonzero(ink.max(axis=1) > 127)
        if rows.size:
            middle = int(rows[rows.size // 2])
            ink = ink[middle : middle + 1]  # the stem's own width, not the serifs'
    cols = np.flatnonzero(ink.max(axis=0) > 127)
    return (int(cols[0]), int(cols[-1]) + 1) if cols.size else (0, size // 2)


def _shield(draw: ImageDraw.ImageDraw, cx: float, cy: float, size: float, rng: Rng) -> None:
    """A small coat of arms: red field, white double cross, blue hills (BGR colours)."""
    w, h = size * 0.8, size
    draw.polygon(
        [
            (cx - w / 2, cy - h / 2),
            (cx + w / 2, cy - h / 2),
            (cx + w / 2, cy + h * 0.1),
            (cx, cy + h / 2),
            (cx - w / 2, cy + h * 0.1),
        ],
        fill=_jitter((40, 30, 200), rng, 25),
        outline=(240, 240, 240),
    )
    draw.rectangle((cx - w * 0.06, cy - h * 0.38, cx + w * 0.06, cy + h * 0.15), fill=(240, 240, 240))
    draw.rectangle((cx - w * 0.25, cy - h * 0.22, cx + w * 0.25, cy - h * 0.14), fill=(240, 240, 240))
    draw.ellipse(
        (cx - w * 0.35, cy + h * 0.05, cx + w * 0.35, cy + h * 0.45), fill=_jitter((160, 70, 20), rng, 25)
    )


def _draw_emblem(canvas: np.ndarray, kind: str, x: float, y0: int, cap: float, rng: Rng) -> None:
    img = Image.fromarray(canvas)
    draw = ImageDraw.Draw(img)
    if kind == "shield":
        _shield(draw, x, y0 + cap * 0.45, cap * rng.uniform(0.45, 0.65), rng)
    else:  # German stickers: the round inspection sticker over the state seal
        r = cap * 0.17
        for cy, colour in (
            (y0 + cap * 0.27, _jitter((160, 110, 230), rng, 60)),
            (y0 + cap * 0.75, (205, 205, 200)),
        ):
            draw.ellipse((x - r, cy - r, x + r, cy + r), fill=colour, outline=(60, 60, 60))
    canvas[:] = np.asarray(img)


def _paste(
    canvas: np.ndarray, mask: np.ndarray, box: tuple[int, int, int, int], ink: tuple[int, int, int]
) -> tuple[float, float]:
    x0, y0, x1, y1 = box
    bw, bh = max(1, x1 - x0), max(1, y1 - y0)
    h, w = mask.shape
    nw = min(bw, max(1, round(w * bh / max(h, 1))))
    m = cv2.resize(mask, (nw, bh), interpolation=cv2.INTER_AREA).astype(np.float32)[..., None] / 255.0
    left = x0 + (bw - nw) // 2
    region = canvas[y0 : y0 + bh, left : left + nw].astype(np.float32)
    m = m[: region.shape[0], : region.shape[1]]
    canvas[y0 : y0 + bh, left : left + nw] = (region * (1 - m) + np.array(ink, np.float32) * m).astype(
        np.uint8
    )
    return float(left), nw / max(w, 1)


def draw_plate(layout: Layout, rng: Rng, height_px: int = 110) -> np.ndarray:  # noqa: PLR0912, PLR0915 - one drawing, top to bottom
    """The flat plate (BGR, uint8), about ``height_px`` high for one row (taller for two rows)."""
    font = font_paths()[int(rng.integers(0, len(font_paths())))]
    ppm = height_px / 110.0  # pixels per mm
    if layout.rows == 1:
        w_mm, h_mm = float(rng.choice([520.0, 520.0, 460.0, 400.0, 340.0])), 110.0
    else:
        w_mm, h_mm = float(rng.choice([280.0, 340.0, 240.0])), float(rng.choice([200.0, 210.0, 180.0]))
    width, height = round(w_mm * ppm), round(h_mm * ppm)
    paper = _jitter(layout.paper, rng, 14)
    ink = _jitter(layout.ink, rng, 25)
    canvas = np.empty((height, width, 3), np.uint8)
    canvas[:] = paper[::-1]
    img = Image.fromarray(canvas)
    draw = ImageDraw.Draw(img)
    if rng.random() < 0.85:
        draw.rounded_rectangle(
            (2 * ppm, 2 * ppm, width - 1 - 2 * ppm, height - 1 - 2 * ppm),
            radius=6 * ppm,
            outline=ink[::-1],
            width=max(1, round(rng.uniform(0.8, 2.5) * ppm)),
        )
    left = 8.0 * ppm
    if layout.band is not None and layout.band_style == "white":
        band_w = 40 * ppm
        _shield(draw, 3 * ppm + band_w / 2, height * 0.32, height * 0.3, rng)
        left = 3 * ppm + band_w + 4 * ppm
    elif layout.band is not None:
        band_w = 44 * ppm
        draw.rounded_rectangle(
            (3 * ppm, 3 * ppm, 3 * ppm + band_w, height - 3 * ppm),
            radius=3 * ppm,
            fill=_jitter((150, 55, 10), rng, 20),
        )
        cx, cy, ring = 3 * ppm + band_w / 2, height * 0.32, min(band_w, height) * 0.24
        for k in range(12):
            a = 2 * math.pi * k / 12
            x, y = cx + ring * math.cos(a), cy + ring * math.sin(a)
            draw.ellipse((x - 1.8 * ppm, y - 1.8 * ppm, x + 1.8 * ppm, y + 1.8 * ppm), fill=(0, 200, 250))
        left = 3 * ppm + band_w + 4 * ppm
    canvas = np.asarray(img).copy()
    band_code = layout.band
    if band_code:
        code_mask = _text_image(band_code, font, max(4, round(20 * ppm)), 0.02, 0)
        code_ink = (250, 250, 250) if layout.band_style == "eu" else (120, 40, 20)
        _paste(
            canvas,
            code_mask,
            (round(4 * ppm), round(height * 0.58), round(46 * ppm), round(height * 0.58 + 20 * ppm)),
            code_ink,
        )
    right = width - 8.0 * ppm
    if layout.country == "FR" and rng.random() < 0.8:
        right = width - 48 * ppm
        canvas[round(3 * ppm) : round(height - 3 * ppm), round(right + 3 * ppm) : round(width - 3 * ppm)] = (
            _jitter((150, 55, 10), rng, 20)
        )
    if layout.sticker is not None:
        right = width - 40 * ppm
        for k, part in enumerate(layout.sticker.split("/")):
            small = _text_image(part, font, max(4, round(height * 0.22)), 0.02, 0)
            top = round(height * (0.2 + 0.34 * k))
            box = (round(right + 4 * ppm), top, round(width - 6 * ppm), top + round(height * 0.22))
            _paste(canvas, small, box, layout.ink[::-1])
    tracking = float(rng.uniform(-0.02, 0.12))
    stroke = int(rng.integers(0, 2)) if height_px >= 60 else 0
    din_m = float(rng.uniform(0.4, 0.75)) if rng.random() < 0.35 else 0.0
    o_as_zero = layout.country == "BE" and rng.random() < BE_NARROW_O_SHARE
    sep = layout.separator
    emblem = layout.emblem if layout.rows == 1 and len(layout.groups) > 1 else None
    if emblem is not None:
        joined = layout.groups[0] + "  " + "".join(layout.groups[1:])
        lines = [joined]
    elif layout.rows == 1:
        if rng.random() < 0.25:
            joined = "".join(layout.groups)
        else:
            seps = [sep if rng.random() < 0.8 else (" " if sep == "-" else "-") for _ in layout.groups[1:]]
            joined = layout.groups[0] + "".join(s + g for s, g in zip(seps, layout.groups[1:], strict=True))
        lines = [joined]
    else:
        lines = list(layout.groups)
    cap_frac = float(rng.uniform(0.55, 0.72)) if layout.rows == 1 else float(rng.uniform(0.30, 0.38))
    cap = cap_frac * height
    gap = (height - cap * len(lines)) / (len(lines) + 1)
    for i, line in enumerate(lines):
        mask = _text_image(line, font, max(6, round(cap)), tracking, stroke, din_m, o_as_zero)
        squeeze = float(rng.uniform(0.75, 1.2))
        mask = cv2.resize(
            mask, (max(1, round(mask.shape[1] * squeeze)), mask.shape[0]), interpolation=cv2.INTER_AREA
        )
        y0 = round(gap + i * (cap + gap))
        y0 += int(rng.integers(-max(1, round(gap * 0.3)), max(1, round(gap * 0.3)) + 1))
        y0 = max(0, min(height - round(cap), y0))
        x_left, scale = _paste(canvas, mask, (round(left), y0, round(right), y0 + round(cap)), ink[::-1])
        if emblem is not None:
            first = _text_image(
                layout.groups[0], font, max(6, round(cap)), tracking, stroke, din_m, o_as_zero
            )
            size = max(6, int(round(cap) * 1.42))
            gap_mid = (first.shape[1] + (tracking * size + 0.25 * size)) * squeeze * scale
            _draw_emblem(canvas, emblem, x_left + gap_mid, y0, cap, rng)
    if rng.random() < 0.4:  # screws
        for sx in (0.25, 0.75):
            x, y, r = round(width * sx), round(height * rng.uniform(0.08, 0.14)), max(1, round(4 * ppm))
            cv2.circle(canvas, (x, y), r, (150, 150, 150), -1)
    if rng.random() < 0.2:  # the lower edge of a dealer frame, with its small print
        strip = round(height * rng.uniform(0.12, 0.2))
        framed = np.full((height + strip, width, 3), _jitter((30, 30, 30), rng, 25), np.uint8)
        framed[:height] = canvas
        small = _text_image(
            _pick(rng, LETTERS + "  ", int(rng.integers(8, 20))), font, max(4, strip // 2), 0.05, 0
        )
        _paste(
            framed,
            small,
            (
                round(width * 0.1),
                height + strip // 4,
                round(width * 0.9),
                height + strip // 4 + max(2, strip // 2),
            ),
            (200, 200, 200),
        )
        canvas = framed
    return canvas


# --- the camera's view -------------------------------------------------------------------------------


def _surround(rng: Rng, h: int, w: int) -> np.ndarray:
    """What is around a plate: car body paint, a bumper, shadows, clutter."""
    base = rng.integers(0, 256, 3)
    bg = np.empty((h, w, 3), np.float32)
    bg[:] = base
    gy = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    bg += (gy * rng.uniform(-60, 60)).astype(np.float32)
    noise = rng.normal(0, rng.uniform(2, 20), (max(1, h // 4), max(1, w // 4), 3)).astype(np.float32)
    bg += cv2.resize(noise, (w, h), interpolation=cv2.INTER_NEAREST)
    for _ in range(int(rng.integers(0, 6))):
        x0, y0 = int(rng.integers(0, w)), int(rng.integers(0, h))
        x1, y1 = x0 + int(rng.integers(4, w // 2 + 5)), y0 + int(rng.integers(2, h // 3 + 3))
        cv2.rectangle(bg, (x0, y0), (x1, y1), tuple(float(v) for v in rng.integers(0, 256, 3)), -1)
    return np.clip(bg, 0, 255).astype(np.uint8)


def camera_view(plate: np.ndarray, rng: Rng, out_h: int) -> np.ndarray:
    """``plate`` as a camera sees it: on a car, warped, lit, blurred, shrunk, compressed, and cut out with
    the loose and inexact box a detector gives. Result is BGR, about ``out_h`` pixels high."""
    ph, pw = plate.shape[:2]
    pad_x, pad_y = int(pw * 0.3), int(ph * 0.6)
    scene = _surround(rng, ph + 2 * pad_y, pw + 2 * pad_x)
    scene[pad_y : pad_y + ph, pad_x : pad_x + pw] = plate
    corners = np.array(
        [[pad_x, pad_y], [pad_x + pw, pad_y], [pad_x + pw, pad_y + ph], [pad_x, pad_y + ph]], np.float32
    )
    # perspective: rotation, yaw foreshortening, pitch
    angle = math.radians(rng.normal(0, 4))
    yaw = rng.uniform(-0.25, 0.25)
    pitch = rng.uniform(-0.15, 0.15)
    centre = corners.mean(axis=0)
    rel = corners - centre
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]], np.float32)
    rel = rel @ rot.T
    rel[:, 1] *= 1 + yaw * np.sign(rel[:, 0])
    rel[:, 0] *= 1 + pitch * np.sign(rel[:, 1])
    rel[:, 0] += rel[:, 1] * rng.normal(0, 0.08)  # shear
    dst = (rel + centre).astype(np.float32)
    m = cv2.getPerspectiveTransform(corners, dst)
    warped = cv2.warpPerspective(scene, m, (scene.shape[1], scene.shape[0]), borderMode=cv2.BORDER_REFLECT)
    # the detector's box: axis-aligned around the warped plate, with errors
    x0, y0 = dst.min(axis=0)
    x1, y1 = dst.max(axis=0)
    bw, bh = x1 - x0, y1 - y0
    x0 += bw * rng.uniform(-0.15, 0.015)
    x1 += bw * rng.uniform(-0.015, 0.15)
    y0 += bh * rng.uniform(-0.35, 0.06)
    y1 += bh * rng.uniform(-0.06, 0.35)
    x0, y0 = max(0, int(x0)), max(0, int(y0))
    x1, y1 = min(warped.shape[1], math.ceil(x1)), min(warped.shape[0], math.ceil(y1))
    crop = warped[y0:y1, x0:x1]
    crop = photometric(crop, rng)
    scale = out_h / max(crop.shape[0], 1)
    if scale < 1:
        crop = cv2.resize(crop, (max(1, round(crop.shape[1] * scale)), out_h), interpolation=cv2.INTER_AREA)
    return crop


def photometric(img: np.ndarray, rng: Rng) -> np.ndarray:
    """Light, optics and transmission: night, IR, glare, blur, noise, low resolution, JPEG."""
    f = img.astype(np.float32)
    look = rng.random()
    if look < 0.12:  # night under street light: dark, warm, noisy
        f = f * rng.uniform(0.15, 0.45) * np.array([0.7, 0.9, 1.1], np.float32)
    elif look < 0.22:  # infrared: grey, the retroreflective plate glows
        g = f.mean(axis=2, keepdims=True)
        f = np.repeat(np.clip(g * rng.uniform(1.0, 1.6), 0, 255), 3, axis=2)
    f = f * rng.uniform(0.6, 1.3) + rng.uniform(-40, 40)
    if rng.random() < 0.3:  # a shadow edge across the plate
        h, w = f.shape[:2]
        xs = np.arange(w, dtype=np.float32)[None, :] * rng.uniform(-1, 1) + np.arange(h, dtype=np.float32)[
            :, None
        ] * rng.uniform(-1, 1)
        cut = rng.uniform(xs.min(), xs.max() + 1)
        f = np.where((xs > cut)[..., None], f * rng.uniform(0.35, 0.8), f)
    f = np.clip(f, 0, 255).astype(np.uint8)
    h, w = f.shape[:2]
    if rng.random() < 0.5:  # motion blur
        k = int(rng.integers(2, max(3, w // 40) + 1))
        kernel = np.zeros((k, k), np.float32)
        if rng.random() < 0.5:
            kernel[k // 2, :] = 1.0
        else:
            kernel[:, k // 2] = 1.0
        f = cv2.filter2D(f, -1, kernel / kernel.sum())
    if rng.random() < 0.4:
        f = cv2.GaussianBlur(f, (0, 0), rng.uniform(0.3, 1.6))
    # resolution: the plate's text height on the sensor, from 9 px up
    target_h = int(rng.integers(14, 60))
    if target_h < h:
        s = target_h / h
        small = cv2.resize(f, (max(4, round(w * s)), target_h), interpolation=cv2.INTER_AREA)
        f = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR) if rng.random() < 0.5 else small
    if rng.random() < 0.7:
        noise = rng.standard_normal(f.shape, dtype=np.float32) * np.float32(rng.uniform(1, 12))
        f = np.clip(f.astype(np.float32) + noise, 0, 255).astype(np.uint8)
    if rng.random() < 0.7:
        ok, enc = cv2.imencode(".jpg", f, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(15, 95))])
        if ok:
            f = cv2.imdecode(enc, cv2.IMREAD_COLOR)
    return np.ascontiguousarray(f)


def reader_sample(rng: Rng) -> tuple[np.ndarray, str, bool]:
    """One training crop (BGR), its label (A-Z0-9) and whether it is a two-row plate. About one in
    twenty is not a plate at all (label ``""``): the reader learns to read nothing from clutter, which is
    how the node ranks the detector's candidates."""
    if rng.random() < 0.05:
        h = int(rng.integers(20, 60))
        clutter = _surround(rng, h, int(h * rng.uniform(1.5, 5)))
        return photometric(clutter, rng), "", False
    if rng.random() < CAMERA_PLATE_SHARE:
        fmt = CAMERA_FORMATS[int(rng.integers(0, len(CAMERA_FORMATS)))]
        text, formatted = random_plate(fmt, rng)
        plate = render_plate(formatted, fmt, int(rng.integers(48, 90)), rng)
        return camera_view(plate, rng, out_h=int(rng.integers(40, 100))), text, False
    layout = random_layout(rng)
    plate = draw_plate(layout, rng, height_px=int(rng.integers(48, 90)))
    return camera_view(plate, rng, out_h=int(rng.integers(40, 100))), label_of(layout), layout.rows == 2
