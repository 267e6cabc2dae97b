"""Self-tests and offline checks, shared by the diagnostics page and ``edge diag``.

Each check returns one ``CheckResult`` and never raises: a check that cannot run is itself a result.
"""

from __future__ import annotations

import enum
import logging
import os
import secrets
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge.config import EdgeConfig, MqttConfig

log = logging.getLogger(__name__)


class CheckStatus(enum.StrEnum):
    PASS = "pass"  # noqa: S105 - a check status, not a password
    WARN = "warn"
    FAIL = "fail"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    status: CheckStatus
    detail: str
    duration_ms: float = 0.0


def overall(results: Sequence[CheckResult]) -> str:
    """``red`` when any check failed, ``amber`` when any warned, else ``green``."""
    statuses = {r.status for r in results}
    if CheckStatus.FAIL in statuses:
        return "red"
    if CheckStatus.WARN in statuses:
        return "amber"
    return "green"


def _timed(name: str, started: float, status: CheckStatus, detail: str) -> CheckResult:
    return CheckResult(name, status, detail, round((time.monotonic() - started) * 1000, 1))


def check_frames(last_frame_age_s: float | None, stall_after_s: float) -> CheckResult:
    """Frames arrive: the newest masked frame is younger than the stall limit."""
    started = time.monotonic()
    if last_frame_age_s is None:
        return _timed("frames", started, CheckStatus.FAIL, "no masked frame has arrived yet")
    if last_frame_age_s > stall_after_s:
        return _timed("frames", started, CheckStatus.FAIL, f"last frame {last_frame_age_s:.1f} s ago")
    return _timed("frames", started, CheckStatus.PASS, f"last frame {last_frame_age_s * 1000:.0f} ms ago")


def check_broker_round_trip(config: MqttConfig, node_id: str, timeout_s: float) -> CheckResult:
    """A separate client on the configured broker: subscribe to a topic of our own, publish, receive."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    started = time.monotonic()
    nonce = secrets.token_hex(8)
    topic = f"{config.topic_prefix}/{node_id}/diag/selftest/{nonce}"
    subscribed = threading.Event()
    received = threading.Event()
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"edge-{node_id}-diag-{nonce}", protocol=mqtt.MQTTv311
    )

    def on_connect(c: mqtt.Client, _u: object, _f: object, reason: object, _p: object) -> None:
        if not getattr(reason, "is_failure", False):
            c.subscribe(topic, qos=1)

    def on_subscribe(_c: mqtt.Client, _u: object, _mid: int, _r: object, _p: object) -> None:
        subscribed.set()

    def on_message(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        if msg.payload == nonce.encode():
            received.set()

    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    broker = f"{config.host}:{config.port}"
    try:
        client.connect(config.host, config.port, keepalive=max(5, int(timeout_s) + 2))
    except (OSError, ValueError) as exc:
        return _timed("broker", started, CheckStatus.FAIL, f"{broker} unreachable: {exc}")
    client.loop_start()
    try:
        deadline = started + timeout_s
        if not subscribed.wait(max(0.0, deadline - time.monotonic())):
            return _timed("broker", started, CheckStatus.FAIL, f"{broker}: no subscription ack")
        client.publish(topic, nonce.encode(), qos=1)
        if not received.wait(max(0.0, deadline - time.monotonic())):
            return _timed("broker", started, CheckStatus.FAIL, f"{broker}: published but nothing came back")
        elapsed_ms = (time.monotonic() - started) * 1000
        return _timed("broker", started, CheckStatus.PASS, f"{broker}: round trip in {elapsed_ms:.0f} ms")
    finally:
        client.disconnect()
        client.loop_stop()


def check_disk(state_dir: Path) -> CheckResult:
    """Write, sync, read back and remove a small file in the state directory."""
    started = time.monotonic()
    probe = state_dir / f".diag-{secrets.token_hex(6)}"
    payload = secrets.token_bytes(4096)
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        with probe.open("wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        ok = probe.read_bytes() == payload
    except OSError as exc:
        return _timed("disk", started, CheckStatus.FAIL, f"{state_dir}: {exc.strerror or exc}")
    finally:
        probe.unlink(missing_ok=True)
    if not ok:
        return _timed("disk", started, CheckStatus.FAIL, f"{state_dir}: read back differs")
    return _timed("disk", started, CheckStatus.PASS, f"{state_dir}: 4 KiB written, synced and read back")


def check_models(anpr: dict[str, Any] | None = None) -> CheckResult:
    """The ANPR models as the running stage reports them (its health section); skipped when ANPR is off."""
    doc = anpr or {}
    state = doc.get("state", "off")
    if state == "running":
        return CheckResult("model", CheckStatus.PASS, f"{doc.get('model_version')} on {doc.get('runtime')}")
    if state == "disabled":
        return CheckResult("model", CheckStatus.FAIL, f"ANPR disabled: {doc.get('reason')}")
    if state == "starting":
        return CheckResult("model", CheckStatus.WARN, "the models load with the first frame")
    return CheckResult("model", CheckStatus.SKIPPED, "skipped: ANPR is off")


def check_model_files(config: EdgeConfig) -> CheckResult:
    """Offline (``edge diag`` without a running node): the configured models verify against the manifest and
    load in the installed TFLite runtime, as the ANPR stage would load them."""
    from edge.anpr.manifest import default_models_dir, model_file
    from edge.anpr.runtime import ModelError, TFLiteModel, find_runtime

    if not config.anpr.enabled:
        return CheckResult("model", CheckStatus.SKIPPED, "skipped: ANPR is off in the configuration")
    started = time.monotonic()
    folder = config.anpr.models_dir or default_models_dir()
    try:
        runtime, _ = find_runtime()
        versions = []
        for name in ("detector", "reader"):
            entry = model_file(folder, name, config.anpr.precision)
            TFLiteModel(entry.verified_bytes(), threads=1, name=name)
            versions.append(entry.version)
    except ModelError as exc:
        return _timed("model", started, CheckStatus.FAIL, f"ANPR would be disabled: {exc}")
    detail = f"{' + '.join(versions)} ({config.anpr.precision}) on {runtime.name} {runtime.version}"
    return _timed("model", started, CheckStatus.PASS, detail)


def check_camera_open(config: EdgeConfig) -> CheckResult:
    """Open the configured camera, read one frame, close it (the node service must not hold it)."""
    from edge.capture import open_source
    from edge.clock import SystemClock
    from edge.errors import EdgeError

    started = time.monotonic()
    source = open_source(config.camera, SystemClock())
    try:
        source.open()
        frame = source.read()
    except EdgeError as exc:
        return _timed("camera", started, CheckStatus.FAIL, f"{source.name}: {exc}")
    except Exception as exc:  # noqa: BLE001 - a vendor driver may raise anything; that is the result
        return _timed("camera", started, CheckStatus.FAIL, f"{source.name}: {type(exc).__name__}: {exc}")
    finally:
        source.close()
    return _timed("camera", started, CheckStatus.PASS, f"{source.name}: {frame.width}x{frame.height}")


def check_technicians(path: Path) -> CheckResult:
    """The technicians file exists and parses (only when the page is enabled)."""
    from edge.provision.technicians import parse_technicians

    started = time.monotonic()
    try:
        names = parse_technicians(path.read_text(encoding="utf-8"))
    except OSError as exc:
        return _timed("technicians", started, CheckStatus.FAIL, f"{path}: {exc.strerror or exc}")
    except ValueError as exc:
        return _timed("technicians", started, CheckStatus.FAIL, f"{path}: {exc}")
    if not names:
        return _timed("technicians", started, CheckStatus.WARN, f"{path}: no technician can log in")
    return _timed("technicians", started, CheckStatus.PASS, f"{len(names)} technician(s)")
