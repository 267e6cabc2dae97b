"""``edge diag``: the console report, run against a configuration with the node not running."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from edge.anpr.manifest import default_models_dir
from edge.config import EdgeConfig
from edge.diagnostics.checks import CheckResult, CheckStatus, check_model_files
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


def _anpr_config(tmp_path: Path, broker: Broker, **anpr: object) -> EdgeConfig:
    return EdgeConfig.model_validate(node_config(tmp_path, broker, anpr={"enabled": True, **anpr}))


def test_model_check_loads_the_configured_models_and_names_a_corrupt_one(
    tmp_path: Path, broker: Broker
) -> None:
    ok = check_model_files(_anpr_config(tmp_path, broker))
    assert ok.status is CheckStatus.PASS, ok.detail
    assert "detector-" in ok.detail and "reader-" in ok.detail and "int8" in ok.detail

    models = tmp_path / "models"
    shutil.copytree(default_models_dir(), models)
    reader = models / "plate_reader_fp32.tflite"
    data = bytearray(reader.read_bytes())
    data[len(data) // 2] ^= 0xFF
    reader.write_bytes(bytes(data))
    bad = check_model_files(_anpr_config(tmp_path, broker, models_dir=str(models), precision="fp32"))
    assert bad.status is CheckStatus.FAIL and "does not match the manifest" in bad.detail

    off = check_model_files(EdgeConfig.model_validate(node_config(tmp_path, broker)))
    assert off.status is CheckStatus.SKIPPED
