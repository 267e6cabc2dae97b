"""``SyntheticStreetCamera``: the rendered street as a ``FrameSource``."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from edge.capture.synthetic.render import StreetRenderer
from edge.clock import Clock
from edge.config import SyntheticCameraConfig
from edge.errors import CameraError
from edge.types import Frame

logger = logging.getLogger(__name__)


class SyntheticStreetCamera:
    """A deterministic street camera with ground truth in every frame.

    Frame ``i`` shows the scene at time ``i / fps`` (scene time, not wall time), so the pixels and the
    truth depend only on the seed and the configuration. With ``realtime`` the camera delivers frames at
    ``fps`` in wall time: ``read()`` sleeps until the frame is due; when rendering falls behind it does
    not sleep, and it never bursts more than one frame to catch up. Without ``realtime`` it renders as
    fast as it can. Frame indices continue across ``close()`` / ``open()``.
    """

    def __init__(
        self, config: SyntheticCameraConfig, clock: Clock, *, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self._config = config
        self._clock = clock
        self._sleep = sleep
        self._period_ns = round(1e9 / config.fps)
        self._renderer: StreetRenderer | None = None
        self._index = 0
        self._deadline_ns: int | None = None

    @property
    def name(self) -> str:
        return f"synthetic:{self._config.seed}"

    def open(self) -> None:
        if self._renderer is not None:
            return
        try:
            self._renderer = StreetRenderer(self._config)
        except (OSError, MemoryError, ValueError) as exc:
            raise CameraError(f"synthetic camera: cannot build the scene: {exc}") from exc
        self._deadline_ns = None
        logger.info(
            "synthetic camera open: seed %d, %dx%d at %.4g fps, %s, from frame %d",
            self._config.seed,
            self._config.width,
            self._config.height,
            self._config.fps,
            self._config.lighting,
            self._index,
        )

    def read(self) -> Frame:
        renderer = self._renderer
        if renderer is None:
            raise CameraError("synthetic camera is not open")
        if self._config.realtime:
            self._pace()
        capture_ts_ns = self._clock.time_ns()
        monotonic_ns = self._clock.monotonic_ns()
        pixels, truth = renderer.render(self._index)
        frame = Frame(
            pixels=pixels,
            index=self._index,
            capture_ts_ns=capture_ts_ns,
            monotonic_ns=monotonic_ns,
            source=self.name,
            truth=truth,
        )
        self._index += 1
        return frame

    def close(self) -> None:
        # Everything the renderer holds is a pure function of (seed, config, frame index), so a new one
        # after open() continues the same street seamlessly.
        self._renderer = None
        self._deadline_ns = None

    def _pace(self) -> None:
        now_ns = self._clock.monotonic_ns()
        deadline_ns = now_ns if self._deadline_ns is None else self._deadline_ns
        if now_ns < deadline_ns:
            self._sleep((deadline_ns - now_ns) / 1e9)
            now_ns = max(self._clock.monotonic_ns(), deadline_ns)
        # When late, the next frame is due now (at most one frame without waiting), never earlier.
        self._deadline_ns = max(deadline_ns + self._period_ns, now_ns)
