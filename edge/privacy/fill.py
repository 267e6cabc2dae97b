"""The three ways masked pixels are filled: ``solid``, ``pixelate`` and ``blur``.

All three write only where the coverage says so; pixels outside the masks are never touched.

``pixelate`` and ``blur`` must not allow reconstruction. Both first *average the content down* to cells
of at least ``MIN_BLOCK_PX`` (by default 2.5 % and 4 % of the frame width) with area averaging, then
paint the cells back (``pixelate``: flat blocks; ``blur``: a smooth interpolation). Whatever the painted
pixels show is a function of a handful of cell means, so detail finer than a cell is gone from the
output, not hidden in it (a Gaussian blur alone could be partly inverted by deconvolution).
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

Pixels = npt.NDArray[np.uint8]
Box = tuple[int, int, int, int]
"""A region ``(x0, y0, x1, y1)`` in pixels, end exclusive."""

SUBPIXEL_BITS = 4
"""cv2.fillPoly fixed-point precision: 1/16 px keeps edges stable across resolutions."""
MIN_BLOCK_PX = 8
"""No cell is ever smaller than this, whatever the frame width."""


def solid(pixels: Pixels, polygons: tuple[npt.NDArray[np.int32], ...], bgr: tuple[int, int, int]) -> None:
    fill_polygons(pixels, polygons, bgr)


def fill_polygons(
    image: npt.NDArray[np.uint8], polygons: tuple[npt.NDArray[np.int32], ...], value: tuple[int, ...] | int
) -> None:
    """Fill every polygon, one call each.

    One ``cv2.fillPoly`` call with several polygons applies the even-odd rule across all of them, so
    where two masks overlap the overlap would stay *unmasked*. Separate calls fill the union.
    """
    for polygon in polygons:
        cv2.fillPoly(image, [polygon], value, lineType=cv2.LINE_8, shift=SUBPIXEL_BITS)


def pixelate(pixels: Pixels, cover: npt.NDArray[np.uint8], boxes: tuple[Box, ...], block: int) -> None:
    """Replace covered pixels by the mean of their ``block`` x ``block`` cell of the frame's block grid.

    ``boxes`` start on the grid, so cells are the same in every frame and never straddle two regions.
    """
    for x0, y0, x1, y1 in boxes:
        region = pixels[y0:y1, x0:x1]
        h, w = region.shape[:2]
        means = _cell_means(region, block)
        # INTER_NEAREST by a whole factor repeats each mean over its cell, exactly.
        rows, cols = means.shape[:2]
        blocks = _u8(cv2.resize(means, (cols * block, rows * block), interpolation=cv2.INTER_NEAREST))
        _paint(region, blocks[:h, :w], cover[y0:y1, x0:x1])


def blur(pixels: Pixels, cover: npt.NDArray[np.uint8], boxes: tuple[Box, ...], cell: int) -> None:
    """Replace covered pixels by a smooth interpolation of ``cell``-sized area means."""
    for x0, y0, x1, y1 in boxes:
        region = pixels[y0:y1, x0:x1]
        h, w = region.shape[:2]
        means = _cell_means(region, cell)
        rows, cols = means.shape[:2]
        if cols >= 3 and rows >= 3:
            # Softens the cell pattern so the result reads as a blur, not as large tiles.
            means = _u8(cv2.GaussianBlur(means, (3, 3), 0, borderType=cv2.BORDER_REPLICATE))
        smooth = _u8(cv2.resize(means, (cols * cell, rows * cell), interpolation=cv2.INTER_LINEAR))
        _paint(region, smooth[:h, :w], cover[y0:y1, x0:x1])


def _cell_means(region: Pixels, cell: int) -> Pixels:
    """The mean colour of every ``cell`` x ``cell`` cell, the last row and column padded by repetition.

    INTER_AREA by a whole factor is the exact cell mean and runs on the fast path; by a fractional factor
    it is several times slower.
    """
    h, w = region.shape[:2]
    rows, cols = -(-h // cell), -(-w // cell)
    padded = region
    if rows * cell != h or cols * cell != w:
        padded = _u8(cv2.copyMakeBorder(region, 0, rows * cell - h, 0, cols * cell - w, cv2.BORDER_REPLICATE))
    return _u8(cv2.resize(padded, (cols, rows), interpolation=cv2.INTER_AREA))


def _u8(image: object) -> Pixels:
    return np.asarray(image, np.uint8)  # no copy: OpenCV hands back uint8 for uint8 input


def _paint(region: Pixels, source: Pixels, cover: npt.NDArray[np.uint8]) -> None:
    # cv2.copyTo writes through the view in place, 80x faster than np.copyto(where=...).
    written = cv2.copyTo(source, cover, region)
    if not np.shares_memory(written, region):  # never seen; kept so a reallocating OpenCV stays correct
        np.copyto(region, np.asarray(written, np.uint8))


def merge_boxes(boxes: list[Box]) -> tuple[Box, ...]:
    """Merge overlapping boxes, so no pixel is averaged twice with already-filled neighbours."""
    merged = list(boxes)
    changed = True
    while changed:
        changed = False
        out: list[Box] = []
        for box in merged:
            for i, other in enumerate(out):
                if box[0] < other[2] and other[0] < box[2] and box[1] < other[3] and other[1] < box[3]:
                    out[i] = (
                        min(box[0], other[0]),
                        min(box[1], other[1]),
                        max(box[2], other[2]),
                        max(box[3], other[3]),
                    )
                    changed = True
                    break
            else:
                out.append(box)
        merged = out
    return tuple(sorted(merged))
