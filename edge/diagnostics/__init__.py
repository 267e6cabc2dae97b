"""Diagnostics: measurements of the node and its host for health reports."""

from edge.diagnostics.system import SystemMetrics, read_cpu_temperature_c, read_system_metrics

__all__ = ["SystemMetrics", "read_cpu_temperature_c", "read_system_metrics"]
