"""The privacy stage: the one place raw frames become ``MaskedFrame`` objects.

Masks are burned into the pixels here, before the recorder, ANPR, preview or uplink can see a frame.
The stage fails closed: when it cannot guarantee masking it emits nothing, and when the camera's view no
longer matches its approved reference view it emits only blanked frames.

Modules: ``masks`` (geometry, mask id, validation), ``fill`` (solid / pixelate / blur), ``geometry``
(view transforms), ``reference`` (the stored reference view), ``alignment`` and ``tamper`` (displacement
and tamper checks), ``overlap`` (the ANPR rule), ``events`` and ``stage``.
"""

from edge.privacy.events import PrivacyEvent
from edge.privacy.masks import AppliedMasks, MaskSet, MaskSetError, Polygon
from edge.privacy.overlap import box_overlaps_masks
from edge.privacy.stage import PrivacyStage
from edge.privacy.state import PrivacyMode, PrivacyState, TamperStatus

__all__ = [
    "AppliedMasks",
    "MaskSet",
    "MaskSetError",
    "Polygon",
    "PrivacyEvent",
    "PrivacyMode",
    "PrivacyStage",
    "PrivacyState",
    "TamperStatus",
    "box_overlaps_masks",
]
