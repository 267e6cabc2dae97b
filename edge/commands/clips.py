"""Sending a sealed export over MQTT: ``clip/<clip_id>/chunk/<n>`` messages, then ``clip/<clip_id>/meta``.

The export folder's files (sealed segments, ``manifest.sig``, ``manifest.json`` last) are cut into chunks of
``chunk_bytes``, numbered from 0 across the files in the order the meta lists them. Each chunk carries its
file, offset, base64 data and the SHA-256 of its bytes; the meta lists every file with size, SHA-256 and
chunk range. Chunks and meta go through the outbox (priority ``CLIP``, after hits, events and reads), so a
transfer survives outages and restarts; ``resend_clip`` sends chosen chunks again from the kept folder.
The bandwidth cap (``mqtt.clip_max_bytes_per_s``) is applied by the uplink's sender, where clip messages
leave the outbox; old export folders are removed by ``edge.commands.exports``.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge.storage.export import MANIFEST_NAME, SIGNATURE_NAME

ClipSender = Callable[[str, dict[str, Any]], None]
"""(topic suffix under the node root, body) → stored in the outbox."""


@dataclass(frozen=True, slots=True)
class ClipFile:
    name: str
    size: int
    sha256: str
    first_chunk: int
    chunks: int


def plan(export_dir: Path, chunk_bytes: int) -> list[ClipFile]:
    names = sorted(p.name for p in export_dir.iterdir() if p.suffix == ".seg")
    names += [SIGNATURE_NAME, MANIFEST_NAME]
    files: list[ClipFile] = []
    first = 0
    for name in names:
        data = (export_dir / name).read_bytes()
        count = max(1, -(-len(data) // chunk_bytes))
        files.append(ClipFile(name, len(data), hashlib.sha256(data).hexdigest(), first, count))
        first += count
    return files


def chunks(export_dir: Path, files: list[ClipFile], chunk_bytes: int) -> Iterator[tuple[int, dict[str, Any]]]:
    for f in files:
        data = (export_dir / f.name).read_bytes()
        for i in range(f.chunks):
            part = data[i * chunk_bytes : (i + 1) * chunk_bytes]
            yield (
                f.first_chunk + i,
                {
                    "file": f.name,
                    "offset": i * chunk_bytes,
                    "sha256": hashlib.sha256(part).hexdigest(),
                    "data": base64.b64encode(part).decode("ascii"),
                },
            )


def send_clip(
    clip_id: str,
    export_dir: Path,
    chunk_bytes: int,
    send: ClipSender,
    header: dict[str, Any],
    only: set[int] | None = None,
) -> tuple[int, int]:
    """Queue the chunks (all, or ``only``) then the meta. Returns (chunks queued, total chunks)."""
    files = plan(export_dir, chunk_bytes)
    total = sum(f.chunks for f in files)
    queued = 0
    for n, body in chunks(export_dir, files, chunk_bytes):
        if only is not None and n not in only:
            continue
        chunk = {"schema": "edge.clip_chunk/1", **header, "clip_id": clip_id, "n": n, "total": total, **body}
        send(f"clip/{clip_id}/chunk/{n}", chunk)
        queued += 1
    meta = {
        "schema": "edge.clip_meta/1",
        **header,
        "clip_id": clip_id,
        "chunk_bytes": chunk_bytes,
        "total_chunks": total,
        "files": [
            {
                "name": f.name,
                "size": f.size,
                "sha256": f.sha256,
                "first_chunk": f.first_chunk,
                "chunks": f.chunks,
            }
            for f in files
        ],
    }
    send(f"clip/{clip_id}/meta", meta)
    return queued, total
