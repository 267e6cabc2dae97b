"""OpenCVSource against a real H.264 file, a real (refusing / silent) TCP endpoint, and real files."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pytest

from edge.capture.opencv_source import (
    OpenCVSource,
    SourceKind,
    build_stream_url,
    classify_url,
    read_credentials,
    redact_url,
    scrub_userinfo,
    to_bgr,
)
from edge.clock import FakeClock, SystemClock
from edge.config import OpenCVCameraConfig
from edge.errors import CameraError
from tests.camera_video import BLUE_CENTRE, HEIGHT, RED_CENTRE, WIDTH, frame_number, write_test_video

PASSWORD = "S3cr3t!p@ss:w/rd"
FRAMES = 40


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_test_video(tmp_path_factory.mktemp("video") / "clip.mp4", frames=FRAMES, fps=25)


def file_config(path: Path, **overrides: object) -> OpenCVCameraConfig:
    fields: dict[str, object] = {"type": "opencv", "url": str(path), "fps": 120.0}
    fields.update(overrides)
    return OpenCVCameraConfig.model_validate(fields)


@pytest.fixture
def source_factory() -> Iterator[list[OpenCVSource]]:
    """Sources created by a test, closed afterwards whatever happens."""
    sources: list[OpenCVSource] = []
    yield sources
    for source in sources:
        source.close()


def make(sources: list[OpenCVSource], config: OpenCVCameraConfig) -> OpenCVSource:
    source = OpenCVSource(config, SystemClock())
    sources.append(source)
    return source


def closed_port() -> int:
    """A local port nobody listens on (connections are refused at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# ------------------------------------------------------------------------------------------------ files


def test_reads_every_frame_in_order_as_bgr(video: Path, source_factory: list[OpenCVSource]) -> None:
    clock = FakeClock()
    source = OpenCVSource(file_config(video), clock)
    source_factory.append(source)
    source.open()
    frames = [source.read() for _ in range(FRAMES)]

    assert [f.index for f in frames] == list(range(FRAMES))
    assert [frame_number(f.pixels) for f in frames] == list(range(FRAMES))
    for frame in frames:
        assert frame.pixels.shape == (HEIGHT, WIDTH, 3)
        assert frame.pixels.dtype == np.uint8
        assert frame.pixels.flags.c_contiguous
        assert frame.source == str(video) == source.name
        assert frame.capture_ts_ns == clock.time_ns()
        assert frame.truth is None
    # Channel order: index 2 is red and index 0 is blue in BGR.
    blue, green, red = (int(c) for c in frames[0].pixels[RED_CENTRE])
    assert (red > 200, green < 60, blue < 60) == (True, True, True), "red patch must read as red"
    blue, green, red = (int(c) for c in frames[0].pixels[BLUE_CENTRE])
    assert (blue > 200, green < 60, red < 60) == (True, True, True), "blue patch must read as blue"

    with pytest.raises(CameraError, match="end of file"):
        source.read()


def test_loops_at_end_of_file_and_keeps_counting(video: Path, source_factory: list[OpenCVSource]) -> None:
    source = make(source_factory, file_config(video, loop=True))
    source.open()
    frames = [source.read() for _ in range(FRAMES + 10)]
    assert [f.index for f in frames] == list(range(FRAMES + 10))
    assert [frame_number(f.pixels) for f in frames] == [*range(FRAMES), *range(10)]


def test_frame_index_continues_across_reopen(video: Path, source_factory: list[OpenCVSource]) -> None:
    source = make(source_factory, file_config(video))
    source.open()
    assert [source.read().index for _ in range(5)] == [0, 1, 2, 3, 4]
    source.close()
    source.close()  # idempotent
    source.open()
    frame = source.read()
    assert frame.index == 5
    assert frame_number(frame.pixels) == 0


def test_paces_at_the_configured_fps(video: Path, source_factory: list[OpenCVSource]) -> None:
    source = make(source_factory, file_config(video, fps=20.0))
    source.open()
    source.read()
    started = time.monotonic()
    for _ in range(5):
        source.read()
    assert time.monotonic() - started >= 5 * 0.05 * 0.9


def test_paces_at_the_file_fps_by_default(video: Path, source_factory: list[OpenCVSource]) -> None:
    source = make(source_factory, file_config(video, fps=None))
    source.open()
    source.read()
    started = time.monotonic()
    for _ in range(4):
        source.read()
    assert time.monotonic() - started >= 4 * 0.04 * 0.9  # the clip is 25 fps


def test_missing_file_is_a_clear_camera_error(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.mp4"
    source = OpenCVSource(file_config(missing), SystemClock())
    with pytest.raises(CameraError, match="video file not found") as caught:
        source.open()
    assert str(missing) in str(caught.value)
    source.close()


def test_a_file_that_is_not_a_video_is_a_clear_camera_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video " * 100)
    source = OpenCVSource(file_config(junk), SystemClock())
    with pytest.raises(CameraError, match="cannot decode video file"):
        source.open()


def test_read_before_open_is_a_camera_error(video: Path) -> None:
    with pytest.raises(CameraError, match="before open"):
        OpenCVSource(file_config(video), SystemClock()).read()


def test_missing_device_is_a_clear_camera_error() -> None:
    source = OpenCVSource(file_config(Path("/dev/video99")), SystemClock())
    assert source.kind is SourceKind.DEVICE
    with pytest.raises(CameraError, match="video device not found: /dev/video99"):
        source.open()


# ------------------------------------------------------------------------------------------ url helpers


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("/srv/clips/street.mp4", SourceKind.FILE),
        ("clips/street.mp4", SourceKind.FILE),
        ("file:///srv/clips/street.mp4", SourceKind.FILE),
        ("/dev/video0", SourceKind.DEVICE),
        ("/dev/v4l/by-id/usb-cam-video-index0", SourceKind.DEVICE),
        ("rtsp://cam.local:554/stream1", SourceKind.STREAM),
        ("https://cam.local/video.mjpg", SourceKind.STREAM),
    ],
)
def test_classify_url(url: str, kind: SourceKind) -> None:
    assert classify_url(url) is kind


@pytest.mark.parametrize(
    ("url", "redacted"),
    [
        ("rtsp://cam.local:554/live/ch1?token=abc&user=x", "rtsp://cam.local:554/live/ch1"),
        ("rtsp://admin:hunter2@cam.local/live#frag", "rtsp://cam.local/live"),
        ("rtsp://admin:hunter2@[fe80::1]:554", "rtsp://[fe80::1]:554"),
        ("http://cam.local?key=secret", "http://cam.local"),
        ("rtsp://[broken/stream", "rtsp://[broken/stream"),
        ("/srv/clips/a.mp4", "/srv/clips/a.mp4"),
    ],
)
def test_redact_url_drops_userinfo_and_query(url: str, redacted: str) -> None:
    assert redact_url(url) == redacted


def test_build_stream_url_percent_encodes_the_credentials() -> None:
    url = build_stream_url("rtsp://cam.local:554/live/ch1?subtype=0", "op erator", PASSWORD)
    assert url == f"rtsp://op%20erator:{quote(PASSWORD, safe='')}@cam.local:554/live/ch1?subtype=0"
    assert url == "rtsp://op%20erator:S3cr3t%21p%40ss%3Aw%2Frd@cam.local:554/live/ch1?subtype=0"
    assert build_stream_url("rtsp://10.0.0.7", "u", "p") == "rtsp://u:p@10.0.0.7"


@pytest.mark.parametrize("url", ["rtsp://a:b@cam.local/x", "/srv/clip.mp4", "rtsp:///path"])
def test_build_stream_url_refuses_urls_it_cannot_extend(url: str) -> None:
    with pytest.raises(ValueError, match="URL") as caught:
        build_stream_url(url, "user", PASSWORD)
    assert PASSWORD not in str(caught.value)


def test_scrub_userinfo_in_free_text() -> None:
    text = "failed: rtsp://admin:hunter2@cam.local/x and http://u:p@h"
    assert scrub_userinfo(text) == "failed: rtsp://***@cam.local/x and http://***@h"


def test_read_credentials(tmp_path: Path) -> None:
    good = tmp_path / "cred"
    good.write_text(f"viewer:{PASSWORD}\n", encoding="utf-8")
    assert read_credentials(good) == ("viewer", PASSWORD)

    bad = tmp_path / "bad"
    bad.write_text("just-a-password-without-user\n", encoding="utf-8")
    with pytest.raises(CameraError, match="user:password") as caught:
        read_credentials(bad)
    assert "just-a-password" not in str(caught.value)

    with pytest.raises(CameraError, match="cannot read credentials file"):
        read_credentials(tmp_path / "absent")


def test_to_bgr_normalises_grey_and_bgra() -> None:
    grey = np.full((4, 6), 77, np.uint8)
    assert to_bgr(grey).shape == (4, 6, 3)
    bgra = np.zeros((4, 6, 4), np.uint8)
    bgra[..., 2] = 200
    out = to_bgr(bgra)
    assert out.shape == (4, 6, 3)
    assert out.flags.c_contiguous
    assert int(out[0, 0, 2]) == 200
    assert to_bgr(np.full((2, 2, 3), 0x8000, np.uint16)).dtype == np.uint8


# -------------------------------------------------------------------------------- streams and secrets


def stream_config(tmp_path: Path, port: int, read_timeout_s: float = 1.0) -> OpenCVCameraConfig:
    cred = tmp_path / "stream.cred"
    cred.write_text(f"admin:{PASSWORD}\n", encoding="utf-8")
    return OpenCVCameraConfig(
        type="opencv",
        url=f"rtsp://127.0.0.1:{port}/live/ch1?session=tok123",
        credentials_file=cred,
        read_timeout_s=read_timeout_s,
    )


def assert_no_secret(text: str) -> None:
    assert PASSWORD not in text
    assert quote(PASSWORD, safe="") not in text
    assert "tok123" not in text


def test_credentials_never_reach_name_errors_logs_or_stderr(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    port = closed_port()
    source = OpenCVSource(stream_config(tmp_path, port), SystemClock())
    assert source.name == f"rtsp://127.0.0.1:{port}/live/ch1"
    assert source.kind is SourceKind.STREAM
    with pytest.raises(CameraError, match="cannot open stream") as caught:
        source.open()
    source.close()

    assert_no_secret(str(caught.value))
    assert caught.value.__cause__ is None
    assert PASSWORD not in repr(vars(source))  # the built URL is not kept on the object
    assert_no_secret(caplog.text)
    out, err = capfd.readouterr()  # what OpenCV / FFmpeg print natively
    assert_no_secret(out + err)


def test_silent_stream_gives_up_after_the_open_timeout(tmp_path: Path) -> None:
    # The kernel completes the TCP handshake for a listening socket even if nobody accepts, so this is
    # a server that connects and then never says a word.
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(4)
        port = server.getsockname()[1]
        source = OpenCVSource(stream_config(tmp_path, port, read_timeout_s=0.25), SystemClock())
        started = time.monotonic()
        with pytest.raises(CameraError, match=r"no video within 0\.5 s") as caught:
            source.open()
        assert time.monotonic() - started < 5.0
    assert_no_secret(str(caught.value))


def test_unreadable_credentials_file_is_named_but_not_shown(tmp_path: Path) -> None:
    config = OpenCVCameraConfig(
        type="opencv", url="rtsp://127.0.0.1:1/live", credentials_file=tmp_path / "missing.cred"
    )
    with pytest.raises(CameraError, match=r"cannot read credentials file .*missing\.cred"):
        OpenCVSource(config, SystemClock()).open()


def test_credentials_with_a_url_that_has_no_host_is_a_camera_error(tmp_path: Path) -> None:
    config = stream_config(tmp_path, 1).model_copy(update={"url": "rtsp:///live"})
    with pytest.raises(CameraError, match="URL has no host") as caught:
        OpenCVSource(config, SystemClock()).open()
    assert_no_secret(str(caught.value))
