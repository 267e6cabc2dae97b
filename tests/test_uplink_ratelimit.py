"""The clip bandwidth cap's parts on their own: the token bucket (explicit times, no sleeping) and the
outbox's per-priority claim budget."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from edge.uplink.outbox import Outbox, Priority
from edge.uplink.ratelimit import TokenBucket


def test_no_cap_means_no_bucket() -> None:
    bucket = TokenBucket(0, now=0.0)
    assert bucket.available(5.0) is None and bucket.wait_s(5.0) == 0.0
    bucket.take(10**9, 5.0)
    assert bucket.available(5.0) is None


def test_the_bucket_lets_one_message_overdraw_and_then_waits() -> None:
    bucket = TokenBucket(1000, now=0.0, burst_s=0.05)
    assert bucket.available(0.0) == pytest.approx(50)
    bucket.take(400, 0.0)
    assert bucket.available(0.0) == pytest.approx(-350)
    assert bucket.wait_s(0.0) == pytest.approx(0.351)
    assert bucket.available(0.352) == pytest.approx(2)
    assert bucket.available(100.0) == pytest.approx(50), "idle time accrues at most the burst"
    bucket.set_rate(2000, 100.0)
    assert bucket.available(100.0) == pytest.approx(100)
    with pytest.raises(ValueError, match="negative"):
        bucket.set_rate(-1, 100.0)


@pytest.mark.parametrize(("size", "step_s"), [(300, 0.001), (5000, 0.0002), (100, 0.05)])
def test_over_any_run_the_bytes_sent_stay_within_rate_times_time_plus_burst_and_one_message(
    size: int, step_s: float
) -> None:
    rate, burst_s, run_s = 10_000.0, 0.05, 20.0
    bucket = TokenBucket(rate, now=0.0, burst_s=burst_s)
    sent: list[tuple[float, int]] = []
    now = 0.0
    while now < run_s:
        # A sender that wakes every step and sends while the bucket allows (late wake-ups included).
        while (bucket.available(now) or 0) > 0:
            bucket.take(size, now)
            sent.append((now, size))
        now += step_s
    total = sum(n for _, n in sent)
    assert total <= rate * (run_s + burst_s) + size
    assert total >= rate * run_s - size - rate * step_s, "the cap is reached, not just respected"
    for i in range(0, len(sent), max(1, len(sent) // 50)):  # windows starting at many sends
        start = sent[i][0]
        for j in range(i, len(sent), max(1, len(sent) // 50)):
            window = sum(n for t, n in sent[i : j + 1])
            assert window <= rate * (sent[j][0] - start + burst_s) + size + 1  # + float rounding


def report(totals: dict[str, int]) -> tuple[str, dict[str, Any]]:
    return "cams/n/event/outbox_overflow", {"kind": "outbox_overflow", "totals": totals}


def test_a_spent_budget_holds_back_its_priority_only(tmp_path: Path) -> None:
    box = Outbox(
        tmp_path / "o.sqlite",
        max_messages=100,
        max_bytes=1 << 20,
        time_ns=time.time_ns,
        overflow_report=report,
    )
    for n in range(5):
        box.enqueue("clip", f"cams/n/clip/c1/chunk/{n}", {"n": n, "data": "x" * 60}, Priority.CLIP)
    box.enqueue("health", "cams/n/health", {}, Priority.HEALTH, coalesce=True)
    box.enqueue("read", "cams/n/anpr/read", {}, Priority.PLATE_READ)
    size = len(box.claim(1, {Priority.CLIP: 0})[0].payload)  # the read; clips held back
    box.enqueue("read", "cams/n/anpr/read", {}, Priority.PLATE_READ)

    first = box.claim(10, {Priority.CLIP: 150})
    streams = [json.loads(m.payload)["stream"] for m in first]
    # The budget covers one chunk and lets a second overdraw it; health, behind the clip, still goes.
    assert streams == ["read", "clip", "clip", "health"], streams
    assert [m.priority for m in first] == [Priority.PLATE_READ, Priority.CLIP, Priority.CLIP, Priority.HEALTH]
    assert box.claim(10, {Priority.CLIP: 0}) == []
    assert box.claim(10, {Priority.CLIP: -5}) == []
    rest = box.claim(10, None)
    assert [json.loads(m.payload)["n"] for m in rest] == [2, 3, 4]
    assert size > 0

    assert box.pending("clip", "cams/n/clip/c1/") == 5
    assert box.pending("clip", "cams/n/clip/c2/") == 0
    box.ack([m.row_id for m in [*first, *rest] if m.priority is Priority.CLIP])
    assert box.pending("clip", "cams/n/clip/c1/") == 0
    box.close()
