"""Delivery guarantees of the uplink against a real mosquitto: the clip bandwidth cap (and plate reads
overtaking a capped clip), a long broker outage in simulated time, and a SIGKILL with a full outbox."""

from __future__ import annotations

import contextlib
import json
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from edge.clock import FakeClock, SystemClock
from edge.config import MqttConfig
from edge.uplink import Uplink
from edge.uplink.outbox import Priority
from edge.uplink.ratelimit import BURST_S
from tests import uplink_child
from tests.broker import Broker
from tests.mqtt_client import Message, Subscriber, wait_until


def persistent_broker(tmp_path: Path) -> Broker:
    """The centre's setup: a broker that persists its state. With a consumer holding a persistent session,
    a message the broker acknowledged is not lost when the broker restarts before forwarding it."""
    template = (Path(__file__).parent / "mosquitto" / "mosquitto.conf").read_text()
    persist = tmp_path / "mosquitto-db"
    persist.mkdir()
    conf = template.replace(
        "persistence false", f"persistence true\npersistence_location {persist}/\nuser root"
    )
    return Broker(tmp_path, conf_template=conf)


class Dedup:
    """A de-duplicating consumer: first copy of each ``msg_id``, in arrival order."""

    def __init__(self, sub: Subscriber) -> None:
        self.sub = sub
        self.docs: list[dict[str, Any]] = []
        self.arrivals: list[Message] = []
        self.duplicates = 0
        self._seen: set[str] = set()

    def take(self, msg: Message) -> bool:
        doc = msg.json()
        if "msg_id" not in doc:
            return False  # status
        if doc["msg_id"] in self._seen:
            self.duplicates += 1
            return False
        self._seen.add(doc["msg_id"])
        self.docs.append(doc)
        self.arrivals.append(msg)
        return True

    def until(self, done: Callable[[], bool], timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while not done():
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out waiting for {what}; {len(self.docs)} distinct so far")
            with contextlib.suppress(queue.Empty):
                self.take(self.sub.messages.get(timeout=left))

    def quiet(self, for_s: float) -> None:
        """Take whatever else arrives until nothing has for ``for_s`` (to see that nothing extra comes)."""
        while True:
            try:
                self.take(self.sub.messages.get(timeout=for_s))
            except queue.Empty:
                return

    def seqs(self, stream: str) -> list[int]:
        return [d["seq"] for d in self.docs if d["stream"] == stream]


# ------------------------------------------------------------------------------ clip bandwidth cap

CAP = 64 * 1024
CHUNKS = 40
CHUNK_DATA = 6000


def test_a_capped_clip_keeps_to_the_cap_and_a_read_overtakes_it(broker: Broker, tmp_path: Path) -> None:
    sub = Subscriber(broker.host, broker.port, "cams/cap/#")
    cfg = MqttConfig(host=broker.host, port=broker.port, max_inflight=20, clip_max_bytes_per_s=CAP)
    up = Uplink(cfg, "cap", SystemClock(), tmp_path / "outbox.sqlite")
    up.start()
    consumer = Dedup(sub)
    try:
        assert up.wait_connected(10)
        t = up.topics
        for n in range(CHUNKS):
            body = {"schema": "edge.clip_chunk/1", "n": n, "data": "x" * CHUNK_DATA}
            up.send("clip", t.clip(f"clip/c1/chunk/{n}"), body, Priority.CLIP)
        # A plate read produced mid-clip: once a quarter of the chunks arrived at the subscriber.
        consumer.until(lambda: len(consumer.docs) >= CHUNKS // 4, 30, "a quarter of the clip")
        arrived_before = len(consumer.docs)
        sent_s = time.monotonic()
        up.send("read", f"{t.root}/anpr/read", {"plate": "1ABC234"}, Priority.PLATE_READ)
        consumer.until(lambda: len(consumer.docs) == CHUNKS + 1, 30, "the whole clip and the read")
    finally:
        up.stop()
        sub.close()
    assert consumer.duplicates == 0
    chunks = [m for m in consumer.arrivals if "/chunk/" in m.topic]
    assert [m.json()["n"] for m in chunks] == list(range(CHUNKS)), "in order, each once"

    # Over the whole clip: every byte after the first chunk, over the time from the first to the last.
    sizes = [len(m.payload) for m in chunks]
    span_s = chunks[-1].received_s - chunks[0].received_s
    rate = sum(sizes[1:]) / span_s
    assert rate <= CAP * 1.05, f"{rate:.0f} B/s over a cap of {CAP} B/s"
    # Not vacuous: without the cap the clip would take milliseconds. The bucket lets at most a burst of
    # BURST_S seconds' worth plus one chunk go ahead of the rate.
    assert span_s >= (sum(sizes) - CAP * BURST_S - 2 * max(sizes)) / CAP * 0.9

    read = next(m for m in consumer.arrivals if m.topic.endswith("/anpr/read"))
    position = consumer.arrivals.index(read)
    in_flight = int(CAP * BURST_S / min(sizes)) + 2  # chunks the bucket may already have let go
    assert position <= arrived_before + in_flight, "the read does not queue behind the clip"
    assert chunks[-1].received_s - read.received_s > 1.0, "most of the clip still came after the read"
    assert read.received_s - sent_s < chunks[-1].received_s - sent_s
    print(f"clip: {sum(sizes)} B in {span_s:.2f} s = {rate:.0f} B/s (cap {CAP}); read {position}th")


# ------------------------------------------------------------------------------ long outage (fake clock)

OUTAGE_S = 600


def test_reads_and_hits_from_a_ten_minute_outage_arrive_once_hits_first(tmp_path: Path) -> None:
    broker = persistent_broker(tmp_path)
    broker.start()
    sub = Subscriber(broker.host, broker.port, "cams/n4/#", persistent_id="centre-n4")
    clock = FakeClock()
    cfg = MqttConfig(
        host=broker.host, port=broker.port, reconnect_min_s=0.2, reconnect_max_s=1, max_inflight=5
    )
    up = Uplink(cfg, "n4", clock, tmp_path / "outbox.sqlite")
    up.start()
    consumer = Dedup(sub)
    t = up.topics
    try:
        assert up.wait_connected(10)
        for i in range(20):  # a burst of reads, cut off by the outage
            up.send("read", f"{t.root}/anpr/read", {"phase": 1, "i": i}, Priority.PLATE_READ)
        broker.stop()
        wait_until(lambda: not up.state().connected, 10, "the uplink to notice the broker is gone")
        reads = hits = 0
        for second in range(OUTAGE_S):  # ten minutes of the node's time, the broker really stopped
            clock.advance(1.0)
            if second % 2 == 0:
                up.send("read", f"{t.root}/anpr/read", {"phase": 2, "t": second}, Priority.PLATE_READ)
                reads += 1
            if second % 60 == 30:
                up.send("hit", f"{t.root}/anpr/hit", {"phase": 2, "t": second}, Priority.HOTLIST_HIT)
                hits += 1
            if second % 10 == 0:
                up.send("health", t.health, {"phase": 2, "t": second}, Priority.HEALTH, coalesce=True)
        outbox = up.state().outbox
        assert outbox.oldest_age_s is not None and outbox.oldest_age_s >= OUTAGE_S - 1
        assert outbox.dropped_by_policy == 0
        broker.start()
        expected = 20 + reads + hits + 1
        consumer.until(lambda: len(consumer.docs) >= expected, 60, f"{expected} distinct messages")
        wait_until(lambda: up.state().outbox.depth == 0, 10, "the outbox to empty after the acks")
        consumer.quiet(0.5)
    finally:
        up.stop()
        sub.close()
        broker.stop()
    assert len(consumer.docs) == expected, "nothing extra"
    assert sorted(consumer.seqs("read")) == list(range(1, 20 + reads + 1)), "every read once, no gap"
    assert sorted(consumer.seqs("hit")) == list(range(1, hits + 1)), "every hit once, no gap"
    assert [d["t"] for d in consumer.docs if d["stream"] == "health"] == [OUTAGE_S - 10]
    outage = [d["stream"] for d in consumer.docs if d.get("phase") == 2 and d["stream"] != "health"]
    assert outage == ["hit"] * hits + ["read"] * reads, "hits before reads"
    outage_reads = [d["t"] for d in consumer.docs if d.get("phase") == 2 and d["stream"] == "read"]
    assert outage_reads == sorted(outage_reads), "reads in the order they were made"


# ------------------------------------------------------------------------------ SIGKILL, full outbox


class Child:
    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.uplink_child", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, name="uplink-child-out", daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def read_until(self, predicate: Callable[[str], bool], timeout_s: float) -> list[str]:
        seen: list[str] = []
        deadline = time.monotonic() + timeout_s
        while not seen or not predicate(seen[-1]):
            left = deadline - time.monotonic()
            try:
                seen.append(self.lines.get(timeout=max(left, 0.001)))
            except queue.Empty:
                raise AssertionError(f"child said {seen[-5:]} and then nothing for {timeout_s} s") from None
        return seen

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)


@pytest.fixture
def child_runner() -> Iterator[list[Child]]:
    children: list[Child] = []
    yield children
    for c in children:
        c.close()


def held_in(outbox: Path) -> tuple[dict[str, set[str]], dict[str, int], dict[str, int], list[dict[str, Any]]]:
    """What the outbox file holds: msg_ids and last seq per stream, drops per stream, overflow reports."""
    with contextlib.closing(sqlite3.connect(f"file:{outbox}?mode=ro", uri=True)) as db:
        held: dict[str, set[str]] = {}
        reports = []
        for stream, payload in db.execute("SELECT stream, payload FROM messages"):
            doc = json.loads(payload)
            held.setdefault(stream, set()).add(doc["msg_id"])
            if stream == "outbox_overflow":
                reports.append(doc)
        last = {str(s): int(n) for s, n in db.execute("SELECT stream, last_seq FROM streams")}
        dropped = {str(s): int(n) for s, n in db.execute("SELECT stream, count FROM dropped")}
    return held, last, dropped, reports


def test_a_node_killed_with_a_full_outbox_delivers_all_it_held_exactly_once(
    tmp_path: Path, child_runner: list[Child]
) -> None:
    broker = Broker(tmp_path)  # a port, and nothing listening on it yet: the broker is down
    state = tmp_path / "state"
    filler = Child("fill", str(broker.port), str(state))
    child_runner.append(filler)
    lines = filler.read_until(lambda line: line == "full", 60)
    lines += filler.read_until(lambda _: True, 10)
    lines += filler.read_until(lambda line: line.startswith("sent read"), 10)
    for _ in range(300):  # kill it mid-stream, past the point where clips, then reads, are pushed out
        lines += filler.read_until(lambda _: True, 10)
    filler.proc.send_signal(signal.SIGKILL)
    assert filler.proc.wait(10) == -signal.SIGKILL

    held, last_seq, dropped, reports = held_in(state / "outbox.sqlite")
    depth = sum(len(ids) for ids in held.values())
    assert depth >= uplink_child.MAX_MESSAGES, "the outbox was at its bound when the node died"
    assert dropped.get("clip", 0) > 0 and dropped.get("hit", 0) == 0
    assert len(reports) == 1, "one overflow report, holding the totals"
    accepted = {s: sum(1 for x in lines if x == f"sent {s} True") for s in ("clip", "read", "hit")}
    for stream in ("clip", "read", "hit"):
        # Every seq taken is held or was dropped by the policy (and counted); what the producer saw
        # accepted is among them (an accepted message may be pushed out later, and is then counted).
        assert len(held.get(stream, ())) + dropped.get(stream, 0) == last_seq[stream], stream
        assert accepted[stream] <= last_seq[stream]
        assert accepted[stream] >= len(held.get(stream, ())) - 1  # the last one may be unprinted

    broker.start()
    sub = Subscriber(broker.host, broker.port, f"cams/{uplink_child.NODE_ID}/#")
    consumer = Dedup(sub)
    try:
        drainer = Child("drain", str(broker.port), str(state))
        child_runner.append(drainer)
        want = {i for ids in held.values() for i in ids}
        consumer.until(lambda: want <= {d["msg_id"] for d in consumer.docs}, 60, "every held message")
        assert (
            drainer.read_until(lambda line: line in ("drained", "no broker") or line.startswith("left"), 60)[
                -1
            ]
            == "drained"
        )
        assert drainer.proc.wait(15) == 0
        consumer.quiet(0.5)
    finally:
        sub.close()
        broker.stop()

    got = {d["msg_id"] for d in consumer.docs}
    assert got == want, f"{len(got - want)} unexpected, {len(want - got)} missing"
    report = next(d for d in consumer.docs if d["stream"] == "outbox_overflow")
    assert report["kind"] == "outbox_overflow" and report["cause"] == "outbox_full"
    for stream in ("clip", "read", "hit"):
        seqs = consumer.seqs(stream)
        assert len(seqs) == len(set(seqs))
        gaps = last_seq[stream] - len(seqs)
        assert gaps == dropped.get(stream, 0), f"{stream}: {gaps} gaps, {dropped.get(stream, 0)} reported"
        assert report["measured"].get(f"dropped_{stream}", 0.0) == float(dropped.get(stream, 0))
    assert len(consumer.seqs("health")) <= 1, "health is coalesced"
    print(f"killed holding {depth} messages; dropped by policy {dropped}; delivered {len(got)} once each")
