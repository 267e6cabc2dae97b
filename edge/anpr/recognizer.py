"""Detection, rectification, reading, country and grammar: plate reads from one image.

Used by the node's ANPR stage (on masked frames only) and by ``edge anpr-eval``. Not thread-safe: the
TFLite interpreters belong to the thread that calls ``read_image``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from edge.anpr import ctc, grammar
from edge.anpr.country import blue_share, country_hint
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
_HINT_CONTRADICTED_FACTOR = 0.8
"""Kept of a read's confidence when its series is another country's than the one an exclusive colour hint
names (red glyphs are Belgian only); on top of ``_GRAMMAR_FACTOR_GENERIC`` for a catch-all fit."""
_BAND_CODES = {"BE": "B"}
"""The letter on the EU band of the countries a colour hint names (a yellow plate, ``NL``, may be British
or Luxembourgish, whose bands say otherwise)."""
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
_REGROW_MARGIN = math.log(4.0)
"""How much more likely (reader path times series prior) a read of another length in the hinted country's
layouts must be than the greedy read's interpretation to replace it (``_regrown``)."""
_LOG_PRIOR_NO_GRAMMAR = math.log(1e-4)
"""The log prior of a read no grammar takes, for that comparison."""
_BAND_BLUE = 0.5
"""Share of band-blue pixels in a first glyph's column that makes it the band's code (``_on_band``)..."""
_BAND_CONTRAST = 0.3
"""... when the rest of the read glyphs' columns are bluish by this much less."""
_SNUG_SPAN = 0.5
"""A one-row read whose glyphs span less than this share of the reader's input is read again from a crop
cut to its glyphs (``_snug``). The detector's crop is grown around its blob, so most plates fill only about
half of it; one whose edge the detector does not see (a white plate on a white car) gets a box around much
of the rear panel, and the reader, trained on closer crops, may misread it with confidence."""
_SNUG_MARGIN = 2.0
"""Glyph pitches kept at each side of the read glyphs in a snug crop: the outer glyphs' columns are about
their centres, and a glyph the first read missed may lie just beyond (1.5 lost such end glyphs)."""
_SNUG_MIN_GLYPHS = 4
"""Reads shorter than this are not cut snugly: too few glyphs to measure a pitch by."""


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
    text_span: tuple[float, float] = (0.0, 1.0)
    """Where the read glyphs lie across ``crop``, as shares of its width; (0, 1) when not known (a plate
    read as two rows)."""


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
        snug_look: bool = True,
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
        covers few cells and its blob may hold only part of it. 0 (the default) never looks again.

        ``snug_look``: read a plate again from a crop cut to its glyphs when they fill less than half of the
        detector's crop (``_SNUG_SPAN``), and keep that read when it is more confident and no shorter; one
        more reader batch for all such candidates of an image."""
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
        self.snug_look = snug_look
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
        if self.snug_look and 0 in self._look_snugly(reads, crops, hints):
            early = None  # those looks were of the loose crop
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

    def _look_snugly(
        self, reads: list[PlateRead | None], crops: list[U8], hints: list[str | None]
    ) -> set[int]:
        """Read each read whose glyphs fill little of its crop (``_SNUG_SPAN``) again from a crop cut to
        them (``_snug``), all in one reader batch. Where that read is more confident and no shorter (a cut
        that lost an end glyph often reads more surely), it replaces the first read, and the snug crop and
        its country hint the loose ones, in place. Returns the indices replaced."""
        todo = [
            (i, snug)
            for i, read in enumerate(reads)
            if read is not None and (snug := _snug(crops[i], read)) is not None
        ]
        if not todo:
            return set()
        snug_hints = [_hint_of(snug) for _, snug in todo]
        again = self._read_crops([snug for _, snug in todo], snug_hints)
        replaced: set[int] = set()
        for (i, snug), hint, read in zip(todo, snug_hints, again, strict=True):
            first = reads[i]
            if (
                read is not None
                and first is not None
                and read.confidence > first.confidence
                and len(read.text) >= len(first.text)
            ):
                reads[i], crops[i], hints[i] = read, snug, hint
                replaced.add(i)
        return replaced

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
        owners: list[tuple[int, bool]] = []  # crop index, read as one row
        for i, crop in enumerate(crops):
            if crop.shape[0] < 4 or crop.shape[1] < 8:
                continue
            for k, image in enumerate(reader_inputs(crop)):
                inputs.append(image)
                owners.append((i, k == 0))
        raws = self.reader.read(inputs)
        best: list[PlateRead | None] = [None] * len(crops)
        if hints is None:
            hints = [_hint_of(c) for c in crops]
        for (owner, one_row), raw in zip(owners, raws, strict=True):
            read = _interpret(raw, hints[owner], crops[owner], one_row=one_row)
            if read is None:
                continue
            if one_row:
                read = replace(read, text_span=raw.span)
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


def _snug(crop: U8, read: PlateRead) -> U8 | None:
    """``crop`` cut to the columns of ``read``'s glyphs and ``_SNUG_MARGIN`` pitches at each side, and to
    the rows of the glyphs' strokes (``_text_rows``), when the glyphs span less than ``_SNUG_SPAN`` of it
    (None otherwise, and for reads too short to measure a pitch)."""
    a, b = read.text_span
    if b - a >= _SNUG_SPAN or len(read.raw) < _SNUG_MIN_GLYPHS:
        return None
    pitch = (b - a) / len(read.raw)
    w = crop.shape[1]
    x0 = max(0, int((a - pitch * _SNUG_MARGIN) * w))
    x1 = min(w, int(np.ceil((b + pitch * _SNUG_MARGIN) * w)))
    if x1 - x0 < 8 or x1 - x0 >= w:
        return None
    columns = crop[:, x0:x1]
    y0, y1 = _text_rows(columns)
    return np.ascontiguousarray(columns[y0:y1])


_ROW_SHARE = 0.35
"""Rows whose vertical-stroke energy is at least this share of the strongest row's belong to the text."""
_ROW_MARGIN = 0.3
"""Share of the text rows' height kept above and below them."""


def _text_rows(crop: U8) -> tuple[int, int]:
    """The rows of ``crop`` that hold its text: the run of rows around the one with the most vertical
    strokes (horizontal gradient; a plate's border and a car's panel edges are mostly horizontal), with a
    margin. All rows when the run is most of the crop."""
    h = crop.shape[0]
    grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
    energy = np.abs(cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3)).sum(axis=1)
    energy = np.convolve(energy, np.ones(3, np.float32) / 3, mode="same")
    peak = int(energy.argmax())
    strong = energy >= _ROW_SHARE * energy[peak]
    top = peak
    while top > 0 and strong[top - 1]:
        top -= 1
    bottom = peak + 1
    while bottom < h and strong[bottom]:
        bottom += 1
    margin = max(2, round((bottom - top) * _ROW_MARGIN))
    y0, y1 = max(0, top - margin), min(h, bottom + margin)
    return (y0, y1) if y1 - y0 < 0.8 * h and y1 - y0 >= 6 else (0, h)


def _hint_of(crop: U8) -> str | None:
    """The crop's country hint from the colours of its text rows (``country_hint``, ``_text_rows``: a loose
    crop's bumper and panel would count as ink); None for a crop too small to tell."""
    if crop.shape[0] < 4 or crop.shape[1] < 8:
        return None
    y0, y1 = _text_rows(crop)
    return country_hint(crop[y0:y1])


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


def _interpret(raw: RawRead, hint: str | None, crop: U8, *, one_row: bool = False) -> PlateRead | None:
    """The best reading of ``raw``: as read, or without a first or last character that no grammar wants
    (a coat of arms, a sticker or the band's country code read as a glyph). ``one_row``: ``raw`` was read
    from ``crop`` as one row (its columns are the crop's), so a first glyph read on the blue EU band is
    known for the band's code and dropped (``_on_band``)."""
    if one_row and _on_band(raw, crop):
        raw = RawRead(raw.text[1:], raw.char_conf[1:], raw.span)
    as_read = _regrown(raw, hint, crop) or _interpret_one(raw, hint, crop, trimmed=False)
    options = [as_read]
    # A read that fits a country's grammar loses an end glyph only when the reader itself doubted that
    # glyph most, or when it is the band's code of the country the colours name (the B of a red plate's
    # band read in front: `B1FNZ401` fits a German series); one that fits none (a band code or a regional
    # strip read along) may lose either end.
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
            band_code = dropped == 0 and hint is not None and raw.text[0] == _BAND_CODES.get(hint)
            if doubted or band_code or not fits_country:
                options.append(_interpret_one(RawRead(raw.text[keep], rest), hint, crop, trimmed=True))
    found = [o for o in options if o is not None]
    return max(found, key=lambda o: o.confidence) if found else None


def _on_band(raw: RawRead, crop: U8) -> bool:
    """Whether the first glyph of a one-row read lies on the blue EU band: the reader column it starts
    in, over the crop's text rows, is mostly band blue (``_BAND_BLUE``) and bluer by ``_BAND_CONTRAST``
    than the rest of the read glyphs (a photo's white balance can make a whole plate bluish). The band
    holds the stars and the country's code only; the reader, which sees grey, reads the code as a glyph
    now and then (the D of a German band as ``B``). Reads of fewer than five glyphs are left alone."""
    if len(raw.text) < 5 or crop.ndim != 3:
        return False
    w = crop.shape[1]
    column = w / (raw.columns.log_probs.shape[0] if raw.columns is not None else 32)
    x0 = int(raw.span[0] * w)
    y0, y1 = _text_rows(crop)
    strip = blue_share(crop[y0:y1, x0 : max(x0 + 1, round(x0 + column))])
    if strip < _BAND_BLUE:
        return False
    rest = blue_share(crop[y0:y1, round(x0 + 3 * column) : int(raw.span[1] * w)])
    return strip - rest >= _BAND_CONTRAST


def _regrown(raw: RawRead, hint: str | None, crop: U8) -> PlateRead | None:
    """A read one character longer or shorter that the hinted country's grammar takes, when the reader's
    columns make it more likely than what its greedy text can be read as (``_REGROW_MARGIN``).

    Two glyphs that touch read as one (``1-QLJ-698`` as ``1QU698``, which only fits an old Belgian series
    with the confident 1 swapped for an I) or a double letter collapses (``J907J``). Each candidate is
    the best path through the reader's columns restricted to a layout (``edge.anpr.ctc``), scored by that
    path's log probability plus the series' log prior; the greedy read by its own path, the swaps its
    grammar made (priced as the grammar prices them: a swap never costs more than a factor of 200, as
    the reader is often sure of the wrong one of two look-alikes on real plates) and its series' prior.
    Only reads of a red or yellow plate (a hint) that do not fit one of its country's series as read are
    searched, so a plain read costs nothing."""
    columns = raw.columns
    if columns is None or hint is None or len(raw.text) < 4:
        return None
    match = grammar.best(raw.text, hint, raw.char_conf)
    if match is not None and match.country == hint and match.corrections == 0 and match.series != "vanity":
        return None
    lengths = (len(raw.text) - 1, len(raw.text) + 1)
    choices = [lay for lay in grammar.layouts(hint) if len(lay.allowed) in lengths]
    if not choices:
        return None
    log_probs = columns.log_probs
    greedy = ctc.greedy_log_prob(log_probs)
    if match is None:
        baseline = greedy + _LOG_PRIOR_NO_GRAMMAR
    else:
        baseline = greedy + grammar.swaps_log_likelihood(raw.text, match.text, raw.char_conf)
        baseline += math.log(max(match.prior, 1e-9)) + (grammar.LOG_HINT if match.country == hint else 0.0)
    # Layouts that could win even with a path as likely as the greedy one, searched a length at a time.
    floor = baseline + _REGROW_MARGIN - greedy - grammar.LOG_HINT
    best: ctc.Path | None = None
    best_score = baseline + _REGROW_MARGIN
    for length in lengths:
        group = [lay for lay in choices if len(lay.allowed) == length and lay.log_prior > floor]
        if not group:
            continue
        masks = [[columns.classes(chars) for chars in lay.allowed] for lay in group]
        found = ctc.best_of(log_probs, masks, np.array([lay.log_prior for lay in group]))
        if found is None:
            continue
        index, path = found
        score = path.log_prob + group[index].log_prior + grammar.LOG_HINT
        if score > best_score:
            best, best_score = path, score
    if best is None:
        return None
    text = "".join(columns.alphabet[k - 1] for k in best.classes)
    read = _interpret_one(RawRead(text, best.peaks, raw.span), hint, crop, trimmed=False)
    return None if read is None else replace(read, raw=raw.text)


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
        if generic:
            # A catch-all fit: the text alone says little more than "some plate".
            conf *= _GRAMMAR_FACTOR_GENERIC
        if hint in _EXCLUSIVE_HINTS and country != hint:
            # A fit the plate's colours contradict: red characters read as a German series, or as only
            # the generic grammar takes them (the band's letter read as a glyph: `BIFNZ401`).
            conf *= _HINT_CONTRADICTED_FACTOR
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
