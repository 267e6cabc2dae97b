"""``RecorderConsumer``: every masked frame into H.264 segments of ``segment_seconds``, sealed and stored.

Runs as a ``ConsumerStage`` with ``QueuePolicy.EVERY``; ``consume`` and ``close`` are called from that
stage's thread only, ``state`` from any thread.

A segment is cut when it has reached ``segment_seconds`` of capture time, when the mask set changes (so
every segment carries exactly one mask id), when the frame size changes, and when capture time does not
move forward (a wall-clock correction): the file's time stamps must increase.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from edge.storage.encoder import VideoEncoder
from edge.storage.errors import StorageError
from edge.storage.model import Segment
from edge.storage.store import SegmentStore
from edge.types import MaskedFrame

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RecorderState:
    encoder: str
    segments_written: int
    segments_failed: int
    frames_recorded: int
    """Frames in stored segments."""
    frames_lost: int
    """Frames of segments that could not be encoded or stored."""
    frames_in_progress: int
    last_segment_end_ns: int | None
    last_finish_ms: float
    """Time to flush, seal and write the last segment (the recorder queue must cover it)."""
    last_error: str


@dataclass(slots=True)
class _Open:
    start_ns: int
    last_ns: int
    frames: int
    mask_id: str
    size: tuple[int, int]


class RecorderConsumer:
    """A ``FrameConsumer`` that records every frame it is given."""

    def __init__(
        self,
        store: SegmentStore,
        encoder: VideoEncoder,
        *,
        segment_seconds: float = 10.0,
        nominal_fps: float = 25.0,
        on_segment: Callable[[Segment], None] | None = None,
    ) -> None:
        if segment_seconds <= 0 or nominal_fps <= 0:
            raise ValueError("segment_seconds and nominal_fps must be positive")
        self._store = store
        self._encoder = encoder
        self._segment_ns = round(segment_seconds * 1e9)
        self._nominal_interval_ns = round(1e9 / nominal_fps)
        self._on_segment = on_segment
        self._open: _Open | None = None
        self._lock = threading.Lock()  # guards the counters below against state() readers
        self._written = 0
        self._failed = 0
        self._frames_recorded = 0
        self._frames_lost = 0
        self._last_end_ns: int | None = None
        self._last_finish_ms = 0.0
        self._last_error = ""

    def consume(self, frame: MaskedFrame) -> None:
        current = self._open
        if current is not None and self._must_cut(current, frame):
            self._finish(next_ns=frame.capture_ts_ns)
            current = None
        if current is None:
            self._encoder.begin(frame.width, frame.height)
            current = self._open = _Open(
                frame.capture_ts_ns, frame.capture_ts_ns, 0, frame.mask_id, (frame.width, frame.height)
            )
        try:
            self._encoder.add(frame.pixels, frame.capture_ts_ns - current.start_ns)
        except BaseException:
            self._abandon(current, "encoding failed")
            raise
        current.frames += 1
        current.last_ns = frame.capture_ts_ns

    def close(self) -> None:
        """Finish the segment in progress (the stage calls this once, after its last frame)."""
        if self._open is not None:
            self._finish(next_ns=None)

    def state(self) -> RecorderState:
        with self._lock:
            current = self._open
            return RecorderState(
                encoder=self._encoder.name,
                segments_written=self._written,
                segments_failed=self._failed,
                frames_recorded=self._frames_recorded,
                frames_lost=self._frames_lost,
                frames_in_progress=current.frames if current is not None else 0,
                last_segment_end_ns=self._last_end_ns,
                last_finish_ms=self._last_finish_ms,
                last_error=self._last_error,
            )

    def _must_cut(self, current: _Open, frame: MaskedFrame) -> bool:
        return (
            frame.capture_ts_ns - current.start_ns >= self._segment_ns
            or frame.capture_ts_ns <= current.last_ns
            or frame.mask_id != current.mask_id
            or (frame.width, frame.height) != current.size
        )

    def _finish(self, next_ns: int | None) -> None:
        current, self._open = self._open, None
        if current is None:
            return
        t0 = time.perf_counter()
        if current.frames > 1:
            interval = (current.last_ns - current.start_ns) // (current.frames - 1)
        else:
            interval = self._nominal_interval_ns
        end_ns = current.last_ns + max(1, interval)
        if next_ns is not None and next_ns > current.last_ns:
            end_ns = min(end_ns, next_ns)  # segments never overlap
        try:
            video = self._encoder.finish()
        except BaseException:
            self._abandon(current, "finishing the encoder failed")
            raise
        try:
            segment = self._store.store(video, current.start_ns, end_ns, current.mask_id, self._encoder.name)
        except StorageError as exc:
            # Already logged, counted and alarmed by the store; the next segment starts regardless.
            self._count_failure(current, str(exc))
            return
        with self._lock:
            self._written += 1
            self._frames_recorded += segment.frames
            self._last_end_ns = segment.end_ns
            self._last_finish_ms = (time.perf_counter() - t0) * 1e3
        if self._on_segment is not None:
            self._on_segment(segment)

    def _abandon(self, current: _Open, why: str) -> None:
        self._open = None
        self._encoder.abort()
        self._count_failure(current, why)
        log.error("recorder: dropped a segment of %d frames: %s", current.frames, why)

    def _count_failure(self, current: _Open, error: str) -> None:
        with self._lock:
            self._failed += 1
            self._frames_lost += current.frames
            self._last_error = error
