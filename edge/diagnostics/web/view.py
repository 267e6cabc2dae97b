"""What the diagnostics page needs from the node: a small protocol, and the records that cross it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from edge.diagnostics.checks import CheckResult
from edge.diagnostics.health import HealthReport


@dataclass(frozen=True, slots=True)
class PreviewImage:
    """The newest *masked* frame as JPEG, with the id of the mask set burned into it."""

    mask_id: str
    jpeg: bytes
    blanked: bool = False


@dataclass(frozen=True, slots=True)
class MaskOutline:
    name: str
    points: tuple[tuple[float, float], ...]
    """Corners in pixels of a ``width`` x ``height`` frame."""


@dataclass(frozen=True, slots=True)
class MaskOutlines:
    """The masks being burned in now (drift compensation included), in frame pixels."""

    width: int
    height: int
    polygons: tuple[MaskOutline, ...]


@dataclass(frozen=True, slots=True)
class RecentEvent:
    ts_ns: int
    kind: str
    cause: str
    actor: str = ""


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One login, failed login, logout or action on the page: who, when (UTC ns), what, and the outcome."""

    ts_ns: int
    actor: str
    action: str
    outcome: str
    remote: str
    detail: str = ""


class NodeView(Protocol):
    """The node as the diagnostics page sees it. Every method may be called from any thread."""

    def health(self) -> HealthReport: ...

    def preview_jpeg(self) -> PreviewImage | None:
        """None before the first frame (or while the privacy stage lets nothing through)."""

    def mask_outlines(self) -> MaskOutlines: ...

    def recent_events(self) -> tuple[RecentEvent, ...]: ...

    def approve_view(self, actor: str) -> None: ...

    def capture_reference(self, actor: str) -> None: ...

    def run_selftests(self) -> tuple[CheckResult, ...]: ...
