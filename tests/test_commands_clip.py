"""export_clip through ``edgectl send``: chunks over MQTT, reassembled, verified, decrypted and played."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import av
import numpy as np

from edge.config import parse_config
from edge.ctl.cli import main as edgectl
from edge.privacy import MaskSet
from tests.broker import Broker
from tests.mqtt_client import Subscriber
from tests.node_process import NodeProcess, node_config
from tests.test_payload_schemas import validator


def test_export_clip_arrives_in_chunks_and_plays(tmp_path: Path, broker: Broker, capsys: Any) -> None:
    keys = tmp_path / "keys"
    assert edgectl(["keys", "--out", str(keys), "--device"]) == 0
    storage = {
        "enabled": True,
        "segment_seconds": 1.0,
        "central_public_key_file": str(keys / "central_seal.pub"),
        "device_key_file": str(keys / "device_sign.key"),
    }
    commands = {"central_public_key_files": [str(keys / "central_sign.pub")], "clip_chunk_bytes": 4096}
    cfg = node_config(tmp_path, broker, storage=storage, commands=commands)
    health = Subscriber(broker.host, broker.port, "cams/test-node/#")
    node = NodeProcess(tmp_path, cfg)
    received = tmp_path / "received"
    try:
        health.expect(
            lambda m: (
                m.topic.endswith("/health")
                and (m.json()["recording"]["recorder"] or {}).get("segments_written", 0) >= 2
            ),
            30,
            "two recorded segments",
        )
        capsys.readouterr()
        now = dt.datetime.now(dt.UTC)
        args = {"from": (now - dt.timedelta(minutes=5)).isoformat(), "to": now.isoformat(), "purpose": "test"}
        send = ["send", "export_clip", "--node", "test-node", "--key", str(keys / "central_sign.key")]
        send += ["--port", str(broker.port), "--args", json.dumps(args), "--receive", str(received)]
        assert edgectl(send) == 0
        result = json.loads(capsys.readouterr().out)
        chunk = health.expect(lambda m: "/chunk/" in m.topic, 5, "a chunk as seen by another subscriber")
        meta = health.expect(lambda m: m.topic.endswith("/meta"), 10, "the meta")
        validator("clip_chunk").validate(chunk.json())
        validator("clip_meta").validate(meta.json())
    finally:
        node.close()
        health.close()
    assert result["ok"] and result["data"]["chunks"] > 2, result
    export_dir = Path(result["received"])
    assert (export_dir / "manifest.json").is_file()
    out = tmp_path / "clip.mp4"
    clip = ["clip", str(export_dir), "--key", str(keys / "central_seal.key")]
    assert edgectl([*clip, "--device-pub", str(keys / "device_sign.pub"), "-o", str(out)]) == 0
    with av.open(str(out)) as container:
        frames = [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]
    assert frames
    # The clip that reached the centre is masked: inside the masks (a few pixels in from the edge, which
    # H.264 smears) every frame is the fill colour.
    masks = MaskSet.from_config(parse_config(cfg).privacy)
    covered = masks.coverage(frames[0].shape[1], frames[0].shape[0])
    inner = covered.copy()
    for axis in (0, 1):
        inner &= np.roll(covered, 3, axis) & np.roll(covered, -3, axis)
    fill = np.array(masks.fill_bgr)
    for pixels in frames:
        assert np.abs(pixels[inner].astype(int) - fill).mean() < 4


def test_old_footage_needs_a_decision_reference(tmp_path: Path, broker: Broker, capsys: Any) -> None:
    keys = tmp_path / "keys"
    assert edgectl(["keys", "--out", str(keys), "--device"]) == 0
    storage = {
        "enabled": True,
        "central_public_key_file": str(keys / "central_seal.pub"),
        "device_key_file": str(keys / "device_sign.key"),
    }
    commands = {"central_public_key_files": [str(keys / "central_sign.pub")]}
    status = Subscriber(broker.host, broker.port, "cams/test-node/status")
    node = NodeProcess(tmp_path, node_config(tmp_path, broker, storage=storage, commands=commands))
    capsys.readouterr()
    try:
        status.expect(lambda m: m.json()["state"] == "online", 20, "the node online")
        old = dt.datetime.now(dt.UTC) - dt.timedelta(days=40)
        args = {"from": old.isoformat(), "to": (old + dt.timedelta(hours=1)).isoformat(), "purpose": "case"}
        send = ["send", "export_clip", "--node", "test-node", "--key", str(keys / "central_sign.key")]
        assert edgectl([*send, "--port", str(broker.port), "--args", json.dumps(args)]) == 1
    finally:
        node.close()
        status.close()
    result = json.loads(capsys.readouterr().out)
    assert result["error"]["code"] == "refused" and "decision" in result["error"]["message"]
    audit = (tmp_path / "state" / "audit.jsonl").read_text()
    assert "refused" in audit and "storage.export" in audit
