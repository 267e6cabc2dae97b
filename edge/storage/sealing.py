"""The sealed-segment format: authenticated header, AES-256-GCM chunks, a fresh key sealed to the centre.

Layout (all integers big-endian; docs/storage.md has the full description and the reasons)::

    magic      8 bytes   b"EDGESEG" + format version (1)
    hlen       u32       length of the header
    header     hlen      canonical JSON (sorted keys, no spaces, UTF-8): {"v", "segment", "seal"}
    chunk*     flags u8 (bit 0: final) | clen u32 | AES-256-GCM ciphertext with its 16-byte tag

Chunk ``i`` is encrypted with nonce ``base_nonce XOR i`` and additional data
``SHA-256(magic || hlen || header) || u64(i) || flags``: every chunk authenticates the whole header,
its own position and whether it is the last one, so metadata edits, reordering, and truncation at a chunk
boundary all fail. Every chunk but the last holds exactly ``chunk_bytes`` of plaintext.

The per-segment data key is wrapped for the central X25519 key: an ephemeral X25519 key agreement,
HKDF-SHA256 (salt = ephemeral public || recipient public) gives a key-wrapping key, and AES-256-GCM wraps
the data key with the node and segment ids as additional data. The node keeps no private key that can
unwrap it.

The header is authenticated but not secret: the node reads it (without any key) to rebuild its index
after a crash, and ``check_structure`` verifies the chunk framing, which is all it can verify.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import BinaryIO, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from edge.storage.errors import SealedFormatError
from edge.storage.keys import fingerprint, raw_public

MAGIC: Final = b"EDGESEG\x01"
CHUNK_BYTES: Final = 1 << 20
CIPHER: Final = "AES-256-GCM"
KEY_WRAP: Final = "X25519-HKDF-SHA256-A256GCM"
_HKDF_INFO: Final = b"edge/segment-key-wrap/v1"
_WRAP_AAD: Final = b"edge/segment-key/v1"
_TAG_BYTES: Final = 16
_RECORD_HEAD: Final = struct.Struct(">BI")
_LEN: Final = struct.Struct(">I")
_FINAL: Final = 0x01
_MAX_HEADER_BYTES: Final = 64 * 1024


@dataclass(frozen=True, slots=True)
class SegmentHeader:
    """What a sealed segment says about itself: authenticated by every chunk, readable without a key."""

    node_id: str
    segment_id: str
    start_ns: int
    """Capture time of the first frame, UTC ns."""
    end_ns: int
    """Capture time just after the last frame (last frame + one frame interval), UTC ns."""
    frames: int
    mask_id: str
    profile: str
    width: int
    height: int
    container: str
    codec: str
    encoder: str
    created_ns: int


@dataclass(frozen=True, slots=True)
class SealResult:
    sealed_bytes: int
    sha256: str
    """Hex SHA-256 of the whole sealed file."""


class Sealer:
    """Seals one segment. Holds the segment's data key in memory only, until ``write`` returns."""

    def __init__(
        self, header: SegmentHeader, recipient: X25519PublicKey, chunk_bytes: int = CHUNK_BYTES
    ) -> None:
        if chunk_bytes < 1:
            raise ValueError("chunk_bytes must be positive")
        self._chunk_bytes = chunk_bytes
        self._dek: bytes | None = AESGCM.generate_key(bit_length=256)
        self._base_nonce = os.urandom(12)
        ephemeral = X25519PrivateKey.generate()
        ephemeral_pub = raw_public(ephemeral.public_key())
        kwk = _key_wrapping_key(ephemeral.exchange(recipient), ephemeral_pub, raw_public(recipient))
        wrap_nonce = os.urandom(12)
        wrapped = AESGCM(kwk).encrypt(wrap_nonce, self._dek, _wrap_aad(header.node_id, header.segment_id))
        document = {
            "v": 1,
            "segment": asdict(header),
            "seal": {
                "cipher": CIPHER,
                "chunk_bytes": chunk_bytes,
                "base_nonce": _b64(self._base_nonce),
                "key_wrap": {
                    "alg": KEY_WRAP,
                    "recipient": fingerprint(recipient),
                    "ephemeral": _b64(ephemeral_pub),
                    "nonce": _b64(wrap_nonce),
                    "wrapped_key": _b64(wrapped),
                },
            },
        }
        body = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
        self._prefix = MAGIC + _LEN.pack(len(body)) + body
        self._header_digest = hashlib.sha256(self._prefix).digest()

    def sealed_size(self, plaintext_bytes: int) -> int:
        """Exact size of the sealed file for ``plaintext_bytes`` of video (known before writing)."""
        chunks = max(1, -(-plaintext_bytes // self._chunk_bytes))
        return len(self._prefix) + chunks * (_RECORD_HEAD.size + _TAG_BYTES) + plaintext_bytes

    def write(self, plaintext: bytes, out: BinaryIO) -> SealResult:
        """Encrypt ``plaintext`` into ``out``, chunk by chunk; the data key is forgotten afterwards."""
        if self._dek is None:
            raise SealedFormatError("a Sealer seals exactly one segment")
        aead, self._dek = AESGCM(self._dek), None
        digest = hashlib.sha256(self._prefix)
        out.write(self._prefix)
        written = len(self._prefix)
        view = memoryview(plaintext)
        starts = range(0, max(1, len(view)), self._chunk_bytes)
        for index, start in enumerate(starts):
            flags = _FINAL if start + self._chunk_bytes >= len(view) else 0
            sealed = aead.encrypt(
                _nonce(self._base_nonce, index),
                bytes(view[start : start + self._chunk_bytes]),
                _chunk_aad(self._header_digest, index, flags),
            )
            record = _RECORD_HEAD.pack(flags, len(sealed))
            out.write(record)
            out.write(sealed)
            digest.update(record)
            digest.update(sealed)
            written += len(record) + len(sealed)
        return SealResult(sealed_bytes=written, sha256=digest.hexdigest())


@dataclass(frozen=True, slots=True)
class _Parsed:
    header: SegmentHeader
    seal: dict[str, object]
    digest: bytes
    chunk_bytes: int


def read_header(f: BinaryIO) -> SegmentHeader:
    """Parse the header (no key needed). Leaves ``f`` at the first chunk."""
    return _parse(f).header


def check_structure(f: BinaryIO) -> SegmentHeader:
    """Verify the framing of the whole file without a key: header, canonical chunks, a final chunk, EOF.

    This is what a node can check about its own sealed files (it cannot verify the tags)."""
    parsed = _parse(f)
    for _record in _records(f, parsed.chunk_bytes, skip=True):
        pass
    return parsed.header


def unseal(f: BinaryIO, private_key: X25519PrivateKey) -> tuple[SegmentHeader, bytes]:
    """Central side: unwrap the data key, verify every chunk and return the header and the plaintext."""
    parsed = _parse(f)
    wrap = _dict(parsed.seal.get("key_wrap"), "seal.key_wrap")
    if wrap.get("alg") != KEY_WRAP or parsed.seal.get("cipher") != CIPHER:
        raise SealedFormatError("unsupported cipher or key wrap")
    if wrap.get("recipient") != fingerprint(private_key.public_key()):
        raise SealedFormatError("segment is sealed to a different central key")
    ephemeral_pub = _unb64(wrap.get("ephemeral"), "ephemeral")
    try:
        shared = private_key.exchange(X25519PublicKey.from_public_bytes(ephemeral_pub))
        kwk = _key_wrapping_key(shared, ephemeral_pub, raw_public(private_key.public_key()))
        dek = AESGCM(kwk).decrypt(
            _unb64(wrap.get("nonce"), "nonce"),
            _unb64(wrap.get("wrapped_key"), "wrapped_key"),
            _wrap_aad(parsed.header.node_id, parsed.header.segment_id),
        )
    except (InvalidTag, ValueError):
        raise SealedFormatError("the segment key does not unwrap: wrong key or tampered header") from None
    aead = AESGCM(dek)
    base_nonce = _unb64(parsed.seal.get("base_nonce"), "base_nonce")
    if len(base_nonce) != 12:
        raise SealedFormatError("base nonce must be 12 bytes")
    parts: list[bytes] = []
    for index, (flags, sealed) in enumerate(_records(f, parsed.chunk_bytes, skip=False)):
        try:
            aad = _chunk_aad(parsed.digest, index, flags)
            parts.append(aead.decrypt(_nonce(base_nonce, index), sealed, aad))
        except InvalidTag:
            raise SealedFormatError(f"chunk {index} fails authentication: tampered or corrupt") from None
    return parsed.header, b"".join(parts)


# ------------------------------------------------------------------------------------------ helpers


def _records(f: BinaryIO, chunk_bytes: int, *, skip: bool) -> Iterator[tuple[int, bytes]]:
    """Each chunk record (flags, sealed body; empty when ``skip``) up to and including the final one.

    Raises unless the records are canonical and the file ends right after the final one."""
    here = f.tell()
    end = f.seek(0, os.SEEK_END)
    f.seek(here)
    index = 0
    while True:
        head = f.read(_RECORD_HEAD.size)
        if len(head) != _RECORD_HEAD.size:
            raise SealedFormatError(f"truncated: no final chunk after {index} chunks")
        flags, clen = _RECORD_HEAD.unpack(head)
        final = flags == _FINAL
        if flags not in (0, _FINAL):
            raise SealedFormatError(f"chunk {index}: unknown flags {flags:#x}")
        full = clen == chunk_bytes + _TAG_BYTES
        if clen < _TAG_BYTES or clen > chunk_bytes + _TAG_BYTES or (not final and not full):
            raise SealedFormatError(f"chunk {index}: bad length {clen}")
        here = f.tell() + clen
        if here > end:
            raise SealedFormatError(f"truncated inside chunk {index}")
        if skip:
            f.seek(here)
            yield flags, b""
        else:
            yield flags, f.read(clen)
        if final:
            if here != end:
                raise SealedFormatError("data after the final chunk")
            return
        index += 1


def _parse(f: BinaryIO) -> _Parsed:
    magic = f.read(len(MAGIC))
    if magic != MAGIC:
        raise SealedFormatError("not a sealed edge segment (bad magic or version)")
    raw_len = f.read(_LEN.size)
    if len(raw_len) != _LEN.size:
        raise SealedFormatError("truncated header")
    (hlen,) = _LEN.unpack(raw_len)
    if hlen > _MAX_HEADER_BYTES:
        raise SealedFormatError(f"header of {hlen} bytes is implausibly large")
    body = f.read(hlen)
    if len(body) != hlen:
        raise SealedFormatError("truncated header")
    try:
        document = json.loads(body)
    except ValueError:
        raise SealedFormatError("header is not JSON") from None
    doc = _dict(document, "header")
    if doc.get("v") != 1:
        raise SealedFormatError(f"unsupported header version {doc.get('v')!r}")
    segment = _dict(doc.get("segment"), "segment")
    seal = _dict(doc.get("seal"), "seal")
    header = _header_from(segment)
    chunk_bytes = seal.get("chunk_bytes")
    if type(chunk_bytes) is not int or not 1 <= chunk_bytes <= 64 * CHUNK_BYTES:
        raise SealedFormatError("seal.chunk_bytes is invalid")
    digest = hashlib.sha256(magic + raw_len + body).digest()
    return _Parsed(header=header, seal=seal, digest=digest, chunk_bytes=chunk_bytes)


def _header_from(segment: dict[str, object]) -> SegmentHeader:
    fields = SegmentHeader.__dataclass_fields__
    if set(segment) != set(fields):
        raise SealedFormatError(f"segment header fields differ: {sorted(set(segment) ^ set(fields))}")
    for name, field in fields.items():
        want = int if field.type == "int" else str
        if type(segment[name]) is not want:
            raise SealedFormatError(f"segment.{name} must be {want.__name__}")
    header = SegmentHeader(**segment)  # type: ignore[arg-type]  # checked field by field above
    if header.end_ns <= header.start_ns or header.frames < 1:
        raise SealedFormatError("segment header has an empty time range or no frames")
    return header


def _dict(value: object, where: str) -> dict[str, object]:
    if not isinstance(value, dict):
        raise SealedFormatError(f"{where} must be an object")
    return value


def _key_wrapping_key(shared: bytes, ephemeral_pub: bytes, recipient_pub: bytes) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=ephemeral_pub + recipient_pub, info=_HKDF_INFO)
    return hkdf.derive(shared)


def _wrap_aad(node_id: str, segment_id: str) -> bytes:
    return _WRAP_AAD + b"\x00" + node_id.encode() + b"\x00" + segment_id.encode()


def _nonce(base: bytes, index: int) -> bytes:
    return (int.from_bytes(base, "big") ^ index).to_bytes(12, "big")


def _chunk_aad(header_digest: bytes, index: int, flags: int) -> bytes:
    return header_digest + index.to_bytes(8, "big") + bytes([flags])


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(value: object, name: str) -> bytes:
    if not isinstance(value, str):
        raise SealedFormatError(f"seal field {name} must be a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:
        raise SealedFormatError(f"seal field {name} is not valid base64") from None
