"""Turning a plate crop into the reader's input, and an image into the detector's input.

Shared by the node and by the training scripts in ``models/``: a model only works on inputs prepared exactly
as its training data was, so this module is the one place that says how.

Reader input: one grey row of text, ``READER_H`` x ``READER_W``, values 0..255 (uint8; the model scales).
A two-row plate (a motorcycle plate, a square rear plate) is recognised by its aspect ratio and its rows are
laid side by side, top row first, so the one-row reader reads it in the printed order.
"""

from __future__ import annotations

import cv2
import numpy as np

from edge.capture.synthetic.imaging import U8, u8

READER_H = 32
READER_W = 128
TWO_ROW_MAX_ASPECT = 2.4
"""Crops narrower than this (width / height) may be two-row plates: both readings are tried."""
DETECTOR_STRIDE = 4
"""The detector's output map is 1/4 of its input in each direction."""
DETECTOR_MULTIPLE = 32
"""Detector input sides are multiples of this (the network downsamples five times)."""


def to_grey(image: U8) -> U8:
    if image.ndim == 2:
        return image
    return u8(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY))


def is_two_row(width: int, height: int) -> bool:
    return height > 0 and width / height < TWO_ROW_MAX_ASPECT


def reader_inputs(crop_bgr: U8) -> list[U8]:
    """The reader inputs worth trying for ``crop_bgr``: as one row, and also as two rows side by side
    when the crop is squarish (a loose crop of a one-row plate can be as squarish as a two-row plate)."""
    h, w = crop_bgr.shape[:2]
    plain = reader_input(crop_bgr, two_row=False)
    if is_two_row(w, h) and h >= 8:
        return [plain, reader_input(crop_bgr, two_row=True)]
    return [plain]


def reader_input(crop_bgr: U8, *, two_row: bool = False) -> U8:
    """The ``READER_H`` x ``READER_W`` grey image the reader expects for ``crop_bgr`` (any size ≥ 1x1);
    ``two_row`` lays the upper and lower half side by side."""
    if crop_bgr.shape[0] < 1 or crop_bgr.shape[1] < 1:
        raise ValueError("empty crop")
    grey = to_grey(crop_bgr)
    h, w = grey.shape[:2]
    if two_row and h >= 4:
        # Rows overlap a little: the split is a guess, and a glyph cut in half cannot be read.
        top = grey[: int(h * 0.56)]
        bottom = grey[int(h * 0.44) :]
        row_h = max(top.shape[0], bottom.shape[0])
        top = u8(cv2.resize(top, (w, row_h), interpolation=cv2.INTER_LINEAR))
        bottom = u8(cv2.resize(bottom, (w, row_h), interpolation=cv2.INTER_LINEAR))
        grey = np.ascontiguousarray(np.hstack([top, bottom]))
    interpolation = cv2.INTER_AREA if grey.shape[1] > READER_W else cv2.INTER_LINEAR
    out = u8(cv2.resize(grey, (READER_W, READER_H), interpolation=interpolation))
    return u8(_stretch(out))


_LEVELS = np.arange(256, dtype=np.float32)


def _stretch(grey: U8) -> U8:
    """Contrast stretch between the 2nd and 98th percentile: night, glare and dirt look alike afterwards.
    Percentiles from the histogram, the stretch as a look-up table: the same pixels as ``np.percentile``
    and a per-pixel float stretch, several times faster (it runs for every reader input)."""
    cdf = np.cumsum(np.bincount(grey.ravel(), minlength=256))
    lo, hi = _percentiles(cdf, (0.02, 0.98))
    if hi - lo < 8.0:
        return grey
    lut = (_LEVELS - np.float32(lo)) * np.float32(255.0 / (hi - lo))
    return u8(cv2.LUT(grey, np.clip(lut, 0, 255, out=lut).astype(np.uint8)))


def _percentiles(cdf: np.ndarray, qs: tuple[float, float]) -> tuple[float, float]:
    """``np.percentile``'s default (linear between the nearest two ranks) from a histogram's cumsum."""
    total = int(cdf[-1]) - 1
    ranks = [q * total for q in qs]
    below = [int(r) for r in ranks]
    v = np.searchsorted(cdf, [below[0], below[0] + 1, below[1], below[1] + 1], side="right").tolist()
    return (
        v[0] + (ranks[0] - below[0]) * (v[1] - v[0]),
        v[2] + (ranks[1] - below[1]) * (v[3] - v[2]),
    )


def detector_size(width: int, height: int, long_side: int) -> tuple[int, int]:
    """Input size (w, h) for an image of ``width`` x ``height`` scaled so its long side is about
    ``long_side``, both sides rounded to ``DETECTOR_MULTIPLE``."""
    scale = long_side / max(width, height)
    w = max(DETECTOR_MULTIPLE, round(width * scale / DETECTOR_MULTIPLE) * DETECTOR_MULTIPLE)
    h = max(DETECTOR_MULTIPLE, round(height * scale / DETECTOR_MULTIPLE) * DETECTOR_MULTIPLE)
    return w, h


def detector_input(image_bgr: U8, size: tuple[int, int]) -> U8:
    """``image_bgr`` resized to ``size`` (w, h), still BGR uint8."""
    if (image_bgr.shape[1], image_bgr.shape[0]) == size:
        return np.ascontiguousarray(image_bgr)
    return u8(cv2.resize(image_bgr, size, interpolation=cv2.INTER_AREA))
