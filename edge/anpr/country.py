"""Which country a plate comes from, judged by its colours and layout before its text is read.

Three cues are measured on the crop of a plate (BGR, roughly the plate and little else):

- the **background**: yellow (the Netherlands front and rear, the United Kingdom rear, Luxembourg) or white;
- the **ink**: red (Belgium, every series) or black (everyone else);
- a **blue band** on the left ~12 % of the width: the EU band with the country code (current plates of
  every EU country; older Belgian plates and most British plates have none);
- a **blue strip on the right**: France's regional identifier (also on Italian and Portuguese plates).

Each cue is turned into soft evidence in 0..1 and combined naive-Bayes style with how often each
country's plates show it and with how common the country is in Antwerp. The result is a prior per
country for the grammar stage (``edge.anpr.grammar``): colour alone cannot tell Germany from Poland, but
it tells a Belgian plate from a Dutch one almost always, and :func:`country_hint` names a country only
then. A monochrome crop (infrared at night, a grey camera) carries no colour evidence: every cue is
neutral and the priors come back unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import cv2
import numpy as np
import numpy.typing as npt

from edge.capture.synthetic.imaging import u8

__all__ = ["COUNTRY_PRIORS", "PlateColours", "classify_colours", "country_hint", "plate_colours"]

COUNTRY_PRIORS: Final[dict[str, float]] = {
    "BE": 0.55,
    "NL": 0.15,
    "FR": 0.08,
    "DE": 0.07,
    "PL": 0.04,
    "GB": 0.03,
    "CZ": 0.02,
    "SK": 0.02,
    "EU": 0.04,
}
"""Share of plates per country seen by a camera in Antwerp (``EU``: any other country). Rough, from the
dev set's labels; only the order of magnitude matters."""


@dataclass(frozen=True, slots=True)
class _Looks:
    """How often a country's plates show each cue (probability the cue is present)."""

    red_ink: float
    yellow: float
    band: float
    right_strip: float


_LOOKS: Final[dict[str, _Looks]] = {
    "BE": _Looks(red_ink=0.97, yellow=0.02, band=0.7, right_strip=0.02),  # pre-2010 plates: no band
    "NL": _Looks(red_ink=0.02, yellow=0.95, band=0.9, right_strip=0.02),
    "FR": _Looks(red_ink=0.02, yellow=0.02, band=0.95, right_strip=0.9),
    "DE": _Looks(red_ink=0.02, yellow=0.02, band=0.95, right_strip=0.02),
    "PL": _Looks(red_ink=0.02, yellow=0.02, band=0.95, right_strip=0.02),
    "CZ": _Looks(red_ink=0.02, yellow=0.02, band=0.95, right_strip=0.02),
    "SK": _Looks(red_ink=0.02, yellow=0.02, band=0.95, right_strip=0.02),
    "GB": _Looks(red_ink=0.02, yellow=0.5, band=0.2, right_strip=0.02),  # rear yellow; EU band pre-2021
    "EU": _Looks(red_ink=0.05, yellow=0.15, band=0.5, right_strip=0.1),  # Italy and Portugal have one
}

_STRONG = 0.7
"""Evidence above this (and its opposite below 1 - this) is strong enough to name a country."""
_WORK_HEIGHT_PX = 32
"""Crops are shrunk to this height first: the cues are area fractions, so detail does not help."""
_BAND_WIDTH = 0.12
_RIGHT_STRIP_WIDTH = 0.09
_MIN_SIDE_PX = 8


@dataclass(frozen=True, slots=True)
class PlateColours:
    """The colour cues of one plate crop, each as evidence in 0..1 (0.5: no evidence either way)."""

    red_ink: float
    """1: the characters are red; 0: they are black or grey."""
    yellow: float
    """1: the background is yellow; 0: white."""
    band: float
    """1: a blue band fills the left edge; 0: there is none."""
    right_strip: float
    """1: a blue strip fills the right edge (France's regional identifier); 0: there is none."""
    monochrome: bool
    """The crop has no colour at all (all channels equal): every cue above is 0.5."""


def _ramp(value: float, low: float, high: float) -> float:
    """0 below ``low``, 1 above ``high``, linear between."""
    return min(max((value - low) / (high - low), 0.0), 1.0)


def plate_colours(crop_bgr: npt.NDArray[np.uint8]) -> PlateColours:
    """Measure the colour cues of a plate crop (BGR uint8, shape (h, w, 3))."""
    if crop_bgr.ndim != 3 or crop_bgr.shape[2] != 3 or crop_bgr.dtype != np.uint8:
        raise ValueError(f"expected a BGR uint8 image (h, w, 3), got {crop_bgr.dtype} {crop_bgr.shape}")
    height, width = crop_bgr.shape[:2]
    if min(height, width) < _MIN_SIDE_PX:
        return PlateColours(0.5, 0.5, 0.5, 0.5, monochrome=False)
    small = crop_bgr
    if height > _WORK_HEIGHT_PX:
        scaled_w = max(_MIN_SIDE_PX, round(width * _WORK_HEIGHT_PX / height))
        small = np.asarray(
            cv2.resize(crop_bgr, (scaled_w, _WORK_HEIGHT_PX), interpolation=cv2.INTER_AREA), dtype=np.uint8
        )
        height, width = small.shape[:2]
    hsv = np.asarray(cv2.cvtColor(small, cv2.COLOR_BGR2HSV), dtype=np.uint8)  # hue 0..179
    # An infrared or grey stream repeats one channel three times; a colour sensor never does exactly.
    # Saturation is 0 exactly where all three channels are equal.
    sat = hsv[:, :, 1]
    if (sat.size - np.count_nonzero(sat)) / sat.size > 0.99:
        return PlateColours(0.5, 0.5, 0.5, 0.5, monochrome=True)
    gray = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)

    # The EU band: blue over most of the left strip (the stars and the code take the rest).
    rows = slice(round(height * 0.15), max(round(height * 0.85), round(height * 0.15) + 1))
    left = slice(0, max(1, round(width * _BAND_WIDTH)))
    band = _ramp(_share_blue(hsv[rows, left]), 0.15, 0.35)
    # The French regional identifier: blue on the right ~9 % (department number and region logo on it).
    right = slice(min(width - 1, round(width * (1.0 - _RIGHT_STRIP_WIDTH))), width)
    right_strip = _ramp(_share_blue(hsv[rows, right]), 0.15, 0.35)

    # The body: clear of the band, the French regional strip on the right and the border.
    body = (slice(round(height * 0.2), max(round(height * 0.8), round(height * 0.2) + 1)),
            slice(round(width * 0.15), max(round(width * 0.85), round(width * 0.15) + 1)))  # fmt: skip
    body_gray = np.ascontiguousarray(gray[body])
    threshold, _ = cv2.threshold(body_gray, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    # Masks as 0 / 255 images (OpenCV: one pass each instead of numpy's temporaries per comparison).
    # Ink: darker than Otsu's threshold (an integer), i.e. at most one below it.
    ink = u8(cv2.threshold(body_gray, threshold - 1, 255, cv2.THRESH_BINARY_INV)[1])
    ink_count = cv2.countNonZero(ink)
    ink_share = ink_count / ink.size
    body_hsv = np.ascontiguousarray(hsv[body])

    lo, hi = cv2.minMaxLoc(body_gray)[:2]
    if hi - lo < 40 or not 0.02 <= ink_share <= 0.7:
        red_ink = 0.5  # no readable characters in the crop: say nothing about their colour
    else:
        reddish = u8(
            cv2.bitwise_or(
                cv2.inRange(body_hsv, (0, 80, 50), (10, 255, 255)),
                cv2.inRange(body_hsv, (160, 80, 50), (255, 255, 255)),
            )
        )
        red_ink = _ramp(_count_in(reddish, ink) / ink_count, 0.15, 0.5)

    yellowish = u8(cv2.inRange(body_hsv, (12, 90, 90), (40, 255, 255)))
    if 0.02 <= ink_share <= 0.7:
        background_count = ink.size - ink_count
        yellow_share = (cv2.countNonZero(yellowish) - _count_in(yellowish, ink)) / background_count
    else:
        yellow_share = cv2.countNonZero(yellowish) / yellowish.size
    yellow = _ramp(yellow_share, 0.3, 0.7)
    return PlateColours(red_ink, yellow, band, right_strip, monochrome=False)


def blue_share(patch_bgr: npt.NDArray[np.uint8]) -> float:
    """The share of a BGR patch's pixels that are the EU band's blue (0 for an empty patch)."""
    if patch_bgr.size == 0:
        return 0.0
    return _share_blue(np.asarray(cv2.cvtColor(np.ascontiguousarray(patch_bgr), cv2.COLOR_BGR2HSV), np.uint8))


def _share_blue(hsv: npt.NDArray[np.uint8]) -> float:
    """The share of an HSV patch's pixels that are the EU band's blue."""
    if hsv.size == 0:
        return 0.0
    blue = cv2.inRange(np.ascontiguousarray(hsv), (95, 80, 40), (135, 255, 255))
    return cv2.countNonZero(blue) / blue.size


def _count_in(mask: npt.NDArray[np.uint8], within: npt.NDArray[np.uint8]) -> int:
    """Pixels set in both 0 / 255 masks."""
    return int(cv2.countNonZero(cv2.bitwise_and(mask, within)))


def _factor(evidence: float, p_present: float) -> float:
    """Likelihood of soft ``evidence`` for a cue present with probability ``p_present``."""
    return evidence * p_present + (1.0 - evidence) * (1.0 - p_present)


def classify_colours(crop_bgr: npt.NDArray[np.uint8]) -> dict[str, float]:
    """A prior per country (keys of ``COUNTRY_PRIORS``, summing to 1) from the crop's colours and layout.

    Yellow background: NL (and GB rear). Red characters on white: BE. A blue band on the left: an EU
    plate (raises every EU country, lowers GB and the unknown rest). Black on white without a band: the
    generic ``EU`` and GB rise, the countries whose plates always have a band fall.
    """
    colours = plate_colours(crop_bgr)
    scores: dict[str, float] = {}
    for country, prior in COUNTRY_PRIORS.items():
        looks = _LOOKS[country]
        scores[country] = (
            prior
            * _factor(colours.red_ink, looks.red_ink)
            * _factor(colours.yellow, looks.yellow)
            * _factor(colours.band, looks.band)
            * _factor(colours.right_strip, looks.right_strip)
        )
    total = sum(scores.values())
    return {country: score / total for country, score in scores.items()}


def country_hint(crop_bgr: npt.NDArray[np.uint8]) -> str | None:
    """A country only on strong evidence: ``NL`` for a yellow plate with dark characters, ``BE`` for red
    characters on white; None otherwise (including every monochrome crop)."""
    colours = plate_colours(crop_bgr)
    if colours.yellow > _STRONG and colours.red_ink < 1.0 - _STRONG:
        return "NL"
    if colours.red_ink > _STRONG and colours.yellow < 1.0 - _STRONG:
        return "BE"
    return None
