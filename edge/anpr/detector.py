"""The plate detector: a plate-probability map at 1/4 resolution, turned into rotated plate boxes."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from edge.anpr.manifest import ModelFile
from edge.anpr.preprocess import DETECTOR_MULTIPLE, DETECTOR_STRIDE, detector_input, detector_size
from edge.anpr.runtime import TFLiteModel
from edge.capture.synthetic.imaging import U8

# The training target marks the plate shrunk to 92 % of its width and 80 % of its height; the reader was
# trained on crops with some margin. These factors turn a detected blob into such a crop.
_MAX_SIZES = 4
_JOIN_GAP_CELLS = 2
_GROW_W = 1.25
_END_CELLS = 1.0
_GROW_H = 1.65


@dataclass(frozen=True, slots=True)
class Candidate:
    """A plate candidate in the coordinates of the image given to ``detect``."""

    centre: tuple[float, float]
    size: tuple[float, float]
    """Width and height of the grown crop (along and across the plate)."""
    angle_deg: float
    """Rotation of the plate's long axis from the image's x axis."""
    score: float
    """Mean plate probability over the blob."""

    @property
    def box(self) -> tuple[int, int, int, int]:
        """Axis-aligned ``x, y, w, h`` around the rotated crop."""
        pts = cv2.boxPoints((self.centre, self.size, self.angle_deg))
        x0, y0 = pts.min(axis=0)
        x1, y1 = pts.max(axis=0)
        return int(x0), int(y0), int(np.ceil(x1 - x0)), int(np.ceil(y1 - y0))


class PlateDetector:
    def __init__(self, model: ModelFile, *, threads: int, threshold: float = 0.5, min_cells: int = 3) -> None:
        self.version = model.version
        self.threshold = threshold
        self.min_cells = min_cells
        self._content = model.verified_bytes()
        self._threads = threads
        # Interpreters by input size (a fixed camera region needs one; photos of many sizes a few):
        # resizing one interpreter back and forth would reallocate its tensors on every call.
        self._models: dict[tuple[int, int], TFLiteModel] = {}
        self._model_for((DETECTOR_MULTIPLE * 4, DETECTOR_MULTIPLE * 3))  # fails here, at load, if corrupt

    def _model_for(self, size: tuple[int, int]) -> TFLiteModel:
        model = self._models.pop(size, None)
        if model is None:
            if len(self._models) >= _MAX_SIZES:
                self._models.pop(next(iter(self._models)))
            model = TFLiteModel(self._content, threads=self._threads, name=f"detector {self.version}")
        self._models[size] = model  # most recently used last
        return model

    def probability(
        self, image_bgr: U8, long_side: int
    ) -> tuple[npt.NDArray[np.float32], tuple[float, float]]:
        """The plate probability map of ``image_bgr`` scaled so its long side is about ``long_side``, and
        the size of a map cell in image pixels along x and y (they differ: both sides are rounded to a
        multiple of 32 on their own)."""
        h, w = image_bgr.shape[:2]
        size = detector_size(w, h, long_side)
        x = detector_input(image_bgr, size)[None]
        prob = self._model_for(size).run(x)[0, :, :, 0]
        return prob, (w / size[0] * DETECTOR_STRIDE, h / size[1] * DETECTOR_STRIDE)

    def detect(self, image_bgr: U8, long_side: int, limit: int = 6) -> list[Candidate]:
        """The ``limit`` most likely plates in ``image_bgr``, best first."""
        prob, (cell_x, cell_y) = self.probability(image_bgr, long_side)
        binary = (prob >= self.threshold).view(np.uint8)
        count, labels, raw_stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
        found: list[Candidate] = []
        stats = np.asarray(raw_stats, dtype=np.int32).tolist()  # Python ints: numpy scalars are slow here
        cell = (cell_x + cell_y) / 2
        for group in _plate_groups(stats, count):
            if sum(stats[k][cv2.CC_STAT_AREA] for k in group) < self.min_cells:
                continue
            # Only the group's bounding box is searched for its cells: the map is mostly background.
            gx0 = min(stats[k][cv2.CC_STAT_LEFT] for k in group)
            gy0 = min(stats[k][cv2.CC_STAT_TOP] for k in group)
            gx1 = max(stats[k][cv2.CC_STAT_LEFT] + stats[k][cv2.CC_STAT_WIDTH] for k in group)
            gy1 = max(stats[k][cv2.CC_STAT_TOP] + stats[k][cv2.CC_STAT_HEIGHT] for k in group)
            window = labels[gy0:gy1, gx0:gx1]
            members = window == group[0] if len(group) == 1 else np.isin(window, group)
            ys, xs = np.nonzero(members)
            score = float(prob[gy0:gy1, gx0:gx1][ys, xs].mean())
            pts = np.empty((len(xs), 2), np.float32)
            pts[:, 0] = (xs + (gx0 + 0.5)) * cell_x
            pts[:, 1] = (ys + (gy0 + 0.5)) * cell_y
            (cx, cy), (rw, rh), angle = cv2.minAreaRect(pts)
            rw, rh = rw + cell, rh + cell  # cell centres → cell extents
            if rh > rw:  # long axis along x
                rw, rh, angle = rh, rw, angle - 90.0
            if angle < -45.0:
                angle += 180.0
            if angle > 45.0:
                angle -= 180.0
            # The blob is coarse (a cell is several pixels): half a cell more at each end keeps end glyphs.
            size = (rw * _GROW_W + _END_CELLS * cell, rh * _GROW_H)
            found.append(Candidate((cx, cy), size, angle, score))
        found.sort(key=lambda c: c.score * np.sqrt(c.size[0] * c.size[1]), reverse=True)
        return found[:limit]


def _plate_groups(stats: list[list[int]], count: int) -> list[list[int]]:
    """Component labels grouped into plates: a German plate's stickers or a Slovak coat of arms split one
    plate into blobs side by side, level with each other and a cell or two apart."""
    parent = list(range(count))

    def root(k: int) -> int:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    x, y, w, h = ([row[i] for row in stats] for i in range(4))
    for a in range(1, count):
        for b in range(a + 1, count):
            gap = max(x[a], x[b]) - min(x[a] + w[a], x[b] + w[b])
            overlap = min(y[a] + h[a], y[b] + h[b]) - max(y[a], y[b])
            if (
                gap <= _JOIN_GAP_CELLS
                and overlap >= 0.6 * min(h[a], h[b])
                and max(h[a], h[b]) <= 2 * min(h[a], h[b])
            ):
                parent[root(a)] = root(b)
    groups: dict[int, list[int]] = {}
    for k in range(1, count):
        groups.setdefault(root(k), []).append(k)
    return list(groups.values())


def rectify(image_bgr: U8, cand: Candidate) -> U8:
    """The candidate cut out of ``image_bgr`` and turned upright (BGR)."""
    w, h = max(2, round(cand.size[0])), max(2, round(cand.size[1]))
    if abs(cand.angle_deg) < 2.0:
        x0 = round(cand.centre[0] - w / 2)
        y0 = round(cand.centre[1] - h / 2)
        ih, iw = image_bgr.shape[:2]
        xa, ya, xb, yb = max(0, x0), max(0, y0), min(iw, x0 + w), min(ih, y0 + h)
        if xb - xa >= 2 and yb - ya >= 2:
            return np.ascontiguousarray(image_bgr[ya:yb, xa:xb])
    m = cv2.getRotationMatrix2D(cand.centre, cand.angle_deg, 1.0)
    m[0, 2] += w / 2 - cand.centre[0]
    m[1, 2] += h / 2 - cand.centre[1]
    return np.asarray(
        cv2.warpAffine(image_bgr, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE),
        dtype=np.uint8,
    )
