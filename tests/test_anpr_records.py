"""The ANPR stage's plumbing on the synthetic street, with a ground-truth recogniser in place of the models:
read records and their schema, one read per pass, occupant blur, the masks rule, hits before reads, LEZ
minimisation, a model that does not load. The models themselves are tested in test_anpr_node.py."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import cv2
import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.anpr.clips import ClipJob, HitClips
from edge.anpr.hotlist import HotlistErrorCode, Purpose
from edge.anpr.hotlist_index import Hotlists
from edge.anpr.lists import ListLimits, NodeHotlists
from edge.anpr.overview import windscreen_box
from edge.anpr.publish import ClipPolicy, PassPublisher
from edge.anpr.records import RecordContext
from edge.anpr.runtime import ModelError
from edge.anpr.service import AnprConsumer, PlateRecognizer
from edge.clock import FakeClock
from edge.commands.handlers import CommandContext, Handlers
from edge.commands.model import Command, CommandError
from edge.config import AnprConfig, MaskConfig
from edge.diagnostics.checks import CheckStatus, check_models
from edge.diagnostics.web.summary import NO_MODELS, models_text
from edge.privacy.masks import AppliedMasks, MaskSet
from edge.storage.keys import load_ed25519_private
from edge.types import MaskedFrame
from edge.uplink.outbox import Outbox, Priority
from edge.uplink.topics import Topics
from tests.anpr_support import (
    AuditRecorder,
    FakeUplink,
    TruthRecognizer,
    bundle,
    confusable_variant,
    decode_jpeg,
    demo_anpr,
    demo_camera,
    demo_privacy,
    high_frequency_energy,
    masked_frames,
    plate_box,
    truth_passes,
    windscreen_of,
)
from tests.storage_support import fake_video, make_keys, open_store
from tests.test_payload_schemas import validator

FRAMES = range(0, 700, 2)  # 28 s of the demo street, every second frame (12.5 fps)
MIN_WIDTH_PX = 30.0
CENTRAL = Ed25519PrivateKey.generate()
SECOND_NS = 10**9


class Rig:
    def __init__(
        self,
        anpr: AnprConfig,
        *,
        recognizer: Callable[[], PlateRecognizer] | None = None,
        masks: Callable[[], AppliedMasks] | None = None,
    ) -> None:
        self.uplink = FakeUplink()
        self.audit = AuditRecorder()
        self.truth = TruthRecognizer(MIN_WIDTH_PX)
        self.hotlists = NodeHotlists(
            Hotlists(None),
            [CENTRAL.public_key()],
            Purpose(anpr.profile),
            ListLimits(1000, 1 << 20, 31 * 86400.0),
            time.time_ns,
            self.audit,
        )
        context = RecordContext(
            node_id="test-node",
            profile=anpr.profile,
            location={"lat": 51.2, "lon": 4.4, "site": "test street", "description": "both lanes"},
            model_version="",
            overview=anpr.overview and anpr.profile == "police",
            blur_occupants=anpr.blur_occupants,
            overview_width_px=anpr.overview_width_px,
        )
        publisher = PassPublisher(
            context,
            Topics("cams", "test-node"),
            self.uplink.send,
            self.hotlists,
            self.audit,
            ClipPolicy(None, "recording is off on this node", 5.0, 5.0),
        )
        applied = AppliedMasks(MaskSet.from_config(demo_privacy()))
        self.consumer = AnprConsumer(
            anpr,
            recognizer=recognizer or (lambda: self.truth),
            masks=masks or (lambda: applied),
            publisher=publisher,
            hotlists=self.hotlists,
        )
        self.frames: dict[int, MaskedFrame] = {}

    def run(self, frames: Iterator[MaskedFrame], keep: bool = False) -> None:
        for frame in frames:
            self.truth.remember(frame)
            if keep:
                self.frames[frame.index] = frame
            self.consumer.consume(frame)
        self.consumer.close()


@pytest.fixture(scope="module")
def police_run() -> Rig:
    rig = Rig(demo_anpr(max_fps=25))
    rig.hotlists.load(bundle(CENTRAL, []), actor="op:test")  # an empty list: nothing hits
    rig.run(masked_frames(demo_camera(), demo_privacy(), FRAMES), keep=True)
    return rig


def test_one_schema_valid_read_per_vehicle_pass(police_run: Rig) -> None:
    reads = police_run.uplink.on("/anpr/read")
    expected = truth_passes(demo_camera(), FRAMES, min_width_px=MIN_WIDTH_PX)
    # Only vehicles whose plate is inside the ROI and away from the masks can be read.
    assert len(expected) >= 8, "the scene should show several vehicles in 28 s"
    for doc in reads:
        validator("anpr_read").validate(doc)
        assert doc["mask_id"] == police_run.frames[doc["frame_index"]].mask_id
        assert doc["model_version"] == TruthRecognizer.version
        assert doc["ts"] <= doc["last_seen"] and doc["first_seen"] <= doc["ts"]
    texts = [doc["plate"] for doc in reads]
    assert len(texts) == len(set(texts)), f"a vehicle was published twice: {sorted(texts)}"
    assert set(texts) <= {p.text for p in expected.values()}
    missing = {p.text for p in expected.values()} - set(texts)
    assert len(missing) <= 1, f"passes without a read: {missing}"
    assert [m.stream for m in police_run.uplink.messages] == ["anpr_read"] * len(reads)
    snapshot = police_run.consumer.health()
    assert snapshot["state"] == "running"
    assert snapshot["capture"]["read"] == len(reads)
    assert snapshot["published"]["reads"] == len(reads)
    assert {"vehicles", "capture_rate", "confidence_histogram", "ms_p50", "ms_p95"} <= snapshot[
        "capture"
    ].keys()
    assert snapshot["hotlists"]["lists"][0]["list_id"] == "police-test"


def test_emit_on_cross_publishes_once_while_the_vehicle_is_still_in_view(
    police_run: Rig,
) -> None:
    rig = Rig(demo_anpr(max_fps=25, emit_on_cross=True))
    rig.run(masked_frames(demo_camera(), demo_privacy(), FRAMES))
    reads = rig.uplink.on("/anpr/read")
    texts = [doc["plate"] for doc in reads]
    assert len(texts) == len(set(texts)), f"a vehicle was published twice: {sorted(texts)}"
    at_the_end = {doc["plate"]: doc for doc in police_run.uplink.on("/anpr/read")}
    assert set(texts) == set(at_the_end), "the same vehicles are read, only sooner"
    crossed = [doc for doc in reads if doc["direction"] in ("in", "out")]
    assert len(crossed) >= 5, "the demo's counting line is crossed by most vehicles"
    for doc in crossed:
        validator("anpr_read").validate(doc)
        # Published at the crossing: the vehicle was still seen afterwards (the default waits for that).
        assert doc["last_seen"] < at_the_end[doc["plate"]]["last_seen"], doc["plate"]


def test_overview_blurs_the_windscreen_and_keeps_the_masks(police_run: Rig) -> None:
    reads = police_run.uplink.on("/anpr/read")
    checked = 0
    fill = np.array(demo_privacy().fill_bgr)
    for doc in reads:
        frame = police_run.frames[doc["frame_index"]]
        assert frame.truth is not None
        overview = decode_jpeg(doc["overview_jpeg_b64"])
        height, width = overview.shape[:2]
        assert width == 960 and doc["occupants_blurred"]
        scale = width / frame.width
        reference = np.asarray(
            cv2.resize(frame.pixels, (width, height), interpolation=cv2.INTER_AREA), np.uint8
        )
        plate = next(p for p in frame.truth.plates if p.text == doc["plate"])
        windscreen = np.array(windscreen_of(frame.truth, plate), np.float64) * scale
        if len(windscreen) < 3 or cv2.contourArea(windscreen.astype(np.float32)) < 400:
            continue  # too small in the overview to measure
        covered = AppliedMasks(MaskSet.from_config(demo_privacy())).coverage(width, height)
        blurred, measured = high_frequency_energy(overview, windscreen, covered)
        sharp, _ = high_frequency_energy(reference, windscreen, covered)
        if measured >= 300:
            assert blurred < 0.35 * sharp, (doc["plate"], blurred, sharp)
            checked += 1
        # Masked areas stay the fill colour (their inside; the edges blend when scaled down).
        inside = cv2.erode(covered.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
        error = np.abs(overview[inside].astype(int) - fill)
        assert error.mean() < 2 and error.max() <= 40, "masked areas are the fill (up to JPEG ringing)"
    assert checked >= 3


def test_windscreen_estimate_covers_the_true_windscreens() -> None:
    # The estimate from the plate box alone (docs/anpr.md) against the renderer's windscreen polygons.
    covered = total = 0
    for frame in masked_frames(demo_camera(), demo_privacy(), range(0, 1500, 10)):
        assert frame.truth is not None
        for plate in frame.truth.plates:
            glass = windscreen_of(frame.truth, plate)
            if not plate.fully_visible or len(glass) < 3:
                continue
            box = windscreen_box(plate_box(plate.corners), frame.width, frame.height)
            assert box is not None
            x, y, w, h = box
            g = np.array(glass)
            total += 1
            if (
                g[:, 0].min() >= x - 1
                and g[:, 0].max() <= x + w + 1
                and g[:, 1].min() >= y - 1
                and g[:, 1].max() <= y + h + 1
            ):
                covered += 1
    assert total >= 100
    assert covered / total >= 0.97, f"{covered} of {total} windscreens inside the estimate"


def test_reads_touching_a_mask_are_dropped() -> None:
    # A mask over the near half of the road: plates there are masked out, and partly covered ones dropped.
    privacy = demo_privacy()
    road = MaskConfig(name="road", polygon=[(0.0, 0.55), (1.0, 0.55), (1.0, 1.0), (0.0, 1.0)])
    privacy = privacy.model_copy(update={"masks": [*privacy.masks, road]})
    applied = AppliedMasks(MaskSet.from_config(privacy))
    rig = Rig(demo_anpr(max_fps=25), masks=lambda: applied)
    rig.truth.min_width_px = 10  # the truth recogniser would read a masked plate; the rule must not
    rig.run(masked_frames(demo_camera(), privacy, range(0, 400, 2)), keep=True)
    assert rig.consumer.health()["frames"]["reads_masked"] > 0
    for doc in rig.uplink.on("/anpr/read"):
        _, y, _, h = doc["plate_box"]
        assert y + h < 0.55 * 720, "no read from inside or touching the mask"


def test_frames_masked_with_a_replaced_mask_set_give_no_reads() -> None:
    other = AppliedMasks(MaskSet.from_config(demo_privacy().model_copy(update={"masks": []})))
    rig = Rig(demo_anpr(max_fps=25), masks=lambda: other)
    rig.run(masked_frames(demo_camera(), demo_privacy(), range(0, 200, 4)))
    health = rig.consumer.health()
    assert health["frames"]["masks_replaced"] == 50
    assert rig.truth.calls == 0 and rig.uplink.messages == []


def test_hits_go_first_and_fuzzy_hits_are_flagged() -> None:
    expected = truth_passes(demo_camera(), FRAMES, min_width_px=MIN_WIDTH_PX)
    plates = sorted(p.text for p in expected.values())
    exact = plates[0]
    fuzzy_source = next(t for t in plates[1:] if confusable_variant(t) is not None)
    variant = confusable_variant(fuzzy_source)
    assert variant is not None
    rig = Rig(demo_anpr(max_fps=25))
    rig.hotlists.load(
        bundle(CENTRAL, [(exact, "stolen", "pv-1"), (variant, "wanted", "pv-2")]), actor="op:test"
    )
    rig.run(masked_frames(demo_camera(), demo_privacy(), FRAMES))
    messages = rig.uplink.messages
    hits = [m for m in messages if m.topic.endswith("/anpr/hit")]
    assert {m.body["plate"] for m in hits} == {exact, fuzzy_source}
    for hit in hits:
        validator("anpr_hit").validate(hit.body)
        assert hit.priority is Priority.HOTLIST_HIT
        assert hit.body["clip"] is None and hit.body["clip_reason"] == "recording is off on this node"
        read_at = next(
            i
            for i, m in enumerate(messages)
            if m.stream == "anpr_read" and m.body["read_id"] == hit.body["read_id"]
        )
        assert messages.index(hit) < read_at, "a hit is sent before its read"
    by_plate = {m.body["plate"]: m.body for m in hits}
    assert by_plate[exact]["fuzzy"] is False and by_plate[exact]["needs_human_check"] is False
    assert by_plate[exact]["category"] == "stolen" and by_plate[exact]["ref"] == "pv-1"
    assert by_plate[fuzzy_source]["fuzzy"] is True and by_plate[fuzzy_source]["needs_human_check"] is True
    audited = [e for e in rig.audit.entries if e["action"] == "anpr.hit"]
    assert len(audited) == 2
    assert all(exact not in e["detail"] and fuzzy_source not in e["detail"] for e in rig.audit.entries)
    load = next(e for e in rig.audit.entries if e["action"] == "anpr.hotlist_load")
    assert "entries=2" in load["detail"] and load["actor"] == "op:test"


def test_outbox_sends_a_hit_before_a_read_queued_earlier(tmp_path: Path) -> None:
    box = Outbox(
        tmp_path / "o.sqlite",
        max_messages=100,
        max_bytes=1 << 20,
        time_ns=time.time_ns,
        overflow_report=lambda t: ("cams/n/event/outbox_overflow", {"totals": t}),
    )
    box.enqueue("anpr_read", "cams/n/anpr/read", {"read_id": "r"}, Priority.PLATE_READ)
    box.enqueue("event", "cams/n/event/x", {"e": 1}, Priority.EVENT)
    box.enqueue("anpr_hit", "cams/n/anpr/hit", {"read_id": "r"}, Priority.HOTLIST_HIT)
    assert [m.topic for m in box.claim(10)] == ["cams/n/anpr/hit", "cams/n/event/x", "cams/n/anpr/read"]


def test_lez_without_a_list_sends_the_minimum_only() -> None:
    rig = Rig(demo_anpr(max_fps=25, profile="lez"))
    rig.run(masked_frames(demo_camera(), demo_privacy(), FRAMES))
    reads = rig.uplink.on("/lez/read")
    assert reads and {m.stream for m in rig.uplink.messages} == {"lez_read"}
    for doc in reads:
        validator("lez_read").validate(doc)
        assert "overview_jpeg_b64" not in doc and doc["profile"] == "lez"
    assert rig.consumer.health()["lez"]["reads"] == len(reads)


def test_lez_with_a_list_drops_admitted_vehicles_and_sends_evidence() -> None:
    expected = truth_passes(demo_camera(), FRAMES, min_width_px=MIN_WIDTH_PX)
    listed = sorted(p.text for p in expected.values())[0]
    rig = Rig(demo_anpr(max_fps=25, profile="lez"))
    with pytest.raises(Exception, match="wrong_purpose"):
        rig.hotlists.load(bundle(CENTRAL, [(listed, "stolen", "x")]), actor="op:test")
    rig.hotlists.load(
        bundle(CENTRAL, [(listed, "lez_not_admitted", "lez-1")], list_id="lez-antwerp", purpose="lez"),
        actor="op:city",
    )
    rig.run(masked_frames(demo_camera(), demo_privacy(), FRAMES))
    assert [m.stream for m in rig.uplink.messages] == ["lez_evidence"]
    evidence = rig.uplink.messages[0].body
    validator("lez_evidence").validate(evidence)
    assert evidence["plate"] == listed and "overview_jpeg_b64" not in evidence
    lez = rig.consumer.health()["lez"]
    assert lez["evidence"] == 1 and lez["dropped"] >= 5 and lez["list_active"] is True
    assert any(e["action"] == "lez.evidence" for e in rig.audit.entries)


def test_police_node_refuses_a_lez_list() -> None:
    rig = Rig(demo_anpr())
    with pytest.raises(Exception, match="wrong_purpose") as info:
        rig.hotlists.load(bundle(CENTRAL, [], list_id="lez-x", purpose="lez"), actor="op:test")
    assert getattr(info.value, "code", None) is HotlistErrorCode.WRONG_PURPOSE


def test_a_model_that_does_not_load_disables_the_stage() -> None:
    def broken() -> PlateRecognizer:
        raise ModelError("detector model plate_detector_int8.tflite does not match the manifest")

    rig = Rig(demo_anpr(), recognizer=broken)
    rig.run(masked_frames(demo_camera(), demo_privacy(), range(0, 20, 2)))
    health: dict[str, Any] = rig.consumer.health()
    assert health["state"] == "disabled" and "does not match the manifest" in health["reason"]
    assert rig.uplink.messages == []


def test_rate_limit_skips_frames() -> None:
    rig = Rig(demo_anpr(max_fps=5))
    rig.run(masked_frames(demo_camera(), demo_privacy(), range(0, 100)))  # 4 s at 25 fps
    frames = rig.consumer.health()["frames"]
    assert 18 <= frames["frames"] <= 21 and frames["skipped"] >= 78


def test_set_hotlist_command_loads_and_maps_refusals_to_command_errors() -> None:
    def ctx(hotlists: NodeHotlists | None) -> CommandContext:
        unused = cast(Any, None)
        return CommandContext(
            node_id="test-node",
            time_ns=time.time_ns,
            health=dict,
            preview=unused,
            privacy=unused,
            privacy_config=demo_privacy(),
            store=None,
            device_key=unused,
            exports_dir=Path("/nonexistent"),
            chunk_bytes=1024,
            send_clip=unused,
            outbox_room_bytes=lambda: 0,
            request_restart=unused,
            hotlists=hotlists,
        )

    def command(args: dict[str, Any]) -> Command:
        now = time.time_ns()
        return Command("r1", "set_hotlist", args, now, now + 60 * 10**9, "op:lists", "key")

    def code(handlers: Handlers, args: dict[str, Any]) -> str:
        with pytest.raises(CommandError) as info:
            handlers.run(command(args))
        return info.value.code.value

    rig = Rig(demo_anpr())
    handlers = Handlers(ctx(rig.hotlists))
    assert code(Handlers(ctx(None)), {"bundle": {}}) == "unsupported"
    assert code(handlers, {}) == "bad_args"
    assert code(handlers, {"bundle": {"schema": "edge.hotlist/1"}}) == "bad_args"
    assert code(handlers, {"bundle": bundle(Ed25519PrivateKey.generate(), [("1ABC234", "stolen", "x")])}) == (
        "bad_signature"
    )
    done = handlers.run(command({"bundle": bundle(CENTRAL, [("1ABC234", "stolen", "x")], version=3)}))
    assert done == {**done, "list_id": "police-test", "version": 3, "entries": 1, "purpose": "police"}
    assert code(handlers, {"bundle": bundle(CENTRAL, [], version=3)}) == "refused"  # stale_version
    assert code(handlers, {"bundle": bundle(CENTRAL, [], list_id="lez-1", purpose="lez")}) == "refused"
    assert [e["action"] for e in rig.audit.entries] == ["anpr.hotlist_load"]
    assert "1ABC234" not in str(rig.audit.entries)


# --- a hit's event clip: exported once the recorder has the footage, sent on the clip path --------------


class ClipSink:
    def __init__(self) -> None:
        self.messages: list[tuple[str, dict[str, Any]]] = []
        self.meta = threading.Event()

    def __call__(self, suffix: str, body: dict[str, Any]) -> None:
        self.messages.append((suffix, body))
        if suffix.endswith("/meta"):
            self.meta.set()


def test_hit_clip_waits_for_its_footage_then_goes_the_clip_way(tmp_path: Path) -> None:
    k = make_keys(tmp_path / "keys")
    clock = FakeClock()
    store = open_store(tmp_path / "rec", k, clock)
    t0 = clock.time_ns()
    store.store(fake_video(900), t0 - 10 * SECOND_NS, t0, "m1-test", "fake")
    sink = ClipSink()
    stop = threading.Event()
    device = load_ed25519_private(k.device_key)
    clips = HitClips(store, lambda: device, tmp_path / "exports", 512, sink, "test-node", stop, capacity=2)
    clips.start()
    try:
        job = ClipJob("c" * 32, t0 - 5 * SECOND_NS, t0 + 3 * SECOND_NS, "r" * 32, "anpr hit: list l v1")
        assert clips.submit(job)
        assert not sink.meta.wait(1.2), "the clip's end is not recorded yet: the export waits"
        store.store(fake_video(900), t0, t0 + 10 * SECOND_NS, "m1-test", "fake")
        assert sink.meta.wait(10), "exported once a segment reaches the clip's end"
    finally:
        stop.set()
        assert clips.join(5)
    suffix, meta = sink.messages[-1]
    assert suffix == f"clip/{'c' * 32}/meta" and meta["request_id"] == "r" * 32
    assert meta["total_chunks"] == len(sink.messages) - 1 >= 2
    manifest = json.loads((tmp_path / "exports" / ("c" * 32) / "manifest.json").read_text())
    assert manifest["requester"] == "anpr" and len(manifest["segments"]) == 2
    assert clips.counters().sent == 1 and clips.counters().failed == 0


def test_a_hit_clip_pending_at_shutdown_is_exported_after_the_restart(tmp_path: Path) -> None:
    k = make_keys(tmp_path / "keys")
    clock = FakeClock()
    store = open_store(tmp_path / "rec", k, clock)
    t0 = clock.time_ns()
    store.store(fake_video(900), t0 - 10 * SECOND_NS, t0, "m1-test", "fake")
    device = load_ed25519_private(k.device_key)
    job = ClipJob("d" * 32, t0 - 5 * SECOND_NS, t0 + 3 * SECOND_NS, "r" * 32, "anpr hit: list l v1")
    pending = tmp_path / "hit-clips" / f"{job.clip_id}.json"

    stop = threading.Event()
    first = HitClips(store, lambda: device, tmp_path / "exports", 512, ClipSink(), "test-node", stop)
    first.start()
    assert first.submit(job)
    assert pending.is_file(), "written down before submit returns"
    stop.set()  # the node stops while the clip still waits for its footage
    assert first.join(5)
    assert pending.is_file() and not (tmp_path / "exports" / job.clip_id).exists()

    store.store(fake_video(900), t0, t0 + 10 * SECOND_NS, "m1-test", "fake")  # recorded after the restart
    sink = ClipSink()
    stop = threading.Event()
    second = HitClips(store, lambda: device, tmp_path / "exports", 512, sink, "test-node", stop)
    second.start()
    try:
        assert sink.meta.wait(10), "the pending clip is exported after the restart"
    finally:
        stop.set()
        assert second.join(5)
    assert sink.messages[-1][1]["request_id"] == job.read_id
    assert not pending.exists(), "done: no longer pending"
    assert second.counters().sent == 1


def test_hit_clip_queue_is_bounded(tmp_path: Path) -> None:
    k = make_keys(tmp_path / "keys")
    store = open_store(tmp_path / "rec", k, FakeClock())
    device = Ed25519PrivateKey.generate()
    clips = HitClips(
        store, lambda: device, tmp_path / "exports", 512, ClipSink(), "n", threading.Event(), capacity=1
    )
    job = ClipJob("c" * 32, 0, 1, "r" * 32, "p")
    assert clips.submit(job) and not clips.submit(job)
    assert clips.counters().refused == 1 and clips.counters().queued == 1


def test_diagnostics_show_the_models_and_the_reason_they_are_off() -> None:
    running = Rig(demo_anpr(max_fps=25))
    running.run(masked_frames(demo_camera(), demo_privacy(), range(0, 4, 2)))
    doc = running.consumer.health()
    assert models_text(doc).startswith(TruthRecognizer.version)
    assert check_models(doc).status is CheckStatus.PASS

    def broken() -> PlateRecognizer:
        raise ModelError("model file missing: plate_reader_int8.tflite")

    off = Rig(demo_anpr(), recognizer=broken)
    off.run(masked_frames(demo_camera(), demo_privacy(), range(0, 2)))
    doc = off.consumer.health()
    assert models_text(doc) == "ANPR disabled: model file missing: plate_reader_int8.tflite"
    assert check_models(doc).status is CheckStatus.FAIL
    assert models_text({"state": "off"}) == NO_MODELS
    assert check_models({"state": "off"}).status is CheckStatus.SKIPPED
