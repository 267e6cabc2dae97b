"""``Uplink``: the node's single MQTT client.

It never claims to be connected when it is not (state changes only in paho's connect/disconnect
callbacks), publishes a retained ``status`` of ``online`` on every (re)connect with a retained
``offline`` last will, and bounds paho's in-flight window and queue (unbounded by default).

This is the minimal uplink: health published while disconnected is refused and counted (the next report
supersedes it); events are held in the client's bounded memory queue and sent after reconnecting. The
durable on-disk outbox will replace both with store-and-forward that survives restarts.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from edge.clock import Clock
from edge.config import MqttConfig
from edge.uplink.payloads import status_payload
from edge.uplink.topics import Topics

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class UplinkState:
    connected: bool
    broker: str
    connects: int
    """Successful connections so far (1 after the first connect; each reconnect adds one)."""
    disconnects: int
    last_error: str
    published: int
    dropped_offline: int
    """Publishes refused because the broker was unreachable."""
    inflight: int


class Uplink:
    """Owns the paho client. Thread-safe: ``publish`` may be called from any thread."""

    def __init__(self, config: MqttConfig, node_id: str, clock: Clock) -> None:
        self._config = config
        self._clock = clock
        self.topics = Topics(config.topic_prefix, node_id)
        self._node_id = node_id
        self._lock = threading.Lock()
        self._connected = threading.Event()
        self._connects = 0
        self._disconnects = 0
        self._last_error = ""
        self._published = 0
        self._dropped = 0
        self._stopping = False

        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"edge-{node_id}",
            clean_session=True,
            protocol=mqtt.MQTTv311,
        )
        client.will_set(
            self.topics.status,
            status_payload(node_id, "offline", None, "connection lost (last will)"),
            qos=1,
            retain=True,
        )
        client.max_inflight_messages_set(config.max_inflight)
        client.max_queued_messages_set(config.max_queued)
        client.reconnect_delay_set(
            min_delay=max(1, round(config.reconnect_min_s)), max_delay=round(config.reconnect_max_s)
        )
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        self._client = client

    @property
    def broker(self) -> str:
        return f"{self._config.host}:{self._config.port}"

    def start(self) -> None:
        """Connect in the background; paho's network thread reconnects by itself after any loss."""
        log.info("connecting to MQTT broker %s as %s", self.broker, self._node_id)
        self._client.connect_async(self._config.host, self._config.port, keepalive=self._config.keepalive_s)
        self._client.loop_start()

    def wait_connected(self, timeout_s: float) -> bool:
        return self._connected.wait(timeout_s)

    def publish(
        self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False, hold_offline: bool = False
    ) -> bool:
        """Hand a message to the MQTT client. Returns False (and counts it) when it was refused.

        While disconnected, a message is refused unless ``hold_offline``: then the client keeps it in its
        bounded in-memory queue (``mqtt.max_queued``) and sends it after reconnecting. That survives broker
        outages, not restarts; the durable outbox will replace it.
        """
        if not self._connected.is_set() and not (hold_offline and qos > 0):
            with self._lock:
                self._dropped += 1
            return False
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        with self._lock:
            if info.rc == mqtt.MQTT_ERR_SUCCESS or (hold_offline and info.rc == mqtt.MQTT_ERR_NO_CONN):
                self._published += 1
                return True
            self._dropped += 1
            self._last_error = mqtt.error_string(info.rc)
            return False

    def stop(self, timeout_s: float = 2.0) -> None:
        """Publish ``offline`` (a clean disconnect does not fire the will), then disconnect."""
        self._stopping = True
        if self._connected.is_set():
            info = self._client.publish(
                self.topics.status,
                status_payload(self._node_id, "offline", self._clock.time_ns(), "shutdown"),
                qos=1,
                retain=True,
            )
            try:
                info.wait_for_publish(timeout_s)
            except (RuntimeError, ValueError) as exc:
                log.warning("could not publish offline status before disconnecting: %s", exc)
        self._client.disconnect()
        self._client.loop_stop()

    def state(self) -> UplinkState:
        with self._lock:
            return UplinkState(
                connected=self._connected.is_set(),
                broker=self.broker,
                connects=self._connects,
                disconnects=self._disconnects,
                last_error=self._last_error,
                published=self._published,
                dropped_offline=self._dropped,
                inflight=len(getattr(self._client, "_out_messages", {})),
            )

    # paho callbacks run on paho's network thread.

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        properties: object,
    ) -> None:
        if reason.is_failure:
            with self._lock:
                self._last_error = f"connect refused: {reason}"
            log.warning("broker %s refused the connection: %s", self.broker, reason)
            return
        client.publish(
            self.topics.status,
            status_payload(self._node_id, "online", self._clock.time_ns(), "connected"),
            qos=1,
            retain=True,
        )
        with self._lock:
            self._connects += 1
            self._last_error = ""
            first = self._connects == 1
        self._connected.set()
        log.info("%s to MQTT broker %s", "connected" if first else "reconnected", self.broker)

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        properties: object,
    ) -> None:
        was_connected = self._connected.is_set()
        self._connected.clear()
        if self._stopping:
            return
        with self._lock:
            if was_connected:
                self._disconnects += 1
            self._last_error = f"disconnected: {reason}"
        if was_connected:
            log.warning("lost MQTT broker %s (%s); reconnecting", self.broker, reason)
