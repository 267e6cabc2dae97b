"""Live mask updates: validated, swapped atomically between frames, announced, fail closed when empty."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from edge.clock import FakeClock
from edge.privacy import MaskSet, MaskSetError, Polygon, PrivacyEvent, PrivacyStage
from edge.privacy.reference import REFERENCE_FILE
from edge.privacy.stage import PrivacyMode
from edge.types import Frame, MaskedFrame
from tests.test_privacy_scene import demo_masks, demo_privacy, fresh, street

FILL = (3, 4, 5)
LEFT = MaskSet((Polygon("left", ((0.0, 0.0), (0.4, 0.0), (0.4, 1.0), (0.0, 1.0))),), fill_bgr=FILL)
RIGHT = MaskSet((Polygon("right", ((0.6, 0.0), (1.0, 0.0), (1.0, 0.6))),), fill_bgr=FILL)


def noise_frame(index: int, width: int = 160, height: int = 90) -> Frame:
    pixels = np.random.default_rng(index).integers(10, 250, (height, width, 3), dtype=np.uint8)
    return Frame(pixels=pixels, index=index, capture_ts_ns=index, monotonic_ns=index, source="test")


def covers(frame: MaskedFrame, masks: MaskSet) -> bool:
    return bool((frame.pixels[masks.coverage(frame.width, frame.height)] == masks.fill_bgr).all())


def stage_with(
    masks: MaskSet, events: list[PrivacyEvent] | None = None, clock: FakeClock | None = None
) -> PrivacyStage:
    hook = None if events is None else events.append
    stage = PrivacyStage(demo_privacy(fill_bgr=FILL), on_event=hook, clock=clock)
    stage.set_masks(masks, actor="setup")
    if events is not None:
        events.clear()
    return stage


def test_set_masks_applies_from_the_next_frame_and_returns_the_new_id() -> None:
    events: list[PrivacyEvent] = []
    stage = stage_with(LEFT, events, clock=FakeClock())
    first = stage.process(noise_frame(0))
    assert first is not None and first.mask_id == LEFT.mask_id and covers(first, LEFT)

    new_id = stage.set_masks(RIGHT, actor="operator-7")
    assert new_id == RIGHT.mask_id != LEFT.mask_id
    second = stage.process(noise_frame(1))
    original = noise_frame(1).pixels
    assert second is not None and second.mask_id == new_id and covers(second, RIGHT)
    left_only = LEFT.coverage(160, 90) & ~RIGHT.coverage(160, 90)
    assert (second.pixels[left_only] == original[left_only]).all()  # the old masks are gone, not added
    assert stage.state().mask_id == new_id and stage.state().masks == 1

    (event,) = events
    assert (event.kind, event.cause, event.actor, event.mask_id) == (
        "masks_changed",
        "set_masks",
        "operator-7",
        new_id,
    )
    assert event.measured == {"masks": 1.0, "previous_masks": 1.0}
    assert event.ts_ns == FakeClock().time_ns()


@pytest.mark.parametrize(
    ("masks", "problem"),
    [
        (MaskSet((Polygon("x", ((0.0, 0.0), (1.2, 0.0), (1.0, 1.0))),)), "outside the image"),
        (MaskSet((Polygon("x", ((0.0, 0.0), (1.0, 1.0))),)), "at least 3"),
        (MaskSet((Polygon("x", ((0.0, 0.0), (float("nan"), 0.0), (1.0, 1.0))),)), "finite"),
        (MaskSet((Polygon("x", ((0.0, 0.0), (1.0, 1.0), (1.0, 0.2), (0.0, 1.0))),)), "cross"),
        (MaskSet((Polygon("", ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0))),)), r"masks\[0\]\.name"),
        (replace(LEFT, mode="smudge"), "mode"),  # type: ignore[arg-type]
        (replace(LEFT, mode="pixelate", pixelate_block_share=0.001), "pixelate_block_share"),
        (replace(LEFT, fill_bgr=(0, 0, 300)), "fill_bgr"),
        (MaskSet(LEFT.polygons * 65), "masks"),
    ],
    ids=[
        "outside",
        "two points",
        "nan",
        "self-crossing",
        "no name",
        "mode",
        "block too small",
        "colour",
        "65 masks",
    ],
)
def test_an_invalid_mask_set_is_refused_and_the_old_one_stays(masks: MaskSet, problem: str) -> None:
    events: list[PrivacyEvent] = []
    stage = stage_with(LEFT, events)
    with pytest.raises(MaskSetError, match=problem):
        stage.set_masks(masks, actor="operator-7")
    assert events == []
    out = stage.process(noise_frame(0))
    assert out is not None and out.mask_id == LEFT.mask_id and covers(out, LEFT)


def test_an_empty_mask_set_fails_closed_until_masks_return() -> None:
    events: list[PrivacyEvent] = []
    stage = stage_with(LEFT, events)
    assert stage.set_masks(MaskSet(()), actor="operator-7") == "none"
    assert [(e.kind, e.cause) for e in events] == [("masks_changed", "set_masks"), ("alarm", "no_masks")]
    assert stage.process(noise_frame(0)) is None
    state = stage.state()
    assert state.mode is PrivacyMode.FAIL_CLOSED and state.frames_blocked == 1
    stage.set_masks(RIGHT, actor="operator-7")
    out = stage.process(noise_frame(1))
    assert out is not None and covers(out, RIGHT)


def test_no_frame_processed_after_set_masks_returns_carries_an_older_mask() -> None:
    # Twenty different mask sets, swapped in while another thread masks frames as fast as it can.
    sets = [
        MaskSet((Polygon(f"m{k}", ((0.02 * k, 0.0), (0.4 + 0.02 * k, 0.0), (0.3, 0.9))),), fill_bgr=FILL)
        for k in range(21)
    ]
    order = {masks.mask_id: k for k, masks in enumerate(sets)}
    assert len(order) == len(sets)
    stage = stage_with(sets[0])
    records: list[tuple[int, MaskedFrame | None]] = []
    started = 0
    progress = threading.Condition()
    stop = threading.Event()

    def capture() -> None:
        nonlocal started
        index = 0
        while not stop.is_set():
            with progress:
                started += 1
                sequence = started
            out = stage.process(noise_frame(index % 8))
            index += 1
            with progress:  # results are checked on the test thread, where a failure is reported
                records.append((sequence, out))
                progress.notify_all()

    def wait_for(n: int) -> None:
        with progress:
            assert progress.wait_for(lambda: len(records) >= n, timeout=30)

    worker = threading.Thread(target=capture, name="test-capture")
    worker.start()
    boundaries: list[int] = [0]  # process() calls numbered above boundaries[k] began after set k was in force
    try:
        wait_for(5)
        for masks in sets[1:]:
            stage.set_masks(masks, actor="operator-7")
            with progress:
                boundaries.append(started)
            wait_for(len(records) + 3)
    finally:
        stop.set()
        worker.join(10)
    assert not worker.is_alive()
    for sequence, frame in records:
        assert frame is not None, f"frame {sequence} was blocked"
        k = order[frame.mask_id]
        assert covers(frame, sets[k]), f"frame {sequence} leaks under mask set {k}"
        newest_before_start = max(i for i, boundary in enumerate(boundaries) if boundary < sequence)
        assert k >= newest_before_start, f"frame {sequence} carries set {k}, replaced before it began"
    assert order[records[-1][1].mask_id] == len(sets) - 1  # type: ignore[union-attr]


def test_newly_masked_areas_leave_the_stored_reference(tmp_path: Path) -> None:
    stage = PrivacyStage(demo_privacy(), state_dir=tmp_path)
    stage.approve_view(actor="tech-1")
    for frame in street(40)[:3]:
        assert stage.process(fresh(frame)) is not None
    before = stage.state()
    grown = demo_masks()
    extra = Polygon("bench", ((0.6, 0.6), (0.9, 0.6), (0.9, 0.9), (0.6, 0.9)))
    new_id = stage.set_masks(replace(grown, polygons=(*grown.polygons, extra)), actor="operator-7")
    after = stage.state()
    assert after.reference_id != before.reference_id and after.mask_id == new_id
    with np.load(tmp_path / "privacy" / REFERENCE_FILE) as data:
        gray, valid = data["gray"], data["valid"]
    h, w = gray.shape
    assert (gray[int(0.6 * h) : int(0.9 * h), int(0.6 * w) : int(0.9 * w)] == 0).all()
    assert (valid[int(0.6 * h) : int(0.9 * h), int(0.6 * w) : int(0.9 * w)] == 0).all()
    assert PrivacyStage(demo_privacy(), state_dir=tmp_path).state().reference_id == after.reference_id
    for frame in street(40)[3:8]:
        out = stage.process(fresh(frame))
        assert out is not None and not out.blanked and out.mask_id == new_id


def test_a_failing_event_hook_does_not_stop_masking() -> None:
    def broken(event: PrivacyEvent) -> None:
        raise RuntimeError("uplink gone")

    stage = PrivacyStage(demo_privacy(fill_bgr=FILL), on_event=broken)
    assert stage.set_masks(RIGHT, actor="operator-7") == RIGHT.mask_id
    out = stage.process(noise_frame(0))
    assert out is not None and covers(out, RIGHT)
