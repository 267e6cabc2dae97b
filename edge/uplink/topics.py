"""Topic names under ``<prefix>/<node_id>/``. The one place topic strings are built."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Topics:
    prefix: str
    node_id: str

    @property
    def root(self) -> str:
        return f"{self.prefix}/{self.node_id}"

    @property
    def status(self) -> str:
        """Retained ``online`` / ``offline``; ``offline`` is also the last will."""
        return f"{self.root}/status"

    @property
    def health(self) -> str:
        return f"{self.root}/health"

    def event(self, kind: str) -> str:
        """Alarms and state changes: ``event/tamper``, ``event/alarm``, ``event/masks_changed``, ..."""
        return f"{self.root}/event/{kind}"

    @property
    def cmd(self) -> str:
        """Signed command requests from the central system (the node subscribes)."""
        return f"{self.root}/cmd"

    @property
    def cmd_result(self) -> str:
        """One result per request, with the request's ``id``."""
        return f"{self.root}/cmd/result"

    @property
    def audit(self) -> str:
        """Audit log entries, hash-chained and signed by the device key."""
        return f"{self.root}/audit"

    @property
    def anpr_read(self) -> str:
        """Police ANPR: one read record per vehicle pass (``edge.anpr_read/1``)."""
        return f"{self.root}/anpr/read"

    @property
    def anpr_hit(self) -> str:
        """Police ANPR: a read that matched a police hotlist (``edge.anpr_hit/1``), the top priority."""
        return f"{self.root}/anpr/hit"

    @property
    def lez_read(self) -> str:
        """LEZ profile without a LEZ list: the minimal read (``edge.lez_read/1``)."""
        return f"{self.root}/lez/read"

    @property
    def lez_evidence(self) -> str:
        """LEZ profile with a LEZ list: a read of a listed, not admitted vehicle (``edge.lez_evidence/1``)."""
        return f"{self.root}/lez/evidence"

    def clip(self, suffix: str) -> str:
        """``clip/<clip_id>/chunk/<n>`` and ``clip/<clip_id>/meta``."""
        return f"{self.root}/{suffix}"

    @property
    def all(self) -> str:
        return f"{self.root}/#"
