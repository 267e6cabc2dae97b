"""``edgectl listen``: subscribe to nodes' topics and print each message as it arrives.

Messages from the node's outbox carry ``msg_id``/``stream``/``seq``: redeliveries are dropped (counted
at exit) and gaps in a stream's sequence are printed (``SequenceTracker``)."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge.ctl.dedup import SequenceTracker
from edge.ctl.render import paint, summarise


@dataclass(frozen=True, slots=True)
class ListenOptions:
    host: str
    port: int
    prefix: str
    node: str
    """A node id, or ``+`` for every node."""
    raw: bool
    count: int | None
    """Exit after this many messages."""
    timeout_s: float | None
    """Exit with code 1 when nothing arrives for this long."""
    colour: bool


def listen(opts: ListenOptions, write: Callable[[str], None], stop: threading.Event) -> int:
    """Print messages until ``stop`` is set, ``count`` messages arrived, or ``timeout_s`` passed idle."""
    received = 0
    got = threading.Event()
    done = threading.Event()
    lock = threading.Lock()

    def on_connect(client: mqtt.Client, _u: object, _f: object, reason: object, _p: object) -> None:
        client.subscribe(f"{opts.prefix}/{opts.node}/#", qos=1)
        write(
            paint(
                f"-- subscribed to {opts.prefix}/{opts.node}/# on {opts.host}:{opts.port}", "dim", opts.colour
            )
        )

    def on_disconnect(_c: mqtt.Client, _u: object, _f: object, reason: object, _p: object) -> None:
        if not stop.is_set():
            write(paint(f"-- broker connection lost ({reason}); reconnecting", "dim", opts.colour))

    tracker = SequenceTracker()

    def on_message(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        nonlocal received
        node, _, kind = msg.topic.removeprefix(f"{opts.prefix}/").partition("/")
        notes = tracker.notes_for(node, bytes(msg.payload))
        if notes is None:
            return  # a redelivery of a message already shown
        lines = [paint(f"-- {node}: {note}", "dim", opts.colour) for note in notes]
        lines.append(_line(opts, msg, node, kind))
        with lock:
            for line in lines:
                write(line)
            received += 1
            if opts.count is not None and received >= opts.count:
                done.set()
        got.set()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    client.on_connect = on_connect
    client.on_disconnect = on_disconnect
    client.on_message = on_message
    client.reconnect_delay_set(1, 5)
    client.connect_async(opts.host, opts.port, keepalive=30)
    client.loop_start()
    try:
        code = _wait(opts, stop, done, got, write)
    finally:
        client.disconnect()
        client.loop_stop()
    if tracker.duplicates or tracker.gaps:
        write(f"-- {tracker.duplicates} redelivered message(s) dropped, {tracker.gaps} sequence gap(s)")
    return code


def _line(opts: ListenOptions, msg: mqtt.MQTTMessage, node: str, kind: str) -> str:
    if opts.raw:
        return f"{msg.topic} {msg.payload.decode(errors='replace')}"
    now = dt.datetime.now().strftime("%H:%M:%S")
    retained = " (retained)" if msg.retain else ""
    return f"{now}  {node}  {kind:<8} {summarise(kind, bytes(msg.payload), opts.colour)}{retained}"


def _wait(
    opts: ListenOptions,
    stop: threading.Event,
    done: threading.Event,
    got: threading.Event,
    write: Callable[[str], None],
) -> int:
    while not stop.is_set() and not done.is_set():
        if opts.timeout_s is not None:
            if not got.wait(opts.timeout_s) and not done.is_set():
                write(f"no message within {opts.timeout_s:g} s")
                return 1
            got.clear()
        elif done.wait(0.2):
            break
    return 0
