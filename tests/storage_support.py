"""Helpers for the storage tests: keys, masked frames, a recording setup, and full consistency checks."""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from edge.clock import FakeClock
from edge.config import MaskConfig, PrivacyConfig, SyntheticCameraConfig
from edge.privacy import PrivacyStage
from edge.storage import keys
from edge.storage.encoder import EncodedVideo
from edge.storage.profiles import Profile
from edge.storage.reconcile import SEGMENTS_DIR
from edge.storage.retention import DiskUsage, RetentionPolicy
from edge.storage.sealing import unseal
from edge.storage.store import SegmentStore
from edge.types import Frame, MaskedFrame

NODE_ID = "test-node"
MASK = MaskConfig(name="shop", polygon=[(0.0, 0.0), (0.3, 0.0), (0.3, 0.3), (0.0, 0.3)])
OTHER_MASK = MaskConfig(name="door", polygon=[(0.6, 0.6), (0.9, 0.6), (0.9, 0.9)])
SMALL_CAMERA = SyntheticCameraConfig(type="synthetic", seed=3, width=320, height=180, fps=25, realtime=False)


@dataclass(frozen=True, slots=True)
class Keys:
    directory: Path

    @property
    def central_pub(self) -> Path:
        return self.directory / keys.CENTRAL_SEAL_PUB

    @property
    def central_key(self) -> Path:
        return self.directory / keys.CENTRAL_SEAL_KEY

    @property
    def device_key(self) -> Path:
        return self.directory / keys.DEVICE_SIGN_KEY

    @property
    def device_pub(self) -> Path:
        return self.directory / keys.DEVICE_SIGN_PUB


def make_keys(directory: Path) -> Keys:
    keys.generate_central_keys(directory)
    keys.generate_device_key(directory)
    return Keys(directory)


def open_store(root: Path, k: Keys, clock: FakeClock, **kw: object) -> SegmentStore:
    policy = kw.pop("policy", None) or RetentionPolicy(Profile.POLICE, 30, 10 * 1024**3, min_free_share=0)
    return SegmentStore(root, NODE_ID, keys.load_x25519_public(k.central_pub), policy, clock, **kw)  # type: ignore[arg-type]


def masked(pixels: np.ndarray, index: int, ts_ns: int, masks: list[MaskConfig] | None = None) -> MaskedFrame:
    stage = PrivacyStage(PrivacyConfig(masks=masks or [MASK]))
    frame = Frame(pixels=pixels, index=index, capture_ts_ns=ts_ns, monotonic_ns=ts_ns, source="test")
    out = stage.process(frame)
    assert out is not None
    return out


def moving_frames(
    clock: FakeClock,
    count: int,
    step_s: float = 0.04,
    size: tuple[int, int] = (64, 48),
    masks: list[MaskConfig] | None = None,
) -> Iterator[MaskedFrame]:
    """Cheap frames with a moving bar, stamped by ``clock``, which advances ``step_s`` per frame."""
    width, height = size
    stage = PrivacyStage(PrivacyConfig(masks=masks or [MASK]))
    for i in range(count):
        pixels = np.full((height, width, 3), 90, np.uint8)
        x = (i * 3) % width
        pixels[:, x : x + 4] = 250
        frame = Frame(pixels=pixels, index=i, capture_ts_ns=clock.time_ns(), monotonic_ns=i, source="test")
        out = stage.process(frame)
        assert out is not None
        yield out
        clock.advance(step_s)


def fake_video(size_bytes: int, frames: int = 1) -> EncodedVideo:
    """Random bytes standing in for an MP4: the store never looks inside what it seals."""
    return EncodedVideo(os.urandom(size_bytes), frames, 64, 48, "mp4", "h264")


class FakeDisk:
    """A filesystem of ``total_bytes`` whose free space shrinks with what the store has on disk."""

    def __init__(self, total_bytes: int, other_bytes: int = 0) -> None:
        self.total_bytes = total_bytes
        self.other_bytes = other_bytes
        self.root: Path | None = None

    def __call__(self, root: Path) -> DiskUsage:
        used = sum(p.stat().st_size for p in (root / SEGMENTS_DIR).rglob("*") if p.is_file())
        return DiskUsage(self.total_bytes, self.total_bytes - self.other_bytes - used)


def segment_files(root: Path) -> dict[str, Path]:
    return {p.stem: p for p in (root / SEGMENTS_DIR).glob("*/*.seg")}


def decode_frame_count(mp4: bytes) -> int:
    with av.open(io.BytesIO(mp4), mode="r") as container:
        return sum(1 for _ in container.decode(video=0))


def check_consistent(store: SegmentStore, k: Keys, *, decode: bool = True) -> int:
    """Index and files agree; every segment verifies, decrypts and (unless the test stored stand-in
    bytes) decodes to its indexed frame count.

    Returns the number of segments checked."""
    segments = store.segments(0, 2**63 - 1)
    files = segment_files(store.root)
    assert {s.segment_id for s in segments} == set(files), "index and files disagree"
    assert not list((store.root / SEGMENTS_DIR).rglob("*.tmp")), "a partial file survived"
    central = keys.load_x25519_private(k.central_key)
    for s in segments:
        data = (store.root / s.path).read_bytes()
        assert len(data) == s.sealed_bytes
        assert hashlib.sha256(data).hexdigest() == s.sha256
        header, mp4 = unseal(io.BytesIO(data), central)
        assert (header.segment_id, header.start_ns, header.end_ns, header.frames) == (
            s.segment_id,
            s.start_ns,
            s.end_ns,
            s.frames,
        )
        assert not decode or decode_frame_count(mp4) == s.frames
    return len(segments)
