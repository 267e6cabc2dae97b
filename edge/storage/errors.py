"""Errors of the storage area, all ``EdgeError``s with a message meant for a human."""

from __future__ import annotations

from edge.errors import EdgeError


class StorageError(EdgeError):
    """A segment could not be written, indexed, read or purged."""


class StorageFullError(StorageError):
    """Even after evicting everything evictable, a segment does not fit the quota."""


class KeyFileError(StorageError):
    """A key file is missing, unreadable, of the wrong kind or too widely readable."""


class SealedFormatError(StorageError):
    """A sealed segment is truncated, malformed, or fails authentication."""


class ExportRefusedError(StorageError):
    """A clip export was refused (e.g. footage older than 30 days without a decision reference)."""
