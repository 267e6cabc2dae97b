"""The package in its own virtual environment under /opt/edge, installed from the source tree.

The venv sees the system's site-packages so that apt-installed camera bindings (python3-picamera2,
python3-libcamera) are importable. It is (re)installed only when the installed version differs from the
source tree's, which keeps a rerun a no-op; an offline node installs from a wheelhouse (``--wheelhouse``).
"""

from __future__ import annotations

import logging
import subprocess
import tomllib
from pathlib import Path

from edge.provision.errors import ProvisionError
from edge.provision.layout import VENV_DIR, Target
from edge.provision.outcome import Change, Outcome

log = logging.getLogger(__name__)


def source_version(source: Path) -> str:
    try:
        with (source / "pyproject.toml").open("rb") as f:
            version = tomllib.load(f)["project"]["version"]
    except (OSError, KeyError, tomllib.TOMLDecodeError) as exc:
        raise ProvisionError(f"{source}/pyproject.toml: cannot read the package version: {exc}") from None
    return str(version)


def _installed_version(python: Path) -> str | None:
    if not python.exists():
        return None
    probe = (
        "import importlib.metadata as m\ntry: print(m.version('edge'))\nexcept m.PackageNotFoundError: pass"
    )
    result = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, check=False)  # noqa: S603
    return result.stdout.strip() or None


def _run(argv: list[str], what: str) -> None:
    log.info("%s: %s", what, " ".join(argv))
    try:
        subprocess.run(argv, check=True, capture_output=True, text=True)  # noqa: S603 - fixed argv
    except FileNotFoundError:
        raise ProvisionError(f"{what}: {argv[0]} not found") from None
    except subprocess.CalledProcessError as exc:
        tail = "\n".join((exc.stderr or exc.stdout or "").strip().splitlines()[-5:])
        raise ProvisionError(f"{what} failed ({' '.join(argv)}):\n{tail}") from None


def ensure_venv(target: Target, source: Path, python: str, wheelhouse: Path | None) -> list[Outcome]:
    venv = target.host(VENV_DIR)
    outcomes: list[Outcome] = []
    venv_python = venv / "bin" / "python"
    if not venv_python.exists():
        _run([python, "-m", "venv", "--system-site-packages", str(venv)], "creating the virtual environment")
        outcomes.append(Outcome(Change.CREATED, str(VENV_DIR), "venv, system site-packages visible"))
    else:
        outcomes.append(Outcome(Change.UNCHANGED, str(VENV_DIR), "venv"))
    wanted = source_version(source)
    installed = _installed_version(venv_python)
    if installed == wanted:
        outcomes.append(Outcome(Change.UNCHANGED, "package edge", wanted))
        return outcomes
    pip = [str(venv_python), "-m", "pip", "install", "--quiet", "--no-cache-dir"]
    if wheelhouse is not None:
        pip += ["--no-index", "--find-links", str(wheelhouse)]
    _run([*pip, str(source)], "installing the edge package")
    change = Change.CREATED if installed is None else Change.UPDATED
    outcomes.append(Outcome(change, "package edge", f"{installed or 'none'} -> {wanted}"))
    return outcomes
