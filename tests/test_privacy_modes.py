"""The three fill modes on the busy synthetic street: nothing behind a mask survives, nothing else changes."""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from edge.privacy import PrivacyStage
from edge.types import MaskedFrame
from tests.test_privacy_scene import demo_masks, demo_privacy, fresh, street

FRAMES = 40


def _gray(pixels: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
    return cv2.cvtColor(np.asarray(pixels), cv2.COLOR_BGR2GRAY).astype(np.float32)


def _masked(mode: str) -> list[tuple[npt.NDArray[np.uint8], MaskedFrame]]:
    stage = PrivacyStage(demo_privacy(mode=mode, fill_bgr=(7, 8, 9)))
    out = []
    for frame in street(FRAMES):
        masked = stage.process(fresh(frame))
        assert masked is not None and not masked.blanked
        assert masked.mask_id == stage.state().mask_id
        out.append((np.asarray(frame.pixels), masked))
    return out


@pytest.mark.parametrize("mode", ["solid", "pixelate", "blur"])
def test_pixels_outside_the_masks_are_untouched(mode: str) -> None:
    covered = demo_masks(mode=mode).coverage(640, 360)
    assert 0.1 < covered.mean() < 0.5
    for original, masked in _masked(mode):
        assert (masked.pixels[~covered] == original[~covered]).all()


def test_solid_fills_every_masked_pixel_with_the_fill_colour() -> None:
    covered = demo_masks().coverage(640, 360)
    for _, masked in _masked("solid"):
        assert (masked.pixels[covered] == (7, 8, 9)).all()


def test_pixelate_leaves_one_flat_colour_per_block() -> None:
    masks = demo_masks(mode="pixelate")
    block = masks.block_px(640)
    assert block == 16  # 2.5 % of the width
    covered = masks.coverage(640, 360)
    inside = [
        (y, x)
        for y in range(0, 360 - block + 1, block)
        for x in range(0, 640 - block + 1, block)
        if covered[y : y + block, x : x + block].all()
    ]
    assert len(inside) > 60
    busy = 0
    for original, masked in _masked("pixelate"):
        for y, x in inside:
            out = masked.pixels[y : y + block, x : x + block].reshape(-1, 3)
            before = original[y : y + block, x : x + block].reshape(-1, 3)
            assert (out == out[0]).all(), f"block at ({x}, {y}) is not flat"
            assert np.abs(out[0].astype(float) - before.mean(axis=0)).max() <= 1.0  # the block mean, no more
            busy += int(before.std(axis=0).max() > 8)
    assert busy > len(inside) * FRAMES // 4  # there was detail to destroy


def test_blur_keeps_no_detail() -> None:
    masks = demo_masks(mode="blur")
    cell = masks.blur_px(640)
    assert cell == 26  # 4 % of the width
    covered = masks.coverage(640, 360)
    interior = cv2.erode(covered.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    for original, masked in _masked("blur"):
        before = np.abs(cv2.Laplacian(_gray(original), cv2.CV_32F))[interior].mean()
        after = np.abs(cv2.Laplacian(_gray(masked.pixels), cv2.CV_32F))[interior].mean()
        assert before > 3.0
        assert after < 0.03 * before, (before, after)
        # Nothing finer than a cell: averaging the output over cells and interpolating back changes little.
        gray = _gray(masked.pixels)
        coarse = cv2.resize(
            cv2.resize(gray, (640 // cell, 360 // cell), interpolation=cv2.INTER_AREA), (640, 360)
        )
        assert np.abs(gray - coarse)[interior].mean() < 8.0  # a Gaussian blur of 3 px: 23


@pytest.mark.parametrize("mode", ["solid", "pixelate", "blur"])
def test_mode_and_its_parameter_are_part_of_the_mask_id(mode: str) -> None:
    ids = {demo_masks(mode=m).mask_id for m in ("solid", "pixelate", "blur")}
    assert len(ids) == 3
    base = demo_masks(mode=mode)
    stronger = demo_masks(mode=mode, pixelate_block_share=0.05, blur_share=0.08)
    assert (base.mask_id == stronger.mask_id) is (mode == "solid")
