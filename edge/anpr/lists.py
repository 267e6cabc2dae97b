"""``NodeHotlists``: the hotlists of the node's one ANPR profile, loaded by ``set_hotlist``, matched per pass.

A node serves one controller (requirement 12): a police node accepts and matches only ``police`` lists, a
LEZ node only ``lez`` lists; a bundle of the other purpose is refused (``wrong_purpose``), so there is no
path from one to the other. Every successful load is audited (``anpr.hotlist_load``: who, list id,
version, entry count, signing key); the command itself is audited by the command service as well.
Plates are never logged or audited: a list holds only keyed hashes, and hits name the listing's ``ref``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from edge.anpr.hotlist import HotlistBundle, HotlistHit, HotlistState, Purpose, parse_bundle
from edge.anpr.hotlist_index import Hotlists

log = logging.getLogger(__name__)

AuditSink = Callable[..., object]
"""``AuditLog.append`` (keyword arguments ``actor``, ``action``, ``detail``, ...)."""


@dataclass(frozen=True, slots=True)
class ListLimits:
    max_entries: int
    max_bytes: int
    max_validity_s: float


class NodeHotlists:
    """Thread-safe: ``load`` from the command thread, ``match`` from the ANPR stage, ``state`` from health."""

    def __init__(
        self,
        hotlists: Hotlists,
        keys: Sequence[Ed25519PublicKey],
        purpose: Purpose,
        limits: ListLimits,
        time_ns: Callable[[], int],
        audit: AuditSink,
        error: str = "",
    ) -> None:
        self._hotlists = hotlists
        self._keys = list(keys)
        self.purpose = purpose
        self._limits = limits
        self._time_ns = time_ns
        self._audit = audit
        self.error = error
        """Why the lists are not kept on disk (empty when they are); shown in health."""

    @classmethod
    def open(
        cls,
        directory: Path,
        keys: Sequence[Ed25519PublicKey],
        purpose: Purpose,
        limits: ListLimits,
        time_ns: Callable[[], int],
        audit: AuditSink,
    ) -> NodeHotlists:
        """The lists stored under ``directory``, re-verified; memory-only (and said so in health) when the
        folder cannot be used."""
        try:
            hotlists = Hotlists.open(
                directory, keys, time_ns(), max_entries=limits.max_entries, max_bytes=limits.max_bytes
            )
        except OSError as exc:
            error = (
                f"hotlist folder {directory} unusable ({exc.strerror or exc}): lists are kept in memory only"
            )
            log.error("%s", error)  # noqa: TRY400 - the message says it all
            return cls(Hotlists(None), keys, purpose, limits, time_ns, audit, error)
        return cls(hotlists, keys, purpose, limits, time_ns, audit)

    def load(self, document: dict[str, Any], actor: str) -> HotlistBundle:
        """Verify ``document`` (signature, validity, this node's purpose, limits) and put it in force.
        Raises ``HotlistError``; nothing changes then."""
        bundle = parse_bundle(
            document,
            self._keys,
            self._time_ns(),
            purpose=self.purpose,
            max_entries=self._limits.max_entries,
            max_bytes=self._limits.max_bytes,
            max_validity_s=self._limits.max_validity_s,
        )
        self._hotlists.load(bundle)
        self._audit(
            actor=actor,
            action="anpr.hotlist_load",
            purpose=bundle.purpose.value,
            detail=(
                f"list_id={bundle.list_id} version={bundle.version} entries={len(bundle.entries)} "
                f"expires_at={bundle.expires_at} issuer={bundle.issuer} key={bundle.key_id}"
            )[:1000],
        )
        return bundle

    def match(self, plate: str) -> list[HotlistHit]:
        """Hits of the node's purpose for one read, exact hits first."""
        return self._hotlists.match(plate, self._time_ns(), purpose=self.purpose)

    def any_active(self) -> bool:
        """True when at least one list of the node's purpose is in force (LEZ minimisation depends on it)."""
        return any(s.active and s.purpose is self.purpose for s in self.state())

    def state(self) -> list[HotlistState]:
        return self._hotlists.state(self._time_ns())

    def health(self) -> dict[str, Any]:
        return {
            "purpose": self.purpose.value,
            "error": self.error,
            "lists": [
                {
                    "list_id": s.list_id,
                    "purpose": s.purpose.value,
                    "version": s.version,
                    "entries": s.entries,
                    "expires_at": s.expires_at,
                    "expired": s.expired,
                    "active": s.active,
                }
                for s in self.state()
            ],
        }
