"""`make demo` as a person runs it: live status and health within 30 s, a clean stop on Ctrl-C."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import yaml

from tests.broker import free_port

ROOT = Path(__file__).parent.parent


def test_demo_shows_status_and_health_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    config = yaml.safe_load((ROOT / "examples" / "demo.yaml").read_text())
    config["node"]["state_dir"] = str(tmp_path / "state")
    config["diagnostics"]["port"] = free_port()
    config["diagnostics"]["metrics_port"] = free_port()
    demo_config = tmp_path / "demo.yaml"
    demo_config.write_text(yaml.safe_dump(config, sort_keys=False))
    env = {
        **os.environ,
        "EDGE_DEMO_PORT": str(free_port()),
        "EDGE_DEMO_DIR": str(tmp_path / "run"),
        "EDGE_DEMO_CONFIG": str(demo_config),
        "NO_COLOR": "1",
    }
    proc = subprocess.Popen(
        ["bash", str(ROOT / "scripts" / "demo.sh")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, so the test can "press Ctrl-C" like a terminal
        # SIGINT as a terminal has it: a test run started in the background inherits SIGINT ignored, and
        # bash cannot trap a signal ignored at its start, so "Ctrl-C" would not reach the script's trap.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # noqa: PLW1509 - no threads involved
    )
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line.rstrip())

    threading.Thread(target=pump, daemon=True).start()
    seen: list[str] = []
    deadline = time.monotonic() + 30
    try:
        while not (
            any(" status " in s and "ONLINE" in s for s in seen) and any(" health " in s for s in seen)
        ):
            remaining = deadline - time.monotonic()
            assert remaining > 0, "no status and health within 30 s:\n" + "\n".join(seen)
            try:
                seen.append(lines.get(timeout=remaining))
            except queue.Empty:
                continue
        health_line = next(s for s in seen if " health " in s)
        assert "camera streaming" in health_line or "camera starting" in health_line, health_line
        assert "privacy masking m1-" in health_line, health_line

        # The README's `edgectl send` one-liners work against the demo.
        send = [str(ROOT / ".venv" / "bin" / "edgectl"), "send", "--node", "demo-node-01"]
        send += [
            "--port",
            env["EDGE_DEMO_PORT"],
            "--key",
            str(tmp_path / "run" / "keys" / "central_sign.key"),
        ]
        # The technicians' page is up, and the banner told the person how to log in.
        page = urllib.request.urlopen(f"http://127.0.0.1:{config['diagnostics']['port']}/login", timeout=10)
        assert page.status == 200
        assert any("login demo, password" in s for s in seen)
        ping = subprocess.run([*send, "ping"], capture_output=True, text=True, timeout=40, check=False)
        assert ping.returncode == 0 and '"pong": true' in ping.stdout, ping.stdout + ping.stderr
        jpeg = tmp_path / "snap.jpg"
        snap = [*send, "snapshot", "--save-jpeg", str(jpeg)]
        for _ in range(20):  # the first frames take a moment at 1920x1080
            shot = subprocess.run(snap, capture_output=True, text=True, timeout=40, check=False)
            if shot.returncode == 0:
                break
            time.sleep(0.5)
        assert shot.returncode == 0 and jpeg.read_bytes()[:2] == b"\xff\xd8", shot.stdout + shot.stderr

        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            # The script starts the broker and the node in sessions of their own: never leave them running.
            subprocess.run(["pkill", "-f", str(tmp_path)], check=False)
    rest = []
    while not lines.empty():
        rest.append(lines.get())
    assert any("demo stopped" in s for s in rest), rest
    leftovers = subprocess.run(
        ["pgrep", "-f", str(tmp_path / "run")], capture_output=True, text=True, check=False
    ).stdout.split()
    assert leftovers == [], "the demo left processes running"
