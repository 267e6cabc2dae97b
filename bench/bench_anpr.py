"""Plate recognition: time per 1080p demo frame, and accuracy and speed on the real dev sets.

- ``anpr_ms_per_frame_1080p``: ``Recognizer.read_image`` as the node runs it (detection in the road region,
  rectification, reading, grammar; the closer look on unsure reads only) on 1920 x 1080 frames of the demo
  street, median over ``FRAMES`` frames; next to it ``anpr_detector_ms_1080p`` (the detector alone on the
  same region, same frames) and ``anpr_baseline_copy_ms_1080p`` (a plain copy of the frame: the cheapest
  thing a stage can do with it); ``anpr_frames_per_s_1080p`` is what one ANPR thread can sustain.
- ``anpr_reader_ms_per_crop``: the reader alone, batch of one.
- ``anpr_eval``: ``edge anpr-eval --json --runs 5`` (its defaults otherwise) per set in
  ``../shared/data/anpr/`` (absent sets are listed under ``anpr_eval_skipped``), with OpenALPR 2.3.0's
  published figures on the same files as the baseline.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from edge.anpr import PHOTO_FINER_LOOK
from edge.anpr.evaluate import evaluate
from edge.anpr.preprocess import READER_H, READER_W
from edge.anpr.recognizer import Recognizer
from edge.capture.synthetic import SyntheticStreetCamera
from edge.clock import SystemClock
from edge.config import AnprConfig, SyntheticCameraConfig

FRAMES = 60
EVAL_RUNS = 5
"""Passes over each dev set: ``median_ms`` is the median of the passes' medians (this VM's speed drifts
by more between passes than the photos' times do)."""
DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "anpr"
ROI = (0.2, 0.28, 0.78, 0.72)
"""The demo's road region (x, y, w, h, normalised): examples/demo.yaml's ``anpr.roi``."""
LONG_SIDE = 640
OPENALPR = {
    "eu-street": {"top1": 0.691, "found": 0.982, "median_ms": 37.4},
    "be-crops": {"top1": 0.526, "found": 0.860, "median_ms": 8.4},
}


def _frames() -> list[np.ndarray]:
    camera = SyntheticStreetCamera(
        SyntheticCameraConfig(
            type="synthetic", seed=1, width=1920, height=1080, realtime=False, vehicles_per_minute=20
        ),
        SystemClock(),
    )
    camera.open()
    frames = []
    for i in range(FRAMES * 4):
        frame = camera.read()
        if i % 4 == 0:
            frames.append(frame.pixels)
    camera.close()
    return frames


def _median_ms(fn: Any, items: list[Any]) -> float:
    samples = []
    for item in items:
        t0 = time.perf_counter()
        fn(item)
        samples.append((time.perf_counter() - t0) * 1000)
    return round(statistics.median(samples), 3)


def run() -> dict[str, object]:
    recognizer = Recognizer(closer_look_below=AnprConfig().closer_look_below)  # as the node runs it
    frames = _frames()
    h, w = frames[0].shape[:2]
    roi = (round(ROI[0] * w), round(ROI[1] * h), round(ROI[2] * w), round(ROI[3] * h))
    buffer = np.empty_like(frames[0])
    for f in frames[:3]:  # warm-up: interpreter allocation at this input size
        recognizer.read_image(f, long_side=LONG_SIDE, roi=roi)
    full = _median_ms(lambda f: recognizer.read_image(f, long_side=LONG_SIDE, roi=roi), frames)
    x, y, rw, rh = roi
    detector = _median_ms(lambda f: recognizer.detector.detect(f[y : y + rh, x : x + rw], LONG_SIDE), frames)
    copy = _median_ms(lambda f: np.copyto(buffer, f), frames)
    crop = np.full((READER_H, READER_W), 128, np.uint8)
    reader = _median_ms(lambda c: recognizer.reader.read([c]), [crop] * 200)
    results: dict[str, object] = {
        "anpr_ms_per_frame_1080p": full,
        "anpr_detector_ms_1080p": detector,
        "anpr_baseline_copy_ms_1080p": copy,
        "anpr_frames_per_s_1080p": round(1000.0 / full, 1) if full else None,
        "anpr_reader_ms_per_crop": reader,
        "anpr_model_version": recognizer.version,
    }
    # As `edge anpr-eval` reads by default: every photo's best plate over four looks, an unsure photo again
    # at 4/3 the scale.
    photos = Recognizer(finer_look=PHOTO_FINER_LOOK)
    evals: dict[str, object] = {}
    skipped = []
    for name in ("eu-street", "be-crops"):
        folder = DATA / name
        if not (folder / "labels.tsv").is_file():
            skipped.append(name)
            continue
        summary = evaluate(folder, photos, runs=EVAL_RUNS).summary()
        summary["baseline_openalpr_2_3_0"] = OPENALPR.get(name)
        evals[name] = summary
    results["anpr_eval"] = evals
    if skipped:
        results["anpr_eval_skipped"] = skipped
    return results
