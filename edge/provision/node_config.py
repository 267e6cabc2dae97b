"""The node's configuration file, written from a template and validated with the schema before writing.

The output is a pure function of the template and the command line (no timestamps, stable key order),
so rerunning provisioning with the same inputs leaves ``/etc/edge/edge.yaml`` byte for byte as it was.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from edge.config import NODE_ID_PATTERN, parse_config
from edge.errors import ConfigError
from edge.provision.errors import ProvisionError
from edge.provision.layout import CENTRAL_KEYS_DIR, FLEET_CA_CERT, RUNTIME_CREDENTIALS_DIR, TLS_CERT

_OPTION_KEY = re.compile(r"^[a-z][a-z0-9_]*$")
CAMERA_TYPES = ("picamera2", "opencv", "synthetic")


class _Dumper(yaml.SafeDumper):
    """Block style throughout, except lists of plain values (polygon points, colours): ``[0.1, 0.2]``."""


def _represent_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    flat = all(isinstance(item, str | int | float | bool) for item in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flat)


_Dumper.add_representer(list, _represent_list)


def check_node_id(node_id: str) -> str:
    if not re.match(NODE_ID_PATTERN, node_id):
        raise ProvisionError(
            f"node id {node_id!r}: use lower-case letters, digits and '-', starting with a letter or digit, "
            "at most 63 characters"
        )
    return node_id


def parse_location(text: str) -> tuple[float, float]:
    lat_text, sep, lon_text = text.partition(",")
    try:
        if not sep:
            raise ValueError
        return float(lat_text), float(lon_text)
    except ValueError:
        raise ProvisionError(
            f"--location {text!r}: expected LAT,LON in decimal degrees, e.g. 51.2194,4.4025"
        ) from None


def parse_camera_option(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    if not sep or not _OPTION_KEY.match(key) or key in ("type", "url"):
        raise ProvisionError(
            f"--camera-option {text!r}: expected KEY=VALUE with a camera field name, e.g. fps=25 "
            "(type and url have their own options)"
        )
    try:
        return key, yaml.safe_load(value)
    except yaml.YAMLError:
        return key, value


def parse_setting(text: str) -> tuple[tuple[str, ...], object]:
    """``--set storage.enabled=true``: a dotted key path and a YAML value."""
    key, sep, value = text.partition("=")
    path = tuple(key.split("."))
    if not sep or not all(_OPTION_KEY.match(part) for part in path):
        raise ProvisionError(f"--set {text!r}: expected SECTION.KEY=VALUE, e.g. storage.enabled=true")
    if path[0] in ("node", "camera"):
        raise ProvisionError(
            f"--set {text!r}: node and camera have their own options (--node-id, --camera...)"
        )
    try:
        return path, yaml.safe_load(value)
    except yaml.YAMLError:
        return path, value


@dataclass(frozen=True, slots=True)
class NodeSpec:
    """What the command line says about this node."""

    node_id: str
    site: str = ""
    location: tuple[float, float] | None = None
    camera_type: str = "picamera2"
    camera_url: str | None = None
    camera_options: tuple[tuple[str, object], ...] = ()
    masks_file: Path | None = None
    mqtt_host: str | None = None
    mqtt_port: int | None = None
    settings: tuple[tuple[tuple[str, ...], object], ...] = ()
    """Any other field of the configuration, applied last (``--set``)."""


def _load_yaml(path: Path, what: str) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ProvisionError(f"{path}: cannot read the {what}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ProvisionError(f"{path}: the {what} is not valid YAML: {' '.join(str(exc).split())}") from None


def _masks(path: Path) -> Any:
    data = _load_yaml(path, "masks file")
    if isinstance(data, dict) and set(data) == {"masks"}:
        data = data["masks"]
    if not isinstance(data, list):
        raise ProvisionError(
            f"{path}: expected a list of masks (each with name and polygon), or {{masks: [...]}}"
        )
    return data


def _camera(spec: NodeSpec) -> dict[str, Any]:
    if spec.camera_type not in CAMERA_TYPES:
        raise ProvisionError(f"--camera {spec.camera_type!r}: choose one of {', '.join(CAMERA_TYPES)}")
    camera: dict[str, Any] = {"type": spec.camera_type}
    if spec.camera_type == "opencv":
        if not spec.camera_url:
            raise ProvisionError(
                "--camera opencv needs --camera-url (a file, /dev/videoN or rtsp://host/path)"
            )
        camera["url"] = spec.camera_url
    elif spec.camera_url:
        raise ProvisionError(f"--camera-url is only for --camera opencv, not {spec.camera_type}")
    camera.update(dict(spec.camera_options))
    return camera


Setting = tuple[tuple[str, ...], object]


def wiring_settings(central_keys: frozenset[str], has_certificate: bool) -> tuple[Setting, ...]:
    """Config that follows from what provisioning installs, so a provisioned node uses it.

    - central key ``sealing``: recording on, sealed to it, manifests and audit signed by the device key;
    - central key ``commands``: signed commands verified with it;
    - a fleet certificate: TLS to the broker with it (its key as a systemd credential).
    ``--set`` is applied after these, so an operator can still override any of them.
    """
    out: list[Setting] = []
    if "sealing" in central_keys:
        out += [
            (("storage", "enabled"), True),
            (("storage", "central_public_key_file"), str(CENTRAL_KEYS_DIR / "sealing.pem")),
            (("storage", "device_key_file"), str(RUNTIME_CREDENTIALS_DIR / "device-signing-key")),
        ]
    if "commands" in central_keys:
        out.append((("commands", "central_public_key_files"), [str(CENTRAL_KEYS_DIR / "commands.pem")]))
    if has_certificate:
        tls = {
            "ca_file": str(FLEET_CA_CERT),
            "cert_file": str(TLS_CERT),
            "key_file": str(RUNTIME_CREDENTIALS_DIR / "tls-key"),
        }
        out.append((("mqtt", "tls"), tls))
    return tuple(out)


def render_config(spec: NodeSpec, template: Path, wiring: tuple[Setting, ...] = ()) -> bytes:
    """The YAML text for ``/etc/edge/edge.yaml``; raises ``ProvisionError`` listing every schema error."""
    data = _load_yaml(template, "configuration template")
    if not isinstance(data, dict) or not isinstance(data.get("node"), dict):
        raise ProvisionError(f"{template}: a configuration template is a mapping with a `node` section")
    node = data["node"]
    node["id"] = spec.node_id
    node["site"] = spec.site
    if spec.location is not None:
        node["location"] = {"lat": spec.location[0], "lon": spec.location[1]}
    data["camera"] = _camera(spec)
    if spec.masks_file is not None:
        data.setdefault("privacy", {})["masks"] = _masks(spec.masks_file)
    mqtt = data.setdefault("mqtt", {})
    if spec.mqtt_host is not None:
        mqtt["host"] = spec.mqtt_host
    if spec.mqtt_port is not None:
        mqtt["port"] = spec.mqtt_port
    for path, value in (*wiring, *spec.settings):
        section: Any = data
        for part in path[:-1]:
            section = section.setdefault(part, {})
            if not isinstance(section, dict):
                raise ProvisionError(f"--set {'.'.join(path)}: {part} is not a section")
        section[path[-1]] = value
    try:
        parse_config(data)
    except ConfigError as exc:
        lines = "\n  ".join(str(exc).splitlines())
        raise ProvisionError(f"the configuration for {spec.node_id} would be invalid:\n  {lines}") from None
    header = (
        f"# Configuration of node {spec.node_id}, written by `edge provision` from the template "
        f"{template.name}.\n"
        "# Change the provisioning inputs and run `edge provision` again rather than editing this file.\n"
    )
    body = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=110)
    return (header + body).encode("utf-8")
