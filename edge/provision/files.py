"""Idempotent file operations under the target root, and the record of what every path should be.

Contract: a file is rewritten only when its bytes differ, so a second run leaves contents *and* mtimes
alone; mode and owner are corrected in place when they drift. Writes are atomic (a private temporary file
in the same directory, fsync, rename), and new files are never readable by others before their final
mode is set. Existing symlinks are never followed where a file or directory is expected: provisioning
runs as root and must not be steered into writing elsewhere.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

from edge.provision.accounts import AccountIds
from edge.provision.errors import ProvisionError
from edge.provision.layout import Ownership, Target
from edge.provision.outcome import Change, Outcome

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PathRecord:
    """One entry of the provisioning manifest: a target path and what it should be."""

    path: str
    kind: Literal["dir", "file", "symlink"]
    owner: str
    group: str
    mode: str
    """Octal permission bits, e.g. ``"0600"``; ``""`` for a symlink."""
    link_target: str = ""


class TargetFiles:
    """Creates directories, files and symlinks under ``target``; collects outcomes and manifest records.

    ``ids`` given: owners are applied with ``chown``. ``ids`` None: owners are only recorded.
    """

    def __init__(self, target: Target, ids: AccountIds | None) -> None:
        self.target = target
        self._ids = ids
        self.outcomes: list[Outcome] = []
        self.records: list[PathRecord] = []

    def read(self, path: PurePosixPath) -> bytes | None:
        """The file's bytes, or None when it does not exist."""
        host = self.target.host(path)
        try:
            if host.is_symlink():
                raise ProvisionError(f"{path}: is a symlink; refusing to follow it")
            return host.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ProvisionError(f"{path}: cannot read: {exc.strerror}") from None

    def ensure_dir(self, path: PurePosixPath, own: Ownership) -> Change:
        host = self.target.host(path)
        change = Change.UNCHANGED
        try:
            st = os.lstat(host)
        except FileNotFoundError:
            host.parent.mkdir(parents=True, exist_ok=True)
            os.mkdir(host, 0o700)
            st = os.lstat(host)
            change = Change.CREATED
        if not stat.S_ISDIR(st.st_mode):
            raise ProvisionError(f"{path}: exists but is not a directory")
        change = self._fix_attributes(host, st, own, change)
        self._record(path, "dir", own, change)
        return change

    def ensure_file(self, path: PurePosixPath, content: bytes, own: Ownership, *, what: str = "") -> Change:
        host = self.target.host(path)
        try:
            st: os.stat_result | None = os.lstat(host)
        except FileNotFoundError:
            st = None
        if st is not None and not stat.S_ISREG(st.st_mode):
            raise ProvisionError(f"{path}: exists but is not a regular file")
        if st is None or host.read_bytes() != content:
            self._write_atomic(host, content, own)
            change = Change.CREATED if st is None else Change.UPDATED
        else:
            change = self._fix_attributes(host, st, own, Change.UNCHANGED)
        self._record(path, "file", own, change, what)
        return change

    def ensure_symlink(self, path: PurePosixPath, points_to: PurePosixPath) -> Change:
        """A symlink whose target is a *target* path (absolute on the node, as ``systemctl enable`` makes)."""
        host = self.target.host(path)
        want = str(points_to)
        change = Change.CREATED
        if host.is_symlink():
            if os.readlink(host) == want:
                change = Change.UNCHANGED
            else:
                host.unlink()
                change = Change.UPDATED
        elif host.exists():
            raise ProvisionError(f"{path}: exists but is not a symlink")
        if change is not Change.UNCHANGED:
            host.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(want, host)
        self.records.append(PathRecord(str(path), "symlink", "root", "root", "", want))
        self.outcomes.append(Outcome(change, str(path), f"-> {want}"))
        return change

    # ------------------------------------------------------------------------------------------ internals

    def _owner_ids(self, own: Ownership) -> tuple[int, int] | None:
        if self._ids is None:
            return None
        return self._ids.uid(own.owner), self._ids.gid(own.group)

    def _fix_attributes(self, host: Path, st: os.stat_result, own: Ownership, change: Change) -> Change:
        changed = change
        if stat.S_IMODE(st.st_mode) != own.mode:
            os.chmod(host, own.mode)
            changed = Change.UPDATED if change is Change.UNCHANGED else change
        ids = self._owner_ids(own)
        if ids is not None and (st.st_uid, st.st_gid) != ids:
            os.chown(host, *ids, follow_symlinks=False)
            changed = Change.UPDATED if change is Change.UNCHANGED else change
        return changed

    def _write_atomic(self, host: Path, content: bytes, own: Ownership) -> None:
        host.parent.mkdir(parents=True, exist_ok=True)
        tmp = host.with_name(f".{host.name}.provision-tmp")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()  # left by an interrupted run
        # 0600 from the first byte: a private key is never readable by others, not even for a moment.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(content)
                out.flush()
                os.fsync(out.fileno())
                ids = self._owner_ids(own)
                if ids is not None:
                    os.fchown(out.fileno(), *ids)
                os.fchmod(out.fileno(), own.mode)
            os.replace(tmp, host)
            _fsync_dir(host.parent)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            raise

    def _record(
        self,
        path: PurePosixPath,
        kind: Literal["dir", "file"],
        own: Ownership,
        change: Change,
        what: str = "",
    ) -> None:
        self.records.append(PathRecord(str(path), kind, own.owner, own.group, f"{own.mode:04o}"))
        detail = f"{what}, {own.describe()}" if what else own.describe()
        self.outcomes.append(Outcome(change, str(path), detail))


def _fsync_dir(path: Path) -> None:
    # The rename is durable only once the directory itself is on disk (a node loses power without warning).
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
