"""Approving the view from a console at installation time: ``edge approve-view``.

The technician has checked the masks in the masked live view; this takes the camera's current view as
the reference that tamper detection compares against. Run it while the node service is stopped (the
camera is opened here), or use the diagnostics action / ``capture_reference`` command on a running node.
"""

from __future__ import annotations

import logging
import time

from edge.capture import open_source
from edge.clock import SystemClock
from edge.config import EdgeConfig
from edge.errors import PrivacyError
from edge.privacy.stage import PrivacyStage, PrivacyState

log = logging.getLogger(__name__)


def approve_view_from_camera(config: EdgeConfig, *, actor: str, timeout_s: float = 30.0) -> PrivacyState:
    """Open the camera, approve its current view as the reference, and store it under ``node.state_dir``."""
    clock = SystemClock()
    stage = PrivacyStage(config.privacy, state_dir=config.node.state_dir, clock=clock)
    source = open_source(config.camera, clock)
    source.open()
    try:
        stage.approve_view(actor=actor)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            stage.process(source.read())
            state = stage.state()
            if state.reference_id and not state.warning:
                log.warning("view approved by %s: reference %s", actor, state.reference_id)
                return state
        raise PrivacyError(f"the view could not be approved within {timeout_s:g} s: {stage.state().warning}")
    finally:
        source.close()
