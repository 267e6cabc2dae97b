"""``AnprConsumer``: the ANPR stage — masked frames in, one published record per vehicle pass out.

Runs as the ``ConsumerStage`` "anpr" with ``QueuePolicy.LATEST``: it reads the newest masked frame, at
most ``anpr.max_fps`` times a second; frames in between are skipped and counted. Per processed frame:

1. the recogniser (built lazily in this thread: TFLite interpreters belong to the thread that made them)
   reads plates in the bounding box of the ROI, scaled to ``detector_long_side``; a read whose centre lies
   outside the ROI polygon is dropped;
2. **masks rule** (requirement 7): a read whose box shares a pixel with a masked area is dropped. The
   masks are the privacy stage's ``applied_masks()`` (with its drift compensation), used only when their
   mask id equals the frame's; a frame masked with a set that has been replaced since (a ``set_masks`` in
   between) yields no reads at all. A blanked frame yields none either;
3. the reads become tracker ``Observation`` s (payload: a ``Sighting`` with the frame and the read), and
   the ``PlateTracker`` turns them into ``VehiclePass`` es; every pass is counted in ``CaptureStats``
   (a pass under ``min_confidence`` as unread) and each pass with a confident text is published by the
   ``PassPublisher``. ``close`` flushes the tracker, so a vehicle in view at shutdown is still published.

A ``ModelError`` while building the recogniser (no runtime, a missing or corrupt model file) disables ANPR
with the reason in health; the other stages, recording above all, are not affected.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

import cv2
import numpy as np

from edge.anpr.hotlist import Purpose
from edge.anpr.lists import NodeHotlists
from edge.anpr.overview import Box
from edge.anpr.publish import PassPublisher
from edge.anpr.recognizer import PlateRead, Recognizer
from edge.anpr.records import Sighting
from edge.anpr.runtime import ModelError, find_runtime
from edge.anpr.stats import CaptureStats
from edge.anpr.tracker import PlateTracker, VehiclePass
from edge.anpr.voting import Observation
from edge.config import AnprConfig
from edge.privacy.masks import NO_MASKS_ID, AppliedMasks
from edge.privacy.overlap import box_overlaps_masks
from edge.types import MaskedFrame, Pixels

log = logging.getLogger(__name__)


class PlateRecognizer(Protocol):
    """What the stage needs of ``edge.anpr.recognizer.Recognizer``."""

    @property
    def version(self) -> str: ...

    @property
    def precision(self) -> str: ...

    def read_image(
        self, image_bgr: Pixels, *, long_side: int = ..., roi: tuple[int, int, int, int] | None = ...
    ) -> list[PlateRead]: ...


RecognizerFactory = Callable[[], PlateRecognizer]


class AnprState(enum.StrEnum):
    OFF = "off"
    """Not enabled in the configuration."""
    STARTING = "starting"
    """Enabled; the models load with the first frame."""
    RUNNING = "running"
    DISABLED = "disabled"
    """Enabled, but the models could not be loaded: ``reason`` says why."""


@dataclasses.dataclass(slots=True)
class _Counts:
    frames: int = 0
    skipped: int = 0
    """Frames the rate limit (``max_fps``) left out."""
    blanked: int = 0
    masks_replaced: int = 0
    """Frames whose mask set had been replaced by the time ANPR saw them: no reads taken."""
    reads_masked: int = 0
    """Reads dropped because their box touches a masked area (requirement 7)."""
    reads_outside_roi: int = 0
    below_min_confidence: int = 0
    """Passes with a text whose confidence is under ``min_confidence``: counted as unread, not published."""


def recognizer_factory(config: AnprConfig) -> RecognizerFactory:
    def build() -> Recognizer:
        return Recognizer(
            config.models_dir,
            precision=config.precision,
            threads=config.threads,
            finer_look=config.finer_look,
            closer_look_below=config.closer_look_below,
        )

    return build


class AnprConsumer:
    """A ``FrameConsumer``: ``consume`` and ``close`` from the stage thread, ``health`` from any thread."""

    def __init__(
        self,
        config: AnprConfig,
        *,
        recognizer: RecognizerFactory,
        masks: Callable[[], AppliedMasks],
        publisher: PassPublisher,
        hotlists: NodeHotlists,
        stats: CaptureStats | None = None,
    ) -> None:
        self._config = config
        self._build = recognizer
        self._masks = masks
        self._publisher = publisher
        self._hotlists = hotlists
        self.stats = stats or CaptureStats()
        self._recognizer: PlateRecognizer | None = None
        self._tracker: PlateTracker | None = None
        self._tracker_size: tuple[int, int] | None = None
        self._period_ns = round(1e9 / config.max_fps)
        self._due_ns: int | None = None
        self._lock = threading.Lock()  # guards what health reads: state, reason, versions, counts
        self._state = AnprState.STARTING
        self._reason = ""
        self._model_version = ""
        self._runtime = ""
        self._counts = _Counts()

    # ------------------------------------------------------------------------------------ stage thread

    def consume(self, frame: MaskedFrame) -> None:
        if self._state is AnprState.DISABLED:
            return
        if self._due_ns is not None and frame.monotonic_ns < self._due_ns:
            with self._lock:
                self._counts.skipped += 1
            return
        # The next frame is due one period after this one was (not after this frame arrived), so frames
        # at 25 fps are taken at max_fps on average; a long pause does not earn a burst of catching up.
        due = (
            frame.monotonic_ns
            if self._due_ns is None
            else max(self._due_ns, frame.monotonic_ns - self._period_ns)
        )
        self._due_ns = due + self._period_ns
        recognizer = self._recognizer or self._load()
        if recognizer is None:
            return
        started = time.perf_counter()
        observations = self._observe(recognizer, frame)
        tracker = self._tracker_for(frame)
        passes = tracker.update(frame.monotonic_ns / 1e9, observations)
        self.stats.frame(len(observations), (time.perf_counter() - started) * 1000)
        with self._lock:
            self._counts.frames += 1
        for vehicle_pass in passes:
            self._finish(vehicle_pass)

    def close(self) -> None:
        if self._tracker is None:
            return
        for vehicle_pass in self._tracker.flush():
            self._finish(vehicle_pass)

    def _load(self) -> PlateRecognizer | None:
        try:
            recognizer = self._build()
            runtime, _ = find_runtime()
        except ModelError as exc:
            log.error("ANPR disabled: %s", exc)  # noqa: TRY400 - the message is the whole story
            with self._lock:
                self._state, self._reason = AnprState.DISABLED, str(exc)
            return None
        self._recognizer = recognizer
        self._publisher.set_model_version(recognizer.version)
        with self._lock:
            self._state = AnprState.RUNNING
            self._model_version = recognizer.version
            self._runtime = f"{runtime.name} {runtime.version}"
        log.info(
            "ANPR running: models %s (%s) on %s %s",
            recognizer.version,
            recognizer.precision,
            runtime.name,
            runtime.version,
        )
        return recognizer

    def _tracker_for(self, frame: MaskedFrame) -> PlateTracker:
        size = (frame.width, frame.height)
        if self._tracker is None or self._tracker_size != size:
            if self._tracker is not None:  # the camera changed resolution: finish what was tracked
                for vehicle_pass in self._tracker.flush():
                    self._finish(vehicle_pass)
            line = None
            if self._config.line is not None:
                (x1, y1), (x2, y2) = self._config.line
                line = ((x1 * size[0], y1 * size[1]), (x2 * size[0], y2 * size[1]))
            self._tracker = PlateTracker(
                line=line,
                max_gap_s=self._config.max_gap_s,
                min_reads=self._config.min_reads,
                emit_on_cross=self._config.emit_on_cross,
            )
            self._tracker_size = size
        return self._tracker

    def _observe(self, recognizer: PlateRecognizer, frame: MaskedFrame) -> list[Observation]:
        if frame.blanked:
            with self._lock:
                self._counts.blanked += 1
            return []
        applied: AppliedMasks | None = None
        if frame.mask_id != NO_MASKS_ID:
            applied = self._masks()
            if applied.masks.mask_id != frame.mask_id:
                with self._lock:
                    self._counts.masks_replaced += 1
                return []
        polygon = _roi_pixels(self._config.roi, frame.width, frame.height)
        reads = recognizer.read_image(
            frame.pixels, long_side=self._config.detector_long_side, roi=_bounding_box(polygon, frame)
        )
        kept: list[PlateRead] = []
        outside = masked = 0
        for read in reads:
            x, y, w, h = read.box
            if cv2.pointPolygonTest(polygon, (x + w / 2, y + h / 2), False) < 0:
                outside += 1
            elif applied is not None and box_overlaps_masks(read.box, applied, frame.width, frame.height):
                masked += 1
            else:
                kept.append(read)
        if outside or masked:
            with self._lock:
                self._counts.reads_outside_roi += outside
                self._counts.reads_masked += masked
        boxes: tuple[Box, ...] = tuple(r.box for r in reads)
        t_s = frame.monotonic_ns / 1e9
        return [
            Observation(
                t_s=t_s,
                box=tuple(float(v) for v in r.box),  # type: ignore[arg-type]
                text=r.text,
                confidence=r.confidence,
                country=r.country,
                payload=Sighting(frame, r, boxes, applied),
                detail=r.detail,
            )
            for r in kept
        ]

    def _finish(self, vehicle_pass: VehiclePass) -> None:
        confident = vehicle_pass.text is not None and vehicle_pass.confidence >= self._config.min_confidence
        if vehicle_pass.text is not None and not confident:
            with self._lock:
                self._counts.below_min_confidence += 1
            self.stats.record(dataclasses.replace(vehicle_pass, text=None))
            return
        self.stats.record(vehicle_pass)
        if confident:
            self._publisher.publish(vehicle_pass)

    # -------------------------------------------------------------------------------------- any thread

    @property
    def state(self) -> AnprState:
        with self._lock:
            return self._state

    def health(self) -> dict[str, Any]:
        with self._lock:
            state, reason, counts = self._state, self._reason, dataclasses.asdict(self._counts)
            version, runtime = self._model_version, self._runtime
        published = dataclasses.asdict(self._publisher.counters())
        lez = {k.removeprefix("lez_"): published.pop(k) for k in ("lez_reads", "lez_evidence", "lez_dropped")}
        return {
            "state": state.value,
            "reason": reason,
            "profile": self._publisher.profile,
            "model_version": version or None,
            "runtime": runtime or None,
            "precision": self._config.precision,
            "capture": self.stats.snapshot(),
            "frames": counts,
            "published": published,
            "lez": {
                **lez,
                "list_active": self._hotlists.purpose is Purpose.LEZ and self._hotlists.any_active(),
            }
            if self._publisher.profile == "lez"
            else None,
            "hotlists": self._hotlists.health(),
        }


def _roi_pixels(
    roi: list[tuple[float, float]], width: int, height: int
) -> np.ndarray[Any, np.dtype[np.float32]]:
    return np.array([(x * width, y * height) for x, y in roi], np.float32)


def _bounding_box(
    polygon: np.ndarray[Any, np.dtype[np.float32]], frame: MaskedFrame
) -> tuple[int, int, int, int]:
    x0 = max(0, math.floor(float(polygon[:, 0].min())))
    y0 = max(0, math.floor(float(polygon[:, 1].min())))
    x1 = min(frame.width, math.ceil(float(polygon[:, 0].max())))
    y1 = min(frame.height, math.ceil(float(polygon[:, 1].max())))
    return x0, y0, max(1, x1 - x0), max(1, y1 - y0)
