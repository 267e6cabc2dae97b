"""Retention with a fake clock: the age limit, the quota, the free share, legal holds and their alarms."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge.clock import FakeClock
from edge.storage.errors import StorageError
from edge.storage.model import AlarmKind, EventKind, StorageAlarm, StorageEvent
from edge.storage.profiles import NS_PER_DAY, Profile
from edge.storage.pyav_encoder import PyAVEncoder
from edge.storage.recorder import RecorderConsumer
from edge.storage.retention import RetentionPolicy
from edge.storage.store import SegmentStore
from tests.storage_support import (
    FakeDisk,
    Keys,
    check_consistent,
    fake_video,
    make_keys,
    moving_frames,
    open_store,
    segment_files,
)

HOUR_NS = 3600 * 10**9


@pytest.fixture(scope="module")
def k(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return make_keys(tmp_path_factory.mktemp("keys"))


def record_hour(store: SegmentStore, clock: FakeClock, size: int = 2000) -> None:
    """One segment covering the hour that just passed."""
    clock.advance(3600)
    now = clock.time_ns()
    store.store(fake_video(size), now - HOUR_NS, now, "m1-test", "fake")


def on_disk_bytes(store: SegmentStore) -> int:
    return sum(p.stat().st_size for p in segment_files(store.root).values())


def test_nothing_older_than_the_limit_survives(tmp_path: Path, k: Keys) -> None:
    clock = FakeClock()
    events: list[StorageEvent] = []
    policy = RetentionPolicy(Profile.POLICE, max_age_days=1, quota_bytes=10**9, min_free_share=0)
    store = open_store(tmp_path, k, clock, policy=policy, audit=events.append)
    for _ in range(60):
        record_hour(store, clock)
        oldest = min(s.end_ns for s in store.segments(0, 2**63 - 1))
        assert oldest > clock.time_ns() - NS_PER_DAY
    assert len(store.segments(0, 2**63 - 1)) == 24
    # No frames for two days (camera down): the periodic pass still purges.
    clock.advance(2 * 86400)
    store.enforce_retention()
    assert store.segments(0, 2**63 - 1) == [] and segment_files(tmp_path) == {}
    assert list((tmp_path / "segments").iterdir()) == [], "empty day folders are removed"
    state = store.state()
    assert (state.purged_age, state.segments, state.used_bytes) == (60, 0, 0)
    purges = [e for e in events if e.kind is EventKind.PURGE]
    assert sum(len(e.segment_ids) for e in purges) == 60
    assert all(e.actor == "node" and "reason=age" in e.detail for e in purges)


def test_held_footage_outlives_the_age_limit_until_the_hold_expires(tmp_path: Path, k: Keys) -> None:
    clock = FakeClock()
    events: list[StorageEvent] = []
    policy = RetentionPolicy(Profile.POLICE, max_age_days=1, quota_bytes=10**9, min_free_share=0)
    store = open_store(tmp_path, k, clock, policy=policy, audit=events.append)
    for _ in range(10):
        record_hour(store, clock)
    t = clock.time_ns()
    hold = store.place_hold(
        t - 4 * HOUR_NS, t - 2 * HOUR_NS, "PV 2026/123", "officer 4711", t + 10 * NS_PER_DAY
    )
    release_me = store.place_hold(
        t - 10 * HOUR_NS, t - 9 * HOUR_NS, "PV 2026/124", "officer 4711", t + 10 * NS_PER_DAY
    )
    assert [e.kind for e in events[-2:]] == [EventKind.HOLD, EventKind.HOLD]
    assert events[-1].actor == "officer 4711" and "case=PV 2026/124" in events[-1].detail

    clock.advance(3 * 86400)
    store.enforce_retention()
    kept = store.segments(0, 2**63 - 1)
    assert len(kept) == 3 and all(
        s.held for s in kept
    )  # two hours under the first hold, one under the second

    store.release_hold(release_me.hold_id, "prosecutor 12")
    assert events[-1].kind is EventKind.RELEASE and events[-1].actor == "prosecutor 12"
    store.enforce_retention()
    assert [(s.start_ns, s.end_ns) for s in store.segments(0, 2**63 - 1)] == [
        (t - 4 * HOUR_NS, t - 3 * HOUR_NS),
        (t - 3 * HOUR_NS, t - 2 * HOUR_NS),
    ]
    clock.advance(8 * 86400)  # past the hold's expiry
    store.enforce_retention()
    assert store.segments(0, 2**63 - 1) == []
    assert {h.hold_id for h in store.holds()} == {hold.hold_id, release_me.hold_id}  # kept for audit
    assert store.holds(active_only=True) == []


def test_holds_survive_a_restart(tmp_path: Path, k: Keys) -> None:
    clock = FakeClock()
    store = open_store(tmp_path, k, clock)
    record_hour(store, clock)
    t = clock.time_ns()
    hold = store.place_hold(t - HOUR_NS, t, "PV 1", "officer 1", t + NS_PER_DAY)
    store.close()
    reopened = open_store(tmp_path, k, clock)
    assert reopened.holds() == [hold]
    assert [s.held for s in reopened.segments(0, 2**63 - 1)] == [True]
    assert reopened.state().active_holds == 1


@pytest.mark.parametrize(
    ("start", "end", "case", "who", "expires_in_s", "message"),
    [
        (10, 10, "PV", "me", 60, "end_ns after start_ns"),
        (0, 10, "PV", "me", -1, "expire in the future"),
        (0, 10, " ", "me", 60, "case_ref"),
        (0, 10, "PV", "x" * 201, 60, "requester"),
        (0, 10, "PV\n2", "me", 60, "case_ref"),
    ],
)
def test_hold_requests_are_validated(
    tmp_path: Path, k: Keys, start: int, end: int, case: str, who: str, expires_in_s: int, message: str
) -> None:
    clock = FakeClock()
    store = open_store(tmp_path, k, clock)
    with pytest.raises(StorageError, match=message):
        store.place_hold(start, end, case, who, clock.time_ns() + expires_in_s * 10**9)


def test_under_quota_pressure_held_footage_goes_last_and_only_after_an_alarm(tmp_path: Path, k: Keys) -> None:
    clock = FakeClock()
    alarms: list[StorageAlarm] = []
    held_on_disk_at_alarm: list[int] = []
    # Six sealed 3000-byte segments fit (each is about 3.7 kB with its header).
    policy = RetentionPolicy(Profile.POLICE, 30, quota_bytes=23_000, min_free_share=0, held_alarm_share=0.5)

    def on_alarm(alarm: StorageAlarm) -> None:
        alarms.append(alarm)
        if alarm.kind is AlarmKind.HELD_EVICTION:
            held_on_disk_at_alarm.append(sum(s.held for s in store.segments(0, 2**63 - 1)))

    store = open_store(tmp_path, k, clock, policy=policy, alarm=on_alarm)
    for _ in range(6):
        record_hour(store, clock, size=3000)
    assert store.state().purged_quota == 0
    t = clock.time_ns()
    store.place_hold(t - 6 * HOUR_NS, t - 2 * HOUR_NS, "PV 9", "officer 9", t + 365 * NS_PER_DAY)
    assert [a.kind for a in alarms] == [AlarmKind.HOLD_PRESSURE]  # 4 of 6 held: over half the quota

    for _ in range(2):  # room is made by evicting unheld footage, even though it is newer
        record_hour(store, clock, size=3000)
        assert on_disk_bytes(store) <= policy.quota_bytes
    state = store.state()
    assert (state.purged_quota, state.purged_held, state.held_segments, len(alarms)) == (2, 0, 4, 1)

    t = clock.time_ns()
    store.place_hold(t - 2 * HOUR_NS, t, "PV 10", "officer 9", t + 365 * NS_PER_DAY)
    before = [s.segment_id for s in store.segments(0, 2**63 - 1)]
    record_hour(store, clock, size=3000)  # everything on disk is held now
    assert [a.kind for a in alarms] == [AlarmKind.HOLD_PRESSURE, AlarmKind.HELD_EVICTION]
    assert held_on_disk_at_alarm == [6], "held footage was evicted before the alarm went out"
    state = store.state()
    assert (state.purged_held, state.held_segments, state.segments) == (1, 5, 6)
    assert state.used_bytes <= policy.quota_bytes and on_disk_bytes(store) == state.used_bytes
    after = [s.segment_id for s in store.segments(0, 2**63 - 1)]
    assert after[:5] == before[1:], "the oldest held segment went first"


def test_the_free_share_is_kept_but_never_at_the_cost_of_held_footage(tmp_path: Path, k: Keys) -> None:
    clock = FakeClock()
    disk = FakeDisk(total_bytes=100_000, other_bytes=70_000)
    alarms: list[StorageAlarm] = []
    policy = RetentionPolicy(Profile.POLICE, 30, quota_bytes=10**9, min_free_share=0.10)
    store = open_store(tmp_path, k, clock, policy=policy, disk_usage=disk, alarm=alarms.append)
    for _ in range(12):
        record_hour(store, clock, size=3000)
        assert disk(tmp_path).free_bytes >= 10_000
    assert store.state().purged_quota > 0
    t = clock.time_ns()
    store.place_hold(0, t, "PV 10", "officer 10", t + NS_PER_DAY)
    before = store.segments(0, 2**63 - 1)
    with pytest.raises(StorageError, match="free share"):
        record_hour(store, clock, size=3000)
    assert store.segments(0, 2**63 - 1) == before  # nothing held was touched
    assert alarms[-1].kind is AlarmKind.SEGMENT_DROPPED


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    sizes=st.lists(st.integers(min_value=100, max_value=6000), min_size=1, max_size=25),
    hold_every=st.integers(min_value=2, max_value=8),
)
def test_the_quota_is_never_exceeded(
    tmp_path_factory: pytest.TempPathFactory, k: Keys, sizes: list[int], hold_every: int
) -> None:
    root = tmp_path_factory.mktemp("quota")
    clock = FakeClock()
    policy = RetentionPolicy(Profile.POLICE, 30, quota_bytes=15_000, min_free_share=0)
    store = open_store(root, k, clock, policy=policy)
    for i, size in enumerate(sizes):
        record_hour(store, clock, size)
        if i % hold_every == 0:
            t = clock.time_ns()
            store.place_hold(t - HOUR_NS, t, f"PV {i}", "officer", t + NS_PER_DAY)
        assert on_disk_bytes(store) <= policy.quota_bytes
        assert store.state().used_bytes == on_disk_bytes(store)
    newest = store.segments(0, 2**63 - 1)[-1]
    assert newest.end_ns == clock.time_ns(), "the newest segment is always kept"
    store.close()


def test_recording_goes_on_while_evicting(tmp_path: Path, k: Keys) -> None:
    clock = FakeClock()
    policy = RetentionPolicy(Profile.POLICE, 30, quota_bytes=25_000, min_free_share=0)
    store = open_store(tmp_path, k, clock, policy=policy)
    peaks: list[int] = []
    recorder = RecorderConsumer(
        store,
        PyAVEncoder(),
        segment_seconds=0.4 * 2.5,
        on_segment=lambda _s: peaks.append(on_disk_bytes(store)),
    )
    for frame in moving_frames(clock, 300, size=(96, 64)):
        recorder.consume(frame)
    recorder.close()
    state, rstate = store.state(), recorder.state()
    assert rstate.segments_written == 12 and rstate.segments_failed == 0 and rstate.frames_recorded == 300
    assert state.purged_quota > 0 and max(peaks) <= policy.quota_bytes
    assert check_consistent(store, k) == state.segments


def test_hard_ceilings_cannot_be_raised() -> None:
    RetentionPolicy(Profile.POLICE, 365, 10**9)
    RetentionPolicy(Profile.CAMERA_LAW, 90, 10**9)
    with pytest.raises(ValueError, match="at most 365"):
        RetentionPolicy(Profile.POLICE, 365.5, 10**9)
    with pytest.raises(ValueError, match="at most 90"):
        RetentionPolicy(Profile.CAMERA_LAW, 91, 10**9)
    with pytest.raises(ValueError, match="above 0"):
        RetentionPolicy(Profile.POLICE, 0, 10**9)
