"""``PyAVEncoder``: H.264 in an MP4 held in memory, through PyAV (FFmpeg).

Two FFmpeg encoders sit behind it: ``libx264`` (software; CRF and a speed preset) and ``h264_v4l2m2m``
(the Raspberry Pi 4's hardware encoder, bit rate controlled; untested off a Pi, and absent on a Pi 5).

picamera2's own encoders are deliberately not used: they take libcamera request buffers straight from
the camera, that is, frames before the privacy stage; the recorder must only ever encode ``MaskedFrame``
pixels, and FFmpeg's V4L2 M2M wrapper reaches the same hardware block with frames we hand it.

Time stamps: each frame's pts is its capture time relative to the segment start in a 1/90 000 s time
base, so the file keeps the real (variable) frame timing and a central player can recover absolute
capture times from the start time in the sealed header.
"""

from __future__ import annotations

import io
import logging
from fractions import Fraction
from typing import cast

import av
import cv2
import numpy as np
import numpy.typing as npt
from av.container import OutputContainer
from av.video.stream import VideoStream

from edge.storage.encoder import EncodedVideo
from edge.storage.errors import StorageError
from edge.types import Pixels

log = logging.getLogger(__name__)

TIME_BASE = Fraction(1, 90_000)


def ns_to_pts(offset_ns: int) -> int:
    return (offset_ns * 90_000 + 500_000_000) // 1_000_000_000


def pts_to_ns(pts: int) -> int:
    return (pts * 1_000_000_000 + 45_000) // 90_000


class PyAVEncoder:
    """Encodes one segment at a time into an in-memory MP4 (moov at the end; the file is played only after
    central decryption, so fast start does not matter)."""

    def __init__(
        self,
        *,
        codec: str = "libx264",
        preset: str = "ultrafast",
        crf: int = 26,
        bitrate_kbps: int = 2000,
        keyframe_interval_s: float = 2.0,
        nominal_fps: float = 25.0,
        threads: int = 0,
    ) -> None:
        self._codec = codec
        self._preset = preset
        self._crf = crf
        self._bitrate_kbps = bitrate_kbps
        self._gop_frames = max(1, round(keyframe_interval_s * nominal_fps))
        self._fps = Fraction(nominal_fps).limit_denominator(1001)
        self._threads = threads
        self._buffer: io.BytesIO | None = None
        self._container: OutputContainer | None = None
        self._stream: VideoStream | None = None
        self._frames = 0
        self._size = (0, 0)
        self._last_pts = -1

    @property
    def name(self) -> str:
        return self._codec

    def begin(self, width: int, height: int) -> None:
        if self._container is not None:
            raise StorageError("encoder: begin() while a segment is open")
        if width % 2 or height % 2:
            raise StorageError(f"encoder: H.264 needs even dimensions, got {width}x{height}")
        self._buffer = io.BytesIO()
        container = av.open(self._buffer, mode="w", format="mp4")
        try:
            stream = cast(VideoStream, container.add_stream(self._codec, rate=self._fps))
            stream.width, stream.height = width, height
            stream.pix_fmt = "yuv420p"
            stream.time_base = TIME_BASE
            stream.codec_context.time_base = TIME_BASE
            stream.codec_context.gop_size = self._gop_frames
            if self._codec == "libx264":
                stream.options = {"preset": self._preset, "crf": str(self._crf)}
                stream.codec_context.thread_count = self._threads
            else:
                stream.codec_context.bit_rate = self._bitrate_kbps * 1000
        except Exception:
            container.close()
            raise
        self._container, self._stream = container, stream
        self._frames, self._size, self._last_pts = 0, (width, height), -1

    def add(self, pixels: Pixels, offset_ns: int) -> None:
        if self._stream is None or self._container is None:
            raise StorageError("encoder: add() before begin()")
        height, width = pixels.shape[:2]
        if (width, height) != self._size:
            seg_w, seg_h = self._size
            raise StorageError(f"encoder: frame is {width}x{height}, segment is {seg_w}x{seg_h}")
        pts = ns_to_pts(offset_ns)
        if pts <= self._last_pts:
            raise StorageError(f"encoder: time stamps must increase (pts {pts} after {self._last_pts})")
        # OpenCV's BGR -> I420 is several times faster than swscale's bgr24 path inside PyAV.
        yuv = cast(npt.NDArray[np.uint8], cv2.cvtColor(pixels, cv2.COLOR_BGR2YUV_I420))
        frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
        frame.pts = pts
        frame.time_base = TIME_BASE
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self._frames += 1
        self._last_pts = pts

    def finish(self) -> EncodedVideo:
        if self._container is None or self._stream is None or self._buffer is None:
            raise StorageError("encoder: finish() before begin()")
        try:
            for packet in self._stream.encode(None):
                self._container.mux(packet)
            self._container.close()
            data = self._buffer.getvalue()
        finally:
            self._container = self._stream = self._buffer = None
        return EncodedVideo(
            data=data,
            frames=self._frames,
            width=self._size[0],
            height=self._size[1],
            container="mp4",
            codec="h264",
        )

    def abort(self) -> None:
        container, self._container, self._stream, self._buffer = self._container, None, None, None
        if container is not None:
            try:
                container.close()
            except av.FFmpegError as exc:  # a broken segment may not close cleanly; it is dropped
                log.warning("encoder: closing an aborted segment failed: %s", exc)
