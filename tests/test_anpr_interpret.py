"""From the reader's raw text to a plate: the grammar's pick and the end glyph dropped when no country's
grammar wants it (a sticker, the band's letters or a coat of arms read along)."""

from __future__ import annotations

import numpy as np
import pytest

from edge.anpr.reader import RawRead
from edge.anpr.recognizer import _GRAMMAR_FACTOR_GENERIC, _interpret

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


def test_red_characters_read_as_another_country_s_series_count_as_a_generic_fit() -> None:
    """Red characters are Belgian only: a read of a red plate (hint ``BE``) that fits only a German series
    (``AZAB152``: a Belgian two-row plate whose band letter was read as a glyph) weighs what a generic
    fit weighs. A Belgian read of the same plate, and the German read of a plate without the hint, do not
    lose anything."""
    german = RawRead("AZAB152", (0.95,) * 7)
    plain = _interpret(german, None, _CROP)
    red = _interpret(german, "BE", _CROP)
    assert plain is not None and red is not None
    assert (plain.country, red.country) == ("DE", "DE")
    assert red.confidence == pytest.approx(plain.confidence * _GRAMMAR_FACTOR_GENERIC)
    belgian = RawRead("8AZA152", (0.95,) * 7)
    as_belgian = _interpret(belgian, "BE", _CROP)
    assert as_belgian is not None and as_belgian.country == "BE"
    assert as_belgian.confidence == pytest.approx(0.95)
    yellow = _interpret(german, "NL", _CROP)  # yellow plates are also British and Luxembourgish: no penalty
    assert yellow is not None and yellow.confidence == pytest.approx(plain.confidence)
