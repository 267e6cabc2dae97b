"""Frames from a video file, a V4L2 device or a network stream (RTSP, HTTP), read through OpenCV.

Credentials: the configured URL never holds them (the config schema refuses inline userinfo). For a
stream with ``credentials_file`` the file is read at every ``open()`` (so a rotated secret is picked up on
the next reconnect), inserted into the URL percent-encoded, handed to OpenCV and dropped. The full URL is
never stored on the object, logged, or put into an exception message; everything human-facing uses
``redact_url``, which also drops query strings (tokens often travel there).
"""

from __future__ import annotations

import enum
import logging
import math
import os
import re
import time
from pathlib import Path
from urllib.parse import quote

import cv2
import numpy as np

from edge.capture.base import FrameStamper
from edge.clock import Clock
from edge.config import OpenCVCameraConfig
from edge.errors import CameraError
from edge.types import Frame, Pixels

_log = logging.getLogger(__name__)

_URL_RE = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<authority>[^/?#]*)(?P<path>[^?#]*)")
_DEVICE_RE = re.compile(r"^/dev/video(?P<index>\d+)$")
_USERINFO_RE = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/?#@\s]*@")

_DEFAULT_FILE_FPS = 25.0
_MAX_PLAUSIBLE_FPS = 240.0
"""A container fps above this is junk (some muxers report the timebase); fall back to the default."""
_OPEN_TIMEOUT_FACTOR = 2.0
"""Opening a stream (connect, handshake, probe) takes longer than a frame gap: twice the read timeout."""


class SourceKind(enum.StrEnum):
    """What the configured URL points at; decides backend, pacing and error wording."""

    FILE = "file"
    DEVICE = "device"
    STREAM = "stream"


def classify_url(url: str) -> SourceKind:
    """``/dev/...`` is a V4L2 device, ``scheme://...`` (not ``file://``) a stream, anything else a file."""
    if url.startswith("/dev/"):
        return SourceKind.DEVICE
    match = _URL_RE.match(url)
    if match and match["scheme"].lower() != "file":
        return SourceKind.STREAM
    return SourceKind.FILE


def redact_url(url: str) -> str:
    """``url`` without userinfo, query string or fragment: safe for names, logs and error messages.

    Plain paths are returned unchanged. Parsed by hand rather than with ``urllib.parse`` because that
    raises on malformed hosts, and this function must never fail (it builds error messages).
    """
    match = _URL_RE.match(url)
    if not match:
        return url
    host = match["authority"].rpartition("@")[2]
    return f"{match['scheme']}://{host}{match['path']}"


def scrub_userinfo(text: str) -> str:
    """Replace any ``scheme://userinfo@`` in free text with ``scheme://***@`` (defence in depth for logs)."""
    return _USERINFO_RE.sub(r"\g<scheme>***@", text)


def build_stream_url(url: str, user: str, password: str) -> str:
    """Insert ``user:password`` (percent-encoded) as the userinfo of ``url``.

    Raises ``ValueError`` (with a credential-free message) if ``url`` is not a ``scheme://`` URL or
    already carries userinfo.
    """
    match = _URL_RE.match(url)
    if not match:
        raise ValueError(f"not a scheme://host URL: {redact_url(url)}")
    authority = match["authority"]
    if "@" in authority:
        raise ValueError(f"URL already carries credentials: {redact_url(url)}")
    if not authority:
        raise ValueError(f"URL has no host: {redact_url(url)}")
    userinfo = f"{quote(user, safe='')}:{quote(password, safe='')}"
    return f"{match['scheme']}://{userinfo}@{url[match.start('authority') :]}"


def read_credentials(path: Path) -> tuple[str, str]:
    """Read ``user:password`` from ``path``. Error messages name the file, never its content."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise CameraError(f"credentials file {path} is not UTF-8 text") from None
    except OSError as exc:
        raise CameraError(f"cannot read credentials file {path}: {exc.strerror}") from None
    line = text.strip()
    user, sep, password = line.partition(":")
    if not sep or not user or "\n" in line:
        raise CameraError(f"credentials file {path} must hold exactly one line: user:password")
    return user, password


def to_bgr(image: np.ndarray) -> Pixels:
    """Normalise what a backend returned to the frame contract: BGR, uint8, HxWx3, C-contiguous."""
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise CameraError(f"unsupported pixel type {image.dtype} from the backend")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    elif image.ndim == 3 and image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    elif image.ndim != 3 or image.shape[2] != 3:
        raise CameraError(f"unsupported image shape {image.shape} from the backend")
    return np.ascontiguousarray(image)


class OpenCVSource:
    """A ``FrameSource`` over ``cv2.VideoCapture``. Not thread-safe: one capture thread owns it.

    Files are paced in real time at ``config.fps`` or the file's own fps, and loop or end with
    ``CameraError("... end of file")``. Devices and streams deliver at their own rate; a read that yields
    no frame (read timeout, unplug, dropped stream) raises ``CameraError``.
    """

    def __init__(self, config: OpenCVCameraConfig, clock: Clock) -> None:
        self._config = config
        self._clock = clock
        self._kind = classify_url(config.url)
        self._name = redact_url(config.url)
        self._cap: cv2.VideoCapture | None = None
        self._stamper = FrameStamper(self._name, clock)
        self._frame_interval_ns = 0
        """Real-time pacing for files; 0 means the source paces itself."""
        self._deadline_ns: int | None = None
        self._opened_before = False

    @property
    def name(self) -> str:
        return self._name

    @property
    def kind(self) -> SourceKind:
        return self._kind

    def open(self) -> None:
        self.close()
        try:
            match self._kind:
                case SourceKind.FILE:
                    cap = self._open_file()
                case SourceKind.DEVICE:
                    cap = self._open_device()
                case SourceKind.STREAM:
                    cap = self._open_stream()
        except cv2.error as exc:
            # ``from None``: the chained OpenCV error could carry the URL we handed it.
            raise CameraError(
                f"{self._name}: OpenCV failed to open: {scrub_userinfo(str(exc.err))}"
            ) from None
        self._cap = cap
        self._deadline_ns = None
        width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        # INFO once; reopens are reported by the supervisor's transition log, not per attempt.
        level = logging.DEBUG if self._opened_before else logging.INFO
        self._opened_before = True
        _log.log(level, "opened %s %s (%dx%d)", self._kind, self._name, width, height)

    def read(self) -> Frame:
        cap = self._cap
        if cap is None:
            raise CameraError(f"{self._name}: read() before open()")
        try:
            ok, image = cap.read()
            if not ok or image is None:
                image = self._handle_no_frame()
        except cv2.error as exc:
            raise CameraError(f"{self._name}: OpenCV read failed: {scrub_userinfo(str(exc.err))}") from None
        pixels = to_bgr(image)
        if self._frame_interval_ns:
            self._pace()
        return self._stamper.stamp(pixels)

    def close(self) -> None:
        cap, self._cap = self._cap, None
        if cap is None:
            return
        try:
            cap.release()
        except cv2.error:
            _log.warning("releasing %s failed; dropping it anyway", self._name, exc_info=True)

    # ----------------------------------------------------------------------------------- opening

    def _file_path(self) -> Path:
        match = _URL_RE.match(self._config.url)
        return Path(match["path"]) if match else Path(self._config.url)

    def _open_file(self) -> cv2.VideoCapture:
        path = self._file_path()
        if not path.is_file():
            raise CameraError(f"video file not found: {path}")
        if not os.access(path, os.R_OK):
            raise CameraError(f"video file not readable (permissions): {path}")
        cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
        if not cap.isOpened():
            cap.release()
            raise CameraError(f"cannot decode video file {path}: not a video, damaged, or unsupported codec")
        fps = self._config.fps or float(cap.get(cv2.CAP_PROP_FPS))
        if not (math.isfinite(fps) and 0 < fps <= _MAX_PLAUSIBLE_FPS):
            _log.warning("%s reports %.3g fps; pacing at %.0f fps", path, fps, _DEFAULT_FILE_FPS)
            fps = _DEFAULT_FILE_FPS
        self._frame_interval_ns = round(1e9 / fps)
        return cap

    def _open_device(self) -> cv2.VideoCapture:
        url = self._config.url
        # Resolve udev links (/dev/v4l/by-id/...) at every open: the node may change after a replug.
        real = os.path.realpath(url)
        if not os.path.exists(real):
            raise CameraError(f"video device not found: {url}")
        match = _DEVICE_RE.match(real)
        if match:
            cap = cv2.VideoCapture(int(match["index"]), cv2.CAP_V4L2)
        else:
            cap = cv2.VideoCapture(real, cv2.CAP_V4L2)
        if not cap.isOpened():
            cap.release()
            raise CameraError(f"cannot open video device {url}: busy, no permission, or not a capture device")
        cfg = self._config
        if cfg.width is not None:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, cfg.width)
        if cfg.height is not None:
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, cfg.height)
        if cfg.fps is not None:
            cap.set(cv2.CAP_PROP_FPS, cfg.fps)
        # Not every OpenCV build honours a V4L2 read timeout; without it the backend's own select()
        # timeout bounds a stalled read. The result is deliberately ignored.
        cap.set(cv2.CAP_PROP_READ_TIMEOUT_MSEC, cfg.read_timeout_s * 1000.0)
        self._frame_interval_ns = 0
        return cap

    def _open_stream(self) -> cv2.VideoCapture:
        cfg = self._config
        url = cfg.url
        if cfg.credentials_file is not None:
            user, password = read_credentials(cfg.credentials_file)
            try:
                url = build_stream_url(url, user, password)
            except ValueError as exc:
                raise CameraError(f"cannot use credentials_file with this URL: {exc}") from None
        open_timeout_ms = round(cfg.read_timeout_s * _OPEN_TIMEOUT_FACTOR * 1000)
        read_timeout_ms = round(cfg.read_timeout_s * 1000)
        # Timeouts go in as open parameters: FFmpeg's interrupt callback needs them before connecting.
        params = [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
            open_timeout_ms,
            cv2.CAP_PROP_READ_TIMEOUT_MSEC,
            read_timeout_ms,
        ]
        cap = cv2.VideoCapture(url, cv2.CAP_FFMPEG, params)
        del url  # the only copy that holds the secret; the capture keeps its own
        if not cap.isOpened():
            cap.release()
            raise CameraError(
                f"cannot open stream {self._name}: unreachable, refused, wrong credentials, "
                f"or no video within {open_timeout_ms / 1000:.1f} s"
            )
        self._frame_interval_ns = 0
        return cap

    # ----------------------------------------------------------------------------------- reading

    def _handle_no_frame(self) -> np.ndarray:
        """The backend returned no frame: loop a file, otherwise report the source as lost."""
        match self._kind:
            case SourceKind.FILE:
                if not self._config.loop:
                    raise CameraError(f"{self._name}: end of file")
                return self._rewind()
            case SourceKind.DEVICE:
                raise CameraError(
                    f"{self._name}: no frame from the device (unplugged, stalled, "
                    f"or nothing within the {self._config.read_timeout_s:g} s read timeout)"
                )
            case SourceKind.STREAM:
                raise CameraError(
                    f"{self._name}: stream ended or no frame within {self._config.read_timeout_s:g} s"
                )

    def _rewind(self) -> np.ndarray:
        # Reopening rather than seeking: seeking to 0 is unreliable for some containers, and a reopen
        # also notices a file that was replaced or removed.
        if self._cap is not None:
            self._cap.release()
        self._cap = None
        cap = self._open_file()
        self._cap = cap
        ok, image = cap.read()
        if not ok or image is None:
            raise CameraError(f"{self._name}: no frames in file")
        _log.debug("%s: looped to the start", self._name)
        return image

    def _pace(self) -> None:
        """Sleep until this frame's real-time deadline, so a file plays like a camera, not a burst."""
        now_ns = time.monotonic_ns()
        if self._deadline_ns is None or now_ns - self._deadline_ns > self._frame_interval_ns:
            # First frame, or the consumer fell more than a frame behind: start a new schedule rather
            # than burst frames to catch up.
            self._deadline_ns = now_ns
        elif now_ns < self._deadline_ns:
            time.sleep((self._deadline_ns - now_ns) / 1e9)
        self._deadline_ns += self._frame_interval_ns
