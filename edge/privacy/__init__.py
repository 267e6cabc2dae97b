"""The privacy stage: the one place raw frames become ``MaskedFrame`` objects.

Masks are burned into the pixels here, before the recorder, ANPR, preview or uplink can see a frame.
The stage fails closed: when it cannot guarantee masking it emits nothing.
"""

from edge.privacy.masks import MaskSet
from edge.privacy.stage import PrivacyStage, PrivacyState

__all__ = ["MaskSet", "PrivacyStage", "PrivacyState"]
