"""Key files: PEM, one key per file; private keys are created 0600 and refused when others can read them.

The central system holds two key pairs (``edgectl keys``): X25519 for sealing (nodes seal every segment
key to its public half) and Ed25519 for signing commands. Each node holds one Ed25519 device key that
signs clip export manifests. The node never holds a private key that opens its own recordings.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from edge.storage.errors import KeyFileError

CENTRAL_SEAL_KEY = "central_seal.key"
CENTRAL_SEAL_PUB = "central_seal.pub"
CENTRAL_SIGN_KEY = "central_sign.key"
CENTRAL_SIGN_PUB = "central_sign.pub"
DEVICE_SIGN_KEY = "device_sign.key"
DEVICE_SIGN_PUB = "device_sign.pub"


@dataclass(frozen=True, slots=True)
class KeyPairFiles:
    private: Path
    public: Path


def raw_public(key: X25519PublicKey | Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def fingerprint(key: X25519PublicKey | Ed25519PublicKey) -> str:
    """First 16 bytes of SHA-256 over the raw public key, hex: names a key in headers and manifests."""
    return hashlib.sha256(raw_public(key)).hexdigest()[:32]


def write_key_pair(
    private_key: X25519PrivateKey | Ed25519PrivateKey, directory: Path, private_name: str, public_name: str
) -> KeyPairFiles:
    """Write both halves; refuses to overwrite an existing file."""
    directory.mkdir(parents=True, exist_ok=True)
    private_pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_pem = private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    files = KeyPairFiles(directory / private_name, directory / public_name)
    _write_new(files.private, private_pem, 0o600)
    _write_new(files.public, public_pem, 0o644)
    return files


def generate_central_keys(directory: Path) -> tuple[KeyPairFiles, KeyPairFiles]:
    """A development central key set: (X25519 sealing pair, Ed25519 signing pair)."""
    seal = write_key_pair(X25519PrivateKey.generate(), directory, CENTRAL_SEAL_KEY, CENTRAL_SEAL_PUB)
    sign = write_key_pair(Ed25519PrivateKey.generate(), directory, CENTRAL_SIGN_KEY, CENTRAL_SIGN_PUB)
    return seal, sign


def generate_device_key(directory: Path) -> KeyPairFiles:
    """A node's Ed25519 signing key (provisioning does this on a real node)."""
    return write_key_pair(Ed25519PrivateKey.generate(), directory, DEVICE_SIGN_KEY, DEVICE_SIGN_PUB)


def load_x25519_public(path: Path) -> X25519PublicKey:
    key = _load_public(path)
    if not isinstance(key, X25519PublicKey):
        raise KeyFileError(f"{path}: expected an X25519 public key, found {type(key).__name__}")
    return key


def load_ed25519_public(path: Path) -> Ed25519PublicKey:
    key = _load_public(path)
    if not isinstance(key, Ed25519PublicKey):
        raise KeyFileError(f"{path}: expected an Ed25519 public key, found {type(key).__name__}")
    return key


def load_x25519_private(path: Path) -> X25519PrivateKey:
    key = _load_private(path)
    if not isinstance(key, X25519PrivateKey):
        raise KeyFileError(f"{path}: expected an X25519 private key, found {type(key).__name__}")
    return key


def load_ed25519_private(path: Path) -> Ed25519PrivateKey:
    key = _load_private(path)
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{path}: expected an Ed25519 private key, found {type(key).__name__}")
    return key


def _write_new(path: Path, data: bytes, mode: int) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        raise KeyFileError(f"{path}: already exists; refusing to overwrite a key") from None
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot read key file: {exc.strerror}") from None


def _load_public(path: Path) -> object:
    try:
        return serialization.load_pem_public_key(_read(path))
    except ValueError:
        raise KeyFileError(f"{path}: not a PEM public key") from None


def _load_private(path: Path) -> object:
    data = _read(path)
    if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(f"{path}: private key is accessible to group or others; chmod 600 it")
    try:
        return serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise KeyFileError(f"{path}: not an unencrypted PEM private key") from None
