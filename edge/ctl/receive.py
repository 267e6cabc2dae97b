"""Receiving a clip sent as ``clip/<clip_id>/chunk/<n>`` + ``clip/<clip_id>/meta`` into an export folder.

Chunks are checked against their SHA-256 and kept as files under ``<out>/.chunks/<clip_id>/`` as they
arrive, so an interrupted transfer resumes: run the receiver again and ask the node for the missing chunks
(``edgectl send resend_clip --args '{"clip_id": ..., "chunks": [...]}'``). Once the meta and every chunk
are there, ``assemble`` writes the export folder (each file checked against the meta's size and SHA-256)
that ``edgectl clip`` verifies and decrypts.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import shutil
import threading
from pathlib import Path
from typing import Any

from edge.errors import EdgeError

_CLIP_ID = re.compile(r"^[0-9a-f]{32}$")
_FILE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")


class ClipReceiver:
    def __init__(self, out_dir: Path) -> None:
        self._out = out_dir
        self._lock = threading.Lock()
        self.bad_chunks = 0

    def _dir(self, clip_id: str) -> Path:
        if not _CLIP_ID.match(clip_id):
            raise EdgeError(f"not a clip id: {clip_id!r}")
        return self._out / ".chunks" / clip_id

    def offer(self, doc: dict[str, Any]) -> None:
        """A ``clip_chunk`` or ``clip_meta`` document (anything else is ignored)."""
        schema, clip_id = doc.get("schema"), doc.get("clip_id")
        if not isinstance(clip_id, str) or not _CLIP_ID.match(clip_id):
            return
        folder = self._dir(clip_id)
        with self._lock:
            folder.mkdir(parents=True, exist_ok=True)
            if schema == "edge.clip_meta/1":
                (folder / "meta.json").write_text(json.dumps(doc))
            elif schema == "edge.clip_chunk/1":
                data = _chunk_data(doc)
                if data is None:
                    self.bad_chunks += 1
                    return
                part = folder / f"{int(doc['n'])}.part"
                tmp = part.with_suffix(".tmp")
                tmp.write_bytes(data)
                tmp.replace(part)

    def missing(self, clip_id: str) -> list[int] | None:
        """Chunk numbers still missing; None while the meta has not arrived."""
        folder = self._dir(clip_id)
        with self._lock:
            meta_path = folder / "meta.json"
            if not meta_path.exists():
                return None
            total = int(json.loads(meta_path.read_text())["total_chunks"])
            return [n for n in range(total) if not (folder / f"{n}.part").exists()]

    def assemble(self, clip_id: str) -> Path:
        """Write the export folder ``<out>/<clip_id>``; raises ``EdgeError`` if anything is missing or off."""
        missing = self.missing(clip_id)
        if missing is None:
            raise EdgeError(f"clip {clip_id}: the meta has not arrived")
        if missing:
            raise EdgeError(f"clip {clip_id}: {len(missing)} chunk(s) missing, e.g. {missing[:10]}")
        folder = self._dir(clip_id)
        meta = json.loads((folder / "meta.json").read_text())
        target = self._out / clip_id
        target.mkdir(parents=True, exist_ok=True)
        for f in meta["files"]:
            name = str(f["name"])
            if not _FILE_NAME.match(name) or name.startswith("."):
                raise EdgeError(f"clip {clip_id}: unsafe file name {name!r} in meta")
            first, count = int(f["first_chunk"]), int(f["chunks"])
            data = b"".join((folder / f"{n}.part").read_bytes() for n in range(first, first + count))
            if len(data) != int(f["size"]) or hashlib.sha256(data).hexdigest() != f["sha256"]:
                raise EdgeError(f"clip {clip_id}: {name} does not match the meta's size and SHA-256")
            (target / name).write_bytes(data)
        shutil.rmtree(folder)
        return target


def _chunk_data(doc: dict[str, Any]) -> bytes | None:
    try:
        data = base64.b64decode(str(doc["data"]), validate=True)
        int(doc["n"])
    except (KeyError, ValueError, TypeError, binascii.Error):
        return None
    if hashlib.sha256(data).hexdigest() != doc.get("sha256"):
        return None
    return data
