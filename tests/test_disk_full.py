"""Fault injection: the node's state directory fills up (an 8 MiB tmpfs mounted over it; root only).

The node must keep running, say in its health that recording is failing, and record again once space is
freed. Skipped (with the reason) where mounting is not permitted.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.broker import Broker
from tests.mqtt_client import Subscriber, wait_until
from tests.node_process import NodeProcess, node_config
from tests.storage_support import make_keys


@pytest.fixture
def small_state_dir(tmp_path: Path) -> Iterator[Path]:
    state = tmp_path / "state"
    state.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs", str(state)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield state
    finally:
        subprocess.run(["umount", "-l", str(state)], check=False)


def fill(directory: Path) -> Path:
    """Write a ballast file until the filesystem is full."""
    ballast = directory / "ballast"
    fd = os.open(ballast, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (65536, 4096, 1):
            with contextlib.suppress(OSError):  # ENOSPC: on to smaller writes
                while os.write(fd, b"\0" * size):
                    pass
    finally:
        os.close(fd)
    stat = os.statvfs(directory)
    assert stat.f_bavail * stat.f_frsize < 65536, "the filesystem should be full"
    return ballast


def recorder(doc: dict[str, Any]) -> dict[str, Any]:
    rec: dict[str, Any] = doc["recording"]["recorder"] or {}
    return rec


def test_a_full_disk_is_reported_and_recording_resumes_when_space_is_freed(
    tmp_path: Path, broker: Broker, small_state_dir: Path
) -> None:
    keys = make_keys(tmp_path / "keys")
    storage = {
        "enabled": True,
        "segment_seconds": 1.0,
        "min_free_share": 0.0,
        "central_public_key_file": str(keys.central_pub),
        "device_key_file": str(keys.directory / "device_sign.key"),
    }
    sub = Subscriber(broker.host, broker.port, "cams/test-node/health")
    node = NodeProcess(tmp_path, node_config(tmp_path, broker, storage=storage))
    try:
        before = sub.expect(lambda m: recorder(m.json()).get("segments_written", 0) >= 1, 20, "a segment")
        written = recorder(before.json())["segments_written"]
        ballast = fill(small_state_dir)
        # While the disk is full the outbox (same disk) cannot queue health either: the node's log is
        # the witness until space returns (see docs/resilience.md).
        wait_until(lambda: "storage alarm segment_dropped" in node.log(), 15, "the store to drop a segment")
        assert node.proc.poll() is None, "the node keeps running on a full disk"
        ballast.unlink()
        after = sub.expect(
            lambda m: recorder(m.json()).get("segments_written", 0) > written + 1, 15, "recording to resume"
        ).json()
    finally:
        node.close()
        sub.close()
    rec = recorder(after)
    assert rec["segments_failed"] >= 1 and rec["frames_lost"] > 0
    assert after["verdict"] == "red", after["reasons"]
    assert any("lost footage" in r and "segment_dropped" in r for r in after["reasons"]), after["reasons"]
