"""``edge diag``: the node's checks as a console report, with or without the node running.

It reads the node's configuration and checks what can be checked from outside: the configuration itself,
the state directory (write and read back), the broker (a publish/subscribe round trip), the camera (opened
briefly and one frame read; a running node may hold it, which is reported, not hidden), the technicians
file when the page is enabled, and time sync. Exit status: 0 green, 1 amber, 2 red.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TextIO

from edge.diagnostics.checks import (
    CheckResult,
    CheckStatus,
    check_broker_round_trip,
    check_camera_open,
    check_disk,
    check_model_files,
    check_technicians,
    overall,
)
from edge.diagnostics.timesync import read_time_sync
from edge.errors import ConfigError

_EXIT = {"green": 0, "amber": 1, "red": 2}
_COLOURS = {
    CheckStatus.PASS: "\033[32m",
    CheckStatus.WARN: "\033[33m",
    CheckStatus.SKIPPED: "\033[33m",
    CheckStatus.FAIL: "\033[31m",
}
_VERDICT_COLOURS = {"green": "\033[1;32m", "amber": "\033[1;33m", "red": "\033[1;31m"}
_RESET = "\033[0m"


def run_checks(config_path: Path, timeout_s: float = 3.0) -> tuple[CheckResult, ...]:
    from edge.config import load_config

    try:
        config = load_config(config_path)
    except ConfigError as exc:
        return (CheckResult("config", CheckStatus.FAIL, " / ".join(str(exc).splitlines())),)
    results = [
        CheckResult("config", CheckStatus.PASS, f"{config_path}: node {config.node.id}"),
        check_disk(config.node.state_dir),
        check_broker_round_trip(config.mqtt, config.node.id, timeout_s),
        check_camera_open(config),
    ]
    if config.diagnostics.enabled:
        results.append(check_technicians(config.diagnostics.technicians_file))
    sync = read_time_sync()
    results.append(
        CheckResult(
            "time sync",
            CheckStatus.PASS if sync.state == "synchronized" else CheckStatus.WARN,
            f"{sync.state} ({sync.source})",
        )
    )
    results.append(check_model_files(config))
    return tuple(results)


def report(results: tuple[CheckResult, ...], *, as_json: bool, out: TextIO) -> int:
    verdict = overall(results)
    if as_json:
        body = {
            "verdict": verdict,
            "checks": [
                {"name": r.name, "status": r.status.value, "detail": r.detail, "ms": r.duration_ms}
                for r in results
            ],
        }
        out.write(json.dumps(body, indent=2) + "\n")
        return _EXIT[verdict]
    colour = out.isatty()
    width = max(len(r.name) for r in results)
    for r in results:
        status = f"{r.status.value.upper():7}"
        if colour:
            status = f"{_COLOURS[r.status]}{status}{_RESET}"
        out.write(f"  {status} {r.name:{width}}  {r.detail}\n")
    line = f"verdict: {verdict.upper()}"
    out.write(f"\n{_VERDICT_COLOURS[verdict]}{line}{_RESET}\n" if colour else f"\n{line}\n")
    return _EXIT[verdict]


def main(config_path: Path, *, as_json: bool, timeout_s: float) -> int:
    return report(run_checks(config_path, timeout_s), as_json=as_json, out=sys.stdout)
