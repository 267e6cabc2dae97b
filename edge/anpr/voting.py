"""Voting a track's reads to one text: weighted plurality when it is a strict majority, else per character.

Each read weighs its reader confidence times the square root of its detail (how much of the reader's
resolution the plate filled), at least ``MIN_WEIGHT``. The tally grows with the number of
distinct texts (at most ``MAX_TEXTS``), not with the number of reads, so a parked car read for minutes
costs no more memory than a passing one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

MIN_WEIGHT = 0.01
"""Vote weight of a read whose confidence is 0: it still counts, barely."""
CLUSTER_EDITS = 2
"""Reads this many edits apart or fewer support each other when the vote picks the plate's length."""
_NEIGHBOUR_SHARE = 0.5
"""What a read one edit away adds to a text's support when the vote picks the plate's length (a quarter at
two edits): of a read and a near read one glyph shorter, the heavier one anchors the vote, even when the
shorter one has a third, unlike neighbour of its own length (``J907J`` beside ``J907JJ`` and ``J9073``)."""
MAX_TEXTS = 32
"""Distinct texts kept per track (a parked car read for minutes); the lightest is forgotten first."""

Box = tuple[float, float, float, float]
"""A box ``(x, y, w, h)`` in pixels, origin top-left."""


@dataclass(frozen=True, slots=True)
class Observation:
    """One plate seen in one processed frame."""

    t_s: float
    """Monotonic seconds of the frame."""
    box: Box
    """``(x, y, w, h)`` in pixels."""
    text: str | None
    """Normalised plate (A-Z0-9), or None when the plate was detected but not read."""
    confidence: float
    """Reader confidence 0..1 (0 when unread)."""
    country: str | None = None
    payload: object = None
    """Opaque to the tracker (the caller's crop/frame reference); the pass keeps the best observation's."""
    detail: float = 1.0
    """0..1: how much of the reader's input resolution the plate filled (``PlateRead.detail``); the read's
    vote is its confidence times the square root of this. A distant plate's read weighs less than a near
    one's, but a sure read of a plate half the reader's width still outweighs an unsure one twice as wide."""


@dataclass(slots=True)
class _TextTally:
    weight: float = 0.0
    count: int = 0
    confidence_sum: float = 0.0
    best: Observation | None = None
    countries: dict[str, float] = field(default_factory=dict)

    @property
    def mean_confidence(self) -> float:
        return self.confidence_sum / self.count if self.count else 0.0


@dataclass(slots=True)
class _LengthTally:
    """Per-position character weights of all reads of one length, for the character-level fallback."""

    positions: list[dict[str, list[float]]]  # char -> [weight, count]
    weight: float = 0.0
    count: int = 0
    confidence_sum: float = 0.0


@dataclass(frozen=True, slots=True)
class Verdict:
    text: str | None
    confidence: float
    country: str | None
    best: Observation | None


class Ballot:
    """The reads of one track, tallied as they arrive so memory does not grow with track length."""

    def __init__(self) -> None:
        self.texts: dict[str, _TextTally] = {}
        self.lengths: dict[int, _LengthTally] = {}
        self.total_weight = 0.0
        self.reads = 0

    def add(self, obs: Observation, text: str) -> None:
        confidence = min(max(obs.confidence, 0.0), 1.0) if math.isfinite(obs.confidence) else 0.0
        detail = min(max(obs.detail, 0.0), 1.0) if math.isfinite(obs.detail) else 1.0
        weight = max(confidence * math.sqrt(detail), MIN_WEIGHT)
        self.reads += 1
        self.total_weight += weight
        tally = self.texts.get(text)
        if tally is None:
            if len(self.texts) >= MAX_TEXTS:
                del self.texts[min(self.texts, key=lambda t: self.texts[t].weight)]
            tally = self.texts[text] = _TextTally()
        tally.weight += weight
        tally.count += 1
        tally.confidence_sum += confidence
        if tally.best is None or confidence > tally.best.confidence:
            tally.best = obs
        if obs.country:
            tally.countries[obs.country] = tally.countries.get(obs.country, 0.0) + weight
        length = self.lengths.get(len(text))
        if length is None:
            length = self.lengths[len(text)] = _LengthTally([{} for _ in text])
        length.weight += weight
        length.count += 1
        length.confidence_sum += confidence
        for position, char in zip(length.positions, text, strict=True):
            slot = position.setdefault(char, [0.0, 0])
            slot[0] += weight
            slot[1] += 1

    def absorb(self, other: Ballot) -> None:
        """Add every read of ``other`` (a track stitched onto this one)."""
        self.reads += other.reads
        self.total_weight += other.total_weight
        for text, theirs in other.texts.items():
            tally = self.texts.get(text)
            if tally is None:
                tally = self.texts[text] = _TextTally()
            tally.weight += theirs.weight
            tally.count += theirs.count
            tally.confidence_sum += theirs.confidence_sum
            best = theirs.best
            if best is not None and (tally.best is None or best.confidence > tally.best.confidence):
                tally.best = best
            for country, weight in theirs.countries.items():
                tally.countries[country] = tally.countries.get(country, 0.0) + weight
        while len(self.texts) > MAX_TEXTS:
            del self.texts[min(self.texts, key=lambda t: self.texts[t].weight)]
        for size, theirs_length in other.lengths.items():
            length = self.lengths.get(size)
            if length is None:
                length = self.lengths[size] = _LengthTally([{} for _ in range(size)])
            length.weight += theirs_length.weight
            length.count += theirs_length.count
            length.confidence_sum += theirs_length.confidence_sum
            for mine, theirs_position in zip(length.positions, theirs_length.positions, strict=True):
                for char, (weight, count) in theirs_position.items():
                    slot = mine.setdefault(char, [0.0, 0])
                    slot[0] += weight
                    slot[1] += count

    def established(self, min_reads: int, min_confidence: float) -> list[str]:
        """Texts read at least ``min_reads`` times with a mean confidence of at least ``min_confidence``."""
        return [
            text
            for text, tally in self.texts.items()
            if tally.count >= min_reads and tally.mean_confidence >= min_confidence
        ]

    def nearest(self, text: str) -> int:
        """Smallest edit distance (capped at 3) from ``text`` to the three heaviest texts."""
        return min((edit_distance(text, other) for other in self.heaviest()), default=3)

    def heaviest(self, n: int = 3) -> list[str]:
        """The ``n`` texts with the most weight, heaviest first."""
        return sorted(self.texts, key=lambda t: -self.texts[t].weight)[:n]

    def verdict(self) -> Verdict:
        """Weighted plurality if it is a strict majority; otherwise vote per character over the reads of
        the length of the text the most weight gathers around (``_anchor``)."""
        if not self.texts:
            return Verdict(None, 0.0, None, None)
        ranked = sorted(
            self.texts.items(),
            key=lambda kv: (-round(kv[1].weight, 9), -kv[1].mean_confidence, -kv[1].count, kv[0]),
        )
        text, top = ranked[0]
        plurality = Verdict(
            text, top.weight / self.total_weight * top.mean_confidence, _heaviest(top.countries), top.best
        )
        if len(ranked) == 1 or top.weight > self.total_weight / 2:
            return plurality
        return self._by_character() or plurality

    def _anchor(self) -> str:
        """The text with the most weight around it: its own, and ``_NEIGHBOUR_SHARE`` of each text one edit
        away, its square at two (``CLUSTER_EDITS``): where the reads gather. Its length is the one voted per
        character. Wrong reads scatter (a part of the plate, a sign, a glyph
        too many), right ones differ from the plate and each other by an edit or two."""
        texts = list(self.texts.items())

        def support(text: str) -> float:
            return sum(
                t.weight * _NEIGHBOUR_SHARE**distance
                for other, t in texts
                if (distance := edit_distance(text, other)) <= CLUSTER_EDITS
            )

        return min(
            texts,
            key=lambda kv: (
                -round(support(kv[0]), 9),
                -round(kv[1].weight, 9),
                -kv[1].mean_confidence,
                kv[0],
            ),
        )[0]

    def _by_character(self) -> Verdict | None:
        size = len(self._anchor())
        group = self.lengths[size]
        chars: list[str] = []
        shares: list[float] = []
        for position in group.positions:
            char, (weight, _) = min(
                position.items(), key=lambda kv: (-round(kv[1][0], 9), -kv[1][0] / kv[1][1], kv[0])
            )
            chars.append(char)
            shares.append(weight / sum(w for w, _ in position.values()))
        text = "".join(chars)
        same_size = [(t, tally) for t, tally in self.texts.items() if len(t) == size]
        if not same_size:
            return None  # every read of this length was forgotten; plurality it is
        # The best observation is the most confident read closest to the composed text.
        _, closest = min(
            same_size,
            key=lambda kv: (_hamming(kv[0], text), -(kv[1].best.confidence if kv[1].best else 0.0), kv[0]),
        )
        countries: dict[str, float] = {}
        for _, tally in same_size:
            for country, weight in tally.countries.items():
                countries[country] = countries.get(country, 0.0) + weight
        confidence = min(shares) * group.confidence_sum / group.count
        return Verdict(text, confidence, _heaviest(countries), closest.best)


def _heaviest(weights: dict[str, float]) -> str | None:
    if not weights:
        return None
    return min(weights, key=lambda k: (-weights[k], k))


def _hamming(a: str, b: str) -> int:
    return sum(x != y for x, y in zip(a, b, strict=True))


def edit_distance(a: str, b: str, cap: int = 3) -> int:
    """Levenshtein distance, capped at ``cap`` (only 0, 1 and "far" matter here)."""
    if abs(len(a) - len(b)) >= cap:
        return cap
    last = _last_row(a, b, list(range(len(b) + 1)), cap)
    return cap if last is None else min(last[-1], cap)


def part_distance(a: str, b: str, cap: int = 3) -> int:
    """Edits from the shorter of ``a`` and ``b`` to the closest run of characters in the longer, capped
    at ``cap``: a read of part of a plate (a glyph or two lost at an edge, ``SI342`` of ``1MSI342``) is
    close to the whole plate, and so is a read with a glyph too many at an end. Never more than
    ``edit_distance``."""
    if len(a) == len(b) and a > b:
        a, b = b, a  # of two texts as long, either is "the shorter": one order, so the result is symmetric
    short, long = (a, b) if len(a) <= len(b) else (b, a)
    # The part may start anywhere in the longer text (a first row of zeros) and end anywhere (the last
    # row's minimum).
    last = _last_row(short, long, [0] * (len(long) + 1), cap)
    return cap if last is None else min(*last, cap)


def _last_row(a: str, b: str, first: list[int], cap: int) -> list[int] | None:
    """The last row of the edit-distance table of ``a`` against ``b`` starting from row ``first``; None
    as soon as every entry of a row reaches ``cap`` (rows never decrease)."""
    previous = first
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        if min(current) >= cap:
            return None
        previous = current
    return previous


def is_part(a: str, b: str) -> bool:
    """Whether the shorter of ``a`` and ``b`` reads as a part of the longer: at most two edits away from a
    run of it, and at most one edit per two of its own characters (a three-character read may differ in one
    character only: with two, nearly any three characters would be a part of any plate)."""
    shorter = min(len(a), len(b))
    return part_distance(a, b) <= min(2, shorter // 2)
