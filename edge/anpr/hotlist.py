"""Hotlists: signed, versioned, expiring lists of wanted plates, held on the node only as keyed hashes.

A bundle (``edge.hotlist/1``, docs/hotlists.md) carries, per listed plate, PBKDF2-HMAC-SHA256 of the
normalised plate (``exact``) and of the plate folded to OCR confusion classes (``folded``: O→0, I→1,
B→8, S→5, Z→2), under one salt and iteration count per bundle. The node never holds plate text: a read
is hashed with the bundle's parameters and looked up. An exact hit is a hit; a folded-only hit is
flagged ``fuzzy`` for a human to check. Plates are low-entropy, so the hashes raise the cost of reading a
stolen node's lists, they do not make it impossible (docs/hotlists.md says how much).

``parse_bundle`` is the one way in: every failure is a ``HotlistError`` with a ``HotlistErrorCode``, on
any input. ``edge.anpr.hotlist_make`` makes bundles (the central side); ``edge.anpr.hotlist_index.Hotlists``
holds the loaded lists on the node (one per ``list_id``), persists them atomically under
``<state_dir>/hotlists/``, re-verifies them at start and matches reads.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import enum
import hashlib
import json
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from edge.commands.signing import canonical_bytes, signer_of
from edge.errors import EdgeError

SCHEMA = "edge.hotlist/1"
KDF_NAME = "pbkdf2-sha256"
HASH_BYTES = 32
MIN_ITERATIONS = 1_000
MAX_ITERATIONS = 200_000
"""Upper bound: a read costs two PBKDF2 runs per bundle on the node's CPU, whoever signed the bundle."""
DEFAULT_ITERATIONS = 20_000
MIN_SALT_BYTES = 16
MAX_SALT_BYTES = 32
MAX_PLATE_CHARS = 16
"""Longer normalised texts are not plates (the longest grammar we know has 8 characters)."""
DEFAULT_MAX_ENTRIES = 500_000
DEFAULT_MAX_BYTES = 160 * 1024 * 1024
"""A serialised entry is about 200 bytes: 500 000 entries fit with room to spare."""
DEFAULT_MAX_VALIDITY_S = 31 * 86_400.0
"""A list older than a month is more likely to flag a recovered car than to find a stolen one."""
CLOCK_SKEW_S = 300.0
"""A bundle issued up to this far in the node's future is accepted (clocks are never perfect)."""

FOLD = str.maketrans({"O": "0", "I": "1", "B": "8", "S": "5", "Z": "2"})
"""OCR confusion classes, letters folded to the digit they are mistaken for."""

_FIELDS = frozenset(
    {"schema", "list_id", "purpose", "version", "issued_at", "expires_at", "issuer", "kdf", "entries", "sig"}
)
_KDF_FIELDS = frozenset({"name", "iterations", "salt"})
_ENTRY_FIELDS = frozenset({"exact", "folded", "category", "ref"})
# fullmatch everywhere: ``$`` would let a trailing newline through, ``\d`` would let other scripts' digits in.
LIST_ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
"""Also the file name on the node: no dots, no slashes."""
CATEGORY_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,31}")
REF_PATTERN = re.compile(r"[\x20-\x7e]{1,128}")
_ISSUER = re.compile(r"[^\x00-\x1f\x7f\ud800-\udfff]{1,200}")
_HASH = re.compile(r"[0-9a-f]{64}")
_SIG = re.compile(r"[A-Za-z0-9+/=]{1,200}")
_TIME = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?Z")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MAX_VERSION = 2**53 - 1  # exact in every JSON implementation


class Purpose(enum.StrEnum):
    """The controller a list serves (requirement 12: police ANPR and the city's LEZ stay apart)."""

    POLICE = "police"
    LEZ = "lez"


class HotlistErrorCode(enum.StrEnum):
    MALFORMED = "malformed"
    """Not JSON, not an object, a missing, unknown or badly typed field."""
    TOO_LARGE = "too_large"
    BAD_SIGNATURE = "bad_signature"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    VALIDITY_TOO_LONG = "validity_too_long"
    WRONG_PURPOSE = "wrong_purpose"
    """Not the purpose the caller expects, or a list_id already loaded under the other purpose."""
    STALE_VERSION = "stale_version"
    """Not newer than the version loaded (or last seen) for the same list_id."""
    STORAGE = "storage"
    """The bundle is valid but could not be stored durably; the previous version stays in force."""


class HotlistError(EdgeError):
    def __init__(self, code: HotlistErrorCode, message: str) -> None:
        super().__init__(f"{code.value}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class HotlistEntry:
    exact: bytes
    folded: bytes
    category: str
    ref: str
    """The centre's opaque reference for the listing (never the plate)."""


@dataclass(frozen=True, slots=True)
class HotlistBundle:
    """A bundle whose structure and signature were checked. ``to_document`` gives back the signed JSON."""

    list_id: str
    purpose: Purpose
    version: int
    issued_at: str
    expires_at: str
    issued_at_ns: int
    expires_at_ns: int
    issuer: str
    iterations: int
    salt: bytes
    entries: tuple[HotlistEntry, ...]
    sig: str
    key_id: str
    """Fingerprint of the central key that verified ``sig``."""

    def is_expired(self, now_ns: int) -> bool:
        return now_ns >= self.expires_at_ns

    def header(self) -> dict[str, Any]:
        """Every signed field but ``entries``, as in the document."""
        return {
            "schema": SCHEMA,
            "list_id": self.list_id,
            "purpose": self.purpose.value,
            "version": self.version,
            "issued_at": self.issued_at,
            "expires_at": self.expires_at,
            "issuer": self.issuer,
            "kdf": {
                "name": KDF_NAME,
                "iterations": self.iterations,
                "salt": base64.b64encode(self.salt).decode(),
            },
        }

    def to_document(self) -> dict[str, Any]:
        entries = [
            {"exact": e.exact.hex(), "folded": e.folded.hex(), "category": e.category, "ref": e.ref}
            for e in self.entries
        ]
        return {**self.header(), "entries": entries, "sig": self.sig}

    def iter_json(self) -> Iterator[bytes]:
        """The document as JSON, in pieces (a 500 000-entry list is never one 100 MB string)."""
        head = json.dumps({**self.header(), "sig": self.sig}, sort_keys=True, separators=(",", ":"))
        yield b'{"entries":['
        for i, e in enumerate(self.entries):
            yield (
                f'{"," if i else ""}{{"category":{json.dumps(e.category)},"exact":"{e.exact.hex()}",'
                f'"folded":"{e.folded.hex()}","ref":{json.dumps(e.ref)}}}'
            ).encode()
        yield b"]," + head[1:].encode()


@dataclass(frozen=True, slots=True)
class HotlistHit:
    list_id: str
    purpose: Purpose
    version: int
    category: str
    ref: str
    fuzzy: bool
    """Matched only after folding confusable characters: flagged for human check."""


@dataclass(frozen=True, slots=True)
class HotlistState:
    """One loaded list, for health (nothing secret)."""

    list_id: str
    purpose: Purpose
    version: int
    entries: int
    expires_at: str
    expired: bool
    active: bool
    """Matching: loaded with its entries and not expired."""


# --- plates and hashes -----------------------------------------------------------------------------------


def normalise_plate(text: str) -> str:
    """Upper-case ASCII letters and digits only (``1-abc-234`` → ``1ABC234``); anything else is dropped."""
    ascii_text = text.encode("ascii", "ignore").decode("ascii").upper()
    return "".join(c for c in ascii_text if c.isalnum())


def fold_plate(normalised: str) -> str:
    return normalised.translate(FOLD)


def _pbkdf2(text: str, salt: bytes, iterations: int) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", text.encode("ascii"), salt, iterations, HASH_BYTES)


def plate_hashes(normalised: str, salt: bytes, iterations: int) -> tuple[bytes, bytes]:
    """(exact, folded) keyed hashes of a normalised plate; one PBKDF2 run when folding changes nothing."""
    exact = _pbkdf2(normalised, salt, iterations)
    folded_text = fold_plate(normalised)
    folded = exact if folded_text == normalised else _pbkdf2(folded_text, salt, iterations)
    return exact, folded


# --- times -----------------------------------------------------------------------------------------------


def parse_time(value: str) -> int:
    """``YYYY-MM-DDTHH:MM:SS[.fraction]Z`` → nanoseconds since the epoch; ValueError otherwise."""
    m = _TIME.fullmatch(value)
    if m is None:
        raise ValueError(f"{value[:40]!r} is not an RFC 3339 UTC time (YYYY-MM-DDTHH:MM:SSZ)")
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    t = dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.UTC)
    fraction = (m.group(7) or "").ljust(9, "0")
    return (t - _EPOCH) // dt.timedelta(seconds=1) * 1_000_000_000 + int(fraction)


def format_time(ns: int) -> str:
    """Whole seconds, UTC, ``Z``: the form ``make_bundle`` writes."""
    return (_EPOCH + dt.timedelta(seconds=ns // 1_000_000_000)).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- parsing ---------------------------------------------------------------------------------------------


def _malformed(message: str) -> HotlistError:
    return HotlistError(HotlistErrorCode.MALFORMED, message)


def _no_constants(name: str) -> object:
    # NaN and Infinity are not JSON (RFC 8259) and cannot be signed canonically.
    raise ValueError(f"{name} is not JSON")


def _text(doc: dict[str, Any], key: str, pattern: re.Pattern[str]) -> str:
    value = doc[key]
    if not isinstance(value, str) or pattern.fullmatch(value) is None:
        raise _malformed(f"{key} must be a string matching {pattern.pattern}")
    return value


def _int(value: object, key: str, low: int, high: int) -> int:
    if type(value) is not int or not low <= value <= high:
        raise _malformed(f"{key} must be an integer in {low}..{high}")
    return value


def _check_fields(doc: dict[Any, Any], expected: frozenset[str], what: str) -> None:
    if doc.keys() != expected:
        missing = sorted(expected - doc.keys())
        extra = sorted(repr(k)[:40] for k in doc.keys() - expected)
        raise _malformed(f"{what}: missing fields {missing}, unknown fields {extra}")


def _time(doc: dict[str, Any], key: str) -> int:
    value = doc[key]
    if not isinstance(value, str):
        raise _malformed(f"{key} must be an RFC 3339 UTC time string")
    try:
        return parse_time(value)
    except ValueError as exc:
        raise _malformed(f"{key}: {exc}") from None


def _salt(kdf: dict[str, Any]) -> bytes:
    text = kdf["salt"]
    if not isinstance(text, str) or len(text) > 64:
        raise _malformed("kdf.salt must be a base64 string")
    try:
        salt = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise _malformed("kdf.salt must be a base64 string") from None
    if base64.b64encode(salt).decode() != text:
        raise _malformed("kdf.salt must be canonical base64 (padded, no line breaks)")
    if not MIN_SALT_BYTES <= len(salt) <= MAX_SALT_BYTES:
        raise _malformed(f"kdf.salt must be {MIN_SALT_BYTES}..{MAX_SALT_BYTES} bytes")
    return salt


def _entry(raw: object, index: int) -> HotlistEntry:
    if not isinstance(raw, dict):
        raise _malformed(f"entries[{index}] must be an object")
    try:
        _check_fields(raw, _ENTRY_FIELDS, f"entries[{index}]")
        exact = _text(raw, "exact", _HASH)
        folded = _text(raw, "folded", _HASH)
        category = _text(raw, "category", CATEGORY_PATTERN)
        ref = _text(raw, "ref", REF_PATTERN)
    except HotlistError as exc:
        raise _malformed(f"entries[{index}]: {exc.message}") from None
    # A few distinct categories repeated over 500 000 entries: one string object each.
    return HotlistEntry(bytes.fromhex(exact), bytes.fromhex(folded), sys.intern(category), ref)


def _load_json(raw: bytes, max_bytes: int) -> object:
    if len(raw) > max_bytes:
        raise HotlistError(HotlistErrorCode.TOO_LARGE, f"bundle is {len(raw)} bytes; at most {max_bytes}")
    try:
        return json.loads(raw, parse_constant=_no_constants)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise _malformed(f"not JSON: {str(exc)[:200]}") from None


@dataclass(frozen=True, slots=True)
class _Checks:
    keys: Sequence[Ed25519PublicKey] | None
    """None skips the signature: ``edgectl hotlist inspect`` without a key, never the node."""
    now_ns: int | None
    """None skips expiry: start-up keeps an expired list's header for health and as the version floor."""
    purpose: Purpose | None = None
    max_entries: int = DEFAULT_MAX_ENTRIES
    max_bytes: int = DEFAULT_MAX_BYTES
    max_validity_s: float = DEFAULT_MAX_VALIDITY_S


def _header(doc: dict[Any, Any]) -> HotlistBundle:
    """The signed fields but ``entries``, type-checked (``entries`` empty, ``key_id`` unset)."""
    _check_fields(doc, _FIELDS, "bundle")
    if doc["schema"] != SCHEMA:
        raise _malformed(f"schema must be {SCHEMA!r}")
    purpose = doc["purpose"]
    if not isinstance(purpose, str) or purpose not in {p.value for p in Purpose}:
        raise _malformed(f"purpose must be one of {[p.value for p in Purpose]}")
    kdf = doc["kdf"]
    if not isinstance(kdf, dict):
        raise _malformed("kdf must be an object")
    _check_fields(kdf, _KDF_FIELDS, "kdf")
    if kdf["name"] != KDF_NAME:
        raise _malformed(f"kdf.name must be {KDF_NAME!r}")
    return HotlistBundle(
        list_id=_text(doc, "list_id", LIST_ID_PATTERN),
        purpose=Purpose(purpose),
        version=_int(doc["version"], "version", 1, _MAX_VERSION),
        issued_at=doc["issued_at"],
        expires_at=doc["expires_at"],
        issued_at_ns=_time(doc, "issued_at"),
        expires_at_ns=_time(doc, "expires_at"),
        issuer=_text(doc, "issuer", _ISSUER),
        iterations=_int(kdf["iterations"], "kdf.iterations", MIN_ITERATIONS, MAX_ITERATIONS),
        salt=_salt(kdf),
        entries=(),
        sig=_text(doc, "sig", _SIG),
        key_id="",
    )


def _check_window(b: HotlistBundle, checks: _Checks) -> None:
    if b.expires_at_ns <= b.issued_at_ns:
        raise _malformed("expires_at must be after issued_at")
    if b.expires_at_ns - b.issued_at_ns > checks.max_validity_s * 1e9:
        raise HotlistError(
            HotlistErrorCode.VALIDITY_TOO_LONG, f"valid for more than {checks.max_validity_s:g} s"
        )
    if checks.now_ns is None:
        return
    if b.is_expired(checks.now_ns):
        raise HotlistError(HotlistErrorCode.EXPIRED, f"expired at {b.expires_at}")
    if b.issued_at_ns > checks.now_ns + CLOCK_SKEW_S * 1e9:
        raise HotlistError(HotlistErrorCode.NOT_YET_VALID, f"issued_at {b.issued_at} is in the future")


def _key_id(doc: dict[Any, Any], sig: str, checks: _Checks) -> str:
    if checks.keys is None:
        return ""
    if not checks.keys:
        raise HotlistError(HotlistErrorCode.BAD_SIGNATURE, "no central public key configured")
    try:
        signed = canonical_bytes(doc)
    except (TypeError, ValueError, UnicodeEncodeError) as exc:
        raise _malformed(f"cannot be serialised canonically: {str(exc)[:200]}") from None
    if len(signed) > checks.max_bytes:
        raise HotlistError(
            HotlistErrorCode.TOO_LARGE, f"bundle is {len(signed)} bytes; at most {checks.max_bytes}"
        )
    found = signer_of(signed, sig, checks.keys)
    if found is None:
        raise HotlistError(HotlistErrorCode.BAD_SIGNATURE, "signature does not verify with any central key")
    return found


def _parse(raw: object, checks: _Checks) -> HotlistBundle:
    """Checks in order: size, JSON, header fields, entry count, signature, entries, purpose, window."""
    doc = _load_json(bytes(raw), checks.max_bytes) if isinstance(raw, bytes | bytearray) else raw
    if not isinstance(doc, dict):
        raise _malformed("a bundle is a JSON object")
    try:
        header = _header(doc)
        raw_entries = doc["entries"]
        if not isinstance(raw_entries, list):
            raise _malformed("entries must be an array")
        if len(raw_entries) > checks.max_entries:
            raise HotlistError(
                HotlistErrorCode.TOO_LARGE, f"{len(raw_entries)} entries; at most {checks.max_entries}"
            )
        key_id = _key_id(doc, header.sig, checks)
        entries = tuple(_entry(raw, i) for i, raw in enumerate(raw_entries))
    except RecursionError:  # a pathologically nested value inside a field that is compared
        raise _malformed("nested too deeply") from None
    if checks.purpose is not None and header.purpose is not checks.purpose:
        raise HotlistError(
            HotlistErrorCode.WRONG_PURPOSE,
            f"a {header.purpose.value} list where {checks.purpose.value} is expected",
        )
    _check_window(header, checks)
    return replace(header, entries=entries, key_id=key_id)


def parse_bundle(
    raw: bytes | dict[str, Any],
    keys: Sequence[Ed25519PublicKey],
    now_ns: int,
    *,
    purpose: Purpose | None = None,
    max_entries: int = DEFAULT_MAX_ENTRIES,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_validity_s: float = DEFAULT_MAX_VALIDITY_S,
) -> HotlistBundle:
    """A verified, currently valid bundle from its JSON bytes (or the parsed object); ``HotlistError``
    on anything else, whatever the input. ``purpose``, when given, refuses a list of the other purpose."""
    return _parse(raw, _Checks(keys, now_ns, purpose, max_entries, max_bytes, max_validity_s))


def inspect_bundle(raw: bytes, keys: Sequence[Ed25519PublicKey] | None) -> HotlistBundle:
    """Structure (and the signature, given ``keys``) checked, not the validity window: for edgectl."""
    return _parse(raw, _Checks(keys, None, max_validity_s=float("inf")))


def parse_stored_bundle(
    raw: bytes, keys: Sequence[Ed25519PublicKey], *, max_entries: int, max_bytes: int
) -> HotlistBundle:
    """A bundle the node stored earlier, re-verified at start: everything but expiry is checked (an expired
    list is kept for health and as the version floor)."""
    return _parse(raw, _Checks(keys, None, None, max_entries, max_bytes))


def check_header(header: dict[str, Any]) -> None:
    """The node's rules applied to a bundle header (no ``entries``, no ``sig``) before it is signed:
    ``HotlistError`` for what a node would refuse, whatever the entries."""
    _check_window(
        _header({**header, "entries": [], "sig": "AA=="}), _Checks(None, None, max_validity_s=float("inf"))
    )
