"""The minimal uplink against a real mosquitto: retained status, last will, reconnect by itself."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from edge.clock import SystemClock
from edge.config import MqttConfig
from edge.uplink import Uplink
from tests.broker import Broker
from tests.mqtt_client import Subscriber, wait_until


@pytest.fixture
def uplink(broker: Broker) -> Iterator[Uplink]:
    cfg = MqttConfig(
        host=broker.host, port=broker.port, keepalive_s=5, reconnect_min_s=0.2, reconnect_max_s=1
    )
    up = Uplink(cfg, "node-under-test", SystemClock())
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


def test_clean_stop_publishes_offline(broker: Broker) -> None:
    sub = Subscriber(broker.host, broker.port, "cams/n2/status")
    up = Uplink(MqttConfig(host=broker.host, port=broker.port), "n2", SystemClock())
    up.start()
    assert up.wait_connected(10)
    sub.expect(is_status("online"), 5, "online")
    up.stop()
    assert sub.expect(is_status("offline"), 5, "offline after stop").json()["cause"] == "shutdown"
    sub.close()


def test_reconnects_by_itself_after_broker_restart(broker: Broker, uplink: Uplink) -> None:
    broker.stop()
    wait_until(lambda: not uplink.state().connected, 10, "the uplink to notice the broker is gone")
    assert not uplink.publish(uplink.topics.health, b"{}"), "publish while offline must be refused"
    assert uplink.state().dropped_offline == 1
    assert "disconnected" in uplink.state().last_error

    broker.start()
    sub = Subscriber(broker.host, broker.port, "cams/node-under-test/status")
    sub.expect(is_status("online"), 15, "online again after the broker returned")
    state = uplink.state()
    assert state.connected and state.connects == 2 and state.disconnects == 1
    assert uplink.publish(uplink.topics.health, b"{}")
    sub.close()


def test_events_raised_while_offline_are_sent_after_reconnect(broker: Broker) -> None:
    sub = Subscriber(broker.host, broker.port, "cams/n3/event/#")
    # The uplink waits 3 s before reconnecting, the subscriber 1 s: the subscriber is back first.
    cfg = MqttConfig(host=broker.host, port=broker.port, reconnect_min_s=3, reconnect_max_s=3)
    up = Uplink(cfg, "n3", SystemClock())
    up.start()
    assert up.wait_connected(10)
    broker.stop()
    wait_until(lambda: not up.state().connected, 10, "the uplink to notice the broker is gone")
    wait_until(lambda: not sub.connected.is_set(), 10, "the subscriber to notice the broker is gone")
    sub.subscribed.clear()
    assert up.publish(up.topics.event("tamper"), b'{"n":1}', qos=1, hold_offline=True)
    assert not up.publish(up.topics.health, b"{}"), "health is not held while offline"
    broker.start()
    assert sub.subscribed.wait(10)
    assert up.state().connects == 1, "the uplink reconnected before the subscriber; the test cannot tell"
    msg = sub.expect(lambda m: True, 15, "the held event after reconnecting")
    assert msg.topic == "cams/n3/event/tamper"
    assert msg.payload == b'{"n":1}'
    assert up.state().connects == 2
    up.stop()
    sub.close()
