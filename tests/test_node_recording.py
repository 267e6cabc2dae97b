"""The whole node records: sealed segments that the central side turns back into a playable, masked MP4."""

from __future__ import annotations

import signal
from pathlib import Path

import av
import numpy as np
import yaml

from edge.clock import SystemClock
from edge.config import EdgeConfig
from edge.ctl.cli import main as edgectl
from edge.privacy import MaskSet
from edge.storage.export import export_clip
from edge.storage.factory import load_device_key
from edge.storage.keys import load_x25519_public
from edge.storage.retention import RetentionPolicy
from edge.storage.store import SegmentStore
from tests.broker import Broker
from tests.mqtt_client import Subscriber
from tests.node_process import NodeProcess, node_config


def test_node_records_sealed_segments_that_decode_masked(tmp_path: Path, broker: Broker) -> None:
    keys = tmp_path / "keys"
    assert edgectl(["keys", "--out", str(keys), "--device"]) == 0
    storage = {
        "enabled": True,
        "segment_seconds": 1.0,
        "central_public_key_file": str(keys / "central_seal.pub"),
        "device_key_file": str(keys / "device_sign.key"),
    }
    raw = node_config(tmp_path, broker, storage=storage)
    sub = Subscriber(broker.host, broker.port, "cams/test-node/health")
    node = NodeProcess(tmp_path, raw)
    try:
        doc = sub.expect(
            lambda m: (m.json()["recording"]["recorder"] or {}).get("segments_written", 0) >= 2,
            30,
            "two recorded segments",
        ).json()
        assert doc["recording"]["error"] == ""
        node.signal(signal.SIGTERM)
        assert node.wait(15) == 0
    finally:
        node.close()
        sub.close()

    config = EdgeConfig.model_validate(yaml.safe_load((tmp_path / "node.yaml").read_text()))
    store = SegmentStore(
        config.node.state_dir / config.storage.directory,
        config.node.id,
        load_x25519_public(keys / "central_seal.pub"),
        RetentionPolicy.from_config(config.storage),
        SystemClock(),
    )
    segments = store.segments(0, 2**62)
    assert len(segments) >= 2
    masks = MaskSet.from_config(config.privacy)
    assert {s.mask_id for s in segments} == {masks.mask_id}
    start, end = segments[0].start_ns, segments[-1].end_ns
    export_clip(
        store,
        start,
        end,
        tmp_path / "export",
        load_device_key(config.storage),
        requester="test",
        purpose="integration test",
    )
    store.close()

    out = tmp_path / "clip.mp4"
    assert (
        edgectl(
            [
                "clip",
                "--key",
                str(keys / "central_seal.key"),
                "--device-pub",
                str(keys / "device_sign.pub"),
                str(tmp_path / "export"),
                "-o",
                str(out),
            ]
        )
        == 0
    )
    with av.open(str(out)) as container:
        frames = [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]
    assert len(frames) == sum(s.frames for s in segments)
    covered = masks.coverage(frames[0].shape[1], frames[0].shape[0])
    # Erode by a few pixels: H.264 blurs the mask's edge into its neighbours.
    inner = covered.copy()
    for axis in (0, 1):
        inner &= np.roll(covered, 3, axis) & np.roll(covered, -3, axis)
    for frame in frames[:: max(1, len(frames) // 10)]:
        assert np.abs(frame[inner].astype(int) - 0).mean() < 4, "masked area is not the fill colour"
