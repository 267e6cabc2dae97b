"""``edge provision`` and ``edge provision dev-ca``: argument parsing and the report; logic is elsewhere."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge.errors import EdgeError
from edge.provision.accounts import AccountsMode
from edge.provision.layout import TLS_CSR

if TYPE_CHECKING:
    from edge.provision.provisioner import ProvisionRequest

# Kept here rather than imported: building the `edge` parser must not load cryptography or the schema.
CAMERA_TYPES = ("picamera2", "opencv", "synthetic")

# The source tree this package was installed from, when it is a checkout (editable install, or run in place).
_CHECKOUT = Path(__file__).resolve().parents[2]


def _default_source() -> Path | None:
    if (_CHECKOUT / "systemd").is_dir() and (_CHECKOUT / "provisioning").is_dir():
        return _CHECKOUT
    return None


def add_provision_parser(sub: Any) -> None:
    """Register ``provision`` on the ``edge`` command's subparsers."""
    p: argparse.ArgumentParser = sub.add_parser(
        "provision",
        help="turn this machine (or --root DIR) into a node: accounts, identity, config, units",
        description="Make a fresh Debian / Raspberry Pi OS into an identified, hardened node. Idempotent: "
        "a second run with the same inputs changes nothing and reports 'unchanged'. "
        "See docs/operations.md.",
    )
    p.add_argument("--node-id", help="the node's unique id (lower-case letters, digits, '-')")
    p.add_argument(
        "--root",
        type=Path,
        default=Path("/"),
        help="lay the node out under this directory instead of / (tests, image builds)",
    )
    p.add_argument(
        "--source",
        type=Path,
        default=_default_source(),
        help="the edge source tree with systemd/ and provisioning/ (default: this checkout)",
    )
    p.add_argument("--template", type=Path, help="configuration template (default: the source tree's)")
    p.add_argument("--site", default="", help="human-readable site, e.g. a street")
    p.add_argument("--location", help="camera position LAT,LON in decimal degrees (WGS 84)")
    p.add_argument(
        "--camera", choices=CAMERA_TYPES, default="picamera2", help="frame source (default: %(default)s)"
    )
    p.add_argument("--camera-url", help="for --camera opencv: file, /dev/videoN or rtsp://host/path")
    p.add_argument(
        "--camera-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any other camera field, e.g. fps=25 (repeatable)",
    )
    p.add_argument("--masks", type=Path, help="YAML file with the privacy masks (list of {name, polygon})")
    p.add_argument("--mqtt-host", help="central broker host")
    p.add_argument("--mqtt-port", type=int, help="central broker port")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="any other configuration field, e.g. storage.enabled=true (repeatable; validated)",
    )
    p.add_argument(
        "--central-key",
        action="append",
        default=[],
        metavar="NAME=FILE",
        help="a central public key (PEM) to install as /etc/edge/central/NAME.pem (repeatable)",
    )
    p.add_argument(
        "--technician",
        action="append",
        default=[],
        metavar="NAME[=PASSWORD_FILE]",
        help="a technician; without a file a password is generated and shown once (repeatable; the "
        "credentials file holds exactly the technicians named)",
    )
    p.add_argument("--fleet-ca", type=Path, help="the fleet CA certificate (PEM)")
    p.add_argument("--tls-cert", type=Path, help="this node's certificate from the fleet CA (PEM)")
    p.add_argument(
        "--accounts",
        choices=[m.value for m in AccountsMode],
        help="system: create user/group and chown (default for /); manifest: record owners only "
        "(default for --root)",
    )
    p.add_argument(
        "--venv",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="install the package into /opt/edge/venv (default: yes for /, no for --root)",
    )
    p.add_argument("--python", default="python3", help="interpreter for the venv (default: %(default)s)")
    p.add_argument("--wheelhouse", type=Path, help="install from this directory of wheels, offline")
    p.set_defaults(func=_cmd_provision)

    actions = p.add_subparsers(dest="provision_action", metavar="ACTION")
    ca = actions.add_parser(
        "dev-ca",
        help="a development CA for tests and the demo: create it, or sign a node's CSR",
        description="Create a development CA in --dir (if absent) and, with --sign, sign a node's CSR. "
        "Never for production: its key sits in a plain file.",
    )
    ca.add_argument("--dir", type=Path, required=True, help="directory holding ca.key and ca.crt")
    ca.add_argument("--sign", type=Path, metavar="CSR", help="a node's CSR (PEM) to sign")
    ca.add_argument("--out", type=Path, metavar="CERT", help="where to write the certificate (with --sign)")
    ca.add_argument("--days", type=int, default=365, help="certificate validity (default: %(default)s)")
    ca.set_defaults(func=_cmd_dev_ca)


def _request(args: argparse.Namespace) -> ProvisionRequest:
    from edge.provision.central_keys import CentralKeyInput
    from edge.provision.node_config import (
        NodeSpec,
        check_node_id,
        parse_camera_option,
        parse_location,
        parse_setting,
    )
    from edge.provision.provisioner import ProvisionRequest
    from edge.provision.technicians import TechnicianInput

    if not args.node_id:
        raise EdgeError("--node-id is required")
    if args.source is None:
        raise EdgeError("--source is required: the edge source tree (with systemd/ and provisioning/)")
    live = args.root.resolve() == Path("/")
    accounts = (
        AccountsMode(args.accounts)
        if args.accounts
        else (AccountsMode.SYSTEM if live else AccountsMode.MANIFEST)
    )
    node = NodeSpec(
        node_id=check_node_id(args.node_id),
        site=args.site,
        location=parse_location(args.location) if args.location else None,
        camera_type=args.camera,
        camera_url=args.camera_url,
        camera_options=tuple(parse_camera_option(o) for o in args.camera_option),
        masks_file=args.masks,
        mqtt_host=args.mqtt_host,
        mqtt_port=args.mqtt_port,
        settings=tuple(parse_setting(s) for s in args.set),
    )
    return ProvisionRequest(
        root=args.root,
        source=args.source,
        node=node,
        template=args.template,
        central_keys=tuple(CentralKeyInput.parse(k) for k in args.central_key),
        technicians=tuple(TechnicianInput.parse(t) for t in args.technician),
        tls_cert=args.tls_cert,
        fleet_ca=args.fleet_ca,
        accounts=accounts,
        venv=live if args.venv is None else args.venv,
        python=args.python,
        wheelhouse=args.wheelhouse,
    )


def _cmd_provision(args: argparse.Namespace) -> int:
    from edge.provision.provisioner import provision

    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        report = provision(_request(args))
    except EdgeError as exc:
        print(f"edge provision: {exc}", file=sys.stderr)
        return 1
    for outcome in report.outcomes:
        print(outcome.line())
    for generated in report.generated_passwords:
        # The one and only time this password exists outside the technician's head: it is not stored.
        print(
            f"technician {generated.technician}: password {generated.password}  (shown once, stored nowhere)"
        )
    if not report.identity.certificate:
        print(f"next: send {TLS_CSR} to the fleet CA; install its answer with --tls-cert and --fleet-ca")
    print(f"edge provision: {report.summary()}")
    return 0


def _cmd_dev_ca(args: argparse.Namespace) -> int:
    from edge.provision.dev_ca import ensure_dev_ca, sign_csr

    try:
        ca, created = ensure_dev_ca(args.dir)
        print(f"{'created' if created else 'unchanged'} {ca.cert_path} (development CA, not for production)")
        if args.sign is None:
            return 0
        if args.out is None:
            raise EdgeError("--sign needs --out, the file to write the certificate to")
        try:
            csr = args.sign.read_bytes()
        except OSError as exc:
            raise EdgeError(f"{args.sign}: cannot read: {exc.strerror}") from None
        args.out.write_bytes(sign_csr(ca, csr, days=args.days))
    except EdgeError as exc:
        print(f"edge provision dev-ca: {exc}", file=sys.stderr)
        return 1
    print(f"signed {args.sign} -> {args.out}")
    return 0
