"""``NodeView`` over a running ``edge.app.Node``: what the diagnostics page reads and may do."""

from __future__ import annotations

import threading
from collections import deque
from typing import TYPE_CHECKING

from edge.diagnostics.checks import (
    CheckResult,
    check_broker_round_trip,
    check_disk,
    check_frames,
    check_models,
)
from edge.diagnostics.health import HealthReport
from edge.diagnostics.web.view import MaskOutline, MaskOutlines, PreviewImage, RecentEvent
from edge.errors import EdgeError
from edge.privacy.events import PrivacyEvent
from edge.privacy.fill import SUBPIXEL_BITS

if TYPE_CHECKING:
    from edge.app import Node

_EVENTS_KEPT = 20


class EventRing:
    """The last few privacy events and technician actions, newest last (thread-safe)."""

    def __init__(self, size: int = _EVENTS_KEPT) -> None:
        self._lock = threading.Lock()
        self._events: deque[RecentEvent] = deque(maxlen=size)

    def add(self, event: RecentEvent) -> None:
        with self._lock:
            self._events.append(event)

    def add_privacy(self, event: PrivacyEvent) -> None:
        self.add(RecentEvent(event.ts_ns, event.kind, event.cause, event.actor))

    def snapshot(self) -> tuple[RecentEvent, ...]:
        with self._lock:
            return tuple(self._events)


class NodeDiagnostics:
    """The ``NodeView`` of one node. ``events`` is fed by the node's privacy event callback."""

    def __init__(self, node: Node, events: EventRing | None = None) -> None:
        self._node = node
        self.events = events or EventRing()

    def health(self) -> HealthReport:
        return self._node.health()

    def preview_jpeg(self) -> PreviewImage | None:
        width = self._node.config.diagnostics.preview_max_width_px
        try:
            frame, jpeg = self._node.preview.jpeg(max_width=width, quality=75)
        except EdgeError:
            return None
        return PreviewImage(frame.mask_id, jpeg, frame.blanked)

    def mask_outlines(self) -> MaskOutlines:
        frame = self._node.preview.latest()
        if frame is None:
            return MaskOutlines(0, 0, ())
        applied = self._node.privacy.applied_masks()
        polygons = applied.masks.pixel_polygons(frame.width, frame.height, applied.warp)
        names = [p.name for p in applied.masks.polygons]
        scale = float(1 << SUBPIXEL_BITS)
        outlines = tuple(
            MaskOutline(
                names[i % len(names)] if names else "mask",
                tuple((float(x) / scale, float(y) / scale) for x, y in poly.reshape(-1, 2)),
            )
            for i, poly in enumerate(polygons)
        )
        return MaskOutlines(frame.width, frame.height, outlines)

    def recent_events(self) -> tuple[RecentEvent, ...]:
        return self.events.snapshot()

    def approve_view(self, actor: str) -> None:
        self._node.privacy.approve_view(actor=actor)
        self.events.add(
            RecentEvent(self._node.clock.time_ns(), "view_approval_requested", "diagnostics", actor)
        )

    def capture_reference(self, actor: str) -> None:
        self._node.privacy.capture_reference(actor=actor)
        self.events.add(RecentEvent(self._node.clock.time_ns(), "reference_requested", "diagnostics", actor))

    def run_selftests(self) -> tuple[CheckResult, ...]:
        config = self._node.config
        frame = self._node.preview.latest()
        age_s = (
            None if frame is None else max(0.0, (self._node.clock.monotonic_ns() - frame.monotonic_ns) / 1e9)
        )
        return (
            check_frames(age_s, config.pipeline.stall_after_s),
            check_broker_round_trip(config.mqtt, config.node.id, config.diagnostics.selftest_timeout_s),
            check_disk(config.node.state_dir),
            check_models(self._node.health().anpr),
        )
