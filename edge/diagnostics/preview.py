"""The preview consumer: keeps the newest masked frame for the diagnostics page and snapshots.

It only ever holds ``MaskedFrame`` objects, so a preview can never show unmasked pixels.
"""

from __future__ import annotations

import threading

import cv2
import numpy as np
import numpy.typing as npt

from edge.errors import EdgeError
from edge.types import MaskedFrame


class PreviewConsumer:
    """A ``FrameConsumer`` (latest-frame policy) that remembers the last frame it saw."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._frame: MaskedFrame | None = None

    def consume(self, frame: MaskedFrame) -> None:
        with self._lock:
            self._frame = frame

    def close(self) -> None:
        with self._lock:
            self._frame = None

    def latest(self) -> MaskedFrame | None:
        with self._lock:
            return self._frame

    def jpeg(self, max_width: int = 960, quality: int = 80) -> tuple[MaskedFrame, bytes]:
        """The newest frame, downscaled to ``max_width`` and JPEG-encoded."""
        frame = self.latest()
        if frame is None:
            raise EdgeError("no frame yet")
        pixels: npt.NDArray[np.uint8] = frame.pixels
        if frame.width > max_width:
            height = round(frame.height * max_width / frame.width)
            pixels = np.asarray(
                cv2.resize(pixels, (max_width, height), interpolation=cv2.INTER_AREA), np.uint8
            )
        ok, buf = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise EdgeError("JPEG encoding failed")
        return frame, np.asarray(buf).tobytes()
