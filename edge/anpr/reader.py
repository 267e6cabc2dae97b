"""The plate reader: a CTC model over 32 columns, decoded greedily with a confidence per character.

Each read keeps its columns' log probabilities, so that a layout the greedy text does not fit can be
searched for in the same output (``edge.anpr.ctc``)."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from edge.anpr import ctc
from edge.anpr.manifest import ModelFile
from edge.anpr.runtime import ModelError, TFLiteModel
from edge.capture.synthetic.imaging import U8

_BUCKETS = (1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 16)
"""Batch sizes with an interpreter each; a batch is padded up to the next. The voted reading of one plate
is five to seven inputs: padding those to eight would cost up to 60 % more reader time."""


@dataclass(frozen=True, slots=True)
class Columns:
    """The reader's output for one input: log probabilities per column, the CTC blank at index 0 and
    ``alphabet[i - 1]`` at index ``i``."""

    log_probs: npt.NDArray[np.float64]
    alphabet: str

    def classes(self, chars: frozenset[str]) -> npt.NDArray[np.bool_]:
        """A mask over the classes: True at each of ``chars`` the alphabet has (read-only, shared)."""
        return _class_mask(self.alphabet, chars)


@functools.lru_cache(maxsize=1024)
def _class_mask(alphabet: str, chars: frozenset[str]) -> npt.NDArray[np.bool_]:
    mask = np.zeros(len(alphabet) + 1, bool)
    for ch in chars:
        k = alphabet.find(ch)
        if k >= 0:
            mask[k + 1] = True
    mask.flags.writeable = False
    return mask


@dataclass(frozen=True, slots=True)
class RawRead:
    text: str
    """A-Z0-9 as the model read it (no grammar applied)."""
    char_conf: tuple[float, ...]
    """Per character: the peak probability of that character in its run of columns."""
    span: tuple[float, float] = (0.0, 1.0)
    """Where the read glyphs are across the input: the first and just past the last column that is not
    blank, as shares of the input's width ((0, 1) for an empty read)."""
    columns: Columns | None = field(default=None, compare=False, repr=False)
    """The output this was decoded from; None for a read made up elsewhere."""

    @property
    def confidence(self) -> float:
        """Geometric mean of the character confidences (0 for an empty read)."""
        if not self.char_conf:
            return 0.0
        return math.exp(math.fsum(math.log(max(q, 1e-6)) for q in self.char_conf) / len(self.char_conf))


class PlateReader:
    def __init__(self, model: ModelFile, *, threads: int) -> None:
        info = model.info
        self.version = model.version
        self.alphabet = str(info.get("alphabet", ""))
        self.blank = int(info.get("blank_index", 0))
        shape = info.get("input", {}).get("shape", [1, 32, 128, 1])
        self.height, self.width = int(shape[1]), int(shape[2])
        if not self.alphabet or self.blank != 0:
            raise ModelError(
                f"reader {model.version}: manifest lacks the alphabet or uses another blank index"
            )
        self._content = model.verified_bytes()
        self._threads = threads
        # One interpreter per batch size: resizing an interpreter's input reallocates all its tensors,
        # which costs more than reading a plate. Batches are padded up to the next bucket.
        self._models: dict[int, TFLiteModel] = {1: self._load()}

    def _load(self) -> TFLiteModel:
        return TFLiteModel(self._content, threads=self._threads, name=f"reader {self.version}")

    def read(self, images: list[U8]) -> list[RawRead]:
        """Read a batch of ``reader_input`` images (grey, ``height`` x ``width``)."""
        out: list[RawRead] = []
        for start in range(0, len(images), _BUCKETS[-1]):
            chunk = images[start : start + _BUCKETS[-1]]
            bucket = next(b for b in _BUCKETS if b >= len(chunk))
            batch = np.zeros((bucket, self.height, self.width, 1), np.uint8)
            batch[: len(chunk), ..., 0] = np.stack(chunk)
            model = self._models.get(bucket)
            if model is None:
                model = self._models[bucket] = self._load()
            logits = model.run(batch)
            out += self._decode(logits[: len(chunk)])
        return out

    def _decode(self, logits: npt.NDArray[np.float32]) -> list[RawRead]:
        """Greedy CTC decoding of a batch of logits (batch x columns x classes): the best class per column,
        runs collapsed, blanks dropped; a character's confidence is its peak probability in its run."""
        # Softmax only where it is read: at the best class, exp(0) / sum = 1 / sum.
        scores = np.exp(logits - logits.max(axis=-1, keepdims=True))
        best = scores.argmax(axis=-1)
        peak = 1.0 / scores.sum(axis=-1)
        log_probs = ctc.log_softmax(logits)
        out: list[RawRead] = []
        columns = best.shape[1]
        for row, (classes, peaks) in enumerate(zip(best.tolist(), peak.tolist(), strict=True)):
            chars: list[str] = []
            confs: list[float] = []
            first = last = -1
            prev = 0
            for column, (k, p) in enumerate(zip(classes, peaks, strict=True)):
                if k != self.blank:
                    first = column if first < 0 else first
                    last = column
                if k not in (self.blank, prev):
                    chars.append(self.alphabet[k - 1])
                    confs.append(p)
                elif k != self.blank and k == prev:
                    confs[-1] = max(confs[-1], p)
                prev = k
            span = (first / columns, (last + 1) / columns) if first >= 0 else (0.0, 1.0)
            out.append(RawRead("".join(chars), tuple(confs), span, Columns(log_probs[row], self.alphabet)))
        return out
