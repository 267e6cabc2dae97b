"""The node's identity, generated on the node: an Ed25519 signing key and a TLS key with its CSR.

Private keys are created here, written once (mode 0600, root only, delivered to the node as systemd
credentials) and never printed, copied or regenerated: a second run loads them. What leaves the node is
public: the signing public key and the CSR (``CN`` = node id) for the fleet CA, whose certificate comes
back and is installed with ``--tls-cert`` after checking that it matches the key, names this node and was
issued by the fleet CA.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes, PublicKeyTypes
from cryptography.x509.oid import NameOID

from edge.provision.errors import ProvisionError
from edge.provision.files import TargetFiles
from edge.provision.layout import (
    DEVICE_SIGNING_KEY,
    DEVICE_SIGNING_PUB,
    ETC_FILE_OWNERSHIP,
    FLEET_CA_CERT,
    SECRET_FILE_OWNERSHIP,
    TLS_CERT,
    TLS_CSR,
    TLS_KEY,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Identity:
    """The public side of the node's identity, for the report and the manifest."""

    node_id: str
    signing_key_sha256: str
    """SHA-256 of the DER SubjectPublicKeyInfo of the Ed25519 signing key."""
    tls_key_sha256: str
    certificate: bool
    """True when a certificate from the fleet CA is installed."""


def public_key_sha256(key: PublicKeyTypes) -> str:
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def _private_pem(key: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _public_pem(key: PublicKeyTypes) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def _same_key(a: PublicKeyTypes | CertificatePublicKeyTypes, b: PublicKeyTypes) -> bool:
    return public_key_sha256(a) == public_key_sha256(b)


def _load_signing_key(files: TargetFiles) -> ed25519.Ed25519PrivateKey:
    pem = files.read(DEVICE_SIGNING_KEY)
    if pem is None:
        key = ed25519.Ed25519PrivateKey.generate()
        files.ensure_file(DEVICE_SIGNING_KEY, _private_pem(key), SECRET_FILE_OWNERSHIP, what="Ed25519, new")
        return key
    try:
        loaded = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise ProvisionError(
            f"{DEVICE_SIGNING_KEY}: not a readable unencrypted PEM private key ({exc}); refusing to replace "
            "a device key: move it away by hand to give this node a new identity"
        ) from None
    if not isinstance(loaded, ed25519.Ed25519PrivateKey):
        raise ProvisionError(f"{DEVICE_SIGNING_KEY}: expected an Ed25519 key, found {type(loaded).__name__}")
    files.ensure_file(DEVICE_SIGNING_KEY, pem, SECRET_FILE_OWNERSHIP, what="Ed25519, kept")
    return loaded


def _load_tls_key(files: TargetFiles) -> ec.EllipticCurvePrivateKey:
    pem = files.read(TLS_KEY)
    if pem is None:
        key = ec.generate_private_key(ec.SECP256R1())
        files.ensure_file(TLS_KEY, _private_pem(key), SECRET_FILE_OWNERSHIP, what="ECDSA P-256, new")
        return key
    try:
        loaded = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise ProvisionError(
            f"{TLS_KEY}: not a readable unencrypted PEM private key ({exc}); refusing to replace it"
        ) from None
    if not isinstance(loaded, ec.EllipticCurvePrivateKey) or loaded.curve.name != "secp256r1":
        raise ProvisionError(f"{TLS_KEY}: expected an ECDSA P-256 key")
    files.ensure_file(TLS_KEY, pem, SECRET_FILE_OWNERSHIP, what="ECDSA P-256, kept")
    return loaded


def common_name(name: x509.Name) -> str:
    values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    if len(values) != 1:
        raise ProvisionError(f"expected exactly one CN in {name.rfc4514_string()!r}")
    value = values[0].value
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def make_csr(key: ec.EllipticCurvePrivateKey, node_id: str) -> bytes:
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, node_id)]))
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM)


def _ensure_csr(files: TargetFiles, key: ec.EllipticCurvePrivateKey, node_id: str) -> None:
    pem = files.read(TLS_CSR)
    if pem is not None:
        try:
            csr = x509.load_pem_x509_csr(pem)
        except ValueError:
            csr = None
        if csr is not None and csr.is_signature_valid and _same_key(csr.public_key(), key.public_key()):
            existing_cn = common_name(csr.subject)
            if existing_cn != node_id:
                raise ProvisionError(
                    f"this node was provisioned as {existing_cn!r} ({TLS_CSR}), not {node_id!r}; a node id "
                    f"is bound to the certificate: remove {TLS_CSR} and {TLS_CERT} to request a new one"
                )
            files.ensure_file(TLS_CSR, pem, ETC_FILE_OWNERSHIP, what=f"CN={node_id}")
            return
        log.warning("%s does not match the TLS key; writing a new CSR", TLS_CSR)
    files.ensure_file(TLS_CSR, make_csr(key, node_id), ETC_FILE_OWNERSHIP, what=f"CN={node_id}")


def _read_input(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ProvisionError(f"{path}: cannot read the {what}: {exc.strerror}") from None


def _parse_certificate(pem: bytes, where: str) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(pem)
    except ValueError as exc:
        raise ProvisionError(f"{where}: not a PEM X.509 certificate ({exc})") from None


@dataclass(frozen=True, slots=True)
class CertificateInputs:
    """``--fleet-ca`` and ``--tls-cert``, read and parsed before anything is written."""

    fleet_ca: x509.Certificate | None = None
    tls_cert: x509.Certificate | None = None
    tls_cert_source: str = ""


def load_certificate_inputs(tls_cert: Path | None, fleet_ca: Path | None) -> CertificateInputs:
    ca = None
    if fleet_ca is not None:
        ca = _parse_certificate(_read_input(fleet_ca, "fleet CA certificate"), str(fleet_ca))
        try:
            is_ca = ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        except x509.ExtensionNotFound:
            is_ca = False
        if not is_ca:
            raise ProvisionError(f"{fleet_ca}: not a CA certificate (basicConstraints CA:TRUE missing)")
    cert = None
    if tls_cert is not None:
        cert = _parse_certificate(_read_input(tls_cert, "TLS certificate"), str(tls_cert))
    return CertificateInputs(ca, cert, str(tls_cert or ""))


def check_certificate(
    cert: x509.Certificate,
    key: ec.EllipticCurvePrivateKey,
    node_id: str,
    fleet_ca: x509.Certificate | None,
    where: str,
) -> None:
    """Raise ``ProvisionError`` unless ``cert`` is this node's: its key, its id, in date, from the CA."""
    if not _same_key(cert.public_key(), key.public_key()):
        raise ProvisionError(f"{where}: the certificate is for another key, not this node's TLS key")
    cn = common_name(cert.subject)
    if cn != node_id:
        raise ProvisionError(f"{where}: the certificate names {cn!r}, not this node ({node_id!r})")
    if cert.not_valid_after_utc <= datetime.datetime.now(datetime.UTC):
        raise ProvisionError(f"{where}: the certificate expired on {cert.not_valid_after_utc:%Y-%m-%d}")
    if fleet_ca is None:
        raise ProvisionError(f"{where}: cannot check who issued it: give the fleet CA with --fleet-ca")
    try:
        cert.verify_directly_issued_by(fleet_ca)
    except (ValueError, TypeError, InvalidSignature):
        raise ProvisionError(
            f"{where}: not issued by the fleet CA {fleet_ca.subject.rfc4514_string()}"
        ) from None


def _existing_certificate(files: TargetFiles, path: PurePosixPath) -> tuple[bytes, x509.Certificate] | None:
    pem = files.read(path)
    return None if pem is None else (pem, _parse_certificate(pem, str(path)))


def _ensure_certificates(
    files: TargetFiles, key: ec.EllipticCurvePrivateKey, node_id: str, given: CertificateInputs
) -> bool:
    """Install the fleet CA and this node's certificate; every check passes before either is written."""
    old_ca = _existing_certificate(files, FLEET_CA_CERT)
    old_cert = _existing_certificate(files, TLS_CERT)
    ca = given.fleet_ca or (old_ca[1] if old_ca else None)
    cert = given.tls_cert or (old_cert[1] if old_cert else None)
    if cert is not None:
        check_certificate(cert, key, node_id, ca, given.tls_cert_source or str(TLS_CERT))
    if given.fleet_ca is not None:
        pem = given.fleet_ca.public_bytes(serialization.Encoding.PEM)
        files.ensure_file(FLEET_CA_CERT, pem, ETC_FILE_OWNERSHIP, what="fleet CA")
    elif old_ca is not None:
        files.ensure_file(FLEET_CA_CERT, old_ca[0], ETC_FILE_OWNERSHIP, what="fleet CA, kept")
    if given.tls_cert is not None:
        pem = given.tls_cert.public_bytes(serialization.Encoding.PEM)
        files.ensure_file(TLS_CERT, pem, ETC_FILE_OWNERSHIP, what=f"CN={node_id}")
    elif old_cert is not None:
        files.ensure_file(TLS_CERT, old_cert[0], ETC_FILE_OWNERSHIP, what=f"CN={node_id}, kept")
    return cert is not None


def ensure_identity(files: TargetFiles, node_id: str, certificates: CertificateInputs) -> Identity:
    """Generate what is missing, keep what exists, install the fleet CA and certificate when given."""
    signing = _load_signing_key(files)
    files.ensure_file(
        DEVICE_SIGNING_PUB, _public_pem(signing.public_key()), ETC_FILE_OWNERSHIP, what="public"
    )
    tls = _load_tls_key(files)
    _ensure_csr(files, tls, node_id)
    has_cert = _ensure_certificates(files, tls, node_id, certificates)
    return Identity(
        node_id=node_id,
        signing_key_sha256=public_key_sha256(signing.public_key()),
        tls_key_sha256=public_key_sha256(tls.public_key()),
        certificate=has_cert,
    )
