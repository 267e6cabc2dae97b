"""``edge anpr-eval``: accuracy and speed of the plate recogniser on a labelled set.

``DATASET_DIR/labels.tsv`` has a header row; columns ``image`` and ``plate``, then either ``x y w h`` (a
street photo: detection and reading on the whole image) or anything else (a crop set: the whole crop is read
as one plate). A read is correct when it equals the label after removing everything but A-Z and 0-9.
"""

from __future__ import annotations

import csv
import re
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edge.anpr.recognizer import PlateRead, Recognizer
from edge.errors import EdgeError

_KEEP = re.compile(r"[^A-Z0-9]")


class DatasetError(EdgeError):
    """The dataset folder or its labels file is unusable."""


def clean(text: str) -> str:
    return _KEEP.sub("", text.upper())


@dataclass(frozen=True, slots=True)
class Sample:
    image: Path
    plate: str
    box: tuple[int, int, int, int] | None


@dataclass(slots=True)
class Outcome:
    image: str
    label: str
    read: str | None
    confidence: float
    ms: float

    @property
    def correct(self) -> bool:
        return self.read is not None and clean(self.read) == clean(self.label)


@dataclass(slots=True)
class Report:
    dataset: str
    kind: str
    outcomes: list[Outcome] = field(default_factory=list)
    model_version: str = ""
    repeat_ms: list[list[float]] = field(default_factory=list)
    """Per further pass over the set (``evaluate(runs=...)``), the time of each image."""

    def summary(self) -> dict[str, Any]:
        n = len(self.outcomes)
        passes = [[o.ms for o in self.outcomes], *self.repeat_ms] if n else []
        medians = [statistics.median(ms) for ms in passes]
        out = {
            "dataset": self.dataset,
            "kind": self.kind,
            "n": n,
            "top1": round(sum(o.correct for o in self.outcomes) / n, 4) if n else 0.0,
            "found": round(sum(o.read is not None for o in self.outcomes) / n, 4) if n else 0.0,
            # One pass: the median time per image. Several: the median of the passes' medians.
            "median_ms": round(statistics.median(medians), 2) if medians else 0.0,
            "p95_ms": round(float(np.percentile([t for ms in passes for t in ms], 95)), 2) if n else 0.0,
            "model_version": self.model_version,
        }
        if len(medians) > 1:
            out["runs"] = len(medians)
            out["median_ms_runs"] = [round(m, 2) for m in medians]
        return out


def load_samples(folder: Path) -> tuple[str, list[Sample]]:
    """The samples of ``folder`` and its kind: ``street`` (with boxes) or ``crops``."""
    labels = folder / "labels.tsv"
    try:
        with labels.open(newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f, delimiter="\t"))
    except FileNotFoundError as exc:
        raise DatasetError(f"{labels}: not found (a dataset folder holds labels.tsv and images/)") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{labels}: unreadable: {exc}") from exc
    if not rows or [c.strip().lower() for c in rows[0][:2]] != ["image", "plate"]:
        raise DatasetError(f"{labels}: the header must start with the columns 'image' and 'plate'")
    header = [c.strip().lower() for c in rows[0]]
    street = header[2:6] == ["x", "y", "w", "h"]
    samples = []
    for line, row in enumerate(rows[1:], start=2):
        if not row or not "".join(row).strip():
            continue
        if len(row) < (6 if street else 2):
            raise DatasetError(f"{labels}:{line}: expected {6 if street else 2}+ columns, got {len(row)}")
        box = None
        if street:
            try:
                x, y, w, h = (int(float(v)) for v in row[2:6])
            except ValueError as exc:
                raise DatasetError(f"{labels}:{line}: x y w h must be numbers") from exc
            box = (x, y, w, h)
        if not (folder / row[0]).is_file():
            raise DatasetError(f"{labels}:{line}: {folder / row[0]}: missing or not an image")
        samples.append(Sample(folder / row[0], row[1], box))
    if not samples:
        raise DatasetError(f"{labels}: no samples")
    return ("street" if street else "crops"), samples


def evaluate(
    folder: Path, recognizer: Recognizer, *, long_side: int = 384, progress: bool = False, runs: int = 1
) -> Report:
    """Read every image of ``folder``; with ``runs`` above 1, pass over the set that many times (the
    reads of every pass must agree) and time each pass: a loaded machine's passes differ by more than
    its images do."""
    if runs < 1:
        raise ValueError(f"runs must be at least 1, not {runs}")
    kind, samples = load_samples(folder)
    report = Report(dataset=folder.name, kind=kind, model_version=recognizer.version)
    total = runs * len(samples)
    for run in range(runs):
        times: list[float] = []
        for i, sample in enumerate(samples):
            # Decoded on every pass, not kept: a set may be larger than memory.
            loaded = cv2.imread(str(sample.image), cv2.IMREAD_COLOR)
            if loaded is None:
                raise DatasetError(f"{sample.image}: missing or not an image")
            image = np.asarray(loaded, dtype=np.uint8)
            started = time.perf_counter()
            best: PlateRead | None
            if kind == "street":
                reads = recognizer.read_image(image, long_side=long_side)
                best = reads[0] if reads else None
            else:
                best = recognizer.read_crop(image)
            ms = (time.perf_counter() - started) * 1000.0
            read = None if best is None else best.text
            if run == 0:
                confidence = 0.0 if best is None else best.confidence
                report.outcomes.append(Outcome(sample.image.name, sample.plate, read, confidence, ms))
            elif read != report.outcomes[i].read:
                first = report.outcomes[i].read
                raise RuntimeError(
                    f"{sample.image.name}: read {read!r} on pass {run + 1}, {first!r} on the first"
                )
            times.append(ms)
            if progress:
                sys.stderr.write(f"\r{folder.name}: {run * len(samples) + i + 1}/{total}")
                sys.stderr.flush()
        if run:
            report.repeat_ms.append(times)
    if progress:
        sys.stderr.write("\n")
    return report


def table(report: Report, *, failures: bool = True) -> str:
    s = report.summary()
    lines = [
        f"dataset     {s['dataset']} ({s['kind']}, {s['n']} images)",
        f"model       {s['model_version']}",
        f"top-1       {s['top1']:.3f}",
        f"found       {s['found']:.3f}",
        f"median      {s['median_ms']:.1f} ms per image (p95 {s['p95_ms']:.1f} ms)"
        + (f", the median of {s['runs']} passes: {s['median_ms_runs']}" if "runs" in s else ""),
    ]
    wrong = [o for o in report.outcomes if not o.correct]
    if failures and wrong:
        lines.append("")
        lines.append(f"{'image':<32} {'label':<10} {'read':<10} conf")
        lines += [f"{o.image:<32} {o.label:<10} {o.read or '-':<10} {o.confidence:.2f}" for o in wrong]
    return "\n".join(lines)
