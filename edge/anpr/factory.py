"""Builds the ANPR stage and its helpers from the configuration (used by ``edge.app``; no logic here)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from edge.anpr.clips import HitClips
from edge.anpr.hotlist import Purpose
from edge.anpr.lists import AuditSink, ListLimits, NodeHotlists
from edge.anpr.publish import ClipPolicy, PassPublisher, Sender
from edge.anpr.records import RecordContext
from edge.anpr.service import AnprConsumer, AnprState, RecognizerFactory, recognizer_factory
from edge.anpr.stats import CaptureStats
from edge.clock import Clock
from edge.commands.clips import ClipSender
from edge.config import EdgeConfig
from edge.privacy.masks import AppliedMasks
from edge.storage.errors import StorageError
from edge.storage.keys import load_ed25519_public
from edge.storage.store import SegmentStore
from edge.uplink.topics import Topics

log = logging.getLogger(__name__)

HOTLISTS_DIR = "hotlists"
_CLIP_WAIT_MARGIN_S = 10.0


@dataclass(frozen=True, slots=True)
class Anpr:
    """The ANPR parts of a node: the stage's consumer, the hotlists and the hit-clip worker."""

    consumer: AnprConsumer
    hotlists: NodeHotlists
    clips: HitClips | None

    def start(self) -> None:
        if self.clips is not None:
            self.clips.start()

    def join(self, timeout_s: float) -> bool:
        return self.clips is None or self.clips.join(timeout_s)

    def health(self) -> dict[str, Any]:
        doc = self.consumer.health()
        if self.clips is None:
            doc["clips"] = None
        else:
            c = self.clips.counters()
            doc["clips"] = {
                "queued": c.queued,
                "sent": c.sent,
                "failed": c.failed,
                "refused": c.refused,
                "last_error": c.last_error,
            }
        return doc


def off_health() -> dict[str, Any]:
    """The ``anpr`` section of health on a node without ANPR."""
    return {"state": AnprState.OFF.value}


def load_hotlist_keys(config: EdgeConfig) -> list[Ed25519PublicKey]:
    """The keys that may sign this node's hotlists; a bad file is logged and skipped."""
    paths = config.anpr.hotlist_public_key_files or config.commands.central_public_key_files
    keys = []
    for path in paths:
        try:
            keys.append(load_ed25519_public(path))
        except StorageError as exc:
            log.error("hotlist key %s unusable: %s", path, exc)  # noqa: TRY400 - the message says it
    if not keys:
        log.warning("no hotlist key: every set_hotlist will be refused")
    return keys


def location_of(config: EdgeConfig) -> dict[str, Any]:
    return {
        "lat": config.node.location.lat,
        "lon": config.node.location.lon,
        "site": config.node.site,
        "description": config.anpr.location,
    }


def build_anpr(
    config: EdgeConfig,
    *,
    clock: Clock,
    topics: Topics,
    send: Sender,
    send_clip: ClipSender,
    audit: AuditSink,
    masks: Callable[[], AppliedMasks],
    store: SegmentStore | None,
    recording_off_reason: str,
    device_key: Callable[[], Ed25519PrivateKey],
    stop: threading.Event,
    recognizer: RecognizerFactory | None = None,
) -> Anpr:
    anpr = config.anpr
    purpose = Purpose(anpr.profile)
    limits = ListLimits(
        anpr.hotlist_max_entries, anpr.hotlist_max_bytes, anpr.hotlist_max_validity_days * 86_400
    )
    hotlists = NodeHotlists.open(
        config.node.state_dir / HOTLISTS_DIR, load_hotlist_keys(config), purpose, limits, clock.time_ns, audit
    )
    clips = None
    if store is not None and anpr.profile == "police":
        clips = HitClips(
            store,
            device_key,
            config.node.state_dir / "exports",
            config.commands.clip_chunk_bytes,
            send_clip,
            config.node.id,
            stop,
            capacity=anpr.hit_clip_queue,
            wait_limit_s=2 * config.storage.segment_seconds + _CLIP_WAIT_MARGIN_S,
        )
    context = RecordContext(
        node_id=config.node.id,
        profile=anpr.profile,
        location=location_of(config),
        model_version="",
        overview=anpr.overview and anpr.profile == "police",
        blur_occupants=anpr.blur_occupants,
        overview_width_px=anpr.overview_width_px,
    )
    publisher = PassPublisher(
        context,
        topics,
        send,
        hotlists,
        audit,
        ClipPolicy(clips, recording_off_reason, anpr.hit_clip_pre_s, anpr.hit_clip_post_s),
    )
    consumer = AnprConsumer(
        anpr,
        recognizer=recognizer or recognizer_factory(anpr),
        masks=masks,
        publisher=publisher,
        hotlists=hotlists,
        stats=CaptureStats(clock=clock),
    )
    return Anpr(consumer, hotlists, clips)
