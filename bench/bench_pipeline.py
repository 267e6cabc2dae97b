"""The whole node at 1080p25: the real process on the demo configuration, recording on, private broker.

``pipeline_1080p25``: sustained frame rate (camera frames delivered per second of node uptime, from two
health reports ``EDGE_BENCH_PIPELINE_S`` apart, default 60), frames dropped by any stage plus frames the
recorder lost, CPU cores used by the node process (utime + stime from /proc over the same window) and its
peak RSS. Baseline: the synthetic camera alone, rendering 1080p frames as fast as it can in this process
(what the node's capture thread can at most deliver on this machine).
"""

from __future__ import annotations

import os
import queue
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

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


def _pipeline(workdir: Path, window_s: float) -> dict[str, object]:
    broker = Broker(workdir)
    broker.start()
    node: NodeRun | None = None
    sub = Subscriber(broker.host, broker.port, "cams/+/health")
    try:
        node = NodeRun(workdir, demo_config(workdir, broker, width=WIDTH, height=HEIGHT, fps=FPS))
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
        }
    finally:
        sub.close()
        if node is not None:
            node.close()
        broker.stop()


def run() -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        result = _pipeline(Path(tmp), _window_s())
    return {"pipeline_1080p25": result, "pipeline_baseline_camera_alone_1080p": _camera_alone()}
