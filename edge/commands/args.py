"""Argument schemas of the commands (pydantic, ``extra="forbid"``): a bad argument is a ``bad_args`` error."""

from __future__ import annotations

from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from edge.commands.hotlist_transfer import MAX_PARTS
from edge.config import MaskConfig

TRANSFER_ID = r"^[A-Za-z0-9_-]{1,64}$"


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
    bundle: dict[str, Any] | None = None
    """A signed ``edge.hotlist/1`` bundle (docs/hotlists.md), checked by ``anpr.hotlist.parse_bundle``."""
    transfer_id: str | None = Field(default=None, pattern=TRANSFER_ID)
    """Instead of ``bundle``: the bundle received in parts by ``hotlist_part`` under this id."""

    @model_validator(mode="after")
    def _one_source(self) -> SetHotlistArgs:
        if (self.bundle is None) == (self.transfer_id is None):
            raise ValueError("give exactly one of bundle and transfer_id")
        return self


class HotlistPartArgs(_Args):
    """One part of a bundle too large for one command (``edge.commands.hotlist_transfer``)."""

    transfer_id: str = Field(pattern=TRANSFER_ID)
    index: int = Field(ge=0, lt=MAX_PARTS)
    count: int = Field(ge=1, le=MAX_PARTS)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    """Of the whole bundle's bytes (every part, in order), the same in every part."""
    data: str = Field(min_length=4, pattern=r"^[A-Za-z0-9+/]*={0,2}$")
    """This part's bytes, base64."""

    @model_validator(mode="after")
    def _index_in_count(self) -> HotlistPartArgs:
        if self.index >= self.count:
            raise ValueError(f"index {self.index} is not below count {self.count}")
        return self


def ns(t: AwareDatetime) -> int:
    return int(t.timestamp() * 1_000_000) * 1000
