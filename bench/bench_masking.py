"""Masking cost at 1080p: each fill mode against a plain copy of the same frame, measured in the same run.

Frames are the synthetic demo street at 1920 x 1080 with the demo mask set (examples/demo.yaml). For each
of ``FRAMES`` frames the median of a few repetitions is taken, then the median over the frames:

- ``plain_copy_ms_1080p``: ``np.copyto`` of the frame into a preallocated buffer, the baseline;
- ``mask_solid_ms_1080p`` / ``mask_pixelate_ms_1080p`` / ``mask_blur_ms_1080p``: ``MaskSet.burn`` in place;
- ``mask_ratio_1080p`` (solid), ``mask_ratio_pixelate_1080p``, ``mask_ratio_blur_1080p``: burn / copy;
- ``stage_ms_1080p``: the whole ``PrivacyStage.process`` (solid, with a reference view), frames without a
  view check; ``stage_check_ms_1080p``: frames with one (every ``check_every_frames``-th frame);
- ``stage_mean_ms_1080p``: the mean over all frames, checks included.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bench.util import median_s
from edge.capture.synthetic import SyntheticStreetCamera
from edge.clock import SystemClock
from edge.config import EdgeConfig, PrivacyConfig, SyntheticCameraConfig, load_config
from edge.privacy import MaskSet, PrivacyStage
from edge.types import Frame, Pixels

FRAMES = 200
REPEATS = 3
DEMO = Path(__file__).resolve().parents[1] / "examples" / "demo.yaml"


def _camera(config: EdgeConfig) -> SyntheticStreetCamera:
    assert isinstance(config.camera, SyntheticCameraConfig)
    camera_config = config.camera.model_copy(update={"width": 1920, "height": 1080, "realtime": False})
    camera = SyntheticStreetCamera(camera_config, SystemClock())
    camera.open()
    return camera


def _ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 3)


def _copier(buffer: Pixels, source: Pixels) -> Callable[[], object]:
    return lambda: np.copyto(buffer, source)


def _burner(masks: MaskSet, work: Pixels) -> Callable[[], object]:
    # Burning costs the same whatever the content (same polygons, same regions), so repeating it on the
    # already burned buffer times the same work.
    return lambda: masks.burn(work)


def _processor(stage: PrivacyStage, frame: Frame) -> Callable[[], object]:
    return lambda: stage.process(frame)


def run() -> dict[str, object]:
    config = load_config(DEMO)
    privacy: PrivacyConfig = config.privacy
    modes = {
        mode: MaskSet.from_config(privacy.model_copy(update={"mode": mode}))
        for mode in ("solid", "pixelate", "blur")
    }
    stage = PrivacyStage(privacy)
    camera = _camera(config)
    copy_s: list[float] = []
    burn_s: dict[str, list[float]] = {mode: [] for mode in modes}
    stage_plain: list[float] = []
    stage_check: list[float] = []
    stage_all: list[float] = []
    buffer = np.empty((1080, 1920, 3), np.uint8)
    work = np.empty_like(buffer)
    stage.approve_view(actor="bench")
    every = privacy.tamper.check_every_frames
    for i in range(FRAMES + 1):
        frame = camera.read()
        copy_s.append(median_s(_copier(buffer, frame.pixels), repeats=REPEATS, warmup=1))
        for mode, masks in modes.items():
            np.copyto(work, frame.pixels)
            burn_s[mode].append(median_s(_burner(masks, work), repeats=REPEATS, warmup=1))
        owned = Frame(frame.pixels.copy(), frame.index, frame.capture_ts_ns, frame.monotonic_ns, frame.source)
        elapsed = median_s(_processor(stage, owned), repeats=1, warmup=0)
        if i == 0:
            continue  # the frame that took the reference view
        stage_all.append(elapsed)
        (stage_check if i % every == 0 else stage_plain).append(elapsed)
    state = stage.state()
    if state.tamper.value != "ok" or state.frames_blanked:
        raise RuntimeError(f"the demo street did not verify against its reference: {state}")
    copy = statistics.median(copy_s)
    return {
        "plain_copy_ms_1080p": _ms(copy_s),
        "mask_solid_ms_1080p": _ms(burn_s["solid"]),
        "mask_pixelate_ms_1080p": _ms(burn_s["pixelate"]),
        "mask_blur_ms_1080p": _ms(burn_s["blur"]),
        "mask_ratio_1080p": round(statistics.median(burn_s["solid"]) / copy, 3),
        "mask_ratio_pixelate_1080p": round(statistics.median(burn_s["pixelate"]) / copy, 3),
        "mask_ratio_blur_1080p": round(statistics.median(burn_s["blur"]) / copy, 3),
        "stage_ms_1080p": _ms(stage_plain),
        "stage_check_ms_1080p": _ms(stage_check),
        "stage_mean_ms_1080p": round(statistics.fmean(stage_all) * 1000, 3),
        "masking_frames": FRAMES,
    }


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key:<28} {value}")
