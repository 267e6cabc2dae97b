"""Run every ``bench/bench_*.py`` module and write ``bench/results.json`` plus a readable table.

Each module exposes ``run() -> dict[str, object]``: flat keys (``mask_ratio_1080p``, ...) to numbers or
small JSON objects. Modules run in name order in this process, one after the other, so they do not
compete for the CPU.
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent


def machine() -> dict[str, object]:
    import os

    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "numpy": np.__version__,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--only",
        help="substring of the benchmark module names to run; their figures replace those in --out, "
        "the others are kept",
    )
    parser.add_argument("--out", type=Path, default=HERE / "results.json")
    args = parser.parse_args(argv)
    names = sorted(p.stem for p in HERE.glob("bench_*.py") if not args.only or args.only in p.stem)
    results: dict[str, object] = {
        "machine": machine(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    for i, name in enumerate(names, 1):
        print(f"[{i}/{len(names)}] {name} …", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        module = importlib.import_module(f"bench.{name}")
        figures = module.run()
        results.update(figures)
        print(f"      done in {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    if args.only and args.out.exists():
        # A partial run updates its own figures and keeps the others (each says when it was measured).
        kept = json.loads(args.out.read_text())
        kept.setdefault("partial_runs", []).append({"started": results["started"], "only": args.only})
        results = {**kept, **results, "started": kept.get("started", results["started"])}
    args.out.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    width = max((len(k) for k in results), default=10)
    for key, value in results.items():
        if key in ("machine", "started", "partial_runs"):
            continue
        print(f"{key:<{width}}  {json.dumps(value) if not isinstance(value, float) else f'{value:.4g}'}")
    print(f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
