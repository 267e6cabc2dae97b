"""Hotlists larger than one command: parts (``hotlist_part``) stored durably on the node, then
``set_hotlist`` with the ``transfer_id``; the store on its own, edgectl's splitting, and the real node
through a real broker (including a restart between parts).

Bundles use the minimum PBKDF2 cost (1000 iterations) so that each test hashes in milliseconds.
"""

from __future__ import annotations

import base64
import hashlib
import json
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from paho.mqtt.enums import CallbackAPIVersion

from edge.anpr.hotlist_make import make_bundle
from edge.commands.hotlist_transfer import MAX_OPEN_TRANSFERS, HotlistTransfers
from edge.commands.model import CommandError
from edge.ctl.cli import main as edgectl
from edge.ctl.hotlist import SendBundleOptions, plan_transfer
from edge.ctl.send import SendOptions, make_request, send_and_wait
from edge.storage.keys import generate_central_keys, load_ed25519_private
from tests.broker import Broker
from tests.mqtt_client import Subscriber
from tests.node_process import NodeProcess, node_config
from tests.test_payload_schemas import validator

MAX_REQUEST_BYTES = 2048
HOUR_NS = 3600 * 10**9


def bundle_bytes(key: Ed25519PrivateKey, rows: int, *, version: int = 1) -> bytes:
    now_ns = time.time_ns()
    doc = make_bundle(
        [(f"{i:04d}ABC", "stolen", f"case-{i:05d}") for i in range(rows)],
        list_id="police-big",
        purpose="police",
        version=version,
        issued_at_ns=now_ns - 60 * 10**9,
        expires_at_ns=now_ns + 24 * HOUR_NS,
        issuer="op:central",
        key=key,
        iterations=1_000,
    )
    return json.dumps(doc, separators=(",", ":")).encode()


def split(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


# --- the store on its own --------------------------------------------------------------------------------


@dataclass
class FakeClock:
    now_ns: int = 1_800_000_000 * 10**9

    def __call__(self) -> int:
        return self.now_ns


def store(directory: Path, clock: FakeClock, max_bytes: int = 10_000) -> HotlistTransfers:
    return HotlistTransfers(directory, max_bytes=max_bytes, timeout_s=3600, time_ns=clock)


def code(call: Any, *args: Any) -> str:
    with pytest.raises(CommandError) as info:
        call(*args)
    return info.value.code.value


def test_parts_are_kept_durably_and_assembled_in_order(tmp_path: Path) -> None:
    data = bytes(range(256)) * 10
    sha = hashlib.sha256(data).hexdigest()
    parts = split(data, 700)
    clock = FakeClock()
    t = store(tmp_path, clock)
    for index in (3, 0, 2):
        receipt = t.add("t1", index, len(parts), sha, parts[index])
    assert receipt.to_json() == {"transfer_id": "t1", "received": 3, "count": 4, "complete": False}
    assert t.add("t1", 2, 4, sha, parts[2]).received == 3, "a resent part is acknowledged again"
    assert code(t.add, "t1", 2, 4, sha, b"other bytes") == "bad_args"
    assert code(t.add, "t1", 1, 5, sha, parts[1]) == "bad_args", "count differs from the first part's"
    assert code(t.add, "t1", 1, 4, "0" * 64, parts[1]) == "bad_args", "sha256 differs"
    assert code(t.add, "t1", 4, 4, sha, parts[1]) == "bad_args", "index beyond count"
    assert code(t.add, "../x", 0, 4, sha, parts[1]) == "bad_args"
    with pytest.raises(CommandError, match="1 of 4 parts missing"):
        t.assemble("t1")

    # A restart: a new store reads the transfer back from disk; a write cut short is cleaned up.
    (tmp_path / "t1" / "part-000001.tmp").write_bytes(b"half")
    (tmp_path / "not a transfer").mkdir()
    again = store(tmp_path, clock)
    assert again.open_transfers()["t1"].received == 3
    assert not (tmp_path / "not a transfer").exists() and not (tmp_path / "t1" / "part-000001.tmp").exists()
    assert again.add("t1", 1, 4, sha, parts[1]).complete
    assert again.assemble("t1") == data
    again.remove("t1")
    assert not (tmp_path / "t1").exists()
    assert code(again.assemble, "t1") == "bad_args"


def test_a_corrupt_transfer_is_refused_and_dropped(tmp_path: Path) -> None:
    data = b"x" * 1000
    sha = hashlib.sha256(data).hexdigest()
    t = store(tmp_path, FakeClock())
    t.add("t1", 0, 2, sha, data[:500])
    t.add("t1", 1, 2, sha, b"y" * 500)
    with pytest.raises(CommandError, match="not the declared") as info:
        t.assemble("t1")
    assert info.value.code.value == "bad_args"
    assert "t1" not in t.open_transfers() and not (tmp_path / "t1").exists()


def test_transfers_are_bounded_in_bytes_number_and_time(tmp_path: Path) -> None:
    clock = FakeClock()
    t = store(tmp_path, clock, max_bytes=1000)
    sha = "a" * 64
    t.add("big", 0, 3, sha, b"1" * 600)
    assert code(t.add, "big", 1, 3, sha, b"2" * 401) == "too_large"
    assert "big" not in t.open_transfers(), "a transfer that can never complete is dropped"

    for n in range(MAX_OPEN_TRANSFERS + 1):
        clock.now_ns += 10**9
        t.add(f"t{n}", 0, 2, sha, b"part")
    assert sorted(t.open_transfers()) == [f"t{n}" for n in range(1, MAX_OPEN_TRANSFERS + 1)]

    clock.now_ns += HOUR_NS + 10**9
    t.add("new", 0, 2, sha, b"part")
    assert sorted(t.open_transfers()) == ["new"], "timed-out transfers go at the next part"
    clock.now_ns += HOUR_NS + 10**9
    restarted = store(tmp_path, clock)
    restarted.sweep()
    assert restarted.open_transfers() == {} and list(tmp_path.iterdir()) == []


def test_edgectl_parts_fit_the_request_limit() -> None:
    key = Ed25519PrivateKey.generate()
    data = bundle_bytes(key, 60)
    for limit in (1024, 2048, 65536):
        opts = SendBundleOptions(
            issuer="op:a-rather-long-issuer-name", validity_s=60, max_request_bytes=limit
        )
        plan = plan_transfer(data, key, opts)
        sizes = []
        assert b"".join(plan.parts) == data and plan.sha256 == hashlib.sha256(data).hexdigest()
        for index, part in enumerate(plan.parts):
            args = {
                "transfer_id": plan.transfer_id,
                "index": index,
                "count": len(plan.parts),
                "sha256": plan.sha256,
                "data": base64.b64encode(part).decode(),
            }
            request = make_request("hotlist_part", args, key, issuer=opts.issuer)
            validator("cmd_request").validate(request)
            sizes.append(len(json.dumps(request, separators=(",", ":"))))
        assert max(sizes) <= limit
        assert len(plan.parts) == 1 or sizes[0] > limit - 128, "parts are not needlessly small"


# --- the real node ---------------------------------------------------------------------------------------


@dataclass
class Rig:
    tmp_path: Path
    config: dict[str, Any]
    node: NodeProcess
    sub: Subscriber
    opts: SendOptions
    central: Ed25519PrivateKey
    key_file: Path

    @property
    def state_dir(self) -> Path:
        return Path(self.config["node"]["state_dir"])

    def send(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        result = send_and_wait(self.opts, make_request(name, args, self.central, issuer="op:test"))
        validator("cmd_result").validate(result)
        return result

    def publish(self, request: dict[str, Any]) -> None:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
        client.connect(self.opts.host, self.opts.port)
        client.loop_start()
        try:
            client.publish("cams/test-node/cmd", json.dumps(request).encode(), qos=1).wait_for_publish(5)
        finally:
            client.disconnect()
            client.loop_stop()

    def part(self, transfer_id: str, index: int, parts: list[bytes], sha: str) -> dict[str, Any]:
        args = {
            "transfer_id": transfer_id,
            "index": index,
            "count": len(parts),
            "sha256": sha,
            "data": base64.b64encode(parts[index]).decode(),
        }
        return self.send("hotlist_part", args)

    def lists(self) -> list[tuple[str, int, int]]:
        status = self.send("status", {})
        assert status["ok"], status
        return [
            (x["list_id"], x["version"], x["entries"]) for x in status["data"]["anpr"]["hotlists"]["lists"]
        ]

    def start(self) -> None:
        self.node = start_node(self.tmp_path, self.config, self.sub)

    def stop(self) -> None:
        self.node.signal(signal.SIGTERM)
        assert self.node.wait(30) == 0
        self.sub.expect(
            lambda m: m.topic.endswith("/status") and m.json()["state"] == "offline", 10, "offline"
        )
        self.node.close()


def start_node(tmp_path: Path, config: dict[str, Any], sub: Subscriber) -> NodeProcess:
    node = NodeProcess(tmp_path, config)
    sub.expect(lambda m: m.topic.endswith("/status") and m.json()["state"] == "online", 60, "online")
    return node


@pytest.fixture
def rig(tmp_path: Path, broker: Broker) -> Iterator[Rig]:
    _seal, sign = generate_central_keys(tmp_path / "keys")
    cfg = node_config(
        tmp_path,
        broker,
        commands={
            "central_public_key_files": [str(sign.public)],
            "max_validity_s": 120,
            "max_request_bytes": MAX_REQUEST_BYTES,
        },
        anpr={"enabled": True, "max_fps": 0.5, "threads": 1},
    )
    sub = Subscriber(broker.host, broker.port, "cams/test-node/#")
    opts = SendOptions(broker.host, broker.port, "cams", "test-node", 30)
    node = start_node(tmp_path, cfg, sub)
    r = Rig(tmp_path, cfg, node, sub, opts, load_ed25519_private(sign.private), sign.private)
    yield r
    r.node.close()
    sub.close()
    assert "Traceback" not in r.node.log()


def test_a_list_too_large_for_one_command_arrives_in_parts(
    rig: Rig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = bundle_bytes(rig.central, 40)
    assert len(data) > 3 * MAX_REQUEST_BYTES
    # Too large to read at all, so its answer cannot carry its id: the id is empty.
    rig.publish(make_request("set_hotlist", {"bundle": json.loads(data)}, rig.central, issuer="op:test"))
    inline = rig.sub.expect(lambda m: m.topic.endswith("/cmd/result") and m.json()["id"] == "", 15, "result")
    assert inline.json()["error"]["code"] == "too_large"

    path = tmp_path / "bundle.json"
    path.write_bytes(data)
    argv = ["hotlist", "send", str(path), "--node", "test-node", "--key", str(rig.key_file)]
    argv += ["--port", str(rig.opts.port), "--max-request-bytes", str(MAX_REQUEST_BYTES)]
    assert edgectl(argv) == 0
    out = capsys.readouterr().out
    progress = [line for line in out.splitlines() if line.startswith("part ")]
    result = json.loads(out[out.index("{") :])
    validator("cmd_result").validate(result)
    assert result["ok"], result
    assert result["data"]["list_id"] == "police-big" and result["data"]["entries"] == 40
    count = len(progress)
    assert count >= 4 and progress[2].startswith(f"part 3/{count} ")
    assert rig.lists() == [("police-big", 1, 40)]
    assert list((rig.state_dir / "hotlist-transfers").iterdir()) == [], "a loaded transfer is deleted"
    assert rig.send("set_hotlist", {"transfer_id": "gone"})["error"]["code"] == "bad_args"
    both = rig.send("set_hotlist", {"transfer_id": "x", "bundle": {}})
    assert both["error"]["code"] == "bad_args"


def test_resent_mismatched_and_corrupted_parts(rig: Rig) -> None:
    data = bundle_bytes(rig.central, 12, version=2)
    sha = hashlib.sha256(data).hexdigest()
    parts = split(data, 1000)
    first = rig.part("t-1", 0, parts, sha)
    assert first["ok"] and first["data"] == {
        "transfer_id": "t-1",
        "received": 1,
        "count": len(parts),
        "complete": False,
    }
    assert rig.part("t-1", 0, parts, sha)["data"]["received"] == 1, "a duplicate is acknowledged"
    refused = rig.part("t-1", 1, parts, "0" * 64)
    assert refused["error"]["code"] == "bad_args" and "sha256" in refused["error"]["message"]
    refused = rig.part("t-1", 1, [*parts, b"extra"], sha)
    assert refused["error"]["code"] == "bad_args" and "count" in refused["error"]["message"]
    missing = rig.send("set_hotlist", {"transfer_id": "t-1"})
    assert missing["error"]["code"] == "bad_args"
    assert f"{len(parts) - 1} of {len(parts)} parts missing" in missing["error"]["message"]

    corrupt = list(parts)
    corrupt[1] = bytes([corrupt[1][0] ^ 1]) + corrupt[1][1:]
    for index in range(1, len(parts)):
        done = rig.part("t-1", index, corrupt, sha)
        assert done["ok"], done
    assert done["data"]["complete"] is True
    before = rig.lists()
    mismatch = rig.send("set_hotlist", {"transfer_id": "t-1"})
    assert mismatch["error"]["code"] == "bad_args" and "not the declared" in mismatch["error"]["message"]
    assert rig.lists() == before == []
    assert rig.send("set_hotlist", {"transfer_id": "t-1"})["error"]["code"] == "bad_args", "dropped"


def test_parts_survive_a_restart(rig: Rig) -> None:
    data = bundle_bytes(rig.central, 12, version=3)
    sha = hashlib.sha256(data).hexdigest()
    parts = split(data, 1000)
    half = len(parts) // 2
    for index in range(half):
        assert rig.part("restart-1", index, parts, sha)["ok"]
    rig.stop()
    rig.start()
    for index in range(half, len(parts)):
        answer = rig.part("restart-1", index, parts, sha)
        assert answer["data"]["received"] == index + 1
    assert answer["data"]["complete"] is True
    loaded = rig.send("set_hotlist", {"transfer_id": "restart-1"})
    assert loaded["ok"] and loaded["data"]["version"] == 3 and loaded["data"]["entries"] == 12
    assert rig.lists() == [("police-big", 3, 12)]
    audit = (rig.state_dir / "audit.jsonl").read_text()
    assert audit.count('"command.hotlist_part"') >= len(parts) and '"anpr.hotlist_load"' in audit
