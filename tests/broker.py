"""A real mosquitto on a random loopback port, started from tests/mosquitto/mosquitto.conf."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
from pathlib import Path

CONF_TEMPLATE = Path(__file__).parent / "mosquitto" / "mosquitto.conf"


def mosquitto_binary() -> str:
    found = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/local/sbin")
    if not found:
        raise RuntimeError("mosquitto is not installed; run `make deps` (apt-get install mosquitto)")
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Broker:
    """Start, stop and restart a mosquitto process on a fixed port chosen at construction."""

    def __init__(self, workdir: Path, port: int | None = None, conf_template: str | None = None) -> None:
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self._conf = workdir / "mosquitto.conf"
        template = CONF_TEMPLATE.read_text() if conf_template is None else conf_template
        self._conf.write_text(template.replace("@PORT@", str(self.port)))
        self._proc: subprocess.Popen[str] | None = None
        self.log: list[str] = []
        self._log_lock = threading.Lock()

    def start(self, timeout_s: float = 10.0) -> None:
        assert self._proc is None, "broker already running"
        ready = threading.Event()
        proc = subprocess.Popen(
            [mosquitto_binary(), "-c", str(self._conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,  # unbuffered, unlike stdout, so "running" arrives at once
            text=True,
        )

        def pump() -> None:
            assert proc.stderr is not None
            for line in proc.stderr:
                with self._log_lock:
                    self.log.append(line.rstrip())
                if "running" in line and "mosquitto version" in line:
                    ready.set()
            ready.set()  # process ended: wake the waiter, which then checks the exit code

        threading.Thread(target=pump, name="mosquitto-log", daemon=True).start()
        if not ready.wait(timeout_s) or proc.poll() is not None:
            proc.kill()
            raise RuntimeError(f"mosquitto did not start on port {self.port}: {self.log[-5:]}")
        self._proc = proc

    def stop(self) -> None:
        if self._proc is None:
            return
        self._proc.terminate()
        try:
            self._proc.wait(10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None
