"""Helpers for the provisioning tests: run ``edge provision`` in-process and photograph a tree."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge.cli import main

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str

    @property
    def summary(self) -> str:
        return self.out.strip().splitlines()[-1] if self.out.strip() else ""


def edge(*argv: str) -> Run:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return Run(code, out.getvalue(), err.getvalue())


def provision(root: Path, *extra: str, node_id: str = "cam-0042") -> Run:
    return edge("provision", "--root", str(root), "--source", str(REPO), "--node-id", node_id, *extra)


def snapshot(root: Path) -> dict[str, tuple[Any, ...]]:
    """Every entry under ``root``: type, mode, owner, mtime and content hash (or link target)."""
    entries: dict[str, tuple[Any, ...]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            path = Path(dirpath) / name
            st = path.lstat()
            if stat.S_ISLNK(st.st_mode):
                content = os.readlink(path)
            elif stat.S_ISREG(st.st_mode):
                content = hashlib.sha256(path.read_bytes()).hexdigest()
            else:
                content = None
            entries[str(path.relative_to(root))] = (st.st_mode, st.st_uid, st.st_gid, st.st_mtime_ns, content)
    return entries


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def manifest(root: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((root / "etc/edge/provision-manifest.json").read_text())
    return doc


def manifest_paths(root: Path) -> dict[str, dict[str, str]]:
    return {entry["path"]: entry for entry in manifest(root)["paths"]}
