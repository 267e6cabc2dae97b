"""A test-side MQTT subscriber that hands messages to the test thread through a queue."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


@dataclass(frozen=True)
class Message:
    topic: str
    payload: bytes
    retain: bool
    received_s: float = 0.0
    """``time.monotonic()`` when the subscriber's network thread got it."""

    def json(self) -> Any:
        return json.loads(self.payload)


class Subscriber:
    """Subscribes to ``topic`` and keeps reconnecting, so it survives broker restarts."""

    def __init__(self, host: str, port: int, topic: str, persistent_id: str | None = None) -> None:
        """``persistent_id``: a fixed client id with a persistent session (clean_session false), so the
        broker keeps QoS 1 messages for it while it is away — what a central consumer does."""
        self.messages: queue.Queue[Message] = queue.Queue()
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self._topic = topic
        if persistent_id is None:
            self._client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
        else:
            self._client = mqtt.Client(
                CallbackAPIVersion.VERSION2,
                client_id=persistent_id,
                clean_session=False,
                protocol=mqtt.MQTTv311,
            )
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = lambda *_: self.connected.clear()
        self._client.on_message = lambda _c, _u, m: self.messages.put(
            Message(m.topic, bytes(m.payload), bool(m.retain), time.monotonic())
        )
        self._client.on_subscribe = lambda *_: self.subscribed.set()
        self._client.reconnect_delay_set(1, 1)
        self._client.connect_async(host, port, keepalive=10)
        self._client.loop_start()
        assert self.subscribed.wait(10), "test subscriber could not connect and subscribe"

    def _on_connect(self, client: mqtt.Client, *_: object) -> None:
        client.subscribe(self._topic, qos=1)
        self.connected.set()

    def expect(self, predicate: Callable[[Message], bool], timeout_s: float, what: str) -> Message:
        """The first message (in arrival order) that satisfies ``predicate``; fails after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {what} within {timeout_s} s")
            try:
                msg = self.messages.get(timeout=remaining)
            except queue.Empty:
                continue
            if predicate(msg):
                return msg

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


def wait_until(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Poll a state that has no event of its own (e.g. a flag set on another thread) with a deadline."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.02)
