"""The best reading of a CTC output under a layout: one set of allowed characters per position.

The reader's greedy decode takes the best class in every column. When that text cannot be a plate of the
country the colours name (two glyphs that touch read as one: ``1QLJ698`` as ``1QU698``), the best path
through the same columns that spells a plate of a given layout says how much less likely such a plate is
than what was read. ``best_path`` is the Viterbi search over CTC alignments restricted to the layout:
blank, then the first position's characters, blank, the second's, and so on, each character held for one
or more columns, a blank required between two equal characters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

_NEG = -np.inf


@dataclass(frozen=True, slots=True)
class Path:
    classes: tuple[int, ...]
    """The class of each position (never the blank)."""
    peaks: tuple[float, ...]
    """Per position: the highest probability of its class over the columns the path holds it."""
    log_prob: float
    """Log probability of the path (the best alignment, not the sum over alignments)."""


def log_softmax(logits: npt.NDArray[np.floating]) -> npt.NDArray[np.float64]:
    """Log probabilities over the last axis."""
    x = np.asarray(logits, np.float64)
    x = x - x.max(axis=-1, keepdims=True)
    out: npt.NDArray[np.float64] = x - np.log(np.exp(x).sum(axis=-1, keepdims=True))
    return out


def greedy_log_prob(log_probs: npt.NDArray[np.float64]) -> float:
    """Log probability of the greedy path (the best class in every column): the bound of every path."""
    return float(log_probs.max(axis=-1).sum())


def best_path(
    log_probs: npt.NDArray[np.float64], allowed: Sequence[npt.NDArray[np.bool_]], blank: int = 0
) -> Path | None:
    """The most likely alignment of ``log_probs`` (columns x classes) that reads one class of
    ``allowed[k]`` at each position ``k`` (a boolean mask over the classes each). None when no alignment
    fits (fewer columns than the layout needs, or a position that allows nothing)."""
    found = best_of(log_probs, [allowed], np.zeros(1), blank)
    return None if found is None else found[1]


def best_of(
    log_probs: npt.NDArray[np.float64],
    layouts: Sequence[Sequence[npt.NDArray[np.bool_]]],
    log_priors: npt.NDArray[np.float64],
    blank: int = 0,
) -> tuple[int, Path] | None:
    """Of several layouts of one length, the one whose best path plus its log prior scores highest, and
    that path (its ``log_prob`` without the prior). One Viterbi pass for all: the columns are walked once
    with the layouts side by side. None when no layout has a path."""
    columns, classes = log_probs.shape
    count = len(layouts)
    size = len(layouts[0]) if count else 0
    if any(len(lay) != size for lay in layouts):
        raise ValueError("best_of takes layouts of one length")
    if size == 0 or columns == 0:
        return None
    mask = np.zeros((count, size, classes), bool)
    for b, layout in enumerate(layouts):
        for k, row in enumerate(layout):
            mask[b, k] = row
    mask[:, :, blank] = False
    penalty = np.where(mask, 0.0, _NEG)
    # Best path ending at (layout, position, class) in column t, and on the blank before position k.
    labels = np.full((columns, count, size, classes), _NEG)
    blanks = np.full((columns, count, size + 1), _NEG)
    labels[0, :, 0] = log_probs[0][None, :] + penalty[:, 0]
    blanks[0, :, 0] = log_probs[0, blank]
    batch = np.arange(count)[:, None]
    positions = np.arange(size)[None, :]
    for t in range(1, columns):
        prev = labels[t - 1]
        top = prev.max(axis=2)
        arg = prev.argmax(axis=2)
        second = prev.copy()
        second[batch, positions, arg] = _NEG
        runner_up = second.max(axis=2)
        # Into position k straight from position k - 1 (no blank): not from the same class.
        skip = np.full((count, size, classes), _NEG)
        skip[:, 1:] = top[:, :-1, None]
        skip[batch, positions[:, 1:], arg[:, :-1]] = runner_up[:, :-1]
        enter = np.maximum(np.maximum(prev, blanks[t - 1, :, :size, None]), skip)
        labels[t] = enter + log_probs[t][None, None, :] + penalty
        from_label = np.concatenate((np.full((count, 1), _NEG), top), axis=1)
        blanks[t] = np.maximum(blanks[t - 1], from_label) + log_probs[t, blank]
    last = columns - 1
    ends = np.maximum(blanks[last, :, size], labels[last, :, size - 1].max(axis=1))
    scores = ends + np.asarray(log_priors, np.float64)
    b = int(scores.argmax())
    if not np.isfinite(scores[b]):
        return None
    end_class = int(labels[last, b, size - 1].argmax())
    return b, _trace(log_probs, labels[:, b], blanks[:, b], end_class, float(ends[b]))


def _trace(
    log_probs: npt.NDArray[np.float64],
    labels: npt.NDArray[np.float64],
    blanks: npt.NDArray[np.float64],
    end_class: int,
    score: float,
) -> Path:
    columns, size, _ = labels.shape
    last = columns - 1
    # State: (position, class) on a label, (position, -1) on the blank before position.
    if blanks[last, size] >= labels[last, size - 1, end_class]:
        k, c = size, -1
    else:
        k, c = size - 1, end_class
    chosen = [0] * size
    peaks = [0.0] * size
    for t in range(last, -1, -1):
        if c >= 0:
            chosen[k] = c
            peaks[k] = max(peaks[k], float(np.exp(log_probs[t, c])))
        if t == 0:
            break
        prev_labels, prev_blanks = labels[t - 1], blanks[t - 1]
        if c < 0:
            options = [(float(prev_blanks[k]), k, -1)]
            if k >= 1:
                pc = int(prev_labels[k - 1].argmax())
                options.append((float(prev_labels[k - 1, pc]), k - 1, pc))
        else:
            options = [(float(prev_labels[k, c]), k, c), (float(prev_blanks[k]), k, -1)]
            if k >= 1:
                row = prev_labels[k - 1].copy()
                row[c] = _NEG
                pc = int(row.argmax())
                options.append((float(row[pc]), k - 1, pc))
        _, k, c = max(options, key=lambda o: o[0])
    return Path(tuple(chosen), tuple(peaks), score)
