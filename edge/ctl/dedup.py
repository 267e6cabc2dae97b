"""``SequenceTracker``: the centre's side of the outbox envelope — drop redeliveries, notice gaps.

Redeliveries (same ``msg_id``) are expected: delivery is at least once. A ``seq`` that skips numbers in a
stream is a gap: messages the node's outbox dropped by policy (``event/outbox_overflow`` says how many),
or, for ``health`` and ``outbox_overflow``, reports superseded by a newer one before they were sent (not
reported as gaps: the newest one holds everything). A message that
arrives after a later one of its stream fills its gap and is reported as late.
"""

from __future__ import annotations

import collections
import json
from dataclasses import dataclass

COALESCED_STREAMS = frozenset({"health", "outbox_overflow"})


@dataclass(frozen=True, slots=True)
class Verdict:
    duplicate: bool
    gap: tuple[int, int] | None = None
    """First and last missing seq before this message."""
    late: bool = False

    def notes(self, stream: str, seq: int) -> list[str]:
        if self.gap is not None:
            first, last = self.gap
            return [f"GAP in {stream}: seq {first}..{last} missing ({last - first + 1} message(s))"]
        if self.late:
            return [f"late {stream} seq {seq} (fills an earlier gap)"]
        return []


class SequenceTracker:
    def __init__(self, remember: int = 100_000) -> None:
        self._seen: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._remember = remember
        self._last: dict[tuple[str, str], int] = {}
        self.duplicates = 0
        self.gaps = 0

    def check(self, node: str, stream: str, seq: int, msg_id: str) -> Verdict:
        if msg_id in self._seen:
            self.duplicates += 1
            return Verdict(duplicate=True)
        self._seen[msg_id] = None
        if len(self._seen) > self._remember:
            self._seen.popitem(last=False)
        key = (node, stream)
        last = self._last.get(key)
        if last is None or seq > last:
            self._last[key] = seq
            if last is not None and seq > last + 1 and stream not in COALESCED_STREAMS:
                self.gaps += 1
                return Verdict(duplicate=False, gap=(last + 1, seq - 1))
            return Verdict(duplicate=False)
        return Verdict(duplicate=False, late=True)

    def notes_for(self, node: str, payload: bytes) -> list[str] | None:
        """Notes to print before a message; None when it is a redelivery that must not be shown again.
        Payloads without the envelope (``status``, non-JSON) pass with no notes."""
        try:
            doc = json.loads(payload)
        except ValueError:
            doc = None
        if not isinstance(doc, dict):
            return []
        msg_id, stream, seq = doc.get("msg_id"), doc.get("stream"), doc.get("seq")
        if not (isinstance(msg_id, str) and isinstance(stream, str) and isinstance(seq, int)):
            return []
        verdict = self.check(node, stream, seq, msg_id)
        return None if verdict.duplicate else verdict.notes(stream, seq)
