"""``/metrics`` in Prometheus text format: the health report, read at scrape time.

No login: it holds counters and states, never pixels, plates or names, and it binds loopback by default.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from edge.diagnostics.health import Verdict
from edge.diagnostics.web.view import NodeView

log = logging.getLogger(__name__)


class HealthCollector(Collector):
    def __init__(self, view: NodeView) -> None:
        self._view = view

    def collect(self) -> Iterator[Metric]:
        report = self._view.health()
        verdict = GaugeMetricFamily("edge_health_verdict", "1 for the current verdict", labels=["verdict"])
        for v in Verdict:
            verdict.add_metric([v.value], 1.0 if report.verdict is v else 0.0)
        yield verdict
        yield GaugeMetricFamily("edge_uptime_seconds", "Node uptime", value=report.uptime_s)
        fps = GaugeMetricFamily("edge_stage_fps", "Frames per second per stage", labels=["stage"])
        processed = CounterMetricFamily("edge_stage_frames_processed", "Frames finished", labels=["stage"])
        dropped = CounterMetricFamily("edge_stage_frames_dropped", "Frames skipped or lost", labels=["stage"])
        errors = CounterMetricFamily("edge_stage_errors", "Errors per stage", labels=["stage"])
        latency = GaugeMetricFamily("edge_stage_latency_seconds", "Capture to processed", labels=["stage"])
        for s in report.stages:
            fps.add_metric([s.name], s.fps)
            processed.add_metric([s.name], s.processed)
            dropped.add_metric([s.name], s.dropped)
            errors.add_metric([s.name], s.errors)
            if s.latency_ms is not None:
                latency.add_metric([s.name], s.latency_ms / 1000)
        yield from (fps, processed, dropped, errors, latency)
        privacy = report.privacy
        mode = GaugeMetricFamily("edge_privacy_mode", "1 for the current privacy mode", labels=["mode"])
        mode.add_metric([privacy.mode.value], 1.0)
        yield mode
        yield GaugeMetricFamily(
            "edge_privacy_shift_share", "View shift against the reference", value=privacy.shift_share
        )
        yield GaugeMetricFamily(
            "edge_broker_connected", "1 when connected", value=float(report.uplink.connected)
        )
        yield CounterMetricFamily("edge_mqtt_published", "Messages published", value=report.uplink.published)
        system = report.system
        yield GaugeMetricFamily("edge_disk_used_ratio", "State filesystem use", value=system.disk_used_share)
        if system.cpu_temp_c is not None:
            yield GaugeMetricFamily(
                "edge_cpu_temperature_celsius", "CPU temperature", value=system.cpu_temp_c
            )
        if report.storage is not None:
            yield GaugeMetricFamily(
                "edge_storage_used_bytes", "Sealed segments", value=report.storage.used_bytes
            )
            yield GaugeMetricFamily("edge_storage_segments", "Segments kept", value=report.storage.segments)
            yield GaugeMetricFamily(
                "edge_storage_active_holds", "Legal holds", value=report.storage.active_holds
            )


class MetricsEndpoint:
    """prometheus-client's own small HTTP server, on a registry holding only this node's collector."""

    def __init__(self, view: NodeView, bind: str, port: int) -> None:
        self._registry = CollectorRegistry(auto_describe=False)
        self._registry.register(HealthCollector(view))
        self._bind, self._port = bind, port
        self._httpd: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> tuple[str, int]:
        self._httpd, self._thread = start_http_server(self._port, self._bind, self._registry)
        self._thread.name = "metrics"
        address = (self._bind, int(self._httpd.server_port))
        log.info("metrics on http://%s:%d/metrics", *address)
        return address

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(2.0)
