"""Host metrics, checked against independent sources (statvfs, /proc, psutil) and a fake sysfs tree."""

from __future__ import annotations

import dataclasses
import mmap
import os
import time
from pathlib import Path

import psutil
import pytest

from edge.diagnostics import SystemMetrics, read_cpu_temperature_c, read_system_metrics

MiB = 1024 * 1024


def _sample(state_dir: Path, **kwargs: Path) -> SystemMetrics:
    return read_system_metrics(state_dir, started_monotonic_s=time.monotonic(), **kwargs)


# ------------------------------------------------------------------------------------------- disk


def test_disk_matches_statvfs(tmp_path: Path) -> None:
    metrics = _sample(tmp_path)
    st = os.statvfs(tmp_path)
    assert metrics.disk_total_bytes == st.f_blocks * st.f_frsize
    # Other processes write to the same disk meanwhile; allow some slack but not a different filesystem.
    assert metrics.disk_free_bytes == pytest.approx(st.f_bavail * st.f_frsize, abs=64 * MiB)
    assert metrics.disk_used_bytes == pytest.approx((st.f_blocks - st.f_bfree) * st.f_frsize, abs=64 * MiB)
    expected_share = metrics.disk_used_bytes / (metrics.disk_used_bytes + metrics.disk_free_bytes)
    assert metrics.disk_used_share == pytest.approx(expected_share)
    assert 0.0 <= metrics.disk_used_share <= 1.0


def test_missing_state_dir_measures_the_filesystem_that_will_hold_it(tmp_path: Path) -> None:
    missing = tmp_path / "not" / "created" / "yet"
    assert not missing.exists()
    assert _sample(missing).disk_total_bytes == _sample(tmp_path).disk_total_bytes
    assert not missing.exists(), "measuring must not create the directory"


def test_relative_state_dir_is_taken_from_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert _sample(Path("state")).disk_total_bytes == _sample(tmp_path).disk_total_bytes


def test_state_dir_on_another_filesystem_is_measured_there(tmp_path: Path) -> None:
    shm = Path("/dev/shm")
    if not shm.is_dir() or os.statvfs(shm).f_fsid == os.statvfs(tmp_path).f_fsid:
        pytest.skip("needs /dev/shm on a separate filesystem")
    st = os.statvfs(shm)
    assert _sample(shm / "edge-missing").disk_total_bytes == st.f_blocks * st.f_frsize


# ------------------------------------------------------------------------------- time and load


def test_process_uptime_counts_from_the_given_start(tmp_path: Path) -> None:
    metrics = read_system_metrics(tmp_path, started_monotonic_s=time.monotonic() - 5.0)
    assert 5.0 <= metrics.process_uptime_s < 6.0


def test_system_uptime_matches_proc(tmp_path: Path) -> None:
    before = float(Path("/proc/uptime").read_text().split()[0])
    metrics = _sample(tmp_path)
    after = float(Path("/proc/uptime").read_text().split()[0])
    assert metrics.system_uptime_s is not None
    assert before <= metrics.system_uptime_s <= after


def test_load_average_matches_proc(tmp_path: Path) -> None:
    before = [float(v) for v in Path("/proc/loadavg").read_text().split()[:3]]
    metrics = _sample(tmp_path)
    after = [float(v) for v in Path("/proc/loadavg").read_text().split()[:3]]
    got = [metrics.load_avg_1m, metrics.load_avg_5m, metrics.load_avg_15m]
    # The kernel updates the averages every 5 s; the sample is the value before or after an update.
    for value, lo, hi in zip(got, before, after, strict=True):
        assert value is not None
        assert min(lo, hi) - 0.01 <= value <= max(lo, hi) + 0.01


def test_load_average_unavailable_is_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def unavailable() -> tuple[float, float, float]:
        raise OSError("no load average")

    monkeypatch.setattr(os, "getloadavg", unavailable)
    metrics = _sample(tmp_path)
    assert (metrics.load_avg_1m, metrics.load_avg_5m, metrics.load_avg_15m) == (None, None, None)


# ----------------------------------------------------------------------------------- memory and CPU


def test_rss_matches_psutil_and_follows_allocation(tmp_path: Path) -> None:
    first = _sample(tmp_path)
    assert first.process_rss_bytes is not None
    assert first.process_rss_bytes == pytest.approx(psutil.Process().memory_info().rss, abs=4 * MiB)

    # An anonymous mapping of its own: fresh pages that become resident when written and leave when unmapped.
    # (A bytes object could be served from memory the allocator already holds, which moves no RSS at all.)
    ballast = mmap.mmap(-1, 64 * MiB)
    for offset in range(0, 64 * MiB, mmap.PAGESIZE):
        ballast[offset] = 1
    # The kernel's RSS counters are per-CPU and folded in lazily: in a long-lived process with many threads
    # the growth can show a moment late. Poll until it shows (or fail after a few seconds).
    deadline = time.monotonic() + 5
    while True:
        second = _sample(tmp_path)
        assert second.process_rss_bytes is not None
        if second.process_rss_bytes - first.process_rss_bytes >= 56 * MiB or time.monotonic() > deadline:
            break
    assert second.process_rss_bytes - first.process_rss_bytes >= 56 * MiB
    assert second.process_peak_rss_bytes >= second.process_rss_bytes
    ballast.close()

    deadline = time.monotonic() + 5
    while True:
        third = _sample(tmp_path)
        assert third.process_rss_bytes is not None
        if third.process_rss_bytes < second.process_rss_bytes - 48 * MiB or time.monotonic() > deadline:
            break
    assert third.process_rss_bytes < second.process_rss_bytes - 48 * MiB, "freed memory leaves RSS"
    # The peak remembers the ballast (the kernel's high-water mark is approximate to a few pages).
    assert third.process_peak_rss_bytes >= second.process_rss_bytes - 4 * MiB


def test_cpu_seconds_match_process_time(tmp_path: Path) -> None:
    before = time.process_time()
    first = _sample(tmp_path)
    deadline = time.process_time() + 0.2
    while time.process_time() < deadline:
        pass
    second = _sample(tmp_path)
    after = time.process_time()
    # getrusage and the CPU-time clock are accounted at slightly different granularity.
    assert before - 0.05 <= first.process_cpu_s <= second.process_cpu_s <= after + 0.05
    assert second.process_cpu_s - first.process_cpu_s >= 0.15


def test_fake_procfs_values_are_read(tmp_path: Path) -> None:
    proc = tmp_path / "proc"
    (proc / "self").mkdir(parents=True)
    (proc / "uptime").write_text("12345.67 40000.00\n")
    (proc / "self" / "statm").write_text("5000 1234 300 10 0 800 0\n")
    metrics = _sample(tmp_path, procfs_root=proc)
    assert metrics.system_uptime_s == 12345.67
    assert metrics.process_rss_bytes == 1234 * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.parametrize("content", [None, "", "garbage\n"])
def test_unreadable_procfs_gives_none(tmp_path: Path, content: str | None) -> None:
    proc = tmp_path / "proc"
    (proc / "self").mkdir(parents=True)
    if content is not None:
        (proc / "uptime").write_text(content)
        (proc / "self" / "statm").write_text(content)
    metrics = _sample(tmp_path, procfs_root=proc)
    assert metrics.system_uptime_s is None
    assert metrics.process_rss_bytes is None
    assert metrics.process_peak_rss_bytes > 0


# ------------------------------------------------------------------------------------ temperature


def _zone(sysfs: Path, index: int, zone_type: str, temp: str | None) -> None:
    zone = sysfs / "class" / "thermal" / f"thermal_zone{index}"
    zone.mkdir(parents=True)
    (zone / "type").write_text(zone_type + "\n")
    if temp is not None:
        (zone / "temp").write_text(temp + "\n")


def test_raspberry_pi_cpu_zone(tmp_path: Path) -> None:
    _zone(tmp_path, 0, "cpu-thermal", "47250")
    assert read_cpu_temperature_c(tmp_path) == 47.25
    assert _sample(tmp_path, sysfs_root=tmp_path).cpu_temp_c == 47.25


def test_non_cpu_zones_are_ignored(tmp_path: Path) -> None:
    _zone(tmp_path, 0, "acpitz", "90000")
    _zone(tmp_path, 1, "gpu-thermal", "95000")
    _zone(tmp_path, 2, "iwlwifi_1", "70000")
    _zone(tmp_path, 3, "x86_pkg_temp", "55000")
    assert read_cpu_temperature_c(tmp_path) == 55.0


def test_hottest_cpu_zone_is_reported(tmp_path: Path) -> None:
    _zone(tmp_path, 0, "soc-thermal", "50000")
    _zone(tmp_path, 2, "cpu0_thermal", "61500")
    _zone(tmp_path, 10, "CPU-therm", "58000")
    assert read_cpu_temperature_c(tmp_path) == 61.5


def test_broken_cpu_zones_are_skipped(tmp_path: Path) -> None:
    _zone(tmp_path, 0, "cpu-thermal", "-273150")  # a driver's "no reading"
    _zone(tmp_path, 1, "cpu_thermal", "n/a")
    _zone(tmp_path, 2, "cpu-thermal", None)
    (tmp_path / "class" / "thermal" / "thermal_zone2" / "temp").mkdir()  # read fails with OSError
    _zone(tmp_path, 3, "cpu1-thermal", "44000")
    assert read_cpu_temperature_c(tmp_path) == 44.0


@pytest.mark.parametrize(
    "zones",
    [
        [],
        [("acpitz", "45000")],
        [("cpu-thermal", "0")],
        [("cpu-thermal", None)],
        [("cpu-thermal", "200000")],
    ],
)
def test_no_usable_cpu_zone_gives_none(tmp_path: Path, zones: list[tuple[str, str | None]]) -> None:
    (tmp_path / "class" / "thermal").mkdir(parents=True)
    for index, (zone_type, temp) in enumerate(zones):
        _zone(tmp_path, index, zone_type, temp)
    assert read_cpu_temperature_c(tmp_path) is None


def test_missing_sysfs_gives_none(tmp_path: Path) -> None:
    assert read_cpu_temperature_c(tmp_path / "nothing") is None


# ------------------------------------------------------------------------------------------ shape


def test_metrics_are_frozen_and_slotted(tmp_path: Path) -> None:
    metrics = _sample(tmp_path)
    with pytest.raises(dataclasses.FrozenInstanceError):
        metrics.cpu_temp_c = 1.0  # type: ignore[misc]
    assert not hasattr(metrics, "__dict__")


def test_sampling_is_cheap(tmp_path: Path) -> None:
    start = time.perf_counter()
    for _ in range(100):
        _sample(tmp_path)
    # Typically well under a millisecond per sample; a generous bound that still catches a subprocess
    # or a sleep sneaking in.
    assert (time.perf_counter() - start) / 100 < 0.005
