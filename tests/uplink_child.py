"""A producer of uplink messages in miniature, run as a child process by the outbox kill test.

``python -m tests.uplink_child fill PORT STATE_DIR`` opens the real ``Uplink`` (broker on ``PORT`` down)
with an outbox bounded to ``MAX_MESSAGES`` and sends, in this order: ``CLIPS`` clip chunks, then reads
with a hit every tenth and a coalesced health every fifth, forever. It prints ``sent <stream> <stored>``
after each ``send`` returned (the message is then committed, or counted as dropped), and ``full`` once
the outbox reached its bound, flushing each line, so the parent can SIGKILL it mid-stream without
sleeping. ``MAX_SENDS`` keeps a parent that never kills it from hanging.

``python -m tests.uplink_child drain PORT STATE_DIR`` opens the same outbox with the broker up, waits
until every stored message was acknowledged, prints ``drained`` and stops cleanly.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from edge.clock import SystemClock
from edge.config import MqttConfig, OutboxConfig
from edge.uplink import Uplink
from edge.uplink.outbox import Priority

NODE_ID = "kill-node"
MAX_MESSAGES = 200
CLIPS = 120
MAX_SENDS = 20_000


def open_uplink(port: int, state_dir: Path) -> Uplink:
    cfg = MqttConfig(
        host="127.0.0.1",
        port=port,
        keepalive_s=5,
        reconnect_min_s=0.2,
        reconnect_max_s=1,
        max_inflight=10,
        outbox=OutboxConfig(max_messages=MAX_MESSAGES, max_bytes=64 * 1024**2),
    )
    return Uplink(cfg, NODE_ID, SystemClock(), state_dir / "outbox.sqlite")


def fill(up: Uplink) -> int:
    t = up.topics
    announced = False
    for i in range(MAX_SENDS):
        if i < CLIPS:
            stream, topic, prio = "clip", t.clip(f"clip/c1/chunk/{i}"), Priority.CLIP
        elif i % 10 == 0:
            stream, topic, prio = "hit", f"{t.root}/anpr/hit", Priority.HOTLIST_HIT
        elif i % 5 == 0:
            stream, topic, prio = "health", t.health, Priority.HEALTH
        else:
            stream, topic, prio = "read", f"{t.root}/anpr/read", Priority.PLATE_READ
        stored = up.send(stream, topic, {"i": i}, prio, coalesce=stream == "health")
        print(f"sent {stream} {stored}", flush=True)
        if not announced and up.outbox.state().depth >= MAX_MESSAGES:
            announced = True
            print("full", flush=True)
    return 1


def drain(up: Uplink) -> int:
    if not up.wait_connected(20):
        print("no broker", flush=True)
        return 1
    deadline = time.monotonic() + 60
    while up.outbox.state().depth and time.monotonic() < deadline:
        time.sleep(0.05)
    depth = up.outbox.state().depth
    print("drained" if depth == 0 else f"left {depth}", flush=True)
    up.stop()
    return 0 if depth == 0 else 1


def main(argv: list[str]) -> int:
    mode, port, state_dir = argv[0], int(argv[1]), Path(argv[2])
    up = open_uplink(port, state_dir)
    up.start()
    return fill(up) if mode == "fill" else drain(up)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
