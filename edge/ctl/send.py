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


def send_and_wait(
    opts: SendOptions, request: dict[str, Any], receiver: ClipReceiver | None = None
) -> dict[str, Any]:
    """Publish ``request`` on ``<prefix>/<node>/cmd`` and return the matching ``cmd/result`` document.

    Subscribes before publishing, so the result cannot be missed. With ``receiver``, clip chunks and
    metas are handed to it and, when the result names a ``clip_id``, this waits (``timeout_s`` again)
    until that clip is complete and assembles it. Raises ``EdgeError`` on timeout."""
    root = f"{opts.prefix}/{opts.node}"
    results: queue.Queue[dict[str, Any]] = queue.Queue()
    subscribed: queue.Queue[bool] = queue.Queue()
    clip_progress = threading.Event()

    def on_connect(client: mqtt.Client, *_: object) -> None:
        client.subscribe(f"{root}/cmd/result", qos=1)
        if receiver is not None:
            client.subscribe(f"{root}/clip/#", qos=1)

    def on_message(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        try:
            doc = json.loads(msg.payload)
        except ValueError:
            return
        if not isinstance(doc, dict):
            return
        if msg.topic.endswith("/cmd/result"):
            if doc.get("id") == request["id"]:
                results.put(doc)
        elif receiver is not None:
            receiver.offer(doc)
            clip_progress.set()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    client.on_connect = on_connect
    client.on_message = on_message
    client.on_subscribe = lambda *_: subscribed.put(True)
    client.connect_async(opts.host, opts.port, keepalive=30)
    client.loop_start()
    try:
        try:
            subscribed.get(timeout=min(opts.timeout_s, 10.0))
        except queue.Empty:
            raise EdgeError(f"could not connect to the broker at {opts.host}:{opts.port}") from None
        client.publish(f"{root}/cmd", json.dumps(request, separators=(",", ":")).encode(), qos=1)
        try:
            result = results.get(timeout=opts.timeout_s)
        except queue.Empty:
            raise EdgeError(f"no result for {request['id']} within {opts.timeout_s:g} s") from None
        clip_id = (result.get("data") or {}).get("clip_id") if result.get("ok") else None
        if receiver is not None and isinstance(clip_id, str):
            _wait_for_clip(receiver, clip_id, clip_progress, opts.timeout_s)
            result = {**result, "received": str(receiver.assemble(clip_id))}
        return result
    finally:
        client.disconnect()
        client.loop_stop()
