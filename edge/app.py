"""Wiring: builds the stages from the configuration, starts them, and stops them. No logic of its own.

camera ──> CameraSupervisor ("capture" thread)
             └─ PrivacyStage.process  (same thread; the only producer of MaskedFrame)
                  └─ FanOut ──> ConsumerStage "preview" (latest frame)
                                ConsumerStage "recorder" (every frame; when storage.enabled)
                                (ANPR: latest frame — as it lands)
Periodic "health"   ──> Uplink.publish(cams/<id>/health)
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

from edge.capture import open_source
from edge.capture.supervisor import CameraSupervisor, backoff_from_config
from edge.clock import Clock, SystemClock
from edge.config import EdgeConfig, load_config
from edge.diagnostics.health import HealthReport, assess
from edge.diagnostics.preview import PreviewConsumer
from edge.diagnostics.system import read_system_metrics
from edge.errors import ConfigError
from edge.pipeline import ConsumerStage, FanOut, QueuePolicy, StageStats
from edge.pipeline.periodic import Periodic
from edge.privacy import PrivacyStage
from edge.privacy.events import PrivacyEvent, event_body
from edge.sdnotify import SystemdNotifier
from edge.storage.errors import StorageError
from edge.storage.factory import Recording, open_recording
from edge.storage.model import StorageAlarm, StorageEvent
from edge.types import Frame
from edge.uplink import Uplink
from edge.uplink.payloads import event_payload, health_payload

log = logging.getLogger(__name__)

_SHUTDOWN_BUDGET_S = 5.0


class Node:
    """One camera node: every stage, started and stopped together around one stop event."""

    def __init__(
        self, config: EdgeConfig, clock: Clock | None = None, notifier: SystemdNotifier | None = None
    ) -> None:
        self.config = config
        self.clock = clock or SystemClock()
        self.stop_event = threading.Event()
        self.notifier = notifier or SystemdNotifier()
        self._started_mono_ns = self.clock.monotonic_ns()
        self._started_monotonic_s = time.monotonic()

        self.uplink = Uplink(config.mqtt, config.node.id, self.clock)
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
                self.recording = open_recording(config, self.clock, audit=_log_audit, alarm=_log_alarm)
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
        self._health = Periodic("health", config.mqtt.health_interval_s, self.stop_event, self.publish_health)
        watchdog_s = self.notifier.watchdog_interval_s()
        self._watchdog = Periodic("watchdog", (watchdog_s or 10.0) / 2, self.stop_event, self._feed_watchdog)

    # capture thread
    def _on_frame(self, frame: Frame) -> None:
        masked = self.privacy.process(frame)
        self.privacy_stats.processed(frame.monotonic_ns)
        if masked is not None:
            self.fanout.publish(masked)

    def _on_privacy_event(self, event: PrivacyEvent) -> None:
        # Capture or command thread: publish() only hands the message to the MQTT client and never blocks.
        # Held in memory while the broker is unreachable (lost on restart until the durable outbox lands);
        # the state it reports (tamper, fail-closed) also stays in every health message.
        log.warning("privacy %s: %s", event.kind, event.cause)
        body = event_payload(self.config.node.id, event.ts_ns, event_body(event))
        self.uplink.publish(self.uplink.topics.event(event.kind), body, qos=1, hold_offline=True)

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
        )

    def publish_health(self) -> None:
        report = self.health()
        body = health_payload(self.config.node.id, self.clock.time_ns(), report.to_json())
        self.uplink.publish(self.uplink.topics.health, body, qos=1)
        self.notifier.status(f"{report.verdict.value}: {'; '.join(report.reasons) or 'all stages running'}")

    def _feed_watchdog(self) -> None:
        # Fed only while frames flow: a wedged camera driver or a stuck stage makes systemd restart us.
        if self.frames_flowing():
            self.notifier.watchdog()

    def start(self) -> None:
        log.info("starting node %s (camera %s)", self.config.node.id, self.camera.source_name)
        self.uplink.start()
        for stage in self.fanout.stages:
            stage.start()
        self.camera.start()
        self._health.start()
        self._watchdog.start()
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
            ("capture", self.camera.join),
            *((s.name, s.join) for s in self.fanout.stages),
            ("health", self._health.join),
            ("watchdog", self._watchdog.join),
        ]
        if self._retention is not None:
            joins.append(("retention", self._retention.join))
        for name, join in joins:
            if not join(max(0.1, deadline - time.monotonic())):
                log.error("thread %s did not stop in time", name)
        if self.recording is not None:
            self.recording.store.close()
        self.uplink.stop()
        log.info("node %s stopped", self.config.node.id)


def _log_audit(event: StorageEvent) -> None:
    # Until the hash-chained audit log lands, storage's audit records go to the journal.
    log.info("audit: %s", event)


def _log_alarm(alarm: StorageAlarm) -> None:
    log.error("storage alarm: %s", alarm)


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s",
    )


def run_node(config_path: Path) -> int:
    """Run until SIGTERM or SIGINT. Exit 0 on a clean stop, 2 on a bad configuration."""
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        print(f"{config_path}: invalid configuration\n{exc}", file=sys.stderr)
        return 2
    _configure_logging(config.logging.level)
    node = Node(config)
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
    return 0
