"""A consumer of masked frames running in its own named thread behind a bounded queue."""

from __future__ import annotations

import enum
import logging
import threading
from typing import Protocol

from edge.clock import Clock
from edge.pipeline.queues import BoundedQueue, LatestSlot
from edge.pipeline.stats import StageStats, StageStatsSnapshot
from edge.types import MaskedFrame

log = logging.getLogger(__name__)

_IDLE_WAKE_S = 0.5  # an idle stage still beats this often, so "no frames" and "stalled" stay distinguishable


class QueuePolicy(enum.StrEnum):
    LATEST = "latest"
    """Take the newest frame; older unread frames are dropped and counted (analytics, preview)."""
    EVERY = "every"
    """Take every frame in order through a bounded FIFO; overflow is counted as loss (recorder)."""


class FrameConsumer(Protocol):
    """What a stage does with each masked frame. Called from the stage's own thread only."""

    def consume(self, frame: MaskedFrame) -> None: ...

    def close(self) -> None:
        """Release resources; called once from the stage thread after its last frame."""
        ...


class ConsumerStage:
    """Runs one ``FrameConsumer`` in a thread named after the stage."""

    def __init__(
        self,
        name: str,
        consumer: FrameConsumer,
        policy: QueuePolicy,
        stop: threading.Event,
        clock: Clock,
        capacity: int = 1,
    ) -> None:
        self.name = name
        self.policy = policy
        self._consumer = consumer
        self._stop = stop
        self._queue: LatestSlot[MaskedFrame] | BoundedQueue[MaskedFrame] = (
            LatestSlot() if policy is QueuePolicy.LATEST else BoundedQueue(capacity)
        )
        self.stats = StageStats(name, clock)
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def offer(self, frame: MaskedFrame) -> bool:
        """Hand a frame to the stage without blocking; False when a frame was dropped."""
        return self._queue.offer(frame)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout_s: float) -> bool:
        """Wait for the thread to end after ``stop`` is set; True when it did."""
        self._queue.close()
        self._thread.join(timeout_s)
        return not self._thread.is_alive()

    def snapshot(self) -> StageStatsSnapshot:
        return self.stats.snapshot(
            policy=self.policy.value, dropped=self._queue.dropped, queue_depth=self._queue.depth()
        )

    def _drain(self) -> None:
        # An every-frame stage (the recorder) finishes what it was given: the capture thread has stopped
        # before stages are joined, so the queue is final and bounded by its capacity.
        while (frame := self._queue.get(0)) is not None:
            try:
                self._consumer.consume(frame)
            except Exception:  # same contract as the main loop
                log.exception("stage %s failed on frame %d while draining", self.name, frame.index)
                self.stats.error()
                continue
            self.stats.processed(frame.monotonic_ns)

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self.stats.heartbeat()
                frame = self._queue.get(_IDLE_WAKE_S)
                if frame is None:
                    continue
                try:
                    self._consumer.consume(frame)
                except Exception:  # the one broad catch of this loop: log, count, carry on
                    log.exception("stage %s failed on frame %d", self.name, frame.index)
                    self.stats.error()
                    continue
                self.stats.processed(frame.monotonic_ns)
            if self.policy is QueuePolicy.EVERY:
                self._drain()
        finally:
            try:
                self._consumer.close()
            except Exception:
                log.exception("stage %s failed to close", self.name)
