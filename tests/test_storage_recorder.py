"""The recorder: every masked frame into sealed H.264 segments (real PyAV, SQLite and cryptography)."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from edge.clock import FakeClock
from edge.pipeline import ConsumerStage, QueuePolicy
from edge.pipeline.consumer import FrameConsumer
from edge.storage.model import StorageAlarm
from edge.storage.profiles import Profile
from edge.storage.pyav_encoder import PyAVEncoder
from edge.storage.recorder import RecorderConsumer
from edge.storage.retention import RetentionPolicy
from tests.storage_support import (
    OTHER_MASK,
    Keys,
    check_consistent,
    make_keys,
    masked,
    moving_frames,
    open_store,
)


@pytest.fixture(scope="module")
def k(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return make_keys(tmp_path_factory.mktemp("keys"))


def test_segments_of_the_configured_length_that_decrypt_and_decode(tmp_path: Path, k: Keys) -> None:
    clock = FakeClock()
    store = open_store(tmp_path / "rec", k, clock)
    recorder: FrameConsumer = RecorderConsumer(store, PyAVEncoder(), segment_seconds=1.0)
    t0 = clock.time_ns()
    for frame in moving_frames(clock, 60):  # 2.4 s at 25 fps
        recorder.consume(frame)
    recorder.close()
    segments = store.segments(0, 2**63 - 1)
    assert [s.frames for s in segments] == [25, 25, 10]
    assert [s.start_ns - t0 for s in segments] == [0, 1_000_000_000, 2_000_000_000]
    assert [s.end_ns - t0 for s in segments] == [1_000_000_000, 2_000_000_000, 2_400_000_000]
    assert {s.mask_id for s in segments} == {next(moving_frames(FakeClock(), 1)).mask_id}
    assert all(s.profile == "police" and (s.width, s.height) == (64, 48) for s in segments)
    assert check_consistent(store, k) == 3


def test_no_plaintext_video_and_no_key_ever_reaches_the_disk(tmp_path: Path, k: Keys) -> None:
    clock = FakeClock()
    store = open_store(tmp_path / "rec", k, clock)
    recorder = RecorderConsumer(store, PyAVEncoder(), segment_seconds=1.0)
    for frame in moving_frames(clock, 30):
        recorder.consume(frame)
    recorder.close()
    store.close()
    for path in (tmp_path / "rec").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            # MP4 boxes and the H.264 encoder's banner would show plaintext video.
            assert b"ftyp" not in data and b"mdat" not in data and b"x264 - core" not in data, path
            assert b"PRIVATE KEY" not in data


def test_a_mask_change_or_a_clock_step_back_starts_a_new_segment(tmp_path: Path, k: Keys) -> None:
    clock = FakeClock()
    store = open_store(tmp_path / "rec", k, clock)
    recorder = RecorderConsumer(store, PyAVEncoder(), segment_seconds=10.0)
    frames = list(moving_frames(clock, 5))
    frames += list(moving_frames(clock, 5, masks=[OTHER_MASK]))
    clock.jump_wall(-3600)  # NTP corrects the wall clock by an hour
    frames += list(moving_frames(clock, 5, masks=[OTHER_MASK]))
    for frame in frames:
        recorder.consume(frame)
    recorder.close()
    segments = store.segments(0, 2**63 - 1)  # by start time: the corrected run sorts first
    assert [s.frames for s in segments] == [5, 5, 5]
    assert segments[1].mask_id != segments[2].mask_id == segments[0].mask_id
    assert segments[0].start_ns < segments[1].start_ns - 3000 * 10**9
    assert check_consistent(store, k) == 3


def test_a_segment_that_cannot_be_stored_is_counted_and_recording_goes_on(tmp_path: Path, k: Keys) -> None:
    clock = FakeClock()
    alarms: list[StorageAlarm] = []
    tiny = RetentionPolicy(Profile.POLICE, 30, quota_bytes=4000, min_free_share=0)
    store = open_store(tmp_path / "rec", k, clock, policy=tiny, alarm=alarms.append)
    recorder = RecorderConsumer(store, PyAVEncoder(), segment_seconds=1.0)
    noisy = np.random.default_rng(1)
    for i in range(50):
        recorder.consume(masked(noisy.integers(0, 255, (48, 64, 3), dtype=np.uint8), i, clock.time_ns()))
        clock.advance(0.04)
    recorder.close()
    state = recorder.state()
    assert state.segments_failed == 2 and state.frames_lost == 50 and state.segments_written == 0
    assert "exceeds the whole quota" in state.last_error
    assert [a.kind.value for a in alarms] == ["segment_dropped", "segment_dropped"]
    assert store.state().segments_dropped == 2


def test_runs_as_an_every_frame_consumer_stage(tmp_path: Path, k: Keys) -> None:
    clock = FakeClock()
    store = open_store(tmp_path / "rec", k, clock)
    stored = threading.Event()
    recorder = RecorderConsumer(store, PyAVEncoder(), segment_seconds=1.0, on_segment=lambda _s: stored.set())
    stop = threading.Event()
    stage = ConsumerStage("recorder", recorder, QueuePolicy.EVERY, stop, clock, capacity=100)
    stage.start()
    for frame in moving_frames(clock, 40):
        assert stage.offer(frame)
    assert stored.wait(30), "the first segment was never stored"
    stop.set()
    assert stage.join(30)
    state = recorder.state()
    # close() stored the segment in progress: every frame the stage processed is in a stored segment.
    assert state.frames_recorded == stage.snapshot().processed >= 25
    assert state.frames_in_progress == 0 and state.segments_written >= 1 and state.last_finish_ms > 0
    assert check_consistent(store, k) == state.segments_written
