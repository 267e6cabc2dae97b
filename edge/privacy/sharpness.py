"""Is the lens still in focus? Fine detail against coarse detail, tile by tile, against a stored view.

A defocused or smeared lens removes fine detail first. Comparing absolute sharpness with the reference
fails twice on a street: dusk lowers contrast everywhere (measured: -55 % by night on the synthetic
street) and a large smooth vehicle covers half the view. So each tile of the view gets the *ratio* of
fine-scale to coarse-scale Laplacian energy - contrast and brightness cancel out - and the view's score
is the 75th percentile of the tile ratios against the stored view: a vehicle covering most tiles still
leaves the upper quartile on open street, while a defocused lens lowers every tile.

Measured at 320 px (docs/privacy.md): normal day and a whole day/night cycle never score below 0.97;
a Gaussian blur of sigma 1 px scores 0.67, 1.5 px 0.54, 3 px 0.43.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from edge.privacy.reference import Gray

Tiles = npt.NDArray[np.float64]

_FINE_SIGMA = 0.8
"""Pre-smoothing before the fine Laplacian, so single-pixel sensor noise does not count as detail."""
_COARSE_SIGMA = 2.0
_GRID = (4, 8)
"""Rows and columns of tiles."""
_MIN_VALID = 0.3
"""A tile needs this share of unmasked pixels to count."""
_PERCENTILE = 75


def sharpness_tiles(gray: Gray, valid: Gray) -> Tiles:
    """Fine-to-coarse detail ratio of each tile; NaN for tiles that are mostly masked or featureless."""
    image = gray.astype(np.float32)
    fine = np.abs(cv2.Laplacian(cv2.GaussianBlur(image, (0, 0), _FINE_SIGMA), cv2.CV_32F))
    coarse = np.abs(cv2.Laplacian(cv2.GaussianBlur(image, (0, 0), _COARSE_SIGMA), cv2.CV_32F))
    rows, cols = _GRID
    height, width = gray.shape
    out = np.full(_GRID, np.nan)
    for r in range(rows):
        for c in range(cols):
            window = (
                slice(r * height // rows, (r + 1) * height // rows),
                slice(c * width // cols, (c + 1) * width // cols),
            )
            usable = valid[window] > 0
            if usable.mean() < _MIN_VALID:
                continue
            energy = float(coarse[window][usable].mean())
            if energy > 0.05:  # a flat tile (sky, a wall in the dark) says nothing about focus
                out[r, c] = float(fine[window][usable].mean()) / energy
    return out


def sharpness_ratio(current: Tiles, stored: Tiles) -> float:
    """75th percentile of the tile ratios current / stored; 1.0 when no tile can be compared."""
    ratios = current / stored
    ratios = ratios[np.isfinite(ratios)]
    if ratios.size == 0:
        return 1.0
    return float(np.percentile(ratios, _PERCENTILE))
