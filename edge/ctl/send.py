"""``edgectl send``: sign a command with the central signing key, publish it, print the node's result."""

from __future__ import annotations

import datetime as dt
import json
import queue
import threading
import uuid
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from paho.mqtt.enums import CallbackAPIVersion

from edge.commands.signing import sign_request
from edge.ctl.receive import ClipReceiver
from edge.errors import EdgeError


def _wait_for_clip(receiver: ClipReceiver, clip_id: str, progress: threading.Event, idle_s: float) -> None:
    """Until the clip is complete; gives up after ``idle_s`` without a new chunk."""
    while receiver.missing(clip_id) != []:
        if not progress.wait(idle_s):
            missing = receiver.missing(clip_id)
            what = "the meta" if missing is None else f"{len(missing)} chunk(s)"
            raise EdgeError(
                f"clip {clip_id}: still waiting for {what} after {idle_s:g} s; run again with resend_clip"
            )
        progress.clear()


def _iso(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def make_request(
    name: str,
    args: dict[str, Any],
    key: Ed25519PrivateKey,
    *,
    issuer: str,
    validity_s: float = 60.0,
    request_id: str | None = None,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """A signed request document."""
    issued = now or dt.datetime.now(dt.UTC)
    doc = {
        "id": request_id or uuid.uuid4().hex,
        "name": name,
        "args": args,
        "issued_at": _iso(issued),
        "expires_at": _iso(issued + dt.timedelta(seconds=validity_s)),
        "issuer": issuer,
    }
    return sign_request(doc, key)


@dataclass(frozen=True, slots=True)
class SendOptions:
    host: str
    port: int
    prefix: str
    node: str
    timeout_s: float


class CommandSession:
    """One broker connection to one node for any number of commands (``hotlist send`` sends hundreds).

    Subscribes to the node's results (and, with ``receiver``, its clip chunks) before anything is
    published, so no result can be missed. Use as a context manager; ``EdgeError`` when the broker
    cannot be reached."""

    def __init__(self, opts: SendOptions, receiver: ClipReceiver | None = None) -> None:
        self._opts = opts
        self._root = f"{opts.prefix}/{opts.node}"
        self._receiver = receiver
        self._lock = threading.Lock()
        self._waiting: dict[str, queue.Queue[dict[str, Any]]] = {}
        self._subscribed = threading.Event()
        self._clip_progress = threading.Event()
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message
        self._client.on_subscribe = lambda *_: self._subscribed.set()

    def __enter__(self) -> CommandSession:
        self._client.connect_async(self._opts.host, self._opts.port, keepalive=30)
        self._client.loop_start()
        if not self._subscribed.wait(min(self._opts.timeout_s, 10.0)):
            self.close()
            raise EdgeError(f"could not connect to the broker at {self._opts.host}:{self._opts.port}")
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def _on_connect(self, client: mqtt.Client, *_: object) -> None:
        client.subscribe(f"{self._root}/cmd/result", qos=1)
        if self._receiver is not None:
            client.subscribe(f"{self._root}/clip/#", qos=1)

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        try:
            doc = json.loads(msg.payload)
        except ValueError:
            return
        if not isinstance(doc, dict):
            return
        if msg.topic.endswith("/cmd/result"):
            with self._lock:
                waiting = self._waiting.get(str(doc.get("id")))
            if waiting is not None:
                waiting.put(doc)
        elif self._receiver is not None:
            self._receiver.offer(doc)
            self._clip_progress.set()

    def call(self, request: dict[str, Any]) -> dict[str, Any]:
        """Publish ``request`` on ``<prefix>/<node>/cmd`` and return its ``cmd/result`` document. When the
        result names a ``clip_id`` and the session has a receiver, waits (``timeout_s`` again) until that
        clip is complete and assembles it. ``EdgeError`` on timeout."""
        request_id = str(request["id"])
        results: queue.Queue[dict[str, Any]] = queue.Queue()
        with self._lock:
            self._waiting[request_id] = results
        try:
            wire = json.dumps(request, separators=(",", ":")).encode()
            self._client.publish(f"{self._root}/cmd", wire, qos=1)
            try:
                result = results.get(timeout=self._opts.timeout_s)
            except queue.Empty:
                raise EdgeError(f"no result for {request_id} within {self._opts.timeout_s:g} s") from None
        finally:
            with self._lock:
                del self._waiting[request_id]
        clip_id = (result.get("data") or {}).get("clip_id") if result.get("ok") else None
        if self._receiver is not None and isinstance(clip_id, str):
            _wait_for_clip(self._receiver, clip_id, self._clip_progress, self._opts.timeout_s)
            result = {**result, "received": str(self._receiver.assemble(clip_id))}
        return result


def send_and_wait(
    opts: SendOptions, request: dict[str, Any], receiver: ClipReceiver | None = None
) -> dict[str, Any]:
    """One command over a connection of its own (``CommandSession.call``)."""
    with CommandSession(opts, receiver) as session:
        return session.call(request)
