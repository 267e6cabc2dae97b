"""``edge provision`` into scratch roots: layout, modes, owners (manifest), identity, idempotency, errors."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, x25519
from cryptography.x509.oid import NameOID

from edge.config import load_config
from edge.provision.technicians import parse_technicians, verify_password
from tests.provisioning import Run, edge, manifest, manifest_paths, mode, provision, snapshot

MASKS = """\
- name: shop front
  polygon: [[0.0, 0.55], [0.35, 0.55], [0.35, 1.0], [0.0, 1.0]]
- name: upper windows
  polygon: [[0.0, 0.0], [1.0, 0.0], [1.0, 0.25], [0.0, 0.25]]
"""


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("inputs")
    (d / "masks.yaml").write_text(MASKS)
    (d / "bob.password").write_text("correct horse battery staple\n")
    central = ed25519.Ed25519PrivateKey.generate()
    (d / "central-commands.pub").write_bytes(
        central.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    (d / "central-sealing.pub").write_bytes(
        x25519.X25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    (d / "central-commands.key").write_bytes(
        central.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return d


def node_args(inputs: Path, technicians: tuple[str, ...] | None = None) -> list[str]:
    if technicians is None:
        technicians = ("alice", f"bob={inputs / 'bob.password'}")
    return [
        "--site",
        "Meir 1, Antwerpen",
        "--location",
        "51.2180,4.4110",
        "--camera",
        "synthetic",
        "--camera-option",
        "width=320",
        "--camera-option",
        "height=180",
        "--camera-option",
        "fps=10",
        "--masks",
        str(inputs / "masks.yaml"),
        "--mqtt-host",
        "broker.central.example",
        "--set",
        "mqtt.keepalive_s=15",
        "--central-key",
        f"commands={inputs / 'central-commands.pub'}",
        "--central-key",
        f"sealing={inputs / 'central-sealing.pub'}",
        *(arg for tech in technicians for arg in ("--technician", tech)),
    ]


@pytest.fixture(scope="module")
def first(tmp_path_factory: pytest.TempPathFactory, inputs: Path) -> tuple[Path, Run]:
    root = tmp_path_factory.mktemp("node-root")
    run = provision(root, *node_args(inputs))
    assert run.code == 0, run.err
    return root, run


def test_first_run_lays_out_the_node_with_modes_and_owners(first: tuple[Path, Run]) -> None:
    root, run = first
    expected = {
        # path: (mode, owner, group) as the node must have them
        "/etc/edge": (0o750, "root", "edge"),
        "/etc/edge/credentials": (0o700, "root", "root"),
        "/etc/edge/credentials/device-signing.key": (0o600, "root", "root"),
        "/etc/edge/credentials/tls.key": (0o600, "root", "root"),
        "/etc/edge/credentials/technicians": (0o600, "root", "root"),
        "/etc/edge/identity": (0o750, "root", "edge"),
        "/etc/edge/identity/device-signing.pub": (0o640, "root", "edge"),
        "/etc/edge/identity/tls.csr": (0o640, "root", "edge"),
        "/etc/edge/central/commands.pem": (0o640, "root", "edge"),
        "/etc/edge/edge.yaml": (0o640, "root", "edge"),
        "/var/lib/edge": (0o750, "edge", "edge"),
        "/opt/edge": (0o755, "root", "root"),
        "/etc/systemd/system/edge.service": (0o644, "root", "root"),
    }
    recorded = manifest_paths(root)
    for path, (want_mode, owner, group) in expected.items():
        assert mode(root / path.lstrip("/")) == want_mode, path
        entry = recorded[path]
        assert (entry["mode"], entry["owner"], entry["group"]) == (f"{want_mode:04o}", owner, group), path
    link = root / "etc/systemd/system/multi-user.target.wants/edge.service"
    assert link.is_symlink() and str(link.readlink()) == "/etc/systemd/system/edge.service"
    assert (root / "etc/systemd/system/edge.service").read_text() == Path("systemd/edge.service").read_text()
    doc = manifest(root)
    assert doc["node_id"] == "cam-0042"
    assert doc["accounts"] == {
        "mode": "manifest",
        "user": "edge",
        "group": "edge",
        "supplementary_groups": ["video"],
        "system": True,
        "home": "/var/lib/edge",
        "shell": "/usr/sbin/nologin",
    }
    assert run.summary.startswith("edge provision: ") and "created" in run.summary
    assert "venv" not in run.out, "--root mode installs no venv unless asked"


def test_second_run_changes_nothing(first: tuple[Path, Run], inputs: Path, tmp_path: Path) -> None:
    root, _ = first
    copy = tmp_path / "root"
    shutil.copytree(root, copy, symlinks=True)
    before = snapshot(copy)
    again = provision(copy, *node_args(inputs))
    assert again.code == 0, again.err
    assert snapshot(copy) == before, "a second run must not touch a file, a mode or an mtime"
    assert again.summary == "edge provision: unchanged"
    assert all(line.startswith("unchanged") for line in again.out.splitlines()[:-2]), again.out
    assert "password" not in again.out, "a generated password is shown once, never again"


def test_keys_are_private_parse_and_match_the_csr(first: tuple[Path, Run]) -> None:
    root, _ = first
    creds, ident = root / "etc/edge/credentials", root / "etc/edge/identity"
    signing = serialization.load_pem_private_key((creds / "device-signing.key").read_bytes(), None)
    assert isinstance(signing, ed25519.Ed25519PrivateKey)
    published = serialization.load_pem_public_key((ident / "device-signing.pub").read_bytes())
    message = b"health report"
    assert isinstance(published, ed25519.Ed25519PublicKey)
    published.verify(signing.sign(message), message)  # raises if the pair does not match

    tls = serialization.load_pem_private_key((creds / "tls.key").read_bytes(), None)
    assert isinstance(tls, ec.EllipticCurvePrivateKey) and tls.curve.name == "secp256r1"
    csr = x509.load_pem_x509_csr((ident / "tls.csr").read_bytes())
    assert csr.is_signature_valid
    assert csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "cam-0042"
    der = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    assert csr.public_key().public_bytes(*der) == tls.public_key().public_bytes(*der)
    for public_file in ident.iterdir():
        assert b"PRIVATE" not in public_file.read_bytes(), public_file


def test_two_nodes_get_their_own_identity(first: tuple[Path, Run], tmp_path: Path) -> None:
    root, _ = first
    other = provision(tmp_path, "--camera", "synthetic", node_id="cam-0043")
    assert other.code == 0, other.err
    for key in ("credentials/device-signing.key", "credentials/tls.key", "identity/tls.csr"):
        assert (tmp_path / "etc/edge" / key).read_bytes() != (root / "etc/edge" / key).read_bytes()
    assert manifest(tmp_path)["identity"] != manifest(root)["identity"]


def test_technicians_are_scrypt_hashes_and_generated_passwords_are_shown_once(
    first: tuple[Path, Run],
) -> None:
    root, run = first
    text = (root / "etc/edge/credentials/technicians").read_text()
    assert "correct horse" not in text
    stored = parse_technicians(text)
    assert set(stored) == {"alice", "bob"}
    assert all(h.startswith("$scrypt$ln=15,r=8,p=1$") for h in stored.values())
    assert verify_password(stored["bob"], "correct horse battery staple")
    assert not verify_password(stored["bob"], "correct horse battery stapler")
    shown = re.findall(r"^technician alice: password (\S+)", run.out, re.MULTILINE)
    assert len(shown) == 1, run.out
    assert verify_password(stored["alice"], shown[0])
    assert "bob: password" not in run.out


def test_technician_rotation_and_removal(first: tuple[Path, Run], inputs: Path, tmp_path: Path) -> None:
    root, _ = first
    shutil.copytree(root, tmp_path / "r", symlinks=True)
    new_password = tmp_path / "bob.new"
    new_password.write_text("a different passphrase entirely")
    run = provision(tmp_path / "r", *node_args(inputs, technicians=(f"bob={new_password}",)))
    assert run.code == 0, run.err
    assert "updated   technician bob" in run.out and "removed   technician alice" in run.out
    stored = parse_technicians((tmp_path / "r/etc/edge/credentials/technicians").read_text())
    assert set(stored) == {"bob"} and verify_password(stored["bob"], "a different passphrase entirely")


def test_provisioned_config_is_the_template_filled_in_and_validates(first: tuple[Path, Run]) -> None:
    root, _ = first
    path = root / "etc/edge/edge.yaml"
    assert edge("validate", "--config", str(path)).code == 0
    config = load_config(path)
    assert config.node.id == "cam-0042" and config.node.site == "Meir 1, Antwerpen"
    assert (config.node.location.lat, config.node.location.lon) == (51.218, 4.411)
    assert config.node.state_dir == Path("/var/lib/edge")
    assert config.camera.type == "synthetic" and config.camera.width == 320
    assert [m.name for m in config.privacy.masks] == ["shop front", "upper windows"]
    assert config.privacy.required
    assert config.mqtt.host == "broker.central.example" and config.mqtt.keepalive_s == 15
    # What provisioning installed is wired in: recording sealed to the central key, commands checked
    # with the central key, device key and (later) TLS key as systemd credentials. No certificate yet.
    assert config.storage.enabled
    assert config.storage.central_public_key_file == Path("/etc/edge/central/sealing.pem")
    assert config.storage.device_key_file == Path("/run/credentials/edge.service/device-signing-key")
    assert config.commands.central_public_key_files == [Path("/etc/edge/central/commands.pem")]
    assert config.mqtt.tls is None
    assert (root / "etc/edge/central/sealing.pem").is_file()


def test_dev_ca_signs_the_csr_and_provisioning_installs_the_certificate(
    first: tuple[Path, Run], inputs: Path, tmp_path: Path
) -> None:
    root = tmp_path / "r"
    shutil.copytree(first[0], root, symlinks=True)
    ca_dir, cert = tmp_path / "dev-ca", tmp_path / "cam-0042.crt"
    csr = root / "etc/edge/identity/tls.csr"
    signed = edge("provision", "dev-ca", "--dir", str(ca_dir), "--sign", str(csr), "--out", str(cert))
    assert signed.code == 0, signed.err
    assert mode(ca_dir / "ca.key") == 0o600
    # An independent implementation agrees the chain is good (openssl comes with `make deps`).
    check = subprocess.run(
        ["openssl", "verify", "-CAfile", str(ca_dir / "ca.crt"), str(cert)],
        check=False,
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stderr
    ca = x509.load_pem_x509_certificate((ca_dir / "ca.crt").read_bytes())
    issued = x509.load_pem_x509_certificate(cert.read_bytes())
    issued.verify_directly_issued_by(ca)
    assert issued.public_key() == x509.load_pem_x509_csr(csr.read_bytes()).public_key()

    certs = ["--tls-cert", str(cert), "--fleet-ca", str(ca_dir / "ca.crt")]
    run = provision(root, *node_args(inputs), *certs)
    assert run.code == 0, run.err
    assert "created   /etc/edge/identity/tls.crt" in run.out
    assert (root / "etc/edge/identity/tls.crt").read_bytes() == cert.read_bytes()
    assert manifest(root)["identity"]["tls_certificate"] is True
    tls = load_config(root / "etc/edge/edge.yaml").mqtt.tls
    assert tls is not None and tls.cert_file == Path("/etc/edge/identity/tls.crt")
    assert tls.key_file == Path("/run/credentials/edge.service/tls-key")
    before = snapshot(root)
    assert provision(root, *node_args(inputs), *certs).summary == "edge provision: unchanged"
    assert provision(root, *node_args(inputs)).summary == "edge provision: unchanged"
    assert snapshot(root) == before


def test_a_certificate_for_another_node_is_refused(first: tuple[Path, Run], tmp_path: Path) -> None:
    other = tmp_path / "other"
    assert provision(other, "--camera", "synthetic", node_id="cam-0099").code == 0
    ca_dir, cert = tmp_path / "ca", tmp_path / "other.crt"
    csr = other / "etc/edge/identity/tls.csr"
    assert edge("provision", "dev-ca", "--dir", str(ca_dir), "--sign", str(csr), "--out", str(cert)).code == 0
    root = tmp_path / "r"
    shutil.copytree(first[0], root, symlinks=True)
    before = snapshot(root)
    run = provision(
        root, "--camera", "synthetic", "--tls-cert", str(cert), "--fleet-ca", str(ca_dir / "ca.crt")
    )
    assert run.code == 1
    assert "the certificate is for another key" in run.err
    assert not (root / "etc/edge/identity/tls.crt").exists()
    assert snapshot(root) == before


def test_changing_the_node_id_is_refused(first: tuple[Path, Run], tmp_path: Path) -> None:
    shutil.copytree(first[0], tmp_path / "r", symlinks=True)
    run = provision(tmp_path / "r", "--camera", "synthetic", node_id="cam-0050")
    assert run.code == 1
    assert "provisioned as 'cam-0042'" in run.err and "not 'cam-0050'" in run.err


def test_a_private_key_is_never_installed_as_a_central_key(inputs: Path, tmp_path: Path) -> None:
    run = provision(tmp_path, "--central-key", f"commands={inputs / 'central-commands.key'}")
    assert run.code == 1 and "this is a private key" in run.err
    assert not (tmp_path / "etc").exists(), "inputs are checked before anything is written"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--camera", "opencv"], "--camera opencv needs --camera-url"),
        (["--location", "51.2"], "expected LAT,LON"),
        (["--camera-option", "fps=0"], "camera.fps: Input should be greater than 0"),
        (["--technician", "Alice!"], "--technician 'Alice!'"),
        (["--central-key", "commands"], "expected NAME=FILE"),
        (["--set", "mqtt.bogus=1"], "mqtt.bogus: unknown key"),
        (["--set", "node.id=x"], "node and camera have their own options"),
    ],
)
def test_bad_input_is_refused_with_a_clear_error_before_writing(
    tmp_path: Path, args: list[str], message: str
) -> None:
    run = provision(tmp_path / "r", *args)
    assert run.code == 1
    assert message in run.err, run.err
    assert not (tmp_path / "r").exists()


def test_bad_masks_list_every_error_with_its_path(tmp_path: Path) -> None:
    masks = tmp_path / "masks.yaml"
    masks.write_text(
        yaml.safe_dump([{"name": "a", "polygon": [[0, 0], [2, 0], [0, 1]]}, {"polygon": [[0, 0], [1, 1]]}])
    )
    run = provision(tmp_path / "r", "--masks", str(masks))
    assert run.code == 1
    assert "privacy.masks[0].polygon: " in run.err and "outside the image" in run.err
    assert "privacy.masks[1].name: required field is missing" in run.err
    assert not (tmp_path / "r").exists()


def test_node_id_must_be_valid(tmp_path: Path) -> None:
    run = provision(tmp_path, node_id="Cam_1")
    assert run.code == 1 and "node id 'Cam_1'" in run.err
