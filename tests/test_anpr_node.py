"""ANPR in the real node, with the real models, through a real broker: one correct read per vehicle pass
on the synthetic street, hotlist hits before their reads (with event clips), a corrupt model, the LEZ
profile.

The models are those of the checkout (``models/``); ``EDGE_ANPR_TEST_MODELS`` points the tests at another
model folder (a candidate being evaluated). ``EDGE_ANPR_TEST_SECONDS`` sets how long the accuracy run
watches the street (default 90 s of scene at 25 fps).
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.anpr.manifest import default_models_dir, load_manifest
from edge.config import SyntheticCameraConfig
from edge.ctl.cli import main as edgectl
from edge.ctl.receive import ClipReceiver
from edge.ctl.send import SendOptions, make_request, send_and_wait
from edge.privacy.masks import AppliedMasks, MaskSet
from edge.storage.keys import generate_central_keys, generate_device_key, load_ed25519_private
from tests.anpr_support import (
    DEMO,
    TruthPass,
    bundle,
    confusable_variant,
    decode_jpeg,
    demo_camera,
    demo_privacy,
    high_frequency_energy,
    scan_scene,
    vehicle_at,
    windscreen_of,
)
from tests.broker import Broker
from tests.mqtt_client import Message, Subscriber
from tests.node_process import NodeProcess, node_config
from tests.test_payload_schemas import validator

pytestmark = pytest.mark.slow

MODELS = Path(os.environ.get("EDGE_ANPR_TEST_MODELS") or default_models_dir())
RUN_S = float(os.environ.get("EDGE_ANPR_TEST_SECONDS", "90"))
CAMERA = demo_camera(width=1920, height=1080)
"""The accuracy target's camera and the demo's: 1080p, the demo's street and traffic (seed 1, 20 vehicles a
minute)."""
SMALL_CAMERA = demo_camera()
"""The demo street at 1280x720, for the tests about what happens to a read rather than how good it is."""
MIN_PLATE_SHARE = 0.03
"""A plate box at least this share of the frame width (58 px at 1080p) while fully visible is readable."""
MIN_READABLE_S = 0.2
TARGET = 0.98
"""Issue #6's target for one correct read per pass; measured, not yet met (see models/plate_reader.md)."""
LIVE_FLOOR = 0.3
OFFLINE_FLOOR = 0.7
"""Regression floor for the deterministic offline figure (0.9 on this 40 s window with the shipped models)."""


@pytest.fixture(scope="module", autouse=True)
def models() -> None:
    if not (MODELS / "manifest.json").is_file():
        pytest.fail(f"no ANPR models in {MODELS}: run `make models` (or set EDGE_ANPR_TEST_MODELS)")


def model_version() -> str:
    doc = load_manifest(MODELS)["models"]
    return f"{doc['detector']['version']}+{doc['reader']['version']}"


def anpr_config(
    tmp_path: Path, broker: Broker, camera: SyntheticCameraConfig, **sections: Any
) -> dict[str, Any]:
    anpr = {**DEMO.anpr.model_dump(mode="json"), "enabled": True}
    if "EDGE_ANPR_TEST_MODELS" in os.environ:
        anpr["models_dir"] = str(MODELS)
    anpr.update(sections.pop("anpr", {}))
    return node_config(
        tmp_path,
        broker,
        camera=camera.model_dump(mode="json"),
        privacy=demo_privacy().model_dump(mode="json"),
        anpr=anpr,
        **sections,
    )


@dataclass
class Keys:
    central: Ed25519PrivateKey
    sign_pub: Path
    seal_pub: Path
    device: Path
    seal_key: Path
    device_pub: Path


def make_keys(tmp_path: Path) -> Keys:
    folder = tmp_path / "keys"
    seal, sign = generate_central_keys(folder)
    device = generate_device_key(folder)
    return Keys(
        load_ed25519_private(sign.private),
        sign.public,
        seal.public,
        device.private,
        seal.private,
        device.public,
    )


class Watch:
    """Every message on ``cams/test-node/#``, in arrival order, gathered from the test thread."""

    def __init__(self, broker: Broker) -> None:
        self.sub = Subscriber(broker.host, broker.port, "cams/test-node/#")
        self.seen: list[Message] = []

    def until(self, done: Callable[[list[Message]], bool], timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while not done(self.seen):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {what} within {timeout_s:.0f} s")
            try:
                self.seen.append(self.sub.messages.get(timeout=min(remaining, 0.5)))
            except queue.Empty:
                continue

    def gather(self, seconds: float) -> None:
        """Everything that arrives in the next ``seconds`` (an observation window, not a synchronisation)."""
        end = time.monotonic() + seconds
        self.until(lambda _: time.monotonic() >= end, seconds + 5, "end of the window")

    def on(self, suffix: str) -> list[dict[str, Any]]:
        return [m.json() for m in self.seen if m.topic.endswith(suffix)]

    def health(self) -> list[dict[str, Any]]:
        return self.on("/health")

    def close(self) -> None:
        self.sub.close()


@pytest.fixture
def watch(broker: Broker) -> Iterator[Watch]:
    w = Watch(broker)
    yield w
    w.close()


def online(watch: Watch) -> None:
    watch.until(
        lambda seen: any(m.topic.endswith("/status") and m.json()["state"] == "online" for m in seen),
        30,
        "online",
    )


def stop(node: NodeProcess, watch: Watch) -> None:
    node.signal(signal.SIGTERM)
    watch.until(
        lambda seen: any(m.topic.endswith("/status") and m.json()["state"] == "offline" for m in seen),
        30,
        "offline status after SIGTERM",
    )
    assert node.wait(15) == 0


def anpr_running(doc: dict[str, Any]) -> bool:
    return bool(doc["anpr"]["state"] == "running")


# --- (a) and (b): the read records and the accuracy on the synthetic street ------------------------------


def test_node_publishes_one_correct_read_per_vehicle_pass(
    tmp_path: Path, broker: Broker, watch: Watch
) -> None:
    node = NodeProcess(tmp_path, anpr_config(tmp_path, broker, CAMERA))
    try:
        online(watch)
        watch.until(
            lambda seen: any(anpr_running(m.json()) for m in seen if m.topic.endswith("/health")), 60, "ANPR"
        )
        watch.gather(RUN_S)
        stop(node, watch)
    finally:
        node.close()
    health = watch.health()
    first = next(h for h in health if anpr_running(h))
    start_frame = first["stages"]["privacy"]["processed"]
    reads = watch.on("/anpr/read")
    last_frame = max([health[-1]["stages"]["privacy"]["processed"], *(r["frame_index"] for r in reads)])
    scene = scan_scene(
        CAMERA,
        range(last_frame + 1),
        min_width_px=MIN_PLATE_SHARE * CAMERA.width,
        privacy=demo_privacy(),
        keep={r["frame_index"] for r in reads},
    )

    # (a) every record: schema, mask id, model version, an overview whose windscreens are blurred and whose
    # masked areas are the fill.
    mask_id = MaskSet.from_config(demo_privacy()).mask_id
    blurred_checked = 0
    for doc in reads:
        validator("anpr_read").validate(doc)
        assert doc["mask_id"] == mask_id and doc["model_version"] == model_version()
        assert doc["profile"] == "police" and doc["node_id"] == "test-node"
        blurred_checked += check_overview(doc, scene.frames[doc["frame_index"]])
    assert not watch.on("/anpr/hit") and not [m for m in watch.seen if "/lez/" in m.topic]

    # (b) one correct read per vehicle pass.
    fps = CAMERA.fps
    eligible = {
        v.vehicle_id: v
        for v in scene.vehicles.values()
        if v.readable_frames >= MIN_READABLE_S * fps
        and v.first_frame >= start_frame
        and v.last_frame <= last_frame - fps
    }
    by_vehicle: dict[int, list[dict[str, Any]]] = {}
    stray = []
    for doc in reads:
        vehicle = vehicle_at(scene.vehicles, doc["frame_index"], doc["plate_box"])
        if vehicle is None:
            stray.append(doc["plate"])
        else:
            by_vehicle.setdefault(vehicle.vehicle_id, []).append(doc)
    outcome = {"correct": 0, "missed": 0, "wrong": 0, "duplicated": 0}
    failures = []
    for v in eligible.values():
        got = by_vehicle.get(v.vehicle_id, [])
        kind = (
            "missed"
            if not got
            else "duplicated"
            if len(got) > 1
            else "correct"
            if got[0]["plate"] == v.text
            else "wrong"
        )
        outcome[kind] += 1
        if kind != "correct":
            failures.append(f"{kind}: truth {v.text} read {[d['plate'] for d in got]}")
    rate = outcome["correct"] / len(eligible) if eligible else 0.0
    capture = health[-1]["anpr"]["capture"]
    summary = (
        f"ANPR accuracy on the synthetic street ({CAMERA.width}x{CAMERA.height}, {RUN_S:.0f} s, frames "
        f"{start_frame}..{last_frame}): {outcome['correct']}/{len(eligible)} passes read once and correctly "
        f"({rate:.1%}); {outcome}; {len(reads)} reads, {len(stray)} not matching any vehicle; node capture "
        f"rate {capture['capture_rate']}, {capture['ms_p50']} ms p50, {capture['ms_p95']} ms p95"
    )
    print(summary)
    (tmp_path / "accuracy.json").write_text(json.dumps({"summary": summary, "failures": failures}, indent=2))
    assert len(eligible) >= 10, summary
    # The target (98 %) is not met by the current models; `make bench` reports the deterministic figure
    # (anpr_synthetic_passes_1080p). A live node on a loaded machine sees fewer frames per vehicle, so
    # this only guards against a collapse.
    assert rate >= LIVE_FLOOR, f"{summary}\n" + "\n".join(failures)
    assert blurred_checked >= 3, "overviews with a measurable windscreen"


def check_overview(doc: dict[str, Any], frame: Any) -> int:
    """Assert the overview's occupants are blurred and its masked areas filled; 1 when a windscreen was
    large enough to measure."""
    overview = decode_jpeg(doc["overview_jpeg_b64"])
    height, width = overview.shape[:2]
    assert doc["occupants_blurred"] and width == DEMO.anpr.overview_width_px
    covered = AppliedMasks(MaskSet.from_config(demo_privacy())).coverage(width, height)
    inside = cv2.erode(covered.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
    error = np.abs(overview[inside].astype(int) - np.array(demo_privacy().fill_bgr))
    assert error.mean() < 2 and error.max() <= 40, "masked areas are the fill (up to JPEG ringing)"
    plate = next((p for p in frame.truth.plates if p.text == doc["plate"]), None)
    if plate is None:
        return 0
    glass = np.array(windscreen_of(frame.truth, plate), np.float64) * (width / frame.width)
    if len(glass) < 3:
        return 0
    reference = np.asarray(cv2.resize(frame.pixels, (width, height), interpolation=cv2.INTER_AREA), np.uint8)
    blurred, measured = high_frequency_energy(overview, glass, covered)
    sharp, _ = high_frequency_energy(reference, glass, covered)
    if measured < 300:
        return 0
    assert blurred < 0.35 * sharp, f"windscreen of {doc['plate']} not blurred: {blurred:.1f} vs {sharp:.1f}"
    return 1


# --- (c) hotlists over signed commands: hits first, audited, with their clip; fuzzy hits flagged -----------


def pick_plates(first_s: float, last_s: float, count: int, *, confusable: bool = False) -> list[TruthPass]:
    """Vehicles of the demo street readable between ``first_s`` and ``last_s`` of scene time, in order."""
    fps = SMALL_CAMERA.fps
    scene = scan_scene(SMALL_CAMERA, range(round(last_s * fps) + 50), min_width_px=MIN_PLATE_SHARE * 1280)
    chosen = sorted(
        (
            v
            for v in scene.vehicles.values()
            if v.readable_frames >= 8
            and first_s * fps <= v.first_frame
            and v.last_frame <= last_s * fps
            and (not confusable or confusable_variant(v.text) is not None)
        ),
        key=lambda v: v.first_frame,
    )
    assert len(chosen) >= count, f"the demo street shows {len(chosen)} such vehicles"
    return chosen[:count]


def test_hotlist_hit_arrives_before_its_read_with_its_clip(
    tmp_path: Path, broker: Broker, watch: Watch
) -> None:
    keys = make_keys(tmp_path)
    cfg = anpr_config(
        tmp_path,
        broker,
        SMALL_CAMERA,
        anpr={"hit_clip_pre_s": 1.0, "hit_clip_post_s": 1.0},
        commands={"central_public_key_files": [str(keys.sign_pub)], "max_validity_s": 120},
        storage={
            "enabled": True,
            "segment_seconds": 2.0,
            "central_public_key_file": str(keys.seal_pub),
            "device_key_file": str(keys.device),
        },
    )
    exact = pick_plates(12, 50, 2)
    taken = {v.vehicle_id for v in exact}
    fuzzy = [v for v in pick_plates(12, 50, 6, confusable=True) if v.vehicle_id not in taken][:2]
    assert fuzzy, "a listed look-alike needs a plate with a confusable glyph"
    rows = [(v.text, "stolen", f"pv-{i}") for i, v in enumerate(exact)]
    rows += [(str(confusable_variant(v.text)), "wanted", f"pv-f{i}") for i, v in enumerate(fuzzy)]
    node = NodeProcess(tmp_path, cfg)
    try:
        online(watch)
        request = make_request(
            "set_hotlist", {"bundle": bundle(keys.central, rows)}, keys.central, issuer="op:hotlists"
        )
        result = send_and_wait(SendOptions(broker.host, broker.port, "cams", "test-node", 30), request)
        assert result["ok"], result
        assert result["data"]["entries"] == len(rows) and result["data"]["list_id"] == "police-test"
        exact_texts, fuzzy_texts = {v.text for v in exact}, {v.text for v in fuzzy}

        def hits_done(seen: list[Message]) -> bool:
            hits = [m.json() for m in seen if m.topic.endswith("/anpr/hit")]
            return any(h["plate"] in exact_texts for h in hits) and any(
                h["plate"] in fuzzy_texts for h in hits
            )

        try:
            watch.until(hits_done, 70, "an exact and a fuzzy hotlist hit")
        except AssertionError as exc:
            reads = [(d["plate"], d["confidence"]) for d in watch.on("/anpr/read")]
            raise AssertionError(
                f"{exc}; listed {sorted(exact_texts)} and look-alikes of {sorted(fuzzy_texts)}; read {reads}"
            ) from None
        hits = watch.on("/anpr/hit")
        clip_ids = {h["clip"]["clip_id"]: h["read_id"] for h in hits if h["clip"]}
        watch.until(
            lambda seen: (
                all(any(m.topic.endswith(f"/clip/{c}/meta") for m in seen) for c in clip_ids)
                and all(
                    any(m.topic.endswith("/anpr/read") and m.json()["read_id"] == h["read_id"] for m in seen)
                    for h in hits
                )
            ),
            40,
            "the hits' reads and clips",
        )
        stop(node, watch)
    finally:
        node.close()

    topics = [m.topic for m in watch.seen]
    # The hits whose reads and clips were waited for: on a loaded machine another hit can arrive before the
    # node stops, its clip still on its way.
    for hit in hits:
        validator("anpr_hit").validate(hit)
        assert hit["model_version"] == model_version()
        assert hit["fuzzy"] is (hit["plate"] in fuzzy_texts) and hit["needs_human_check"] is hit["fuzzy"]
        hit_at = next(
            i
            for i, m in enumerate(watch.seen)
            if m.topic.endswith("/anpr/hit") and m.json()["read_id"] == hit["read_id"]
        )
        read_at = next(
            i
            for i, m in enumerate(watch.seen)
            if m.topic.endswith("/anpr/read") and m.json()["read_id"] == hit["read_id"]
        )
        assert hit_at < read_at, "the hit leaves before its read"
        assert hit["clip"] is not None and hit["clip_reason"] == ""
        meta = next(m.json() for m in watch.seen if m.topic.endswith(f"/clip/{hit['clip']['clip_id']}/meta"))
        validator("clip_meta").validate(meta)
        assert meta["request_id"] == hit["read_id"] and meta["total_chunks"] >= 1
    assert not [t for t in topics if "/lez/" in t]
    # The event clip that reached the centre is masked: decrypted and decoded, every frame is the fill
    # inside the masks (a few pixels in from their edges, which H.264 smears).
    first = next(h for h in hits if h["clip"])
    receiver = ClipReceiver(tmp_path / "received")
    for m in watch.seen:
        if f"/clip/{first['clip']['clip_id']}/" in m.topic:
            receiver.offer(m.json())
    export_dir = receiver.assemble(first["clip"]["clip_id"])
    video = tmp_path / "hit.mp4"
    clip = ["clip", str(export_dir), "--key", str(keys.seal_key), "--device-pub", str(keys.device_pub)]
    assert edgectl([*clip, "-o", str(video)]) == 0
    with av.open(str(video)) as container:
        frames = [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]
    assert len(frames) >= SMALL_CAMERA.fps, "at least a second of footage around the pass"
    masks = MaskSet.from_config(demo_privacy())
    covered = masks.coverage(frames[0].shape[1], frames[0].shape[0])
    inner = covered.copy()
    for axis in (0, 1):
        inner &= np.roll(covered, 3, axis) & np.roll(covered, -3, axis)
    fill = np.array(masks.fill_bgr)
    for pixels in frames:
        assert np.abs(pixels[inner].astype(int) - fill).mean() < 4
    audit = watch.on("/audit")
    loads = [a for a in audit if a["action"] == "anpr.hotlist_load"]
    assert (
        len(loads) == 1
        and loads[0]["actor"] == "op:hotlists"
        and f"entries={len(rows)}" in loads[0]["detail"]
    )
    audited_hits = [a for a in audit if a["action"] == "anpr.hit"]
    assert {h["read_id"] for h in watch.on("/anpr/hit")} <= {
        a["detail"].split("read_id=")[1].split()[0] for a in audited_hits
    }
    plates = exact_texts | fuzzy_texts
    assert not any(p in json.dumps(a) for a in audit for p in plates), "the audit trail never names a plate"


# --- (d) a corrupt model disables ANPR, nothing else ------------------------------------------------------


def test_corrupt_model_disables_anpr_and_recording_goes_on(
    tmp_path: Path, broker: Broker, watch: Watch
) -> None:
    keys = make_keys(tmp_path)
    models = tmp_path / "models"
    shutil.copytree(MODELS, models, ignore=shutil.ignore_patterns("training", "*.py", "__pycache__"))
    detector = models / load_manifest(models)["models"]["detector"]["files"]["int8"]["file"]
    data = bytearray(detector.read_bytes())
    for i in range(1000, len(data), len(data) // 7):
        data[i] ^= 0xFF
    detector.write_bytes(bytes(data))
    cfg = anpr_config(
        tmp_path,
        broker,
        SMALL_CAMERA,
        anpr={"models_dir": str(models)},
        storage={
            "enabled": True,
            "segment_seconds": 1.0,
            "central_public_key_file": str(keys.seal_pub),
            "device_key_file": str(keys.device),
        },
    )
    node = NodeProcess(tmp_path, cfg)
    try:
        online(watch)

        def disabled_and_recording(seen: list[Message]) -> bool:
            docs = [m.json() for m in seen if m.topic.endswith("/health")]
            return any(
                d["anpr"]["state"] == "disabled"
                and (d["recording"]["recorder"] or {}).get("segments_written", 0) >= 2
                for d in docs
            )

        watch.until(disabled_and_recording, 40, "ANPR disabled while recording goes on")
        stop(node, watch)
    finally:
        node.close()
    doc = next(h for h in reversed(watch.health()) if h["anpr"]["state"] == "disabled")
    validator("health").validate(doc)
    assert "does not match the manifest" in doc["anpr"]["reason"]
    assert doc["verdict"] in ("amber", "red")
    assert any(r.startswith("anpr disabled:") for r in doc["reasons"])
    assert doc["recording"]["error"] == "" and doc["stages"]["recorder"]["processed"] > 0
    assert doc["stages"]["preview"]["processed"] > 0
    assert not [m for m in watch.seen if "/anpr/" in m.topic or "/lez/" in m.topic]


# --- (e) the LEZ profile ----------------------------------------------------------------------------------


def test_lez_profile_sends_only_evidence_of_listed_vehicles(
    tmp_path: Path, broker: Broker, watch: Watch
) -> None:
    keys = make_keys(tmp_path)
    listed = {v.text for v in pick_plates(6, 45, 3)}  # three, so one imperfect read cannot fail the test
    rows = [(text, "lez_not_admitted", f"lez-{i}") for i, text in enumerate(sorted(listed))]
    lez_list = bundle(keys.central, rows, list_id="lez-antwerp", purpose="lez")
    hotlists = tmp_path / "state" / "hotlists"
    hotlists.mkdir(parents=True)
    (hotlists / "lez-antwerp.json").write_text(json.dumps(lez_list))  # loaded and re-verified at start
    cfg = anpr_config(
        tmp_path,
        broker,
        SMALL_CAMERA,
        anpr={"profile": "lez"},
        commands={"central_public_key_files": [str(keys.sign_pub)], "max_validity_s": 120},
    )
    node = NodeProcess(tmp_path, cfg)
    try:
        online(watch)
        police_list = bundle(keys.central, [(min(listed), "stolen", "pv-1")])
        request = make_request("set_hotlist", {"bundle": police_list}, keys.central, issuer="op:police")
        refused = send_and_wait(SendOptions(broker.host, broker.port, "cams", "test-node", 30), request)
        assert refused["ok"] is False and refused["error"]["code"] == "refused"
        assert "wrong_purpose" in refused["error"]["message"]
        watch.until(lambda seen: any(m.topic.endswith("/lez/evidence") for m in seen), 60, "LEZ evidence")
        watch.until(
            lambda seen: any(lez_counted(m.json()) for m in seen if m.topic.endswith("/health")),
            30,
            "the evidence and a dropped LEZ read counted in health",
        )
        stop(node, watch)
    finally:
        node.close()
    evidence = watch.on("/lez/evidence")
    for doc in evidence:
        validator("lez_evidence").validate(doc)
        assert "overview_jpeg_b64" not in doc and doc["profile"] == "lez"
        assert doc["list_id"] == "lez-antwerp" and doc["category"] == "lez_not_admitted"
    assert evidence and {d["plate"] for d in evidence} <= listed and len(evidence) <= len(listed)
    assert not [m for m in watch.seen if "/anpr/" in m.topic or m.topic.endswith("/lez/read")]
    health = next(h for h in watch.health() if lez_counted(h))["anpr"]
    assert health["profile"] == "lez" and health["lez"]["list_active"] is True
    assert 1 <= health["lez"]["evidence"] <= len(evidence) and health["lez"]["dropped"] >= 1
    assert health["published"]["reads"] == 0 and health["published"]["hits"] == 0


def lez_counted(health: dict[str, Any]) -> bool:
    lez = health["anpr"].get("lez") or {}
    return bool(lez.get("evidence", 0) >= 1 and lez.get("dropped", 0) >= 1)


def test_offline_stage_reads_most_passes_once_and_correctly() -> None:
    """The stage on rendered 1080p frames paced by scene time: the same frames, the same figure, every run."""
    from tests.anpr_offline import pass_accuracy

    result = pass_accuracy(width=1920, seconds=40.0, models=MODELS)
    print(result.summary())
    assert result.eligible >= 8, result.summary()
    assert result.rate >= OFFLINE_FLOOR, f"{result.summary()}\n" + "\n".join(result.failures)
    assert result.duplicated <= max(1, result.eligible // 8), result.failures


def test_offline_stage_with_frames_dropped_reads_most_passes_once_and_correctly() -> None:
    """The same at 720p with 40 % of the frames dropped at random, as a node too busy to take every frame
    drops them: fewer, irregular looks at each plate split tracks more easily (a plate read in part, a box
    grown past the size gate between two looks). Seeded: the same frames every run."""
    from tests.anpr_offline import pass_accuracy

    result = pass_accuracy(width=1280, seconds=40.0, models=MODELS, skipping=(1,), keep=0.6)
    print(result.summary())
    assert result.eligible >= 8, result.summary()
    assert result.rate >= OFFLINE_FLOOR, f"{result.summary()}\n" + "\n".join(result.failures)
    assert result.duplicated == 0 and result.stray == 0, result.failures
