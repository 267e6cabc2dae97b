"""Detection, rectification, reading, country and grammar: plate reads from one image.

Used by the node's ANPR stage (on masked frames only) and by ``edge anpr-eval``. Not thread-safe: the
TFLite interpreters belong to the thread that calls ``read_image``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from edge.anpr import grammar
from edge.anpr.country import country_hint
from edge.anpr.detector import Candidate, PlateDetector, rectify
from edge.anpr.manifest import Precision, default_models_dir, model_file
from edge.anpr.preprocess import reader_inputs
from edge.anpr.reader import PlateReader, RawRead
from edge.anpr.runtime import default_threads
from edge.capture.synthetic.imaging import U8

_GENERIC = frozenset({"EU"})
_GRAMMAR_FACTOR_NONE = 0.45
_GRAMMAR_FACTOR_GENERIC = 0.8
_CORRECTION_FACTOR = 0.9
_EXCLUSIVE_HINTS = frozenset({"BE"})
"""Colour hints no other country's plates show: red characters are Belgian only (a yellow plate, the
other hint, is Dutch, or British at the rear, or Luxembourgish)."""
_TRIM_FACTOR = 0.9
_TRIM_MAX_CONF = 0.6
_SHORT_LEN = 3
_SHORT_FACTOR = 0.6
_SAME_PLATE_OVERLAP = 0.3
_NOT_YET = "?"
"""A country hint not measured yet (None is a measured "no strong evidence")."""


@dataclass(frozen=True, slots=True)
class PlateRead:
    text: str
    """Normalised plate (A-Z0-9) after the grammar's corrections; the raw read when no grammar fits."""
    raw: str
    """What the reader read, before any correction."""
    formatted: str
    country: str | None
    series: str | None
    corrections: int
    confidence: float
    """0..1: the reader's confidence, lowered for corrections and for reads no grammar accepts."""
    box: tuple[int, int, int, int]
    """x, y, w, h in the pixels of the image given to ``read_image``."""
    detector_score: float
    crop: U8
    """The rectified plate crop (BGR)."""
    detail: float = 1.0
    """0..1: the crop's width over the reader's input width, at most 1. A narrower crop was upsampled
    for the reader; the tracker weighs its read by this."""


class Recognizer:
    def __init__(
        self,
        models_dir: Path | None = None,
        *,
        precision: Precision = "int8",
        threads: int | None = None,
        max_candidates: int = 4,
        detector_threshold: float = 0.5,
        closer_looks: int = 1,
        closer_look_below: float = 1.0,
        finer_look: float = 0.0,
        finer_look_below: float = 0.5,
    ) -> None:
        """``closer_looks``: how many of the best candidates get the voted, four-look reading (the
        detector's crop, padded once and trimmed twice: it is already grown around the plate, so the
        widest padding of ``read_crop``'s five looks is left out); ``closer_look_below``: only when their
        first read's confidence is below this; 1 (the default): always. A confident first read is still
        wrong now and then (a glyph lost at the crop's edge, one too many read in the border); the looks
        vote it right. Three more looks cost three to six reader inputs: the node, which votes a vehicle's
        reads over many frames anyway, uses ``anpr.closer_look_below`` (0.8) to spend them on unsure reads
        only.

        ``finer_look``: when no read of an image is at least ``finer_look_below`` confident, detect again
        with the image scaled ``finer_look`` times larger (``long_side`` times the factor) and keep the
        more confident read of each plate. The detector's map has one cell per 4 pixels: a small plate
        covers few cells and its blob may hold only part of it. 0 (the default) never looks again."""
        if finer_look != 0.0 and finer_look <= 1.0:
            raise ValueError(f"finer_look must be 0 (off) or above 1, not {finer_look}")
        folder = models_dir or default_models_dir()
        n = threads or default_threads()
        self.detector = PlateDetector(
            model_file(folder, "detector", precision), threads=n, threshold=detector_threshold
        )
        self.reader = PlateReader(model_file(folder, "reader", precision), threads=n)
        self.max_candidates = max_candidates
        self.closer_looks = closer_looks
        self.closer_look_below = closer_look_below
        self.finer_look = finer_look
        self.finer_look_below = finer_look_below
        self.version = f"{self.detector.version}+{self.reader.version}"
        self.precision = precision

    def read_image(
        self, image_bgr: U8, *, long_side: int = 384, roi: tuple[int, int, int, int] | None = None
    ) -> list[PlateRead]:
        """Every plate read in ``image_bgr`` (inside ``roi``, x y w h, when given), best first."""
        x0, y0 = 0, 0
        view = image_bgr
        if roi is not None:
            x0, y0, w, h = roi
            view = image_bgr[y0 : y0 + h, x0 : x0 + w]
            if view.size == 0:
                return []
        out = self._read_at(view, long_side)
        if self.finer_look and (not out or out[0].confidence < self.finer_look_below):
            out = _merge(out, self._read_at(view, round(long_side * self.finer_look)))
        if x0 or y0:
            out = [_with(r, box=(r.box[0] + x0, r.box[1] + y0, r.box[2], r.box[3])) for r in out]
        return out

    def _read_at(self, view: U8, long_side: int) -> list[PlateRead]:
        """The reads of ``view``, detected at ``long_side``; boxes in ``view``'s pixels, best first."""
        candidates = self.detector.detect(view, long_side, limit=self.max_candidates)
        crops = [rectify(view, c) for c in candidates]
        hints = [_hint_of(c) for c in crops]
        always = self.closer_look_below >= 1.0
        # With a closer look at every image, the detector's best candidate is nearly always the plate that
        # gets it: its looks go into the first reader batch with the other candidates (one reader run less
        # per image), and are only wasted when another candidate reads better.
        early: list[PlateRead] | None = None
        early_looks = 0
        if always and self.closer_looks > 0 and crops:
            looks = _looks(crops[0], wide_pad=False)
            early_looks = len(looks)
            both = self._read_crops(looks + crops[1:], [hints[0]] * early_looks + hints[1:])
            early = [r for r in both[1:early_looks] if r is not None]
            reads = [both[0], *both[early_looks:]]
        else:
            reads = self._read_crops(crops, hints)
        # A second, closer look at the most promising candidates only: it costs a few reader runs each.
        ranked = sorted(
            (i for i, r in enumerate(reads) if r is not None),
            key=lambda i: reads[i].confidence if reads[i] is not None else 0.0,  # type: ignore[union-attr]
            reverse=True,
        )
        for i in ranked[: self.closer_looks]:
            first = reads[i]
            if first is None or not (always or first.confidence < self.closer_look_below):
                continue
            if i == 0 and early is not None:
                reads[i] = _vote([first, *early], early_looks, crops[i])
            else:
                reads[i] = self._read_voted(crops[i], first, hints[i], detected=True)
        out: list[PlateRead] = []
        for cand, crop, read in zip(candidates, crops, reads, strict=True):
            if read is None:
                continue
            detail = min(1.0, crop.shape[1] / self.reader.width)
            out.append(_with(read, box=_plate_box(cand), detector_score=cand.score, crop=crop, detail=detail))
        out.sort(key=lambda r: r.confidence, reverse=True)
        return out

    def read_crop(self, crop_bgr: U8) -> PlateRead | None:
        """Read ``crop_bgr`` as one plate (no detection)."""
        read = self._read_voted(crop_bgr)
        if read is None:
            return None
        h, w = crop_bgr.shape[:2]
        detail = min(1.0, w / self.reader.width)
        return _with(read, box=(0, 0, w, h), detector_score=1.0, crop=crop_bgr, detail=detail)

    def _read_voted(
        self,
        crop: U8,
        first: PlateRead | None = None,
        hint: str | None = _NOT_YET,
        *,
        detected: bool = False,
    ) -> PlateRead | None:
        """Read ``crop`` as given, padded and trimmed (the detector's box is never exact), and let the reads
        vote, weighted by confidence. The result's confidence is the winner's weight over all looks.
        ``first``: the crop's read as given, when already made (it is not read again); ``hint``: the crop's
        country hint, when already measured. ``detected``: the crop is the detector's, already grown
        around the plate (see ``edge.anpr.detector``), and the widest padding is left out."""
        looks = _looks(crop, wide_pad=not detected)
        if hint == _NOT_YET:
            hint = _hint_of(crop)
        again = looks if first is None else looks[1:]
        reads = [r for r in self._read_crops(again, [hint] * len(again)) if r is not None]
        if first is not None:
            reads.insert(0, first)
        return _vote(reads, len(looks), crop)

    def _read_crops(self, crops: list[U8], hints: list[str | None] | None = None) -> list[PlateRead | None]:
        """The best read of each crop over the layouts worth trying (``reader_inputs``)."""
        inputs: list[U8] = []
        owners: list[int] = []
        for i, crop in enumerate(crops):
            if crop.shape[0] < 4 or crop.shape[1] < 8:
                continue
            for image in reader_inputs(crop):
                inputs.append(image)
                owners.append(i)
        raws = self.reader.read(inputs)
        best: list[PlateRead | None] = [None] * len(crops)
        if hints is None:
            hints = [_hint_of(c) for c in crops]
        for owner, raw in zip(owners, raws, strict=True):
            read = _interpret(raw, hints[owner], crops[owner])
            if read is None:
                continue
            current = best[owner]
            if current is None or read.confidence > current.confidence:
                best[owner] = read
        return best


def _vote(reads: list[PlateRead], looks: int, crop: U8) -> PlateRead | None:
    """The text the reads of ``looks`` looks of ``crop`` vote for, weighted by confidence; its confidence is
    the winner's weight over all looks (a look read as nothing counts against it)."""
    if not reads:
        return None
    weight: dict[str, float] = {}
    for r in reads:
        weight[r.text] = weight.get(r.text, 0.0) + r.confidence
    winner = max(weight, key=lambda t: weight[t])
    best = max((r for r in reads if r.text == winner), key=lambda r: r.confidence)
    return replace(best, confidence=min(max(weight[winner] / looks, 0.0), 1.0), crop=crop)


def _hint_of(crop: U8) -> str | None:
    """The crop's country hint from its colours (``country_hint``); None for a crop too small to tell."""
    return country_hint(crop) if crop.shape[0] >= 4 and crop.shape[1] >= 8 else None


def _looks(crop: U8, *, wide_pad: bool = True) -> list[U8]:
    """The crop, padded (edge pixels repeated) and trimmed by two amounts each; without the widest
    padding unless ``wide_pad``."""
    h, w = crop.shape[:2]
    out = [crop]
    for fy, fx in ((6, 20), (3, 10))[: 2 if wide_pad else 1]:
        out.append(
            np.asarray(
                cv2.copyMakeBorder(crop, h // fy, h // fy, w // fx, w // fx, cv2.BORDER_REPLICATE),
                dtype=np.uint8,
            )
        )
    for fy, fx in ((12, 40), (6, 20)):
        trimmed = crop[h // fy : h - h // fy, w // fx : w - w // fx]
        if trimmed.shape[0] >= 8 and trimmed.shape[1] >= 16:
            out.append(np.ascontiguousarray(trimmed))
    return out


def _plate_box(cand: Candidate) -> tuple[int, int, int, int]:
    return cand.box


def _interpret(raw: RawRead, hint: str | None, crop: U8) -> PlateRead | None:
    """The best reading of ``raw``: as read, or without a first or last character that no grammar wants
    (a coat of arms, a sticker or the band's country code read as a glyph)."""
    as_read = _interpret_one(raw, hint, crop, trimmed=False)
    options = [as_read]
    # A read that fits a country's grammar loses an end glyph only when the reader itself doubted that
    # glyph most; one that fits none (a band code or a regional strip read along) may lose either end.
    fits_country = (
        as_read is not None
        and as_read.country is not None
        and as_read.country not in _GENERIC
        and as_read.series != "vanity"  # a catch-all, as the generic EU grammar is
    )
    if len(raw.text) >= 5:
        for keep, dropped in ((slice(1, None), 0), (slice(None, -1), -1)):
            rest = raw.char_conf[keep]
            doubted = raw.char_conf[dropped] < _TRIM_MAX_CONF and raw.char_conf[dropped] < min(rest)
            if doubted or not fits_country:
                options.append(_interpret_one(RawRead(raw.text[keep], rest), hint, crop, trimmed=True))
    found = [o for o in options if o is not None]
    return max(found, key=lambda o: o.confidence) if found else None


def _interpret_one(raw: RawRead, hint: str | None, crop: U8, *, trimmed: bool) -> PlateRead | None:
    if len(raw.text) < 2:
        return None
    conf = raw.confidence
    match = grammar.best(raw.text, hint, raw.char_conf)
    generic = match is None or match.country in _GENERIC or match.series == "vanity"
    if trimmed and generic:
        return None  # dropping a character is worth it only when a country's grammar then fits
    if match is None:
        text, formatted, country, series, corrections = raw.text, raw.text, None, None, 0
        conf *= _GRAMMAR_FACTOR_NONE
    else:
        text, formatted, country, series = match.text, match.formatted, match.country, match.series
        corrections = match.corrections
        if generic or (hint in _EXCLUSIVE_HINTS and country != hint):
            # A catch-all fit, or a fit the plate's colours contradict (red characters read as a German
            # series): the text alone says little more than "some plate".
            conf *= _GRAMMAR_FACTOR_GENERIC
        conf *= _CORRECTION_FACTOR**corrections
    if trimmed:
        conf *= _TRIM_FACTOR
    if len(text) <= _SHORT_LEN:
        # A band code ("SK"), an emblem or a sign's letters, far more often than a short plate.
        conf *= _SHORT_FACTOR ** (1 + _SHORT_LEN - len(text))
    return PlateRead(
        text=text,
        raw=raw.text,
        formatted=formatted,
        country=country,
        series=series,
        corrections=corrections,
        confidence=min(max(float(conf), 0.0), 1.0),
        box=(0, 0, 0, 0),
        detector_score=0.0,
        crop=crop,
    )


def _merge(first: list[PlateRead], second: list[PlateRead]) -> list[PlateRead]:
    """Both looks' reads, one per plate: where boxes overlap, the more confident read wins. Best first."""
    kept = list(first)
    for read in second:
        rivals = [k for k in kept if _overlap(k.box, read.box) > _SAME_PLATE_OVERLAP]
        if all(read.confidence > k.confidence for k in rivals):
            replaced = {id(k) for k in rivals}  # by identity: reads hold arrays, == would compare them
            kept = [k for k in kept if id(k) not in replaced] + [read]
    kept.sort(key=lambda r: r.confidence, reverse=True)
    return kept


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    """Intersection over the smaller box: a partial box inside the whole plate's box counts as the same."""
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    smaller = min(a[2] * a[3], b[2] * b[3])
    return ix * iy / smaller if smaller > 0 else 0.0


def _with(
    read: PlateRead,
    *,
    box: tuple[int, int, int, int],
    detector_score: float | None = None,
    crop: U8 | None = None,
    detail: float | None = None,
) -> PlateRead:
    return replace(
        read,
        box=box,
        detector_score=read.detector_score if detector_score is None else detector_score,
        crop=read.crop if crop is None else crop,
        detail=read.detail if detail is None else detail,
    )
