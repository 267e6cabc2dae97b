"""Wiring: builds the stages from the configuration, starts them, and stops them. No logic of its own.

camera ──> CameraSupervisor ("capture" thread)
             └─ PrivacyStage.process  (same thread; the only producer of MaskedFrame)
                  └─ FanOut ──> ConsumerStage "preview" (latest frame)
                                ConsumerStage "recorder" (every frame; when storage.enabled)
                                ConsumerStage "anpr" (latest frame, at most anpr.max_fps; when anpr.enabled)
                                  └─ anpr/read, anpr/hit (police) or lez/read, lez/evidence (lez) (outbox)
                                  └─ "anpr-clips" thread: a hit's event clip once recorded ──> clip/<id>/...
Periodic "health"   ──> Uplink.send(cams/<id>/health)  (outbox, coalesced)
privacy events      ──> Uplink.send(cams/<id>/event/<kind>)  (outbox)
Uplink: "uplink-sender" thread feeds paho from the durable outbox (<state_dir>/outbox.sqlite)
cams/<id>/cmd ──> CommandService ("commands" thread) ──> cmd/result, clip/<id>/... (outbox)
AuditLog (<state_dir>/audit.jsonl) <── storage, privacy changes, commands ──> audit (outbox)
Periodic "watchdog" ──> systemd WATCHDOG=1 while frames flow
Periodic "retention" ──> SegmentStore.enforce_retention (age, quota, holds)
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from edge.anpr.factory import Anpr, build_anpr, off_health
from edge.audit import AuditLog
from edge.capture import open_source
from edge.capture.supervisor import CameraSupervisor, backoff_from_config
from edge.clock import Clock, SystemClock
from edge.commands.config_update import ConfigUpdater, plain_layers
from edge.commands.factory import build_command_service, load_audit_key
from edge.config import EdgeConfig, LoadedConfig, load_config_layers
from edge.diagnostics.health import HealthReport, assess
from edge.diagnostics.preview import PreviewConsumer
from edge.diagnostics.system import read_system_metrics
from edge.diagnostics.web.node_view import EventRing, NodeDiagnostics
from edge.diagnostics.web.view import AuditRecord
from edge.errors import ConfigError, UplinkError
from edge.pipeline import ConsumerStage, FanOut, QueuePolicy, StageStats
from edge.pipeline.periodic import Periodic
from edge.privacy import PrivacyStage
from edge.privacy.events import PrivacyEvent, event_body
from edge.sdnotify import SystemdNotifier
from edge.storage.errors import StorageError
from edge.storage.factory import Recording, load_device_key, open_recording
from edge.storage.model import StorageAlarm, StorageEvent
from edge.types import Frame
from edge.uplink import Uplink
from edge.uplink.outbox import Priority
from edge.uplink.payloads import event_doc, health_doc

if TYPE_CHECKING:
    from edge.diagnostics.web.server import DiagnosticsServer

log = logging.getLogger(__name__)

_SHUTDOWN_BUDGET_S = 5.0


class Node:
    """One camera node: every stage, started and stopped together around one stop event."""

    def __init__(
        self,
        config: EdgeConfig,
        clock: Clock | None = None,
        notifier: SystemdNotifier | None = None,
        layers: LoadedConfig | None = None,
    ) -> None:
        self.config = config
        self.clock = clock or SystemClock()
        self.stop_event = threading.Event()
        self.notifier = notifier or SystemdNotifier()
        self._started_mono_ns = self.clock.monotonic_ns()
        self._started_monotonic_s = time.monotonic()
        self.diagnostics_events = EventRing()  # before the privacy stage, which may raise an event at once

        self.uplink = Uplink(
            config.mqtt, config.node.id, self.clock, outbox_path=config.node.state_dir / "outbox.sqlite"
        )
        self.exit_code = 0
        self.audit = AuditLog(
            config.node.state_dir / "audit.jsonl",
            config.node.id,
            load_audit_key(config),
            self.clock.time_ns,
            sink=self._send_audit,
        )
        self.privacy = PrivacyStage(
            config.privacy, state_dir=config.node.state_dir, on_event=self._on_privacy_event, clock=self.clock
        )
        self.privacy_stats = StageStats("privacy", self.clock)
        self.preview = PreviewConsumer()
        stages = [ConsumerStage("preview", self.preview, QueuePolicy.LATEST, self.stop_event, self.clock)]
        self.recording: Recording | None = None
        self.recording_error = ""
        self._retention: Periodic | None = None
        if config.storage.enabled:
            try:
                self.recording = open_recording(
                    config, self.clock, audit=self._on_storage_audit, alarm=_log_alarm
                )
            except StorageError as exc:
                # Recording is down, everything else goes on; health says why in red.
                self.recording_error = str(exc)
                log.error("recording disabled: %s", exc)  # noqa: TRY400 - the message says it all
        if self.recording is not None:
            stages.append(
                ConsumerStage(
                    "recorder",
                    self.recording.recorder,
                    QueuePolicy.EVERY,
                    self.stop_event,
                    self.clock,
                    capacity=config.pipeline.recorder_queue_frames,
                )
            )
            self._retention = Periodic(
                "retention",
                config.storage.retention_check_interval_s,
                self.stop_event,
                self.recording.store.enforce_retention,
            )
        self.anpr: Anpr | None = None
        if config.anpr.enabled:
            self.anpr = self._build_anpr()
            stages.append(
                ConsumerStage("anpr", self.anpr.consumer, QueuePolicy.LATEST, self.stop_event, self.clock)
            )
        self.fanout = FanOut(stages)
        initial_s, max_s = backoff_from_config(config.camera)
        self.camera = CameraSupervisor(
            open_source(config.camera, self.clock),
            on_frame=self._on_frame,
            stop=self.stop_event,
            clock=self.clock,
            initial_s=initial_s,
            max_s=max_s,
        )
        # set_config: changes checked against the YAML + override layers, some applied at once.
        self.config_updater = ConfigUpdater(layers or plain_layers(config), self.audit, self.clock.time_ns)
        self.config_updater.add_live(
            ["logging.level"], lambda c: logging.getLogger().setLevel(c.logging.level)
        )
        self.config_updater.add_live(
            ["mqtt.health_interval_s"], lambda c: self._health.set_period(c.mqtt.health_interval_s)
        )
        if self._retention is not None:
            retention = self._retention
            self.config_updater.add_live(
                ["storage.retention_check_interval_s"],
                lambda c: retention.set_period(c.storage.retention_check_interval_s),
            )
        self.commands = build_command_service(
            config,
            clock=self.clock,
            uplink=self.uplink,
            audit=self.audit,
            health=lambda: self.health().to_json(),
            preview=self.preview,
            privacy=self.privacy,
            store=None if self.recording is None else self.recording.store,
            request_restart=self.request_restart,
            stop=self.stop_event,
            hotlists=None if self.anpr is None else self.anpr.hotlists,
            config_updater=self.config_updater,
        )
        self._health = Periodic("health", config.mqtt.health_interval_s, self.stop_event, self.publish_health)
        watchdog_s = self.notifier.watchdog_interval_s()
        self._watchdog = Periodic("watchdog", (watchdog_s or 10.0) / 2, self.stop_event, self._feed_watchdog)
        self.diagnostics: DiagnosticsServer | None = None
        if config.diagnostics.enabled:
            from edge.diagnostics.web.server import DiagnosticsServer  # Starlette/uvicorn only when enabled

            self.diagnostics = DiagnosticsServer(
                config.diagnostics,
                NodeDiagnostics(self, self.diagnostics_events),
                self.stop_event,
                on_audit=self._on_diagnostics_audit,
                clock=self.clock,
            )

    def _build_anpr(self) -> Anpr:
        config = self.config
        if self.recording is not None:
            off_reason = ""
        elif self.recording_error:
            off_reason = f"recording disabled: {self.recording_error}"
        else:
            off_reason = "recording is off on this node"
        return build_anpr(
            config,
            clock=self.clock,
            topics=self.uplink.topics,
            send=self.uplink.send,
            send_clip=self._send_clip,
            audit=self.audit.append,
            masks=self.privacy.applied_masks,
            store=None if self.recording is None else self.recording.store,
            recording_off_reason=off_reason,
            device_key=lambda: load_device_key(config.storage),
            stop=self.stop_event,
        )

    def _send_clip(self, suffix: str, body: dict[str, Any]) -> None:
        self.uplink.send("clip", self.uplink.topics.clip(suffix), body, Priority.CLIP)

    # capture thread
    def _on_frame(self, frame: Frame) -> None:
        masked = self.privacy.process(frame)
        self.privacy_stats.processed(frame.monotonic_ns)
        if masked is not None:
            self.fanout.publish(masked)

    def _on_diagnostics_audit(self, record: AuditRecord) -> None:
        # A request thread of the diagnostics page: every login, failed login and action.
        self.audit.append(
            actor=record.actor,
            action=f"diagnostics.{record.action}",
            detail=f"{record.outcome} from {record.remote}" + (f": {record.detail}" if record.detail else ""),
        )

    def _on_privacy_event(self, event: PrivacyEvent) -> None:
        self.diagnostics_events.add_privacy(event)
        # Capture or command thread: send() writes to the durable outbox and never waits for the network.
        log.warning("privacy %s: %s", event.kind, event.cause)
        body = event_doc(self.config.node.id, event.ts_ns, event_body(event))
        self.uplink.send("event", self.uplink.topics.event(event.kind), body, Priority.EVENT)
        if event.actor:  # a change someone asked for (masks, reference view, approval): audited
            self.audit.append(
                actor=event.actor,
                action=f"privacy.{event.kind}",
                detail=f"{event.cause} mask_id={event.mask_id}",
            )

    def _on_storage_audit(self, event: StorageEvent) -> None:
        segments = f" segments={len(event.segment_ids)}" if event.segment_ids else ""
        self.audit.append(
            actor=event.actor,
            action=f"storage.{event.kind.value}",
            detail=f"{event.detail}{segments}",
            start_ns=event.start_ns,
            end_ns=event.end_ns,
        )

    def _send_audit(self, entry: dict[str, Any]) -> None:
        self.uplink.send("audit", self.uplink.topics.audit, entry, Priority.EVENT)

    def request_restart(self, exit_code: int) -> None:
        """A ``restart`` command: stop cleanly and exit with ``exit_code`` so systemd starts us again."""
        log.warning("restart requested; exiting with code %d", exit_code)
        self.exit_code = exit_code
        self.stop_event.set()

    def frames_flowing(self) -> bool:
        """True when the privacy stage finished a frame recently (masked or deliberately blocked)."""
        age = self.privacy_stats.snapshot().heartbeat_age_s
        return age is not None and age <= self.config.pipeline.stall_after_s

    def health(self) -> HealthReport:
        return assess(
            uptime_s=(self.clock.monotonic_ns() - self._started_mono_ns) / 1e9,
            camera=self.camera.health(),
            privacy=self.privacy.state(),
            stages=[self.privacy_stats.snapshot(), *(s.snapshot() for s in self.fanout.stages)],
            uplink=self.uplink.state(),
            storage=None if self.recording is None else self.recording.store.state(),
            recorder=None if self.recording is None else self.recording.recorder.state(),
            recording_error=self.recording_error,
            system=read_system_metrics(
                self.config.node.state_dir, started_monotonic_s=self._started_monotonic_s
            ),
            stall_after_s=self.config.pipeline.stall_after_s,
            anpr=off_health() if self.anpr is None else self.anpr.health(),
            config=self.config_updater.status().to_json(),
        )

    def publish_health(self) -> None:
        report = self.health()
        body = health_doc(self.config.node.id, self.clock.time_ns(), report.to_json())
        # Only the newest health report is worth keeping while the broker is away.
        self.uplink.send("health", self.uplink.topics.health, body, Priority.HEALTH, coalesce=True)
        self.notifier.status(f"{report.verdict.value}: {'; '.join(report.reasons) or 'all stages running'}")

    def _feed_watchdog(self) -> None:
        # Fed only while frames flow: a wedged camera driver or a stuck stage makes systemd restart us.
        if self.frames_flowing():
            self.notifier.watchdog()

    def start(self) -> None:
        log.info("starting node %s (camera %s)", self.config.node.id, self.camera.source_name)
        self.uplink.start()
        self.commands.start()
        for stage in self.fanout.stages:
            stage.start()
        if self.anpr is not None:
            self.anpr.start()
        self.camera.start()
        self._health.start()
        self._watchdog.start()
        if self.diagnostics is not None:
            self.diagnostics.start()  # False (logged) when it cannot listen: the node runs on without it
        if self._retention is not None:
            self._retention.start()
        # READY does not wait for the camera: a camera missing at boot is a health state, not a failed start.
        self.notifier.ready()

    def shutdown(self) -> None:
        """Stop every thread within the shutdown budget, then say goodbye on MQTT."""
        self.stop_event.set()
        self.notifier.stopping()
        deadline = time.monotonic() + _SHUTDOWN_BUDGET_S
        joins: list[tuple[str, Callable[[float], bool]]] = [
            ("commands", self.commands.join),
            ("capture", self.camera.join),
            *((s.name, s.join) for s in self.fanout.stages),
            ("health", self._health.join),
            ("watchdog", self._watchdog.join),
        ]
        if self._retention is not None:
            joins.append(("retention", self._retention.join))
        if self.anpr is not None:
            joins.append(("anpr-clips", self.anpr.join))
        if self.diagnostics is not None:
            joins.append(("diagnostics", self.diagnostics.join))
        for name, join in joins:
            if not join(max(0.1, deadline - time.monotonic())):
                log.error("thread %s did not stop in time", name)
        self.commands.close()
        if self.recording is not None:
            self.recording.store.close()
        self.uplink.stop()
        log.info("node %s stopped", self.config.node.id)


def _log_alarm(alarm: StorageAlarm) -> None:
    log.error("storage alarm: %s", alarm)


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s",
    )


def run_node(config_path: Path) -> int:
    """Run until SIGTERM, SIGINT or a ``restart`` command. Exit 0 on a clean stop, 2 on a bad configuration,
    75 after a ``restart`` command (systemd's ``Restart=on-failure`` then starts the node again)."""
    try:
        layers = load_config_layers(config_path)
    except ConfigError as exc:
        print(f"{config_path}: invalid configuration\n{exc}", file=sys.stderr)
        return 2
    config = layers.config
    _configure_logging(config.logging.level)
    if layers.override.error:
        # Refused as a whole; the file stays for a technician, and health stays amber until it is fixed.
        log.error(
            "configuration override refused, running on %s alone: %s", config_path, layers.override.error
        )
    elif layers.override.active:
        log.warning(
            "configuration override %s in force over %s: %s",
            layers.override.path,
            config_path,
            ", ".join(f"{k}={v}" for k, v in sorted(layers.override.values.items())),
        )
    try:
        node = Node(config, layers=layers)
    except UplinkError as exc:
        # e.g. unreadable TLS files: exit non-zero so systemd retries (a credential may appear later).
        log.critical("cannot start: %s", exc)
        return 1
    stop = node.stop_event

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s, stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    node.start()
    while not stop.wait(1.0):
        pass
    node.shutdown()
    return node.exit_code
