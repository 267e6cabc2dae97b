"""The ``VideoEncoder`` interface: masked BGR frames in, one finished H.264 file in memory out.

Video is encoded to memory and sealed from there, so plaintext video never touches the disk (a 10 s
1080p segment is a few MiB; see docs/performance.md). One encoder object encodes one segment at a time
and is reused: ``begin``, any number of ``add``, then ``finish`` (or ``abort`` after an error).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from edge.types import Pixels


@dataclass(frozen=True, slots=True)
class EncodedVideo:
    """A finished segment in memory, not yet sealed."""

    data: bytes
    frames: int
    width: int
    height: int
    container: str
    """``mp4``."""
    codec: str
    """``h264``."""


class VideoEncoder(Protocol):
    """Encodes one segment at a time. Not thread-safe: the recorder's thread owns it."""

    @property
    def name(self) -> str:
        """Which encoder, for health and the segment header (``libx264``, ``h264_v4l2m2m``)."""
        ...

    def begin(self, width: int, height: int) -> None:
        """Start a segment of ``width`` x ``height`` frames (even numbers). The first frame is a key frame."""
        ...

    def add(self, pixels: Pixels, offset_ns: int) -> None:
        """Encode one frame shown at ``offset_ns`` after the segment's start; offsets strictly increase."""
        ...

    def finish(self) -> EncodedVideo:
        """Flush, close the container and return the file's bytes."""
        ...

    def abort(self) -> None:
        """Drop the segment in progress (after an error); idempotent."""
        ...
