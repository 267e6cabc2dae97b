"""The page's state document: health, aiming aids, events and time, as plain JSON for the page's script."""

from __future__ import annotations

from typing import Any

from edge.diagnostics.focus import focus_score
from edge.diagnostics.timesync import TimeSync
from edge.diagnostics.web.view import MaskOutlines, NodeView, PreviewImage

NO_MODELS = "no models (ANPR is off on this node)"


def state_document(view: NodeView, time_sync: TimeSync) -> dict[str, Any]:
    report = view.health()
    outlines = view.mask_outlines()
    preview = view.preview_jpeg()
    body = report.to_json()
    privacy = report.privacy
    return {
        "verdict": report.verdict.value,
        "reasons": list(report.reasons),
        "uptime_s": body["uptime_s"],
        "camera": body["camera"],
        "stages": [
            {
                "name": s.name,
                "policy": s.policy,
                "fps": round(s.fps, 1),
                "processed": s.processed,
                "dropped": s.dropped,
                "errors": s.errors,
                "latency_ms": None if s.latency_ms is None else round(s.latency_ms, 1),
            }
            for s in report.stages
        ],
        "privacy": body["privacy"],
        "aiming": {
            "focus": _focus(preview, outlines),
            "shift_share": round(privacy.shift_share, 4),
            "rotation_deg": round(privacy.rotation_deg, 3),
            "scale": round(privacy.scale, 4),
            "tamper": privacy.tamper.value,
            "tamper_cause": privacy.tamper_cause,
            "reference_id": privacy.reference_id,
        },
        "broker": {
            "connected": report.uplink.connected,
            "address": report.uplink.broker,
            "last_error": report.uplink.last_error,
            "outbox_depth": report.uplink.outbox.depth,
            "outbox_oldest_age_s": report.uplink.outbox.oldest_age_s,
        },
        "recording": body["recording"],
        "system": body["system"],
        "events": [
            {"ts_ns": e.ts_ns, "kind": e.kind, "cause": e.cause, "actor": e.actor}
            for e in view.recent_events()
        ],
        "models": models_text(body["anpr"]),
        "anpr": _anpr(body["anpr"]),
        "time_sync": {"state": time_sync.state, "source": time_sync.source},
        "masks": {
            "width": outlines.width,
            "height": outlines.height,
            "polygons": [
                {"name": p.name, "points": [list(pt) for pt in p.points]} for p in outlines.polygons
            ],
        },
    }


def models_text(anpr: dict[str, Any]) -> str:
    """The page's one-line model state: versions and runtime, or why there are none."""
    state = anpr.get("state")
    if state == "running":
        return f"{anpr.get('model_version')} ({anpr.get('precision')}, {anpr.get('runtime')})"
    if state == "disabled":
        return f"ANPR disabled: {anpr.get('reason')}"
    if state == "starting":
        return "loading with the first frame"
    return NO_MODELS


def _anpr(anpr: dict[str, Any]) -> dict[str, Any]:
    # Counters and states only: nothing in the health section names a plate.
    keys = ("state", "reason", "profile", "capture", "hotlists", "lez")
    return {k: anpr[k] for k in keys if k in anpr}


def _focus(preview: PreviewImage | None, outlines: MaskOutlines) -> float | None:
    if preview is None or preview.blanked:
        return None
    score = focus_score(preview.jpeg, outlines)
    return None if score is None else round(score, 1)
