"""``edge diag``: the console report, run against a configuration with the node not running."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from edge.diagnostics.checks import CheckResult, CheckStatus
from edge.diagnostics.console import report
from tests.broker import Broker
from tests.node_process import node_config


def _diag(tmp_path: Path, broker: Broker, *extra: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "node.yaml"
    config.write_text(yaml.safe_dump(node_config(tmp_path, broker)))
    return subprocess.run(
        [sys.executable, "-m", "edge", "diag", "--config", str(config), "--timeout", "2", *extra],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_stopped_broker_is_red(tmp_path: Path, broker: Broker) -> None:
    broker.stop()
    result = _diag(tmp_path, broker, "--json")
    doc = json.loads(result.stdout)
    checks = {c["name"]: c for c in doc["checks"]}
    assert result.returncode == 2 and doc["verdict"] == "red"
    assert checks["broker"]["status"] == "fail" and "unreachable" in checks["broker"]["detail"]
    assert checks["disk"]["status"] == "pass" and checks["camera"]["status"] == "pass"
    assert checks["config"]["status"] == "pass"


def test_running_broker_passes_with_readable_report(tmp_path: Path, broker: Broker) -> None:
    result = _diag(tmp_path, broker)
    assert result.returncode in (0, 1), result.stdout + result.stderr  # amber only for time sync
    assert "PASS    broker" in result.stdout and "PASS    camera" in result.stdout
    assert "verdict: " in result.stdout and "\033[" not in result.stdout  # no colours without a tty


def test_invalid_config_is_red(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("node: {id: 'Not Valid'}\n")
    result = subprocess.run(
        [sys.executable, "-m", "edge", "diag", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2 and "FAIL" in result.stdout and "node.id" in result.stdout


def test_colours_on_a_tty(tmp_path: Path) -> None:
    class Tty:
        def __init__(self) -> None:
            self.text = ""

        def isatty(self) -> bool:
            return True

        def write(self, s: str) -> int:
            self.text += s
            return len(s)

    out = Tty()
    code = report((CheckResult("disk", CheckStatus.FAIL, "read-only"),), as_json=False, out=out)  # type: ignore[arg-type]
    assert code == 2 and "\033[31m" in out.text and "RED" in out.text
