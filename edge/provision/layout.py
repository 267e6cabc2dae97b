"""Where a node's files live on the target system, and who owns them.

Paths here are *target* paths (as the node will see them). ``Target`` maps them under the root being
provisioned: ``/`` on a real node, a scratch directory for tests, a mounted image for image builds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

SERVICE_USER = "edge"
SERVICE_GROUP = "edge"
SUPPLEMENTARY_GROUPS = ("video",)
SERVICE_HOME = PurePosixPath("/var/lib/edge")
SERVICE_SHELL = PurePosixPath("/usr/sbin/nologin")

ETC_DIR = PurePosixPath("/etc/edge")
CONFIG_FILE = ETC_DIR / "edge.yaml"
MANIFEST_FILE = ETC_DIR / "provision-manifest.json"
CREDENTIALS_DIR = ETC_DIR / "credentials"
DEVICE_SIGNING_KEY = CREDENTIALS_DIR / "device-signing.key"
TLS_KEY = CREDENTIALS_DIR / "tls.key"
TECHNICIANS_FILE = CREDENTIALS_DIR / "technicians"
RUNTIME_CREDENTIALS_DIR = PurePosixPath("/run/credentials/edge.service")
"""Where systemd hands the unit's ``LoadCredential=`` files to the node (names as in edge.service)."""
IDENTITY_DIR = ETC_DIR / "identity"
DEVICE_SIGNING_PUB = IDENTITY_DIR / "device-signing.pub"
TLS_CSR = IDENTITY_DIR / "tls.csr"
TLS_CERT = IDENTITY_DIR / "tls.crt"
FLEET_CA_CERT = IDENTITY_DIR / "fleet-ca.crt"
CENTRAL_KEYS_DIR = ETC_DIR / "central"
STATE_DIR = PurePosixPath("/var/lib/edge")
OPT_DIR = PurePosixPath("/opt/edge")
VENV_DIR = OPT_DIR / "venv"
UNIT_DIR = PurePosixPath("/etc/systemd/system")


@dataclass(frozen=True, slots=True)
class Ownership:
    """Intended owner, group and permission bits of one path."""

    owner: str
    group: str
    mode: int

    def describe(self) -> str:
        return f"{self.owner}:{self.group} {self.mode:04o}"


ROOT_PUBLIC_DIR = Ownership("root", "root", 0o755)
ROOT_PUBLIC_FILE = Ownership("root", "root", 0o644)
# /etc/edge: root writes it; the node (group edge) reads it; nobody else looks in.
ETC_DIR_OWNERSHIP = Ownership("root", SERVICE_GROUP, 0o750)
ETC_FILE_OWNERSHIP = Ownership("root", SERVICE_GROUP, 0o640)
# Secrets: root only. systemd (PID 1, as root) reads them for LoadCredential= and hands the node a copy.
SECRET_DIR_OWNERSHIP = Ownership("root", "root", 0o700)
SECRET_FILE_OWNERSHIP = Ownership("root", "root", 0o600)
STATE_DIR_OWNERSHIP = Ownership(SERVICE_USER, SERVICE_GROUP, 0o750)


@dataclass(frozen=True, slots=True)
class Target:
    """The root directory being provisioned; ``host()`` turns a target path into a path here."""

    root: Path

    @property
    def is_live_system(self) -> bool:
        """True when provisioning the running system itself (root ``/``)."""
        return self.root.resolve() == Path("/")

    def host(self, target_path: PurePosixPath) -> Path:
        if not target_path.is_absolute():
            raise ValueError(f"target paths are absolute, got {target_path}")
        return self.root / target_path.relative_to("/")
