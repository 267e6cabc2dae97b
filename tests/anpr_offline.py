"""The ANPR stage with the real recogniser on rendered demo frames, without a node: how many vehicle passes
get exactly one correct read. Deterministic (scene time paces the stage), so a test can hold a floor and
``make bench`` can report the figure against the 98 % target."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge.anpr.recognizer import Recognizer
from tests.anpr_support import (
    Scene,
    TruthPass,
    demo_anpr,
    demo_camera,
    demo_privacy,
    masked_frames,
    scan_scene,
    vehicle_at,
)
from tests.test_anpr_records import Rig

MIN_PLATE_SHARE = 0.03
"""A plate at least this share of the frame width while fully visible counts as readable."""
MIN_READABLE_FRAMES = 5


@dataclass(slots=True)
class PassAccuracy:
    width: int
    seconds: float
    eligible: int = 0
    correct: int = 0
    wrong: int = 0
    duplicated: int = 0
    missed: int = 0
    stray: int = 0
    runs: int = 1
    keep: float = 1.0
    """The share of frames that reached the stage (1: all; less: dropped at random in each run)."""
    failures: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.correct / self.eligible if self.eligible else 0.0

    def summary(self) -> dict[str, object]:
        return {
            "width": self.width,
            "seconds": self.seconds,
            "runs": self.runs,
            "frames_kept": self.keep,
            "eligible_passes": self.eligible,
            "correct_single_read": self.correct,
            "rate": round(self.rate, 4),
            "wrong": self.wrong,
            "duplicated": self.duplicated,
            "missed": self.missed,
            "reads_matching_no_vehicle": self.stray,
            "target": 0.98,
        }


def pass_accuracy(
    width: int = 1920,
    seconds: float = 60.0,
    *,
    models: Path | None = None,
    long_side: int = 768,
    finer_look: float = 0.0,
    skipping: Sequence[int] = (),
    keep: float = 0.6,
) -> PassAccuracy:
    """The passes of ``seconds`` of the demo street at ``width``. ``skipping``: seeds; for each, the run is
    repeated with frames dropped at random (``keep`` of them reach the stage), as a busy node drops them,
    and the figures are summed over the runs."""
    camera = demo_camera(width=width, height=width * 9 // 16)
    config = demo_anpr(detector_long_side=long_side)
    recognizer = Recognizer(models, finer_look=finer_look, closer_look_below=config.closer_look_below)
    frames = int(seconds * camera.fps)
    scene = scan_scene(camera, range(frames), min_width_px=MIN_PLATE_SHARE * width)
    fps = round(camera.fps)
    eligible = {
        v.vehicle_id: v
        for v in scene.vehicles.values()
        if v.readable_frames >= MIN_READABLE_FRAMES and v.first_frame >= fps and v.last_frame <= frames - fps
    }
    out = PassAccuracy(width=width, seconds=seconds)
    out.runs = len(skipping) or 1
    out.keep = keep if skipping else 1.0
    runs: list[Sequence[int]] = [_kept(frames, keep, random.Random(seed)) for seed in skipping]
    for indices in runs or [range(frames)]:
        rig = Rig(config, recognizer=lambda: recognizer)
        rig.run(masked_frames(camera, demo_privacy(), indices))
        _score(out, rig.uplink.on("/anpr/read"), scene, eligible)
    return out


def _kept(frames: int, keep: float, rng: random.Random) -> list[int]:
    return [i for i in range(frames) if rng.random() < keep]


def _score(
    out: PassAccuracy, reads: list[dict[str, Any]], scene: Scene, eligible: dict[int, TruthPass]
) -> None:
    out.eligible += len(eligible)
    by_vehicle: dict[int, list[str]] = {}
    for doc in reads:
        vehicle = vehicle_at(scene.vehicles, doc["frame_index"], doc["plate_box"])
        if vehicle is None:
            out.stray += 1
            frame = doc["frame_index"]
            out.failures.append(f"read {doc['plate']} at frame {frame} matches no vehicle's plate")
        else:
            by_vehicle.setdefault(vehicle.vehicle_id, []).append(doc["plate"])
    for v in eligible.values():
        got = by_vehicle.get(v.vehicle_id, [])
        if not got:
            out.missed += 1
        elif len(got) > 1:
            out.duplicated += 1
        elif got[0] == v.text:
            out.correct += 1
            continue
        else:
            out.wrong += 1
        out.failures.append(f"truth {v.text}: read {got}")
