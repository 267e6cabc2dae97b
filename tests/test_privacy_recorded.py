"""What is recorded is masked: sealed segments decoded with PyAV, right after a live mask update and while
the camera drifts (the masks then follow the measured view), frame by frame."""

from __future__ import annotations

import io
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt

from edge.privacy import MaskSet
from edge.privacy.masks import Polygon
from edge.storage import keys
from edge.storage.pyav_encoder import PyAVEncoder
from edge.storage.recorder import RecorderConsumer
from edge.storage.sealing import unseal
from edge.types import MaskedFrame
from tests.storage_support import make_keys, open_store
from tests.test_privacy_scene import street
from tests.test_privacy_tamper import FILL, Run, approved, warp

FRAME_NS = 40_000_000
ROAD_MASK = Polygon("road test area", ((0.55, 0.55), (0.95, 0.55), (0.95, 0.95), (0.55, 0.95)))


def _inner(covered: npt.NDArray[np.bool_], margin_px: int = 3) -> npt.NDArray[np.bool_]:
    # H.264 smears a mask's edge into its neighbours: compare the inside, a few pixels from the edge.
    inner = covered.copy()
    for axis in (0, 1):
        inner &= np.roll(covered, margin_px, axis) & np.roll(covered, -margin_px, axis)
    return inner


def test_recorded_frames_are_masked_after_a_live_update_and_while_drifting(tmp_path: Path) -> None:
    run = Run()
    approved(run)
    k = make_keys(tmp_path / "keys")
    store = open_store(tmp_path / "rec", k, run.clock)
    recorder = RecorderConsumer(store, PyAVEncoder(), segment_seconds=1.0)
    expected: list[tuple[MaskedFrame, npt.NDArray[np.bool_]]] = []

    def record(frames: list[MaskedFrame]) -> None:
        # The stage runs on one thread: what it applies right after a frame is what that frame got.
        for frame in frames:
            covered = run.stage.applied_masks().coverage(frame.width, frame.height)
            expected.append((frame, covered))
            run.clock.advance(FRAME_NS / 1e9)
            recorder.consume(frame)

    scene = street(40)
    record(run.feed(scene[12:20]))
    before = run.stage.state().mask_id
    current = run.stage.applied_masks().masks
    updated = MaskSet(
        polygons=(*current.polygons, ROAD_MASK),
        mode=current.mode,
        fill_bgr=current.fill_bgr,
        pixelate_block_share=current.pixelate_block_share,
        blur_share=current.blur_share,
    )
    after = run.stage.set_masks(updated, actor="central-test")
    assert after != before
    record(run.feed(scene[20:30]))  # the first frames with the road area masked
    record(run.feed(scene[30:40], lambda p: warp(p, dx=0.012, dy=-0.006)))  # the camera drifts
    recorder.close()
    assert run.stage.applied_masks().warp is not None, "the drift was not measured"
    assert not any(f.blanked for f, _ in expected)

    central = keys.load_x25519_private(k.central_key)
    decoded: list[npt.NDArray[np.uint8]] = []
    for segment in store.segments(0, 2**63 - 1):
        _header, mp4 = unseal(io.BytesIO((store.root / segment.path).read_bytes()), central)
        with av.open(io.BytesIO(mp4)) as container:
            decoded += [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]
    assert len(decoded) == len(expected)

    road = _inner(MaskSet((ROAD_MASK,), "solid", FILL).coverage(640, 360))
    for (frame, covered), pixels in zip(expected, decoded, strict=True):
        inner = _inner(covered)
        error = np.abs(pixels[inner].astype(int) - np.array(FILL)).mean()
        assert error < 4, f"frame {frame.index}: recorded masked area differs from the fill by {error:.1f}"
        if frame.mask_id == after:
            assert (np.abs(pixels[road].astype(int) - np.array(FILL)).mean()) < 4
    assert {f.mask_id for f, _ in expected} == {before, after}
    assert {s.mask_id for s in store.segments(0, 2**63 - 1)} >= {before, after}
    store.close()
