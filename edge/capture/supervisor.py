"""Keeps one camera delivering frames: open, read, hand over; on any failure close, back off, reopen.

The node must never exit because a camera went away. The capture thread therefore retries forever, with
exponential backoff between failed attempts, until the shared stop event is set. Every wait is
``stop.wait(delay_s)``, so shutdown never sits out a backoff.

Logging is per transition (streaming -> lost, lost -> streaming, or a new failure reason), never per retry:
a camera that is unplugged for a week must not fill the journal.
"""

from __future__ import annotations

import enum
import logging
import threading
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from edge.capture.base import FrameSource
from edge.capture.opencv_source import scrub_userinfo
from edge.clock import Clock
from edge.config import CameraConfig, OpenCVCameraConfig, Picamera2CameraConfig
from edge.errors import CameraError
from edge.types import Frame

_log = logging.getLogger(__name__)

DEFAULT_BACKOFF_INITIAL_S = 0.5
DEFAULT_BACKOFF_MAX_S = 30.0
"""For sources whose config has no reconnect settings (the synthetic camera)."""

_FPS_WINDOW_NS = 5_000_000_000
_FPS_MAX_SAMPLES = 1024
"""Enough for 120 fps over the window; older samples fall out of the deque by themselves."""


class CameraState(enum.StrEnum):
    STARTING = "starting"
    """Not a single frame yet and no failure yet."""
    STREAMING = "streaming"
    """The last thing that happened was a delivered frame."""
    LOST = "lost"
    """The last open or read failed; the supervisor is backing off and retrying."""
    STOPPED = "stopped"
    """The capture thread has ended (stop event set)."""


@dataclass(frozen=True, slots=True)
class CameraHealth:
    """A consistent snapshot of the capture loop, for health reports and the watchdog."""

    state: CameraState
    reason: str
    """Why the camera is not streaming (credential-free); empty while streaming."""
    source: str
    """The source's safe name."""
    frames_total: int
    """Frames handed to ``on_frame`` since start."""
    reconnects: int
    """Open attempts after the first one, successful or not."""
    unexpected_errors: int
    """Failures that were not ``CameraError`` (bugs in a source or in ``on_frame``)."""
    fps: float
    """Delivery rate over the last few seconds; 0.0 when nothing arrived recently."""
    last_frame_age_s: float | None
    """Seconds since the last frame was handed over; None before the first."""
    lost_since_ns: int | None
    """Wall-clock time (ns since the epoch) the current loss began; None unless ``state`` is lost."""


def backoff_from_config(config: CameraConfig) -> tuple[float, float]:
    """``(initial_s, max_s)`` reconnect backoff for a camera config, with defaults where it has none."""
    if isinstance(config, OpenCVCameraConfig | Picamera2CameraConfig):
        return config.reconnect_initial_s, config.reconnect_max_s
    return DEFAULT_BACKOFF_INITIAL_S, DEFAULT_BACKOFF_MAX_S


class CameraSupervisor:
    """Owns one ``FrameSource`` and runs its capture loop in a thread named ``capture``.

    ``on_frame`` runs on the capture thread and should return quickly (hand the frame to a queue). If it
    raises, the failure is counted as unexpected and the camera is reopened, like any other failure.
    ``health()`` may be called from any thread.
    """

    def __init__(
        self,
        source: FrameSource,
        on_frame: Callable[[Frame], None],
        stop: threading.Event,
        *,
        clock: Clock,
        initial_s: float,
        max_s: float,
    ) -> None:
        if not 0 < initial_s <= max_s:
            raise ValueError("backoff needs 0 < initial_s <= max_s")
        self._source = source
        self._on_frame = on_frame
        self._stop = stop
        self._clock = clock
        self._backoff_initial_s = initial_s
        self._backoff_max_s = max_s
        self._source_name = source.name
        self._thread: threading.Thread | None = None

        # Everything below is shared with health() and guarded by _lock. The capture thread is the only
        # writer; the lock makes each snapshot consistent.
        self._lock = threading.Lock()
        self._state = CameraState.STARTING
        self._reason = "opening"
        self._frames_total = 0
        self._reconnects = 0
        self._unexpected_errors = 0
        self._last_frame_mono_ns: int | None = None
        self._lost_since_ns: int | None = None
        self._lost_since_mono_ns: int | None = None
        self._recent_mono_ns: deque[int] = deque(maxlen=_FPS_MAX_SAMPLES)

    @property
    def source_name(self) -> str:
        return self._source_name

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("the camera supervisor was already started")
        # Daemon: a driver call wedged in native code must not keep the process from exiting.
        self._thread = threading.Thread(target=self._run, name="capture", daemon=True)
        self._thread.start()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the capture thread to end (after ``stop`` is set). True when it has ended."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def health(self) -> CameraHealth:
        now_ns = self._clock.monotonic_ns()
        with self._lock:
            recent = [t for t in self._recent_mono_ns if now_ns - t <= _FPS_WINDOW_NS]
            last_ns = self._last_frame_mono_ns
            return CameraHealth(
                state=self._state,
                reason=self._reason,
                source=self._source_name,
                frames_total=self._frames_total,
                reconnects=self._reconnects,
                unexpected_errors=self._unexpected_errors,
                fps=_rate(recent, now_ns),
                last_frame_age_s=None if last_ns is None else max(0.0, (now_ns - last_ns) / 1e9),
                lost_since_ns=self._lost_since_ns,
            )

    # ------------------------------------------------------------------------------ capture thread

    def _run(self) -> None:
        _log.info("capture starting for %s", self._source_name)
        try:
            self._loop()
        finally:
            with self._lock:
                self._state = CameraState.STOPPED
                self._reason = "stopped"
                self._lost_since_ns = None
            _log.info("capture stopped for %s", self._source_name)

    def _loop(self) -> None:
        delay_s = self._backoff_initial_s
        first_attempt = True
        while not self._stop.is_set():
            if not first_attempt:
                with self._lock:
                    self._reconnects += 1
            first_attempt = False
            frames_before = self._frames_total  # only this thread writes it
            try:
                try:
                    self._source.open()
                    self._stream()
                finally:
                    self._source.close()
            except CameraError as exc:
                self._mark_lost(scrub_userinfo(str(exc)) or type(exc).__name__, unexpected=False)
            except Exception as exc:  # noqa: BLE001 - the one broad catch: a camera bug must not end capture
                self._mark_lost(
                    f"unexpected {type(exc).__name__} in the capture loop (see log)", unexpected=True
                )
            else:
                return  # _stream() returns only when stop is set
            if self._frames_total > frames_before:
                delay_s = self._backoff_initial_s
            if self._stop.wait(delay_s):
                return
            delay_s = min(delay_s * 2, self._backoff_max_s)

    def _stream(self) -> None:
        while not self._stop.is_set():
            frame = self._source.read()
            self._mark_frame()
            self._on_frame(frame)

    def _mark_frame(self) -> None:
        now_ns = self._clock.monotonic_ns()
        with self._lock:
            previous = self._state
            lost_since_mono_ns = self._lost_since_mono_ns
            reconnects = self._reconnects
            self._state = CameraState.STREAMING
            self._reason = ""
            self._frames_total += 1
            self._last_frame_mono_ns = now_ns
            self._recent_mono_ns.append(now_ns)
            self._lost_since_ns = None
            self._lost_since_mono_ns = None
        if previous is CameraState.STARTING:
            _log.info("camera %s streaming", self._source_name)
        elif previous is CameraState.LOST:
            lost_s = 0.0 if lost_since_mono_ns is None else (now_ns - lost_since_mono_ns) / 1e9
            _log.info(
                "camera %s streaming again after %.1f s (%d reconnects so far)",
                self._source_name,
                lost_s,
                reconnects,
            )

    def _mark_lost(self, reason: str, *, unexpected: bool) -> None:
        with self._lock:
            previous_state, previous_reason = self._state, self._reason
            self._state = CameraState.LOST
            self._reason = reason
            if unexpected:
                self._unexpected_errors += 1
            if previous_state is not CameraState.LOST:
                self._lost_since_ns = self._clock.time_ns()
                self._lost_since_mono_ns = self._clock.monotonic_ns()
        new_failure = previous_state is not CameraState.LOST or reason != previous_reason
        if unexpected and new_failure:
            # Formatted here rather than via exc_info so the text can be scrubbed of URL credentials.
            _log.error(
                "camera %s: %s; reopening with backoff\n%s",
                self._source_name,
                reason,
                scrub_userinfo(traceback.format_exc()).rstrip(),
            )
        elif new_failure:
            _log.warning(
                "camera %s lost: %s; retrying every %.3g..%.3g s until it is back",
                self._source_name,
                reason,
                self._backoff_initial_s,
                self._backoff_max_s,
            )
        else:
            _log.debug("camera %s still lost: %s", self._source_name, reason)


def _rate(samples_ns: list[int], now_ns: int) -> float:
    """Frames per second from delivery times inside the window; decays to 0 once frames stop."""
    if len(samples_ns) < 2:
        return 0.0
    span_ns = now_ns - samples_ns[0]
    if span_ns <= 0:
        return 0.0
    return (len(samples_ns) - 1) / (span_ns / 1e9)
