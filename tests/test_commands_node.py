"""Signed commands against the real node through a real broker: answers, refusals, audit, snapshot."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import paho.mqtt.client as mqtt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from paho.mqtt.enums import CallbackAPIVersion

from edge.audit import verify_chain
from edge.ctl.send import CommandSession, SendOptions, make_request, send_and_wait
from edge.storage.keys import (
    generate_central_keys,
    generate_device_key,
    load_ed25519_private,
    load_ed25519_public,
)
from tests.broker import Broker
from tests.mqtt_client import Subscriber, wait_until
from tests.node_process import NodeProcess, node_config
from tests.test_payload_schemas import validator


@dataclass
class Rig:
    node: NodeProcess
    sub: Subscriber
    opts: SendOptions
    central: Ed25519PrivateKey
    device_pub: Path
    state_dir: Path

    def send(self, name: str, args: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
        return self.send_doc(make_request(name, args or {}, self.central, issuer="op:test", **kw))

    def send_doc(self, doc: dict[str, Any]) -> dict[str, Any]:
        result = send_and_wait(self.opts, doc)
        validator("cmd_result").validate(result)
        return result

    def audit(self) -> list[dict[str, Any]]:
        path = self.state_dir / "audit.jsonl"
        return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


@pytest.fixture
def rig(tmp_path: Path, broker: Broker) -> Iterator[Rig]:
    keys = tmp_path / "keys"
    _seal, sign = generate_central_keys(keys)
    device = generate_device_key(keys)
    cfg = node_config(
        tmp_path,
        broker,
        commands={"central_public_key_files": [str(sign.public)], "max_validity_s": 120},
        storage={"device_key_file": str(device.private)},
    )
    sub = Subscriber(broker.host, broker.port, "cams/test-node/#")
    node = NodeProcess(tmp_path, cfg)
    sub.expect(lambda m: m.topic.endswith("/status") and m.json()["state"] == "online", 20, "online")
    opts = SendOptions(broker.host, broker.port, "cams", "test-node", 15)
    r = Rig(
        node, sub, opts, load_ed25519_private(sign.private), device.public, Path(cfg["node"]["state_dir"])
    )
    yield r
    node.close()
    sub.close()


def test_commands_are_answered_and_bad_ones_refused_and_audited(rig: Rig, broker: Broker) -> None:
    ok = rig.send("ping")
    assert ok["ok"] is True and ok["data"]["pong"] is True

    status = rig.send("status")
    assert status["ok"] and status["data"]["verdict"] in ("green", "amber", "red")

    forged = make_request("ping", {}, Ed25519PrivateKey.generate(), issuer="mallory")
    assert rig.send_doc(forged)["error"]["code"] == "bad_signature"

    once = make_request("ping", {}, rig.central, issuer="op:test")
    assert rig.send_doc(once)["ok"]
    assert rig.send_doc(once)["error"]["code"] == "replayed"

    old = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    assert rig.send("ping", now=old)["error"]["code"] == "expired"
    assert rig.send("ping", validity_s=3600)["error"]["code"] == "validity_too_long"
    assert rig.send("format_disk")["error"]["code"] == "unknown_command"
    assert rig.send("ping", {"x": 1})["error"]["code"] == "bad_args"
    assert rig.send("set_config", {})["error"]["code"] == "bad_args"  # tests/test_commands_set_config.py
    assert rig.send("set_hotlist", {})["error"]["code"] == "unsupported"
    hold = {
        "from": "2026-01-01T00:00:00Z",
        "to": "2026-01-01T01:00:00Z",
        "case_ref": "C",
        "expires_at": "2030-01-01T00:00:00Z",
    }
    assert rig.send("hold", hold)["error"]["code"] == "unsupported", "recording is off in this node"

    # Garbage on the command topic: an error result with an empty id, and the node carries on.
    raw = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    raw.connect(broker.host, broker.port)
    raw.loop_start()
    raw.publish("cams/test-node/cmd", b"\x00not json", qos=1).wait_for_publish(5)
    raw.publish("cams/test-node/cmd", b"x" * 70000, qos=1).wait_for_publish(5)
    raw.disconnect()
    raw.loop_stop()
    codes = set()
    for _ in range(2):
        msg = rig.sub.expect(lambda m: m.topic.endswith("/cmd/result") and m.json()["id"] == "", 10, "error")
        validator("cmd_result").validate(msg.json())
        codes.add(msg.json()["error"]["code"])
    assert codes == {"malformed", "too_large"}
    assert rig.send("ping")["ok"], "the node still answers"

    audit_msg = rig.sub.expect(lambda m: m.topic.endswith("/audit"), 10, "an audit entry on MQTT")
    validator("audit").validate(audit_msg.json())
    entries = rig.audit()
    actions = [e["action"] for e in entries]
    assert actions.count("command.ping") >= 4
    assert actions.count("command.rejected") >= 3  # forged, malformed, oversized
    rejected = [e for e in entries if e["action"] == "command.rejected"]
    assert all(e["actor"] == "unauthenticated" for e in rejected)
    assert any("replayed" in e["detail"] for e in entries)
    assert any("expired" in e["detail"] for e in entries)
    report = verify_chain(rig.state_dir / "audit.jsonl", load_ed25519_public(rig.device_pub))
    assert report.ok, report


def test_one_session_carries_many_commands_each_answered_by_its_own_result(rig: Rig) -> None:
    docs = [make_request("ping", {}, rig.central, issuer="op:test") for _ in range(5)]
    docs.insert(2, make_request("no_such_command", {}, rig.central, issuer="op:test"))
    with CommandSession(rig.opts) as session:
        results = [session.call(doc) for doc in docs]
    assert [r["id"] for r in results] == [d["id"] for d in docs]
    assert [r["ok"] for r in results] == [True, True, False, True, True, True]
    for r in results:
        validator("cmd_result").validate(r)
    # Every command went to the node once: one audit record each.
    details = [e["detail"] for e in rig.audit()]
    assert all(sum(f"id={d['id']}" in x for x in details) == 1 for d in docs)


def test_snapshot_is_a_masked_jpeg_and_set_masks_is_audited(rig: Rig) -> None:
    wait_until(lambda: _snapshot_ready(rig), 20, "a first frame in the preview")
    res = rig.send("snapshot")
    assert res["ok"], res
    data = res["data"]
    assert data["mask_id"].startswith("m1-") and data["content_type"] == "image/jpeg"
    img = cv2.imdecode(np.frombuffer(base64.b64decode(data["jpeg_b64"]), np.uint8), cv2.IMREAD_COLOR)
    h, w = img.shape[:2]
    masked = img[: int(h * 0.3) - 2, : int(w * 0.4) - 2]  # DEMO_MASKS: upper left 40 % x 30 %, solid black
    rest = img[int(h * 0.5) :, int(w * 0.5) :]
    assert masked.mean() < 8, "the masked area is filled"
    assert rest.std() > 10, "the rest of the picture is there"

    new = [{"name": "right half", "polygon": [[0.5, 0.0], [1.0, 0.0], [1.0, 1.0], [0.5, 1.0]]}]
    res = rig.send("set_masks", {"masks": new})
    assert res["ok"] and res["data"]["mask_id"] != data["mask_id"]
    bad = rig.send("set_masks", {"masks": [{"name": "x", "polygon": [[0, 0], [1, 1]]}]})
    assert bad["error"]["code"] == "bad_args"
    wait_until(lambda: any(e["action"] == "privacy.masks_changed" for e in rig.audit()), 10, "audit")
    change = next(e for e in rig.audit() if e["action"] == "privacy.masks_changed")
    assert change["actor"] == "op:test"


def test_restart_command_stops_cleanly_with_the_restart_exit_code(rig: Rig) -> None:
    res = rig.send("restart")
    assert res["ok"] and res["data"]["exit_code"] == 75
    assert rig.node.wait(15) == 75


def _snapshot_ready(rig: Rig) -> bool:
    res = rig.send("snapshot")
    return bool(res["ok"])
