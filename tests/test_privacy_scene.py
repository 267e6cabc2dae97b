"""The demo masks against the synthetic street's ground truth, and the scene helpers the privacy tests share.

The helpers render the real synthetic camera once per size and lighting (cached for the session) and
hand out fresh, writable copies, because the privacy stage takes ownership of every frame it masks.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from edge.capture.synthetic import FACADE_PRIVATE_AREAS, SyntheticStreetCamera
from edge.clock import FakeClock
from edge.config import PrivacyConfig, SyntheticCameraConfig, load_config
from edge.privacy import MaskSet, PrivacyStage
from edge.types import Frame

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "examples" / "demo.yaml"


def demo_privacy(**changes: object) -> PrivacyConfig:
    """The demo's privacy section with ``changes`` applied (``tamper={...}`` for the tamper section)."""
    data = load_config(DEMO).privacy.model_dump()
    tamper = changes.pop("tamper", {})
    assert isinstance(tamper, dict)
    data["tamper"] = {**data["tamper"], **tamper}
    return PrivacyConfig.model_validate({**data, **changes})


def demo_masks(**changes: object) -> MaskSet:
    return MaskSet.from_config(demo_privacy(**changes))


def street(
    n: int, width: int = 640, height: int = 360, lighting: str = "day", cycle_seconds: float = 600.0
) -> tuple[Frame, ...]:
    """The first ``n`` frames of the demo street (seed 1), read-only; take copies with ``fresh``."""
    return _street(n, width, height, lighting, cycle_seconds)


@cache
def _street(n: int, width: int, height: int, lighting: str, cycle_seconds: float) -> tuple[Frame, ...]:
    config = SyntheticCameraConfig(
        type="synthetic",
        seed=1,
        width=width,
        height=height,
        realtime=False,
        vehicles_per_minute=20,
        lighting=lighting,
        cycle_seconds=cycle_seconds,
    )
    camera = SyntheticStreetCamera(config, FakeClock())
    camera.open()
    frames = []
    for _ in range(n):
        frame = camera.read()
        frame.pixels.flags.writeable = False
        frames.append(frame)
    camera.close()
    return tuple(frames)


def fresh(frame: Frame, pixels: npt.NDArray[np.uint8] | None = None, index: int | None = None) -> Frame:
    """A writable copy of ``frame`` (optionally with other pixels or another index) for the stage to own."""
    own = np.array(frame.pixels if pixels is None else pixels, dtype=np.uint8, copy=True, order="C")
    return Frame(
        pixels=own,
        index=frame.index if index is None else index,
        capture_ts_ns=frame.capture_ts_ns,
        monotonic_ns=frame.monotonic_ns,
        source=frame.source,
        truth=frame.truth,
    )


def truth_pixels(
    polygons: tuple[tuple[tuple[float, float], ...], ...], width: int, height: int
) -> npt.NDArray[np.bool_]:
    """Every pixel a ground-truth polygon (pixel coordinates) touches, its outline included."""
    canvas = np.zeros((height, width), np.uint8)
    scaled = [np.round(np.array(p) * 16).astype(np.int32) for p in polygons]
    cv2.fillPoly(canvas, scaled, 255, cv2.LINE_8, 4)
    cv2.polylines(canvas, scaled, True, 255, 1, cv2.LINE_8, 4)
    return canvas > 0


def test_demo_masks_cover_every_private_pixel_over_many_frames() -> None:
    stage = PrivacyStage(demo_privacy(fill_bgr=(1, 2, 3)))
    for frame in street(40):
        assert frame.truth is not None and frame.truth.private_areas
        private = truth_pixels(frame.truth.private_areas, frame.width, frame.height)
        out = stage.process(fresh(frame))
        assert out is not None and not out.blanked
        leaked = ~(out.pixels == (1, 2, 3)).all(axis=2) & private
        assert not leaked.any(), f"frame {frame.index}: {int(leaked.sum())} private pixels unmasked"


@pytest.mark.parametrize(("width", "height"), [(320, 180), (1280, 720), (1920, 1080), (3840, 2160)])
def test_demo_masks_cover_the_private_areas_at_every_resolution(width: int, height: int) -> None:
    # The ground truth scales with the frame (it is the façade's projection), so one rendered frame's
    # truth, scaled, is the truth at any size; rasterising the masks at each size is what is tested here.
    truth = street(40)[0].truth
    assert truth is not None
    scaled = tuple(tuple((x * width / 640, y * height / 360) for x, y in p) for p in truth.private_areas)
    private = truth_pixels(scaled, width, height)
    for mode in ("solid", "pixelate", "blur"):
        covered = demo_masks(mode=mode).coverage(width, height)
        assert not (private & ~covered).any(), mode


def test_demo_masks_are_the_facade_areas_slightly_grown() -> None:
    # One demo mask per private area of the synthetic façade, none reaching more than 1 % of the width
    # beyond it: the masks hide the private areas, not the street.
    masks = demo_masks()
    assert [p.name for p in masks.polygons] == list(FACADE_PRIVATE_AREAS)
    width, height = 1920, 1080
    reach = np.ones((2 * 19 + 1, 2 * 19 + 1), np.uint8)  # 1 % of 1920
    for polygon, (name, area) in zip(masks.polygons, FACADE_PRIVATE_AREAS.items(), strict=True):
        grown = MaskSet((polygon,)).coverage(width, height)
        exact = truth_pixels((tuple((x * width, y * height) for x, y in area),), width, height)
        assert (grown & ~exact).any(), name
        assert not (grown & ~cv2.dilate(exact.astype(np.uint8), reach).astype(bool)).any(), name


def test_the_busy_scene_has_detail_behind_the_masks() -> None:
    # The mode tests below mean something only when the masked areas are busy in the first place.
    frame = street(40)[10]
    covered = demo_masks().coverage(frame.width, frame.height)
    gray = cv2.cvtColor(np.asarray(frame.pixels), cv2.COLOR_BGR2GRAY).astype(np.float32)
    assert float(np.abs(cv2.Laplacian(gray, cv2.CV_32F))[covered].mean()) > 4.0
