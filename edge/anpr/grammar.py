"""Plate grammars: which country and series an OCR read fits, after fixing confusable glyphs.

The reader returns A-Z and 0-9 only (it never reads separators) with a confidence per character. Each
:class:`Grammar` describes one series of one country by the printed layout of its plates, written as a
template with one token per character:

- ``D`` a digit, ``N`` a digit other than 0 (a number without a leading zero),
- ``L`` a letter from the grammar's ``letters``, ``A`` a digit or a letter from ``alnum_letters``,
- ``[XY]`` one of the characters listed (``[C][D]`` is the literal ``CD``, ``[EH]`` an E or an H),
- ``-`` and space: separators, used only to render the formatted text.

Matching is **position-aware**: where the template allows only digits, a read letter that is commonly
confused with a digit (O, D, Q -> 0, I -> 1, B -> 8, S -> 5, Z -> 2) becomes that digit, and where it
allows only certain letters a read digit becomes its look-alike letter (0 -> O, or D, or Q when the series
does not use O; 1 -> I, 8 -> B, 5 -> S, 2 -> Z). Each swap counts as one correction. A position that
accepts both glyphs of a pair (``A``) is never changed: there the grammar cannot decide.

Everything here is pure and allocation-light; ``match`` on a 7-character read costs tens of microseconds.
See ``docs/anpr-grammars.md`` for the table of grammars and the reasoning behind the priors.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

__all__ = [
    "COUNTRIES",
    "GRAMMARS",
    "LOG_HINT",
    "MAX_CORRECTIONS",
    "Grammar",
    "GrammarMatch",
    "Layout",
    "best",
    "grammar",
    "layouts",
    "match",
    "normalise",
    "swaps_log_likelihood",
]

_DIGITS = "0123456789"
_ALL_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ALNUM = frozenset(_DIGITS + _ALL_LETTERS)
_ASCII_ALNUM = frozenset(_DIGITS + _ALL_LETTERS + _ALL_LETTERS.lower())

MAX_CORRECTIONS = 2
"""Default ceiling on swaps per match: a read that needs more is a different plate, not a misread one."""

# Look-alike glyphs, in order of preference. Only the five pairs the hotlist tolerance also uses
# (0/O, 1/I, 8/B, 5/S, 2/Z), plus D and Q for 0 where a series has no O (D then Q: D is the more
# common letter on plates and the more common misread of 0 in the fonts concerned).
_CONFUSABLE: Mapping[str, tuple[str, ...]] = {
    "0": ("O", "D", "Q"),
    "1": ("I",),
    "8": ("B",),
    "5": ("S",),
    "2": ("Z",),
    "O": ("0",),
    "D": ("0",),
    "Q": ("0",),
    "I": ("1",),
    "B": ("8",),
    "S": ("5",),
    "Z": ("2",),
}

_SEPARATORS = frozenset("- ")


def normalise(text: str) -> str:
    """The plate text as ANPR reports it: ASCII letters and digits only, upper case (``1-abc-234`` ->
    ``1ABC234``). Anything else (separators, spaces, non-ASCII glyphs) is dropped."""
    return "".join(ch for ch in text if ch in _ASCII_ALNUM).upper()


@dataclass(frozen=True, slots=True)
class GrammarMatch:
    """One grammar a read fits: the text after correction and how many characters were swapped."""

    country: str
    """ISO 3166-1 alpha-2 code, or ``EU`` for the generic fallback."""
    series: str
    text: str
    """Normalised, corrected text: same length as the normalised read."""
    formatted: str
    """``text`` with the series' separators (``1-ABC-234``)."""
    corrections: int
    """Characters swapped for their look-alike to fit the grammar."""
    prior: float
    """How common plates of this series and layout are on Antwerp's roads: the series' prior shared
    evenly over its layouts (a relative weight, not a probability)."""


@dataclass(frozen=True, slots=True)
class _Variant:
    """One fixed-length layout of a grammar, compiled to a lookup per position."""

    template: str
    tables: tuple[Mapping[str, str], ...]
    """Per position: read character -> plate character (itself, or its look-alike); absent = not allowed."""
    separators: tuple[str, ...]
    """Per position: the separator printed after it ('' for none)."""
    groups: tuple[tuple[int, int], ...]
    """Start and end of each separator-delimited group, for ``blocked_groups``."""
    exact: re.Pattern[str]
    """Full match of the texts that fit as read: one character class per position, so linear."""
    reachable: re.Pattern[str]
    """Full match of the texts that fit after swaps: rejects most layouts without a Python loop."""

    def read(self, text: str, max_corrections: int) -> tuple[str, int] | None:
        """``text`` fitted to this layout and the swaps it took, or None if it does not fit."""
        if self.exact.fullmatch(text):
            return text, 0
        if max_corrections <= 0 or not self.reachable.fullmatch(text):
            return None
        out: list[str] = []
        corrections = 0
        for ch, table in zip(text, self.tables, strict=True):
            fixed = table.get(ch)
            if fixed is None:
                return None
            if fixed != ch:
                corrections += 1
                if corrections > max_corrections:
                    return None
            out.append(fixed)
        return "".join(out), corrections

    def render(self, text: str) -> str:
        return "".join(ch + sep for ch, sep in zip(text, self.separators, strict=True))


@dataclass(frozen=True, slots=True)
class Grammar:
    """One series of one country's plates: its layouts, the letters it uses and how common it is."""

    country: str
    series: str
    templates: tuple[str, ...]
    """The layouts, tokens as described in the module docstring (``N-LLL-DDD``)."""
    example: str
    """A formatted example, for documentation and tests."""
    prior: float
    """Relative frequency in Antwerp, shared evenly over the layouts; weighs against corrections when
    ranking (see :func:`match`)."""
    letters: str = _ALL_LETTERS
    """Letters an ``L`` position accepts."""
    alnum_letters: str = _ALL_LETTERS
    """Letters an ``A`` position accepts (digits always)."""
    blocked_groups: frozenset[str] = frozenset()
    """Groups (between separators) never issued, such as ``000``."""
    require_letter: bool = False
    require_digit: bool = False
    fallback: bool = False
    """A catch-all (vanity, generic EU): ranked after every specific series, whatever the corrections."""
    note: str = ""
    _variants: tuple[_Variant, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_variants", tuple(_compile(t, self) for t in self.templates))

    @property
    def patterns(self) -> tuple[str, ...]:
        """The layouts without separators, one token per character (``NLLLDDD``)."""
        return tuple(_strip_separators(t) for t in self.templates)

    @property
    def lengths(self) -> frozenset[int]:
        return frozenset(len(v.tables) for v in self._variants)

    def fits(self, text: str) -> bool:
        """Whether the normalised ``text`` is a plate of this series exactly as written."""
        return self.format(text) is not None

    def format(self, text: str) -> str | None:
        """The normalised ``text`` with this series' separators, or None if it does not fit exactly."""
        read = normalise(text)
        for variant in self._variants:
            if len(variant.tables) == len(read) and self._check(variant, read, 0) is not None:
                return variant.render(read)
        return None

    def _check(self, variant: _Variant, text: str, max_corrections: int) -> tuple[str, int] | None:
        """``text`` fitted to ``variant`` (same length) and the swaps it took, or None."""
        found = variant.read(text, max_corrections)
        if found is None:
            return None
        fixed, corrections = found
        if self.blocked_groups and any(fixed[a:b] in self.blocked_groups for a, b in variant.groups):
            return None
        if self.require_letter and not any(ch.isalpha() for ch in fixed):
            return None
        if self.require_digit and not any(ch.isdigit() for ch in fixed):
            return None
        return fixed, corrections


def _strip_separators(template: str) -> str:
    return "".join(ch for ch in template if ch not in _SEPARATORS)


def _tokens(template: str, grammar: Grammar) -> Iterator[frozenset[str] | str]:
    """Allowed characters per position, and separators as plain strings."""
    i = 0
    while i < len(template):
        ch = template[i]
        if ch in _SEPARATORS:
            yield ch
        elif ch == "[":
            end = template.find("]", i)
            chars = frozenset(template[i + 1 : end])
            if end < 0 or not chars or not chars <= _ALNUM:
                raise ValueError(f"{grammar.country}/{grammar.series}: bad set in template {template!r}")
            yield chars
            i = end
        elif ch == "D":
            yield frozenset(_DIGITS)
        elif ch == "N":
            yield frozenset(_DIGITS[1:])
        elif ch == "L":
            yield frozenset(grammar.letters)
        elif ch == "A":
            yield frozenset(_DIGITS + grammar.alnum_letters)
        else:
            raise ValueError(f"{grammar.country}/{grammar.series}: bad token {ch!r} in template {template!r}")
        i += 1


def _position_table(allowed: frozenset[str]) -> dict[str, str]:
    table: dict[str, str] = {}
    for ch in _ALNUM:
        if ch in allowed:
            table[ch] = ch
            continue
        for look_alike in _CONFUSABLE.get(ch, ()):
            if look_alike in allowed:
                table[ch] = look_alike
                break
    return table


def _compile(template: str, grammar: Grammar) -> _Variant:
    tables: list[dict[str, str]] = []
    separators: list[str] = []
    for token in _tokens(template, grammar):
        if isinstance(token, str):
            if not tables:
                raise ValueError(
                    f"{grammar.country}/{grammar.series}: template {template!r} starts with {token!r}"
                )
            separators[-1] += token
        else:
            tables.append(_position_table(token))
            separators.append("")
    if not tables:
        raise ValueError(f"{grammar.country}/{grammar.series}: empty template")
    groups: list[tuple[int, int]] = []
    start = 0
    for i, sep in enumerate(separators):
        if sep or i == len(separators) - 1:
            groups.append((start, i + 1))
            start = i + 1
    exact = "".join(_char_class(t[ch] for ch in t if t[ch] == ch) for t in tables)
    reachable = "".join(_char_class(t) for t in tables)
    return _Variant(
        template, tuple(tables), tuple(separators), tuple(groups), re.compile(exact), re.compile(reachable)
    )


def _char_class(chars: Iterable[str]) -> str:
    # Only A-Z and 0-9 ever get here: nothing to escape.
    return "[" + "".join(sorted(chars)) + "]"


# --- The table -----------------------------------------------------------------------------------------

_BE_OLD_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"  # 1953-1973 series: no I, O or Q
_NL_LETTERS = "BDFGHJKLMNPRSTVXZ"  # RDW, sidecode 4 onwards: consonants without C, Q, W, Y
_NL_BLOCKED = frozenset({"SS", "SD", "SA", "NSB", "KKK", "PKK", "PVV", "TBS", "GVD", "VVD"})
_NL_SIDECODES = (
    "LL-DD-DD",
    "DD-DD-LL",
    "DD-LL-DD",
    "LL-DD-LL",
    "LL-LL-DD",
    "DD-LL-LL",
    "DD-LLL-D",
    "D-LLL-DD",
    "LL-DDD-L",
    "L-DDD-LL",
    "LLL-DD-L",
    "L-DD-LLL",
    "D-LL-DDD",
    "DDD-LL-D",
)
# Newer sidecodes are more common on the road; every NL series still ranks above FR and DE.
_NL_SIDECODE_WEIGHTS = (1, 1, 1, 2, 3, 4, 6, 8, 10, 10, 6, 3, 4, 3)
_NL_SIDECODE_EXAMPLES = (
    "AB-12-34",
    "12-34-XB",
    "12-XB-34",
    "XB-12-DF",
    "XB-DF-12",
    "12-XB-DF",
    "12-XBD-3",
    "1-XBD-23",
    "XB-123-D",
    "X-123-BD",
    "XBD-12-F",
    "X-12-BDF",
    "1-XB-234",
    "123-XB-4",
)
_FR_LETTERS = "ABCDEFGHJKLMNPQRSTVWXYZ"  # SIV: no I, O, U
_CZ_REGIONS = "ABCEHJKLMPSTUZ"
_CZ_LETTERS = "ABCDEFHIJKLMNPRSTUVXYZ"  # no G, O, Q, W
_PL_VOIVODESHIPS = "BCDEFGHKLNOPRSTUWZ"
_PL_RESOURCE_LETTERS = "ACEFGHJKLMNPQRSTUVWXY"  # no B, D, I, O, Z in the part after the district
_GB_LETTERS = "ABCDEFGHJKLMNOPRSTUVWXYZ"  # no I, Q
_GB_YEAR_LETTERS = "ABCDEFGHJKLMNPRSTVWXY"  # prefix/suffix year letter: no I, O, Q, U, Z


def _de_templates(suffix: str = "") -> tuple[str, ...]:
    # District (1-3 letters) and letters (1-2) are one run of 2-5 letters once the stickers between them
    # are gone; then 1-4 digits without a leading zero; at most 8 characters, an E/H suffix included
    # (the plate is no wider for it).
    extra = 1 if suffix else 0
    return tuple(
        "L" * letters + " N" + "D" * (digits - 1) + suffix
        for letters in range(2, 6)
        for digits in range(1, 5)
        if letters + digits + extra <= 8
    )


def _nl(number: int, sidecode: str, weight: int, example: str) -> Grammar:
    return Grammar(
        "NL",
        f"sidecode_{number}",
        (sidecode,),
        example,
        0.05 + 0.005 * weight,
        letters=_ALL_LETTERS if number <= 3 else _NL_LETTERS,
        blocked_groups=_NL_BLOCKED,
        note="yellow; letters of sidecodes 1-3 (before 1978) not restricted"
        if number <= 3
        else "yellow; consonants only",
    )


GRAMMARS: tuple[Grammar, ...] = (
    # Belgium: red on white. The current series since November 2010, index digit 1-9 (1 and 2 in use).
    Grammar("BE", "current", ("N-LLL-DDD",), "1-ABC-234", 0.40, blocked_groups=frozenset({"000"})),
    Grammar("BE", "old", ("LLL-DDD",), "ABC-123", 0.03, blocked_groups=frozenset({"000"}), note="1973-2008"),
    Grammar(
        "BE",
        "old_reversed",
        ("DDD-LLL",),
        "123-ABC",
        0.02,
        blocked_groups=frozenset({"000"}),
        note="2008-2010",
    ),
    Grammar(
        "BE", "motorcycle", ("N-LLL-DD", "[MW]-LLL-DD", "[MW]-LLL-DDD"), "M-ABC-12", 0.01, note="two rows"
    ),
    Grammar("BE", "trailer", ("[Q]-LLL-DDD",), "Q-ABC-123", 0.01),
    Grammar("BE", "temporary", ("[9]-DDD-LLL",), "9-110-BEN", 0.005, note="transit / temporary"),
    Grammar("BE", "moped", ("[S]-LLL-DD", "[S]-LLL-DDD"), "S-ABC-12", 0.005, note="two rows"),
    Grammar("BE", "category", ("[GTZ]-LLL-DDD",), "T-XAB-123", 0.005, note="G tractor, T taxi, Z dealer"),
    Grammar("BE", "oldtimer", ("[O]-LLL-DD", "[O]-LLL-DDD"), "O-ABC-12", 0.003),
    Grammar("BE", "diplomatic", ("[C][D]-LLDDD",), "CD-AF109", 0.002, note="letters code the mission"),
    Grammar(
        "BE",
        "pre1973",
        (
            "L-DDDD",
            "D-L-DDD",
            "DD-L-DD",
            "DDD-L-D",
            "DDDD-L",
            "LL-DDD",
            "D-LL-DD",
            "DD-LL-D",
            "DDD-LL",
            "L-DDD-L",
        ),
        "SE-555",
        0.002,
        letters=_BE_OLD_LETTERS,
        note="1953-1973 codes 1-10, kept for life",
    ),
    Grammar(
        "BE",
        "vanity",
        tuple("A" * n for n in range(1, 9)),
        "JAMES007",
        0.002,
        require_letter=True,
        fallback=True,
        note="1-8 free characters, at least one letter",
    ),
    # The Netherlands: yellow, the RDW sidecodes.
    *(
        _nl(i + 1, code, weight, example)
        for i, (code, weight, example) in enumerate(
            zip(_NL_SIDECODES, _NL_SIDECODE_WEIGHTS, _NL_SIDECODE_EXAMPLES, strict=True)
        )
    ),
    # France: SIV since 2009.
    Grammar(
        "FR",
        "siv",
        ("LL-DDD-LL",),
        "AB-123-CD",
        0.045,
        letters=_FR_LETTERS,
        blocked_groups=frozenset({"SS", "000"}),
        note="WW in front: temporary (accepted)",
    ),
    # Germany: FE font; district, stickers, letters, number.
    Grammar("DE", "standard", _de_templates(), "BAB 1234", 0.04, note="district/letters split unknown"),
    Grammar("DE", "electric", _de_templates("[E]"), "BAB 123E", 0.004),
    Grammar("DE", "historic", _de_templates("[H]"), "BAB 123H", 0.002),
    # Neighbours and EU plates common in the dev data.
    Grammar(
        "PL",
        "standard",
        tuple(f"[{_PL_VOIVODESHIPS}]{district} {'A' * n}" for district in ("L", "LL") for n in (5, 4)),
        "WA 12345",
        0.008,
        alnum_letters=_PL_RESOURCE_LETTERS,
        require_digit=True,
        note="district 2-3 letters, then 4-5 characters",
    ),
    # The two digits are the age identifier: 02-29 (March of 2002-2029) or 51-79 (September of 2001-2029).
    Grammar(
        "GB",
        "current",
        ("LL[012567]D LLL",),
        "AB12 CDE",
        0.006,
        letters=_GB_LETTERS,
        note="rear yellow; age identifier 0x-2x or 5x-7x",
    ),
    Grammar(
        "GB",
        "prefix",
        tuple(f"[{_GB_YEAR_LETTERS}]N{'D' * n} LLL" for n in range(3)),
        "A123 BCD",
        0.002,
        letters=_GB_LETTERS,
        note="1983-2001; cherished plates",
    ),
    Grammar(
        "GB",
        "suffix",
        tuple(f"LLL N{'D' * n}[{_GB_YEAR_LETTERS}]" for n in range(3)),
        "ABC 123D",
        0.001,
        letters=_GB_LETTERS,
        note="1963-1983",
    ),
    Grammar(
        "CZ",
        "standard",
        (f"N[{_CZ_REGIONS}]A DDDD",),
        "1B2 5790",
        0.004,
        alnum_letters=_CZ_LETTERS,
        note="dLddddd and dLLdddd",
    ),
    Grammar("SK", "standard", ("LL-DDDLL",), "BA-123AB", 0.003),
    Grammar(
        "EU",
        "generic",
        tuple("A" * n for n in range(4, 9)),
        "AB12CD",
        0.001,
        require_letter=True,
        require_digit=True,
        fallback=True,
        note="any EU plate: 4-8 characters, a letter and a digit",
    ),
    Grammar(
        "EU",
        "numeric",
        tuple("D" * n for n in range(4, 9)),
        "1022073",
        0.0005,
        fallback=True,
        note="digits only (official and very old plates)",
    ),
)
"""Every grammar, in order of priority where everything else is equal."""

COUNTRIES: tuple[str, ...] = tuple(dict.fromkeys(g.country for g in GRAMMARS))

_BY_NAME: Mapping[tuple[str, str], Grammar] = {(g.country, g.series): g for g in GRAMMARS}


@dataclass(frozen=True, slots=True)
class _Layout:
    order: int
    """Index of the grammar in ``GRAMMARS``: the last tie-breaker, so results are deterministic."""
    grammar: Grammar
    variant: _Variant
    prior: float
    """The series' prior shared evenly over its layouts: a series with fifteen layouts (DE) does not
    outweigh one with a single layout (BE old) on the layout they share."""
    log_prior: float


def _layouts() -> dict[int, tuple[_Layout, ...]]:
    by_length: dict[int, list[_Layout]] = {}
    for order, g in enumerate(GRAMMARS):
        share = g.prior / len(g._variants)
        for variant in g._variants:
            layout = _Layout(order, g, variant, share, math.log(share))
            by_length.setdefault(len(variant.tables), []).append(layout)
    return {length: tuple(layouts) for length, layouts in sorted(by_length.items())}


_BY_LENGTH: Mapping[int, tuple[_Layout, ...]] = _layouts()


@dataclass(frozen=True, slots=True)
class Layout:
    """One fixed-length layout of a specific series, as the characters each position takes as printed."""

    country: str
    series: str
    allowed: tuple[frozenset[str], ...]
    log_prior: float
    """Log of the series' prior shared over its layouts (as ``match`` ranks by)."""


@lru_cache(maxsize=64)
def layouts(country: str) -> tuple[Layout, ...]:
    """Every layout of ``country``'s specific series (no catch-alls), shortest first, then in table order."""
    found = [
        Layout(
            layout.grammar.country,
            layout.grammar.series,
            tuple(
                frozenset(ch for ch, plate in table.items() if plate == ch) for table in layout.variant.tables
            ),
            layout.log_prior,
        )
        for length in _BY_LENGTH.values()
        for layout in length
        if layout.grammar.country == country and not layout.grammar.fallback
    ]
    return tuple(found)


_SWAP_LIKELIHOOD = 0.05
"""How likely the reader is to have swapped a character for its look-alike when no confidence is given
(the same as a character read at 0.9, see :func:`_swap_likelihood`). One swap is worth a factor of 20 in
prior: BE current (0.40) read with one swap still beats an exact DE layout (0.0027), but two swaps
(factor 400) lose to an exact CZ plate (0.004), and an exact read of a common series always beats a
corrected read of a rarer one."""
_LOG_SWAP = math.log(_SWAP_LIKELIHOOD)
_HINT_FACTOR = 20.0
"""Weight of agreeing with the colour classifier's country hint: one swap's worth. The hint is only given
on strong evidence (yellow, red ink), so it may overturn a single swap but never an exact read of its
own country's series with an unfavourable prior alone."""
LOG_HINT = math.log(_HINT_FACTOR)
"""The hint's weight as a log score, for ranking by log prior elsewhere (``edge.anpr.recognizer``)."""


def grammar(country: str, series: str) -> Grammar:
    """The grammar of ``country``'s ``series``; KeyError if there is none."""
    return _BY_NAME[(country, series)]


@dataclass(frozen=True, slots=True)
class _Fit:
    layout: _Layout
    text: str
    corrections: int


@lru_cache(maxsize=4096)
def _fits(read: str, max_corrections: int) -> tuple[_Fit, ...]:
    """Every layout ``read`` fits. Cached: a vehicle pass reads the same plate over many frames."""
    found: list[_Fit] = []
    for layout in _BY_LENGTH.get(len(read), ()):
        fit = layout.grammar._check(layout.variant, read, max_corrections)
        if fit is not None:
            found.append(_Fit(layout, fit[0], fit[1]))
    return tuple(found)


def _hint(country_hint: str | None) -> str | None:
    return (country_hint.strip().upper() or None) if country_hint else None


def _ranked(fits: Iterable[_Fit], hint: str | None, swap_log: Callable[[_Fit], float]) -> list[_Fit]:
    """Best first, one fit per grammar: catch-alls last, then by score (log prior + log likelihood of the
    swaps + the hint's weight), then table order."""

    def key(fit: _Fit) -> tuple[bool, float, int]:
        score = fit.layout.log_prior + swap_log(fit)
        if hint is not None and fit.layout.grammar.country == hint:
            score += LOG_HINT
        return fit.layout.grammar.fallback, -score, fit.layout.order

    seen: set[int] = set()
    ranked: list[_Fit] = []
    for fit in sorted(fits, key=key):
        if fit.layout.order not in seen:
            seen.add(fit.layout.order)
            ranked.append(fit)
    return ranked


def _to_match(fit: _Fit) -> GrammarMatch:
    g = fit.layout.grammar
    return GrammarMatch(
        g.country, g.series, fit.text, fit.layout.variant.render(fit.text), fit.corrections, fit.layout.prior
    )


def _plain_swaps(fit: _Fit) -> float:
    return fit.corrections * _LOG_SWAP


def match(
    text: str, country_hint: str | None = None, *, max_corrections: int = MAX_CORRECTIONS
) -> list[GrammarMatch]:
    """Every grammar ``text`` fits with at most ``max_corrections`` swaps, best first.

    Specific series come before the catch-alls (vanity, generic EU). Among them the order is by
    ``prior * 0.05 ** corrections``, times 20 where the series' country agrees with ``country_hint`` (from
    the plate's colours, see ``edge.anpr.country``): fewer corrections win unless the series with more
    is over twenty times as common (BE current against a DE layout), and a hint is worth one correction.
    One match per grammar: its best layout.
    """
    read = normalise(text)
    return [_to_match(f) for f in _ranked(_fits(read, max_corrections), _hint(country_hint), _plain_swaps)]


def best(
    text: str,
    country_hint: str | None = None,
    char_conf: Sequence[float] | None = None,
    *,
    max_corrections: int = MAX_CORRECTIONS,
) -> GrammarMatch | None:
    """The most likely plate for a read, or None if no grammar takes it.

    ``char_conf`` is the reader's confidence per character, aligned with ``text`` as given or with its
    normalised form. A swap then costs according to the confidence of the character it overrules,
    ``0.5 * (1 - confidence)`` clipped to 0.005..0.5 instead of the flat 0.05: overruling a character read
    at more than 0.9 costs more than a flat swap (up to ten times), one read at less than 0.9 costs less
    (a character read at 0.5 is overruled at a fifth of the flat cost). Without ``char_conf`` this is
    ``match(...)[0]``.
    """
    read = normalise(text)
    fits = _fits(read, max_corrections)
    if not fits:
        return None
    if char_conf is None:
        swap_log = _plain_swaps
    else:
        logs = [math.log(_swap_likelihood(q)) for q in _align(text, read, char_conf)]

        def swap_log(fit: _Fit) -> float:
            return sum(lg for lg, a, b in zip(logs, read, fit.text, strict=True) if a != b)

    return _to_match(_ranked(fits, _hint(country_hint), swap_log)[0])


def swaps_log_likelihood(text: str, fitted: str, char_conf: Sequence[float]) -> float:
    """Log likelihood of the swaps that made ``fitted`` of the read ``text``, priced as :func:`best` prices
    them (by the confidence of each character overruled)."""
    read = normalise(text)
    if len(fitted) != len(read):
        raise ValueError(f"{fitted!r} is not a fit of {read!r}: the lengths differ")
    confs = _align(text, read, char_conf)
    return sum(math.log(_swap_likelihood(q)) for q, a, b in zip(confs, read, fitted, strict=True) if a != b)


def _swap_likelihood(confidence: float) -> float:
    if math.isnan(confidence):
        return _SWAP_LIKELIHOOD
    # Never quite certain: even a character read at 1.0 can be overruled, at 1/10 of a flat swap's odds.
    return min(max(0.5 * (1.0 - confidence), 0.005), 0.5)


def _align(text: str, read: str, char_conf: Sequence[float]) -> Sequence[float]:
    if len(char_conf) == len(read):
        return char_conf
    if len(char_conf) == len(text):
        return [q for ch, q in zip(text, char_conf, strict=True) if ch in _ASCII_ALNUM]
    raise ValueError(
        f"char_conf has {len(char_conf)} values; the read has {len(text)} characters ({len(read)} normalised)"
    )
