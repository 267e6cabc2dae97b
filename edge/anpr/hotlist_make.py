"""The central side of hotlists: a signed `edge.hotlist/1` bundle from plate rows (`edgectl hotlist make`).

Plates are hashed here and never leave in clear; see ``edge.anpr.hotlist`` for the format.
"""

from __future__ import annotations

import base64
import secrets
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.anpr.hotlist import (
    CATEGORY_PATTERN,
    DEFAULT_ITERATIONS,
    KDF_NAME,
    MAX_PLATE_CHARS,
    REF_PATTERN,
    SCHEMA,
    HotlistError,
    HotlistErrorCode,
    Purpose,
    check_header,
    format_time,
    normalise_plate,
    plate_hashes,
)
from edge.commands.signing import sign_request


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
    check_header(header)  # by the node's own rules, before hours of hashing
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
        raise _malformed_row(f"row {n}: the plate has no letters or digits")
    if len(plate) > MAX_PLATE_CHARS:
        raise _malformed_row(f"row {n}: the plate is longer than {MAX_PLATE_CHARS} characters")
    if CATEGORY_PATTERN.fullmatch(category) is None:
        raise _malformed_row(f"row {n}: category {category[:40]!r} must match {CATEGORY_PATTERN.pattern}")
    if REF_PATTERN.fullmatch(ref) is None:
        raise _malformed_row(f"row {n}: ref must be 1..128 printable ASCII characters")
    if plate in normalise_plate(ref):
        raise _malformed_row(f"row {n}: ref contains the plate; a ref must not reveal what the hashes hide")
    return plate, category, ref


def _malformed_row(message: str) -> HotlistError:
    return HotlistError(HotlistErrorCode.MALFORMED, message)
