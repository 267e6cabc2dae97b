"""``PrivacyStage``: turns raw ``Frame`` objects into ``MaskedFrame`` objects, or into nothing.

Contract:
- it holds the privacy seal, so it is the only code that can create a ``MaskedFrame``;
- it masks in place and then makes the array read-only; sources hand over ownership of each frame's array;
- on any doubt it fails closed and returns ``None``: masks required but none configured, or an error
  while masking. The reason is kept in ``state()`` for health.
- masking switched off (``privacy.required: false``) is honoured only with a written reason, which is
  logged at start and reported in every health message.
"""

from __future__ import annotations

import enum
import logging
import threading
from dataclasses import dataclass

from edge.config import PrivacyConfig
from edge.privacy.masks import NO_MASKS_ID, MaskSet
from edge.types import Frame, MaskedFrame, issue_privacy_seal

log = logging.getLogger(__name__)

_SEAL = issue_privacy_seal()


class PrivacyMode(enum.StrEnum):
    MASKING = "masking"
    """Masks are applied; frames flow."""
    OFF = "off"
    """Masking explicitly switched off for this camera (with a reason); frames flow unmasked."""
    FAIL_CLOSED = "fail_closed"
    """No frame leaves the stage."""


@dataclass(frozen=True, slots=True)
class PrivacyState:
    mode: PrivacyMode
    reason: str
    mask_id: str
    masks: int
    frames_masked: int
    frames_blocked: int


class PrivacyStage:
    """Applies the current mask set to each frame. ``process`` is called from the capture thread only."""

    def __init__(self, config: PrivacyConfig) -> None:
        self._lock = threading.Lock()  # guards the mask set and counters against health readers
        self._required = config.required
        self._off_reason = config.off_reason.strip()
        self._masks = MaskSet.from_config(config)
        self._masked = 0
        self._blocked = 0
        self._error = ""
        if not self._required:
            log.warning("privacy masking is switched off for this camera: %s", self._off_reason)
        elif self._masks.empty:
            log.error("privacy masks are required but none are configured: no frame will leave the node")

    def process(self, frame: Frame) -> MaskedFrame | None:
        """Mask ``frame`` and return it sealed, or return ``None`` when masking cannot be guaranteed."""
        with self._lock:
            masks = self._masks
        if self._required and masks.empty:
            self._count(blocked=True)
            return None
        try:
            pixels = frame.pixels
            if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.dtype.name != "uint8":
                raise ValueError(f"unexpected frame layout {pixels.shape} {pixels.dtype}")
            masks.burn(pixels)
            pixels.flags.writeable = False
            masked = MaskedFrame(
                pixels=pixels,
                index=frame.index,
                capture_ts_ns=frame.capture_ts_ns,
                monotonic_ns=frame.monotonic_ns,
                source=frame.source,
                mask_id=masks.mask_id if self._required else NO_MASKS_ID,
                seal=_SEAL,
                truth=frame.truth,
            )
        except Exception as exc:
            log.exception("privacy stage failed; blocking frame %d", frame.index)
            self._count(blocked=True, error=f"{type(exc).__name__}: {exc}")
            return None
        self._count(blocked=False)
        return masked

    def _count(self, *, blocked: bool, error: str = "") -> None:
        with self._lock:
            if blocked:
                self._blocked += 1
                if error:
                    self._error = error
            else:
                self._masked += 1
                self._error = ""

    def state(self) -> PrivacyState:
        with self._lock:
            masks, masked, blocked, error = self._masks, self._masked, self._blocked, self._error
        if not self._required:
            mode, reason = PrivacyMode.OFF, f"masking switched off: {self._off_reason}"
        elif masks.empty:
            mode, reason = PrivacyMode.FAIL_CLOSED, "masks are required but none are configured"
        elif error:
            mode, reason = PrivacyMode.FAIL_CLOSED, f"masking failed: {error}"
        else:
            mode, reason = PrivacyMode.MASKING, ""
        return PrivacyState(
            mode=mode,
            reason=reason,
            mask_id=masks.mask_id if self._required else NO_MASKS_ID,
            masks=len(masks.polygons),
            frames_masked=masked,
            frames_blocked=blocked,
        )
