"""Sensor noise that costs two saturating adds per frame.

A bank of Gaussian noise (split into its positive and negative parts, so it can be applied to ``uint8``
pixels with saturating arithmetic and no widening) is generated once per resolution. Each frame uses a
window of the bank starting at an offset derived from the seed and the frame index, so the noise is
different in every frame and still bit-for-bit reproducible.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from edge.types import Pixels

_EXTRA = 1 << 18
"""Bank length beyond one frame: the number of distinct noise windows."""


@dataclass(frozen=True, slots=True)
class NoiseBank:
    plus: npt.NDArray[np.uint8]
    minus: npt.NDArray[np.uint8]
    frame_len: int

    def apply(self, frame: Pixels, seed: int, frame_index: int) -> None:
        """Add this frame's noise to ``frame`` (C-contiguous) in place."""
        mixed = np.random.SeedSequence([seed, frame_index]).generate_state(1)[0]
        offset = int(mixed) % _EXTRA
        shape = frame.shape
        plus = self.plus[offset : offset + self.frame_len].reshape(shape)
        minus = self.minus[offset : offset + self.frame_len].reshape(shape)
        cv2.add(frame, plus, dst=frame)
        cv2.subtract(frame, minus, dst=frame)


@functools.lru_cache(maxsize=2)
def noise_bank(width: int, height: int, std_fraction: float) -> NoiseBank:
    """Noise with standard deviation ``std_fraction`` of full scale, for ``width`` x ``height`` BGR."""
    frame_len = width * height * 3
    rng = np.random.default_rng(12345)
    samples = rng.standard_normal(frame_len + _EXTRA, dtype=np.float32)
    samples *= np.float32(std_fraction * 255.0)
    rounded = np.rint(samples)
    plus = np.clip(rounded, 0, 255).astype(np.uint8)
    minus = np.clip(-rounded, 0, 255).astype(np.uint8)
    plus.setflags(write=False)
    minus.setflags(write=False)
    return NoiseBank(plus=plus, minus=minus, frame_len=frame_len)
