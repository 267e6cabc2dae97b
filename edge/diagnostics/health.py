"""Health: one snapshot of every stage, turned into a verdict and into the ``health`` payload."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from edge.capture.supervisor import CameraHealth, CameraState
from edge.diagnostics.system import SystemMetrics
from edge.pipeline.stats import StageStatsSnapshot
from edge.privacy.stage import PrivacyMode, PrivacyState
from edge.storage.model import StorageState
from edge.storage.recorder import RecorderState
from edge.uplink.mqtt import UplinkState


class Verdict(enum.StrEnum):
    GREEN = "green"
    AMBER = "amber"
    RED = "red"


@dataclass(frozen=True, slots=True)
class HealthReport:
    verdict: Verdict
    reasons: tuple[str, ...]
    uptime_s: float
    camera: CameraHealth
    privacy: PrivacyState
    stages: tuple[StageStatsSnapshot, ...]
    uplink: UplinkState
    storage: StorageState | None
    recorder: RecorderState | None
    recording_error: str
    system: SystemMetrics
    anpr: dict[str, Any] = dataclasses.field(default_factory=lambda: {"state": "off"})
    """The ANPR stage's own JSON section (``edge.anpr.service``): state, models, capture rate, hotlists."""
    config: dict[str, Any] | None = None
    """The remote configuration override (``edge.config_override.OverrideStatus.to_json``)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict.value,
            "reasons": list(self.reasons),
            "uptime_s": round(self.uptime_s, 1),
            "camera": _plain(self.camera),
            "privacy": _plain(self.privacy),
            "stages": {s.name: _plain(s) for s in self.stages},
            "uplink": _plain(self.uplink),
            "recording": {
                "enabled": self.storage is not None or bool(self.recording_error),
                "error": self.recording_error,
                "storage": None if self.storage is None else _plain(self.storage),
                "recorder": None if self.recorder is None else _plain(self.recorder),
            },
            "system": _plain(self.system),
            "anpr": self.anpr,
            **({} if self.config is None else {"config": self.config}),
        }


def assess(
    *,
    uptime_s: float,
    camera: CameraHealth,
    privacy: PrivacyState,
    stages: Sequence[StageStatsSnapshot],
    uplink: UplinkState,
    storage: StorageState | None,
    recorder: RecorderState | None,
    recording_error: str,
    system: SystemMetrics,
    stall_after_s: float,
    anpr: dict[str, Any] | None = None,
    config: dict[str, Any] | None = None,
) -> HealthReport:
    """Turn the parts' states into a green / amber / red verdict with human-readable reasons."""
    red: list[str] = []
    amber: list[str] = []
    _camera_and_privacy(camera, privacy, red, amber)
    _stages(stages, stall_after_s, red, amber)
    _recording(storage, recorder, recording_error, red, amber)
    anpr_doc = anpr if anpr is not None else {"state": "off"}
    _anpr(anpr_doc, amber)
    if config is not None and config.get("override_error"):
        amber.append(f"configuration override refused, running on the YAML alone: {config['override_error']}")
    if not uplink.connected:
        amber.append(f"broker {uplink.broker} unreachable: {uplink.last_error or 'connecting'}")
    if system.disk_used_share is not None and system.disk_used_share > 0.95:
        amber.append(f"disk {system.disk_used_share:.0%} full")
    verdict = Verdict.RED if red else Verdict.AMBER if amber else Verdict.GREEN
    return HealthReport(
        verdict=verdict,
        reasons=tuple(red + amber),
        uptime_s=uptime_s,
        camera=camera,
        privacy=privacy,
        stages=tuple(stages),
        uplink=uplink,
        storage=storage,
        recorder=recorder,
        recording_error=recording_error,
        system=system,
        anpr=anpr_doc,
        config=config,
    )


def _camera_and_privacy(
    camera: CameraHealth, privacy: PrivacyState, red: list[str], amber: list[str]
) -> None:
    if camera.state is not CameraState.STREAMING:
        (red if camera.state is CameraState.LOST else amber).append(
            f"camera {camera.state}: {camera.reason}".rstrip(": ")
        )
    if privacy.mode is PrivacyMode.FAIL_CLOSED:
        red.append(f"privacy fail-closed: {privacy.reason}")
    elif privacy.mode is PrivacyMode.OFF:
        amber.append(privacy.reason)
    elif privacy.warning:
        amber.append(f"privacy: {privacy.warning}")


def _stages(
    stages: Sequence[StageStatsSnapshot], stall_after_s: float, red: list[str], amber: list[str]
) -> None:
    for stage in stages:
        if stage.heartbeat_age_s is not None and stage.heartbeat_age_s > stall_after_s:
            red.append(f"stage {stage.name} stalled for {stage.heartbeat_age_s:.0f} s")
        if stage.policy == "every" and stage.dropped:
            red.append(f"stage {stage.name} could not keep up and lost {stage.dropped} frames")
        if stage.errors:
            amber.append(f"stage {stage.name} had {stage.errors} errors")


def _recording(
    storage: StorageState | None, recorder: RecorderState | None, error: str, red: list[str], amber: list[str]
) -> None:
    if error:
        red.append(f"recording disabled: {error}")
    if storage is not None:
        if storage.segments_dropped or storage.purged_held:
            red.append(f"recording lost footage: {storage.last_alarm or 'segments dropped'}")
        elif storage.alarms:
            amber.append(f"storage alarm: {storage.last_alarm}")
        if storage.reconcile.repairs:
            amber.append(f"storage repaired {storage.reconcile.repairs} files after an unclean stop")
    if recorder is not None and recorder.frames_lost:
        amber.append(f"recorder lost {recorder.frames_lost} frames")


def _anpr(anpr: dict[str, Any], amber: list[str]) -> None:
    # Enabled but not reading plates is never green; recording and everything else carry on regardless.
    if anpr.get("state") == "disabled":
        amber.append(f"anpr disabled: {anpr.get('reason') or 'unknown reason'}")
    hotlists = anpr.get("hotlists") or {}
    if hotlists.get("error"):
        amber.append(f"anpr: {hotlists['error']}")


def _plain(obj: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if isinstance(value, enum.Enum):
            value = value.value
        elif isinstance(value, float):
            value = round(value, 3)
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            value = _plain(value)
        elif isinstance(value, tuple):
            value = list(value)
        out[f.name] = value
    return out
