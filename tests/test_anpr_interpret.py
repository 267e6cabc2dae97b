"""From the reader's raw text to a plate: the grammar's pick and the end glyph dropped when no country's
grammar wants it (a sticker, the band's letters or a coat of arms read along)."""

from __future__ import annotations

import numpy as np
import pytest

from edge.anpr.country import country_hint
from edge.anpr.reader import RawRead
from edge.anpr.recognizer import _HINT_CONTRADICTED_FACTOR, _hint_of, _interpret, _on_band, _text_rows
from edge.capture.synthetic.plate_text import random_plate
from edge.capture.synthetic.plates import render_plate

_CROP = np.zeros((24, 100, 3), np.uint8)


def _read(text: str, conf: list[float] | None = None) -> tuple[str, str | None]:
    raw = RawRead(text, tuple(conf or [0.95] * len(text)))
    read = _interpret(raw, None, _CROP)
    assert read is not None
    return read.text, read.country


def test_a_glyph_too_many_that_only_a_catch_all_takes_is_dropped() -> None:
    """`RK763ASJ` fits the Belgian vanity series and the generic EU grammar, both catch-alls; without its
    last glyph (read less surely than the rest, though not doubted enough to drop it on that alone) it is
    a Slovak (or French) plate."""
    text, country = _read("RK763ASJ", [0.95] * 7 + [0.7])
    assert text == "RK763AS"
    assert country in ("SK", "FR")  # the same layout; without a hint the prior picks France


def test_a_read_a_country_takes_keeps_its_end_glyphs_unless_the_reader_doubted_one() -> None:
    assert _read("1ABC234") == ("1ABC234", "BE")
    assert _read("1ABC234", [0.95] * 6 + [0.7]) == ("1ABC234", "BE")  # a little less sure: kept
    assert _read("AB123CD") == ("AB123CD", "FR")


def test_red_characters_read_as_another_country_s_series_lose_weight() -> None:
    """Red characters are Belgian only: a read of a red plate (hint ``BE``) that fits only a German series
    (``AZAB152``: the Belgian two-row plate ``8-AZA-152`` read as one row) weighs less than without the
    hint. A Belgian read of the same plate, and the German read of a plate without the hint, do not
    lose anything."""
    german = RawRead("AZAB152", (0.95,) * 7)
    plain = _interpret(german, None, _CROP)
    red = _interpret(german, "BE", _CROP)
    assert plain is not None and red is not None
    assert (plain.country, red.country) == ("DE", "DE")
    assert red.confidence == pytest.approx(plain.confidence * _HINT_CONTRADICTED_FACTOR)
    belgian = RawRead("8AZA152", (0.95,) * 7)
    as_belgian = _interpret(belgian, "BE", _CROP)
    assert as_belgian is not None and as_belgian.country == "BE"
    assert as_belgian.confidence == pytest.approx(0.95)
    yellow = _interpret(german, "NL", _CROP)  # yellow plates are also British and Luxembourgish: no penalty
    assert yellow is not None and yellow.confidence == pytest.approx(plain.confidence)


def test_the_band_s_letter_read_in_front_of_red_glyphs_is_dropped() -> None:
    """``B1FNZ401``: the EU band's B read as a glyph in front of the Belgian ``1-FNZ-401``. As read it fits a
    German series (``BIF NZ 401``), so without a hint it stays; on a red plate (hint ``BE``) a leading B
    may be the band's, and the Belgian plate without it is the read. Another first glyph stays."""
    raw = RawRead("B1FNZ401", (0.73, 0.28, 1.0, 0.95, 0.92, 1.0, 0.95, 0.98))
    plain = _interpret(raw, None, _CROP)
    red = _interpret(raw, "BE", _CROP)
    assert plain is not None and plain.country == "DE"
    assert red is not None and (red.text, red.country) == ("1FNZ401", "BE")
    other = _interpret(RawRead("A1FNZ401", raw.char_conf), "BE", _CROP)
    assert other is not None and other.text != "1FNZ401"


def test_the_country_hint_looks_at_the_text_rows_of_a_loose_crop() -> None:
    """A red plate in a crop three times its height, with a grille above and a bumper's shadow below: over
    the whole crop the dark bumper counts as ink and the red share drops below the hint's threshold; the
    hint looks at the rows of the glyphs' strokes only, and names Belgium."""
    rng = np.random.default_rng(2)
    for _ in range(10):
        _text, formatted = random_plate("be_current", rng)
        plate = render_plate(formatted, "be_current", 22, rng)
        ph, pw = plate.shape[:2]
        crop = np.full((3 * ph, int(pw * 1.3), 3), 200, np.uint8)  # light grey paint
        crop[int(2.1 * ph) :] = 30  # the bumper's shadow
        crop[: int(0.6 * ph), ::7] = 110  # grille bars
        x = (crop.shape[1] - pw) // 2
        crop[ph : 2 * ph, x : x + pw] = plate
        assert country_hint(crop) is None
        y0, y1 = _text_rows(crop)
        assert ph - 4 <= y0 <= ph and 2 * ph <= y1 <= 2 * ph + 4, (y0, y1, ph)
        assert _hint_of(crop) == "BE"


def test_a_first_glyph_read_on_the_blue_band_is_the_band_s_code_and_dropped() -> None:
    """``D-DE 7326`` with the band's D read as ``B`` in front: the read's first columns lie on the band, so
    the glyph goes (``BDDE7326`` fits a German series as read, so nothing else would drop it). A read whose
    first glyph lies on the plate's white, a two-row read and a grey (infrared) crop keep theirs."""
    crop = render_plate("D-DE 7326", "de", 110, np.random.default_rng(1))  # BGR, as the camera's frames
    band_x = 0.04  # the band: the left 40 of 520 mm
    glyph_x = 0.16
    on_band = RawRead("BDDE7326", (0.97,) * 8, (band_x, 0.95))
    assert _on_band(on_band, crop)
    read = _interpret(on_band, None, crop, one_row=True)
    assert read is not None and (read.text, read.country) == ("DDE7326", "DE")
    assert read.raw == "DDE7326"
    as_two_rows = _interpret(on_band, None, crop, one_row=False)
    assert as_two_rows is not None and as_two_rows.text == "BDDE7326"
    on_plate = RawRead("DDE7326", (0.97,) * 7, (glyph_x, 0.95))
    assert not _on_band(on_plate, crop)
    grey = np.ascontiguousarray(np.repeat(crop.mean(axis=2, keepdims=True), 3, axis=2).astype(np.uint8))
    assert not _on_band(on_band, grey)
