"""``HotlistTransfers``: a hotlist too large for one command, received in parts (``hotlist_part``) and kept
on disk until ``set_hotlist`` with its ``transfer_id`` takes it (docs/hotlists.md, "Large lists").

Layout: ``<directory>/<transfer_id>/transfer.json`` (count, sha256 of the whole bundle, when the first part
arrived) and one ``part-NNNNNN`` file per part, each written like a stored hotlist (temporary file, fsync,
rename, directory fsync), so a part that was answered survives a crash or a restart.

Bounds: a transfer holds at most ``max_bytes`` (``anpr.hotlist_max_bytes``) and ``MAX_PARTS`` parts; at most
``MAX_OPEN_TRANSFERS`` are open at once (a new one drops the one started first); a transfer older than
``timeout_s`` (``anpr.hotlist_transfer_timeout_s``) is deleted at the next part and at start.

Not thread-safe: only the ``commands`` thread calls it (start-up ``sweep`` runs before that thread exists).
Every refusal is a ``CommandError``; the parts' contents are never logged (they are the list).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from edge.commands.model import CommandError, ErrorCode
from edge.storage.files import TMP_SUFFIX, make_dirs_durably, write_atomically

log = logging.getLogger(__name__)

TRANSFERS_DIR = "hotlist-transfers"
"""Under the node's ``state_dir``."""
TRANSFER_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
"""Also the folder name: no dots, no slashes."""
MAX_PARTS = 100_000
MAX_OPEN_TRANSFERS = 2
"""Two controllers' operators may send at the same time; more would only multiply the disk a node lends."""
_META = "transfer.json"
_PART = re.compile(r"part-([0-9]{6})")


def _part_name(index: int) -> str:
    return f"part-{index:06d}"


@dataclass(frozen=True, slots=True)
class PartReceipt:
    """The answer to one part."""

    transfer_id: str
    received: int
    count: int

    @property
    def complete(self) -> bool:
        return self.received == self.count

    def to_json(self) -> dict[str, Any]:
        return {
            "transfer_id": self.transfer_id,
            "received": self.received,
            "count": self.count,
            "complete": self.complete,
        }


@dataclass(slots=True)
class _Transfer:
    """What is on disk for one transfer (read once, then kept in step by this process, the only writer)."""

    count: int
    sha256: str
    started_ns: int
    sizes: dict[int, int]
    """Part index → bytes."""

    @property
    def total_bytes(self) -> int:
        return sum(self.sizes.values())


class HotlistTransfers:
    def __init__(
        self, directory: Path, *, max_bytes: int, timeout_s: float, time_ns: Callable[[], int]
    ) -> None:
        self._directory = directory
        self._max_bytes = max_bytes
        self._timeout_ns = round(timeout_s * 1e9)
        self._time_ns = time_ns
        self._open: dict[str, _Transfer] | None = None
        """Transfers by id; None until first read from disk."""

    # ------------------------------------------------------------------------------------ parts

    def add(self, transfer_id: str, index: int, count: int, sha256: str, data: bytes) -> PartReceipt:
        """Store part ``index`` of ``count``. A part already held with the same bytes is acknowledged again
        (a resend); with other bytes, or with a ``count``/``sha256`` other than the first part's, it is
        refused (``bad_args``). ``too_large`` drops the transfer: it can never complete."""
        _check_id(transfer_id)
        if not 0 < count <= MAX_PARTS or not 0 <= index < count:
            raise CommandError(
                ErrorCode.BAD_ARGS, f"count must be in 1..{MAX_PARTS} and index in 0..{count - 1}"
            )
        self.sweep()
        transfers = self._transfers()
        transfer = transfers.get(transfer_id)
        if transfer is None:
            transfer = self._start(transfer_id, count, sha256)
        elif (transfer.count, transfer.sha256) != (count, sha256):
            raise CommandError(
                ErrorCode.BAD_ARGS,
                f"transfer {transfer_id} was started with count {transfer.count} and sha256 "
                f"{transfer.sha256}; this part says count {count} and sha256 {sha256}",
            )
        folder = self._directory / transfer_id
        if index in transfer.sizes:
            if (folder / _part_name(index)).read_bytes() != data:
                raise CommandError(
                    ErrorCode.BAD_ARGS,
                    f"transfer {transfer_id}: part {index} was already received with other bytes",
                )
            return PartReceipt(transfer_id, len(transfer.sizes), count)
        total = transfer.total_bytes + len(data)
        if total > self._max_bytes:
            self.remove(transfer_id)
            raise CommandError(
                ErrorCode.TOO_LARGE,
                f"transfer {transfer_id} would hold {total} bytes; a hotlist has at most {self._max_bytes} "
                "(anpr.hotlist_max_bytes): the transfer is dropped",
            )

        def write(f: BinaryIO) -> None:
            f.write(data)

        final = folder / _part_name(index)
        final.with_name(final.name + TMP_SUFFIX).unlink(missing_ok=True)
        write_atomically(final, write)
        transfer.sizes[index] = len(data)
        return PartReceipt(transfer_id, len(transfer.sizes), count)

    def _start(self, transfer_id: str, count: int, sha256: str) -> _Transfer:
        transfers = self._transfers()
        while len(transfers) >= MAX_OPEN_TRANSFERS:
            oldest = min(transfers, key=lambda t: transfers[t].started_ns)
            log.warning(
                "hotlist transfer %s dropped unfinished: %d transfers are open at most and %s starts",
                oldest,
                MAX_OPEN_TRANSFERS,
                transfer_id,
            )
            self.remove(oldest)
        transfer = _Transfer(count, sha256, self._time_ns(), {})
        folder = self._directory / transfer_id
        meta = {"count": count, "sha256": sha256, "started_ns": transfer.started_ns}

        def write(f: BinaryIO) -> None:
            f.write(json.dumps(meta, sort_keys=True).encode())

        make_dirs_durably(folder, Path(folder.anchor))
        (folder / (_META + TMP_SUFFIX)).unlink(missing_ok=True)
        write_atomically(folder / _META, write)
        transfers[transfer_id] = transfer
        log.info("hotlist transfer %s started: %d parts", transfer_id, count)
        return transfer

    # ----------------------------------------------------------------------------------- the whole

    def assemble(self, transfer_id: str) -> bytes:
        """The bundle's bytes: every part, in order, whose sha256 is the declared one. Missing parts are
        ``bad_args`` (the transfer stays); a wrong sha256 is ``bad_args`` and drops the transfer (no part
        can be replaced, so it could never succeed)."""
        _check_id(transfer_id)
        self.sweep()
        transfer = self._transfers().get(transfer_id)
        if transfer is None:
            raise CommandError(
                ErrorCode.BAD_ARGS,
                f"no hotlist transfer {transfer_id} on this node (never started, timed out or already used)",
            )
        missing = [i for i in range(transfer.count) if i not in transfer.sizes]
        if missing:
            first = ", ".join(str(i) for i in missing[:10])
            raise CommandError(
                ErrorCode.BAD_ARGS,
                f"transfer {transfer_id}: {len(missing)} of {transfer.count} parts missing "
                f"({first}{', ...' if len(missing) > 10 else ''})",
            )
        folder = self._directory / transfer_id
        data = b"".join((folder / _part_name(i)).read_bytes() for i in range(transfer.count))
        digest = hashlib.sha256(data).hexdigest()
        if digest != transfer.sha256:
            self.remove(transfer_id)
            raise CommandError(
                ErrorCode.BAD_ARGS,
                f"transfer {transfer_id}: the {transfer.count} parts have sha256 {digest}, not the declared "
                f"{transfer.sha256}: the transfer is dropped; send it again",
            )
        return data

    def remove(self, transfer_id: str) -> None:
        """Delete a transfer and its parts (a missing one is fine)."""
        self._transfers().pop(transfer_id, None)
        folder = self._directory / transfer_id
        shutil.rmtree(folder, ignore_errors=True)
        if folder.exists():
            log.error("hotlist transfer folder %s could not be removed", folder)

    def open_transfers(self) -> dict[str, PartReceipt]:
        """Each open transfer's progress."""
        return {tid: PartReceipt(tid, len(t.sizes), t.count) for tid, t in sorted(self._transfers().items())}

    # ----------------------------------------------------------------------------------- housekeeping

    def sweep(self) -> None:
        """Drop transfers older than the timeout (and, on first use, what is not a transfer)."""
        transfers = self._transfers()
        now_ns = self._time_ns()
        for tid in [t for t, x in transfers.items() if now_ns - x.started_ns > self._timeout_ns]:
            log.warning("hotlist transfer %s timed out unfinished: its parts are deleted", tid)
            self.remove(tid)

    def _transfers(self) -> dict[str, _Transfer]:
        if self._open is None:
            self._open = self._read()
        return self._open

    def _read(self) -> dict[str, _Transfer]:
        """The transfers on disk. A folder without a readable ``transfer.json`` (a crash before it was
        written, or not ours) is deleted; leftovers of a write cut short are deleted."""
        found: dict[str, _Transfer] = {}
        if not self._directory.is_dir():
            return found
        for folder in sorted(self._directory.iterdir()):
            transfer = _read_transfer(folder) if TRANSFER_ID_PATTERN.fullmatch(folder.name) else None
            if transfer is None:
                log.warning("hotlist transfer folder %s is unusable: deleted", folder.name)
                if folder.is_dir():
                    shutil.rmtree(folder, ignore_errors=True)
                else:
                    folder.unlink(missing_ok=True)
                continue
            found[folder.name] = transfer
        return found


def _read_transfer(folder: Path) -> _Transfer | None:
    try:
        meta = json.loads((folder / _META).read_bytes())
        count, sha256, started_ns = meta["count"], meta["sha256"], meta["started_ns"]
    except (OSError, ValueError, TypeError, KeyError):
        return None
    if not (isinstance(count, int) and isinstance(sha256, str) and isinstance(started_ns, int)):
        return None
    sizes = {}
    for path in folder.iterdir():
        m = _PART.fullmatch(path.name)
        if m is not None and int(m.group(1)) < count:
            sizes[int(m.group(1))] = path.stat().st_size
        elif path.name != _META:
            path.unlink(missing_ok=True)  # a temporary file of a write cut short
    return _Transfer(count, sha256, started_ns, sizes)


def _check_id(transfer_id: str) -> None:
    if TRANSFER_ID_PATTERN.fullmatch(transfer_id) is None:
        raise CommandError(
            ErrorCode.BAD_ARGS, f"transfer_id must match {TRANSFER_ID_PATTERN.pattern} (1 to 64 characters)"
        )
