"""``edge provision``: from a fresh Debian / Raspberry Pi OS to an identified, hardened node, idempotently.

Order matters only for failing early: every input (configuration, masks, units, keys, certificates) is
read and checked before the first file is written, except the certificate, which needs the node's key.
Nothing here prints; the CLI reports the outcomes and shows generated passwords once.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from edge.provision.accounts import AccountsMode, ensure_accounts, read_account_ids
from edge.provision.central_keys import CentralKey, CentralKeyInput, install_central_keys, load_central_keys
from edge.provision.errors import ProvisionError
from edge.provision.files import TargetFiles
from edge.provision.identity import Identity, ensure_identity, load_certificate_inputs
from edge.provision.layout import (
    CENTRAL_KEYS_DIR,
    CONFIG_FILE,
    CREDENTIALS_DIR,
    ETC_DIR,
    ETC_DIR_OWNERSHIP,
    ETC_FILE_OWNERSHIP,
    IDENTITY_DIR,
    MANIFEST_FILE,
    OPT_DIR,
    ROOT_PUBLIC_DIR,
    SECRET_DIR_OWNERSHIP,
    SERVICE_GROUP,
    SERVICE_HOME,
    SERVICE_SHELL,
    SERVICE_USER,
    STATE_DIR,
    STATE_DIR_OWNERSHIP,
    SUPPLEMENTARY_GROUPS,
    TLS_CERT,
    Target,
)
from edge.provision.node_config import NodeSpec, render_config, wiring_settings
from edge.provision.outcome import Change, Outcome
from edge.provision.technicians import (
    GeneratedPassword,
    TechnicianInput,
    ensure_technicians,
    load_technicians,
)
from edge.provision.units import install_units, read_units, reload_systemd
from edge.provision.venv import ensure_venv

log = logging.getLogger(__name__)

MANIFEST_SCHEMA = "edge.provision-manifest/1"


@dataclass(frozen=True, slots=True)
class ProvisionRequest:
    """Everything one run needs; built by the CLI, or directly by tests."""

    root: Path
    """``/`` for the running system; any directory to lay the node out there instead."""
    source: Path
    """The edge source tree: ``systemd/``, ``provisioning/templates/``, and the package to install."""
    node: NodeSpec
    template: Path | None = None
    """Configuration template; default ``<source>/provisioning/templates/edge.yaml``."""
    central_keys: tuple[CentralKeyInput, ...] = ()
    technicians: tuple[TechnicianInput, ...] = ()
    tls_cert: Path | None = None
    fleet_ca: Path | None = None
    accounts: AccountsMode = AccountsMode.MANIFEST
    venv: bool = False
    python: str = "python3"
    wheelhouse: Path | None = None


@dataclass(frozen=True, slots=True)
class ProvisionReport:
    outcomes: tuple[Outcome, ...]
    identity: Identity
    central_keys: tuple[CentralKey, ...]
    generated_passwords: tuple[GeneratedPassword, ...] = field(repr=False)

    @property
    def changed(self) -> bool:
        return any(o.change is not Change.UNCHANGED for o in self.outcomes)

    def summary(self) -> str:
        if not self.changed:
            return "unchanged"
        counts = {c: sum(o.change is c for o in self.outcomes) for c in Change}
        return ", ".join(f"{n} {c.value}" for c, n in counts.items() if n)


def _check_privileges(request: ProvisionRequest, target: Target) -> None:
    if request.accounts is AccountsMode.SYSTEM and os.geteuid() != 0:
        raise ProvisionError("creating accounts and setting owners needs root; run with sudo")
    if target.is_live_system and request.accounts is not AccountsMode.SYSTEM:
        raise ProvisionError("provisioning the running system needs real accounts (--accounts system)")


def provision(request: ProvisionRequest) -> ProvisionReport:
    target = Target(request.root)
    _check_privileges(request, target)
    template = request.template or request.source / "provisioning" / "templates" / "edge.yaml"
    units = read_units(request.source / "systemd")
    certificates = load_certificate_inputs(request.tls_cert, request.fleet_ca)
    central = load_central_keys(request.central_keys)
    has_certificate = certificates.tls_cert is not None or target.host(TLS_CERT).is_file()
    wiring = wiring_settings(frozenset(k.name for k in central), has_certificate)
    config_yaml = render_config(request.node, template, wiring)
    technicians = load_technicians(request.technicians)
    request.root.mkdir(parents=True, exist_ok=True)

    outcomes: list[Outcome] = []
    ids = None
    if request.accounts is AccountsMode.SYSTEM:
        outcomes += ensure_accounts(target)
        ids = read_account_ids(target)
    files = TargetFiles(target, ids)
    files.outcomes.extend(outcomes)

    files.ensure_dir(ETC_DIR, ETC_DIR_OWNERSHIP)
    files.ensure_dir(CREDENTIALS_DIR, SECRET_DIR_OWNERSHIP)
    files.ensure_dir(IDENTITY_DIR, ETC_DIR_OWNERSHIP)
    files.ensure_dir(CENTRAL_KEYS_DIR, ETC_DIR_OWNERSHIP)
    files.ensure_dir(STATE_DIR, STATE_DIR_OWNERSHIP)
    files.ensure_dir(OPT_DIR, ROOT_PUBLIC_DIR)

    identity = ensure_identity(files, request.node.node_id, certificates)
    install_central_keys(files, central)
    passwords = ensure_technicians(files, technicians)
    files.ensure_file(CONFIG_FILE, config_yaml, ETC_FILE_OWNERSHIP, what="validated")
    if request.venv:
        files.outcomes.extend(ensure_venv(target, request.source, request.python, request.wheelhouse))
    units_changed = install_units(files, units)
    if units_changed and target.is_live_system:
        reload_systemd()

    manifest = _manifest(request, files, identity, central)
    files.ensure_file(MANIFEST_FILE, manifest, ETC_FILE_OWNERSHIP, what="what provisioning set up")
    return ProvisionReport(tuple(files.outcomes), identity, central, tuple(passwords))


def _manifest(
    request: ProvisionRequest, files: TargetFiles, identity: Identity, central: tuple[CentralKey, ...]
) -> bytes:
    """What this node should look like: accounts, owners and modes, public key fingerprints. No secrets,
    no timestamps: the same inputs give the same bytes, so a rerun leaves the manifest untouched."""
    doc = {
        "schema": MANIFEST_SCHEMA,
        "node_id": request.node.node_id,
        "accounts": {
            "mode": request.accounts.value,
            "user": SERVICE_USER,
            "group": SERVICE_GROUP,
            "supplementary_groups": list(SUPPLEMENTARY_GROUPS),
            "system": True,
            "home": str(SERVICE_HOME),
            "shell": str(SERVICE_SHELL),
        },
        "identity": {
            "device_signing_key_sha256": identity.signing_key_sha256,
            "tls_key_sha256": identity.tls_key_sha256,
            "tls_certificate": identity.certificate,
        },
        "central_keys": {k.name: k.sha256 for k in central},
        "paths": [
            {
                "path": r.path,
                "kind": r.kind,
                "owner": r.owner,
                "group": r.group,
                "mode": r.mode,
                **({"link_target": r.link_target} if r.link_target else {}),
            }
            for r in files.records
        ],
    }
    return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode("utf-8")
