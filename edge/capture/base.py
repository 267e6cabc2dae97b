"""The ``FrameSource`` interface and the factory that picks an implementation from config."""

from __future__ import annotations

from typing import Protocol

from edge.clock import Clock
from edge.config import CameraConfig, OpenCVCameraConfig, Picamera2CameraConfig, SyntheticCameraConfig
from edge.types import Frame, Pixels


class FrameSource(Protocol):
    """A camera. Not thread-safe: one capture thread owns it.

    Contract:
    - ``open()`` acquires the device or stream; raises ``CameraError`` with a human-readable reason
      (never containing credentials) when it cannot.
    - ``read()`` blocks until the next frame and returns it; raises ``CameraError`` when the source is lost
      (device unplugged, stream dropped, no frame within the read timeout). After that the caller closes
      the source and may ``open()`` it again.
    - ``close()`` releases everything; it is idempotent and never raises.
    - Frame indices increase by one per delivered frame across reopens.
    """

    @property
    def name(self) -> str:
        """A safe, human-readable name (for logs and health; never includes credentials)."""
        ...

    def open(self) -> None: ...

    def read(self) -> Frame: ...

    def close(self) -> None: ...


class FrameStamper:
    """Numbers and timestamps frames for a source: indices continue across reopens (the contract above)."""

    def __init__(self, name: str, clock: Clock) -> None:
        self._name = name
        self._clock = clock
        self._next_index = 0

    def stamp(self, pixels: Pixels) -> Frame:
        """Wrap freshly captured ``pixels`` (ownership passes to the frame) with index and capture times."""
        frame = Frame(
            pixels=pixels,
            index=self._next_index,
            capture_ts_ns=self._clock.time_ns(),
            monotonic_ns=self._clock.monotonic_ns(),
            source=self._name,
        )
        self._next_index += 1
        return frame


def open_source(config: CameraConfig, clock: Clock) -> FrameSource:
    """Build (not open) the source that ``config`` selects."""
    match config:
        case SyntheticCameraConfig():
            from edge.capture.synthetic import SyntheticStreetCamera

            return SyntheticStreetCamera(config, clock)
        case OpenCVCameraConfig():
            from edge.capture.opencv_source import OpenCVSource

            return OpenCVSource(config, clock)
        case Picamera2CameraConfig():
            from edge.capture.picamera2_source import Picamera2Source

            return Picamera2Source(config, clock)
