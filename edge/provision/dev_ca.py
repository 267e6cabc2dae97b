"""A development certificate authority: signs node CSRs for tests and the demo. Never for a real fleet.

The real fleet CA lives centrally (ideally in an HSM) and is run by the central system; it only ever sees
CSRs and public keys. This one keeps its key in a directory, in the clear, and says so in its name.
It signs what a fleet CA would: a client certificate for the CSR's node id, nothing copied from the CSR
but its public key and a CN checked against the node-id rules.
"""

from __future__ import annotations

import datetime
import os
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from edge.config import NODE_ID_PATTERN
from edge.provision.errors import ProvisionError
from edge.provision.identity import common_name

CA_KEY = "ca.key"
CA_CERT = "ca.crt"
CA_NAME = "edge development CA (not for production)"
_CA_DAYS = 3650


@dataclass(frozen=True, slots=True)
class DevCA:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate
    cert_path: Path


def _write_new(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def ensure_dev_ca(directory: Path) -> tuple[DevCA, bool]:
    """Load the dev CA in ``directory``, creating it first if absent. Returns (CA, created)."""
    key_path, cert_path = directory / CA_KEY, directory / CA_CERT
    if key_path.exists() or cert_path.exists():
        try:
            loaded = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
            cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        except (OSError, ValueError, TypeError) as exc:
            raise ProvisionError(f"{directory}: not a usable dev CA ({exc})") from None
        if not isinstance(loaded, ec.EllipticCurvePrivateKey):
            raise ProvisionError(f"{key_path}: expected an ECDSA key")
        return DevCA(loaded, cert, cert_path), False
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CA_NAME)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=_CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_new(
        key_path,
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
        0o600,
    )
    _write_new(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return DevCA(key, cert, cert_path), True


def sign_csr(ca: DevCA, csr_pem: bytes, *, days: int = 365) -> bytes:
    """A client certificate (PEM) for the node named in the CSR. Raises ``ProvisionError`` for a bad CSR."""
    try:
        csr = x509.load_pem_x509_csr(csr_pem)
    except ValueError as exc:
        raise ProvisionError(f"not a PEM certificate signing request ({exc})") from None
    if not csr.is_signature_valid:
        raise ProvisionError("the CSR's signature does not verify")
    node_id = common_name(csr.subject)
    if not re.match(NODE_ID_PATTERN, node_id):
        raise ProvisionError(f"the CSR's CN {node_id!r} is not a valid node id")
    if not 1 <= days <= 3650:
        raise ProvisionError(f"validity of {days} days is out of range (1..3650)")
    public = csr.public_key()
    if not isinstance(public, ec.EllipticCurvePublicKey):
        raise ProvisionError("the CSR's key is not an ECDSA key")
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, node_id)]))
        .issuer_name(ca.cert.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False
        )
        .sign(ca.key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)
