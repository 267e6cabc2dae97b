"""Outbox: durable enqueue rate, and delivery rate through a real local mosquitto (QoS 1, PUBACK-deleted).

``outbox_enqueue_per_s``: ``Uplink.send`` of small event messages (each one an SQLite transaction with
``synchronous=FULL``, i.e. an fsync) with no broker. ``outbox_deliver_per_s``: a backlog queued while the
uplink was offline, drained after it starts, until the last PUBACK deleted the last row. Each figure is the
median over ``RUNS`` fresh outboxes.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from edge.clock import SystemClock
from edge.config import MqttConfig
from edge.uplink import Uplink
from edge.uplink.outbox import Priority
from tests.broker import Broker

RUNS = 3
ENQUEUED = 500
BACKLOG = 2000
BODY = {"kind": "bench", "cause": "a short event body of typical size", "value": 12345}


def _uplink(broker: Broker, root: Path) -> Uplink:
    config = MqttConfig(host=broker.host, port=broker.port, reconnect_min_s=0.2, reconnect_max_s=1)
    return Uplink(config, "bench-node", SystemClock(), outbox_path=root / "outbox.sqlite")


def _enqueue_per_s(broker: Broker, root: Path) -> float:
    uplink = _uplink(broker, root)
    t0 = time.perf_counter()
    for _ in range(ENQUEUED):
        uplink.send("event", uplink.topics.event("bench"), BODY, Priority.EVENT)
    elapsed = time.perf_counter() - t0
    uplink.outbox.close()
    return ENQUEUED / elapsed


def _deliver_per_s(broker: Broker, root: Path) -> float:
    uplink = _uplink(broker, root)
    for _ in range(BACKLOG):
        uplink.send("event", uplink.topics.event("bench"), BODY, Priority.EVENT)
    t0 = time.perf_counter()
    uplink.start()
    deadline = t0 + 120
    while uplink.outbox.state().depth and time.perf_counter() < deadline:
        time.sleep(0.005)
    elapsed = time.perf_counter() - t0
    depth = uplink.outbox.state().depth
    uplink.stop()
    if depth:
        raise RuntimeError(f"outbox not drained within 120 s ({depth} left)")
    return BACKLOG / elapsed


def run() -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        broker = Broker(root)
        broker.start()
        try:
            enq = [_enqueue_per_s(broker, root / f"enq{i}") for i in range(RUNS)]
            dlv = [_deliver_per_s(broker, root / f"dlv{i}") for i in range(RUNS)]
        finally:
            broker.stop()
    return {
        "outbox_enqueue_per_s": round(statistics.median(enq), 1),
        "outbox_deliver_per_s": round(statistics.median(dlv), 1),
        "outbox_runs": {"enqueue_per_s": [round(x) for x in enq], "deliver_per_s": [round(x) for x in dlv]},
    }
