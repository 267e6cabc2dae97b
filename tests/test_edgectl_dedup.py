"""The centre's de-duplication and gap detection (``edgectl listen``)."""

from __future__ import annotations

import json

from edge.ctl.dedup import SequenceTracker


def payload(stream: str, seq: int, msg_id: str) -> bytes:
    return json.dumps({"stream": stream, "seq": seq, "msg_id": msg_id}).encode()


def test_redeliveries_are_dropped_and_gaps_reported() -> None:
    t = SequenceTracker()
    assert t.notes_for("n1", payload("read", 1, "a")) == []
    assert t.notes_for("n1", payload("read", 1, "a")) is None, "a redelivery is not shown again"
    assert t.notes_for("n1", payload("read", 2, "b")) == []
    gap = t.notes_for("n1", payload("read", 5, "e"))
    assert gap is not None and "3..4 missing" in gap[0]
    late = t.notes_for("n1", payload("read", 3, "c"))
    assert late is not None and "late" in late[0]
    assert t.notes_for("n2", payload("read", 7, "x")) == [], "each node has its own sequences"
    assert t.notes_for("n1", payload("health", 1, "h1")) == []
    assert t.notes_for("n1", payload("health", 9, "h9")) == [], "health gaps are coalesced reports"
    assert t.notes_for("n1", b'{"state": "online"}') == [] and t.notes_for("n1", b"\xff") == []
    assert (t.duplicates, t.gaps) == (1, 1)
