"""Frames from a Raspberry Pi camera module through picamera2 (libcamera).

picamera2 is imported inside ``open()`` only: importing it probes the camera stack (/dev/video*, libcamera)
and it is absent on every machine that is not a Pi, so this module must stay importable everywhere.

Pixel order: picamera2 names formats after libcamera/DRM fourccs, which describe a little-endian word,
so ``RGB888`` is laid out in memory as B, G, R - exactly OpenCV's BGR (picamera2 manual, appendix A
"Pixel and image formats"). No channel swap is needed.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from edge.capture.base import FrameStamper
from edge.clock import Clock
from edge.config import Picamera2CameraConfig
from edge.errors import CameraError
from edge.types import Frame

_log = logging.getLogger(__name__)

_FORMAT = "RGB888"
"""BGR bytes in memory despite the name; see the module docstring."""
_MIN_READ_TIMEOUT_S = 2.0
_READ_TIMEOUT_FRAMES = 5.0
"""A frame later than this many frame intervals (and ``_MIN_READ_TIMEOUT_S``) counts as a lost camera."""

INSTALL_HINT = (
    "the picamera2 package is not installed: on Raspberry Pi OS run `sudo apt install python3-picamera2` "
    "and create the virtual environment with `python3 -m venv --system-site-packages` so it can see it "
    "(pip wheels of picamera2 do not match the system libcamera)"
)


class Picamera2Source:
    """A ``FrameSource`` for a Pi camera module. Not thread-safe: one capture thread owns it."""

    def __init__(self, config: Picamera2CameraConfig, clock: Clock) -> None:
        self._config = config
        self._clock = clock
        self._name = f"picamera2:{config.camera_index}"
        self._camera: Any = None
        self._stamper = FrameStamper(self._name, clock)
        self._opened_before = False
        self._read_timeout_s = max(_MIN_READ_TIMEOUT_S, _READ_TIMEOUT_FRAMES / config.fps)

    @property
    def name(self) -> str:
        return self._name

    def open(self) -> None:
        self.close()
        try:
            from picamera2 import Picamera2  # lazy on purpose, see the module docstring
        except ImportError:
            raise CameraError(INSTALL_HINT) from None

        cfg = self._config
        try:
            cameras = Picamera2.global_camera_info()
        except (RuntimeError, OSError) as exc:
            raise CameraError(f"{self._name}: libcamera cannot list cameras: {exc}") from exc
        if not cameras:
            raise CameraError(
                f"{self._name}: no camera found (check the ribbon cable and `rpicam-hello --list-cameras`)"
            )
        if cfg.camera_index >= len(cameras):
            raise CameraError(f"{self._name}: only {len(cameras)} camera(s) attached")

        try:
            camera = Picamera2(camera_num=cfg.camera_index)
        except (RuntimeError, OSError, IndexError) as exc:
            raise CameraError(
                f"{self._name}: cannot open the camera (in use by another process?): {exc}"
            ) from exc
        self._camera = camera
        try:
            # FrameDurationLimits is (min, max) in microseconds; equal limits fix the frame rate.
            frame_us = round(1e6 / cfg.fps)
            video_config = camera.create_video_configuration(
                main={"size": (cfg.width, cfg.height), "format": _FORMAT},
                controls={"FrameDurationLimits": (frame_us, frame_us)},
            )
            camera.configure(video_config)
            camera.start()
            actual = camera.camera_configuration()["main"]
        except (RuntimeError, OSError, ValueError) as exc:
            self.close()
            raise CameraError(f"{self._name}: cannot configure or start the camera: {exc}") from exc
        size = tuple(actual.get("size", (cfg.width, cfg.height)))
        if size != (cfg.width, cfg.height):
            _log.warning(
                "%s: asked for %dx%d, camera delivers %dx%d", self._name, cfg.width, cfg.height, *size
            )
        # INFO once; reopens are reported by the supervisor's transition log, not per attempt.
        level = logging.DEBUG if self._opened_before else logging.INFO
        self._opened_before = True
        _log.log(level, "opened %s (%dx%d %s at %.3g fps)", self._name, *size, actual.get("format"), cfg.fps)

    def read(self) -> Frame:
        camera = self._camera
        if camera is None:
            raise CameraError(f"{self._name}: read() before open()")
        try:
            # A number for ``wait`` is a timeout in seconds (picamera2 raises TimeoutError when it expires).
            array = camera.capture_array("main", wait=self._read_timeout_s)
        except TimeoutError:
            raise CameraError(f"{self._name}: no frame within {self._read_timeout_s:g} s") from None
        except (RuntimeError, OSError) as exc:
            raise CameraError(f"{self._name}: capture failed: {exc}") from exc
        pixels = np.asarray(array)
        if pixels.ndim != 3 or pixels.shape[2] not in (3, 4) or pixels.dtype != np.uint8:
            raise CameraError(f"{self._name}: unexpected array {pixels.shape} {pixels.dtype} from picamera2")
        # The stream may be padded to its stride and a 4-channel format carries an unused byte:
        # copy into the contract's dense HxWx3 layout.
        return self._stamper.stamp(np.ascontiguousarray(pixels[:, :, :3]))

    def close(self) -> None:
        camera, self._camera = self._camera, None
        if camera is None:
            return
        # close() must never raise (FrameSource contract), whatever state libcamera is in.
        try:
            camera.stop()
        except Exception:  # noqa: BLE001 - logged with traceback; close() must not raise
            _log.warning("%s: stopping the camera failed", self._name, exc_info=True)
        try:
            camera.close()
        except Exception:  # noqa: BLE001 - logged with traceback; close() must not raise
            _log.warning("%s: closing the camera failed", self._name, exc_info=True)
