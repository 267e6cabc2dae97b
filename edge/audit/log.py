"""``AuditLog``: who did what, when (UTC), over which time range, and why — append-only and tamper-evident.

Each entry is one JSON line in ``<state_dir>/audit.jsonl``, written and fsynced before the action's result
is reported. ``hash`` is SHA-256 over the entry's canonical JSON (sorted keys, no spaces) of the fields in
``HASHED_FIELDS``, which include ``prev``, the previous entry's hash (64 zeros for the first): changing,
removing or reordering any entry breaks every later link. ``sig`` is the device key's Ed25519 signature
over the same bytes (base64), so the chain cannot be rebuilt by someone without the key; it is null when the
node has no device key, which ``edgectl audit verify`` reports as a failure.

Every entry is also handed to ``sink`` (the node sends it on ``audit`` through the outbox).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.storage.keys import fingerprint
from edge.uplink.payloads import utc_iso

log = logging.getLogger(__name__)

SCHEMA = "edge.audit/1"
GENESIS = "0" * 64
HASHED_FIELDS = (
    "schema",
    "node_id",
    "entry",
    "at",
    "actor",
    "action",
    "start",
    "end",
    "purpose",
    "detail",
    "prev",
    "key_id",
)
_TAIL_BYTES = 1 << 16


@dataclass(frozen=True, slots=True)
class AuditEntry:
    entry: int
    """Position in the chain, from 1 (``seq`` is taken by the outbox envelope on MQTT)."""
    at_ns: int
    actor: str
    """Who: a signed command's issuer, a technician, or ``node`` for automatic actions."""
    action: str
    """What, dotted: ``storage.export``, ``privacy.masks_changed``, ``command.hold``, ..."""
    start_ns: int | None
    end_ns: int | None
    """The footage time range concerned, when there is one."""
    purpose: str
    """Why: the justification given (case reference, decision reference, purpose)."""
    detail: str
    prev: str
    hash: str
    sig: str | None


def canonical(doc: dict[str, Any]) -> bytes:
    hashed = {k: doc.get(k) for k in HASHED_FIELDS}
    return json.dumps(hashed, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


class AuditLog:
    """Thread-safe; ``append`` returns once the entry is on disk."""

    def __init__(
        self,
        path: Path,
        node_id: str,
        key: Ed25519PrivateKey | None,
        time_ns: Callable[[], int],
        sink: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        self._node_id = node_id
        self._key = key
        self._key_id = None if key is None else fingerprint(key.public_key())
        self._time_ns = time_ns
        self._sink = sink
        self._lock = threading.Lock()
        self._seq, self._prev = _resume(path)
        if key is None:
            log.warning("audit log %s is hash-chained but unsigned: no device key configured", path)

    def set_sink(self, sink: Callable[[dict[str, Any]], None]) -> None:
        self._sink = sink

    def append(
        self,
        *,
        actor: str,
        action: str,
        purpose: str = "",
        detail: str = "",
        start_ns: int | None = None,
        end_ns: int | None = None,
    ) -> AuditEntry:
        with self._lock:
            at_ns = self._time_ns()
            doc: dict[str, Any] = {
                "schema": SCHEMA,
                "node_id": self._node_id,
                "entry": self._seq + 1,
                "at": utc_iso(at_ns),
                "actor": actor,
                "action": action,
                "start": None if start_ns is None else utc_iso(start_ns),
                "end": None if end_ns is None else utc_iso(end_ns),
                "purpose": purpose,
                "detail": detail,
                "prev": self._prev,
                "key_id": self._key_id,
            }
            body = canonical(doc)
            doc["hash"] = hashlib.sha256(body).hexdigest()
            doc["sig"] = None if self._key is None else base64.b64encode(self._key.sign(body)).decode("ascii")
            line = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"
            fd = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line.encode())
                os.fsync(fd)
            finally:
                os.close(fd)
            self._seq += 1
            self._prev = doc["hash"]
            sink = self._sink
        entry = AuditEntry(
            doc["entry"],
            at_ns,
            actor,
            action,
            start_ns,
            end_ns,
            purpose,
            detail,
            doc["prev"],
            doc["hash"],
            doc["sig"],
        )
        if sink is not None:
            sink(doc)
        return entry


def _resume(path: Path) -> tuple[int, str]:
    """(last seq, last hash) from the end of an existing log. A torn last line (a crash mid-write, before
    the action it records was reported) is cut off."""
    if not path.exists():
        return 0, GENESIS
    size = path.stat().st_size
    with path.open("rb") as f:
        f.seek(max(0, size - _TAIL_BYTES))
        tail = f.read()
    lines = tail.split(b"\n")
    if lines and lines[-1]:
        torn = len(lines[-1])
        log.error("audit log %s ends with a torn entry of %d bytes; cutting it off", path, torn)
        os.truncate(path, size - torn)
        lines = lines[:-1]
    for raw in reversed(lines):
        if not raw:
            continue
        doc = json.loads(raw)
        return int(doc["entry"]), str(doc["hash"])
    return 0, GENESIS
