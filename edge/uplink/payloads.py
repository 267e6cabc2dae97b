"""JSON payloads. Every payload carries ``schema`` (name/version) so the centre can evolve safely."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from edge import __version__


def utc_iso(ts_ns: int) -> str:
    """RFC 3339 UTC timestamp with milliseconds, e.g. ``2026-11-28T21:38:49.123Z``."""
    t = dt.datetime.fromtimestamp(ts_ns / 1e9, tz=dt.UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def status_payload(node_id: str, state: str, ts_ns: int | None, cause: str) -> bytes:
    """``state`` is ``online`` or ``offline``; ``ts`` is null in the last will, which is composed at
    connect time and published by the broker later (the receive time is the best estimate then)."""
    return _dump(
        {
            "schema": "edge.status/1",
            "node_id": node_id,
            "state": state,
            "cause": cause,
            "ts": None if ts_ns is None else utc_iso(ts_ns),
            "version": __version__,
        }
    )


def health_doc(node_id: str, ts_ns: int, body: dict[str, Any]) -> dict[str, Any]:
    """The ``health`` body; the outbox adds ``msg_id``, ``stream`` and ``seq``."""
    return {"schema": "edge.health/1", "node_id": node_id, "ts": utc_iso(ts_ns), **body}


def event_doc(node_id: str, ts_ns: int, body: dict[str, Any]) -> dict[str, Any]:
    """An ``event/<kind>`` body; the outbox adds ``msg_id``, ``stream`` and ``seq``."""
    return {"schema": "edge.event/1", "node_id": node_id, "ts": utc_iso(ts_ns), **body}


def _dump(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":"), sort_keys=False, allow_nan=False).encode()
