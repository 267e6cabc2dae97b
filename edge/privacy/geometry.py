"""``ViewTransform``: how the current view sits relative to the reference view.

Transforms are kept in *width units* (a pixel coordinate divided by the frame width), so one transform
means the same thing at the 320 px analysis size, at 1080p and for normalised mask polygons, and a
rotation stays a rotation (normalising x and y by different lengths would shear it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class ViewMotion:
    """A transform read as a camera operator would: centre shift, rotation and zoom."""

    shift_x_share: float
    """Horizontal move of the image centre, as a share of the frame width (positive: content moved right)."""
    shift_y_share: float
    """Vertical move of the image centre, as a share of the frame width (positive: content moved down)."""
    rotation_deg: float
    """Rotation of the content, degrees; positive is clockwise on screen (y points down)."""
    scale: float
    """Zoom factor of the content, 1.0 = unchanged."""

    @property
    def shift_share(self) -> float:
        return math.hypot(self.shift_x_share, self.shift_y_share)


@dataclass(frozen=True, slots=True)
class ViewTransform:
    """An affine map from reference-view points to current-view points, in width units.

    ``(x', y') = (m00 x + m01 y + m02, m10 x + m11 y + m12)``.
    """

    m00: float = 1.0
    m01: float = 0.0
    m02: float = 0.0
    m10: float = 0.0
    m11: float = 1.0
    m12: float = 0.0

    IDENTITY: ClassVar[ViewTransform]

    @classmethod
    def from_pixel_matrix(cls, matrix: npt.ArrayLike, width: int) -> ViewTransform:
        """From a 2x3 pixel-space matrix (as OpenCV returns) of an image ``width`` pixels wide."""
        m = np.asarray(matrix, np.float64).reshape(2, 3)
        return cls(
            float(m[0, 0]),
            float(m[0, 1]),
            float(m[0, 2]) / width,
            float(m[1, 0]),
            float(m[1, 1]),
            float(m[1, 2]) / width,
        )

    def pixel_matrix(self, width: int) -> FloatArray:
        """The 2x3 matrix acting on pixel coordinates of an image ``width`` pixels wide."""
        return np.array(
            [[self.m00, self.m01, self.m02 * width], [self.m10, self.m11, self.m12 * width]], np.float64
        )

    def then(self, after: ViewTransform) -> ViewTransform:
        """This transform followed by ``after``."""
        a = np.vstack([after.pixel_matrix(1), [0.0, 0.0, 1.0]])
        b = np.vstack([self.pixel_matrix(1), [0.0, 0.0, 1.0]])
        return ViewTransform.from_pixel_matrix((a @ b)[:2], 1)

    def apply_px(self, points: FloatArray, width: int) -> FloatArray:
        """Map ``(N, 2)`` pixel points of an image ``width`` pixels wide."""
        m = self.pixel_matrix(width)
        return points @ m[:, :2].T + m[:, 2]

    def motion(self, aspect: float) -> ViewMotion:
        """Decompose about the image centre; ``aspect`` is height / width of the frame."""
        cx, cy = 0.5, 0.5 * aspect
        moved_x = self.m00 * cx + self.m01 * cy + self.m02
        moved_y = self.m10 * cx + self.m11 * cy + self.m12
        return ViewMotion(
            shift_x_share=moved_x - cx,
            shift_y_share=moved_y - cy,
            rotation_deg=math.degrees(math.atan2(self.m10, self.m00)),
            scale=math.sqrt(abs(self.m00 * self.m11 - self.m01 * self.m10)),
        )

    def max_displacement_share(self, aspect: float) -> float:
        """Largest move of any frame corner, as a share of the width."""
        corners = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, aspect], [0.0, aspect]])
        return float(np.max(np.hypot(*(self.apply_px(corners, 1) - corners).T)))

    def rounded(self, digits: int = 5) -> ViewTransform:
        """Rounded so that estimates differing only in noise share cache entries."""
        return ViewTransform(*(round(v, digits) for v in self.as_tuple()))

    def as_tuple(self) -> tuple[float, float, float, float, float, float]:
        return (self.m00, self.m01, self.m02, self.m10, self.m11, self.m12)

    @property
    def is_identity(self) -> bool:
        return self == ViewTransform.IDENTITY


ViewTransform.IDENTITY = ViewTransform()
