"""Generating training sets in parallel, cached on disk by recipe so a rerun does not redo the work."""

from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

Maker = Callable[[int, int], dict[str, np.ndarray]]
"""(seed, count) -> arrays of ``count`` samples."""


def limit_threads(tf: Any) -> None:
    """Run TensorFlow on ``TRAIN_THREADS`` threads when set (``make models`` trains both models at once,
    each on half the cores: these small networks use two half machines better than one whole one)."""
    threads = int(os.environ.get("TRAIN_THREADS", "0"))
    if threads > 0:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)


def progress(label: str, done: int, total: int, started: float) -> None:
    """One self-overwriting progress line on stderr."""
    rate = done / max(time.monotonic() - started, 1e-6)
    eta = (total - done) / rate if rate > 0 else 0.0
    bar = "#" * int(30 * done / max(total, 1))
    end = "\n" if done >= total else ""
    sys.stderr.write(f"\r{label} [{bar:<30}] {done}/{total} {rate:.0f}/s eta {eta:.0f}s{end}")
    sys.stderr.flush()


def _worker(args: tuple[Maker, int, int]) -> dict[str, np.ndarray]:
    make, seed, count = args
    return make(seed, count)


def generate(
    label: str, make: Maker, total: int, seed: int, cache_dir: Path, recipe: dict[str, Any], chunk: int = 500
) -> dict[str, np.ndarray]:
    """``total`` samples from ``make``, generated in chunks on every core, cached under ``cache_dir``."""
    key = hashlib.sha256(
        json.dumps({"recipe": recipe, "total": total, "seed": seed}, sort_keys=True).encode()
    )
    path = cache_dir / f"{label}-{key.hexdigest()[:16]}.npz"
    if path.is_file():
        with np.load(path) as cached:
            print(f"{label}: {total} samples from cache {path}", file=sys.stderr)
            return {k: cached[k] for k in cached.files}
    cache_dir.mkdir(parents=True, exist_ok=True)
    # Chunks are kept as they finish, so an interrupted run resumes where it stopped.
    parts_dir = cache_dir / f"{path.stem}.parts"
    parts_dir.mkdir(parents=True, exist_ok=True)
    jobs = [
        (make, seed * 1_000_003 + i, min(chunk, total - i * chunk))
        for i in range((total + chunk - 1) // chunk)
    ]
    part_paths = [parts_dir / f"{i:05d}.npz" for i in range(len(jobs))]
    todo = [(job, part) for job, part in zip(jobs, part_paths, strict=True) if not part.is_file()]
    started = time.monotonic()
    done = sum(job[2] for job, part in zip(jobs, part_paths, strict=True) if part.is_file())
    workers = max(1, min(len(os.sched_getaffinity(0)), 8))
    with mp.get_context("fork").Pool(workers) as pool:
        for part_path, part in zip(
            (p for _, p in todo), pool.imap(_worker, [j for j, _ in todo]), strict=True
        ):
            tmp_part = part_path.with_suffix(".tmp.npz")
            np.savez(tmp_part, **part)
            os.replace(tmp_part, part_path)
            done += len(next(iter(part.values())))
            progress(label, done, total, started)
    parts: list[dict[str, np.ndarray]] = []
    for part_path in part_paths:
        with np.load(part_path) as loaded:
            parts.append({k: loaded[k] for k in loaded.files})
    arrays = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)
    for part_path in part_paths:
        part_path.unlink()
    parts_dir.rmdir()
    return arrays
