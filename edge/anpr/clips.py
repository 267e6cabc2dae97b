"""``HitClips``: the event clip of a hotlist hit, exported and sent once the recorder has its footage.

A hit is published at once with the clip's id and range; the clip itself covers ``[first seen - pre, last
seen + post]``, whose end lies in the future when the hit leaves and whose last segment is sealed only at
the segment's end. So the export runs here, in its own thread ``anpr-clips`` behind a bounded queue, never
in the ANPR stage: each job waits until a stored segment reaches the clip's end (or until
``wait_limit_s`` after it, then exports what there is), then goes the way of ``export_clip``: sealed
segments and a manifest signed by the device key under ``<state_dir>/exports/<clip_id>``, sent as
``clip/<clip_id>/chunk/<n>`` and ``clip/<clip_id>/meta`` (``request_id`` is the hit's ``read_id``), and
re-sendable with ``resend_clip``. The export is audited by the store (``storage.export``).

Jobs are durable: each is written to ``<pending_dir>/<clip_id>.json`` (fsynced) before ``submit`` returns
and removed once its export is done or has definitively failed, so a job still waiting at shutdown, a
crash or a power cut is picked up again at the next start (``start`` re-queues them, oldest first). Its
footage is in the ring buffer by then, or the wait limit has passed and what there is goes out.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.commands.clips import ClipSender, send_clip
from edge.errors import EdgeError
from edge.storage.export import export_clip
from edge.storage.files import TMP_SUFFIX, make_dirs_durably, write_atomically
from edge.storage.store import SegmentStore

log = logging.getLogger(__name__)

_POLL_S = 0.5


@dataclass(frozen=True, slots=True)
class ClipJob:
    clip_id: str
    start_ns: int
    end_ns: int
    read_id: str
    purpose: str
    """Why the clip is exported (audited): the list and version, never the plate."""


@dataclass(frozen=True, slots=True)
class ClipCounters:
    queued: int
    sent: int
    failed: int
    refused: int
    """Jobs refused because the queue was full."""
    last_error: str


class HitClips:
    """Thread-safe ``submit``; the export runs in the ``anpr-clips`` thread."""

    def __init__(
        self,
        store: SegmentStore,
        device_key: Callable[[], Ed25519PrivateKey],
        exports_dir: Path,
        chunk_bytes: int,
        send: ClipSender,
        node_id: str,
        stop: threading.Event,
        *,
        capacity: int = 16,
        wait_limit_s: float = 30.0,
        pending_dir: Path | None = None,
    ) -> None:
        """``pending_dir``: where jobs wait durably (default ``<exports_dir>/../hit-clips``)."""
        self._store = store
        self._device_key = device_key
        self._exports_dir = exports_dir
        self._chunk_bytes = chunk_bytes
        self._send = send
        self._node_id = node_id
        self._stop = stop
        self._wait_limit_ns = round(wait_limit_s * 1e9)
        self._queue: queue.Queue[ClipJob] = queue.Queue(capacity)
        self._lock = threading.Lock()
        self._sent = self._failed = self._refused = 0
        self._last_error = ""
        self._thread = threading.Thread(target=self._run, name="anpr-clips", daemon=True)
        self._pending_dir = pending_dir or exports_dir.parent / "hit-clips"

    def start(self) -> None:
        """Re-queue the jobs a previous run left pending, then start the export thread."""
        for job in self._pending():
            try:
                self._queue.put_nowait(job)
            except queue.Full:
                log.warning("hit clip %s left pending: the queue is full", job.clip_id)
                break
            log.info("hit clip %s pending from before the restart: queued again", job.clip_id)
        self._thread.start()

    def join(self, timeout_s: float) -> bool:
        self._thread.join(timeout_s)
        return not self._thread.is_alive()

    def submit(self, job: ClipJob) -> bool:
        """Write the job down durably, then queue it; False (counted, nothing kept) when the queue is full."""
        try:
            self._write_pending(job)
        except OSError as exc:  # the clip still goes out while this run lasts; only a restart would lose it
            log.error("hit clip %s could not be written down: %s", job.clip_id, exc)  # noqa: TRY400
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            self._done(job)
            with self._lock:
                self._refused += 1
            log.warning("hit clip queue full; clip %s not exported", job.clip_id)
            return False
        return True

    def counters(self) -> ClipCounters:
        with self._lock:
            return ClipCounters(
                self._queue.qsize(), self._sent, self._failed, self._refused, self._last_error
            )

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                job = self._queue.get(timeout=_POLL_S)
            except queue.Empty:
                continue
            try:
                if not self._wait_for_footage(job):
                    break  # stopping: the job stays pending for the next start
                self._export(job)
            except Exception as exc:  # the one broad catch of this loop: log, count, carry on
                log.exception("hit clip %s failed", job.clip_id)
                with self._lock:
                    self._failed += 1
                    self._last_error = f"{type(exc).__name__}: {exc}"
            self._done(job)
        left = self._queue.qsize()
        if left:
            log.info("%d hit clip(s) pending at shutdown: exported after the next start", left)

    def _wait_for_footage(self, job: ClipJob) -> bool:
        """Wait until a stored segment reaches the clip's end (or the wait limit passes); False on stop."""
        while True:
            if self._recorded_until(job.end_ns):
                return True
            if self._store.now_ns() > job.end_ns + self._wait_limit_ns:
                log.warning(
                    "hit clip %s: footage up to its end did not arrive; exporting what there is", job.clip_id
                )
                return True
            if self._stop.wait(_POLL_S):
                return False

    def _recorded_until(self, end_ns: int) -> bool:
        return bool(self._store.segments(end_ns - 1, end_ns))

    def _export(self, job: ClipJob) -> None:
        out = self._exports_dir / job.clip_id
        try:
            export_clip(
                self._store,
                job.start_ns,
                job.end_ns,
                out,
                self._device_key(),
                requester="anpr",
                purpose=job.purpose,
            )
        except EdgeError as exc:
            with self._lock:
                self._failed += 1
                self._last_error = str(exc)
            log.error("hit clip %s not exported: %s", job.clip_id, exc)  # noqa: TRY400 - the message says it
            return
        header: dict[str, Any] = {"node_id": self._node_id, "request_id": job.read_id}
        queued, total = send_clip(job.clip_id, out, self._chunk_bytes, self._send, header)
        with self._lock:
            self._sent += 1
        log.info("hit clip %s queued: %d of %d chunks", job.clip_id, queued, total)

    # --- pending jobs on disk ------------------------------------------------------------------------------

    def _write_pending(self, job: ClipJob) -> None:
        make_dirs_durably(self._pending_dir, self._pending_dir.parent)
        body = json.dumps(
            {
                "clip_id": job.clip_id,
                "start_ns": job.start_ns,
                "end_ns": job.end_ns,
                "read_id": job.read_id,
                "purpose": job.purpose,
            }
        ).encode()
        write_atomically(self._pending_dir / f"{job.clip_id}.json", lambda f: f.write(body))

    def _done(self, job: ClipJob) -> None:
        try:
            (self._pending_dir / f"{job.clip_id}.json").unlink(missing_ok=True)
        except OSError as exc:
            log.warning("hit clip %s: pending file not removed: %s", job.clip_id, exc)

    def _pending(self) -> list[ClipJob]:
        if not self._pending_dir.is_dir():
            return []
        jobs = []
        for path in sorted(self._pending_dir.iterdir()):
            if path.name.endswith(TMP_SUFFIX):
                path.unlink(missing_ok=True)  # a write interrupted before its rename
                continue
            if path.suffix != ".json":
                continue  # set aside by an earlier start
            try:
                doc = json.loads(path.read_bytes())
                jobs.append(
                    ClipJob(
                        str(doc["clip_id"]),
                        int(doc["start_ns"]),
                        int(doc["end_ns"]),
                        str(doc["read_id"]),
                        str(doc["purpose"]),
                    )
                )
            except (OSError, ValueError, KeyError, TypeError) as exc:
                log.error("hit clip job %s unreadable, set aside: %s", path.name, exc)  # noqa: TRY400
                os.replace(path, path.with_name(path.name + ".bad"))
        return sorted(jobs, key=lambda j: j.start_ns)
