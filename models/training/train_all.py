"""Train the plate reader and the plate detector at the same time (``make models``).

    python -m models.training.train_all [--out models/] [--cache build/models-cache]

These networks are small: one training step does not keep two cores busy, so two trainings side by side
finish well before the same two one after the other. Each child's full output goes to
``build/models-cache/logs/train_<name>.log``; the terminal shows one line with both progress bars (a line
every 30 s when stderr is not a terminal). If one training fails, the other is stopped, the tail of the
failed one's log is printed and the exit status is 1. Interrupted runs resume: the generated data is kept
per chunk (``models/training/dataset.py``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

JOBS = ("reader", "detector")
CORE_SHARE = {"reader": 1.0, "detector": 0.5}
"""TensorFlow threads per job as a share of the cores. The reader is the longer job: it may use every core
(while both run the scheduler shares them; once the detector is done the reader has them all)."""


@dataclass
class Job:
    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    started: float
    latest: str = "starting"
    ended: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def follow(self, stream: IO[bytes], log: IO[bytes]) -> None:
        """Copy the child's output to its log and keep its latest progress line."""
        pending = b""
        while chunk := stream.read1(4096):  # type: ignore[attr-defined]
            log.write(chunk)
            log.flush()
            pending += chunk
            *lines, pending = pending.replace(b"\r", b"\n").split(b"\n")
            for line in lines:
                text = line.decode(errors="replace").strip()
                if "] " in text or text.startswith(("epoch", "Traceback")):  # progress, not TF chatter
                    with self.lock:
                        self.latest = text

    def line(self, width: int) -> str:
        with self.lock:
            text = self.latest
        state = "done" if self.ended is not None and self.proc.returncode == 0 else text
        return f"{self.name}: {state}"[:width]


def start(name: str, threads: int, out: Path, cache: Path) -> tuple[Job, threading.Thread]:
    log_dir = cache / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"train_{name}.log"
    env = dict(os.environ, TRAIN_THREADS=str(threads), PYTHONUNBUFFERED="1", TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.Popen(  # noqa: S603 - this interpreter, our own module
        [sys.executable, "-m", f"models.training.train_{name}", "--out", str(out), "--cache", str(cache)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,  # its own process group: stopping it stops its data-generating workers too
    )
    job = Job(name, proc, log_path, time.monotonic())
    assert proc.stdout is not None
    log = log_path.open("wb")
    reader = threading.Thread(target=job.follow, args=(proc.stdout, log), daemon=True)
    reader.start()
    return job, reader


def stop(jobs: list[Job]) -> None:
    for job in jobs:
        _signal_group(job.proc, signal.SIGTERM)
    for job in jobs:
        try:
            job.proc.wait(30)
        except subprocess.TimeoutExpired:
            _signal_group(job.proc, signal.SIGKILL)
        _signal_group(job.proc, signal.SIGKILL)  # workers the child left behind


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)


def tail(path: Path, lines: int = 25) -> str:
    text = path.read_bytes().decode(errors="replace").replace("\r", "\n")
    return "\n".join([line for line in text.splitlines() if line.strip()][-lines:])


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=Path("models"))
    parser.add_argument("--cache", type=Path, default=Path("build/models-cache"))
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)  # stopped like Ctrl-C: the children stop too
    cores = len(os.sched_getaffinity(0))
    threads = {name: max(1, int(cores * CORE_SHARE[name])) for name in JOBS}
    t0 = time.monotonic()
    started = [start(name, threads[name], args.out, args.cache) for name in JOBS]
    jobs = [job for job, _ in started]
    tty = sys.stderr.isatty()
    last_print = 0.0
    print(
        "training side by side: "
        + ", ".join(f"{name} on {n} thread(s)" for name, n in threads.items())
        + f"; logs: {args.cache / 'logs'}",
        file=sys.stderr,
    )
    try:
        while any(job.ended is None for job in jobs):
            for job in jobs:
                if job.ended is None and job.proc.poll() is not None:
                    job.ended = time.monotonic()
                    if job.proc.returncode != 0:
                        stop(jobs)
                        print(
                            f"\n{job.name} training failed (exit {job.proc.returncode}); last lines of "
                            f"{job.log_path}:\n{tail(job.log_path)}",
                            file=sys.stderr,
                        )
                        return 1
                    print(f"\n{job.name}: done in {(job.ended - job.started) / 60:.1f} min", file=sys.stderr)
            now = time.monotonic()
            if tty or now - last_print >= 30:
                status = " | ".join(job.line(78) for job in jobs)
                sys.stderr.write(f"\r{status:<160}" if tty else f"{status}\n")
                sys.stderr.flush()
                last_print = now
            time.sleep(1)
    except KeyboardInterrupt:
        stop(jobs)
        print("\ninterrupted; generated data is kept, a rerun resumes", file=sys.stderr)
        return 130
    for _, follower in started:
        follower.join(10)
    print(f"both models trained in {(time.monotonic() - t0) / 60:.1f} min", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
