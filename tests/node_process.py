"""Run the real node (``python -m edge run``) as a child process with a generated config."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.broker import Broker

DEMO_MASKS = [
    {"name": "upper left", "polygon": [[0.0, 0.0], [0.4, 0.0], [0.4, 0.3], [0.0, 0.3]]},
]


def node_config(tmp_path: Path, broker: Broker, **overrides: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "node": {"id": "test-node", "site": "test street", "state_dir": str(tmp_path / "state")},
        "camera": {"type": "synthetic", "seed": 7, "width": 320, "height": 180, "fps": 10},
        # Tamper checks need a reference view approved at installation; tests about them approve one.
        "privacy": {"masks": DEMO_MASKS, "tamper": {"enabled": False}},
        "mqtt": {
            "host": broker.host,
            "port": broker.port,
            "keepalive_s": 2,
            "health_interval_s": 1,
            "reconnect_min_s": 0.2,
            "reconnect_max_s": 1,
        },
        "pipeline": {"stall_after_s": 2},
    }
    for key, value in overrides.items():
        if key != "camera" and isinstance(value, dict) and isinstance(cfg.get(key), dict):
            cfg[key] = {**cfg[key], **value}
        else:
            cfg[key] = value
    return cfg


class NodeProcess:
    def __init__(self, tmp_path: Path, config: dict[str, Any], env: dict[str, str] | None = None) -> None:
        self.config_path = tmp_path / "node.yaml"
        self.config_path.write_text(yaml.safe_dump(config))
        self.log_path = tmp_path / "node.log"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "edge", "run", "--config", str(self.config_path)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )

    def signal(self, sig: signal.Signals) -> None:
        self.proc.send_signal(sig)

    def wait(self, timeout_s: float) -> int:
        return self.proc.wait(timeout_s)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
            self.proc.wait(10)
        self._log.close()
