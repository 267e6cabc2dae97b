"""Shared by the ANPR tests: the demo scene, masked frames, a ground-truth recogniser, hotlist bundles, and
the vehicle passes the synthetic camera's ground truth says a test should see."""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.anpr.hotlist_make import make_bundle
from edge.anpr.recognizer import PlateRead
from edge.capture.synthetic.render import StreetRenderer
from edge.config import (
    AnprConfig,
    EdgeConfig,
    PrivacyConfig,
    SyntheticCameraConfig,
    TamperConfig,
    load_config,
)
from edge.privacy import PrivacyStage
from edge.types import Frame, GroundTruth, MaskedFrame, Pixels, PlateTruth
from edge.uplink.outbox import Priority

REPO = Path(__file__).resolve().parents[1]
DEMO = load_config(REPO / "examples" / "demo.yaml")
FAST_ITERATIONS = 1_000
"""PBKDF2 iterations of test bundles: the minimum the node accepts, so tests hash quickly."""


def demo_config() -> EdgeConfig:
    return DEMO


TEST_SIZE = {"width": 1280, "height": 720}
"""The demo street as most tests render it: 720p, at under half the cost of the demo's own 1080p. Tests of
what happens to a read, not of how well plates are read, need no more."""


def demo_camera(**changes: Any) -> SyntheticCameraConfig:
    """The demo's synthetic camera at ``TEST_SIZE`` unless ``changes`` give another size."""
    camera = DEMO.camera
    assert isinstance(camera, SyntheticCameraConfig)
    return camera.model_copy(update={**TEST_SIZE, **changes})


def demo_privacy() -> PrivacyConfig:
    """The demo's façade masks, without tamper checks (they need an approved reference view)."""
    return DEMO.privacy.model_copy(update={"tamper": TamperConfig(enabled=False)})


def demo_anpr(**changes: Any) -> AnprConfig:
    return AnprConfig.model_validate({**DEMO.anpr.model_dump(), "enabled": True, **changes})


def masked_frames(
    camera: SyntheticCameraConfig, privacy: PrivacyConfig, indices: Iterable[int]
) -> Iterator[MaskedFrame]:
    """The synthetic camera's frames ``indices`` through a privacy stage; monotonic time is scene time."""
    renderer = StreetRenderer(camera)
    stage = PrivacyStage(privacy)
    t0 = 1_800_000_000 * 10**9
    for index in indices:
        pixels, truth = renderer.render(index)
        scene_ns = round(index * 1e9 / camera.fps)
        frame = Frame(pixels, index, t0 + scene_ns, scene_ns, "synthetic:test", truth)
        masked = stage.process(frame)
        assert masked is not None
        yield masked


def plate_box(corners: tuple[tuple[float, float], ...]) -> tuple[int, int, int, int]:
    """About the box the detector reports: the plate grown by 12 % across and 32 % up and down."""
    c = np.array(corners)
    (x0, y0), (x1, y1) = c.min(axis=0), c.max(axis=0)
    w, h = (x1 - x0) * 1.12, (y1 - y0) * 1.32
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return round(cx - w / 2), round(cy - h / 2), round(w), round(h)


class TruthRecognizer:
    """Reads exactly the fully visible plates at least ``min_width_px`` wide, from the ground truth: the
    stage's plumbing under test, not the models. Frames are matched to their truth by their pixels."""

    version = "truth-1+truth-1"
    precision = "int8"

    def __init__(self, min_width_px: float = 30.0, confidence: float = 0.93) -> None:
        self.min_width_px = min_width_px
        self.confidence = confidence
        self.truth: dict[int, GroundTruth] = {}
        self.calls = 0

    def remember(self, frame: MaskedFrame) -> None:
        assert frame.truth is not None
        self.truth = {id(frame.pixels): frame.truth}

    def read_image(
        self, image_bgr: Pixels, *, long_side: int = 384, roi: tuple[int, int, int, int] | None = None
    ) -> list[PlateRead]:
        self.calls += 1
        truth = self.truth.get(id(image_bgr))
        if truth is None:
            return []
        reads = []
        for plate in truth.plates:
            box = plate_box(plate.corners)
            if not plate.fully_visible or box[2] < self.min_width_px:
                continue
            x, y, w, h = box
            crop = np.ascontiguousarray(image_bgr[max(0, y) : y + h, max(0, x) : x + w])
            reads.append(
                PlateRead(
                    text=plate.text,
                    raw=plate.text,
                    formatted=plate.formatted,
                    country=plate.country,
                    series=None,
                    corrections=0,
                    confidence=self.confidence,
                    box=box,
                    detector_score=0.9,
                    crop=crop,
                )
            )
        return reads


@dataclass
class SentMessage:
    stream: str
    topic: str
    body: dict[str, Any]
    priority: Priority


@dataclass
class FakeUplink:
    """Collects what the stage sends, adding the outbox's envelope so payloads validate as published."""

    messages: list[SentMessage] = field(default_factory=list)
    _seq: dict[str, int] = field(default_factory=dict)

    def send(self, stream: str, topic: str, body: dict[str, Any], priority: Priority) -> bool:
        seq = self._seq[stream] = self._seq.get(stream, 0) + 1
        envelope = {**body, "msg_id": f"{len(self.messages) + 1:032x}", "stream": stream, "seq": seq}
        self.messages.append(SentMessage(stream, topic, json.loads(json.dumps(envelope)), priority))
        return True

    def on(self, suffix: str) -> list[dict[str, Any]]:
        return [m.body for m in self.messages if m.topic.endswith(suffix)]


@dataclass
class AuditRecorder:
    entries: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, **entry: Any) -> None:
        self.entries.append(entry)


def bundle(
    key: Ed25519PrivateKey,
    plates: list[tuple[str, str, str]],
    *,
    list_id: str = "police-test",
    purpose: str = "police",
    version: int = 1,
) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)
    return make_bundle(
        plates,
        list_id=list_id,
        purpose=purpose,
        version=version,
        issued_at_ns=int((now - dt.timedelta(minutes=1)).timestamp()) * 10**9,
        expires_at_ns=int((now + dt.timedelta(days=2)).timestamp()) * 10**9,
        issuer="op:test",
        key=key,
        iterations=FAST_ITERATIONS,
    )


CONFUSABLE = {
    "0": "O",
    "O": "0",
    "1": "I",
    "I": "1",
    "8": "B",
    "B": "8",
    "5": "S",
    "S": "5",
    "2": "Z",
    "Z": "2",
}


def confusable_variant(text: str) -> str | None:
    """``text`` with its first confusable glyph swapped (0↔O, 1↔I, 8↔B, 5↔S, 2↔Z); None when it has none."""
    for i, ch in enumerate(text):
        if ch in CONFUSABLE:
            return text[:i] + CONFUSABLE[ch] + text[i + 1 :]
    return None


def decode_jpeg(b64: str) -> npt.NDArray[np.uint8]:
    image = cv2.imdecode(np.frombuffer(base64.b64decode(b64), np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    return np.asarray(image, dtype=np.uint8)


def high_frequency_energy(
    image: npt.NDArray[np.uint8],
    polygon: npt.NDArray[np.float64],
    exclude: npt.NDArray[np.bool_] | None = None,
) -> tuple[float, int]:
    """Mean absolute Laplacian of the grey image inside ``polygon`` (pixels of ``image``), leaving out
    ``exclude`` and its surroundings (a mask's edge is sharp by design), and how many pixels were measured."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    lap = np.abs(cv2.Laplacian(grey, cv2.CV_32F, ksize=3))
    filled = np.zeros(grey.shape, np.uint8)
    cv2.fillPoly(filled, [np.round(polygon).astype(np.int32)], 255)
    mask = cv2.erode(filled, np.ones((3, 3), np.uint8))  # the polygon's own edge is not the interior
    if exclude is not None:
        mask[cv2.dilate(exclude.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0] = 0
    values = lap[mask > 0]
    return (float(values.mean()) if values.size else 0.0), int(values.size)


# --- ground-truth vehicle passes --------------------------------------------------------------------------


@dataclass
class TruthPass:
    """A vehicle that was in view with a plate, and when its plate was readable (fully visible and at least
    the scan's ``min_width_px`` wide)."""

    vehicle_id: int
    text: str
    first_frame: int = -1
    last_frame: int = -1
    readable_frames: int = 0
    boxes: dict[int, tuple[int, int, int, int]] = field(default_factory=dict)
    """Frame index -> plate box, for every frame the plate was in view."""

    @property
    def readable(self) -> bool:
        return self.readable_frames > 0


@dataclass
class Scene:
    vehicles: dict[int, TruthPass]
    frames: dict[int, MaskedFrame]
    """The masked frames asked for with ``keep``."""


def scan_scene(
    camera: SyntheticCameraConfig,
    frames: range,
    *,
    min_width_px: float,
    privacy: PrivacyConfig | None = None,
    keep: set[int] | frozenset[int] = frozenset(),
) -> Scene:
    """Every vehicle whose plate is in view in ``frames``, with its readable window; the masked frames
    ``keep`` (masked with ``privacy``, as the node masks them)."""
    vehicles: dict[int, TruthPass] = {}
    kept: dict[int, MaskedFrame] = {}
    source: Iterator[tuple[int, GroundTruth, MaskedFrame | None]]
    if privacy is not None:
        source = (
            (f.index, f.truth, f) for f in masked_frames(camera, privacy, frames) if f.truth is not None
        )
    else:
        renderer = StreetRenderer(camera)
        source = ((i, renderer.render(i)[1], None) for i in frames)
    for index, truth, masked in source:
        if masked is not None and index in keep:
            kept[index] = masked
        for plate in truth.plates:
            box = plate_box(plate.corners)
            v = vehicles.get(plate.vehicle_id)
            if v is None:
                v = vehicles[plate.vehicle_id] = TruthPass(plate.vehicle_id, plate.text)
            v.boxes[index] = box
            if plate.fully_visible and box[2] >= min_width_px:
                if v.first_frame < 0:
                    v.first_frame = index
                v.last_frame = index
                v.readable_frames += 1
    return Scene(vehicles, kept)


def truth_passes(
    camera: SyntheticCameraConfig, frames: range, *, min_width_px: float, step: int = 1
) -> dict[int, TruthPass]:
    """Every vehicle with at least one fully visible plate ``min_width_px`` wide or more in ``frames``
    (looking at every ``step``-th frame)."""
    scene = scan_scene(
        camera, range(frames.start, frames.stop, frames.step * step), min_width_px=min_width_px
    )
    return {k: v for k, v in scene.vehicles.items() if v.readable}


def vehicle_at(passes: dict[int, TruthPass], frame_index: int, box: list[int]) -> TruthPass | None:
    """The vehicle whose plate at ``frame_index`` has its centre inside ``box``, the nearest to the box's
    centre when several do (None when none does). A read's box is the reader's crop, grown around the
    plate, so overlap ratios say little; the plate's centre inside it does."""
    x, y, w, h = box
    cx, cy = x + w / 2, y + h / 2
    best, best_distance = None, math.inf
    for p in passes.values():
        other = p.boxes.get(frame_index)
        if other is None:
            continue
        ox, oy = other[0] + other[2] / 2, other[1] + other[3] / 2
        if not (x <= ox <= x + w and y <= oy <= y + h):
            continue
        distance = math.hypot(ox - cx, oy - cy)
        if distance < best_distance:
            best, best_distance = p, distance
    return best


def windscreen_of(truth: GroundTruth, plate: PlateTruth) -> tuple[tuple[float, float], ...]:
    for vehicle in truth.vehicles:
        if vehicle.vehicle_id == plate.vehicle_id:
            return vehicle.windscreen
    return ()
