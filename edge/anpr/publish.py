"""``PassPublisher``: what a finished vehicle pass becomes on MQTT, per profile.

police (requirement 13, 14):
  every hit on a police list → ``anpr/hit`` (``Priority.HOTLIST_HIT``, stream ``anpr_hit``), audited as
  ``anpr.hit``, with one event clip per pass; then the read → ``anpr/read`` (``Priority.PLATE_READ``).
  Hits are enqueued first and outrank reads in the outbox, so a hit always leaves before its read.
lez (requirement 15):
  with a LEZ list in force, a read that matches nothing is dropped at once (counted, nothing sent), a match
  → ``lez/evidence``, audited as ``lez.evidence``; without a list, the minimal read → ``lez/read``. Never an
  overview image, never a police topic. The two profiles share no topic, stream or list.

Neither the plate nor anything derived from it is logged or audited; audit entries name the read id and
the listing's ``ref``.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from edge.anpr.clips import ClipJob, HitClips
from edge.anpr.lists import AuditSink, NodeHotlists
from edge.anpr.records import (
    ClipRef,
    RecordContext,
    hit_document,
    lez_evidence_document,
    lez_read_document,
    pass_span_ns,
    read_document,
)
from edge.anpr.tracker import VehiclePass
from edge.uplink.outbox import Priority
from edge.uplink.topics import Topics

log = logging.getLogger(__name__)

Sender = Callable[[str, str, dict[str, Any], Priority], bool]
"""``Uplink.send(stream, topic, body, priority)``."""


@dataclass(frozen=True, slots=True)
class ClipPolicy:
    clips: HitClips | None
    """None when the node does not record: hits then carry ``clip: null`` and ``clip_reason``."""
    off_reason: str
    pre_s: float
    post_s: float


@dataclass(frozen=True, slots=True)
class PublishCounters:
    reads: int
    hits: int
    fuzzy_hits: int
    lez_reads: int
    lez_evidence: int
    lez_dropped: int
    """LEZ reads that matched no LEZ list in force: dropped at once, only counted (requirement 15)."""
    not_stored: int
    """Messages the outbox's overflow policy refused."""


class PassPublisher:
    """Called from the ANPR stage thread only; ``counters`` from any thread."""

    def __init__(
        self,
        context: RecordContext,
        topics: Topics,
        send: Sender,
        hotlists: NodeHotlists,
        audit: AuditSink,
        clips: ClipPolicy,
    ) -> None:
        self._ctx = context
        self._topics = topics
        self._send = send
        self._hotlists = hotlists
        self._audit = audit
        self._clips = clips
        self._lock = threading.Lock()
        self._counts = {f.name: 0 for f in dataclasses.fields(PublishCounters)}

    @property
    def profile(self) -> str:
        return self._ctx.profile

    def set_model_version(self, version: str) -> None:
        """Called by the stage once its models are loaded, before the first pass."""
        self._ctx = dataclasses.replace(self._ctx, model_version=version)

    def counters(self) -> PublishCounters:
        with self._lock:
            return PublishCounters(**self._counts)

    def publish(self, vehicle_pass: VehiclePass) -> None:
        """Publish one pass that has a text and enough confidence."""
        if vehicle_pass.text is None:
            return
        read_id = uuid.uuid4().hex
        if self._ctx.profile == "lez":
            self._publish_lez(vehicle_pass, read_id)
        else:
            self._publish_police(vehicle_pass, read_id)

    def _publish_police(self, vehicle_pass: VehiclePass, read_id: str) -> None:
        assert vehicle_pass.text is not None
        hits = self._hotlists.match(vehicle_pass.text)
        read = read_document(vehicle_pass, self._ctx, read_id)
        if hits:
            clip, reason = self._clip(vehicle_pass, read_id, hits[0].list_id, hits[0].version)
            for hit in hits:
                self._emit(
                    "anpr_hit",
                    self._topics.anpr_hit,
                    hit_document(read, hit, clip, reason),
                    Priority.HOTLIST_HIT,
                )
                self._count("hits")
                if hit.fuzzy:
                    self._count("fuzzy_hits")
                self._audit(
                    actor="anpr",
                    action="anpr.hit",
                    purpose=hit.purpose.value,
                    detail=(
                        f"read_id={read_id} list_id={hit.list_id} version={hit.version} "
                        f"category={hit.category} ref={hit.ref} fuzzy={str(hit.fuzzy).lower()} "
                        f"clip={clip.clip_id if clip else '-'}"
                    )[:1000],
                    start_ns=clip.start_ns if clip else None,
                    end_ns=clip.end_ns if clip else None,
                )
            log.warning(
                "hotlist hit: read %s, %d listing(s), clip %s",
                read_id,
                len(hits),
                clip.clip_id if clip else "-",
            )
        self._emit("anpr_read", self._topics.anpr_read, read, Priority.PLATE_READ)
        self._count("reads")

    def _publish_lez(self, vehicle_pass: VehiclePass, read_id: str) -> None:
        assert vehicle_pass.text is not None
        if not self._hotlists.any_active():
            self._emit(
                "lez_read",
                self._topics.lez_read,
                lez_read_document(vehicle_pass, self._ctx, read_id),
                Priority.PLATE_READ,
            )
            self._count("lez_reads")
            return
        hits = self._hotlists.match(vehicle_pass.text)
        if not hits:
            self._count("lez_dropped")  # minimisation: nothing about an admitted vehicle leaves the stage
            return
        base = lez_read_document(vehicle_pass, self._ctx, read_id)
        for hit in hits:
            self._emit(
                "lez_evidence",
                self._topics.lez_evidence,
                lez_evidence_document(base, hit),
                Priority.PLATE_READ,
            )
            self._count("lez_evidence")
            self._audit(
                actor="anpr",
                action="lez.evidence",
                purpose=hit.purpose.value,
                detail=(
                    f"read_id={read_id} list_id={hit.list_id} version={hit.version} category={hit.category} "
                    f"ref={hit.ref} fuzzy={str(hit.fuzzy).lower()}"
                )[:1000],
            )

    def _clip(
        self, vehicle_pass: VehiclePass, read_id: str, list_id: str, version: int
    ) -> tuple[ClipRef | None, str]:
        policy = self._clips
        if policy.clips is None:
            return None, policy.off_reason
        first, last = pass_span_ns(vehicle_pass)
        ref = ClipRef(uuid.uuid4().hex, first - round(policy.pre_s * 1e9), last + round(policy.post_s * 1e9))
        job = ClipJob(ref.clip_id, ref.start_ns, ref.end_ns, read_id, f"anpr hit: list {list_id} v{version}")
        if not policy.clips.submit(job):
            return None, "the hit clip queue is full"
        return ref, ""

    def _emit(self, stream: str, topic: str, body: dict[str, Any], priority: Priority) -> None:
        if not self._send(stream, topic, body, priority):
            self._count("not_stored")
            log.error("outbox refused a %s message", stream)

    def _count(self, name: str) -> None:
        with self._lock:
            self._counts[name] += 1
