"""Canonical JSON and Ed25519 signatures of command requests (shared by the node and ``edgectl send``).

The signed bytes are the request without ``sig``, as JSON with sorted keys, no spaces, UTF-8, no NaN.
``sig`` is the standard base64 of the 64-byte Ed25519 signature over those bytes.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from edge.storage.keys import fingerprint


def canonical_bytes(doc: dict[str, Any]) -> bytes:
    """The bytes that are signed: every field but ``sig``."""
    unsigned = {k: v for k, v in doc.items() if k != "sig"}
    return json.dumps(
        unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def sign_request(doc: dict[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    """A copy of ``doc`` with ``sig`` set."""
    sig = base64.b64encode(key.sign(canonical_bytes(doc))).decode("ascii")
    return {**doc, "sig": sig}


def verifying_key(doc: dict[str, Any], sig: str, keys: list[Ed25519PublicKey]) -> str | None:
    """Fingerprint of the key among ``keys`` that made ``sig`` over ``doc``; None when none did."""
    return signer_of(canonical_bytes(doc), sig, keys)


def signer_of(signed: bytes, sig: str, keys: Sequence[Ed25519PublicKey]) -> str | None:
    """Fingerprint of the key among ``keys`` that made ``sig`` (standard base64) over ``signed``; None when
    the signature is malformed or no key made it. Also used for hotlist bundles."""
    try:
        raw = base64.b64decode(sig.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        return None
    if len(raw) != 64:
        return None
    for key in keys:
        try:
            key.verify(raw, signed)
        except InvalidSignature:
            continue
        return fingerprint(key)
    return None
