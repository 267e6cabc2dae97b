"""Clip export: the sealed segments covering a time range plus a manifest signed with the device key.

The export is a folder::

    manifest.json     canonical JSON: range, requester, purpose, decision reference, and per segment its
                      id, file, times, frame count, size, SHA-256 and mask id; ``corrupt`` (only when
                      present) lists segments of the range left out because their file no longer matched
                      the recorded hash (id, times, expected SHA-256, reason), each also alarmed
    manifest.sig      base64 Ed25519 signature over the exact bytes of manifest.json
    <id>.seg          the sealed segments, byte for byte as stored (the node cannot decrypt them)

``manifest.json`` is written last, so a folder without it is an unfinished export. Export of footage
older than ``ACCESS_WITHOUT_DECISION_DAYS`` needs a decision reference; a refusal is audited too.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.storage.errors import ExportRefusedError, StorageError
from edge.storage.files import write_atomically
from edge.storage.keys import fingerprint
from edge.storage.model import EventKind, Segment, StorageEvent
from edge.storage.profiles import ACCESS_WITHOUT_DECISION_DAYS, NS_PER_DAY
from edge.storage.store import SegmentStore

log = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.json"
SIGNATURE_NAME = "manifest.sig"
MANIFEST_FORMAT = "edge-clip/1"


@dataclass(frozen=True, slots=True)
class ExportResult:
    directory: Path
    segment_ids: tuple[str, ...]
    sealed_bytes: int
    corrupt_ids: tuple[str, ...] = ()
    """Segments in the range that no longer matched their recorded hash: left out, listed in the manifest."""


class _CorruptSegmentError(StorageError):
    pass


def export_clip(
    store: SegmentStore,
    start_ns: int,
    end_ns: int,
    out_dir: Path,
    device_key: Ed25519PrivateKey,
    *,
    requester: str,
    purpose: str,
    decision_ref: str | None = None,
) -> ExportResult:
    """Copy the segments overlapping ``[start_ns, end_ns)`` into ``out_dir`` (new or empty) and sign."""
    now_ns = store._clock.time_ns()
    if end_ns <= start_ns:
        raise StorageError("an export needs end_ns after start_ns")
    if not requester.strip() or not purpose.strip():
        raise StorageError("an export needs a requester and a purpose")
    decision = (decision_ref or "").strip()
    limit_ns = now_ns - ACCESS_WITHOUT_DECISION_DAYS * NS_PER_DAY
    if start_ns < limit_ns and not decision:
        message = (
            f"footage older than {ACCESS_WITHOUT_DECISION_DAYS} days may be exported only with a "
            "decision reference (decision_ref)"
        )
        store.audit(
            StorageEvent(EventKind.EXPORT, now_ns, requester, start_ns, end_ns, f"refused: {message}")
        )
        raise ExportRefusedError(message)
    segments = store.segments(start_ns, end_ns)
    if not segments:
        raise StorageError("no recorded footage in the requested range")
    out_dir.mkdir(parents=True, exist_ok=True)
    if any(out_dir.iterdir()):
        raise StorageError(f"{out_dir} is not empty")

    entries = []
    exported: list[Segment] = []
    corrupt: list[dict[str, object]] = []
    for segment in segments:
        name = f"{segment.segment_id}.seg"
        try:
            _copy_verified(store, segment, out_dir / name)
        except _CorruptSegmentError as exc:
            # One damaged file must not withhold the rest of the footage: it is left out, named in the
            # signed manifest (so the gap is explained, not silent) and alarmed.
            (out_dir / name).unlink(missing_ok=True)
            store.report_corrupt(segment, "does not match its recorded hash; left out of an export")
            corrupt.append(_gap(segment, str(exc)))
            continue
        entries.append(_entry(segment, name))
        exported.append(segment)
    if not exported:
        raise StorageError(
            f"every segment in the requested range ({len(corrupt)}) is corrupt on disk; nothing exported"
        )
    manifest = {
        "format": MANIFEST_FORMAT,
        "node_id": store.node_id,
        "start_ns": start_ns,
        "end_ns": end_ns,
        "created_ns": now_ns,
        "requester": requester,
        "purpose": purpose,
        "decision_ref": decision or None,
        "device_key": fingerprint(device_key.public_key()),
        "mask_ids": sorted({s.mask_id for s in exported}),
        "segments": entries,
    }
    if corrupt:
        manifest["corrupt"] = corrupt
    body = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
    signature = base64.b64encode(device_key.sign(body)) + b"\n"
    write_atomically(out_dir / SIGNATURE_NAME, lambda f: f.write(signature))
    write_atomically(out_dir / MANIFEST_NAME, lambda f: f.write(body))
    ids = tuple(s.segment_id for s in exported)
    corrupt_ids = tuple(str(c["segment_id"]) for c in corrupt)
    detail = f"purpose={purpose} decision_ref={decision or '-'} segments={len(ids)}"
    if corrupt_ids:
        detail += f" corrupt_left_out={','.join(corrupt_ids)}"
    store.audit(StorageEvent(EventKind.EXPORT, now_ns, requester, start_ns, end_ns, detail, ids))
    log.info("exported %d segment(s) to %s (%d corrupt left out)", len(ids), out_dir, len(corrupt_ids))
    return ExportResult(out_dir, ids, sum(s.sealed_bytes for s in exported), corrupt_ids)


def _entry(segment: Segment, name: str) -> dict[str, object]:
    return {
        "segment_id": segment.segment_id,
        "file": name,
        "start_ns": segment.start_ns,
        "end_ns": segment.end_ns,
        "frames": segment.frames,
        "sealed_bytes": segment.sealed_bytes,
        "sha256": segment.sha256,
        "mask_id": segment.mask_id,
        "profile": segment.profile,
    }


def _gap(segment: Segment, reason: str) -> dict[str, object]:
    return {
        "segment_id": segment.segment_id,
        "start_ns": segment.start_ns,
        "end_ns": segment.end_ns,
        "sha256": segment.sha256,
        "reason": reason,
    }


def _copy_verified(store: SegmentStore, segment: Segment, target: Path) -> None:
    def copy(out: BinaryIO) -> str:
        digest = hashlib.sha256()
        with store.path_of(segment).open("rb") as src:
            while block := src.read(1 << 20):
                digest.update(block)
                out.write(block)
        return digest.hexdigest()

    try:
        got = write_atomically(target, copy)
    except FileNotFoundError:
        # The export stays unfinished (no manifest.json); the caller may retry with a later range.
        raise StorageError(f"segment {segment.segment_id} was purged during the export") from None
    if got != segment.sha256:
        raise _CorruptSegmentError(
            f"segment {segment.segment_id} does not match its recorded hash: corrupt on disk"
        )
