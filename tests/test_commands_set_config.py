"""``set_config`` against the real node through a real broker: applied at once or at the next start,
persisted under the state directory, refused and audited when not allowed, and a corrupt override file
refused loudly at start while the node runs on the YAML."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from edge.config_override import OVERRIDE_NAME
from edge.ctl.send import SendOptions, make_request, send_and_wait
from edge.storage.keys import generate_central_keys, load_ed25519_private
from tests.broker import Broker
from tests.mqtt_client import Message, Subscriber
from tests.node_process import NodeProcess, node_config
from tests.test_payload_schemas import validator


def health_where(sub: Subscriber, predicate: Any, what: str, timeout_s: float = 20) -> dict[str, Any]:
    def match(m: Message) -> bool:
        return m.topic == "cams/test-node/health" and bool(predicate(m.json()))

    doc: dict[str, Any] = sub.expect(match, timeout_s, what).json()
    validator("health").validate(doc)
    return doc


def ts(doc: dict[str, Any]) -> dt.datetime:
    return dt.datetime.fromisoformat(doc["ts"])


def test_set_config_is_applied_persisted_refused_and_survives_a_restart(
    tmp_path: Path, broker: Broker
) -> None:
    _seal, sign = generate_central_keys(tmp_path / "keys")
    central = load_ed25519_private(sign.private)
    cfg = node_config(tmp_path, broker, commands={"central_public_key_files": [str(sign.public)]})
    state = Path(cfg["node"]["state_dir"])
    opts = SendOptions(broker.host, broker.port, "cams", "test-node", 15)

    def send(name: str, args: dict[str, Any]) -> dict[str, Any]:
        result = send_and_wait(opts, make_request(name, args, central, issuer="op:test"))
        validator("cmd_result").validate(result)
        return result

    sub = Subscriber(broker.host, broker.port, "cams/test-node/#")
    node = NodeProcess(tmp_path, cfg)
    try:
        sub.expect(lambda m: m.topic.endswith("/status") and m.json()["state"] == "online", 20, "online")
        change = {"mqtt.health_interval_s": 3, "logging.level": "DEBUG", "privacy.tamper.cover_std": 5}
        res = send("set_config", {"values": change})
        assert res["ok"], res
        data = res["data"]
        assert data["changed"]["mqtt.health_interval_s"] == {"old": 1.0, "new": 3.0}
        assert data["applied"] == ["logging.level", "mqtt.health_interval_s"]
        assert data["restart_required"] is True and data["restart_keys"] == ["privacy.tamper.cover_std"]
        persisted = (state / OVERRIDE_NAME).read_bytes()
        assert json.loads(persisted)["values"]["mqtt.health_interval_s"] == 3.0

        refusals = [
            ({"values": {"privacy.masks": []}}, "refused", "privacy.masks"),
            ({"values": {"mqtt.port": 1883}}, "refused", "mqtt.port"),
            ({"values": {"mqtt.health_interval_s": "fast"}}, "bad_args", "must be a number"),
            ({"values": {"storage.quota_bytes": 1}}, "bad_args", "storage.quota_bytes"),
            ({"set": {"logging.level": "DEBUG"}}, "bad_args", "set"),
        ]
        for args, code, named in refusals:
            error = send("set_config", args)["error"]
            assert error["code"] == code and named in error["message"], (args, error)
        assert (state / OVERRIDE_NAME).read_bytes() == persisted, "a refused change persists nothing"

        # Applied at once: the health period is now 3 s (it was 1 s); the tamper threshold waits.
        first = health_where(sub, lambda d: d["config"]["override_active"], "health with the override")
        assert first["config"]["override"]["privacy.tamper.cover_std"] == 5.0
        assert first["config"]["restart_pending"] == ["privacy.tamper.cover_std"]
        second = health_where(sub, lambda d: True, "the next health report")
        assert (ts(second) - ts(first)).total_seconds() > 2.5

        audit = [json.loads(x) for x in (state / "audit.jsonl").read_text().splitlines()]
        changed = [e for e in audit if e["action"] == "config.changed"]
        assert len(changed) == 1 and changed[0]["actor"] == "op:test"
        assert "logging.level: 'INFO' -> 'DEBUG'" in changed[0]["detail"]
        outcomes = [e["detail"] for e in audit if e["action"] == "command.set_config"]
        assert len(outcomes) == 1 + len(refusals)
        assert sum(" ok" in d for d in outcomes) == 1
        assert (
            sum("error refused" in d for d in outcomes) == 2
            and sum("error bad_args" in d for d in outcomes) == 3
        )

        assert send("restart", {})["data"]["exit_code"] == 75
        assert node.wait(15) == 75
    finally:
        node.close()

    # The next start merges the override over the unchanged YAML.
    node = NodeProcess(tmp_path, cfg)
    try:
        doc = health_where(
            sub, lambda d: d["config"]["override_active"] and d["uptime_s"] < 30, "health after the restart"
        )
        assert doc["config"]["restart_pending"] == []
        assert doc["config"]["override"] == {
            "logging.level": "DEBUG",
            "mqtt.health_interval_s": 3.0,
            "privacy.tamper.cover_std": 5.0,
        }
        assert not any("override" in r for r in doc["reasons"]), doc["reasons"]
    finally:
        node.close()
        sub.close()
    assert "configuration override" in node.log() and "in force" in node.log()
    assert "Traceback" not in node.log()


def test_a_corrupt_override_at_start_is_refused_loudly_and_the_yaml_runs(
    tmp_path: Path, broker: Broker
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    garbage = b'{"format": "edge-config-override/1", "values": {"mqtt.host": "elsewhere"}}'
    (state / OVERRIDE_NAME).write_bytes(garbage)
    sub = Subscriber(broker.host, broker.port, "cams/test-node/health")
    node = NodeProcess(tmp_path, node_config(tmp_path, broker))
    try:
        doc = health_where(sub, lambda d: d["stages"]["preview"]["processed"] > 0, "health with frames")
    finally:
        node.close()
        sub.close()
    assert doc["verdict"] == "amber"
    assert any("configuration override refused" in r and "mqtt.host" in r for r in doc["reasons"]), doc[
        "reasons"
    ]
    assert doc["config"]["override_active"] is False and "mqtt.host" in doc["config"]["override_error"]
    assert "configuration override refused" in node.log() and "Traceback" not in node.log()
    assert (state / OVERRIDE_NAME).read_bytes() == garbage, "left for a technician to see"
