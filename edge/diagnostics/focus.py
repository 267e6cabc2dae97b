"""A focus meter for aiming: variance of the Laplacian of the masked view, outside the masks.

Computed on the masked preview (never on raw frames). Mask edges are sharp by construction, so the
masks are grown by a few pixels before they are left out; otherwise the fill's border would read as focus.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from edge.diagnostics.web.view import MaskOutlines

_EDGE_MARGIN_PX = 4


def focus_score(jpeg: bytes, outlines: MaskOutlines) -> float | None:
    """Laplacian variance over the unmasked pixels of a JPEG preview; None when nothing is left to measure."""
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_GRAYSCALE)
    if image is None:
        return None
    gray: npt.NDArray[np.uint8] = np.asarray(image, np.uint8)
    height, width = gray.shape
    excluded = np.zeros((height, width), np.uint8)
    if outlines.width and outlines.height:
        sx, sy = width / outlines.width, height / outlines.height
        for outline in outlines.polygons:
            pts = np.array([[round(x * sx), round(y * sy)] for x, y in outline.points], np.int32)
            cv2.fillPoly(excluded, [pts], 255)
    kernel = np.ones((2 * _EDGE_MARGIN_PX + 1, 2 * _EDGE_MARGIN_PX + 1), np.uint8)
    excluded = np.asarray(cv2.dilate(excluded, kernel), np.uint8)
    lap = np.asarray(cv2.Laplacian(gray, cv2.CV_64F), np.float64)
    keep = excluded == 0
    if int(keep.sum()) < 100:
        return None
    return float(lap[keep].var())
