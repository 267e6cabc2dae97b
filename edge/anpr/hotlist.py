"""Hotlists: signed, versioned, expiring lists of wanted plates, held on the node only as keyed hashes.

A bundle (``edge.hotlist/1``, docs/hotlists.md) carries, per listed plate, PBKDF2-HMAC-SHA256 of the
normalised plate (``exact``) and of the plate folded to OCR confusion classes (``folded``: O→0, I→1,
B→8, S→5, Z→2), under one salt and iteration count per bundle. The node never holds plate text: a read
is hashed with the bundle's parameters and looked up. An exact hit is a hit; a folded-only hit is
flagged ``fuzzy`` for a human to check. Plates are low-entropy, so the hashes raise the cost of reading a
stolen node's lists, they do not make it impossible (docs/hotlists.md says how much).

``parse_bundle`` is the one way in: every failure is a ``HotlistError`` with a ``HotlistErrorCode``, on
any input. ``Hotlists`` holds the loaded lists (one per ``list_id``), persists them atomically under
``<state_dir>/hotlists/`` and re-verifies them at start.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import enum
import hashlib
import json
import logging
import re
import secrets
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, BinaryIO

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from edge.commands.signing import canonical_bytes, sign_request, signer_of
from edge.errors import EdgeError
from edge.storage.files import TMP_SUFFIX, make_dirs_durably, write_atomically

log = logging.getLogger(__name__)

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


# --- the central side ------------------------------------------------------------------------------------


def make_bundle(
    entries: Iterable[tuple[str, str, str]],
    *,
    list_id: str,
    purpose: Purpose | str,
    version: int,
    issued_at_ns: int,
    expires_at_ns: int,
    issuer: str,
    key: Ed25519PrivateKey,
    iterations: int = DEFAULT_ITERATIONS,
    salt: bytes | None = None,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """A signed bundle document from ``(plate, category, ref)`` rows. Raises ``HotlistError`` (malformed)
    naming the row (never its plate) for a bad row. PBKDF2 releases the GIL, so ``workers`` threads
    hash in parallel; ``progress(done, total)`` is called as rows are hashed."""
    salt_bytes = salt if salt is not None else secrets.token_bytes(16)
    header: dict[str, Any] = {
        "schema": SCHEMA,
        "list_id": list_id,
        "purpose": str(purpose),
        "version": version,
        "issued_at": format_time(issued_at_ns),
        "expires_at": format_time(expires_at_ns),
        "issuer": issuer,
        "kdf": {
            "name": KDF_NAME,
            "iterations": iterations,
            "salt": base64.b64encode(salt_bytes).decode(),
        },
    }
    # The header is checked by the node's own rules before hours of hashing.
    _check_window(
        _header({**header, "entries": [], "sig": "AA=="}), _Checks(None, None, max_validity_s=float("inf"))
    )
    rows = [_check_row(row, n) for n, row in enumerate(entries, start=1)]
    batches = [rows[i : i + _BATCH] for i in range(0, len(rows), _BATCH)]
    done = 0
    lock = threading.Lock()

    def hash_batch(batch: list[tuple[str, str, str]]) -> list[dict[str, str]]:
        nonlocal done
        out = []
        for plate, category, ref in batch:
            exact, folded = plate_hashes(plate, salt_bytes, iterations)
            out.append({"exact": exact.hex(), "folded": folded.hex(), "category": category, "ref": ref})
        if progress is not None:
            with lock:
                done += len(batch)
                progress(done, len(rows))
        return out

    if workers <= 1:
        hashed = [e for batch in batches for e in hash_batch(batch)]
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hotlist-hash") as pool:
            hashed = [e for out in pool.map(hash_batch, batches) for e in out]
    return sign_request({**header, "entries": hashed}, key)


_BATCH = 256


def _check_row(row: tuple[str, str, str], n: int) -> tuple[str, str, str]:
    plate_text, category, ref = row
    plate = normalise_plate(plate_text)
    if not plate:
        raise _malformed(f"row {n}: the plate has no letters or digits")
    if len(plate) > MAX_PLATE_CHARS:
        raise _malformed(f"row {n}: the plate is longer than {MAX_PLATE_CHARS} characters")
    if CATEGORY_PATTERN.fullmatch(category) is None:
        raise _malformed(f"row {n}: category {category[:40]!r} must match {CATEGORY_PATTERN.pattern}")
    if REF_PATTERN.fullmatch(ref) is None:
        raise _malformed(f"row {n}: ref must be 1..128 printable ASCII characters")
    if plate in normalise_plate(ref):
        raise _malformed(f"row {n}: ref contains the plate; a ref must not reveal what the hashes hide")
    return plate, category, ref


# --- the node side ---------------------------------------------------------------------------------------


_Slot = HotlistEntry | tuple[HotlistEntry, ...]
"""One entry, or several under the same hash: a lone entry is stored bare (a tuple per key would cost
about 130 bytes per listed plate)."""


def _add(index: dict[bytes, _Slot], key: bytes, entry: HotlistEntry) -> None:
    slot = index.get(key)
    index[key] = entry if slot is None else (*_entries(slot), entry)


def _entries(slot: _Slot | None) -> tuple[HotlistEntry, ...]:
    if slot is None:
        return ()
    return slot if isinstance(slot, tuple) else (slot,)


@dataclass(frozen=True, slots=True)
class _Loaded:
    """A list in force: its bundle and lookup tables (never mutated after construction)."""

    header: HotlistBundle
    """The bundle without its entries (they live on only in the lookup tables)."""
    entry_count: int
    matching: bool
    """False for a list that had expired when the node started: its entries were never loaded."""
    by_exact: dict[bytes, _Slot]
    by_folded: dict[bytes, _Slot]

    @classmethod
    def of(cls, bundle: HotlistBundle, *, with_entries: bool = True) -> _Loaded:
        by_exact: dict[bytes, _Slot] = {}
        by_folded: dict[bytes, _Slot] = {}
        if with_entries:
            for e in bundle.entries:
                _add(by_exact, e.exact, e)
                _add(by_folded, e.folded, e)
        header = replace(bundle, entries=())
        return cls(header, len(bundle.entries), with_entries, by_exact, by_folded)


class Hotlists:
    """The lists in force on this node, one per ``list_id``. Thread-safe.

    Locking: ``_load_lock`` serialises ``load`` (version check, durable write, swap), so a slow write of a
    large list never blocks ``match``; ``_lock`` guards only the swap of the ``_lists`` mapping, whose
    values are immutable. ``match`` hashes outside every lock."""

    def __init__(self, directory: Path | None = None, *, cache_size: int = 64) -> None:
        self._directory = directory
        self._lock = threading.Lock()
        self._load_lock = threading.Lock()
        self._lists: dict[str, _Loaded] = {}
        self._cache_lock = threading.Lock()
        self._cache: OrderedDict[tuple[str, bytes, int], tuple[bytes, bytes]] = OrderedDict()
        self._cache_size = cache_size

    @classmethod
    def open(
        cls,
        directory: Path,
        keys: Sequence[Ed25519PublicKey],
        now_ns: int,
        *,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> Hotlists:
        """The lists stored in ``directory`` (created 0700 when missing), each re-verified. A list that no
        longer verifies is logged and left out; an expired one keeps only its header (for health and as
        the version floor), never its entries."""
        make_dirs_durably(directory, Path(directory.anchor))
        hotlists = cls(directory)
        for stale in directory.glob(f"*.json{TMP_SUFFIX}"):
            stale.unlink(missing_ok=True)  # a write cut short by a crash; the previous file is intact
        for path in sorted(directory.glob("*.json")):
            try:
                bundle = _parse(path.read_bytes(), _Checks(keys, None, None, max_entries, max_bytes))
            except (HotlistError, OSError) as exc:
                log.error("hotlist file %s refused at start: %s", path.name, exc)  # noqa: TRY400 (no trace)
                continue
            if path.name != f"{bundle.list_id}.json":
                log.error("hotlist file %s holds list %s; refused", path.name, bundle.list_id)
                continue
            expired = bundle.is_expired(now_ns)
            if expired:
                log.warning(
                    "hotlist %s v%d expired at %s: kept for health only, it matches nothing",
                    bundle.list_id,
                    bundle.version,
                    bundle.expires_at,
                )
            hotlists._lists[bundle.list_id] = _Loaded.of(bundle, with_entries=not expired)
        return hotlists

    def load(self, bundle: HotlistBundle) -> None:
        """Put ``bundle`` in force and store it. Refuses (``stale_version``) a version not newer than the
        one held for its ``list_id``, and (``wrong_purpose``) a ``list_id`` held under the other purpose."""
        with self._load_lock:
            current = self._lists.get(bundle.list_id)
            if current is not None:
                if current.header.purpose is not bundle.purpose:
                    raise HotlistError(
                        HotlistErrorCode.WRONG_PURPOSE,
                        f"list {bundle.list_id} is a {current.header.purpose.value} list on this node",
                    )
                if bundle.version <= current.header.version:
                    raise HotlistError(
                        HotlistErrorCode.STALE_VERSION,
                        f"list {bundle.list_id} v{bundle.version}: v{current.header.version} is loaded",
                    )
            loaded = _Loaded.of(bundle)
            if self._directory is not None:
                self._store(bundle)
            with self._lock:
                self._lists = {**self._lists, bundle.list_id: loaded}
        log.info(
            "hotlist %s v%d loaded: %s, %d entries, expires %s",
            bundle.list_id,
            bundle.version,
            bundle.purpose.value,
            len(bundle.entries),
            bundle.expires_at,
        )

    def _store(self, bundle: HotlistBundle) -> None:
        assert self._directory is not None
        final = self._directory / f"{bundle.list_id}.json"

        def write(f: BinaryIO) -> None:
            for piece in bundle.iter_json():
                f.write(piece)

        try:
            make_dirs_durably(self._directory, Path(self._directory.anchor))
            final.with_name(final.name + TMP_SUFFIX).unlink(missing_ok=True)
            write_atomically(final, write)
        except OSError as exc:
            raise HotlistError(
                HotlistErrorCode.STORAGE, f"cannot store list {bundle.list_id}: {exc.strerror or exc}"
            ) from None

    def match(self, plate_text: str, now_ns: int, *, purpose: Purpose | None = None) -> list[HotlistHit]:
        """Hits for one read among the lists in force (of ``purpose`` only, when given): exact hits first,
        then folded-only ones (``fuzzy``). Expired lists never match."""
        plate = normalise_plate(plate_text)
        if not plate or len(plate) > MAX_PLATE_CHARS:
            return []
        with self._lock:
            lists = sorted(self._lists.values(), key=lambda loaded: loaded.header.list_id)
        exact_hits: list[HotlistHit] = []
        fuzzy_hits: list[HotlistHit] = []
        for loaded in lists:
            b = loaded.header
            if (
                not loaded.matching
                or b.is_expired(now_ns)
                or (purpose is not None and b.purpose is not purpose)
            ):
                continue
            exact, folded = self._hashes(plate, b.salt, b.iterations)
            for e in _entries(loaded.by_exact.get(exact)):
                exact_hits.append(HotlistHit(b.list_id, b.purpose, b.version, e.category, e.ref, False))
            for e in _entries(loaded.by_folded.get(folded)):
                if e.exact != exact:
                    fuzzy_hits.append(HotlistHit(b.list_id, b.purpose, b.version, e.category, e.ref, True))
        return exact_hits + fuzzy_hits

    def _hashes(self, plate: str, salt: bytes, iterations: int) -> tuple[bytes, bytes]:
        # Several lists signed with the same parameters share one computation; so do repeated reads.
        key = (plate, salt, iterations)
        with self._cache_lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                return cached
        hashes = plate_hashes(plate, salt, iterations)
        with self._cache_lock:
            self._cache[key] = hashes
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return hashes

    def state(self, now_ns: int) -> list[HotlistState]:
        with self._lock:
            lists = sorted(self._lists.values(), key=lambda loaded: loaded.header.list_id)
        return [
            HotlistState(
                list_id=x.header.list_id,
                purpose=x.header.purpose,
                version=x.header.version,
                entries=x.entry_count,
                expires_at=x.header.expires_at,
                expired=x.header.is_expired(now_ns),
                active=x.matching and not x.header.is_expired(now_ns),
            )
            for x in lists
        ]
