"""The durable outbox on its own: envelope, order, coalescing, the overflow policy, persistence."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from edge.uplink.outbox import Outbox, OutboxMessage, Priority


def report(totals: dict[str, int]) -> tuple[str, dict[str, Any]]:
    return "cams/n/event/outbox_overflow", {"kind": "outbox_overflow", "totals": totals}


def open_outbox(path: Path, max_messages: int = 1000, max_bytes: int = 1 << 20) -> Outbox:
    return Outbox(
        path, max_messages=max_messages, max_bytes=max_bytes, time_ns=time.time_ns, overflow_report=report
    )


def docs(messages: list[OutboxMessage]) -> list[dict[str, Any]]:
    return [json.loads(m.payload) for m in messages]


def test_envelope_has_unique_ids_and_per_stream_sequences(tmp_path: Path) -> None:
    box = open_outbox(tmp_path / "o.sqlite")
    for i in range(3):
        box.enqueue("event", "t/e", {"i": i}, Priority.EVENT)
        box.enqueue("read", "t/r", {"i": i}, Priority.PLATE_READ)
    got = docs(box.claim(10))
    assert [(d["stream"], d["seq"]) for d in got] == [
        ("event", 1),
        ("event", 2),
        ("event", 3),
        ("read", 1),
        ("read", 2),
        ("read", 3),
    ]
    assert len({d["msg_id"] for d in got}) == 6
    assert got[0]["i"] == 0


def test_claim_orders_by_priority_then_age_and_skips_claimed(tmp_path: Path) -> None:
    box = open_outbox(tmp_path / "o.sqlite")
    box.enqueue("health", "t/h", {}, Priority.HEALTH)
    box.enqueue("clip", "t/c", {}, Priority.CLIP)
    box.enqueue("read", "t/r", {}, Priority.PLATE_READ)
    box.enqueue("event", "t/e", {}, Priority.EVENT)
    box.enqueue("hit", "t/x", {}, Priority.HOTLIST_HIT)
    first = box.claim(2)
    assert [m.topic for m in first] == ["t/x", "t/e"]
    assert [m.topic for m in box.claim(10)] == ["t/r", "t/c", "t/h"]
    assert box.claim(10) == []
    box.ack([first[0].row_id])
    assert box.state().depth == 4 and box.state().delivered == 1


def test_health_is_coalesced_but_not_while_in_flight(tmp_path: Path) -> None:
    box = open_outbox(tmp_path / "o.sqlite")
    box.enqueue("health", "t/h", {"n": 1}, Priority.HEALTH, coalesce=True)
    in_flight = box.claim(1)
    box.enqueue("health", "t/h", {"n": 2}, Priority.HEALTH, coalesce=True)
    box.enqueue("health", "t/h", {"n": 3}, Priority.HEALTH, coalesce=True)
    assert [d["n"] for d in docs(box.claim(10))] == [3]
    state = box.state()
    assert state.depth == 2 and state.coalesced == 1 and state.dropped_by_policy == 0
    box.ack([in_flight[0].row_id])
    assert box.state().depth == 1


def test_overflow_drops_least_important_first_and_reports_it(tmp_path: Path) -> None:
    box = open_outbox(tmp_path / "o.sqlite", max_messages=10)
    for i in range(4):
        box.enqueue("read", "t/r", {"i": i}, Priority.PLATE_READ)
    for i in range(6):
        box.enqueue("clip", "t/c", {"i": i}, Priority.CLIP)
    assert box.state().depth == 10
    # An event pushes out the oldest clip chunk, never a read.
    assert box.enqueue("event", "t/e", {}, Priority.EVENT)
    got = docs(box.claim(100))
    topics = [d.get("kind", d["stream"]) for d in got]
    assert topics.count("outbox_overflow") == 1
    assert topics.count("read") == 4 and topics.count("clip") == 5
    overflow = next(d for d in got if d.get("kind") == "outbox_overflow")
    assert overflow["totals"] == {"clip": 1}
    assert [d["i"] for d in got if d["stream"] == "clip"] == [1, 2, 3, 4, 5]
    assert box.state().dropped_by_policy == 1


def test_overflow_never_drops_more_important_messages(tmp_path: Path) -> None:
    box = open_outbox(tmp_path / "o.sqlite", max_messages=10)
    for i in range(10):
        box.enqueue("event", "t/e", {"i": i}, Priority.EVENT)
    # A clip chunk finds only events in the way: the chunk itself is dropped, counted and reported.
    assert not box.enqueue("clip", "t/c", {}, Priority.CLIP)
    got = docs(box.claim(100))
    assert sum(1 for d in got if d.get("kind") == "outbox_overflow") == 1
    assert [d["seq"] for d in got if d.get("kind") != "outbox_overflow"] == list(range(1, 11))
    assert box.state().dropped_by_policy == 1


def test_survives_reopen_with_sequences_continuing(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    box = open_outbox(path)
    box.enqueue("event", "t/e", {"i": 0}, Priority.EVENT)
    box.enqueue("event", "t/e", {"i": 1}, Priority.EVENT)
    box.claim(10)  # claimed but never acknowledged: sent again after a restart
    box.close()
    box = open_outbox(path)
    box.enqueue("event", "t/e", {"i": 2}, Priority.EVENT)
    got = docs(box.claim(10))
    assert [d["seq"] for d in got] == [1, 2, 3]
    assert box.state().depth == 3
