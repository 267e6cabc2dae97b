"""The uplink against a real mosquitto: retained status, last will, reconnect, store-and-forward."""

from __future__ import annotations

import contextlib
import signal
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edge.clock import SystemClock
from edge.config import MqttConfig
from edge.uplink import Uplink
from edge.uplink.outbox import Priority
from tests.broker import Broker
from tests.mqtt_client import Subscriber, wait_until
from tests.node_process import NodeProcess, node_config


@pytest.fixture
def uplink(broker: Broker, tmp_path: Path) -> Iterator[Uplink]:
    cfg = MqttConfig(
        host=broker.host, port=broker.port, keepalive_s=5, reconnect_min_s=0.2, reconnect_max_s=1
    )
    up = Uplink(cfg, "node-under-test", SystemClock(), tmp_path / "outbox.sqlite")
    up.start()
    assert up.wait_connected(10)
    yield up
    up.stop()


def is_status(state: str):  # type: ignore[no-untyped-def]
    return lambda m: m.topic.endswith("/status") and m.json()["state"] == state


def test_status_online_is_retained(broker: Broker, uplink: Uplink) -> None:
    late = Subscriber(broker.host, broker.port, "cams/node-under-test/#")
    msg = late.expect(is_status("online"), 5, "retained online status")
    assert msg.retain
    doc = msg.json()
    assert (
        doc["schema"] == "edge.status/1" and doc["node_id"] == "node-under-test" and doc["ts"].endswith("Z")
    )
    late.close()


def test_clean_stop_publishes_offline(broker: Broker, tmp_path: Path) -> None:
    sub = Subscriber(broker.host, broker.port, "cams/n2/status")
    up = Uplink(MqttConfig(host=broker.host, port=broker.port), "n2", SystemClock(), tmp_path / "o.sqlite")
    up.start()
    assert up.wait_connected(10)
    sub.expect(is_status("online"), 5, "online")
    up.stop()
    assert sub.expect(is_status("offline"), 5, "offline after stop").json()["cause"] == "shutdown"
    sub.close()


def test_reconnects_by_itself_after_broker_restart(broker: Broker, uplink: Uplink) -> None:
    broker.stop()
    wait_until(lambda: not uplink.state().connected, 10, "the uplink to notice the broker is gone")
    assert not uplink.publish(uplink.topics.health, b"{}"), "a direct publish while offline is refused"
    assert uplink.state().dropped_offline == 1
    assert "disconnected" in uplink.state().last_error

    broker.start()
    sub = Subscriber(broker.host, broker.port, "cams/node-under-test/status")
    sub.expect(is_status("online"), 15, "online again after the broker returned")
    state = uplink.state()
    assert state.connected and state.connects == 2 and state.disconnects == 1
    assert uplink.publish(uplink.topics.health, b"{}")
    sub.close()


def _dedup(sub: Subscriber, wanted: int, timeout_s: float) -> tuple[list[dict[str, Any]], int]:
    """Collect messages until ``wanted`` distinct msg_ids arrived; returns them (first copies, in arrival
    order) and the number of duplicates seen."""
    seen: dict[str, dict[str, Any]] = {}
    duplicates = 0
    while len(seen) < wanted:
        doc = sub.expect(
            lambda m: "msg_id" in m.json(), timeout_s, f"message {len(seen) + 1} of {wanted}"
        ).json()
        if doc["msg_id"] in seen:
            duplicates += 1
        else:
            seen[doc["msg_id"]] = doc
    return list(seen.values()), duplicates


def test_burst_across_a_broker_outage_arrives_once_in_priority_order(tmp_path: Path) -> None:
    # The centre's setup: a broker that persists its state and a consumer with a persistent session.
    # (Without both, a message the broker acknowledged but had not yet forwarded dies with the broker:
    # past the PUBACK it is the broker's to keep, not the node's.)
    template = (Path(__file__).parent / "mosquitto" / "mosquitto.conf").read_text()
    persist = tmp_path / "mosquitto-db"
    persist.mkdir()
    conf = template.replace(
        "persistence false", f"persistence true\npersistence_location {persist}/\nuser root"
    )
    broker = Broker(tmp_path, conf_template=conf)
    broker.start()
    sub = Subscriber(broker.host, broker.port, "cams/n3/#", persistent_id="centre")
    cfg = MqttConfig(host=broker.host, port=broker.port, reconnect_min_s=1, reconnect_max_s=1, max_inflight=5)
    up = Uplink(cfg, "n3", SystemClock(), tmp_path / "outbox.sqlite")
    up.start()
    assert up.wait_connected(10)
    t = up.topics
    for i in range(40):  # phase 1: a burst of reads, cut off by the outage
        up.send("read", f"{t.root}/read", {"phase": 1, "i": i}, Priority.PLATE_READ)
    broker.stop()
    wait_until(lambda: not up.state().connected, 10, "the uplink to notice the broker is gone")
    for i in range(5):  # phase 2, while the broker is down: every priority, health superseded
        up.send("health", t.health, {"phase": 2, "i": i}, Priority.HEALTH, coalesce=True)
        up.send("read", f"{t.root}/read", {"phase": 2, "i": i}, Priority.PLATE_READ)
        up.send("clip", f"{t.root}/clip", {"phase": 2, "i": i}, Priority.CLIP)
        up.send("event", t.event("tamper"), {"phase": 2, "i": i}, Priority.EVENT)
        up.send("hit", f"{t.root}/hit", {"phase": 2, "i": i}, Priority.HOTLIST_HIT)
    assert up.state().outbox.coalesced >= 4
    broker.start()
    try:
        docs, _duplicates = _dedup(sub, 40 + 4 * 5 + 1, 20)
        wait_until(lambda: up.state().outbox.depth == 0, 10, "the outbox to empty after the acks")
    finally:
        up.stop()
        sub.close()
        broker.stop()

    by_stream: dict[str, list[int]] = {}
    for d in docs:
        by_stream.setdefault(d["stream"], []).append(d["seq"])
    assert sorted(by_stream["read"]) == list(range(1, 46)), "every read exactly once, no gap"
    for stream in ("clip", "event", "hit"):
        assert sorted(by_stream[stream]) == [1, 2, 3, 4, 5]
    assert by_stream["health"] == [5], "only the newest health report survives an outage"
    rank = {"hit": 0, "event": 1, "read": 2, "clip": 3, "health": 4}
    phase2 = [rank[d["stream"]] for d in docs if d["phase"] == 2]
    assert phase2 == sorted(phase2), "messages stored during the outage go out most important first"


def test_a_killed_node_delivers_its_stored_messages_after_restart(tmp_path: Path, broker: Broker) -> None:
    # The broker is down while the node raises its no-masks alarm; the node is then SIGKILLed.
    broker.stop()
    cfg = node_config(tmp_path, broker, privacy={"masks": []})
    node = NodeProcess(tmp_path, cfg)
    outbox = Path(cfg["node"]["state_dir"]) / "outbox.sqlite"
    try:
        wait_until(lambda: _stored_events(outbox) >= 1, 20, "the alarm to be stored in the outbox")
        node.signal(signal.SIGKILL)
        node.wait(10)
    finally:
        node.close()
    broker.start()
    sub = Subscriber(broker.host, broker.port, "cams/test-node/event/#")
    node = NodeProcess(tmp_path, cfg)
    try:
        docs, _ = _dedup(sub, 2, 20)
    finally:
        node.close()
        sub.close()
    # The alarm from before the kill (seq 1) and the one the restarted node raised (seq 2).
    assert sorted(d["seq"] for d in docs) == [1, 2]
    assert all(d["kind"] == "alarm" and d["cause"] == "no_masks" for d in docs)


def _stored_events(path: Path) -> int:
    if not path.exists():
        return 0
    with contextlib.closing(sqlite3.connect(path)) as db:
        try:
            return int(db.execute("SELECT count(*) FROM messages WHERE stream = 'event'").fetchone()[0])
        except sqlite3.OperationalError:  # the node has not created the table yet
            return 0
