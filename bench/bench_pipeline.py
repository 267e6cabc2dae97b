"""The whole node at 1080p25: the real process on the demo configuration, recording on, private broker.

``pipeline_1080p25``: sustained frame rate (camera frames delivered per second of node uptime, from two
health reports ``EDGE_BENCH_PIPELINE_S`` apart, default 60), frames dropped by any stage plus frames the
recorder lost, CPU cores used by the node process (utime + stime from /proc over the same window) and its
peak RSS. Baseline: the synthetic camera alone, rendering 1080p frames as fast as it can in this process
(what the node's capture thread can at most deliver on this machine).

``e2e_read_latency_ms_p50`` / ``_p95``: for every plate read published in the same window (the demo
configuration runs ANPR with its counting line), the subscriber's wall-clock arrival time minus the read's
``last_seen`` (the frame where the vehicle was last observed: it has crossed the line and is leaving the
road region). It includes the tracker's wait for the vehicle to be gone (``anpr.max_gap_s``), the vote,
the record's JPEG encoding, the outbox and the broker. ``e2e_read_latency_from_best_ms_p50`` measures from
the read's ``ts`` (the frame of its best observation) instead.

``e2e_read_latency_on_cross_ms_p50`` / ``_p95``: the same with ``anpr.emit_on_cross`` (a pass goes out when
its vehicle crosses the line; its ``last_seen`` is then the crossing frame), in a second, shorter run
(``EDGE_BENCH_ON_CROSS_S``, default 40 s) of the same node; baseline: the default figures above.
"""

from __future__ import annotations

import datetime as dt
import os
import queue
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.node_run import NodeRun, demo_config
from edge.capture.synthetic import SyntheticStreetCamera
from edge.clock import FakeClock
from edge.config import SyntheticCameraConfig
from tests.broker import Broker
from tests.mqtt_client import Subscriber

WIDTH, HEIGHT, FPS = 1920, 1080, 25
BASELINE_FRAMES = 50


def _window_s() -> float:
    return float(os.environ.get("EDGE_BENCH_PIPELINE_S", "60"))


def _next_health(sub: Subscriber, timeout_s: float) -> dict[str, Any]:
    doc: dict[str, Any] = sub.expect(lambda m: m.topic.endswith("/health"), timeout_s, "health").json()
    return doc


def _drops(doc: dict[str, Any]) -> int:
    stages = sum(int(s["dropped"]) for s in doc["stages"].values())
    recorder = doc["recording"]["recorder"] or {}
    return stages + int(recorder.get("frames_lost", 0))


def _utc_s(stamp: str) -> float:
    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def _read_latency(reads: Subscriber) -> dict[str, object]:
    """Arrival minus ``last_seen`` / ``ts`` of every read received so far, in milliseconds."""
    from_last, from_best = [], []
    while True:
        try:
            m = reads.messages.get_nowait()
        except queue.Empty:
            break
        arrived = time.time() - (time.monotonic() - m.received_s)  # the arrival, on the wall clock
        doc = m.json()
        from_last.append((arrived - _utc_s(doc["last_seen"])) * 1000)
        from_best.append((arrived - _utc_s(doc["ts"])) * 1000)
    if not from_last:
        return {"reads": 0}
    return {
        "reads": len(from_last),
        "e2e_read_latency_ms_p50": round(float(np.percentile(from_last, 50)), 1),
        "e2e_read_latency_ms_p95": round(float(np.percentile(from_last, 95)), 1),
        "e2e_read_latency_from_best_ms_p50": round(float(np.percentile(from_best, 50)), 1),
    }


def _camera_alone() -> dict[str, float]:
    camera = SyntheticStreetCamera(
        SyntheticCameraConfig(type="synthetic", width=WIDTH, height=HEIGHT, fps=FPS, realtime=False),
        FakeClock(),
    )
    camera.open()
    camera.read()
    usage0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    for _ in range(BASELINE_FRAMES):
        camera.read()
    wall = time.perf_counter() - t0
    usage1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage1.ru_utime + usage1.ru_stime - usage0.ru_utime - usage0.ru_stime
    camera.close()
    return {
        "render_fps": round(BASELINE_FRAMES / wall, 1),
        "cpu_ms_per_frame": round(1e3 * cpu / BASELINE_FRAMES, 1),
    }


def _on_cross_window_s() -> float:
    return float(os.environ.get("EDGE_BENCH_ON_CROSS_S", "40"))


def _pipeline(workdir: Path, window_s: float, *, emit_on_cross: bool = False) -> dict[str, object]:
    broker = Broker(workdir)
    broker.start()
    node: NodeRun | None = None
    sub = Subscriber(broker.host, broker.port, "cams/+/health")
    reads = Subscriber(broker.host, broker.port, "cams/+/anpr/read")
    try:
        config = demo_config(workdir, broker, width=WIDTH, height=HEIGHT, fps=FPS)
        config["anpr"]["emit_on_cross"] = emit_on_cross
        node = NodeRun(workdir, config)
        first = sub.expect(
            lambda m: (
                m.topic.endswith("/health")
                and m.json()["camera"]["state"] == "streaming"
                and m.json()["uptime_s"] > 5
            ),  # past start-up (imports, first segment)
            120,
            "streaming health",
        ).json()
        cpu0, t0 = node.cpu_s(), time.monotonic()
        time.sleep(window_s)  # the measured window itself, not a synchronisation
        while True:  # the newest report at or after the window's end
            try:
                sub.messages.get_nowait()
            except queue.Empty:
                break
        last = _next_health(sub, 30)
        cpu1, t1 = node.cpu_s(), time.monotonic()
        latency = _read_latency(reads)
        uptime = float(last["uptime_s"]) - float(first["uptime_s"])
        frames = int(last["camera"]["frames_total"]) - int(first["camera"]["frames_total"])
        return {
            "fps": round(frames / uptime, 2),
            "target_fps": FPS,
            "window_s": round(uptime, 1),
            "frames": frames,
            "drops": _drops(last) - _drops(first),
            "cpu_cores": round((cpu1 - cpu0) / (t1 - t0), 2),
            "peak_rss_mib": round(node.peak_rss_mib(), 1),
            "verdict": last["verdict"],
            "reasons": last["reasons"],
            "segments_written": (last["recording"]["recorder"] or {}).get("segments_written", 0),
            **latency,
        }
    finally:
        sub.close()
        reads.close()
        if node is not None:
            node.close()
        broker.stop()


def run() -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        result = _pipeline(Path(tmp), _window_s())
    with tempfile.TemporaryDirectory() as tmp:
        on_cross = _pipeline(Path(tmp), _on_cross_window_s(), emit_on_cross=True)
    return {
        "pipeline_1080p25": result,
        "e2e_read_latency_ms_p50": result.get("e2e_read_latency_ms_p50"),
        "e2e_read_latency_ms_p95": result.get("e2e_read_latency_ms_p95"),
        "e2e_read_latency_on_cross_ms_p50": on_cross.get("e2e_read_latency_ms_p50"),
        "e2e_read_latency_on_cross_ms_p95": on_cross.get("e2e_read_latency_ms_p95"),
        "pipeline_on_cross_reads": on_cross.get("reads"),
        "pipeline_baseline_camera_alone_1080p": _camera_alone(),
    }
