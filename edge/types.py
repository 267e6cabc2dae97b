"""Typed hand-offs between stages.

Pixel data is always a ``numpy.ndarray`` of shape ``(height, width, 3)``, dtype ``uint8``, BGR order
(OpenCV's convention), C-contiguous. Everything else travels in frozen, slotted dataclasses.

``MaskedFrame`` is the only frame type a consumer (recorder, ANPR, preview, uplink) accepts. It can be
created only with the privacy seal, which is issued exactly once, to the privacy stage
(``edge.privacy.stage``). A raw ``Frame`` therefore cannot reach a consumer without passing through the
privacy stage, and the seal check makes a bypass fail loudly at run time as well as in review.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt

Pixels = npt.NDArray[np.uint8]
"""A BGR image: shape (height, width, 3), dtype uint8."""

Point = tuple[float, float]
"""A point in pixel coordinates (x, y), origin top-left."""


class Direction(enum.StrEnum):
    """Direction of travel relative to the camera, which looks along the road."""

    APPROACHING = "approaching"
    """Coming towards the camera: the front plate is visible."""
    RECEDING = "receding"
    """Driving away from the camera: the rear plate is visible."""


@dataclass(frozen=True, slots=True)
class PlateTruth:
    """Ground truth for one plate visible in a synthetic frame."""

    vehicle_id: int
    text: str
    """Normalised plate text: A-Z and 0-9 only (``1-ABC-234`` is ``1ABC234``)."""
    formatted: str
    """The plate as printed, with separators (``1-ABC-234``)."""
    country: str
    """ISO 3166-1 alpha-2 code: BE, NL, FR, DE."""
    plate_format: str
    """The format key from the synthetic camera's plate mix (``be_current``, ``be_old``, ``nl``, ...)."""
    corners: tuple[Point, Point, Point, Point]
    """Plate corners in pixels: top-left, top-right, bottom-right, bottom-left."""
    fully_visible: bool
    """True when all four corners are inside the frame and nothing occludes the plate."""


@dataclass(frozen=True, slots=True)
class VehicleTruth:
    """Ground truth for one vehicle in a synthetic frame."""

    vehicle_id: int
    direction: Direction
    bbox: tuple[int, int, int, int]
    """Axis-aligned box ``(x, y, w, h)`` in pixels, clipped to the frame."""
    speed_px_s: float
    plate_text: str
    windscreen: tuple[Point, ...] = ()
    """Polygon (pixels, clipped to the frame) of the glass occupants are seen through: the windscreen of
    an approaching vehicle, the rear window of a receding one; empty when not in view."""


@dataclass(frozen=True, slots=True)
class GroundTruth:
    """What a synthetic frame contains. Real cameras deliver frames without one."""

    frame_index: int
    vehicles: tuple[VehicleTruth, ...]
    plates: tuple[PlateTruth, ...]
    private_areas: tuple[tuple[Point, ...], ...]
    """Polygons (pixels) of the façade areas that must be masked: windows, door, shop front."""
    lux: float
    """Relative scene brightness, 1.0 = full daylight."""


@dataclass(frozen=True, slots=True)
class Frame:
    """A raw frame straight from a camera. Never leaves the capture -> privacy hand-off."""

    pixels: Pixels
    index: int
    """Monotonic frame counter of the source, from 0."""
    capture_ts_ns: int
    """Wall-clock capture time, nanoseconds since the Unix epoch (UTC)."""
    monotonic_ns: int
    """Monotonic clock at capture, for intervals and latency."""
    source: str
    """Human-readable source name (never contains credentials)."""
    truth: GroundTruth | None = None

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])


class PrivacySeal:
    """Capability to create ``MaskedFrame`` objects. Issued once, to the privacy stage."""

    __slots__ = ()


_SEAL: Final = PrivacySeal()
_seal_issued = False


def issue_privacy_seal() -> PrivacySeal:
    """Hand the one privacy seal to its owner. A second call raises: only one module may mask."""
    global _seal_issued  # noqa: PLW0603 - the one-shot latch is the point
    if _seal_issued:
        raise RuntimeError("the privacy seal has already been issued; only the privacy stage may hold it")
    _seal_issued = True
    return _SEAL


@dataclass(frozen=True, slots=True)
class MaskedFrame:
    """A frame whose private areas have been burned out. The only frame type consumers accept.

    ``pixels`` is read-only: consumers share one array and must copy before drawing on it.
    """

    pixels: Pixels
    index: int
    capture_ts_ns: int
    monotonic_ns: int
    source: str
    mask_id: str
    """Stable hash of the mask set applied to these pixels (see ``edge.privacy.masks``)."""
    seal: PrivacySeal = field(repr=False, compare=False)
    """The privacy stage's seal; anything else is refused."""
    blanked: bool = False
    """True when the whole frame was blanked (fail-closed), not just the masked areas."""
    truth: GroundTruth | None = None

    def __post_init__(self) -> None:
        if self.seal is not _SEAL or not _seal_issued:
            raise TypeError("MaskedFrame can only be created by the privacy stage")
        if self.pixels.flags.writeable:
            raise ValueError("MaskedFrame pixels must be read-only")

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])
