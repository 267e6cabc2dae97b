"""The best CTC path under a layout, and reads of another length that a hinted country's grammar takes."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.anpr import ctc
from edge.anpr.reader import Columns, RawRead
from edge.anpr.recognizer import _interpret

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_CROP = np.zeros((24, 100, 3), np.uint8)


def _collapse(path: tuple[int, ...]) -> tuple[int, ...]:
    out: list[int] = []
    prev = 0
    for k in path:
        if k not in (0, prev):
            out.append(k)
        prev = k
    return tuple(out)


def _brute_force(log_probs: np.ndarray, allowed: list[np.ndarray]) -> dict[tuple[int, ...], float]:
    """Every labelling the layout allows, with the log probability of its best alignment."""
    columns, classes = log_probs.shape
    best: dict[tuple[int, ...], float] = {}
    for path in itertools.product(range(classes), repeat=columns):
        labels = _collapse(path)
        if len(labels) != len(allowed) or not all(allowed[k][c] for k, c in enumerate(labels)):
            continue
        score = float(sum(log_probs[t, c] for t, c in enumerate(path)))
        best[labels] = max(best.get(labels, -np.inf), score)
    return best


@settings(max_examples=150, deadline=None)
@given(
    columns=st.integers(1, 6),
    size=st.integers(1, 3),
    seed=st.integers(0, 2**32 - 1),
)
def test_the_best_path_is_the_best_alignment_of_any_allowed_labelling(
    columns: int, size: int, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    log_probs = ctc.log_softmax(rng.normal(size=(columns, 4)) * 3)
    allowed = [rng.random(4) < 0.6 for _ in range(size)]
    truth = _brute_force(log_probs, allowed)
    path = ctc.best_path(log_probs, allowed)
    if not truth:
        assert path is None
        return
    assert path is not None
    assert path.log_prob == pytest.approx(max(truth.values()))
    # The traced classes are a labelling the layout allows, and the score is that labelling's best alignment.
    assert truth.get(path.classes) == pytest.approx(path.log_prob)
    for k, c in enumerate(path.classes):
        assert 0 < path.peaks[k] <= float(np.exp(log_probs[:, c].max())) + 1e-12


def test_equal_neighbours_need_a_blank_between_them() -> None:
    """``AA`` takes three columns (A, blank, A): two columns cannot hold it, and a position allowing
    nothing makes no path at all."""
    a = np.zeros(4, bool)
    a[1] = True
    log_probs = ctc.log_softmax(np.zeros((2, 4)))
    assert ctc.best_path(log_probs, [a, a]) is None
    assert ctc.best_path(ctc.log_softmax(np.zeros((3, 4))), [a, a]) is not None
    assert ctc.best_path(log_probs, [np.zeros(4, bool)]) is None


def _columns(spec: list[dict[str, float]]) -> RawRead:
    """A reader output from per-column probabilities (``_`` the blank; every class not named 1e-6, as
    sharp as the reader's own columns), decoded greedily as the reader does."""
    probs = np.full((len(spec), len(_ALPHABET) + 1), 1e-6)
    for t, column in enumerate(spec):
        for ch, p in column.items():
            probs[t, 0 if ch == "_" else _ALPHABET.index(ch) + 1] = p
    log_probs = np.log(probs / probs.sum(axis=1, keepdims=True))
    chars: list[str] = []
    confs: list[float] = []
    prev = 0
    for row in np.exp(log_probs):
        k = int(row.argmax())
        if k not in (0, prev):
            chars.append(_ALPHABET[k - 1])
            confs.append(float(row[k]))
        elif k != 0:
            confs[-1] = max(confs[-1], float(row[k]))
        prev = k
    return RawRead("".join(chars), tuple(confs), (0.1, 0.9), Columns(log_probs, _ALPHABET))


def _spaced(glyphs: list[dict[str, float]]) -> list[dict[str, float]]:
    out: list[dict[str, float]] = [{"_": 0.99}]
    for g in glyphs:
        out += [g, {"_": 0.99}]
    return out


def test_a_double_letter_run_together_is_read_at_the_length_the_hinted_grammar_wants() -> None:
    """``1-ABB-234`` on a red plate: the column between the two B is more B than blank, so the greedy read
    is ``1AB234``, six characters, which fit the old Belgian series only as ``IAB-234`` (a 1 read at 0.97
    swapped for an I). The best path with a blank there spells the current series and is more likely."""
    spec = _spaced([{"1": 0.97}, {"A": 0.97}])
    spec += [{"B": 0.95}, {"B": 0.6, "_": 0.38}, {"B": 0.95}, {"_": 0.99}]
    spec += [{"2": 0.97}, {"_": 0.99}, {"3": 0.97}, {"_": 0.99}, {"4": 0.97}, {"_": 0.99}]
    raw = _columns(spec)
    assert raw.text == "1AB234"
    red = _interpret(raw, "BE", _CROP)
    assert red is not None
    assert (red.text, red.country, red.series, red.raw) == ("1ABB234", "BE", "current", "1AB234")
    assert red.confidence > 0.9  # each B at its surest column, not the 0.6 one the blank now takes
    # Without a hint the swap stands: the search runs only for a hinted country.
    plain = _interpret(raw, None, _CROP)
    assert plain is not None and (plain.text, plain.series) == ("IAB234", "old")


def test_a_confident_blank_is_not_overruled_for_a_more_common_series() -> None:
    """``AB234`` on a red plate (a pre-1973 Belgian layout, rare): the current series would need two glyphs
    more where the reader saw nothing, so the read stays."""
    raw = _columns(_spaced([{"A": 0.97}, {"B": 0.97}, {"2": 0.97}, {"3": 0.97}, {"4": 0.97}]))
    assert raw.text == "AB234"
    read = _interpret(raw, "BE", _CROP)
    assert read is not None and read.text == "AB234"


def test_a_swap_the_reader_is_sure_against_costs_more_than_a_glyph_it_half_saw() -> None:
    """``1QU698`` fits the old Belgian series ``IQU-698`` only by swapping a 1 read at 0.97 for an I; the
    current series fits with a J the reader gave 0.35 beside the U. The longer read wins; where the reader
    saw no glyph there at all (1e-4), the swap does."""

    def raw_with(j: float) -> RawRead:
        spec = _spaced([{"1": 0.97}, {"Q": 0.95}, {"U": 0.9, "L": 0.08}])[:-1]
        spec += [{"_": 0.97 - j, "J": j}, {"_": 0.99}]
        spec += _spaced([{"6": 0.97}, {"9": 0.97}, {"8": 0.97}])[1:]
        return _columns(spec)

    likely = raw_with(0.35)
    assert likely.text == "1QU698"
    read = _interpret(likely, "BE", _CROP)
    assert read is not None and (read.text, read.series) == ("1QUJ698", "current")
    unlikely = raw_with(1e-4)
    assert unlikely.text == "1QU698"
    read = _interpret(unlikely, "BE", _CROP)
    assert read is not None and (read.text, read.series) == ("IQU698", "old")
