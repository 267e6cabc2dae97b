"""Real payloads, published by the real node through a real broker, match the checked-in schemas."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from tests.broker import Broker
from tests.mqtt_client import Subscriber
from tests.node_process import NodeProcess, node_config

SCHEMAS = Path(__file__).parent.parent / "edge" / "uplink" / "schemas"
ASYNCAPI = Path(__file__).parent.parent / "docs" / "asyncapi.yaml"


def validator(name: str) -> jsonschema.protocols.Validator:
    schema = json.loads((SCHEMAS / f"{name}.schema.json").read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)  # type: ignore[no-any-return,unused-ignore]


def test_published_status_and_health_match_their_schemas(tmp_path: Path, broker: Broker) -> None:
    sub = Subscriber(broker.host, broker.port, "cams/test-node/#")
    node = NodeProcess(tmp_path, node_config(tmp_path, broker))
    try:
        online = sub.expect(lambda m: m.topic.endswith("/status"), 20, "status")
        health = sub.expect(lambda m: m.topic.endswith("/health"), 20, "health")
        validator("status").validate(online.json())
        validator("health").validate(health.json())
    finally:
        node.close()
    will = sub.expect(lambda m: m.topic.endswith("/status") and m.json()["state"] == "offline", 15, "will")
    validator("status").validate(will.json())
    sub.close()


def test_schema_rejects_a_wrong_payload() -> None:
    with pytest.raises(jsonschema.ValidationError):
        validator("status").validate({"schema": "edge.status/1", "node_id": "x", "state": "maybe"})


def test_asyncapi_document_references_the_checked_in_schemas() -> None:
    doc = yaml.safe_load(ASYNCAPI.read_text())
    assert doc["asyncapi"].startswith("3.")
    for message in doc["components"]["messages"].values():
        ref = message["payload"]["$ref"]
        assert (ASYNCAPI.parent / ref).resolve().is_file(), ref
    published = {c["address"].split("/")[-1] for c in doc["channels"].values()}
    assert {"status", "health"} <= published


def test_privacy_alarm_event_reaches_the_broker_and_matches_its_schema(
    tmp_path: Path, broker: Broker
) -> None:
    sub = Subscriber(broker.host, broker.port, "cams/test-node/event/#")
    # No masks while masks are required: the stage raises its alarm at start, before the broker is
    # connected, so this also shows that an event raised offline is delivered once connected.
    node = NodeProcess(tmp_path, node_config(tmp_path, broker, privacy={"masks": []}))
    try:
        msg = sub.expect(lambda m: True, 20, "privacy alarm event")
    finally:
        node.close()
        sub.close()
    assert msg.topic == "cams/test-node/event/alarm"
    doc = msg.json()
    validator("event").validate(doc)
    assert doc["cause"] == "no_masks"
    assert doc["source"] == "privacy"


def test_every_schema_is_valid_and_a_signed_request_matches_cmd_request() -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from edge.ctl.send import make_request

    for path in SCHEMAS.glob("*.schema.json"):
        validator(path.name.removesuffix(".schema.json"))
    doc = make_request("export_clip", {"from": "x"}, Ed25519PrivateKey.generate(), issuer="op")
    validator("cmd_request").validate(doc)
    with pytest.raises(jsonschema.ValidationError):
        validator("cmd_request").validate({**doc, "name": "rm_rf"})


def test_asyncapi_describes_the_anpr_and_lez_topics_and_set_hotlist() -> None:
    doc = yaml.safe_load(ASYNCAPI.read_text())
    addresses = {c["address"] for c in doc["channels"].values()}
    assert {
        "cams/{node_id}/anpr/read",
        "cams/{node_id}/anpr/hit",
        "cams/{node_id}/lez/read",
        "cams/{node_id}/lez/evidence",
    } <= addresses
    schemas = {m["payload"]["$ref"].rsplit("/", 1)[-1] for m in doc["components"]["messages"].values()}
    assert {f"{n}.schema.json" for n in ("anpr_read", "anpr_hit", "lez_read", "lez_evidence")} <= schemas
    assert "set_hotlist" in doc["channels"]["cmd"]["description"]

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from edge.ctl.send import make_request

    request = make_request(
        "set_hotlist", {"bundle": {"schema": "edge.hotlist/1"}}, Ed25519PrivateKey.generate(), issuer="op"
    )
    validator("cmd_request").validate(request)


def test_lez_schemas_have_no_overview_image() -> None:
    # Requirement 15: a LEZ record carries plate, country, time, place and crop, never an overview.
    for name in ("lez_read", "lez_evidence"):
        schema = json.loads((SCHEMAS / f"{name}.schema.json").read_text())
        assert schema["additionalProperties"] is False
        assert not any("overview" in key for key in schema["properties"])
        assert {"plate", "country", "ts", "location", "crop_jpeg_b64", "mask_id"} <= set(schema["required"])
