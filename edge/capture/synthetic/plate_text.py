"""Plate texts: each format's grammar and a generator that follows it.

Formats (keys match ``edge.config.PlateMix``):

- ``be_current``: Belgium since 2010, ``1-ABC-234`` (series digit, three letters, three digits).
- ``be_old``: Belgium before 2010, ``ABC-123`` and the older ``123-ABC``.
- ``nl``: the Netherlands, RDW "sidecodes" 1-14 (``AB-12-CD``, ``12-ABC-3``, ``1-ABC-23``, ``XX-999-X``,
  ...). Like the RDW, only consonants without C, Q, W and Y are used (no vowels, so no words), and a few
  notorious letter groups are never issued.
- ``fr``: France SIV since 2009, ``AB-123-CD``; no I, O or U; ``SS`` never and ``WW`` (temporary) not
  in the first group; numbers 001-999.
- ``de``: Germany, ``B-AB 1234``: district code (1-3 letters), 1-2 letters, 1-4 digits without a leading
  zero, at most 8 characters in all. The hyphen stands for the stickers between district and letters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

_NL_LETTERS = "BDFGHJKLMNPRSTVXZ"
_NL_SIDECODES = (
    "XX-99-99",
    "99-99-XX",
    "99-XX-99",
    "XX-99-XX",
    "XX-XX-99",
    "99-XX-XX",
    "99-XXX-9",
    "9-XXX-99",
    "XX-999-X",
    "X-999-XX",
    "XXX-99-X",
    "X-99-XXX",
    "9-XX-999",
    "999-XX-9",
)
# Newer sidecodes are more common on the road today.
_NL_SIDECODE_WEIGHTS = np.array([1, 1, 1, 2, 3, 4, 6, 8, 10, 10, 6, 3, 4, 3], dtype=np.float64)
_NL_BLOCKED_GROUPS = frozenset({"SS", "SD", "SA", "NSB", "KKK", "PKK", "PVV", "TBS", "GVD", "VVD"})

_FR_LETTERS = "ABCDEFGHJKLMNPQRSTVWXYZ"
_DE_DISTRICTS = (
    "B", "M", "HH", "K", "F", "S", "D", "DO", "E", "DU", "H", "HB", "L", "N", "DD", "KA", "MA", "BN",
    "AC", "WI", "MZ", "KI", "HRO", "MS", "BI", "GE", "BO", "W", "A", "FR", "HD", "KR", "MG", "OB",
    "SB", "TR", "KO", "LEV", "EMS", "HSK", "SIG", "RE", "NE", "SU", "GL", "BM", "EU", "DN", "HS",
)  # fmt: skip
_DE_BLOCKED_LETTERS = frozenset({"HJ", "KZ", "NS", "SA", "SS"})
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

_L_NL = f"[{_NL_LETTERS}]"
_L_FR = "[A-HJ-NP-TV-Z]"


def _sidecode_regex(sidecode: str) -> str:
    return "".join(_L_NL if c == "X" else "[0-9]" if c == "9" else "-" for c in sidecode)


@dataclass(frozen=True, slots=True)
class PlateFormat:
    """One plate format: the country it belongs to and the grammar of its printed text."""

    key: str
    country: str
    """ISO 3166-1 alpha-2 code."""
    pattern: re.Pattern[str]
    """Full match of the formatted (printed) text, separators included."""
    max_chars: int
    """Most characters (A-Z, 0-9) the normalised text may have."""

    def is_valid(self, formatted: str) -> bool:
        return bool(self.pattern.fullmatch(formatted)) and len(normalise(formatted)) <= self.max_chars


PLATE_FORMATS: dict[str, PlateFormat] = {
    "be_current": PlateFormat("be_current", "BE", re.compile(r"[1-9]-[A-Z]{3}-(?!000)[0-9]{3}"), 7),
    "be_old": PlateFormat(
        "be_old", "BE", re.compile(r"(?:[A-Z]{3}-(?!000)[0-9]{3}|(?!000)[0-9]{3}-[A-Z]{3})"), 6
    ),
    "nl": PlateFormat(
        "nl", "NL", re.compile("|".join(f"(?:{_sidecode_regex(s)})" for s in _NL_SIDECODES)), 6
    ),
    "fr": PlateFormat(
        "fr", "FR", re.compile(rf"(?!SS|WW){_L_FR}{{2}}-(?!000)[0-9]{{3}}-(?!SS){_L_FR}{{2}}"), 7
    ),
    "de": PlateFormat("de", "DE", re.compile(r"[A-Z]{1,3}-[A-Z]{1,2} [1-9][0-9]{0,3}"), 8),
}


def normalise(formatted: str) -> str:
    """The plate text as ANPR reports it: upper-case A-Z and 0-9 only (``1-ABC-234`` -> ``1ABC234``)."""
    return re.sub(r"[^A-Z0-9]", "", formatted.upper())


def random_plate(plate_format: str, rng: np.random.Generator) -> tuple[str, str]:
    """A random, grammatical plate of ``plate_format``: ``(normalised_text, formatted)``."""
    generate = _GENERATORS.get(plate_format)
    if generate is None:
        raise ValueError(f"unknown plate format {plate_format!r}; known: {', '.join(PLATE_FORMATS)}")
    formatted = generate(rng)
    return normalise(formatted), formatted


def _letters(rng: np.random.Generator, count: int, alphabet: str = _LETTERS) -> str:
    return "".join(alphabet[int(i)] for i in rng.integers(0, len(alphabet), size=count))


def _digits(rng: np.random.Generator, count: int) -> str:
    return "".join(str(int(d)) for d in rng.integers(0, 10, size=count))


def _number(rng: np.random.Generator, low: int, high: int, width: int) -> str:
    return f"{int(rng.integers(low, high + 1)):0{width}d}"


def _be_current(rng: np.random.Generator) -> str:
    # Series 1 ran 2010-2019, series 2 since; both are common.
    series = 1 if rng.random() < 0.6 else 2
    return f"{series}-{_letters(rng, 3)}-{_number(rng, 1, 999, 3)}"


def _be_old(rng: np.random.Generator) -> str:
    if rng.random() < 0.7:
        return f"{_letters(rng, 3)}-{_number(rng, 1, 999, 3)}"
    return f"{_number(rng, 1, 999, 3)}-{_letters(rng, 3)}"


def _nl(rng: np.random.Generator) -> str:
    sidecode = _NL_SIDECODES[
        int(rng.choice(len(_NL_SIDECODES), p=_NL_SIDECODE_WEIGHTS / _NL_SIDECODE_WEIGHTS.sum()))
    ]
    while True:
        groups = [
            _letters(rng, len(g), _NL_LETTERS) if g[0] == "X" else _digits(rng, len(g))
            for g in sidecode.split("-")
        ]
        if not any(g in _NL_BLOCKED_GROUPS for g in groups):
            return "-".join(groups)


def _fr(rng: np.random.Generator) -> str:
    while True:
        first, last = _letters(rng, 2, _FR_LETTERS), _letters(rng, 2, _FR_LETTERS)
        if first not in ("SS", "WW") and last != "SS":
            return f"{first}-{_number(rng, 1, 999, 3)}-{last}"


def _de(rng: np.random.Generator) -> str:
    district = _DE_DISTRICTS[int(rng.integers(0, len(_DE_DISTRICTS)))]
    while True:
        letters = _letters(rng, 1 if rng.random() < 0.3 else 2)
        if letters not in _DE_BLOCKED_LETTERS:
            break
    max_digits = min(4, 8 - len(district) - len(letters))
    digit_count = int(rng.integers(1, max_digits + 1))
    number = int(rng.integers(10 ** (digit_count - 1), 10**digit_count))
    return f"{district}-{letters} {number}"


_GENERATORS = {"be_current": _be_current, "be_old": _be_old, "nl": _nl, "fr": _fr, "de": _de}
