"""Fan-out policies: analytics take the newest frame and count drops; the recorder takes every frame."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from edge.clock import SystemClock
from edge.config import MaskConfig, PrivacyConfig
from edge.pipeline import ConsumerStage, FanOut, QueuePolicy
from edge.pipeline.queues import BoundedQueue, LatestSlot
from edge.privacy import PrivacyStage
from edge.types import Frame, MaskedFrame


class Recording:
    """A consumer that records the indices it saw; ``gate`` lets the test hold it mid-frame."""

    def __init__(self, expect: int, gate: threading.Event | None = None) -> None:
        self.seen: list[int] = []
        self.gate = gate
        self.expect = expect
        self.done = threading.Event()
        self.entered = threading.Event()
        self.closed = False

    def consume(self, frame: MaskedFrame) -> None:
        self.entered.set()
        if self.gate is not None:
            self.gate.wait(10)
        self.seen.append(frame.index)
        if frame.index == self.expect:
            self.done.set()

    def close(self) -> None:
        self.closed = True


def masked_frames(n: int) -> list[MaskedFrame]:
    stage = PrivacyStage(PrivacyConfig(masks=[MaskConfig(name="m", polygon=[(0, 0), (0.5, 0), (0.5, 0.5)])]))
    out = []
    for i in range(n):
        f = Frame(
            pixels=np.full((16, 16, 3), 200, np.uint8), index=i, capture_ts_ns=i, monotonic_ns=i, source="t"
        )
        m = stage.process(f)
        assert m is not None
        out.append(m)
    return out


def test_latest_slot_keeps_newest_and_counts_drops() -> None:
    slot: LatestSlot[int] = LatestSlot()
    assert slot.offer(1)
    assert not slot.offer(2)
    assert not slot.offer(3)
    assert slot.get(0) == 3
    assert slot.dropped == 2
    assert slot.get(0) is None


def test_bounded_queue_is_fifo_and_counts_overflow() -> None:
    q: BoundedQueue[int] = BoundedQueue(2)
    assert q.offer(1) and q.offer(2)
    assert not q.offer(3)
    assert (q.get(0), q.get(0), q.get(0)) == (1, 2, None)
    assert q.dropped == 1


def test_fanout_policies_with_a_slow_analytics_stage() -> None:
    stop = threading.Event()
    clock = SystemClock()
    n = 30
    gate = threading.Event()
    analytics = Recording(expect=n - 1, gate=gate)
    recorder = Recording(expect=n - 1)
    a_stage = ConsumerStage("analytics", analytics, QueuePolicy.LATEST, stop, clock)
    r_stage = ConsumerStage("recorder", recorder, QueuePolicy.EVERY, stop, clock, capacity=n)
    fanout = FanOut([a_stage, r_stage])
    a_stage.start()
    r_stage.start()
    frames = masked_frames(n)
    fanout.publish(frames[0])
    assert analytics.entered.wait(5)  # analytics is now stuck inside frame 0
    for f in frames[1:]:
        fanout.publish(f)
    gate.set()
    assert recorder.done.wait(5) and analytics.done.wait(5)
    stop.set()
    assert a_stage.join(2) and r_stage.join(2)

    assert recorder.seen == list(range(n))
    assert analytics.seen == [0, n - 1]
    snap = a_stage.snapshot()
    assert snap.dropped == n - 2 and snap.processed == 2
    assert r_stage.snapshot().dropped == 0
    assert analytics.closed and recorder.closed


def test_recorder_overflow_is_counted_not_silent() -> None:
    stop = threading.Event()
    gate = threading.Event()
    recorder = Recording(expect=-1, gate=gate)
    stage = ConsumerStage("recorder", recorder, QueuePolicy.EVERY, stop, SystemClock(), capacity=3)
    stage.start()
    frames = masked_frames(10)
    stage.offer(frames[0])
    assert recorder.entered.wait(5)
    accepted = [stage.offer(f) for f in frames[1:]]
    assert accepted == [True] * 3 + [False] * 6
    assert stage.snapshot().dropped == 6
    gate.set()
    stop.set()
    assert stage.join(2)


def test_a_failing_consumer_is_counted_and_the_stage_carries_on() -> None:
    class Flaky(Recording):
        def consume(self, frame: MaskedFrame) -> None:
            if frame.index == 1:
                raise RuntimeError("boom")
            super().consume(frame)

    stop = threading.Event()
    consumer = Flaky(expect=4)
    stage = ConsumerStage("flaky", consumer, QueuePolicy.EVERY, stop, SystemClock(), capacity=10)
    stage.start()
    for f in masked_frames(5):
        stage.offer(f)
    assert consumer.done.wait(5)
    stop.set()
    assert stage.join(2)
    assert consumer.seen == [0, 2, 3, 4]
    assert stage.snapshot().errors == 1


def test_fanout_refuses_raw_frames() -> None:
    raw = Frame(pixels=np.zeros((2, 2, 3), np.uint8), index=0, capture_ts_ns=0, monotonic_ns=0, source="t")
    with pytest.raises(TypeError, match="only MaskedFrame"):
        FanOut([]).publish(raw)  # type: ignore[arg-type]


def test_every_frame_stage_drains_its_queue_on_stop() -> None:
    stop = threading.Event()
    gate = threading.Event()
    recorder = Recording(expect=-1, gate=gate)
    stage = ConsumerStage("recorder", recorder, QueuePolicy.EVERY, stop, SystemClock(), capacity=10)
    stage.start()
    frames = masked_frames(6)
    stage.offer(frames[0])
    assert recorder.entered.wait(5)
    for f in frames[1:]:
        assert stage.offer(f)
    stop.set()
    gate.set()
    assert stage.join(5)
    assert recorder.seen == list(range(6))
    assert recorder.closed
