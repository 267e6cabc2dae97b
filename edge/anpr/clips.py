"""``HitClips``: the event clip of a hotlist hit, exported and sent once the recorder has its footage.

A hit is published at once with the clip's id and range; the clip itself covers ``[first seen - pre, last
seen + post]``, whose end lies in the future when the hit leaves and whose last segment is sealed only at
the segment's end. So the export runs here, in its own thread ``anpr-clips`` behind a bounded queue, never
in the ANPR stage: each job waits until a stored segment reaches the clip's end (or until
``wait_limit_s`` after it, then exports what there is), then goes the way of ``export_clip``: sealed
segments and a manifest signed by the device key under ``<state_dir>/exports/<clip_id>``, sent as
``clip/<clip_id>/chunk/<n>`` and ``clip/<clip_id>/meta`` (``request_id`` is the hit's ``read_id``), and
re-sendable with ``resend_clip``. The export is audited by the store (``storage.export``).

Jobs still queued at shutdown are lost (logged with their count); the hit names the clip's range, so the
centre can ask for it with ``export_clip`` instead.
"""

from __future__ import annotations

import logging
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
    ) -> None:
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

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout_s: float) -> bool:
        self._thread.join(timeout_s)
        return not self._thread.is_alive()

    def submit(self, job: ClipJob) -> bool:
        """Queue a clip; False (counted) when the queue is full."""
        try:
            self._queue.put_nowait(job)
        except queue.Full:
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
                if self._wait_for_footage(job):
                    self._export(job)
            except Exception as exc:  # the one broad catch of this loop: log, count, carry on
                log.exception("hit clip %s failed", job.clip_id)
                with self._lock:
                    self._failed += 1
                    self._last_error = f"{type(exc).__name__}: {exc}"
        left = self._queue.qsize()
        if left:
            log.warning("%d hit clip(s) not exported at shutdown", left)

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
