"""Picamera2Source: lazy import, clear errors without picamera2, the API calls it makes, and real hardware.

Off a Pi there is no camera and no picamera2, so the API test uses a small stand-in for the picamera2
module (the hardware edge) that records what the source asks of it. The ``hardware`` tests run only
where picamera2 is importable and a camera is attached.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import types
from typing import Any

import numpy as np
import pytest

from edge.capture.picamera2_source import Picamera2Source
from edge.clock import FakeClock, SystemClock
from edge.config import Picamera2CameraConfig
from edge.errors import CameraError


def pi_config(**overrides: Any) -> Picamera2CameraConfig:
    return Picamera2CameraConfig.model_validate({"type": "picamera2", **overrides})


def test_importing_the_module_does_not_import_picamera2() -> None:
    # A fresh interpreter: this process may already have picamera2 loaded (on a Pi).
    code = (
        "import sys\n"
        "import edge.capture, edge.capture.picamera2_source, edge.capture.supervisor\n"
        "assert 'picamera2' not in sys.modules, 'picamera2 was imported'\n"
        "assert 'libcamera' not in sys.modules, 'libcamera was imported'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr


def test_open_without_picamera2_explains_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # None in sys.modules makes ``import picamera2`` fail even where it is installed.
    monkeypatch.setitem(sys.modules, "picamera2", None)
    source = Picamera2Source(pi_config(), SystemClock())
    assert source.name == "picamera2:0"
    with pytest.raises(CameraError) as caught:
        source.open()
    message = str(caught.value)
    assert "picamera2" in message
    assert "apt install python3-picamera2" in message
    assert "--system-site-packages" in message
    source.close()


# ------------------------------------------------------------------------ the picamera2 API, recorded


class RecordingPicamera2:
    """Stands in for ``picamera2.Picamera2``: same method names and argument shapes, records the calls."""

    cameras: list[dict[str, Any]] = [{"Model": "imx708", "Id": "/base/soc/i2c0mux/i2c@1/imx708@1a"}]
    instances: list[RecordingPicamera2] = []
    fail_capture: BaseException | None = None

    @staticmethod
    def global_camera_info() -> list[dict[str, Any]]:
        return RecordingPicamera2.cameras

    def __init__(self, camera_num: int = 0) -> None:
        self.camera_num = camera_num
        self.calls: list[tuple[str, Any]] = []
        self._main: dict[str, Any] = {}
        RecordingPicamera2.instances.append(self)

    def create_video_configuration(self, main: dict[str, Any], controls: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(("create_video_configuration", {"main": main, "controls": controls}))
        return {"use_case": "video", "main": dict(main), "controls": dict(controls)}

    def configure(self, config: dict[str, Any]) -> None:
        self.calls.append(("configure", config))
        self._main = config["main"]

    def start(self) -> None:
        self.calls.append(("start", None))

    def camera_configuration(self) -> dict[str, Any]:
        width = self._main["size"][0]
        return {"main": {**self._main, "stride": width * 3 + 64}}

    def capture_array(self, name: str = "main", wait: Any = None) -> np.ndarray:
        self.calls.append(("capture_array", (name, wait)))
        if RecordingPicamera2.fail_capture is not None:
            raise RecordingPicamera2.fail_capture
        width, height = self._main["size"]
        # Like a stride-padded buffer: a non-contiguous view, blue in channel 0 as RGB888 delivers.
        padded = np.zeros((height, width + 16, 3), np.uint8)
        padded[..., 0] = 255
        return padded[:, :width]

    def stop(self) -> None:
        self.calls.append(("stop", None))
        raise RuntimeError("camera already gone")  # close() must swallow this

    def close(self) -> None:
        self.calls.append(("close", None))


@pytest.fixture
def fake_picamera2(monkeypatch: pytest.MonkeyPatch) -> type[RecordingPicamera2]:
    module = types.ModuleType("picamera2")
    module.Picamera2 = RecordingPicamera2  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "picamera2", module)
    monkeypatch.setattr(RecordingPicamera2, "instances", [])
    monkeypatch.setattr(RecordingPicamera2, "fail_capture", None)
    return RecordingPicamera2


def test_configures_video_rgb888_at_the_requested_size_and_rate(
    fake_picamera2: type[RecordingPicamera2],
) -> None:
    clock = FakeClock()
    source = Picamera2Source(pi_config(width=1280, height=720, fps=20.0), clock)
    source.open()
    camera = fake_picamera2.instances[0]
    assert camera.camera_num == 0
    assert camera.calls[:3] == [
        (
            "create_video_configuration",
            {
                "main": {"size": (1280, 720), "format": "RGB888"},
                "controls": {"FrameDurationLimits": (50_000, 50_000)},
            },
        ),
        (
            "configure",
            {
                "use_case": "video",
                "main": {"size": (1280, 720), "format": "RGB888"},
                "controls": {"FrameDurationLimits": (50_000, 50_000)},
            },
        ),
        ("start", None),
    ]

    frames = [source.read() for _ in range(3)]
    assert [f.index for f in frames] == [0, 1, 2]
    for frame in frames:
        assert frame.pixels.shape == (720, 1280, 3)
        assert frame.pixels.flags.c_contiguous
        assert frame.source == "picamera2:0"
        assert frame.capture_ts_ns == clock.time_ns()
    assert int(frames[0].pixels[0, 0, 0]) == 255, "RGB888 bytes are already BGR: no channel swap"
    assert camera.calls[3] == ("capture_array", ("main", 2.0))

    source.close()  # stop() raising inside must not escape
    assert camera.calls[-2:] == [("stop", None), ("close", None)]
    source.close()

    source.open()
    assert source.read().index == 3, "indices continue across reopen"
    source.close()


def test_capture_timeout_and_missing_camera_are_camera_errors(
    fake_picamera2: type[RecordingPicamera2], monkeypatch: pytest.MonkeyPatch
) -> None:
    source = Picamera2Source(pi_config(camera_index=0, fps=1.0), SystemClock())
    source.open()
    monkeypatch.setattr(fake_picamera2, "fail_capture", TimeoutError())
    with pytest.raises(CameraError, match=r"no frame within 5 s"):
        source.read()
    source.close()

    with pytest.raises(CameraError, match="only 1 camera"):
        Picamera2Source(pi_config(camera_index=1), SystemClock()).open()
    monkeypatch.setattr(fake_picamera2, "cameras", [])
    with pytest.raises(CameraError, match="no camera found"):
        Picamera2Source(pi_config(), SystemClock()).open()


def test_read_before_open_is_a_camera_error() -> None:
    with pytest.raises(CameraError, match="before open"):
        Picamera2Source(pi_config(), SystemClock()).read()


# ------------------------------------------------------------------------------------ real hardware


def _pi_camera_present() -> bool:
    if importlib.util.find_spec("picamera2") is None:
        return False
    from picamera2 import Picamera2

    return bool(Picamera2.global_camera_info())


@pytest.fixture
def pi_camera() -> None:
    if not _pi_camera_present():
        pytest.skip("needs picamera2 and an attached Raspberry Pi camera")


@pytest.mark.hardware
@pytest.mark.usefixtures("pi_camera")
def test_real_camera_delivers_bgr_frames_and_reopens() -> None:
    source = Picamera2Source(pi_config(width=640, height=480, fps=10.0), SystemClock())
    try:
        source.open()
        frames = [source.read() for _ in range(5)]
        assert [f.index for f in frames] == [0, 1, 2, 3, 4]
        for frame in frames:
            assert frame.pixels.ndim == 3
            assert frame.pixels.shape[2] == 3
            assert frame.pixels.dtype == np.uint8
            assert frame.pixels.flags.c_contiguous
        source.close()
        source.open()
        assert source.read().index == 5
    finally:
        source.close()
