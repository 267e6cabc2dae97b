"""CameraSupervisor over a real OpenCVSource reading a real H.264 file that disappears and comes back.

The only fakes are thin wrappers at the hardware edge that inject faults into the real source.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from edge.capture.base import FrameSource
from edge.capture.opencv_source import OpenCVSource
from edge.capture.supervisor import (
    DEFAULT_BACKOFF_INITIAL_S,
    DEFAULT_BACKOFF_MAX_S,
    CameraHealth,
    CameraState,
    CameraSupervisor,
    backoff_from_config,
)
from edge.clock import SystemClock
from edge.config import OpenCVCameraConfig, Picamera2CameraConfig, SyntheticCameraConfig
from edge.types import Frame
from tests.camera_video import frame_number, write_test_video

SUPERVISOR_LOG = "edge.capture.supervisor"
PASSWORD = "Sup3r-secret!"


@pytest.fixture
def video(tmp_path: Path) -> Path:
    return write_test_video(tmp_path / "clip.mp4", frames=30, fps=25)


def file_source(path: Path, *, loop: bool = True, fps: float = 100.0) -> OpenCVSource:
    config = OpenCVCameraConfig(type="opencv", url=str(path), loop=loop, fps=fps)
    return OpenCVSource(config, SystemClock())


class Collector:
    """The on_frame callback: records frames and wakes tests waiting for a count."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self.indices: list[int] = []
        self.numbers: list[int] = []

    def __call__(self, frame: Frame) -> None:
        with self._changed:
            self.indices.append(frame.index)
            self.numbers.append(frame_number(frame.pixels))
            self._changed.notify_all()

    def count(self) -> int:
        with self._lock:
            return len(self.indices)

    def wait_for(self, count: int, timeout_s: float = 10.0) -> None:
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.indices) >= count, timeout_s):
                raise AssertionError(f"only {len(self.indices)} of {count} frames within {timeout_s} s")


def wait_for_health(
    supervisor: CameraSupervisor, predicate: Callable[[CameraHealth], bool], timeout_s: float = 10.0
) -> CameraHealth:
    deadline = time.monotonic() + timeout_s
    while True:
        health = supervisor.health()
        if predicate(health):
            return health
        if time.monotonic() > deadline:
            raise AssertionError(f"health never matched within {timeout_s} s; last: {health}")
        time.sleep(0.01)  # polling interval, not synchronisation: the deadline above decides


@pytest.fixture
def running() -> Iterator[Callable[..., tuple[CameraSupervisor, threading.Event]]]:
    """Start supervisors for a test and always stop them, so no capture thread outlives its test."""
    started: list[tuple[CameraSupervisor, threading.Event]] = []

    def start(
        source: FrameSource,
        on_frame: Callable[[Frame], None],
        *,
        initial_s: float = 0.02,
        max_s: float = 0.1,
    ) -> tuple[CameraSupervisor, threading.Event]:
        stop = threading.Event()
        supervisor = CameraSupervisor(
            source, on_frame=on_frame, stop=stop, clock=SystemClock(), initial_s=initial_s, max_s=max_s
        )
        supervisor.start()
        started.append((supervisor, stop))
        return supervisor, stop

    yield start
    for supervisor, stop in started:
        stop.set()
        assert supervisor.join(5.0), "capture thread did not stop"


def test_camera_lost_and_back(
    video: Path,
    running: Callable[..., tuple[CameraSupervisor, threading.Event]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger=SUPERVISOR_LOG)
    frames = Collector()
    supervisor, stop = running(file_source(video), frames)
    assert supervisor.health().source == str(video)

    frames.wait_for(10)
    assert "capture" in {t.name for t in threading.enumerate()}
    health = supervisor.health()
    assert health.state is CameraState.STREAMING
    assert health.reason == ""
    assert health.lost_since_ns is None

    # Take the camera away: at the end of the clip the source reopens the file and finds it gone.
    hidden = video.with_suffix(".away")
    video.rename(hidden)
    lost = wait_for_health(supervisor, lambda h: h.state is CameraState.LOST)
    assert "video file not found" in lost.reason
    assert lost.lost_since_ns is not None
    wait_for_health(supervisor, lambda h: h.reconnects >= lost.reconnects + 3)
    frames_while_lost = frames.count()

    hidden.rename(video)
    back = wait_for_health(supervisor, lambda h: h.state is CameraState.STREAMING)
    assert back.lost_since_ns is None
    frames.wait_for(frames_while_lost + 20)
    assert supervisor.health().frames_total >= frames_while_lost + 20

    stop.set()
    assert supervisor.join(2.0)
    assert supervisor.health().state is CameraState.STOPPED

    # Indices are continuous across the reopen; the clip restarted from its first frame.
    assert frames.indices == list(range(len(frames.indices)))
    assert frames.numbers[frames_while_lost] == 0
    # One warning for the loss and one for the recovery, however many retries happened in between.
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, warnings
    assert " lost: " in warnings[0]
    infos = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert sum("streaming again" in m for m in infos) == 1, infos
    assert sum("still lost" in r.getMessage() for r in caplog.records) >= 2


class FaultySource:
    """A real source with faults injected at the hardware edge: raises ``fault`` on the given read."""

    def __init__(self, inner: FrameSource, fault: BaseException, on_read: int) -> None:
        self._inner = inner
        self._fault = fault
        self._on_read = on_read
        self.reads = 0
        self.opens = 0

    @property
    def name(self) -> str:
        return self._inner.name

    def open(self) -> None:
        self.opens += 1
        self._inner.open()

    def read(self) -> Frame:
        self.reads += 1
        if self.reads == self._on_read:
            raise self._fault
        return self._inner.read()

    def close(self) -> None:
        self._inner.close()


def test_an_unexpected_exception_does_not_end_capture(
    video: Path,
    running: Callable[..., tuple[CameraSupervisor, threading.Event]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=SUPERVISOR_LOG)
    source = FaultySource(file_source(video), ZeroDivisionError("driver bug"), on_read=5)
    frames = Collector()
    supervisor, _ = running(source, frames)

    frames.wait_for(20)
    health = supervisor.health()
    assert health.unexpected_errors == 1
    assert health.state is CameraState.STREAMING
    assert health.reconnects >= 1
    assert source.opens >= 2
    assert supervisor.is_alive()
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "ZeroDivisionError" in errors[0].getMessage()
    assert "Traceback" in errors[0].getMessage()
    assert "driver bug" in errors[0].getMessage()


def test_an_exception_in_on_frame_is_counted_and_capture_goes_on(
    video: Path, running: Callable[..., tuple[CameraSupervisor, threading.Event]]
) -> None:
    frames = Collector()
    calls = 0

    def on_frame(frame: Frame) -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise KeyError("consumer bug")
        frames(frame)

    supervisor, _ = running(file_source(video), on_frame)
    frames.wait_for(10)
    health = wait_for_health(supervisor, lambda h: h.state is CameraState.STREAMING)
    assert health.unexpected_errors == 1


def test_stop_ends_the_thread_promptly_during_a_long_backoff(
    tmp_path: Path, running: Callable[..., tuple[CameraSupervisor, threading.Event]]
) -> None:
    supervisor, stop = running(file_source(tmp_path / "absent.mp4"), Collector(), initial_s=30.0, max_s=60.0)
    wait_for_health(supervisor, lambda h: h.state is CameraState.LOST)

    started = time.monotonic()
    stop.set()
    assert supervisor.join(1.0)
    assert time.monotonic() - started < 1.0
    health = supervisor.health()
    assert health.state is CameraState.STOPPED
    assert health.reconnects == 0
    assert health.last_frame_age_s is None


class OpenTimes:
    """Records when the real source is asked to open (hardware-edge wrapper)."""

    def __init__(self, inner: FrameSource) -> None:
        self._inner = inner
        self.at_s: list[float] = []

    @property
    def name(self) -> str:
        return self._inner.name

    def open(self) -> None:
        self.at_s.append(time.monotonic())
        self._inner.open()

    def read(self) -> Frame:
        return self._inner.read()

    def close(self) -> None:
        self._inner.close()


def test_backoff_doubles_up_to_the_maximum(
    tmp_path: Path, running: Callable[..., tuple[CameraSupervisor, threading.Event]]
) -> None:
    source = OpenTimes(file_source(tmp_path / "absent.mp4"))
    supervisor, stop = running(source, Collector(), initial_s=0.05, max_s=0.2)
    wait_for_health(supervisor, lambda h: h.reconnects >= 5)
    stop.set()
    assert supervisor.join(1.0)

    gaps_s = [b - a for a, b in zip(source.at_s, source.at_s[1:], strict=False)]
    expected_s = [0.05, 0.1, 0.2, 0.2, 0.2]
    for gap_s, want_s in zip(gaps_s, expected_s, strict=False):
        assert want_s * 0.9 <= gap_s <= want_s + 0.15, (gaps_s, expected_s)


def test_health_reports_rate_and_freshness(
    video: Path, running: Callable[..., tuple[CameraSupervisor, threading.Event]]
) -> None:
    assert CameraSupervisor(
        file_source(video),
        on_frame=Collector(),
        stop=threading.Event(),
        clock=SystemClock(),
        initial_s=1,
        max_s=2,
    ).health() == CameraHealth(
        state=CameraState.STARTING,
        reason="opening",
        source=str(video),
        frames_total=0,
        reconnects=0,
        unexpected_errors=0,
        fps=0.0,
        last_frame_age_s=None,
        lost_since_ns=None,
    )
    frames = Collector()
    supervisor, _ = running(file_source(video, fps=50.0), frames)
    frames.wait_for(25)
    health = supervisor.health()
    assert health.state is CameraState.STREAMING
    assert health.frames_total >= 25
    assert 25.0 <= health.fps <= 60.0
    assert health.last_frame_age_s is not None
    assert health.last_frame_age_s < 1.0


def test_credentials_stay_out_of_health_and_logs(
    tmp_path: Path,
    running: Callable[..., tuple[CameraSupervisor, threading.Event]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    cred = tmp_path / "cam.cred"
    cred.write_text(f"admin:{PASSWORD}\n", encoding="utf-8")
    config = OpenCVCameraConfig(
        type="opencv", url="rtsp://127.0.0.1:1/live?session=abc", credentials_file=cred, read_timeout_s=0.2
    )
    supervisor, _ = running(OpenCVSource(config, SystemClock()), Collector())
    health = wait_for_health(supervisor, lambda h: h.reconnects >= 2)
    assert health.state is CameraState.LOST
    assert "cannot open stream rtsp://127.0.0.1:1/live" in health.reason
    for text in (health.reason, health.source, caplog.text):
        assert PASSWORD not in text
        assert "Sup3r-secret%21" not in text
        assert "session=abc" not in text


def test_backoff_must_be_positive_and_ordered(video: Path) -> None:
    for initial_s, max_s in ((0.0, 1.0), (2.0, 1.0)):
        with pytest.raises(ValueError, match="backoff"):
            CameraSupervisor(
                file_source(video),
                on_frame=Collector(),
                stop=threading.Event(),
                clock=SystemClock(),
                initial_s=initial_s,
                max_s=max_s,
            )


def test_backoff_from_config() -> None:
    opencv = OpenCVCameraConfig(type="opencv", url="/x.mp4", reconnect_initial_s=0.2, reconnect_max_s=9)
    assert backoff_from_config(opencv) == (0.2, 9.0)
    pi = Picamera2CameraConfig(type="picamera2", reconnect_initial_s=2, reconnect_max_s=20)
    assert backoff_from_config(pi) == (2.0, 20.0)
    synthetic = SyntheticCameraConfig(type="synthetic")
    assert backoff_from_config(synthetic) == (DEFAULT_BACKOFF_INITIAL_S, DEFAULT_BACKOFF_MAX_S)
