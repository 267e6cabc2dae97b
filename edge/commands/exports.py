"""``ExportSweeper``: removes the export folders that clip transfers leave in ``<state_dir>/exports/``.

An export folder (``<clip_id>/``: sealed segment copies, ``manifest.sig``, ``manifest.json`` written last)
is kept after its chunks were queued so that ``resend_clip`` can send parts again. It goes:

- at start, when it is unfinished (no ``manifest.json``: an export cut short by a crash or an error);
- at start and on every sweep, when it is older than ``commands.clip_max_age_h`` (by the manifest's
  modification time), delivered or not: chunks already in the outbox carry their data and still go out;
- on a sweep, ``commands.clip_keep_s`` after the last of its queued messages (chunks and meta) was
  acknowledged by the broker, i.e. once the outbox has held none of them for that long. A ``resend_clip``
  in between queues messages again and so restarts the wait. The wait is kept in memory: after a restart
  only the age rule applies until the sweeper sees the folder idle again.

Every removal is logged and audited (``export.removed``, actor ``node``). The files are sealed to the
central key, so this is housekeeping of disk space, not deletion of readable footage.

Threading: the sweeps run on the ``commands`` thread, the thread that runs ``export_clip`` and
``resend_clip``, so a folder is never removed under either. ANPR's hit clips are written by the
``anpr-clips`` thread: while written a folder has no manifest and a sweep leaves it alone (only the age
limit applies), and a finished one must look idle for ``clip_keep_s`` (at least 60 s) before it goes, by
which time its chunks are queued. The start sweep runs before any of these threads.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from edge.audit import AuditLog
from edge.storage.export import MANIFEST_NAME
from edge.storage.files import fsync_dir, remove_durably

log = logging.getLogger(__name__)

NS_PER_S = 1_000_000_000


class ExportSweeper:
    def __init__(
        self,
        exports_dir: Path,
        *,
        pending: Callable[[str], int],
        keep_s: float,
        max_age_h: float,
        time_ns: Callable[[], int],
        monotonic_ns: Callable[[], int],
        audit: AuditLog,
    ) -> None:
        """``pending(clip_id)``: messages of that clip still stored in the outbox."""
        self._dir = exports_dir
        self._pending = pending
        self._keep_ns = round(keep_s * NS_PER_S)
        self._max_age_ns = round(max_age_h * 3600 * NS_PER_S)
        self._time_ns = time_ns
        self._monotonic_ns = monotonic_ns
        self._audit = audit
        self._idle_since: dict[str, int] = {}

    def set_limits(self, keep_s: float, max_age_h: float) -> None:
        """New limits at run time (``set_config``); the next sweep applies them."""
        self._keep_ns = round(keep_s * NS_PER_S)
        self._max_age_ns = round(max_age_h * 3600 * NS_PER_S)

    def sweep_at_start(self) -> list[str]:
        """Remove unfinished and too old folders. Returns the clip ids removed."""
        removed = []
        for folder in self._folders():
            if not (folder / MANIFEST_NAME).is_file():
                self._remove(folder, "unfinished export (no manifest)")
                removed.append(folder.name)
            elif self._too_old(folder):
                removed.append(folder.name)
        return removed

    def sweep(self) -> list[str]:
        """Remove folders past the age limit, and delivered ones past the keep time."""
        removed = []
        now = self._monotonic_ns()
        present = set()
        for folder in self._folders():
            clip_id = folder.name
            present.add(clip_id)
            if self._too_old(folder):
                removed.append(clip_id)
                continue
            if not (folder / MANIFEST_NAME).is_file():
                continue  # unfinished: the age rule or the next start removes it
            if self._pending(clip_id):
                self._idle_since.pop(clip_id, None)
                continue
            since = self._idle_since.setdefault(clip_id, now)
            if now - since >= self._keep_ns:
                self._remove(folder, f"delivered, kept {self._keep_ns / NS_PER_S:g} s for resend_clip")
                removed.append(clip_id)
        for gone in (set(self._idle_since) - present) | set(removed):
            self._idle_since.pop(gone, None)
        return removed

    def _folders(self) -> list[Path]:
        try:
            return sorted(p for p in self._dir.iterdir() if p.is_dir() and not p.is_symlink())
        except FileNotFoundError:
            return []

    def _too_old(self, folder: Path) -> bool:
        """Remove ``folder`` if it is past the age limit; True when it was removed."""
        marker = folder / MANIFEST_NAME
        try:
            mtime_ns = (marker if marker.is_file() else folder).stat().st_mtime_ns
        except FileNotFoundError:
            return False
        age_ns = self._time_ns() - mtime_ns
        if age_ns <= self._max_age_ns:
            return False
        self._remove(folder, f"older than {self._max_age_ns / NS_PER_S / 3600:g} h")
        return True

    def _remove(self, folder: Path, reason: str) -> None:
        try:
            remove_durably(p for p in folder.iterdir() if p.is_file() or p.is_symlink())
            folder.rmdir()
            fsync_dir(folder.parent)
        except OSError as exc:
            log.error("could not remove export folder %s: %s", folder, exc)  # noqa: TRY400 - not a crash
            return
        log.info("removed export %s: %s", folder.name, reason)
        self._audit.append(actor="node", action="export.removed", detail=f"clip_id={folder.name}: {reason}")
