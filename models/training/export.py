"""SavedModel → TFLite (float32 and int8 with float input/output), and the manifest the node checks."""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

MANIFEST = "manifest.json"


def convert(
    saved_model_dir: Path, out_dir: Path, stem: str, representative: Callable[[], Iterator[list[np.ndarray]]]
) -> dict[str, Path]:
    """Write ``<stem>_fp32.tflite`` and ``<stem>_int8.tflite`` into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model_dir))
    out["fp32"] = _write(out_dir / f"{stem}_fp32.tflite", converter.convert())
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model_dir))
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [
        tf.lite.OpsSet.TFLITE_BUILTINS_INT8,
        tf.lite.OpsSet.TFLITE_BUILTINS,
    ]
    out["int8"] = _write(out_dir / f"{stem}_int8.tflite", converter.convert())
    return out


def _write(path: Path, data: bytes) -> Path:
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def update_manifest(
    models_dir: Path, name: str, files: dict[str, Path], info: dict[str, Any]
) -> dict[str, Any]:
    """Record ``name``'s files (hash, size) and ``info`` in ``models/manifest.json``. Locked: ``make models``
    trains both models at once, and either may finish first."""
    with (models_dir / f".{MANIFEST}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _update_manifest(models_dir, name, files, info)


def _update_manifest(
    models_dir: Path, name: str, files: dict[str, Path], info: dict[str, Any]
) -> dict[str, Any]:
    path = models_dir / MANIFEST
    manifest: dict[str, Any] = json.loads(path.read_text()) if path.is_file() else {"schema": "edge.models/1"}
    digest = hashlib.sha256(b"".join(sha256(p).encode() for p in files.values())).hexdigest()[:10]
    entry = {
        "version": f"{name}-{dt.datetime.now(dt.UTC):%Y%m%d}-{digest}",
        "files": {
            k: {"file": p.name, "sha256": sha256(p), "bytes": p.stat().st_size} for k, p in files.items()
        },
        **info,
    }
    manifest.setdefault("models", {})[name] = entry
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)
    return entry
