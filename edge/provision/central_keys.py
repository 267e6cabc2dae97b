"""The central system's public keys (command signing, footage sealing, hotlists), installed from files.

Each key is given as ``NAME=FILE`` and lands in ``/etc/edge/central/NAME.pem``. Only public keys are
accepted: a private key handed to a node by mistake is refused rather than installed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from edge.provision.errors import ProvisionError
from edge.provision.files import TargetFiles
from edge.provision.identity import public_key_sha256
from edge.provision.layout import CENTRAL_KEYS_DIR, ETC_FILE_OWNERSHIP

KEY_NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")


@dataclass(frozen=True, slots=True)
class CentralKeyInput:
    """``--central-key NAME=FILE``."""

    name: str
    path: Path

    @classmethod
    def parse(cls, text: str) -> CentralKeyInput:
        name, sep, path = text.partition("=")
        if not sep or not path:
            raise ProvisionError(f"--central-key {text!r}: expected NAME=FILE, e.g. commands=central.pub")
        if not KEY_NAME_PATTERN.match(name):
            raise ProvisionError(
                f"--central-key {text!r}: the name must be lower-case letters, digits and '-' (max 32)"
            )
        return cls(name, Path(path))


@dataclass(frozen=True, slots=True)
class CentralKey:
    """A checked central public key, ready to install."""

    name: str
    pem: bytes
    sha256: str
    """SHA-256 of the key's DER SubjectPublicKeyInfo."""


def load_central_keys(keys: tuple[CentralKeyInput, ...]) -> tuple[CentralKey, ...]:
    """Read and check every key file; raises ``ProvisionError`` naming the first bad one."""
    names = [k.name for k in keys]
    if len(set(names)) != len(names):
        raise ProvisionError(f"--central-key names must be unique, got {', '.join(names)}")
    loaded = []
    for key in keys:
        try:
            data = key.path.read_bytes()
        except OSError as exc:
            raise ProvisionError(f"{key.path}: cannot read the central key: {exc.strerror}") from None
        if b"PRIVATE KEY" in data:
            raise ProvisionError(
                f"{key.path}: this is a private key; a node gets only the central system's public key"
            )
        try:
            public = serialization.load_pem_public_key(data)
        except (ValueError, TypeError) as exc:
            raise ProvisionError(f"{key.path}: not a PEM public key ({exc})") from None
        pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        loaded.append(CentralKey(key.name, pem, public_key_sha256(public)))
    return tuple(loaded)


def install_central_keys(files: TargetFiles, keys: tuple[CentralKey, ...]) -> None:
    for key in keys:
        files.ensure_file(
            CENTRAL_KEYS_DIR / f"{key.name}.pem", key.pem, ETC_FILE_OWNERSHIP, what="central key"
        )
