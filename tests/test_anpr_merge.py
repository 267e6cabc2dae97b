"""How the reads of a coarse and a finer look at one image are combined: one read per plate."""

from __future__ import annotations

import numpy as np

from edge.anpr.recognizer import PlateRead, _merge

_CROP = np.zeros((4, 8, 3), np.uint8)


def _read(text: str, confidence: float, box: tuple[int, int, int, int]) -> PlateRead:
    return PlateRead(text, text, text, None, None, 0, confidence, box, 0.5, _CROP)


def test_the_more_confident_read_of_one_plate_wins_and_others_stay() -> None:
    coarse = [_read("RK708A", 0.17, (180, 200, 60, 20)), _read("SIGN", 0.1, (10, 10, 40, 10))]
    fine = [_read("RK708AI", 0.82, (170, 198, 90, 24)), _read("OTHER", 0.3, (500, 400, 60, 20))]
    merged = _merge(coarse, fine)
    assert [r.text for r in merged] == ["RK708AI", "OTHER", "SIGN"]


def test_a_less_confident_finer_read_does_not_replace_the_first() -> None:
    coarse = [_read("RK819AM", 0.4, (100, 100, 80, 20))]
    fine = [_read("QV0", 0.28, (120, 102, 30, 16))]  # part of the same plate
    assert [r.text for r in _merge(coarse, fine)] == ["RK819AM"]


def test_a_finer_read_must_beat_every_read_it_overlaps() -> None:
    coarse = [_read("AB12", 0.6, (0, 0, 50, 20)), _read("CD34", 0.2, (45, 0, 50, 20))]
    fine = [_read("ABCD1234", 0.5, (0, 0, 95, 20))]
    assert [r.text for r in _merge(coarse, fine)] == ["AB12", "CD34"]


def test_equal_reads_of_two_plates_do_not_confuse_the_merge() -> None:
    """Two reads with every field equal but the crop: identity, not equality, decides what is replaced."""
    a = _read("AB12CD", 0.3, (0, 0, 50, 20))
    b = PlateRead(
        "AB12CD", "AB12CD", "AB12CD", None, None, 0, 0.3, (0, 0, 50, 20), 0.5, np.ones((4, 8, 3), np.uint8)
    )
    merged = _merge([a, b], [_read("AB12CDE", 0.9, (0, 0, 52, 20))])
    assert [r.text for r in merged] == ["AB12CDE"]
