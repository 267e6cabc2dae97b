"""``models/manifest.json``: which model files the node may load, with their hashes and versions.

A file is loaded only when its SHA-256 equals the manifest's: a truncated copy, a flipped bit or a model
swapped without a new manifest disables ANPR (health says why) instead of producing wrong reads.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from edge.anpr.runtime import ModelError, read_model_file

Precision = Literal["int8", "fp32"]
MANIFEST_NAME = "manifest.json"


@dataclass(frozen=True, slots=True)
class ModelFile:
    name: str
    """``detector`` or ``reader``."""
    version: str
    path: Path
    sha256: str
    info: dict[str, Any]

    def verified_bytes(self) -> bytes:
        """The file's content, after checking it against the manifest's hash."""
        content = read_model_file(self.path)
        digest = hashlib.sha256(content).hexdigest()
        if digest != self.sha256:
            raise ModelError(
                f"{self.name} model {self.path.name} does not match the manifest "
                f"(sha256 {digest[:12]}…, expected {self.sha256[:12]}…): corrupt or replaced"
            )
        return content


def load_manifest(models_dir: Path) -> dict[str, Any]:
    path = models_dir / MANIFEST_NAME
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ModelError(
            f"no model manifest at {path} (run `make models` or install the model files)"
        ) from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"model manifest {path} unreadable: {exc}") from exc
    if (
        not isinstance(doc, dict)
        or doc.get("schema") != "edge.models/1"
        or not isinstance(doc.get("models"), dict)
    ):
        raise ModelError(f"model manifest {path}: not an edge.models/1 document")
    return doc


def model_file(models_dir: Path, name: str, precision: Precision) -> ModelFile:
    """The manifest's entry for model ``name`` at ``precision``."""
    doc = load_manifest(models_dir)
    entry = doc["models"].get(name)
    if not isinstance(entry, dict):
        raise ModelError(f"model manifest has no {name!r} model")
    try:
        files = entry["files"]
        f = files[precision]
        return ModelFile(
            name=name,
            version=str(entry["version"]),
            path=models_dir / str(f["file"]),
            sha256=str(f["sha256"]),
            info=entry,
        )
    except (KeyError, TypeError) as exc:
        raise ModelError(f"model manifest: {name!r} has no usable {precision!r} file entry ({exc})") from exc


def default_models_dir() -> Path:
    """``models/`` of a source checkout, else ``/usr/share/edge/models`` (where a node image puts them)."""
    here = Path(__file__).resolve().parents[2] / "models"
    if (here / MANIFEST_NAME).is_file():
        return here
    return Path("/usr/share/edge/models")
