"""Clip export on the node: signed manifest, verified copies, and the 30-day decision rule."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest

from edge.clock import FakeClock
from edge.ctl.clip import verify_export
from edge.storage.errors import ExportRefusedError, StorageError
from edge.storage.export import MANIFEST_NAME, SIGNATURE_NAME, export_clip
from edge.storage.keys import fingerprint, load_ed25519_private, load_ed25519_public
from edge.storage.model import AlarmKind, EventKind, StorageAlarm, StorageEvent
from edge.storage.store import SegmentStore
from tests.storage_support import Keys, fake_video, make_keys, open_store

HOUR_NS = 3600 * 10**9
DAY_NS = 24 * HOUR_NS


@pytest.fixture(scope="module")
def k(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return make_keys(tmp_path_factory.mktemp("keys"))


def hourly(store: SegmentStore, clock: FakeClock, hours: int) -> None:
    for _ in range(hours):
        clock.advance(3600)
        now = clock.time_ns()
        store.store(fake_video(700), now - HOUR_NS, now, "m1-test", "fake")


def test_export_copies_the_covering_segments_and_signs_the_manifest(tmp_path: Path, k: Keys) -> None:
    clock = FakeClock()
    events: list[StorageEvent] = []
    store = open_store(tmp_path / "rec", k, clock, audit=events.append)
    t0 = clock.time_ns()
    hourly(store, clock, 5)
    device = load_ed25519_private(k.device_key)
    out = tmp_path / "export"
    result = export_clip(
        store, t0 + HOUR_NS + 1, t0 + 3 * HOUR_NS, out, device, requester="officer 7", purpose="incident 42"
    )
    assert len(result.segment_ids) == 2
    body = (out / MANIFEST_NAME).read_bytes()
    load_ed25519_public(k.device_pub).verify(base64.b64decode((out / SIGNATURE_NAME).read_bytes()), body)
    manifest = json.loads(body)
    assert manifest["node_id"] == "test-node" and manifest["decision_ref"] is None
    assert manifest["device_key"] == fingerprint(device.public_key())
    assert (manifest["start_ns"], manifest["end_ns"]) == (t0 + HOUR_NS + 1, t0 + 3 * HOUR_NS)
    assert manifest["mask_ids"] == ["m1-test"]
    for entry in manifest["segments"]:
        data = (out / entry["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"] and len(data) == entry["sealed_bytes"]
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [MANIFEST_NAME, SIGNATURE_NAME, *(e["file"] for e in manifest["segments"])]
    )
    assert events[-1].kind is EventKind.EXPORT and events[-1].actor == "officer 7"
    assert "purpose=incident 42" in events[-1].detail and events[-1].segment_ids == result.segment_ids


def test_footage_older_than_30_days_needs_a_decision_reference(tmp_path: Path, k: Keys) -> None:
    clock = FakeClock()
    events: list[StorageEvent] = []
    store = open_store(tmp_path / "rec", k, clock, audit=events.append)
    t0 = clock.time_ns()
    hourly(store, clock, 2)
    clock.advance(31 * 86400)
    device = load_ed25519_private(k.device_key)
    with pytest.raises(ExportRefusedError, match="older than 30 days"):
        export_clip(store, t0, t0 + HOUR_NS, tmp_path / "a", device, requester="officer 7", purpose="look")
    assert events[-1].kind is EventKind.EXPORT and events[-1].detail.startswith("refused:")
    assert not (tmp_path / "a").exists()
    export_clip(
        store,
        t0,
        t0 + HOUR_NS,
        tmp_path / "b",
        device,
        requester="officer 7",
        purpose="look",
        decision_ref="Parket Antwerpen 2026/0815",
    )
    manifest = json.loads((tmp_path / "b" / MANIFEST_NAME).read_bytes())
    assert manifest["decision_ref"] == "Parket Antwerpen 2026/0815"
    assert "decision_ref=Parket Antwerpen 2026/0815" in events[-1].detail
    # Footage from the last 30 days needs none.
    hourly(store, clock, 1)
    now = clock.time_ns()
    export_clip(store, now - HOUR_NS, now, tmp_path / "c", device, requester="officer 7", purpose="look")


def test_bad_export_requests_are_refused(tmp_path: Path, k: Keys) -> None:
    clock = FakeClock()
    store = open_store(tmp_path / "rec", k, clock)
    hourly(store, clock, 1)
    now = clock.time_ns()
    device = load_ed25519_private(k.device_key)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x").write_text("x")
    with pytest.raises(StorageError, match="not empty"):
        export_clip(store, now - HOUR_NS, now, tmp_path / "busy", device, requester="r", purpose="p")
    with pytest.raises(StorageError, match="no recorded footage"):
        export_clip(store, now + 1, now + 2, tmp_path / "e", device, requester="r", purpose="p")
    with pytest.raises(StorageError, match="requester and a purpose"):
        export_clip(store, now - HOUR_NS, now, tmp_path / "e", device, requester=" ", purpose="p")
    # A segment corrupted on disk is not exported under its recorded hash.
    [segment] = store.segments(0, 2**63 - 1)
    path = store.path_of(segment)
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(StorageError, match=r"every segment in the requested range \(1\) is corrupt on disk"):
        export_clip(store, now - HOUR_NS, now, tmp_path / "f", device, requester="r", purpose="p")
    assert not (tmp_path / "f" / MANIFEST_NAME).exists()


def test_a_corrupt_segment_is_left_out_named_in_the_manifest_and_alarmed(tmp_path: Path, k: Keys) -> None:
    clock = FakeClock()
    events: list[StorageEvent] = []
    alarms: list[StorageAlarm] = []
    store = open_store(tmp_path / "rec", k, clock, audit=events.append, alarm=alarms.append)
    t0 = clock.time_ns()
    hourly(store, clock, 3)
    first, middle, last = store.segments(0, 2**63 - 1)
    path = store.path_of(middle)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x40  # a bit flipped on the card
    path.write_bytes(bytes(data))

    device = load_ed25519_private(k.device_key)
    out = tmp_path / "export"
    result = export_clip(store, t0, clock.time_ns(), out, device, requester="r", purpose="p")

    assert result.segment_ids == (first.segment_id, last.segment_id)
    assert result.corrupt_ids == (middle.segment_id,)
    assert not (out / f"{middle.segment_id}.seg").exists()
    manifest = verify_export(out, load_ed25519_public(k.device_pub))  # signed, every listed file verifies
    assert [s.segment_id for s in manifest.segments] == [first.segment_id, last.segment_id]
    assert manifest.corrupt == (middle.segment_id,)
    doc = json.loads((out / MANIFEST_NAME).read_bytes())
    assert doc["corrupt"][0]["sha256"] == middle.sha256 and "recorded hash" in doc["corrupt"][0]["reason"]
    assert [a.kind for a in alarms] == [AlarmKind.SEGMENT_CORRUPT]
    assert middle.segment_id in alarms[0].message
    state = store.state()
    assert state.alarms == 1 and state.last_alarm.startswith("segment_corrupt")
    assert f"corrupt_left_out={middle.segment_id}" in events[-1].detail
    assert store.segments(0, 2**63 - 1)[1].segment_id == middle.segment_id, "kept for a technician"
