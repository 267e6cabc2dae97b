"""Where is the current view relative to a stored one? ORB features matched under RANSAC.

Measured on the synthetic street (docs/privacy.md): features on the unmasked parts, matched and fitted
with a similarity transform (shift, rotation, zoom) by RANSAC, recover shifts, rotations up to tens of
degrees and zooms of 15 % to a fraction of a pixel at 320 px width, and passing vehicles - which cover
up to half the view - are rejected as outliers. Phase correlation and ECC (tried first) were pulled off
by large vehicles and needed a rough start for rotations; both are area methods, ORB is not.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from edge.privacy.reference import Gray

_FEATURES = 500
_RANSAC_PX = 2.0
"""Reprojection tolerance at analysis size (320 px: 0.6 % of the width)."""
_REFINED_PX = 0.75
"""Tolerance of the second fit on sub-pixel corners."""
_SUBPIX = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_COUNT, 20, 0.01)


@dataclass(frozen=True, slots=True)
class Features:
    gray: Gray
    """The image the features come from (for sub-pixel refinement)."""
    points: npt.NDArray[np.float32]
    """(N, 2) keypoint positions in analysis pixels."""
    descriptors: npt.NDArray[np.uint8]
    """(N, 32) ORB descriptors."""

    def __len__(self) -> int:
        return int(self.points.shape[0])


@dataclass(frozen=True, slots=True)
class Match:
    matrix: npt.NDArray[np.float64]
    """2x3 similarity in analysis pixels, mapping the stored view onto the current one."""
    inliers: int
    candidates: int


class Aligner:
    """Feature extraction and matching. Not thread-safe: one per privacy stage (capture thread)."""

    def __init__(self) -> None:
        self._orb = cv2.ORB.create(nfeatures=_FEATURES, fastThreshold=10, edgeThreshold=15, patchSize=15)
        self._matcher = cv2.BFMatcher(cv2.NORM_HAMMING, crossCheck=True)

    def features(self, gray: Gray, valid: Gray) -> Features:
        keypoints, descriptors = self._orb.detectAndCompute(gray, valid)
        if descriptors is None or not keypoints:
            return Features(gray, np.zeros((0, 2), np.float32), np.zeros((0, 32), np.uint8))
        points = np.array([k.pt for k in keypoints], np.float32)
        return Features(gray, points, np.asarray(descriptors, np.uint8))

    def match(self, stored: Features, current: Features) -> Match | None:
        """The similarity taking ``stored`` onto ``current``; ``None`` when too little agrees."""
        if len(stored) < 3 or len(current) < 3:
            return None
        pairs = self._matcher.match(stored.descriptors, current.descriptors)
        if len(pairs) < 3:
            return None
        src = stored.points[[p.queryIdx for p in pairs]]
        dst = current.points[[p.trainIdx for p in pairs]]
        matrix, inliers = cv2.estimateAffinePartial2D(
            src, dst, method=cv2.RANSAC, ransacReprojThreshold=_RANSAC_PX, maxIters=2000, confidence=0.99
        )
        if matrix is None or inliers is None:
            return None
        found = Match(np.asarray(matrix, np.float64), int(inliers.sum()), len(pairs))
        return _refined(found, stored.gray, src[inliers.ravel() > 0], current.gray, dst[inliers.ravel() > 0])


def _refined(
    found: Match, stored: Gray, src: npt.NDArray[np.float32], current: Gray, dst: npt.NDArray[np.float32]
) -> Match:
    """Refit on sub-pixel corner positions: ORB keypoints sit on whole pixels (of their pyramid level),
    which biases a fit towards whole-pixel shifts and costs up to 0.5 % of scale on small drifts."""
    if len(src) < 6:
        return found
    src_fine = cv2.cornerSubPix(stored, src.reshape(-1, 1, 2).copy(), (3, 3), (-1, -1), _SUBPIX)
    dst_fine = cv2.cornerSubPix(current, dst.reshape(-1, 1, 2).copy(), (3, 3), (-1, -1), _SUBPIX)
    matrix, inliers = cv2.estimateAffinePartial2D(
        src_fine,
        dst_fine,
        method=cv2.RANSAC,
        ransacReprojThreshold=_REFINED_PX,
        maxIters=2000,
        confidence=0.999,
    )
    if matrix is None or inliers is None or int(inliers.sum()) < len(src) // 2:
        return found  # the corners did not agree more closely: keep the whole-pixel fit
    return Match(np.asarray(matrix, np.float64), found.inliers, found.candidates)


def luma_stats(gray: Gray, valid: Gray) -> tuple[float, float]:
    """Mean and standard deviation of the gray level over the valid area."""
    mean, std = cv2.meanStdDev(gray, mask=valid)
    return float(mean[0, 0]), float(std[0, 0])
