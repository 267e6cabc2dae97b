"""Errors raised by provisioning, with messages meant for the person running ``edge provision``."""

from __future__ import annotations

from edge.errors import EdgeError


class ProvisionError(EdgeError):
    """Provisioning cannot go on: bad input, a conflicting existing file, or a failed system command."""
