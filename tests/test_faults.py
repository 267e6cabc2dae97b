"""Fault injection, quick versions: corrupt SQLite files at start, wall-clock jumps under retention.

What each fault is covered by (these tests and the older ones) is tabled in docs/resilience.md.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.clock import FakeClock
from edge.storage.errors import StorageError
from edge.storage.profiles import Profile
from edge.storage.retention import RetentionPolicy
from edge.storage.store import INDEX_NAME, SegmentStore
from edge.uplink.outbox import Outbox, Priority
from tests.broker import Broker
from tests.mqtt_client import Subscriber
from tests.node_process import NodeProcess, node_config
from tests.storage_support import Keys, fake_video, make_keys, open_store
from tests.test_payload_schemas import validator

HOUR_NS = 3600 * 10**9
GARBAGE = b"this is not an SQLite database, it is what a torn write left behind\n" * 100


@pytest.fixture(scope="module")
def k(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return make_keys(tmp_path_factory.mktemp("keys"))


def record_hour(store: SegmentStore, clock: FakeClock) -> str:
    clock.advance(3600)
    now = clock.time_ns()
    return store.store(fake_video(2000), now - HOUR_NS, now, "m1-test", "fake").segment_id


def ids(store: SegmentStore) -> list[str]:
    return [s.segment_id for s in store.segments(0, 2**63 - 1)]


# ------------------------------------------------------------------------------ corrupt files at start


def test_a_corrupt_outbox_is_quarantined_and_a_fresh_one_works(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite"
    path.write_bytes(GARBAGE)
    box = Outbox(
        path, max_messages=10, max_bytes=10**6, time_ns=time.time_ns, overflow_report=lambda d: ("o", {})
    )
    assert box.quarantined is not None and box.quarantined.read_bytes() == GARBAGE
    assert box.enqueue("event", "cams/x/event/t", {"a": 1}, Priority.EVENT)
    assert box.state().depth == 1
    box.close()


def test_a_corrupt_index_turns_recording_off_and_is_left_for_a_technician(tmp_path: Path, k: Keys) -> None:
    clock = FakeClock()
    store = open_store(tmp_path, k, clock)
    for _ in range(3):
        record_hour(store, clock)
    store.close()
    for suffix in ("-wal", "-shm"):
        (tmp_path / (INDEX_NAME + suffix)).unlink(missing_ok=True)
    (tmp_path / INDEX_NAME).write_bytes(GARBAGE)
    files = sorted(p.name for p in (tmp_path / "segments").rglob("*.seg"))
    # A StorageError is what the node turns into "recording disabled" with the reason in red health.
    with pytest.raises(StorageError, match="index is corrupt"):
        open_store(tmp_path, k, clock)
    assert (tmp_path / INDEX_NAME).read_bytes() == GARBAGE, "left as it is, not rebuilt without its holds"
    assert sorted(p.name for p in (tmp_path / "segments").rglob("*.seg")) == files, "no footage touched"


@pytest.fixture
def sub(broker: Broker) -> Iterator[Subscriber]:
    s = Subscriber(broker.host, broker.port, "cams/test-node/#")
    yield s
    s.close()


def test_the_node_starts_on_a_corrupt_outbox_and_delivers(
    tmp_path: Path, broker: Broker, sub: Subscriber
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "outbox.sqlite").write_bytes(GARBAGE)
    node = NodeProcess(tmp_path, node_config(tmp_path, broker))
    try:
        event = sub.expect(
            lambda m: m.topic == "cams/test-node/event/outbox_quarantined", 20, "the quarantine event"
        ).json()
        validator("event").validate(event)
        assert (event["source"], event["cause"]) == ("uplink", "outbox_corrupt")
        sub.expect(
            lambda m: m.topic == "cams/test-node/health" and m.json()["stages"]["preview"]["processed"] > 0,
            20,
            "health with frames",
        )
    finally:
        node.close()
    assert "quarantined" in node.log() and "Traceback" not in node.log()
    assert list(state.glob("outbox.sqlite.corrupt-*"))


# ------------------------------------------------------------------------------ wall-clock jumps


def test_a_backwards_clock_jump_purges_nothing_and_keeps_the_order(tmp_path: Path, k: Keys) -> None:
    clock = FakeClock()
    policy = RetentionPolicy(Profile.POLICE, max_age_days=1, quota_bytes=10**9, min_free_share=0)
    store = open_store(tmp_path, k, clock, policy=policy)
    before = [record_hour(store, clock) for _ in range(5)]
    clock.jump_wall(-3 * 86400)  # an RTC-less board booting without NTP
    store.enforce_retention()
    assert ids(store) == before
    after = record_hour(store, clock)  # stamped three days back: listed first, by its (wrong) time
    store.enforce_retention()
    assert ids(store) == [after, *before]
    # Once the clock is right again, the wrongly stamped segment looks old and goes first, by age.
    clock.jump_wall(3 * 86400)
    store.enforce_retention()
    assert ids(store) == before


def test_a_forwards_jump_beyond_the_retention_purges_only_what_is_older(tmp_path: Path, k: Keys) -> None:
    clock = FakeClock()
    policy = RetentionPolicy(Profile.POLICE, max_age_days=1, quota_bytes=10**9, min_free_share=0)
    store = open_store(tmp_path, k, clock, policy=policy)
    old = [record_hour(store, clock) for _ in range(3)]
    clock.jump_wall(20 * 3600 + 1800)  # a forwards NTP step of 20.5 h
    young = [record_hour(store, clock) for _ in range(2)]
    store.enforce_retention()
    # The first segment ended 24.5 h ago, the second 23.5 h ago: only the first is past one day.
    assert ids(store) == [*old[1:], *young]
    clock.jump_wall(2 * 86400)  # beyond the whole retention: everything recorded so far is older
    fresh = record_hour(store, clock)
    store.enforce_retention()
    assert ids(store) == [fresh]
