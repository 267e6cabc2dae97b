"""Typing glue for OpenCV, whose stubs return a loose union for every image."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

U8 = npt.NDArray[np.uint8]


def u8(image: object) -> U8:
    """View an OpenCV result as a ``uint8`` array (no copy when it already is one)."""
    return np.asarray(image, dtype=np.uint8)


def f32(image: object) -> npt.NDArray[np.float32]:
    return np.asarray(image, dtype=np.float32)
