"""Check an audit chain: every hash, every ``prev`` link, the sequence, and every device signature."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from edge.audit.log import GENESIS, canonical


@dataclass(frozen=True, slots=True)
class ChainReport:
    entries: int
    """Entries that verified, from the start."""
    broken_line: int | None
    """1-based line of the first bad entry; None when the whole chain verified."""
    reason: str

    @property
    def ok(self) -> bool:
        return self.broken_line is None


def verify_chain(path: Path, device_pub: Ed25519PublicKey) -> ChainReport:
    prev = GENESIS
    expected_seq = 1
    with path.open("rb") as f:
        for number, raw in enumerate(f, start=1):
            reason = _check(raw, prev, expected_seq, device_pub)
            if reason:
                return ChainReport(number - 1, number, reason)
            prev = json.loads(raw)["hash"]
            expected_seq += 1
    return ChainReport(expected_seq - 1, None, "")


def _check(raw: bytes, prev: str, seq: int, key: Ed25519PublicKey) -> str:
    try:
        doc = json.loads(raw)
    except ValueError:
        return "not a JSON line (torn or edited)"
    if not isinstance(doc, dict):
        return "not a JSON object"
    body = canonical(doc)
    checks = (
        (
            doc.get("entry") == seq,
            f"sequence {doc.get('entry')!r}, expected {seq} (an entry was removed or inserted)",
        ),
        (doc.get("prev") == prev, "prev does not match the previous entry's hash (the chain is broken here)"),
        (
            hashlib.sha256(body).hexdigest() == doc.get("hash"),
            "hash does not match the entry's content (the entry was edited)",
        ),
        (isinstance(doc.get("sig"), str), "entry is unsigned (the node had no device key)"),
    )
    for passed, reason in checks:
        if not passed:
            return reason
    try:
        key.verify(base64.b64decode(str(doc["sig"]), validate=True), body)
    except (InvalidSignature, binascii.Error, ValueError):
        return "device signature does not verify"
    return ""
