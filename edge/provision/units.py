"""Install the systemd units and enable them the way ``systemctl enable`` does: a symlink per ``WantedBy=``.

Enabling by hand works the same on a live node and in a mounted image or test root, where there is no
running systemd to ask. On a live node, ``systemctl daemon-reload`` follows when a unit file changed.
"""

from __future__ import annotations

import logging
import subprocess
from dataclasses import dataclass
from pathlib import Path

from edge.provision.errors import ProvisionError
from edge.provision.files import TargetFiles
from edge.provision.layout import ROOT_PUBLIC_FILE, UNIT_DIR
from edge.provision.outcome import Change

log = logging.getLogger(__name__)

UNIT_SUFFIXES = (".service", ".socket", ".timer", ".target", ".path")


@dataclass(frozen=True, slots=True)
class UnitFile:
    name: str
    text: str

    def values(self, section: str, key: str) -> list[str]:
        """Every value of ``key`` in ``[section]`` (keys may repeat), whitespace-separated items split."""
        current = ""
        found: list[str] = []
        for raw in self.text.splitlines():
            line = raw.strip()
            if not line or line.startswith(("#", ";")):
                continue
            if line.startswith("[") and line.endswith("]"):
                current = line[1:-1]
                continue
            name, sep, value = line.partition("=")
            if sep and current == section and name.strip() == key:
                found.extend(value.split())
        return found


def read_units(unit_dir: Path) -> tuple[UnitFile, ...]:
    try:
        paths = sorted(p for p in unit_dir.iterdir() if p.suffix in UNIT_SUFFIXES and p.is_file())
    except OSError as exc:
        raise ProvisionError(f"{unit_dir}: cannot list the systemd units: {exc.strerror}") from None
    if not paths:
        raise ProvisionError(f"{unit_dir}: no systemd units found")
    return tuple(UnitFile(p.name, p.read_text(encoding="utf-8")) for p in paths)


def install_units(files: TargetFiles, units: tuple[UnitFile, ...]) -> bool:
    """Copy the units into /etc/systemd/system and enable them. True when anything changed."""
    changed = False
    for unit in units:
        path = UNIT_DIR / unit.name
        changed |= (
            files.ensure_file(path, unit.text.encode("utf-8"), ROOT_PUBLIC_FILE) is not Change.UNCHANGED
        )
        for wanted_by in unit.values("Install", "WantedBy"):
            link = UNIT_DIR / f"{wanted_by}.wants" / unit.name
            changed |= files.ensure_symlink(link, path) is not Change.UNCHANGED
    return changed


def reload_systemd() -> None:
    """``systemctl daemon-reload`` when systemd runs; a node built offline has nothing to reload."""
    if not Path("/run/systemd/system").is_dir():
        log.info("systemd is not running here; units take effect at next boot")
        return
    try:
        subprocess.run(["systemctl", "daemon-reload"], check=True, capture_output=True, text=True)  # noqa: S607
    except (OSError, subprocess.CalledProcessError) as exc:
        raise ProvisionError(f"systemctl daemon-reload failed: {exc}") from None
