"""The remote configuration override: what ``set_config`` changed, kept under ``node.state_dir``.

The YAML (``/etc/edge/edge.yaml``) is owned by provisioning and read-only to the node (the unit runs with
``ProtectSystem=strict``), so a change made by the central system lives in its own small file,
``<state_dir>/config-override.json``, and ``edge.config.load_config`` merges it over the YAML at every
start. Precedence: schema defaults < the YAML < the override (docs/operations.md).

The file holds dotted keys, each of which must be in ``ALLOWED_KEYS``; the whole file is refused (the
node then runs on the YAML alone and says so in its log and health) when it cannot be read, is not this
format, names a key outside the allow-list, or makes the configuration invalid. A partial override
would leave the node in a state nobody asked for.

This module knows nothing of the schema (``edge.config`` imports it); the schema validates the merge.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge.storage.files import write_atomically

OVERRIDE_NAME = "config-override.json"
FORMAT = "edge-config-override/1"
MAX_FILE_BYTES = 64 * 1024

# What the central system may change remotely. Keys are spelled out one by one (no wildcards), so adding a
# field to the schema never widens this list by accident. Left out on purpose: identity, camera and broker
# wiring, key and credential files, masks (`set_masks`, with its own audit), switching privacy or tamper
# detection off, the storage profile and anything that names a path.
ALLOWED_KEYS: frozenset[str] = frozenset(
    {
        "mqtt.health_interval_s",
        "mqtt.clip_max_bytes_per_s",
        "storage.max_age_days",
        "storage.quota_bytes",
        "storage.min_free_share",
        "storage.held_alarm_share",
        "storage.retention_check_interval_s",
        "privacy.tamper.check_every_frames",
        "privacy.tamper.max_shift_share",
        "privacy.tamper.max_rotation_deg",
        "privacy.tamper.max_scale_change",
        "privacy.tamper.min_inliers",
        "privacy.tamper.cover_std",
        "privacy.tamper.dark_luma",
        "privacy.tamper.dark_drop_share",
        "privacy.tamper.defocus_share",
        "privacy.tamper.confirm_checks",
        "logging.level",
        "commands.clip_chunk_bytes",
        "commands.clip_keep_s",
        "commands.clip_max_age_h",
    }
)


class OverrideError(Exception):
    """The override file cannot be used (unreadable, malformed, or a key outside the allow-list)."""


@dataclass(frozen=True, slots=True)
class OverrideFile:
    values: dict[str, Any] = field(hash=False)
    """Dotted key → JSON value."""
    updated_at: str = ""
    updated_by: str = ""


@dataclass(frozen=True, slots=True)
class OverrideStatus:
    """What became of the override at start, and after each ``set_config``: reported in health."""

    path: Path
    values: dict[str, Any] = field(default_factory=dict, hash=False)
    """The values in force (empty when there is no override or it was refused)."""
    error: str = ""
    """Why the override file was refused; the node then runs on the YAML alone."""
    restart_pending: tuple[str, ...] = ()
    """Keys changed by ``set_config`` that take effect at the next start."""

    @property
    def active(self) -> bool:
        return bool(self.values)

    def to_json(self) -> dict[str, Any]:
        return {
            "override_active": self.active,
            "override": dict(sorted(self.values.items())),
            "override_error": self.error,
            "restart_pending": list(self.restart_pending),
        }


def disallowed(keys: list[str]) -> list[str]:
    return sorted(k for k in keys if k not in ALLOWED_KEYS)


def read_override(path: Path) -> OverrideFile | None:
    """The override at ``path``; None when there is none. Raises ``OverrideError`` when it is unusable."""
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise OverrideError(f"{path}: cannot read: {exc.strerror}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise OverrideError(f"{path}: larger than {MAX_FILE_BYTES} bytes")
    try:
        doc = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise OverrideError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or not isinstance(doc.get("values"), dict):
        raise OverrideError(f"{path}: not an {FORMAT} file (format, values)")
    values: dict[str, Any] = doc["values"]
    bad = disallowed(list(values))
    if bad:
        raise OverrideError(f"{path}: keys not allowed in the override: {', '.join(bad)}")
    return OverrideFile(values, str(doc.get("updated_at", "")), str(doc.get("updated_by", "")))


def write_override(path: Path, override: OverrideFile) -> None:
    """Replace the file atomically (temporary file, fsync, rename, directory fsync)."""
    body = json.dumps(
        {
            "format": FORMAT,
            "updated_at": override.updated_at,
            "updated_by": override.updated_by,
            "values": dict(sorted(override.values.items())),
        },
        indent=2,
        allow_nan=False,
    ).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.with_name(path.name + ".tmp").unlink(missing_ok=True)  # left by a crash before the rename
    write_atomically(path, lambda f: f.write(body + b"\n"))


def merged(data: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of the YAML's ``data`` with each dotted key of ``values`` set (sections created)."""
    out = copy.deepcopy(dict(data))
    for key, value in values.items():
        *parents, leaf = key.split(".")
        node = out
        for part in parents:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
        node[leaf] = value
    return out


def get_dotted(data: Mapping[str, Any], key: str) -> Any:
    node: Any = data
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            raise KeyError(key)
        node = node[part]
    return node


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
