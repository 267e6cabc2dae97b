"""Soak: the node on the synthetic camera for ``SOAK_SECONDS`` while its broker is bounced; loss and memory.

``make soak`` (or ``python -m bench.soak``). The broker (mosquitto with persistence, as a central broker
runs) is stopped every ``SOAK_BOUNCE_EVERY_S`` (default 120) for ``SOAK_DOWN_S`` (default 20). A
persistent-session subscriber (what the centre runs) de-duplicates by ``msg_id`` and collects
``(stream, seq)``. After the run the node is stopped with SIGTERM once its outbox has drained, and what it
produced is read from its own outbox (``streams.last_seq``, ``dropped``, undelivered rows):

- loss: per stream, sequence numbers produced but never delivered. ``health`` is coalesced by design
  (only the newest report survives an outage), so its gaps are listed but are not loss;
- memory: the node's RSS sampled every ``SOAK_SAMPLE_S`` (default 5); the slope (least squares, MiB/h)
  over the samples after the first 20 % of the run or the first minute, whichever is longer (start-up
  allocations: libx264's buffers, the first segments, excluded).

So that streams other than the coalesced health are exercised, a signed ``ping`` command (development
central key) is published every ``SOAK_COMMAND_EVERY_S`` (default 2) while the broker is up: each one is
answered on ``cmd/result`` and audited, both through the outbox.

Writes ``bench/soak.json`` and prints a summary. Exit status 1 when anything was lost.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from bench.node_run import NodeRun, demo_config
from edge.ctl.send import make_request
from edge.storage.keys import load_ed25519_private
from tests.broker import Broker
from tests.mqtt_client import Subscriber

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
COALESCED_STREAMS = frozenset({"health"})


def _env_float(name: str, default: float) -> float:
    return float(os.environ.get(name, str(default)))


@dataclass
class Collected:
    seqs: dict[str, set[int]] = field(default_factory=dict)
    msg_ids: set[str] = field(default_factory=set)
    duplicates: int = 0

    def take(self, sub: Subscriber) -> None:
        while True:
            try:
                msg = sub.messages.get_nowait()
            except queue.Empty:
                return
            if msg.retain or msg.topic.endswith(("/status", "/cmd")):
                continue  # the retained status and our own requests are not outbox messages
            doc = msg.json()
            if doc["msg_id"] in self.msg_ids:
                self.duplicates += 1
                continue
            self.msg_ids.add(doc["msg_id"])
            self.seqs.setdefault(doc["stream"], set()).add(int(doc["seq"]))


def persistent_broker(workdir: Path) -> Broker:
    template = (HERE.parent / "tests" / "mosquitto" / "mosquitto.conf").read_text()
    store = workdir / "mosquitto-db"
    store.mkdir()
    persist = f"persistence true\npersistence_location {store}/\nuser root"
    conf = template.replace("persistence false", persist)
    return Broker(workdir, conf_template=conf)


class Commander:
    """Publishes signed ``ping`` requests to the node, as the centre would."""

    def __init__(self, broker: Broker, topic: str, key_file: Path) -> None:
        self._key = load_ed25519_private(key_file)
        self._topic = topic
        self.sent = 0
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
        self._client.reconnect_delay_set(1, 1)
        self._client.connect_async(broker.host, broker.port, keepalive=10)
        self._client.loop_start()

    def ping(self) -> None:
        if not self._client.is_connected():
            return
        doc = make_request("ping", {}, self._key, issuer="op:soak")
        if self._client.publish(self._topic, json.dumps(doc), qos=1).rc == mqtt.MQTT_ERR_SUCCESS:
            self.sent += 1

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


def rss_slope_mib_per_h(samples: list[tuple[float, float]]) -> float:
    if len(samples) < 2:
        return 0.0
    n = len(samples)
    mt = sum(t for t, _ in samples) / n
    mr = sum(r for _, r in samples) / n
    var = sum((t - mt) ** 2 for t, _ in samples)
    if var == 0:
        return 0.0
    return sum((t - mt) * (r - mr) for t, r in samples) / var * 3600


def produced(outbox: Path) -> tuple[dict[str, int], dict[str, int], int]:
    """(last seq per stream, dropped by policy per stream, undelivered rows) from the node's outbox."""
    db = sqlite3.connect(outbox)
    try:
        last = {str(s): int(n) for s, n in db.execute("SELECT stream, last_seq FROM streams")}
        dropped = {str(s): int(n) for s, n in db.execute("SELECT stream, count FROM dropped")}
        (left,) = db.execute("SELECT count(*) FROM messages").fetchone()
    finally:
        db.close()
    return last, dropped, int(left)


@dataclass(frozen=True)
class Knobs:
    seconds: float
    bounce_every_s: float
    down_s: float
    sample_s: float
    command_every_s: float

    @classmethod
    def from_env(cls) -> Knobs:
        return cls(
            seconds=_env_float("SOAK_SECONDS", 3600),
            bounce_every_s=_env_float("SOAK_BOUNCE_EVERY_S", 120),
            down_s=_env_float("SOAK_DOWN_S", 20),
            sample_s=_env_float("SOAK_SAMPLE_S", 5),
            command_every_s=_env_float("SOAK_COMMAND_EVERY_S", 2),
        )


def drain_and_stop(node: NodeRun, sub: Subscriber, collected: Collected, outbox: Path) -> int:
    """Let the outbox drain (broker up), then stop the node; its outbox then says what it produced."""
    drain_deadline = time.monotonic() + 60
    while time.monotonic() < drain_deadline and produced(outbox)[2] > 1:
        collected.take(sub)
        time.sleep(0.5)
    exit_code = node.close()
    settle = time.monotonic() + 5
    while time.monotonic() < settle:  # the last PUBACKed messages on their way to the subscriber
        collected.take(sub)
        time.sleep(0.2)
    return exit_code


def soak(workdir: Path, knobs: Knobs) -> dict[str, Any]:
    seconds, bounce_every_s, down_s = knobs.seconds, knobs.bounce_every_s, knobs.down_s
    sample_s, command_every_s = knobs.sample_s, knobs.command_every_s
    broker = persistent_broker(workdir)
    broker.start()
    sub = Subscriber(broker.host, broker.port, "cams/#", persistent_id="soak-centre")
    collected = Collected()
    config = demo_config(workdir, broker, width=1280, height=720, fps=25)
    node = NodeRun(workdir, config)
    commander = Commander(broker, f"cams/{config['node']['id']}/cmd", workdir / "keys" / "central_sign.key")
    rss: list[tuple[float, float]] = []
    bounces = 0
    t0 = time.monotonic()
    next_bounce = t0 + bounce_every_s
    next_sample = t0 + sample_s
    next_command = t0 + 10  # once the node is up
    try:
        while (now := time.monotonic()) < t0 + seconds:
            if node.proc.poll() is not None:
                raise RuntimeError(f"the node exited with {node.proc.returncode}; see {node.log_path}")
            if now >= next_sample:
                rss.append((now - t0, node.rss_mib()))
                next_sample = now + sample_s
            if now >= next_command:
                commander.ping()
                next_command = now + command_every_s
            if now >= next_bounce and now + down_s < t0 + seconds:
                log.info("soak: broker down for %.0f s (bounce %d)", down_s, bounces + 1)
                broker.stop()
                time.sleep(down_s)  # the outage itself
                broker.start()
                bounces += 1
                next_bounce += bounce_every_s
            collected.take(sub)
            time.sleep(min(0.5, max(0.0, min(next_sample, next_bounce, next_command) - time.monotonic())))
        cpu_s = node.cpu_s()
        peak = node.peak_rss_mib()
        outbox = Path(config["node"]["state_dir"]) / "outbox.sqlite"
        exit_code = drain_and_stop(node, sub, collected, outbox)
    finally:
        commander.close()
        node.close()
        sub.close()
        broker.stop()
    last, dropped, undelivered = produced(outbox)
    return {
        "soak_seconds": round(seconds),
        "broker_bounces": bounces,
        "broker_down_s": down_s,
        "commands_sent": commander.sent,
        **losses(last, dropped, collected),
        "undelivered_at_stop": undelivered,
        "duplicates_delivered": collected.duplicates,
        **memory(rss, seconds, peak),
        "cpu_cores": round(cpu_s / seconds, 2),
        "node_exit_code": exit_code,
    }


def losses(last: dict[str, int], dropped: dict[str, int], collected: Collected) -> dict[str, Any]:
    streams: dict[str, Any] = {}
    lost_total = 0
    for stream in sorted(set(last) | set(collected.seqs)):
        got = collected.seqs.get(stream, set())
        missing = sorted(set(range(1, last.get(stream, 0) + 1)) - got)
        coalesced = stream in COALESCED_STREAMS
        if not coalesced:
            lost_total += len(missing)
        streams[stream] = {
            "produced": last.get(stream, 0),
            "delivered": len(got),
            "gaps": len(missing),
            "gaps_are": "coalesced (by design)" if coalesced else "loss (must be 0)",
            "dropped_by_policy": dropped.get(stream, 0),
        }
    return {"streams": streams, "lost": lost_total}


def memory(rss: list[tuple[float, float]], seconds: float, peak: float) -> dict[str, Any]:
    warm = [s for s in rss if s[0] >= max(0.2 * seconds, 60.0)]
    return {
        "rss_start_mib": round(rss[0][1], 1) if rss else None,
        "rss_end_mib": round(rss[-1][1], 1) if rss else None,
        "rss_peak_mib": round(peak, 1),
        "rss_slope_mib_per_h": round(rss_slope_mib_per_h(warm), 1),
        "rss_samples": [(round(t, 1), round(r, 1)) for t, r in rss],
    }


def summary(result: dict[str, Any]) -> str:
    lines = [
        f"soak {result['soak_seconds']} s, broker bounced {result['broker_bounces']}x "
        f"(down {result['broker_down_s']:.0f} s each), {result['commands_sent']} commands sent, "
        f"node exit {result['node_exit_code']}",
        f"{'stream':<10} {'produced':>9} {'delivered':>9} {'gaps':>5}  note",
    ]
    for name, s in result["streams"].items():
        lines.append(f"{name:<10} {s['produced']:>9} {s['delivered']:>9} {s['gaps']:>5}  {s['gaps_are']}")
    lines.append(
        f"lost: {result['lost']}   duplicates delivered (de-duplicated): {result['duplicates_delivered']}"
    )
    lines.append(
        f"RSS {result['rss_start_mib']} → {result['rss_end_mib']} MiB (peak {result['rss_peak_mib']}), "
        f"slope {result['rss_slope_mib_per_h']} MiB/h; CPU {result['cpu_cores']} cores"
    )
    return "\n".join(lines)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    with tempfile.TemporaryDirectory() as tmp:
        result = soak(Path(tmp), Knobs.from_env())
    out = HERE / "soak.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(summary(result))
    print(f"written to {out}", file=sys.stderr)
    return 1 if result["lost"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
