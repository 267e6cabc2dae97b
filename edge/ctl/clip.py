"""Central side of clip export: verify the signed manifest and hashes, decrypt, and make one MP4.

``verify_export`` checks the device's Ed25519 signature over ``manifest.json``, then each segment file's
SHA-256 against the manifest. ``build_clip`` decrypts each segment with the central X25519 key (which
authenticates header and content), checks the header against the manifest, keeps the frames whose capture
time lies in the manifest's range, and re-encodes them into one MP4 with the real capture timing.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import json
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import av
from av.video.frame import PictureType
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from edge.errors import EdgeError
from edge.storage.export import MANIFEST_FORMAT, MANIFEST_NAME, SIGNATURE_NAME
from edge.storage.keys import fingerprint
from edge.storage.pyav_encoder import TIME_BASE, ns_to_pts, pts_to_ns
from edge.storage.sealing import SegmentHeader, unseal


class ClipError(EdgeError):
    """The export does not verify, or cannot be turned into a clip."""


@dataclass(frozen=True, slots=True)
class ManifestSegment:
    segment_id: str
    file: str
    start_ns: int
    end_ns: int
    frames: int
    sealed_bytes: int
    sha256: str
    mask_id: str
    profile: str


@dataclass(frozen=True, slots=True)
class Manifest:
    node_id: str
    start_ns: int
    end_ns: int
    created_ns: int
    requester: str
    purpose: str
    decision_ref: str | None
    device_key: str
    mask_ids: tuple[str, ...]
    segments: tuple[ManifestSegment, ...]
    corrupt: tuple[str, ...] = ()
    """Segments of the range the node left out because their file was corrupt on disk (ids)."""


@dataclass(frozen=True, slots=True)
class ClipResult:
    frames: int
    segments: int
    first_frame_ns: int
    last_frame_ns: int
    mask_ids: tuple[str, ...]
    corrupt: tuple[str, ...] = ()


def verify_export(export_dir: Path, device_key: Ed25519PublicKey) -> Manifest:
    """Check signature and hashes; return the manifest. Raises ``ClipError`` on any mismatch."""
    try:
        body = (export_dir / MANIFEST_NAME).read_bytes()
        signature = base64.b64decode((export_dir / SIGNATURE_NAME).read_bytes().strip(), validate=True)
    except (OSError, ValueError) as exc:
        raise ClipError(f"{export_dir}: not a complete export ({exc})") from None
    try:
        device_key.verify(signature, body)
    except InvalidSignature:
        raise ClipError("manifest signature does not verify with the given device key") from None
    manifest = _parse_manifest(body)
    if manifest.device_key != fingerprint(device_key):
        raise ClipError("manifest names a different device key")
    for seg in manifest.segments:
        path = export_dir / seg.file
        if Path(seg.file).name != seg.file:
            raise ClipError(f"manifest file name {seg.file!r} is not a plain name")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ClipError(f"{path}: {exc.strerror}") from None
        if len(data) != seg.sealed_bytes or hashlib.sha256(data).hexdigest() != seg.sha256:
            raise ClipError(f"{seg.file}: does not match the manifest's size and SHA-256")
    return manifest


def decrypt_segment(path: Path, central_key: X25519PrivateKey) -> tuple[SegmentHeader, bytes]:
    """Unseal one segment file; returns its authenticated header and the MP4 bytes."""
    with path.open("rb") as f:
        return unseal(f, central_key)


def build_clip(
    export_dir: Path, central_key: X25519PrivateKey, device_key: Ed25519PublicKey, out: Path
) -> ClipResult:
    """Verify the export and write the frames of its range, in order, as one MP4 at ``out``."""
    manifest = verify_export(export_dir, device_key)
    writer: _ClipWriter | None = None
    try:
        for seg in manifest.segments:
            header, mp4 = decrypt_segment(export_dir / seg.file, central_key)
            _check_header(header, seg, manifest.node_id)
            with av.open(io.BytesIO(mp4), mode="r") as container:
                decoded = 0
                for frame in container.decode(video=0):
                    decoded += 1
                    if frame.pts is None:
                        raise ClipError(f"{seg.file}: a frame without a time stamp")
                    ts_ns = header.start_ns + pts_to_ns(frame.pts)
                    if manifest.start_ns <= ts_ns < manifest.end_ns:
                        writer = writer or _ClipWriter(out, header, manifest, ts_ns)
                        writer.add(frame, ts_ns)
            if decoded != header.frames:
                raise ClipError(f"{seg.file}: decoded {decoded} frames, the header says {header.frames}")
        if writer is None:
            raise ClipError("no frame of the exported segments lies in the manifest's range")
        return replace(writer.close(len(manifest.segments), manifest.mask_ids), corrupt=manifest.corrupt)
    except BaseException:
        if writer is not None:
            writer.abort()
            out.unlink(missing_ok=True)  # no half-written clip
        raise


class _ClipWriter:
    def __init__(self, out: Path, first: SegmentHeader, manifest: Manifest, base_ns: int) -> None:
        self._container = av.open(str(out), mode="w", format="mp4")
        self._container.metadata["creation_time"] = _iso(base_ns)
        self._container.metadata["comment"] = (
            f"edge clip node={manifest.node_id} range={_iso(manifest.start_ns)}/{_iso(manifest.end_ns)} "
            f"masks={','.join(manifest.mask_ids)}"
        )
        stream = self._container.add_stream("libx264", rate=Fraction(25))
        stream.width, stream.height, stream.pix_fmt = first.width, first.height, "yuv420p"
        stream.time_base = TIME_BASE
        stream.codec_context.time_base = TIME_BASE
        stream.options = {"preset": "veryfast", "crf": "18"}
        self._stream = stream
        self._base_ns = base_ns
        self._last_ns: int | None = None
        self.frames = 0
        self._first_ns = base_ns

    def add(self, frame: av.VideoFrame, ts_ns: int) -> None:
        if self._last_ns is not None and ts_ns <= self._last_ns:
            raise ClipError("segments overlap or go back in time")
        if (frame.width, frame.height) != (self._stream.width, self._stream.height):
            frame = frame.reformat(width=self._stream.width, height=self._stream.height, format="yuv420p")
        frame.pts = ns_to_pts(ts_ns - self._base_ns)
        frame.time_base = TIME_BASE
        frame.pict_type = PictureType.NONE  # let the encoder place key frames
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self._last_ns = ts_ns
        self.frames += 1

    def close(self, segments: int, mask_ids: tuple[str, ...]) -> ClipResult:
        for packet in self._stream.encode(None):
            self._container.mux(packet)
        self._container.close()
        assert self._last_ns is not None
        return ClipResult(self.frames, segments, self._first_ns, self._last_ns, mask_ids)

    def abort(self) -> None:
        self._container.close()


def _check_header(header: SegmentHeader, seg: ManifestSegment, node_id: str) -> None:
    expected = (node_id, seg.segment_id, seg.start_ns, seg.end_ns, seg.frames, seg.mask_id)
    found = (header.node_id, header.segment_id, header.start_ns, header.end_ns, header.frames, header.mask_id)
    if expected != found:
        raise ClipError(f"{seg.file}: sealed header does not match the manifest")


def _parse_manifest(body: bytes) -> Manifest:
    try:
        doc = json.loads(body)
        if doc["format"] != MANIFEST_FORMAT:
            raise ClipError(f"unsupported manifest format {doc['format']!r}")
        segments = tuple(ManifestSegment(**s) for s in doc["segments"])
        manifest = Manifest(
            node_id=str(doc["node_id"]),
            start_ns=int(doc["start_ns"]),
            end_ns=int(doc["end_ns"]),
            created_ns=int(doc["created_ns"]),
            requester=str(doc["requester"]),
            purpose=str(doc["purpose"]),
            decision_ref=doc["decision_ref"],
            device_key=str(doc["device_key"]),
            mask_ids=tuple(doc["mask_ids"]),
            segments=segments,
            corrupt=tuple(str(c["segment_id"]) for c in doc.get("corrupt", ())),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise ClipError(f"manifest is malformed: {exc}") from None
    if not segments:
        raise ClipError("manifest lists no segments")
    return manifest


def _iso(ts_ns: int) -> str:
    return (
        dt.datetime.fromtimestamp(ts_ns / 1e9, dt.UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )
