"""Argument schemas of the commands (pydantic, ``extra="forbid"``): a bad argument is a ``bad_args`` error."""

from __future__ import annotations

from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from edge.config import MaskConfig


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class NoArgs(_Args):
    pass


class HoldArgs(_Args):
    start: AwareDatetime = Field(alias="from")
    end: AwareDatetime = Field(alias="to")
    case_ref: str = Field(min_length=1, max_length=200)
    expires_at: AwareDatetime


class ReleaseArgs(_Args):
    hold_id: str = Field(pattern=r"^[0-9a-f]{32}$")


class ExportArgs(_Args):
    start: AwareDatetime = Field(alias="from")
    end: AwareDatetime = Field(alias="to")
    purpose: str = Field(min_length=1, max_length=500)
    decision_ref: str | None = Field(default=None, max_length=200)


class ResendClipArgs(_Args):
    clip_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    chunks: list[int] | None = Field(default=None, max_length=100_000)
    """Chunk numbers to send again; all of them when omitted."""


class SetMasksArgs(_Args):
    masks: list[MaskConfig] = Field(max_length=64)


class SetConfigArgs(_Args):
    values: dict[str, Any] = Field(default_factory=dict, max_length=64)
    """Dotted key (e.g. ``mqtt.health_interval_s``) → new value; see ``edge.config_override``."""
    reset: list[str] = Field(default_factory=list, max_length=64)
    """Dotted keys that go back to the YAML's value."""


class SetHotlistArgs(_Args):
    bundle: dict[str, Any]
    """A signed ``edge.hotlist/1`` bundle (docs/hotlists.md), checked by ``anpr.hotlist.parse_bundle``."""


def ns(t: AwareDatetime) -> int:
    return int(t.timestamp() * 1_000_000) * 1000
