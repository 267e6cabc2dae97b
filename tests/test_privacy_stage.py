"""The foundation's privacy stage: masks burned in, fail closed, MaskedFrame only from the stage."""

from __future__ import annotations

import numpy as np
import pytest

from edge.config import MaskConfig, PrivacyConfig
from edge.privacy import MaskSet, PrivacyStage
from edge.privacy.stage import PrivacyMode
from edge.types import Frame, MaskedFrame, issue_privacy_seal

SQUARE = [(0.25, 0.25), (0.75, 0.25), (0.75, 0.75), (0.25, 0.75)]


def busy_frame(index: int = 0, width: int = 320, height: int = 180) -> Frame:
    rng = np.random.default_rng(index)
    pixels = rng.integers(1, 256, size=(height, width, 3), dtype=np.uint8)
    return Frame(pixels=pixels, index=index, capture_ts_ns=index, monotonic_ns=index, source="test")


def masked_config(**kw: object) -> PrivacyConfig:
    return PrivacyConfig(masks=[MaskConfig(name="square", polygon=SQUARE)], **kw)  # type: ignore[arg-type]


def test_pixels_inside_masks_equal_the_fill_and_outside_are_untouched() -> None:
    stage = PrivacyStage(masked_config(fill_bgr=(10, 20, 30)))
    frame = busy_frame()
    original = frame.pixels.copy()
    out = stage.process(frame)
    assert out is not None
    covered = MaskSet.from_config(masked_config()).coverage(frame.width, frame.height)
    assert covered.sum() == pytest.approx(0.25 * frame.width * frame.height, rel=0.02)
    assert (out.pixels[covered] == (10, 20, 30)).all()
    assert (out.pixels[~covered] == original[~covered]).all()
    assert out.mask_id == stage.state().mask_id != "none"


def test_masked_pixels_are_read_only() -> None:
    out = PrivacyStage(masked_config()).process(busy_frame())
    assert out is not None
    with pytest.raises(ValueError, match="read-only"):
        out.pixels[0, 0] = 1


def test_no_masks_when_required_fails_closed() -> None:
    stage = PrivacyStage(PrivacyConfig())
    assert stage.process(busy_frame()) is None
    state = stage.state()
    assert state.mode is PrivacyMode.FAIL_CLOSED
    assert "none are configured" in state.reason
    assert state.frames_blocked == 1 and state.frames_masked == 0


def test_error_while_masking_blocks_the_frame() -> None:
    stage = PrivacyStage(masked_config())
    bad = Frame(pixels=np.zeros((10, 10), np.uint8), index=3, capture_ts_ns=0, monotonic_ns=0, source="t")
    assert stage.process(bad) is None
    assert stage.state().mode is PrivacyMode.FAIL_CLOSED
    assert "unexpected frame layout" in stage.state().reason


def test_privacy_off_needs_a_reason_and_is_reported() -> None:
    stage = PrivacyStage(PrivacyConfig(required=False, off_reason="sees only the motorway"))
    out = stage.process(busy_frame())
    assert out is not None and out.mask_id == "none"
    assert stage.state().mode is PrivacyMode.OFF
    assert "sees only the motorway" in stage.state().reason


def test_masked_frame_cannot_be_made_outside_the_privacy_stage() -> None:
    pixels = np.zeros((4, 4, 3), np.uint8)
    pixels.flags.writeable = False
    with pytest.raises(TypeError, match="privacy stage"):
        MaskedFrame(
            pixels=pixels,
            index=0,
            capture_ts_ns=0,
            monotonic_ns=0,
            source="x",
            mask_id="m",
            seal=object(),  # type: ignore[arg-type]
        )
    with pytest.raises(RuntimeError, match="already been issued"):
        issue_privacy_seal()


def test_mask_id_is_stable_and_follows_geometry() -> None:
    a = MaskSet.from_config(masked_config())
    b = MaskSet.from_config(
        PrivacyConfig(masks=[MaskConfig(name="renamed", polygon=[(x + 1e-9, y) for x, y in SQUARE])])
    )
    moved = MaskSet.from_config(
        PrivacyConfig(masks=[MaskConfig(name="square", polygon=[(x, y + 0.01) for x, y in SQUARE])])
    )
    assert a.mask_id == b.mask_id
    assert a.mask_id != moved.mask_id
    assert a.mask_id != MaskSet.from_config(masked_config(fill_bgr=(255, 255, 255))).mask_id
