"""Camera displacement and tampering: the synthetic camera's pixels, warped as a knocked camera sees.

Small drift: masks follow the view. Large displacement, covered, defocused, dark or a different scene: every
frame is blanked and a ``tamper`` event names the cause, until a technician approves the view again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from edge.capture.synthetic import SyntheticStreetCamera
from edge.clock import FakeClock
from edge.config import SyntheticCameraConfig
from edge.privacy import PrivacyEvent, PrivacyStage, TamperStatus
from edge.privacy.reference import REFERENCE_FILE, analysis_size, write_npz
from edge.privacy.stage import PrivacyMode
from edge.privacy.tamper import TamperDetector
from edge.types import Frame, MaskedFrame
from tests.test_privacy_scene import demo_masks, demo_privacy, fresh, street, truth_pixels

Pixels = npt.NDArray[np.uint8]
FILL = (5, 6, 7)
FAST = {"check_every_frames": 2, "confirm_checks": 2}


def warp(
    pixels: Pixels, *, dx: float = 0.0, dy: float = 0.0, angle: float = 0.0, zoom: float = 1.0
) -> Pixels:
    """The view of a camera moved by (dx, dy) shares of the width, turned by ``angle``° and zoomed."""
    h, w = pixels.shape[:2]
    m = _matrix(w, h, dx=dx, dy=dy, angle=angle, zoom=zoom)
    return np.asarray(cv2.warpAffine(pixels, m, (w, h), borderMode=cv2.BORDER_REPLICATE), np.uint8)


def _matrix(w: int, h: int, *, dx: float, dy: float, angle: float, zoom: float) -> npt.NDArray[np.float64]:
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, zoom)
    m[0, 2] += dx * w
    m[1, 2] += dy * w
    return np.asarray(m, np.float64)


def covered_lens(pixels: Pixels) -> Pixels:
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 2.0, pixels.shape)
    return np.clip(np.full(pixels.shape, (40, 52, 60), np.float64) + noise, 0, 255).astype(np.uint8)


def defocused(pixels: Pixels) -> Pixels:
    return np.asarray(cv2.GaussianBlur(pixels, (0, 0), 6), np.uint8)


def darkened(pixels: Pixels) -> Pixels:
    return (pixels.astype(np.uint16) // 10).astype(np.uint8)


def mirrored(pixels: Pixels) -> Pixels:
    return np.ascontiguousarray(pixels[:, ::-1])


class Run:
    """A privacy stage fed with the synthetic street, recording every output and event."""

    def __init__(self, tmp_path: Path | None = None, **tamper: object) -> None:
        self.events: list[PrivacyEvent] = []
        self.clock = FakeClock()
        self.stage = PrivacyStage(
            demo_privacy(fill_bgr=FILL, tamper={**FAST, **tamper}),
            state_dir=tmp_path,
            on_event=self.events.append,
            clock=self.clock,
        )
        self.index = 0

    def feed(
        self, frames: tuple[Frame, ...], change: Callable[[Pixels], Pixels] | None = None
    ) -> list[MaskedFrame]:
        out = []
        for frame in frames:
            pixels = np.asarray(frame.pixels) if change is None else change(np.asarray(frame.pixels))
            masked = self.stage.process(fresh(frame, pixels, index=self.index))
            self.index += 1
            assert masked is not None
            out.append(masked)
        return out

    def kinds(self) -> list[tuple[str, str]]:
        return [(e.kind, e.cause) for e in self.events]


def blanked(frame: MaskedFrame) -> bool:
    return frame.blanked and bool((frame.pixels == FILL).all())


def approved(run: Run, actor: str = "tech-1") -> None:
    run.stage.approve_view(actor=actor)
    frames = run.feed(street(40)[:12])
    assert not any(f.blanked for f in frames)
    assert run.stage.state().tamper is TamperStatus.OK


# ---------------------------------------------------------------------------------------- no reference


def test_without_a_reference_frames_flow_and_health_warns() -> None:
    run = Run()
    frames = run.feed(street(40)[:5])
    assert not any(f.blanked for f in frames)
    state = run.stage.state()
    assert state.mode is PrivacyMode.MASKING
    assert state.tamper is TamperStatus.NO_REFERENCE
    assert "no reference view" in state.warning
    assert state.reference_id == ""


def test_a_required_reference_blanks_frames_until_the_view_is_approved() -> None:
    run = Run(require_reference=True)
    assert all(blanked(f) for f in run.feed(street(40)[:3]))
    assert run.stage.state().mode is PrivacyMode.FAIL_CLOSED
    run.stage.approve_view(actor="tech-1")
    assert not any(f.blanked for f in run.feed(street(40)[3:6]))
    assert run.stage.state().mode is PrivacyMode.MASKING


# ---------------------------------------------------------------------------------- reference handling


def test_approving_takes_a_masked_reference_stores_it_and_changes_the_mask_id(tmp_path: Path) -> None:
    run = Run(tmp_path)
    before = run.stage.state().mask_id
    approved(run)
    state = run.stage.state()
    assert state.reference_id.startswith("r1-")
    assert state.mask_id != before
    assert ("masks_changed", "view_approved") in run.kinds()
    assert run.events[-1].actor == "tech-1" and run.events[-1].mask_id == state.mask_id
    with np.load(tmp_path / "privacy" / REFERENCE_FILE) as data:
        gray, valid = data["gray"], data["valid"]
    assert gray.shape[::-1] == analysis_size(640, 360, 320)
    # Nothing the masks hide is in the stored view: every masked pixel at that size is zero and unused.
    masked_small = demo_masks().coverage(*gray.shape[::-1])
    assert (gray[masked_small] == 0).all() and (valid[masked_small] == 0).all()
    assert (valid > 0).mean() > 0.4

    again = Run(tmp_path)
    assert again.stage.state().reference_id == state.reference_id
    assert again.stage.state().mask_id == state.mask_id
    assert not any(f.blanked for f in again.feed(street(40)[12:18]))
    assert again.stage.state().tamper is TamperStatus.OK


def test_a_reference_that_does_not_match_its_id_blanks_everything(tmp_path: Path) -> None:
    approved(Run(tmp_path))
    path = tmp_path / "privacy" / REFERENCE_FILE
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["gray"] = arrays["gray"].copy()
    arrays["gray"][50:60, 200:210] = 255
    write_npz(path, **arrays)

    run = Run(tmp_path)
    assert run.kinds() == [("tamper", "reference_invalid")]
    assert run.stage.state().mode is PrivacyMode.FAIL_CLOSED
    assert all(blanked(f) for f in run.feed(street(40)[:4]))
    run.stage.approve_view(actor="tech-2")
    assert not any(f.blanked for f in run.feed(street(40)[4:8]))
    assert ("tamper_cleared", "view_approved") in run.kinds()


def test_a_featureless_view_is_not_accepted_as_reference() -> None:
    run = Run()
    run.stage.approve_view(actor="tech-1")
    run.feed(street(40)[:1], covered_lens)
    assert run.kinds() == [("alarm", "reference_rejected")]
    state = run.stage.state()
    assert state.tamper is TamperStatus.NO_REFERENCE and "rejected" in state.warning


# -------------------------------------------------------------------------------------------- drift


@pytest.mark.parametrize(
    "move",
    [{"dx": 0.012, "dy": -0.006}, {"angle": 0.6}, {"zoom": 1.012}],
    ids=["shift 1.3 %", "rotate 0.6 deg", "zoom 1.2 %"],
)
def test_small_drift_is_followed_by_the_masks(move: dict[str, float]) -> None:
    run = Run()
    approved(run)
    frames = run.feed(street(40)[12:32], lambda p: warp(p, **move))
    assert run.kinds() == [("masks_changed", "view_approved")]  # no tamper, no suspicion
    assert not any(f.blanked for f in frames)
    state = run.stage.state()
    assert state.tamper is TamperStatus.OK
    # The masks are moved by what was measured, and what was measured is what happened.
    assert run.stage.applied_masks().warp is not None
    assert state.shift_share == pytest.approx(np.hypot(move.get("dx", 0.0), move.get("dy", 0.0)), abs=0.002)
    assert state.rotation_deg == pytest.approx(-move.get("angle", 0.0), abs=0.15)  # y points down
    assert state.scale == pytest.approx(move.get("zoom", 1.0), abs=0.003)
    m = _matrix(640, 360, **{"dx": 0.0, "dy": 0.0, "angle": 0.0, "zoom": 1.0, **move})
    truth = street(40)[0].truth
    assert truth is not None
    moved = tuple(
        tuple(tuple(m @ np.array([x, y, 1.0])) for x, y in polygon) for polygon in truth.private_areas
    )
    private = truth_pixels(moved, 640, 360)
    # Frames after the first check on the moved view (the check cadence is 2) must cover the moved areas.
    for frame in frames[2:]:
        leaked = private & ~(frame.pixels == FILL).all(axis=2)
        assert not leaked.any(), f"frame {frame.index}: {int(leaked.sum())} private pixels of the moved view"


# ------------------------------------------------------------------------------------------- tamper


@pytest.mark.parametrize(
    ("change", "cause"),
    [
        (lambda p: warp(p, dx=0.08), "displaced"),
        (lambda p: warp(p, dy=-0.04), "displaced"),
        (lambda p: warp(p, angle=5.0), "rotated"),
        (lambda p: warp(p, zoom=1.15), "zoomed"),
        (covered_lens, "covered"),
        (defocused, "defocused"),
        (darkened, "dark"),
        (mirrored, "scene_changed"),
    ],
    ids=[
        "shift 8 %",
        "shift 4 % up",
        "rotate 5 deg",
        "zoom 15 %",
        "covered",
        "defocused",
        "dark",
        "other view",
    ],
)
def test_tampering_blanks_every_frame_until_a_technician_approves(
    change: Callable[[Pixels], Pixels], cause: str
) -> None:
    run = Run()
    approved(run)
    frames = run.feed(street(40)[12:20], change)
    # The first check on the changed view (at most 2 frames in) blanks; the second confirms it.
    assert all(blanked(f) for f in frames[2:])
    assert run.kinds()[-1] == ("tamper", cause)
    event = run.events[-1]
    assert event.measured and event.mask_id == run.stage.state().mask_id
    state = run.stage.state()
    assert state.mode is PrivacyMode.FAIL_CLOSED and state.tamper is TamperStatus.TAMPERED
    assert state.tamper_cause == cause and cause in state.reason

    # Latched: even when the view looks right again, nothing flows until someone approves.
    assert all(blanked(f) for f in run.feed(street(40)[20:26]))
    run.stage.approve_view(actor="tech-2")
    after = run.feed(street(40)[26:34])
    assert not any(f.blanked for f in after)
    assert run.kinds()[-2:] == [("tamper_cleared", "view_approved"), ("masks_changed", "view_approved")]
    assert run.events[-1].actor == "tech-2"
    assert run.stage.state().tamper is TamperStatus.OK


def test_a_passing_suspicion_blanks_without_raising_an_alarm() -> None:
    run = Run(confirm_checks=3)
    approved(run)
    frames = run.feed(street(40)[12:14], mirrored) + run.feed(street(40)[14:24])
    assert any(blanked(f) for f in frames[:3])
    assert not any(f.blanked for f in frames[-6:])
    assert [k for k, _ in run.kinds()] == ["masks_changed"]
    assert run.stage.state().tamper is TamperStatus.OK


def test_detection_latency_with_the_default_cadence() -> None:
    run = Run(check_every_frames=10, confirm_checks=2)
    approved(run)
    run.feed(street(40)[12:15])  # the next check is at an arbitrary point of the cadence
    frames = run.feed(street(40)[15:40], lambda p: warp(p, dx=0.1))
    first_blank = next(i for i, f in enumerate(frames) if f.blanked)
    alarm_at = next(i for i, e in enumerate(run.events) if e.kind == "tamper")
    assert first_blank <= 10  # at most one check interval shows the displaced view
    assert all(f.blanked for f in frames[first_blank:])
    assert alarm_at == len(run.events) - 1
    assert run.stage.state().frames_blanked == len(frames) - first_blank


# --------------------------------------------------------------------------------------- false alarms


def _frames(n: int, width: int, height: int, lighting: str, cycle_seconds: float = 600.0) -> Iterator[Frame]:
    config = SyntheticCameraConfig(
        type="synthetic",
        width=width,
        height=height,
        realtime=False,
        vehicles_per_minute=20,
        lighting=lighting,
        cycle_seconds=cycle_seconds,
    )
    camera = SyntheticStreetCamera(config, FakeClock())
    camera.open()
    for _ in range(n):
        yield camera.read()


def test_no_false_alarm_on_the_busy_day_scene() -> None:
    run = Run(check_every_frames=5)
    run.stage.approve_view(actor="tech-1")
    statuses = set()
    for frame in _frames(400, 640, 360, "day"):
        out = run.stage.process(frame)
        assert out is not None and not out.blanked
        statuses.add(run.stage.state().tamper)
    assert statuses == {TamperStatus.OK}
    assert [k for k, _ in run.kinds()] == ["masks_changed"]
    assert run.stage.state().shift_share < 0.003


def test_no_false_alarm_from_noon_to_night(tmp_path: Path) -> None:
    # Half a 20 s day/night cycle: light falls 25 times faster than at the real node's quickest dusk.
    run = Run(tmp_path, check_every_frames=1)
    run.stage.approve_view(actor="tech-1")
    luxes = []
    for frame in _frames(250, 320, 180, "cycle", cycle_seconds=20.0):
        out = run.stage.process(frame)
        assert out is not None and not out.blanked, (frame.index, run.stage.state())
        assert frame.truth is not None
        luxes.append(frame.truth.lux)
    assert luxes[0] == 1.0 and luxes[-1] < 0.1
    assert [k for k, _ in run.kinds()] == ["masks_changed"]
    assert run.stage.state().shift_share < 0.01


# ------------------------------------------------------------------------------------------- errors


def test_an_error_in_the_view_check_lets_nothing_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    run = Run()
    approved(run)

    def broken(self: TamperDetector, gray: object, valid: object) -> object:
        raise cv2.error("simulated failure")

    monkeypatch.setattr(TamperDetector, "check", broken)
    for frame in street(40)[12:16]:
        assert run.stage.process(fresh(frame)) is None
    state = run.stage.state()
    assert state.mode is PrivacyMode.FAIL_CLOSED and "simulated failure" in state.reason
    assert state.frames_blocked == 4
    assert [e for e in run.kinds() if e[0] == "alarm"] == [("alarm", "masking_failed: error")]
    monkeypatch.undo()
    assert not any(f.blanked for f in run.feed(street(40)[16:20]))
    assert run.stage.state().mode is PrivacyMode.MASKING
