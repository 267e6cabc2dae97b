"""Turn raw ``cmd`` payload bytes into a verified ``Command``, or raise ``CommandError``.

Checks in order: size, JSON object, field types, signature (by any configured central key), validity
window (not expired, not issued in the future beyond the clock skew allowance, not longer than
``max_validity_s``). Replay is checked afterwards by ``ReplayGuard`` (it needs state).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from edge.commands.model import Command, CommandError, ErrorCode
from edge.commands.signing import verifying_key

ID_PATTERN = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
NAME_PATTERN = re.compile(r"^[a-z_]{1,40}$")
_FIELDS = {"id", "name", "args", "issued_at", "expires_at", "issuer", "sig"}
CLOCK_SKEW_S = 30.0
"""A request issued up to this far in the node's future is accepted (clocks are never perfect)."""


@dataclass(frozen=True, slots=True)
class ParseLimits:
    max_request_bytes: int
    max_validity_s: float


def _no_constants(name: str) -> object:
    # NaN and Infinity are not JSON (RFC 8259) and cannot be signed canonically: refused as malformed.
    raise ValueError(f"{name} is not JSON")


def request_id_of(raw: bytes, max_request_bytes: int) -> str:
    """The request's ``id`` when it can be read at all (for the error result); ``""`` otherwise."""
    if len(raw) > max_request_bytes:
        return ""
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return ""
    if isinstance(doc, dict):
        rid = doc.get("id")
        if isinstance(rid, str) and ID_PATTERN.match(rid):
            return rid
    return ""


def parse_request(raw: bytes, keys: list[Ed25519PublicKey], now_ns: int, limits: ParseLimits) -> Command:
    if len(raw) > limits.max_request_bytes:
        raise CommandError(
            ErrorCode.TOO_LARGE, f"request is {len(raw)} bytes; at most {limits.max_request_bytes}"
        )
    try:
        doc = json.loads(raw, parse_constant=_no_constants)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise CommandError(ErrorCode.MALFORMED, f"not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise CommandError(ErrorCode.MALFORMED, "a request is a JSON object")
    missing = sorted(_FIELDS - doc.keys())
    extra = sorted(doc.keys() - _FIELDS)
    if missing or extra:
        raise CommandError(ErrorCode.MALFORMED, f"missing fields {missing}, unknown fields {extra}")
    rid = _text(doc, "id", ID_PATTERN)
    name = _text(doc, "name", NAME_PATTERN)
    issuer = _text(doc, "issuer", re.compile(r"^[^\x00-\x1f]{1,200}$"))
    sig = _text(doc, "sig", re.compile(r"^[A-Za-z0-9+/=]{1,200}$"))
    args = doc["args"]
    if not isinstance(args, dict):
        raise CommandError(ErrorCode.MALFORMED, "args must be an object")
    issued_ns = _time(doc, "issued_at")
    expires_ns = _time(doc, "expires_at")
    if not keys:
        raise CommandError(ErrorCode.BAD_SIGNATURE, "no central public key configured: commands are refused")
    key_id = verifying_key(doc, sig, keys)
    if key_id is None:
        raise CommandError(ErrorCode.BAD_SIGNATURE, "signature does not verify with any central key")
    if expires_ns <= issued_ns:
        raise CommandError(ErrorCode.MALFORMED, "expires_at must be after issued_at")
    if expires_ns - issued_ns > limits.max_validity_s * 1e9:
        raise CommandError(
            ErrorCode.VALIDITY_TOO_LONG, f"validity window longer than {limits.max_validity_s:g} s"
        )
    if now_ns >= expires_ns:
        raise CommandError(ErrorCode.EXPIRED, "the request has expired")
    if issued_ns > now_ns + CLOCK_SKEW_S * 1e9:
        raise CommandError(ErrorCode.NOT_YET_VALID, "issued_at is in the future")
    return Command(rid, name, args, issued_ns, expires_ns, issuer, key_id)


def _text(doc: dict[str, Any], key: str, pattern: re.Pattern[str]) -> str:
    value = doc[key]
    if not isinstance(value, str) or not pattern.match(value):
        raise CommandError(ErrorCode.MALFORMED, f"{key} must be a string matching {pattern.pattern}")
    return value


def _time(doc: dict[str, Any], key: str) -> int:
    value = doc[key]
    if not isinstance(value, str):
        raise CommandError(ErrorCode.MALFORMED, f"{key} must be an RFC 3339 UTC time string")
    try:
        return parse_time(value)
    except ValueError as exc:
        raise CommandError(ErrorCode.MALFORMED, f"{key}: {exc}") from None


def parse_time(value: str) -> int:
    """RFC 3339 with a time zone → nanoseconds since the epoch; ValueError otherwise."""
    if len(value) > 40:
        raise ValueError("time string too long")
    t = dt.datetime.fromisoformat(value)
    if t.tzinfo is None:
        raise ValueError(f"{value!r} needs a time zone (use Z)")
    return int(t.timestamp() * 1_000_000) * 1000
