"""Technician credentials: one scrypt hash per technician, never a password, in a root-only file.

File format (``/etc/edge/credentials/technicians``, delivered to the node as the ``technicians``
credential), one technician a line, ``#`` comments allowed::

    alice:$scrypt$ln=15,r=8,p=1$<salt, base64>$<hash, base64>

The hash is a PHC-style string. A password comes from a file (``--technician NAME=FILE``) or, with
``--technician NAME``, is generated and shown once, on this run's standard output, and stored nowhere.
The file holds exactly the technicians named on the command line: an existing hash is kept (so a rerun
changes nothing), a password file that no longer matches rotates it, a name left out is removed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from edge.provision.errors import ProvisionError
from edge.provision.files import TargetFiles
from edge.provision.layout import SECRET_FILE_OWNERSHIP, TECHNICIANS_FILE
from edge.provision.outcome import Change, Outcome

log = logging.getLogger(__name__)

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9._-]{0,31}$")
MIN_PASSWORD_CHARS = 12
# scrypt cost: 2^15 x 8 x 128 bytes = 32 MiB and roughly 0.1 s on a Pi 4 core per check, which makes
# guessing expensive without making a technician's login slow.
_LOG2_N = 15
_R = 8
_P = 1
_SALT_BYTES = 16
_HASH_BYTES = 32
_MAXMEM = 64 * 1024 * 1024
_HEADER = (
    "# edge technicians: name:scrypt hash, one a line. Written by `edge provision`; no passwords here.\n"
)
_PHC = re.compile(r"^\$scrypt\$ln=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$")


@dataclass(frozen=True, slots=True)
class TechnicianInput:
    """``--technician NAME`` (generate a password) or ``--technician NAME=FILE`` (read it)."""

    name: str
    password_file: Path | None

    @classmethod
    def parse(cls, text: str) -> TechnicianInput:
        name, sep, path = text.partition("=")
        if not NAME_PATTERN.match(name):
            raise ProvisionError(
                f"--technician {text!r}: the name must start with a letter and use a-z, 0-9, '.', '_', '-'"
            )
        if sep and not path:
            raise ProvisionError(f"--technician {text!r}: expected NAME or NAME=PASSWORD_FILE")
        return cls(name, Path(path) if sep else None)


@dataclass(frozen=True, slots=True)
class Technician:
    """A technician to provision: a password read from a file, or None to generate one."""

    name: str
    password: str | None = field(repr=False)
    source: Path | None = None


def load_technicians(inputs: tuple[TechnicianInput, ...]) -> tuple[Technician, ...]:
    """Read every password file; raises ``ProvisionError`` for duplicates or unusable passwords."""
    names = [t.name for t in inputs]
    if len(set(names)) != len(names):
        raise ProvisionError(f"--technician names must be unique, got {', '.join(names)}")
    return tuple(
        Technician(t.name, _read_password(t.password_file) if t.password_file else None, t.password_file)
        for t in sorted(inputs, key=lambda t: t.name)
    )


@dataclass(frozen=True, slots=True)
class GeneratedPassword:
    """A password made by this run; the CLI prints it once."""

    technician: str
    password: str

    def __repr__(self) -> str:  # keep it out of tracebacks and debug logs
        return f"GeneratedPassword(technician={self.technician!r}, password=<hidden>)"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    salt = salt if salt is not None else secrets.token_bytes(_SALT_BYTES)
    digest = hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=2**_LOG2_N, r=_R, p=_P, maxmem=_MAXMEM, dklen=_HASH_BYTES
    )
    return f"$scrypt$ln={_LOG2_N},r={_R},p={_P}${_b64(salt)}${_b64(digest)}"


def verify_password(stored: str, password: str) -> bool:
    """True when ``password`` matches the PHC scrypt string ``stored``; False for any malformed input."""
    match = _PHC.match(stored)
    if match is None:
        return False
    log2_n, r, p = (int(g) for g in match.group(1, 2, 3))
    if not (10 <= log2_n <= 20 and 1 <= r <= 16 and 1 <= p <= 4):
        return False
    salt, expected = _unb64(match.group(4)), _unb64(match.group(5))
    digest = hashlib.scrypt(
        password.encode("utf-8"),
        salt=salt,
        n=2**log2_n,
        r=r,
        p=p,
        maxmem=256 * 1024 * 1024,
        dklen=len(expected),
    )
    return hmac.compare_digest(digest, expected)


def parse_technicians(text: str) -> dict[str, str]:
    """Name to stored hash. Raises ``ValueError`` naming the line of anything malformed."""
    entries: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        name, sep, stored = line.partition(":")
        if not sep or not NAME_PATTERN.match(name) or not _PHC.match(stored):
            raise ValueError(f"line {number}: expected name:$scrypt$..., got something else")
        if name in entries:
            raise ValueError(f"line {number}: technician {name!r} appears twice")
        entries[name] = stored
    return entries


def _read_password(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProvisionError(f"{path}: cannot read the password file: {exc.strerror}") from None
    password = text.removesuffix("\n").removesuffix("\r")
    if len(password) < MIN_PASSWORD_CHARS or "\n" in password:
        raise ProvisionError(
            f"{path}: a technician password is one line of at least {MIN_PASSWORD_CHARS} characters"
        )
    return password


def ensure_technicians(files: TargetFiles, wanted: tuple[Technician, ...]) -> list[GeneratedPassword]:
    """Write the technicians file; return the passwords generated by this run (to be shown once)."""
    existing_raw = files.read(TECHNICIANS_FILE)
    try:
        existing = parse_technicians(existing_raw.decode("utf-8")) if existing_raw is not None else {}
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProvisionError(f"{TECHNICIANS_FILE}: {exc}; fix or remove it") from None
    outcomes: list[Outcome] = []
    generated: list[GeneratedPassword] = []
    entries: dict[str, str] = {}
    for tech in wanted:
        subject = f"technician {tech.name}"
        stored = existing.get(tech.name)
        if tech.password is not None:
            if stored is not None and verify_password(stored, tech.password):
                entries[tech.name] = stored
                outcomes.append(Outcome(Change.UNCHANGED, subject))
            else:
                entries[tech.name] = hash_password(tech.password)
                change = Change.CREATED if stored is None else Change.UPDATED
                outcomes.append(Outcome(change, subject, f"password from {tech.source}"))
        elif stored is not None:
            entries[tech.name] = stored
            outcomes.append(Outcome(Change.UNCHANGED, subject))
        else:
            password = secrets.token_urlsafe(15)
            entries[tech.name] = hash_password(password)
            generated.append(GeneratedPassword(tech.name, password))
            outcomes.append(Outcome(Change.CREATED, subject, "password generated, shown once"))
    for gone in sorted(set(existing) - set(entries)):
        log.warning("technician %s is no longer listed; removing their credentials", gone)
        outcomes.append(Outcome(Change.REMOVED, f"technician {gone}"))
    files.outcomes.extend(outcomes)
    content = _HEADER + "".join(f"{name}:{entries[name]}\n" for name in sorted(entries))
    files.ensure_file(TECHNICIANS_FILE, content.encode("utf-8"), SECRET_FILE_OWNERSHIP, what="scrypt hashes")
    return generated
