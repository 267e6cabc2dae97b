"""Crash-safe file operations: a file appears under its final name complete and durable, or not at all.

Contract of ``write_atomically``: write to ``<name>.tmp`` (created exclusively, 0600), fsync it, rename it
over the final name, fsync the directory. A crash before the rename leaves only a ``.tmp`` file, which
start-up reconciliation deletes; after the directory fsync the file survives a power cut.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO, TypeVar

TMP_SUFFIX = ".tmp"

_T = TypeVar("_T")


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_dirs_durably(directory: Path, root: Path) -> None:
    """Create ``directory`` (below ``root``) and fsync each parent whose entries changed."""
    missing = []
    current = directory
    while not current.exists() and current != root:
        missing.append(current)
        current = current.parent
    for path in reversed(missing):
        path.mkdir(mode=0o700, exist_ok=True)
        fsync_dir(path.parent)


def write_atomically(final: Path, write: Callable[[BinaryIO], _T]) -> _T:
    """Run ``write`` on a fresh temporary file, then make it appear as ``final``, durably."""
    tmp = final.with_name(final.name + TMP_SUFFIX)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb", buffering=1 << 20) as f:
            result = write(f)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, final)
    fsync_dir(final.parent)
    return result


def remove_durably(paths: Iterable[Path]) -> int:
    """Unlink each file (missing ones are fine), then fsync each directory touched; returns files removed."""
    removed = 0
    dirs: set[Path] = set()
    for path in paths:
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        removed += 1
        dirs.add(path.parent)
    for directory in dirs:
        fsync_dir(directory)
    return removed


def remove_empty_dirs(root: Path, before: str) -> None:
    """Remove empty folders directly under ``root`` whose names sort before ``before``.

    Day folders (``YYYY-MM-DD``) sort by date; the caller passes yesterday, so a folder that a segment
    being written right now may need is never removed under it."""
    for child in root.iterdir():
        if child.is_dir() and child.name < before:
            try:
                child.rmdir()
            except OSError:  # not empty: still holds segments
                continue
