"""Fonts for plates and signs.

Real plates use dedicated typefaces (FE-Schrift in Germany, Kenteken in the Netherlands, the French and
Belgian administrative fonts). None of them ships with Debian, so DejaVu Sans Condensed Bold (package
``fonts-dejavu-core``) stands in: a condensed bold grotesque whose proportions are close, but whose
glyph shapes are not those of any real plate. Pillow's built-in font is the last resort.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

from PIL import ImageFont

logger = logging.getLogger(__name__)

_FONT_FILES = ("DejaVuSansCondensed-Bold.ttf", "DejaVuSans-Bold.ttf")
_FONT_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/dejavu"),
    Path("/usr/share/fonts/TTF"),
    Path("/usr/local/share/fonts"),
)

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@functools.cache
def _font_path() -> Path | None:
    for name in _FONT_FILES:
        for folder in _FONT_DIRS:
            candidate = folder / name
            if candidate.is_file():
                return candidate
    logger.warning(
        "DejaVu Sans Condensed Bold not found (install fonts-dejavu-core); plates use Pillow's default font"
    )
    return None


@functools.lru_cache(maxsize=64)
def bold_condensed(size_px: int) -> Font:
    """The plate font at ``size_px`` (em size in pixels)."""
    path = _font_path()
    if path is None:
        return ImageFont.load_default(size=size_px)
    return ImageFont.truetype(str(path), size=max(size_px, 1))
