"""Plate grammars, confusable correction and the colour-based country prior of the ANPR stage."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.anpr.country import COUNTRY_PRIORS, classify_colours, country_hint, plate_colours
from edge.anpr.grammar import (
    COUNTRIES,
    GRAMMARS,
    MAX_CORRECTIONS,
    Grammar,
    GrammarMatch,
    best,
    grammar,
    layouts,
    match,
    normalise,
    swaps_log_likelihood,
)
from edge.capture.synthetic.plate_text import PLATE_FORMATS, random_plate
from edge.capture.synthetic.plates import render_plate
from tests.fuzzing import examples

ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

# The grammars each synthetic format must fall under, and the series that must rank first.
FORMAT_GRAMMARS: dict[str, tuple[str, ...]] = {
    "be_current": ("current",),
    "be_old": ("old", "old_reversed"),
    "nl": tuple(f"sidecode_{i}" for i in range(1, 15)),
    "fr": ("siv",),
    "de": ("standard",),
}


def _found(results: list[GrammarMatch], country: str, series: str) -> GrammarMatch | None:
    return next((m for m in results if (m.country, m.series) == (country, series)), None)


# --- The table -----------------------------------------------------------------------------------------


def test_every_country_of_the_brief_has_grammars() -> None:
    assert set(COUNTRIES) == {"BE", "NL", "FR", "DE", "SK", "CZ", "PL", "GB", "EU"}
    assert len({(g.country, g.series) for g in GRAMMARS}) == len(GRAMMARS)
    assert {g.series for g in GRAMMARS if g.country == "BE"} >= {
        "current", "old", "old_reversed", "diplomatic", "temporary", "motorcycle", "trailer", "oldtimer",
        "moped", "vanity",
    }  # fmt: skip
    assert {g.series for g in GRAMMARS if g.country == "NL"} == set(FORMAT_GRAMMARS["nl"])


@pytest.mark.parametrize("g", GRAMMARS, ids=lambda g: f"{g.country}-{g.series}")
def test_each_example_is_its_own_formatted_text(g: Grammar) -> None:
    assert g.format(g.example) == g.example
    assert g.fits(normalise(g.example))
    found = _found(match(g.example), g.country, g.series)
    assert found is not None
    assert found.corrections == 0
    assert found.formatted == g.example


def test_patterns_are_the_templates_without_separators() -> None:
    assert grammar("BE", "current").patterns == ("NLLLDDD",)
    assert grammar("FR", "siv").patterns == ("LLDDDLL",)
    assert grammar("BE", "diplomatic").patterns == ("[C][D]LLDDD",)


@pytest.mark.parametrize("template", ["LQ", "[]", "[a]L", "-LL", "L[AB"])
def test_bad_templates_are_refused(template: str) -> None:
    with pytest.raises(ValueError, match="template"):
        Grammar("XX", "bad", (template,), "X", 0.1)


def test_unknown_grammar_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        grammar("BE", "nonexistent")


# --- Every synthetic plate is grammatical -----------------------------------------------------------------


def test_every_synthetic_format_is_covered() -> None:
    assert set(FORMAT_GRAMMARS) == set(PLATE_FORMATS)


@pytest.mark.parametrize("plate_format", sorted(FORMAT_GRAMMARS))
def test_grammars_accept_every_synthetic_plate(plate_format: str) -> None:
    country = PLATE_FORMATS[plate_format].country
    series = FORMAT_GRAMMARS[plate_format]
    grammars = [grammar(country, s) for s in series]
    rng = np.random.default_rng(2024)
    for _ in range(500):
        text, formatted = random_plate(plate_format, rng)
        assert any(g.fits(text) for g in grammars), formatted
        results = match(text)
        exact = [m for m in results if m.country == country and m.series in series and m.corrections == 0]
        assert exact, formatted
        assert exact[0].text == text
        if plate_format != "de":  # the district/letters split of a German plate is not in its text
            assert exact[0].formatted == formatted
        if plate_format != "de":  # a German text can be a Dutch sidecode too; NL is far more common here
            assert (results[0].country, results[0].series) == (exact[0].country, exact[0].series), formatted


def test_german_plates_are_formatted_letters_then_number() -> None:
    found = _found(match("B-AB 1234"), "DE", "standard")
    assert found is not None
    assert found.formatted == "BAB 1234"
    assert _found(match("BAB0123", max_corrections=0), "DE", "standard") is None  # no leading zero
    assert _found(match("BABC12345"), "DE", "standard") is None  # five digits
    assert _found(match("HSKAB1234"), "DE", "standard") is None  # nine characters
    electric = _found(match("BAB123E"), "DE", "electric")
    assert electric is not None
    assert electric.formatted == "BAB 123E"
    assert _found(match("HSKAB123E"), "DE", "electric") is None  # the suffix counts towards the eight


def test_no_grammar_is_longer_than_eight_characters() -> None:
    # The hotlist store relies on it (edge.anpr.hotlist).
    assert max(max(g.lengths) for g in GRAMMARS) == 8


# --- Position-aware correction ----------------------------------------------------------------------------


def test_digit_position_holding_a_letter_becomes_the_digit() -> None:
    top = match("1ABC2B4")[0]
    assert (top.country, top.series, top.text, top.formatted, top.corrections) == (
        "BE", "current", "1ABC284", "1-ABC-284", 1,
    )  # fmt: skip


def test_index_position_holding_i_becomes_one() -> None:
    top = match("IABC234")[0]
    assert (top.country, top.series, top.text, top.corrections) == ("BE", "current", "1ABC234", 1)
    assert best("IABC234") == top


def test_letter_position_holding_a_digit_becomes_the_letter() -> None:
    top = match("A8123CD")[0]
    assert (top.country, top.series, top.text, top.formatted, top.corrections) == (
        "FR", "siv", "AB123CD", "AB-123-CD", 1,
    )  # fmt: skip
    assert best("A8-123-CD") == top


@pytest.mark.parametrize(
    ("read", "fixed"),
    [("O", "0"), ("D", "0"), ("Q", "0"), ("I", "1"), ("B", "8"), ("S", "5"), ("Z", "2")],
)
def test_each_look_alike_letter_in_a_digit_position(read: str, fixed: str) -> None:
    found = _found(match(f"1ABC23{read}"), "BE", "current")
    assert found is not None
    assert (found.text, found.corrections) == (f"1ABC23{fixed}", 1)


@pytest.mark.parametrize(("read", "fixed"), [("0", "O"), ("1", "I"), ("8", "B"), ("5", "S"), ("2", "Z")])
def test_each_look_alike_digit_in_a_letter_position(read: str, fixed: str) -> None:
    found = _found(match(f"1A{read}C234"), "BE", "current")
    assert found is not None
    assert (found.text, found.corrections) == (f"1A{fixed}C234", 1)


def test_zero_becomes_d_where_the_series_has_no_o() -> None:
    nl = _found(match("0B123F"), "NL", "sidecode_9")  # consonants only
    assert nl is not None
    assert (nl.text, nl.formatted, nl.corrections) == ("DB123F", "DB-123-F", 1)


def test_zero_becomes_the_letter_a_special_series_requires() -> None:
    trailer = _found(match("0ABC123"), "BE", "trailer")
    oldtimer = _found(match("0ABC12"), "BE", "oldtimer")
    assert trailer is not None
    assert oldtimer is not None
    assert (trailer.text, trailer.corrections) == ("QABC123", 1)
    assert (oldtimer.text, oldtimer.corrections) == ("OABC12", 1)


def test_forbidden_letter_in_a_mixed_position_becomes_the_digit() -> None:
    # Polish plates use no B, D, I, O or Z after the district: there an O can only be a 0.
    pl = _found(match("WAW1O234"), "PL", "standard")
    assert pl is not None
    assert (pl.text, pl.formatted, pl.corrections) == ("WAW10234", "WAW 10234", 1)


def test_no_correction_where_the_grammar_cannot_decide() -> None:
    # The third Czech character may be a letter or a digit: B and 8 both stand as read.
    for read in ("1BB5790", "1B85790"):
        cz = _found(match(read), "CZ", "standard")
        assert cz is not None
        assert (cz.text, cz.corrections) == (read, 0)
    # Catch-alls take any character anywhere and never change one.
    for m in match("B8B8O0S5"):
        if m.country == "EU" or m.series == "vanity":
            assert (m.text, m.corrections) == ("B8B8O0S5", 0)


def test_letters_a_series_never_uses_are_refused_not_corrected() -> None:
    assert _found(match("AI123CD"), "FR", "siv") is None  # no I in France
    assert _found(match("AU123CD"), "FR", "siv") is None
    assert _found(match("AE12BF"), "NL", "sidecode_4") is None  # no vowels in newer sidecodes
    assert _found(match("I123ABC"), "GB", "prefix") is None  # no I as a year letter


def test_a_british_age_identifier_not_issued_is_no_british_plate() -> None:
    """The digits of a current GB plate are March (02-29) or September (51-79) of 2001-2029."""
    for digits in ("02", "12", "26", "51", "66", "76"):
        assert _found(match(f"AB{digits}CDE"), "GB", "current") is not None, digits
    for digits in ("30", "34", "45", "80", "99"):
        assert _found(match(f"AB{digits}CDE"), "GB", "current") is None, digits
    # A Slovak plate read with the letter O for its zero: British at face value before, Slovak now.
    read = best("RK34OAO")
    assert read is not None and (read.country, read.text) == ("SK", "RK340AO")


def test_never_issued_groups_are_refused() -> None:
    assert _found(match("1ABC000"), "BE", "current") is None
    assert _found(match("SS123AB"), "FR", "siv") is None
    assert _found(match("AB000CD"), "FR", "siv") is None
    assert _found(match("SS12BF"), "NL", "sidecode_4") is None


def test_corrections_are_capped() -> None:
    assert _found(match("ZZZZZZZ"), "BE", "current") is None
    found = _found(match("ZZZZZZZ", max_corrections=4), "BE", "current")
    assert found is not None
    assert (found.text, found.corrections) == ("2ZZZ222", 4)
    assert all(m.corrections == 0 for m in match("1ABC2B4", max_corrections=0))


def test_exact_reads_of_common_series_beat_corrected_ones() -> None:
    assert match("1B25790")[0].country == "CZ"  # BE current would need two swaps
    assert (match("XBD125")[0].country, match("XBD125")[0].series) == ("BE", "old")
    assert (match("XBD12S")[0].country, match("XBD12S")[0].series) == ("NL", "sidecode_11")


def test_country_hint_outweighs_one_correction() -> None:
    assert (match("CPZ375")[0].country, match("CPZ375")[0].series) == ("BE", "old")
    hinted = match("CPZ375", country_hint="NL")[0]
    assert (hinted.country, hinted.series) == ("NL", "sidecode_1")
    assert (hinted.text, hinted.corrections) == ("CP2375", 1)
    assert match("CPZ375", country_hint="nl") == match("CPZ375", country_hint="NL")
    assert match("CPZ375", country_hint="") == match("CPZ375")


def test_catch_alls_come_last() -> None:
    results = match("1ABC2B4")
    assert [m.series for m in results[-2:]] == ["vanity", "generic"]
    assert (results[-1].text, results[-1].corrections) == ("1ABC2B4", 0)


# --- best() and per-character confidence -----------------------------------------------------------------


def test_best_overrules_the_doubtful_character() -> None:
    # Sidecode 8 (1-BBB-88) needs the fifth character changed, sidecode 7 (18-BBB-8) the second.
    plain = best("1BBBB8")
    assert plain == match("1BBBB8")[0]
    assert plain is not None
    assert plain.series == "sidecode_8"
    second_doubtful = best("1BBBB8", char_conf=[0.99, 0.4, 0.99, 0.99, 0.99, 0.99])
    fifth_doubtful = best("1BBBB8", char_conf=[0.99, 0.99, 0.99, 0.99, 0.4, 0.99])
    assert second_doubtful is not None
    assert fifth_doubtful is not None
    assert (second_doubtful.series, second_doubtful.text) == ("sidecode_7", "18BBB8")
    assert (fifth_doubtful.series, fifth_doubtful.text) == ("sidecode_8", "1BBB88")


def test_a_confident_character_is_hard_to_overrule() -> None:
    # An exact Z-series (dealer) plate against a BE current that reads the Z as a 2.
    plain = best("ZABC234")
    assert plain is not None
    assert (plain.series, plain.text) == ("current", "2ABC234")
    doubtful = best("ZABC234", char_conf=[0.5] + [0.99] * 6)
    assert doubtful is not None
    assert (doubtful.series, doubtful.text) == ("current", "2ABC234")
    certain = best("ZABC234", char_conf=[0.999] + [0.99] * 6)
    assert certain is not None
    assert (certain.series, certain.text) == ("category", "ZABC234")


def test_best_aligns_confidences_with_the_raw_text() -> None:
    raw = "1-ABC-2B4"
    conf = [0.9, 1.0, 0.9, 0.9, 0.9, 1.0, 0.9, 0.3, 0.9]
    assert best(raw, char_conf=conf) == best("1ABC2B4", char_conf=[0.9, 0.9, 0.9, 0.9, 0.9, 0.3, 0.9])
    with pytest.raises(ValueError, match="char_conf"):
        best("1ABC2B4", char_conf=[0.9, 0.9])


def test_best_without_any_grammar_is_none() -> None:
    assert best("") is None
    assert best("---") is None
    assert best("ABCDEFGHIJ") is None  # ten characters: no plate is that long
    assert match("") == []


def test_normalise() -> None:
    assert normalise("1-abc-234") == "1ABC234"
    assert normalise(" AB·12 ß\u00e9CD ") == "AB12CD"


# --- Real labels from the dev set --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "country", "series"),
    [
        ("1CUE222", "BE", "current"),
        ("1L900", "BE", "pre1973"),
        ("CDAF109", "BE", "diplomatic"),
        ("9110BEN", "BE", "temporary"),
        ("9997PSC", "BE", "temporary"),
        ("032ACJ", "BE", "old_reversed"),
        ("341AGD", "BE", "old_reversed"),
        ("CPZ375", "BE", "old"),
        ("GNJ424", "BE", "old"),
        ("SE555", "BE", "pre1973"),
        ("VL222", "BE", "pre1973"),
        ("CV621", "BE", "pre1973"),
        ("1022073", "EU", "numeric"),
        ("RK755AJ", "SK", "standard"),
        ("BB751BH", "SK", "standard"),
        ("ZA834CO", "SK", "standard"),
        ("1B25790", "CZ", "standard"),
        ("4B04979", "CZ", "standard"),
        ("1Z75233", "CZ", "standard"),
        ("BS47040", "EU", "generic"),
        ("M5XSX", "EU", "generic"),
    ],
)
def test_dev_set_labels_are_accepted(label: str, country: str, series: str) -> None:
    results = match(label)
    assert results
    found = _found(results, country, series)
    assert found is not None
    assert (found.text, found.corrections) == (label, 0)


def test_belgian_dev_labels_rank_belgian_with_the_colour_hint() -> None:
    for label in ("1CUE222", "CDAF109", "9110BEN", "032ACJ", "CPZ375", "GNJ424", "SE555", "1L900"):
        top = match(label, country_hint="BE")[0]
        assert (top.country, top.text, top.corrections) == ("BE", label, 0), label


# --- Properties ---------------------------------------------------------------------------------------


def _check_results(text: str, results: list[GrammarMatch]) -> None:
    read = normalise(text)
    assert len({(m.country, m.series) for m in results}) == len(results)
    for m in results:
        assert grammar(m.country, m.series).fits(m.text)
        assert len(m.text) == len(read)
        assert m.corrections == sum(a != b for a, b in zip(read, m.text, strict=True))
        assert 0 <= m.corrections <= MAX_CORRECTIONS
        assert normalise(m.formatted) == m.text
        assert m.prior > 0


@settings(deadline=None, max_examples=examples(300))
@given(st.text(max_size=20))
def test_match_never_raises_on_arbitrary_text(text: str) -> None:
    _check_results(text, match(text))


@settings(deadline=None, max_examples=examples(500))
@given(st.text(alphabet=ALNUM + "- ", min_size=1, max_size=10), st.sampled_from([None, *COUNTRIES, "XX"]))
def test_every_result_fits_its_own_grammar(text: str, hint: str | None) -> None:
    results = match(text, country_hint=hint)
    _check_results(text, results)
    top = best(text, country_hint=hint)
    assert top == (results[0] if results else None)


@settings(deadline=None, max_examples=examples(300))
@given(st.data())
def test_best_with_confidences_picks_one_of_the_matches(data: st.DataObject) -> None:
    text = data.draw(st.text(alphabet=ALNUM, min_size=1, max_size=9))
    conf = data.draw(st.lists(st.floats(allow_nan=True), min_size=len(text), max_size=len(text)))
    top = best(text, char_conf=conf)
    results = match(text)
    assert (top is None) == (not results)
    if top is not None:
        assert (top.country, top.series) in {(m.country, m.series) for m in results}
        _check_results(text, [top])


# --- Colours ------------------------------------------------------------------------------------------


def _crop(plate_format: str, height_px: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    _, formatted = random_plate(plate_format, rng)
    return render_plate(formatted, plate_format, height_px, rng)


@pytest.mark.parametrize(
    ("plate_format", "expected_top", "expected_hint", "band"),
    [
        ("be_current", "BE", "BE", True),
        ("be_old", "BE", "BE", False),
        ("nl", "NL", "NL", True),
        ("fr", "FR", None, True),
        ("de", "DE", None, True),
    ],
)
@pytest.mark.parametrize("height_px", [16, 28, 60, 110])
def test_colours_of_rendered_plates(
    plate_format: str, expected_top: str, expected_hint: str | None, band: bool, height_px: int
) -> None:
    for seed in range(3):
        crop = _crop(plate_format, height_px, seed)
        scores = classify_colours(crop)
        assert set(scores) == set(COUNTRY_PRIORS)
        assert sum(scores.values()) == pytest.approx(1.0)
        assert max(scores, key=lambda c: scores[c]) == expected_top
        assert country_hint(crop) == expected_hint
        colours = plate_colours(crop)
        assert (colours.band > 0.5) == band
        assert not colours.monochrome
        if expected_top not in ("BE", "NL"):
            assert scores["BE"] < 0.1
            assert scores["NL"] < 0.1


def test_eu_band_lowers_the_british_and_unknown_share() -> None:
    de = classify_colours(_crop("de", 40, 0))
    be_old = classify_colours(_crop("be_old", 40, 0))
    assert de["GB"] < COUNTRY_PRIORS["GB"]
    assert de["DE"] > COUNTRY_PRIORS["DE"]
    assert be_old["BE"] > 0.9  # red ink without a band is still Belgian


def test_black_on_white_without_band_is_generic() -> None:
    crop = np.full((40, 190, 3), (242, 246, 246), np.uint8)
    cv2.putText(crop, "AB 123 CD", (14, 31), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (24, 22, 22), 3)
    scores = classify_colours(crop)
    colours = plate_colours(crop)
    assert colours.band == 0.0
    assert colours.red_ink == 0.0
    assert colours.yellow == 0.0
    assert max(scores, key=lambda c: scores[c]) in ("EU", "GB")
    assert scores["EU"] > COUNTRY_PRIORS["EU"]
    assert scores["BE"] < COUNTRY_PRIORS["BE"]
    assert country_hint(crop) is None


def test_monochrome_crop_carries_no_colour_evidence() -> None:
    gray = cv2.cvtColor(_crop("be_current", 40, 0), cv2.COLOR_BGR2GRAY)
    crop = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
    assert plate_colours(crop).monochrome
    assert classify_colours(crop) == pytest.approx(
        {c: p / sum(COUNTRY_PRIORS.values()) for c, p in COUNTRY_PRIORS.items()}
    )
    assert country_hint(crop) is None


def test_tiny_or_malformed_crops() -> None:
    assert country_hint(np.zeros((4, 20, 3), np.uint8)) is None
    assert sum(classify_colours(np.zeros((4, 20, 3), np.uint8)).values()) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="BGR"):
        classify_colours(np.zeros((20, 80), np.uint8))
    with pytest.raises(ValueError, match="BGR"):
        classify_colours(np.zeros((20, 80, 3), np.float32))


def test_country_priors_cover_the_grammar_countries() -> None:
    assert set(COUNTRY_PRIORS) == set(COUNTRIES)


def test_hint_from_colours_steers_the_grammar() -> None:
    # A Dutch plate read as CPZ375: on its own the text is an old Belgian plate, on yellow a Dutch one.
    crop = _crop("nl", 40, 1)
    hint = country_hint(crop)
    assert hint == "NL"
    top = best("CPZ375", country_hint=hint)
    assert top is not None
    assert (top.country, top.text) == ("NL", "CP2375")


def test_a_country_s_layouts_are_its_specific_series_as_printed() -> None:
    """What the length search of the recogniser tries: every layout of the country's series but the
    catch-alls, each position the characters it takes as printed (no look-alikes)."""
    belgian = layouts("BE")
    assert {lay.country for lay in belgian} == {"BE"}
    assert "vanity" not in {lay.series for lay in belgian}
    (current,) = [lay for lay in belgian if lay.series == "current"]
    assert len(current.allowed) == 7
    assert current.allowed[0] == frozenset("123456789")
    assert current.allowed[1] == frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    assert current.allowed[6] == frozenset("0123456789")
    assert current.log_prior == pytest.approx(np.log(0.40))
    assert all(grammar("BE", lay.series).fits("".join(max(p) for p in lay.allowed)) for lay in belgian)
    assert layouts("XX") == ()


def test_swaps_are_priced_by_the_confidence_they_overrule() -> None:
    assert swaps_log_likelihood("1QU698", "IQU698", [0.97] + [0.9] * 5) == pytest.approx(np.log(0.015))
    assert swaps_log_likelihood("1-QU-698", "IQU698", [0.5] * 6) == pytest.approx(np.log(0.25))
    assert swaps_log_likelihood("1ABC234", "1ABC234", [0.9] * 7) == 0.0
    with pytest.raises(ValueError, match="lengths differ"):
        swaps_log_likelihood("1QU698", "1QLJ698", [0.9] * 6)
