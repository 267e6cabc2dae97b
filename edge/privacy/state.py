"""What the privacy stage reports to health: its mode, why, and where the view checks stand."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class PrivacyMode(enum.StrEnum):
    MASKING = "masking"
    """Masks are applied; frames flow."""
    OFF = "off"
    """Masking explicitly switched off for this camera (with a reason); frames flow unmasked."""
    FAIL_CLOSED = "fail_closed"
    """No image content leaves the stage: frames are dropped, or blanked to the fill colour."""


class TamperStatus(enum.StrEnum):
    DISABLED = "disabled"
    """No checks: masking is off, or ``privacy.tamper.enabled`` is false."""
    NO_REFERENCE = "no_reference"
    """No reference view yet; checks start once a technician approves the view."""
    OK = "ok"
    """The last check matched the reference (drift, if any, is compensated)."""
    SUSPECT = "suspect"
    """The last check failed; frames are blanked while the next checks confirm or clear it."""
    TAMPERED = "tampered"
    """Confirmed: frames are blanked until a technician approves the view."""


@dataclass(frozen=True, slots=True)
class PrivacyState:
    mode: PrivacyMode
    reason: str
    mask_id: str
    masks: int
    frames_masked: int
    frames_blocked: int
    frames_blanked: int = 0
    tamper: TamperStatus = TamperStatus.DISABLED
    tamper_cause: str = ""
    """The cause of the current suspicion or tamper (``displaced``, ``covered``, ...), else empty."""
    shift_share: float = 0.0
    """Last measured move of the image centre against the reference, as a share of the frame width."""
    rotation_deg: float = 0.0
    scale: float = 1.0
    reference_id: str = ""
    warning: str = ""
    """Something health should flag without failing closed (no reference view yet, a rejected one)."""
