"""Cheap host metrics for health reports: CPU temperature, disk, uptime, load, memory and CPU time.

Read every few seconds, so everything here is a handful of small reads from /proc and /sys plus one
``statvfs``; nothing spawns a process or needs psutil. A value that cannot be read is None, never a guess.
"""

from __future__ import annotations

import logging
import os
import re
import resource
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

SYSFS_ROOT = Path("/sys")
PROCFS_ROOT = Path("/proc")

# Thermal zone types that measure the CPU or the SoC it sits on, e.g. "cpu-thermal" (Raspberry Pi),
# "cpu_thermal" / "soc-thermal" (Rockchip, Allwinner), "CPU-therm" (Jetson), "x86_pkg_temp" (Intel
# package). Zones such as "acpitz", "gpu-thermal" or a Wi-Fi chip's are not the CPU and are not used.
_CPU_ZONE_TYPE = re.compile(r"cpu|soc|x86_pkg_temp", re.IGNORECASE)

# Some drivers report 0 or -273.15 °C for a sensor that is present but not working; no street cabinet
# is outside this range. Exactly 0 °C is taken as "no reading": a running SoC warms itself above ambient
# and sensors step in fractions of a degree, so a true 0.000 is far less likely than a dead sensor.
_PLAUSIBLE_TEMP_C = (-60.0, 150.0)


@dataclass(frozen=True, slots=True)
class SystemMetrics:
    """One sample of the host's health. Fields are None where the platform does not provide them."""

    cpu_temp_c: float | None
    """Hottest CPU/SoC thermal zone, degrees Celsius."""
    disk_total_bytes: int
    """Size of the filesystem holding the state directory."""
    disk_used_bytes: int
    disk_free_bytes: int
    """Free space this (unprivileged) process may use; excludes blocks reserved for root."""
    disk_used_share: float
    """used / (used + free), 0..1, as ``df`` reports Use%: 1.0 means the node can no longer write."""
    process_uptime_s: float
    system_uptime_s: float | None
    load_avg_1m: float | None
    load_avg_5m: float | None
    load_avg_15m: float | None
    process_rss_bytes: int | None
    """Resident memory now."""
    process_peak_rss_bytes: int
    """Highest resident memory since the process started."""
    process_cpu_s: float
    """User plus system CPU time of all threads since the process started."""


def read_system_metrics(
    state_dir: Path,
    *,
    started_monotonic_s: float,
    sysfs_root: Path = SYSFS_ROOT,
    procfs_root: Path = PROCFS_ROOT,
) -> SystemMetrics:
    """Sample the host. ``started_monotonic_s`` is ``time.monotonic()`` taken when the node started."""
    disk = shutil.disk_usage(_existing_ancestor(state_dir))
    load = _load_average()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    rss_bytes = _rss_bytes(procfs_root)
    # ru_maxrss is in KiB on Linux (bytes on macOS, which a node never runs). The kernel's RSS counters
    # are per-CPU approximations, so the peak can read a few pages below the current value; clamp.
    peak_rss_bytes = max(usage.ru_maxrss * 1024, rss_bytes or 0)
    return SystemMetrics(
        cpu_temp_c=read_cpu_temperature_c(sysfs_root),
        disk_total_bytes=disk.total,
        disk_used_bytes=disk.used,
        disk_free_bytes=disk.free,
        disk_used_share=disk.used / (disk.used + disk.free) if disk.used + disk.free else 0.0,
        process_uptime_s=max(0.0, time.monotonic() - started_monotonic_s),
        system_uptime_s=_system_uptime_s(procfs_root),
        load_avg_1m=load[0] if load else None,
        load_avg_5m=load[1] if load else None,
        load_avg_15m=load[2] if load else None,
        process_rss_bytes=rss_bytes,
        process_peak_rss_bytes=peak_rss_bytes,
        process_cpu_s=usage.ru_utime + usage.ru_stime,
    )


def read_cpu_temperature_c(sysfs_root: Path = SYSFS_ROOT) -> float | None:
    """The hottest readable CPU/SoC thermal zone in °C, or None when there is none.

    The hottest rather than the first, because throttling starts at the hottest zone.
    """
    readings = []
    for zone in sorted((sysfs_root / "class" / "thermal").glob("thermal_zone*")):
        zone_type = _read_text(zone / "type")
        if zone_type is None or not _CPU_ZONE_TYPE.search(zone_type):
            continue
        raw = _read_text(zone / "temp")
        try:
            temp_c = int(raw) / 1000 if raw is not None else None
        except ValueError:
            temp_c = None
        if temp_c and _PLAUSIBLE_TEMP_C[0] <= temp_c <= _PLAUSIBLE_TEMP_C[1]:
            readings.append(temp_c)
        else:
            log.debug("thermal zone %s (%s) gave no usable temperature: %r", zone.name, zone_type, raw)
    return max(readings) if readings else None


def _existing_ancestor(path: Path) -> Path:
    # The state directory may not exist before the first recording; the filesystem that will hold it does.
    candidate = Path(os.path.abspath(path))
    while not candidate.exists() and candidate != candidate.parent:
        candidate = candidate.parent
    return candidate


def _read_text(path: Path) -> str | None:
    # Disabled sensors fail on read with EINVAL/ENODATA rather than being absent.
    try:
        return path.read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        return None


def _load_average() -> tuple[float, float, float] | None:
    try:
        return os.getloadavg()
    except OSError:
        return None


def _system_uptime_s(procfs_root: Path) -> float | None:
    text = _read_text(procfs_root / "uptime")
    try:
        return float(text.split()[0]) if text else None
    except ValueError:
        return None


def _rss_bytes(procfs_root: Path) -> int | None:
    # statm's second field is resident pages; one read, no parsing of the much longer status file.
    text = _read_text(procfs_root / "self" / "statm")
    try:
        return int(text.split()[1]) * resource.getpagesize() if text else None
    except (ValueError, IndexError):
        return None
