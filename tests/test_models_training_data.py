"""The training recipe's data generators (no TensorFlow needed): labels, shapes, determinism, masks."""

from __future__ import annotations

import re

import numpy as np

from edge.anpr.preprocess import DETECTOR_STRIDE, READER_H, READER_W
from models.training import platesynth, scenes
from models.training.train_detector import make_detector_samples
from models.training.train_reader import ALPHABET, make_reader_samples


def test_reader_samples_have_grammatical_labels_and_the_reader_shape() -> None:
    batch = make_reader_samples(seed=11, count=40)
    assert batch["images"].shape == (40, READER_H, READER_W)
    assert batch["images"].dtype == np.uint8
    for row, n in zip(batch["labels"], batch["lengths"], strict=True):
        text = "".join(ALPHABET[k - 1] for k in row[:n])
        assert re.fullmatch(r"[A-Z0-9]{0,10}", text)
        assert (row[n:] == 0).all()
    assert (batch["lengths"] > 0).mean() > 0.8  # clutter with an empty label is the exception
    # Not blank images: the plate has contrast after the reader's stretch.
    assert float(np.std(batch["images"].astype(np.float32))) > 20.0


def test_generation_is_deterministic_per_seed() -> None:
    a = make_reader_samples(seed=5, count=6)
    b = make_reader_samples(seed=5, count=6)
    c = make_reader_samples(seed=6, count=6)
    assert np.array_equal(a["images"], b["images"])
    assert np.array_equal(a["labels"], b["labels"])
    assert not np.array_equal(a["images"], c["images"])


def test_every_format_renders_with_its_label() -> None:
    rng = np.random.default_rng(3)
    for name, (_, make) in platesynth.FORMATS.items():
        layout = make(rng)
        label = platesynth.label_of(layout)
        assert 2 <= len(label) <= 10, name
        plate = platesynth.draw_plate(layout, rng, height_px=60)
        assert plate.ndim == 3 and plate.shape[0] >= 50, name


def test_detector_scenes_mark_the_plates_they_draw() -> None:
    batch = make_detector_samples(seed=2, count=12)
    assert batch["images"].shape == (12, scenes.SCENE_H, scenes.SCENE_W, 3)
    assert batch["masks"].shape == (12, scenes.SCENE_H // DETECTOR_STRIDE, scenes.SCENE_W // DETECTOR_STRIDE)
    marked = batch["masks"].reshape(12, -1).sum(axis=1)
    assert (marked > 0).sum() >= 6  # most scenes hold at least one plate
    assert set(np.unique(batch["masks"])) <= {0, 1}


def test_belgian_o_is_drawn_as_narrow_as_the_zero() -> None:
    font = platesynth.font_paths()[0]
    narrow = platesynth._text_image("O", font, 40, 0.0, 0, o_as_zero=True)
    zero = platesynth._text_image("0", font, 40, 0.0, 0)
    round_o = platesynth._text_image("O", font, 40, 0.0, 0)
    assert abs(narrow.shape[1] - zero.shape[1]) <= 1
    assert round_o.shape[1] > zero.shape[1]  # the fonts' own O is wider: the recipe has to narrow it
    assert narrow.shape[0] == round_o.shape[0]


def test_no_glyph_hangs_below_the_baseline() -> None:
    """DejaVu's J descends; cropped at the capitals' baseline it would be a bare stem, an I. Drawn onto the
    baseline it keeps its hook: ink in its bottom rows reaches left of its stem."""
    for font in platesynth.font_paths():
        j = platesynth._text_image("J", font, 40, 0.0, 0) > 127
        h = j.shape[0]
        stem = np.flatnonzero(j[h // 2])
        bottom = np.flatnonzero(j[int(h * 0.8) :].any(axis=0))
        assert stem.size and bottom.size, font
        assert bottom[0] < stem[0] - 2, font
