"""The diagnostics page's parts on their own: focus meter, time sync, login limiter, sessions, technicians."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from edge.clock import FakeClock
from edge.diagnostics.focus import focus_score
from edge.diagnostics.timesync import read_time_sync
from edge.diagnostics.web.auth import LoginLimiter, Sessions, Technicians, csrf_ok
from edge.diagnostics.web.node_view import EventRing
from edge.diagnostics.web.view import MaskOutline, MaskOutlines
from edge.privacy.events import PrivacyEvent
from edge.provision.technicians import hash_password


def _jpeg(image: npt.NDArray[np.uint8]) -> bytes:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return buf.tobytes()


def test_focus_drops_with_blur_and_ignores_masked_areas() -> None:
    rng = np.random.default_rng(3)
    noise = (rng.random((180, 320)) > 0.5).astype(np.uint8) * 255
    sharp = np.asarray(cv2.cvtColor(noise, cv2.COLOR_GRAY2BGR), np.uint8)
    blurred = np.asarray(cv2.GaussianBlur(sharp, (0, 0), 2.0), np.uint8)
    none = MaskOutlines(320, 180, ())
    sharp_score, blurred_score = focus_score(_jpeg(sharp), none), focus_score(_jpeg(blurred), none)
    assert sharp_score is not None and blurred_score is not None and sharp_score > 5 * blurred_score
    # Detail inside a mask does not count: a sharp patch under the mask leaves a flat view at zero.
    flat = np.full((180, 320, 3), 128, np.uint8)
    flat[0:96, 0:160] = sharp[0:96, 0:160]  # on JPEG's 8 px block grid, so no ringing leaks out
    mask = MaskOutlines(320, 180, (MaskOutline("m", ((0, 0), (160, 0), (160, 96), (0, 96))),))
    score = focus_score(_jpeg(flat), mask)
    assert score is not None and score < sharp_score / 100, (score, sharp_score)
    everything = MaskOutlines(320, 180, (MaskOutline("all", ((0, 0), (320, 0), (320, 180), (0, 180))),))
    assert focus_score(_jpeg(flat), everything) is None


def test_time_sync_from_the_timesyncd_flag(tmp_path: Path) -> None:
    flag = tmp_path / "synchronized"
    assert read_time_sync(flag, use_timedatectl=False).state == "unknown"
    flag.touch()
    assert read_time_sync(flag, use_timedatectl=False).state == "synchronized"


def test_login_limiter_window() -> None:
    clock = FakeClock()
    limiter = LoginLimiter(2, 60, clock)
    limiter.failed("addr:a", "name:x")
    limiter.failed("addr:a", "name:y")
    assert not limiter.allowed("addr:a", "name:z")  # the address is over the limit
    assert limiter.allowed("addr:b", "name:x")  # one failure for x so far
    clock.advance(61)
    assert limiter.allowed("addr:a", "name:z")


def test_sessions_expire_and_csrf_compares() -> None:
    clock = FakeClock()
    sessions = Sessions(60, clock)
    session = sessions.create("alice")
    assert sessions.get(session.token) == session and sessions.get("other") is None
    assert csrf_ok(session, session.csrf) and not csrf_ok(session, None) and not csrf_ok(session, "x")
    clock.advance(61)
    assert sessions.get(session.token) is None


def test_technicians_file_is_reread_and_unknown_names_fail(tmp_path: Path) -> None:
    path = tmp_path / "technicians"
    technicians = Technicians(path)
    assert not technicians.verify("alice", "a password of some length")  # no file: nobody
    path.write_text(f"alice:{hash_password('a password of some length')}\n")
    assert technicians.verify("alice", "a password of some length")
    assert not technicians.verify("bob", "a password of some length")
    path.write_text("garbage\n")
    assert not technicians.verify("alice", "a password of some length")


def test_event_ring_keeps_the_newest() -> None:
    ring = EventRing(size=2)
    for i in range(3):
        ring.add_privacy(PrivacyEvent("tamper", f"cause{i}", {}, ts_ns=i, actor="alice"))
    assert [e.cause for e in ring.snapshot()] == ["cause1", "cause2"]
