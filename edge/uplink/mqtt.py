"""``Uplink``: the node's single MQTT client.

It never claims to be connected when it is not (state changes only in paho's connect/disconnect
callbacks), publishes a retained ``status`` of ``online`` on every (re)connect with a retained
``offline`` last will, and bounds paho's in-flight window and queue (unbounded by default).

Everything else goes through the durable ``Outbox`` (``send``): one thread, ``uplink-sender``, claims
messages in priority order while connected, keeps at most ``mqtt.max_inflight`` of them in paho's hands,
and deletes a message only when paho reports the broker's PUBACK for its mid. paho keeps unacknowledged
QoS 1 messages across reconnects and resends them itself, so the mid → row mapping survives reconnects;
after a restart the outbox simply sends every stored row again (the centre de-duplicates by ``msg_id``).

Clip bandwidth cap (``mqtt.clip_max_bytes_per_s``): the sender draws ``Priority.CLIP`` rows against a
``TokenBucket`` and leaves them in the outbox while it is empty; every other priority is claimed as before,
so hits, events, reads and health never queue behind a clip. The cap is applied where messages leave the
outbox, so it also paces clips resent after an outage or a restart.
"""

from __future__ import annotations

import logging
import queue
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from edge.clock import Clock
from edge.config import MqttConfig
from edge.errors import UplinkError
from edge.uplink.outbox import OVERFLOW_KIND, Outbox, OutboxState, Priority
from edge.uplink.payloads import event_doc, status_payload
from edge.uplink.ratelimit import TokenBucket
from edge.uplink.topics import Topics

log = logging.getLogger(__name__)

QUARANTINED_KIND = "outbox_quarantined"


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
    """Direct (non-outbox) publishes refused because the broker was unreachable."""
    inflight: int
    outbox: OutboxState


class Uplink:
    """Owns the paho client and the outbox. Thread-safe: ``send`` and ``publish`` may be called from any
    thread."""

    def __init__(self, config: MqttConfig, node_id: str, clock: Clock, outbox_path: Path) -> None:
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
        self.outbox = Outbox(
            outbox_path,
            max_messages=config.outbox.max_messages,
            max_bytes=config.outbox.max_bytes,
            time_ns=clock.time_ns,
            overflow_report=self._overflow_event,
        )
        if self.outbox.quarantined is not None:
            # A corrupt outbox was moved aside at start: the centre hears of it (what it held is lost).
            body = event_doc(
                node_id,
                clock.time_ns(),
                {
                    "kind": QUARANTINED_KIND,
                    "source": "uplink",
                    "cause": "outbox_corrupt",
                    "measured": {},
                    "mask_id": "",
                    "actor": "",
                },
            )
            self.outbox.enqueue("event", self.topics.event(QUARANTINED_KIND), body, Priority.EVENT)
        # Written by paho's network thread, read by the sender: no lock shared with paho's own mutexes
        # (paho calls on_publish while holding its message mutex, and publish() takes that mutex).
        self._acked: queue.SimpleQueue[int] = queue.SimpleQueue()
        self._inflight: dict[int, int] = {}
        """mid → outbox row id; touched only by the sender thread."""
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._drain_until = 0.0
        self._clip_bucket = TokenBucket(config.clip_max_bytes_per_s, time.monotonic())
        self._subscriptions: dict[str, Callable[[bytes], None]] = {}
        self._sender = threading.Thread(target=self._send_loop, name="uplink-sender", daemon=True)

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
        # Two slots above the outbox's window for the retained status messages.
        client.max_inflight_messages_set(config.max_inflight + 2)
        client.max_queued_messages_set(max(config.max_queued, config.max_inflight + 2))
        client.reconnect_delay_set(
            min_delay=max(1, round(config.reconnect_min_s)), max_delay=round(config.reconnect_max_s)
        )
        if config.tls is not None:
            # Verifies the broker's chain and host name; paho reads the files here, so a missing or bad
            # file is a start-up error (UplinkError), not a silent plain-text fallback.
            try:
                client.tls_set(
                    ca_certs=str(config.tls.ca_file),
                    certfile=str(config.tls.cert_file),
                    keyfile=str(config.tls.key_file),
                    cert_reqs=ssl.CERT_REQUIRED,
                    tls_version=ssl.PROTOCOL_TLS_CLIENT,
                )
            except (OSError, ssl.SSLError, ValueError) as exc:
                raise UplinkError(f"MQTT TLS files unusable: {exc}") from None
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        self._client = client

    @property
    def broker(self) -> str:
        return f"{self._config.host}:{self._config.port}"

    def start(self) -> None:
        """Connect in the background; paho's network thread reconnects by itself after any loss."""
        log.info("connecting to MQTT broker %s as %s", self.broker, self._node_id)
        self._client.connect_async(self._config.host, self._config.port, keepalive=self._config.keepalive_s)
        self._client.loop_start()
        self._sender.start()

    def subscribe(self, topic: str, handler: Callable[[bytes], None]) -> None:
        """Subscribe (QoS 1) now and after every reconnect; call before ``start``. ``handler`` runs on
        paho's network thread and must only hand the payload over (never block)."""
        self._subscriptions[topic] = handler
        self._client.message_callback_add(topic, lambda _c, _u, msg: handler(bytes(msg.payload)))

    def wait_connected(self, timeout_s: float) -> bool:
        return self._connected.wait(timeout_s)

    def send(
        self, stream: str, topic: str, body: dict[str, Any], priority: Priority, *, coalesce: bool = False
    ) -> bool:
        """Store a JSON message durably for delivery (QoS 1, at least once, ``msg_id``/``stream``/``seq``
        added). Never blocks on the network. False when the outbox's overflow policy dropped it."""
        stored = self.outbox.enqueue(stream, topic, body, priority, coalesce=coalesce)
        self._wake.set()
        return stored

    def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> bool:
        """Hand a message straight to the MQTT client, bypassing the outbox (for messages that are
        worthless later). Refused and counted while disconnected."""
        if not self._connected.is_set():
            with self._lock:
                self._dropped += 1
            return False
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        with self._lock:
            if info.rc == mqtt.MQTT_ERR_SUCCESS:
                self._published += 1
                return True
            self._dropped += 1
            self._last_error = mqtt.error_string(info.rc)
            return False

    def set_clip_rate(self, bytes_per_s: int) -> None:
        """Change the clip bandwidth cap at run time (0: none); takes effect at the sender's next claim."""
        self._clip_bucket.set_rate(bytes_per_s, time.monotonic())
        self._wake.set()

    def stop(self, timeout_s: float = 2.0) -> None:
        """Stop the sender (it goes on sending for up to ``timeout_s`` while connected; whatever is not
        acknowledged by then stays in the outbox for the next start), publish ``offline`` (a clean
        disconnect does not fire the will), then disconnect."""
        self._stopping = True
        self._drain_until = time.monotonic() + timeout_s
        self._stop.set()
        self._wake.set()
        if self._sender.is_alive():
            self._sender.join(timeout_s + 1.0)
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
        self.outbox.close()

    def state(self) -> UplinkState:
        outbox = self.outbox.state()
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
                outbox=outbox,
            )

    # the sender thread

    def _send_loop(self) -> None:
        while True:
            try:
                self._settle_acks()
                if self._stop.is_set() and self._drained():
                    return
                if self._connected.is_set():
                    self._feed()
            except Exception:  # one broad catch per loop: log, count, carry on
                log.exception("outbox sender failed; retrying")
                with self._lock:
                    self._last_error = "outbox sender error (see log)"
            # While the clip bucket is empty, wake when it holds tokens again (clips may be waiting).
            refill_s = self._clip_bucket.wait_s(time.monotonic())
            self._wake.wait(min(0.5, max(0.005, refill_s)) if refill_s else 0.5)
            self._wake.clear()

    def _drained(self) -> bool:
        """While stopping: done when everything was acknowledged, the broker is away, or time is up."""
        if not self._connected.is_set() or time.monotonic() > self._drain_until:
            return True
        return not self._inflight and self.outbox.state().depth == 0

    def _settle_acks(self) -> None:
        done: list[int] = []
        while True:
            try:
                mid = self._acked.get_nowait()
            except queue.Empty:
                break
            row_id = self._inflight.pop(mid, None)
            if row_id is not None:
                done.append(row_id)
        self.outbox.ack(done)

    def _feed(self) -> None:
        room = self._config.max_inflight - len(self._inflight)
        if room <= 0:
            return
        clip_budget = self._clip_bucket.available(time.monotonic())
        batch = self.outbox.claim(room, None if clip_budget is None else {Priority.CLIP: clip_budget})
        for i, msg in enumerate(batch):
            info = self._client.publish(msg.topic, msg.payload, qos=1)
            # NO_CONN: paho keeps the message and sends it after reconnecting, like an in-flight one.
            if info.rc in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
                self._inflight[info.mid] = msg.row_id
                if msg.priority is Priority.CLIP:
                    self._clip_bucket.take(len(msg.payload), time.monotonic())
                with self._lock:
                    self._published += 1
                continue
            # Refused (e.g. paho's queue is full): offer this one and the rest of the batch again later.
            for left in batch[i:]:
                self.outbox.unclaim(left.row_id)
            with self._lock:
                self._last_error = mqtt.error_string(info.rc)
            return

    def _overflow_event(self, totals: dict[str, int]) -> tuple[str, dict[str, Any]]:
        body = event_doc(
            self._node_id,
            self._clock.time_ns(),
            {
                "kind": OVERFLOW_KIND,
                "source": "uplink",
                "cause": "outbox_full",
                "measured": {f"dropped_{k}": float(v) for k, v in sorted(totals.items())},
                "mask_id": "",
                "actor": "",
            },
        )
        return self.topics.event(OVERFLOW_KIND), body

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
        for topic in self._subscriptions:
            client.subscribe(topic, qos=1)
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
        self._wake.set()
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

    def _on_publish(
        self,
        client: mqtt.Client,
        userdata: object,
        mid: int,
        reason: ReasonCode,
        properties: object,
    ) -> None:
        self._acked.put(mid)
        self._wake.set()
