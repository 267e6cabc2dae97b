"""Human-readable one-line summaries of what a node publishes."""

from __future__ import annotations

import json
from typing import Any

_COLOURS = {"green": "32", "amber": "33", "red": "31", "online": "32", "offline": "31", "dim": "2"}


def paint(text: str, colour: str, enabled: bool) -> str:
    code = _COLOURS.get(colour)
    return f"\033[{code}m{text}\033[0m" if enabled and code else text


def summarise(kind: str, payload: bytes, colour: bool) -> str:
    """One line for one message; unknown or malformed payloads are shown raw, never dropped."""
    try:
        doc = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return f"(not JSON, {len(payload)} bytes)"
    if not isinstance(doc, dict):
        return json.dumps(doc)[:200]
    if kind == "status":
        state = str(doc.get("state", "?"))
        cause, version = doc.get("cause", ""), doc.get("version", "?")
        return f"{paint(state.upper(), state, colour)} ({cause}) version {version}"
    if kind == "health":
        return _health_line(doc, colour)
    return json.dumps(doc, separators=(",", ":"))[:300]


def _health_line(doc: dict[str, Any], colour: bool) -> str:
    verdict = str(doc.get("verdict", "?"))
    cam = doc.get("camera", {})
    priv = doc.get("privacy", {})
    up = doc.get("uplink", {})
    sysm = doc.get("system", {})
    parts = [
        paint(verdict.upper(), verdict, colour),
        f"camera {cam.get('state', '?')} {cam.get('fps', 0):.1f} fps",
        f"privacy {priv.get('mode', '?')} {priv.get('mask_id', '')} ({priv.get('masks', 0)} masks, "
        f"{priv.get('frames_blocked', 0)} blocked)",
    ]
    for name, st in doc.get("stages", {}).items():
        if name != "privacy":
            parts.append(f"{name} {st.get('fps', 0):.1f} fps drop {st.get('dropped', 0)}")
    temp = sysm.get("cpu_temp_c")
    disk = sysm.get("disk_used_share")
    parts.append(
        f"cpu {'-' if temp is None else f'{temp:.0f}°C'} disk {'-' if disk is None else f'{disk:.0%}'}"
        f" reconnects {max(0, up.get('connects', 1) - 1)} up {doc.get('uptime_s', 0):.0f} s"
    )
    line = " | ".join(parts)
    reasons = doc.get("reasons") or []
    if reasons:
        line += "\n" + " " * 10 + paint("; ".join(str(r) for r in reasons), "dim", colour)
    return line
