"""Typed hand-offs of the command path: a verified ``Command``, its ``Result``, and ``CommandError``."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from edge.errors import EdgeError


class ErrorCode(enum.StrEnum):
    """Machine-readable ``error.code`` of a failed command."""

    MALFORMED = "malformed"
    """Not JSON, not an object, a missing or wrongly typed field."""
    TOO_LARGE = "too_large"
    BAD_SIGNATURE = "bad_signature"
    """Missing, malformed, or not made by any configured central key."""
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    VALIDITY_TOO_LONG = "validity_too_long"
    REPLAYED = "replayed"
    UNKNOWN_COMMAND = "unknown_command"
    BAD_ARGS = "bad_args"
    UNSUPPORTED = "unsupported"
    """A known command this node cannot carry out (not built yet, or not on this node)."""
    REFUSED = "refused"
    """Carried out checks said no, e.g. old footage without a decision reference."""
    FAILED = "failed"
    """The command was valid but failed on the node."""


class CommandError(EdgeError):
    """A command answered with an error result; ``code`` is the ``ErrorCode``."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Command:
    """A request whose signature, validity window and freshness were checked."""

    id: str
    name: str
    args: dict[str, Any] = field(hash=False)
    issued_at_ns: int
    expires_at_ns: int
    issuer: str
    """Who asked (the signed identity of a central operator or service)."""
    key_id: str
    """Fingerprint of the central key that verified the signature."""


@dataclass(frozen=True, slots=True)
class Result:
    """The answer on ``cmd/result``: ``{id, ok: true, data}`` or ``{id, ok: false, error}``."""

    id: str
    ok: bool
    data: dict[str, Any] | None = field(default=None, hash=False)
    error_code: ErrorCode | None = None
    error_message: str = ""

    @classmethod
    def success(cls, request_id: str, data: dict[str, Any]) -> Result:
        return cls(request_id, True, data)

    @classmethod
    def failure(cls, request_id: str, error: CommandError) -> Result:
        return cls(request_id, False, None, error.code, error.message)

    def to_json(self) -> dict[str, Any]:
        if self.ok:
            return {"id": self.id, "ok": True, "data": self.data or {}}
        code = self.error_code or ErrorCode.FAILED
        return {"id": self.id, "ok": False, "error": {"code": code.value, "message": self.error_message}}
