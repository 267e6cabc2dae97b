"""``CommandService``: takes raw requests from ``cmd``, verifies, runs, answers on ``cmd/result``, audits.

paho's network thread only puts the payload into a bounded queue; the ``commands`` thread does the rest,
one request at a time. Every request — good, bad, forged, expired, replayed or oversized — gets a result
(with its id when one could be read) and an audit entry; nothing a sender can put in a request stops the
loop. A request arriving while the queue is full is dropped, counted and logged (it cannot be answered
without the work the full queue is protecting against).

Between requests the same thread runs ``housekeeping`` (if given) every ``HOUSEKEEPING_S`` seconds: the
clean-up of export folders, which must not race the commands that write and read them.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from edge.audit import AuditLog
from edge.commands.handlers import Handlers
from edge.commands.model import Command, CommandError, ErrorCode, Result
from edge.commands.parse import ParseLimits, parse_request, parse_time, request_id_of
from edge.commands.replay import ReplayGuard

log = logging.getLogger(__name__)

QUEUE_CAPACITY = 32
HOUSEKEEPING_S = 30.0


@dataclass(frozen=True, slots=True)
class CommandStats:
    received: int
    succeeded: int
    failed: int
    dropped: int
    """Requests refused because the queue was full."""


class CommandService:
    def __init__(
        self,
        handlers: Handlers,
        keys: list[Ed25519PublicKey],
        limits: ParseLimits,
        replay: ReplayGuard,
        audit: AuditLog,
        answer: Callable[[dict[str, Any]], None],
        time_ns: Callable[[], int],
        stop: threading.Event,
        housekeeping: Callable[[], object] | None = None,
    ) -> None:
        self._handlers = handlers
        self._housekeeping = housekeeping
        self._next_housekeeping = 0.0
        self._keys = keys
        self._limits = limits
        self._replay = replay
        self._audit = audit
        self._answer = answer
        self._time_ns = time_ns
        self._stop = stop
        self._queue: queue.Queue[bytes] = queue.Queue(QUEUE_CAPACITY)
        self._lock = threading.Lock()
        self._received = self._succeeded = self._failed = self._dropped = 0
        self._thread = threading.Thread(target=self._loop, name="commands", daemon=True)

    def offer(self, raw: bytes) -> None:
        """From paho's network thread: never blocks."""
        try:
            self._queue.put_nowait(raw)
        except queue.Full:
            with self._lock:
                self._dropped += 1
            log.warning("command queue full; request of %d bytes dropped", len(raw))

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout_s: float) -> bool:
        self._thread.join(timeout_s)
        return not self._thread.is_alive()

    def close(self) -> None:
        """After ``join``: release the replay database."""
        self._replay.close()

    def stats(self) -> CommandStats:
        with self._lock:
            return CommandStats(self._received, self._succeeded, self._failed, self._dropped)

    def _loop(self) -> None:
        while not self._stop.is_set():
            raw: bytes | None
            try:
                raw = self._queue.get(timeout=0.5)
            except queue.Empty:
                raw = None
            try:
                if raw is not None:
                    self.handle(raw)
                self._housekeep()
            except Exception:  # one broad catch per loop: log, count, carry on
                log.exception("command handling or housekeeping failed")
                if raw is not None:
                    with self._lock:
                        self._failed += 1

    def _housekeep(self) -> None:
        now = time.monotonic()
        if self._housekeeping is None or now < self._next_housekeeping:
            return
        self._next_housekeeping = now + HOUSEKEEPING_S
        self._housekeeping()

    def handle(self, raw: bytes) -> Result:
        """Verify, run, audit and answer one request; returns the result it sent."""
        with self._lock:
            self._received += 1
        now_ns = self._time_ns()
        cmd: Command | None = None
        try:
            cmd = parse_request(raw, self._keys, now_ns, self._limits)
            if not self._replay.first_use(cmd.id, cmd.expires_at_ns, now_ns):
                raise CommandError(ErrorCode.REPLAYED, f"request {cmd.id} was already received")
            result = Result.success(cmd.id, self._handlers.run(cmd))
        except CommandError as exc:
            rid = cmd.id if cmd is not None else request_id_of(raw, self._limits.max_request_bytes)
            result = Result.failure(rid, exc)
        self._record(cmd, raw, result)
        self._answer(result.to_json())
        with self._lock:
            if result.ok:
                self._succeeded += 1
            else:
                self._failed += 1
        return result

    def _record(self, cmd: Command | None, raw: bytes, result: Result) -> None:
        outcome = "ok" if result.ok else f"error {result.error_code}: {result.error_message}"
        if cmd is None:
            # Not authenticated: nothing in it can be trusted, so no claimed identity is recorded as actor.
            self._audit.append(
                actor="unauthenticated",
                action="command.rejected",
                detail=f"id={result.id or '-'} bytes={len(raw)} {outcome}"[:1000],
            )
            log.warning("command rejected: %s", outcome)
            return
        args = cmd.args
        purpose = " ".join(
            f"{k}={args[k]}" for k in ("purpose", "case_ref", "decision_ref") if isinstance(args.get(k), str)
        )
        start, end = _range(args)
        self._audit.append(
            actor=cmd.issuer,
            action=f"command.{cmd.name}",
            purpose=purpose[:500],
            detail=f"id={cmd.id} key={cmd.key_id} {outcome}"[:1000],
            start_ns=start,
            end_ns=end,
        )
        log.info("command %s %s from %s: %s", cmd.name, cmd.id, cmd.issuer, "ok" if result.ok else outcome)


def _range(args: dict[str, Any]) -> tuple[int | None, int | None]:
    start, end = args.get("from"), args.get("to")
    if isinstance(start, str) and isinstance(end, str):
        try:
            return parse_time(start), parse_time(end)
        except ValueError:
            return None, None
    return None, None
