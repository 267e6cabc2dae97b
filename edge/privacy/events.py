"""Events the privacy stage raises: mask changes and tamper state changes, for MQTT ``event/<kind>``.

The stage calls its ``on_event`` hook from the thread that caused the event (the capture thread for
tamper events, the command thread for mask changes), after releasing its locks. The hook must be quick
and must not block (hand the event to a queue); an exception in it is logged and does not stop masking.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

log = logging.getLogger(__name__)

EventKind = Literal["alarm", "tamper", "masks_changed", "tamper_cleared"]
"""``alarm``: masking cannot be guaranteed (no masks while required, an error, an unusable reference).
``tamper``: the view no longer matches the reference; every frame is blanked until a technician approves.
``masks_changed``: the effective mask set (and so the mask id) changed.
``tamper_cleared``: a technician approved the view; frames flow again."""


@dataclass(frozen=True, slots=True)
class PrivacyEvent:
    kind: EventKind
    cause: str
    """Machine-readable cause (``displaced``, ``covered``, ``set_masks``, ...)."""
    measured: dict[str, float] = field(hash=False)
    """What the detector measured (shift, rotation, luma, ...), or counts for mask changes."""
    ts_ns: int
    """Wall-clock time of the event, nanoseconds since the Unix epoch (UTC)."""
    mask_id: str = ""
    """The mask id in force after the event."""
    actor: str = ""
    """Who caused it, for changes made on request (a technician, a signed command's identity)."""


EventSink = Callable[[PrivacyEvent], None]


def event_body(event: PrivacyEvent) -> dict[str, object]:
    """The event as the body of an ``event/<kind>`` message (see edge/uplink/schemas/event.schema.json)."""
    return {
        "kind": str(event.kind),
        "source": "privacy",
        "cause": event.cause,
        "measured": {k: round(float(v), 4) for k, v in event.measured.items()},
        "mask_id": event.mask_id,
        "actor": event.actor,
    }


def emit(sink: EventSink | None, events: list[PrivacyEvent]) -> None:
    """Deliver ``events`` in order; a failing sink is logged, never propagated into the frame path."""
    for event in events:
        log.info("privacy event %s: %s %s", event.kind, event.cause, event.measured)
        if sink is None:
            continue
        try:
            sink(event)
        except Exception:
            log.exception("privacy event hook failed for %s", event.kind)
