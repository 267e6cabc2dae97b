"""The real node (``python -m edge run``) as a child process on the demo configuration, and its costs.

Used by ``bench_pipeline`` and ``bench.soak``. The configuration is ``examples/demo.yaml`` with the state,
the keys (fresh development keys from ``edgectl keys``) and the broker moved into a private directory, and
the diagnostics page off (it needs a technicians file and fixed ports; it serves nothing unless asked).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.broker import Broker

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "examples" / "demo.yaml"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def demo_config(
    workdir: Path, broker: Broker, *, width: int, height: int, fps: int, recording: bool = True
) -> dict[str, Any]:
    keys = workdir / "keys"
    if not (keys / "central_seal.pub").exists():
        edgectl = Path(sys.executable).with_name("edgectl")
        subprocess.run(  # noqa: S603 - our own console script
            [str(edgectl), "keys", "--out", str(keys), "--device"], check=True, stdout=subprocess.DEVNULL
        )
    cfg: dict[str, Any] = yaml.safe_load(DEMO.read_text())
    cfg["node"]["state_dir"] = str(workdir / "state")
    cfg["camera"].update(width=width, height=height, fps=fps)
    cfg["mqtt"].update(host=broker.host, port=broker.port, health_interval_s=2, reconnect_max_s=2)
    cfg["storage"].update(
        enabled=recording,
        central_public_key_file=str(keys / "central_seal.pub"),
        device_key_file=str(keys / "device_sign.key"),
    )
    cfg["commands"]["central_public_key_files"] = [str(keys / "central_sign.pub")]
    cfg["diagnostics"] = {"enabled": False}
    return cfg


class NodeRun:
    """The node process; ``close`` stops it with SIGTERM (SIGKILL after 10 s)."""

    def __init__(self, workdir: Path, config: dict[str, Any]) -> None:
        path = workdir / "node.yaml"
        path.write_text(yaml.safe_dump(config))
        self.log_path = workdir / "node.log"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(  # noqa: S603 - this interpreter, our own module
            [sys.executable, "-m", "edge", "run", "--config", str(path)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def cpu_s(self) -> float:
        """utime + stime of the node process (all its threads) so far, from /proc/<pid>/stat."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def _status_kib(self, key: str) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
        raise RuntimeError(f"{key} not in /proc/{self.pid}/status")

    def rss_mib(self) -> float:
        return self._status_kib("VmRSS") / 1024

    def peak_rss_mib(self) -> float:
        return self._status_kib("VmHWM") / 1024

    def close(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return int(self.proc.returncode)
