"""The whole node as a process: status, health, last will, reconnects, signals, systemd notify."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.broker import Broker
from tests.mqtt_client import Message, Subscriber
from tests.node_process import NodeProcess, node_config

TOPIC = "cams/test-node/#"


def status(state: str):  # type: ignore[no-untyped-def]
    return lambda m: m.topic == "cams/test-node/status" and m.json()["state"] == state


def health(m: Message) -> bool:
    return m.topic == "cams/test-node/health"


@pytest.fixture
def sub(broker: Broker) -> Iterator[Subscriber]:
    s = Subscriber(broker.host, broker.port, TOPIC)
    yield s
    s.close()


@pytest.fixture
def node(tmp_path: Path, broker: Broker) -> Iterator[NodeProcess]:
    n = NodeProcess(tmp_path, node_config(tmp_path, broker))
    yield n
    n.close()


def first_streaming_health(sub: Subscriber, timeout_s: float = 20) -> dict:  # type: ignore[type-arg]
    msg = sub.expect(lambda m: health(m) and m.json()["camera"]["state"] == "streaming", timeout_s, "health")
    doc: dict = msg.json()  # type: ignore[type-arg]
    return doc


def test_publishes_online_status_and_health(node: NodeProcess, sub: Subscriber) -> None:
    sub.expect(status("online"), 20, "online status")
    doc = sub.expect(
        lambda m: health(m) and m.json()["stages"]["preview"]["processed"] > 0, 20, "health with frames"
    ).json()
    assert doc["schema"] == "edge.health/1" and doc["node_id"] == "test-node"
    assert doc["verdict"] == "green", doc["reasons"]
    assert doc["camera"]["state"] == "streaming" and doc["camera"]["fps"] > 0
    assert doc["privacy"]["mode"] == "masking" and doc["privacy"]["mask_id"].startswith("m1-")
    assert set(doc["stages"]) == {"privacy", "preview"}
    for key in ("processed", "dropped", "fps", "latency_ms", "queue_depth"):
        assert key in doc["stages"]["preview"]
    assert doc["system"]["disk_total_bytes"] > 0 and doc["uptime_s"] >= 0


def test_sigterm_stops_within_seconds_and_says_offline(node: NodeProcess, sub: Subscriber) -> None:
    first_streaming_health(sub)
    t0 = time.monotonic()
    node.signal(signal.SIGTERM)
    assert node.wait(10) == 0
    assert time.monotonic() - t0 < 5
    assert sub.expect(status("offline"), 5, "offline status").json()["cause"] == "shutdown"
    assert "Traceback" not in node.log()


def test_sigint_is_handled_like_sigterm(node: NodeProcess, sub: Subscriber) -> None:
    first_streaming_health(sub)
    node.signal(signal.SIGINT)
    assert node.wait(10) == 0
    sub.expect(status("offline"), 5, "offline status")


def test_last_will_marks_a_silent_node_offline_and_it_comes_back(node: NodeProcess, sub: Subscriber) -> None:
    first_streaming_health(sub)
    node.signal(signal.SIGSTOP)  # the node goes silent without a goodbye, like a cut network
    will = sub.expect(status("offline"), 10, "offline through the last will").json()
    assert will["cause"] == "connection lost (last will)"
    node.signal(signal.SIGCONT)
    sub.expect(status("online"), 15, "online again after the node resumed")
    first_streaming_health(sub)


def test_node_reconnects_when_the_broker_returns(node: NodeProcess, broker: Broker, sub: Subscriber) -> None:
    first_streaming_health(sub)
    broker.stop()
    broker.start()
    sub.expect(status("online"), 20, "online after broker restart")
    # The report stored during the outage arrives first (it is not dropped any more), then fresh ones.
    sub.expect(lambda m: health(m) and m.json()["uplink"]["connects"] >= 2, 20, "health after reconnecting")


def test_fails_closed_without_masks(tmp_path: Path, broker: Broker, sub: Subscriber) -> None:
    node = NodeProcess(tmp_path, node_config(tmp_path, broker, privacy={"masks": []}))
    try:
        doc = first_streaming_health(sub)
        assert doc["verdict"] == "red"
        assert doc["privacy"]["mode"] == "fail_closed"
        assert any("privacy fail-closed" in r for r in doc["reasons"])
        assert doc["stages"]["preview"]["processed"] == 0
        assert doc["privacy"]["frames_blocked"] > 0
    finally:
        node.close()


def notify_socket(tmp_path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify.sock"))
    sock.settimeout(15)
    return sock


def collect(sock: socket.socket, until: str) -> list[str]:
    got: list[str] = []
    while not any(until in g for g in got):
        got.append(sock.recv(4096).decode())
    return got


def test_systemd_notify_ready_watchdog_status(tmp_path: Path, broker: Broker) -> None:
    sock = notify_socket(tmp_path)
    env = {"NOTIFY_SOCKET": str(tmp_path / "notify.sock"), "WATCHDOG_USEC": "1000000"}
    node = NodeProcess(tmp_path, node_config(tmp_path, broker), env=env)
    try:
        got = collect(sock, "WATCHDOG=1")
        assert any("READY=1" in g for g in got)
        got += collect(sock, "STATUS=")
        assert any(g.startswith("STATUS=green") for g in got)
        node.signal(signal.SIGTERM)
        got += collect(sock, "STOPPING=1")
        assert node.wait(10) == 0
    finally:
        node.close()
        sock.close()


def test_missing_camera_is_reported_and_never_feeds_the_watchdog(tmp_path: Path, broker: Broker) -> None:
    sock = notify_socket(tmp_path)
    sub = Subscriber(broker.host, broker.port, TOPIC)
    env = {"NOTIFY_SOCKET": str(tmp_path / "notify.sock"), "WATCHDOG_USEC": "400000"}
    camera = {
        "type": "opencv",
        "url": str(tmp_path / "missing.mp4"),
        "reconnect_initial_s": 0.1,
        "reconnect_max_s": 0.5,
    }
    node = NodeProcess(tmp_path, node_config(tmp_path, broker, camera=camera), env=env)
    try:
        doc = sub.expect(
            lambda m: health(m) and m.json()["camera"]["reconnects"] >= 2, 20, "lost camera"
        ).json()
        assert doc["verdict"] == "red"
        assert doc["camera"]["state"] == "lost"
        assert any("camera lost" in r for r in doc["reasons"])
        assert node.proc.poll() is None, "the node must not exit because its camera is missing"
        got = collect(sock, "STATUS=red")
        assert any("READY=1" in g for g in got)
        assert not any("WATCHDOG=1" in g for g in got)
    finally:
        node.close()
        sub.close()
        sock.close()


def test_approved_view_makes_tamper_detection_active(tmp_path: Path, broker: Broker, sub: Subscriber) -> None:
    config = node_config(tmp_path, broker, privacy={"tamper": {"enabled": True}})
    unapproved = NodeProcess(tmp_path, config)
    try:
        doc = first_streaming_health(sub)
        assert doc["privacy"]["tamper"] == "no_reference"
        assert doc["verdict"] == "amber" and any("approve" in r for r in doc["reasons"]), doc["reasons"]
    finally:
        unapproved.close()

    approve = subprocess.run(
        [
            sys.executable,
            "-m",
            "edge",
            "approve-view",
            "--config",
            str(unapproved.config_path),
            "--actor",
            "tech-1",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert approve.returncode == 0, approve.stderr
    assert "view approved by tech-1" in approve.stdout

    node = NodeProcess(tmp_path, config)
    try:
        doc = sub.expect(
            # Reports from before the broker connection are delivered too (outbox): wait for a streaming one.
            lambda m: (
                health(m)
                and m.json()["privacy"]["tamper"] == "ok"
                and m.json()["camera"]["state"] == "streaming"
            ),
            20,
            "health with the view verified",
        ).json()
        assert doc["verdict"] == "green", doc["reasons"]
        assert doc["privacy"]["reference_id"] in approve.stdout
    finally:
        node.close()
