"""The sealed-segment format: round trip, and every kind of tampering or truncation fails."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import struct
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.storage import keys
from edge.storage.errors import KeyFileError, SealedFormatError
from edge.storage.sealing import MAGIC, Sealer, SegmentHeader, check_structure, read_header, unseal

CENTRAL = X25519PrivateKey.generate()

HEADER = SegmentHeader(
    node_id="node-1",
    segment_id="0000000000000000001-abcd0123",
    start_ns=1_767_225_600_000_000_000,
    end_ns=1_767_225_610_000_000_000,
    frames=250,
    mask_id="m1-0123456789abcdef",
    profile="police",
    width=1920,
    height=1080,
    container="mp4",
    codec="h264",
    encoder="libx264",
    created_ns=1_767_225_611_000_000_000,
)


def seal(data: bytes, chunk_bytes: int = 1000, header: SegmentHeader = HEADER) -> bytes:
    sealer = Sealer(header, CENTRAL.public_key(), chunk_bytes=chunk_bytes)
    out = io.BytesIO()
    result = sealer.write(data, out)
    sealed = out.getvalue()
    assert result.sealed_bytes == len(sealed) == sealer.sealed_size(len(data))
    return sealed


def header_end(sealed: bytes) -> int:
    hlen = int.from_bytes(sealed[len(MAGIC) : len(MAGIC) + 4], "big")
    return len(MAGIC) + 4 + hlen


@settings(max_examples=30, deadline=None)
@given(st.binary(max_size=5000), st.integers(min_value=1, max_value=1500))
def test_round_trip_any_size_and_chunking(data: bytes, chunk_bytes: int) -> None:
    sealed = seal(data, chunk_bytes)
    header, plain = unseal(io.BytesIO(sealed), CENTRAL)
    assert (header, plain) == (HEADER, data)
    assert check_structure(io.BytesIO(sealed)) == HEADER


def test_the_plaintext_does_not_appear_and_segments_differ() -> None:
    data = b"ftypisom" + b"recognisable video bytes " * 400
    first, second = seal(data), seal(data)
    assert b"recognisable" not in first and b"ftyp" not in first
    assert first[header_end(first) :] != second[header_end(second) :], "fresh key and nonce per segment"


def test_header_is_readable_without_a_key() -> None:
    assert read_header(io.BytesIO(seal(b"x" * 10))) == HEADER


def test_a_metadata_edit_fails_authentication() -> None:
    sealed = seal(b"v" * 3000)
    edited = sealed.replace(str(HEADER.start_ns).encode(), str(HEADER.start_ns + 10**9).encode())
    assert edited != sealed and len(edited) == len(sealed)
    assert check_structure(io.BytesIO(edited)).start_ns == HEADER.start_ns + 10**9  # framing is fine...
    with pytest.raises(SealedFormatError, match="authentication"):
        unseal(io.BytesIO(edited), CENTRAL)  # ...but every chunk authenticates the header


def test_a_mask_id_edit_fails() -> None:
    sealed = seal(b"v" * 10)
    edited = sealed.replace(b"m1-0123456789abcdef", b"m1-fedcba9876543210")
    with pytest.raises(SealedFormatError):
        unseal(io.BytesIO(edited), CENTRAL)


def test_truncation_at_a_chunk_boundary_is_detected() -> None:
    sealed = seal(b"v" * 3000, chunk_bytes=1000)
    record = 5 + 1000 + 16
    cut = sealed[: header_end(sealed) + 2 * record]  # two whole chunks, the final one gone
    with pytest.raises(SealedFormatError, match="truncated"):
        check_structure(io.BytesIO(cut))
    with pytest.raises(SealedFormatError, match="truncated"):
        unseal(io.BytesIO(cut), CENTRAL)


def test_forging_the_final_flag_on_an_earlier_chunk_fails() -> None:
    sealed = bytearray(seal(b"v" * 3000, chunk_bytes=1000))
    start = header_end(bytes(sealed))
    record = 5 + 1000 + 16
    forged = bytes(sealed[: start + record])
    forged = forged[:start] + b"\x01" + forged[start + 1 :]  # "final" on chunk 0, then stop there
    with pytest.raises(SealedFormatError, match="authentication"):
        unseal(io.BytesIO(forged), CENTRAL)


def test_swapped_chunks_fail() -> None:
    sealed = seal(b"a" * 1000 + b"b" * 1000 + b"c" * 10, chunk_bytes=1000)
    start, record = header_end(sealed), 5 + 1000 + 16
    c0, c1 = sealed[start : start + record], sealed[start + record : start + 2 * record]
    swapped = sealed[:start] + c1 + c0 + sealed[start + 2 * record :]
    with pytest.raises(SealedFormatError, match="chunk 0 fails"):
        unseal(io.BytesIO(swapped), CENTRAL)


def test_a_flipped_ciphertext_bit_fails() -> None:
    sealed = bytearray(seal(b"v" * 3000))
    sealed[-20] ^= 0x01
    with pytest.raises(SealedFormatError, match="authentication"):
        unseal(io.BytesIO(bytes(sealed)), CENTRAL)


def test_trailing_garbage_is_rejected() -> None:
    with pytest.raises(SealedFormatError, match="after the final chunk"):
        check_structure(io.BytesIO(seal(b"v" * 10) + b"junk"))


def test_another_central_key_cannot_open_it() -> None:
    with pytest.raises(SealedFormatError, match="different central key"):
        unseal(io.BytesIO(seal(b"v")), X25519PrivateKey.generate())


def test_a_swapped_wrapped_key_does_not_unwrap() -> None:
    # Move one segment's key envelope onto another segment's header (same node): the wrap's additional
    # data names the segment, so it fails.
    other = dataclasses.replace(HEADER, segment_id="0000000000000000002-ffff0000")
    a, b = seal(b"v", header=HEADER), seal(b"v", header=other)
    doc_a = json.loads(a[len(MAGIC) + 4 : header_end(a)])
    doc_b = json.loads(b[len(MAGIC) + 4 : header_end(b)])
    doc_a["seal"]["key_wrap"] = doc_b["seal"]["key_wrap"]
    body = json.dumps(doc_a, sort_keys=True, separators=(",", ":")).encode()
    forged = MAGIC + struct.pack(">I", len(body)) + body + a[header_end(a) :]
    with pytest.raises(SealedFormatError, match="does not unwrap"):
        unseal(io.BytesIO(forged), CENTRAL)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda b: b"NOTASEG!" + b[8:],
        lambda b: b[:10],
        lambda b: b[:8] + struct.pack(">I", 10**7) + b[12:],
        lambda b: b[:12] + b"[" + b[13:],
    ],
    ids=["magic", "short", "huge-header", "bad-json"],
)
def test_malformed_files_are_rejected_cleanly(mangle: object) -> None:
    sealed = seal(b"v" * 100)
    with pytest.raises(SealedFormatError):
        check_structure(io.BytesIO(mangle(sealed)))  # type: ignore[operator]


# ------------------------------------------------------------------------------------------- keys


def test_key_files_round_trip_and_refuse_overwrite(tmp_path: Path) -> None:
    seal_pair, sign_pair = keys.generate_central_keys(tmp_path)
    assert seal_pair.private.stat().st_mode & 0o777 == 0o600
    private = keys.load_x25519_private(seal_pair.private)
    assert keys.raw_public(private.public_key()) == keys.raw_public(keys.load_x25519_public(seal_pair.public))
    keys.load_ed25519_private(sign_pair.private)
    with pytest.raises(KeyFileError, match="already exists"):
        keys.generate_central_keys(tmp_path)


def test_key_files_of_the_wrong_kind_or_too_open_are_refused(tmp_path: Path) -> None:
    seal_pair, sign_pair = keys.generate_central_keys(tmp_path)
    with pytest.raises(KeyFileError, match="expected an X25519 public key"):
        keys.load_x25519_public(sign_pair.public)
    with pytest.raises(KeyFileError, match="expected an Ed25519 private key"):
        keys.load_ed25519_private(seal_pair.private)
    os.chmod(seal_pair.private, 0o640)
    with pytest.raises(KeyFileError, match="chmod 600"):
        keys.load_x25519_private(seal_pair.private)
    with pytest.raises(KeyFileError, match="cannot read"):
        keys.load_x25519_public(tmp_path / "missing.pub")
    (tmp_path / "junk.pub").write_text("not a key")
    with pytest.raises(KeyFileError, match="not a PEM"):
        keys.load_x25519_public(tmp_path / "junk.pub")
