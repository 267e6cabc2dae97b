"""The node side of hotlists: the lists in force, stored under ``<state_dir>/hotlists/``, and matching.

A read is hashed with each list's salt and iterations and looked up among the keyed hashes; the node never
holds plate text (``edge.anpr.hotlist`` has the format and its parser).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from edge.anpr.hotlist import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_ENTRIES,
    MAX_PLATE_CHARS,
    HotlistBundle,
    HotlistEntry,
    HotlistError,
    HotlistErrorCode,
    HotlistHit,
    HotlistState,
    Purpose,
    normalise_plate,
    parse_stored_bundle,
    plate_hashes,
)
from edge.storage.files import TMP_SUFFIX, make_dirs_durably, write_atomically

log = logging.getLogger(__name__)

_Slot = HotlistEntry | tuple[HotlistEntry, ...]
"""One entry, or several under the same hash: a lone entry is stored bare (a tuple per key would cost
about 130 bytes per listed plate)."""


def _add(index: dict[bytes, _Slot], key: bytes, entry: HotlistEntry) -> None:
    slot = index.get(key)
    index[key] = entry if slot is None else (*_entries(slot), entry)


def _entries(slot: _Slot | None) -> tuple[HotlistEntry, ...]:
    if slot is None:
        return ()
    return slot if isinstance(slot, tuple) else (slot,)


@dataclass(frozen=True, slots=True)
class _Loaded:
    """A list in force: its bundle and lookup tables (never mutated after construction)."""

    header: HotlistBundle
    """The bundle without its entries (they live on only in the lookup tables)."""
    entry_count: int
    matching: bool
    """False for a list that had expired when the node started: its entries were never loaded."""
    by_exact: dict[bytes, _Slot]
    by_folded: dict[bytes, _Slot]

    @classmethod
    def of(cls, bundle: HotlistBundle, *, with_entries: bool = True) -> _Loaded:
        by_exact: dict[bytes, _Slot] = {}
        by_folded: dict[bytes, _Slot] = {}
        if with_entries:
            for e in bundle.entries:
                _add(by_exact, e.exact, e)
                _add(by_folded, e.folded, e)
        header = replace(bundle, entries=())
        return cls(header, len(bundle.entries), with_entries, by_exact, by_folded)


class Hotlists:
    """The lists in force on this node, one per ``list_id``. Thread-safe.

    Locking: ``_load_lock`` serialises ``load`` (version check, durable write, swap), so a slow write of a
    large list never blocks ``match``; ``_lock`` guards only the swap of the ``_lists`` mapping, whose
    values are immutable. ``match`` hashes outside every lock."""

    def __init__(self, directory: Path | None = None, *, cache_size: int = 64) -> None:
        self._directory = directory
        self._lock = threading.Lock()
        self._load_lock = threading.Lock()
        self._lists: dict[str, _Loaded] = {}
        self._cache_lock = threading.Lock()
        self._cache: OrderedDict[tuple[str, bytes, int], tuple[bytes, bytes]] = OrderedDict()
        self._cache_size = cache_size

    @classmethod
    def open(
        cls,
        directory: Path,
        keys: Sequence[Ed25519PublicKey],
        now_ns: int,
        *,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> Hotlists:
        """The lists stored in ``directory`` (created 0700 when missing), each re-verified. A list that no
        longer verifies is logged and left out; an expired one keeps only its header (for health and as
        the version floor), never its entries."""
        make_dirs_durably(directory, Path(directory.anchor))
        hotlists = cls(directory)
        for stale in directory.glob(f"*.json{TMP_SUFFIX}"):
            stale.unlink(missing_ok=True)  # a write cut short by a crash; the previous file is intact
        for path in sorted(directory.glob("*.json")):
            try:
                bundle = parse_stored_bundle(
                    path.read_bytes(), keys, max_entries=max_entries, max_bytes=max_bytes
                )
            except (HotlistError, OSError) as exc:
                log.error("hotlist file %s refused at start: %s", path.name, exc)  # noqa: TRY400 (no trace)
                continue
            if path.name != f"{bundle.list_id}.json":
                log.error("hotlist file %s holds list %s; refused", path.name, bundle.list_id)
                continue
            expired = bundle.is_expired(now_ns)
            if expired:
                log.warning(
                    "hotlist %s v%d expired at %s: kept for health only, it matches nothing",
                    bundle.list_id,
                    bundle.version,
                    bundle.expires_at,
                )
            hotlists._lists[bundle.list_id] = _Loaded.of(bundle, with_entries=not expired)
        return hotlists

    def load(self, bundle: HotlistBundle) -> None:
        """Put ``bundle`` in force and store it. Refuses (``stale_version``) a version not newer than the
        one held for its ``list_id``, and (``wrong_purpose``) a ``list_id`` held under the other purpose."""
        with self._load_lock:
            current = self._lists.get(bundle.list_id)
            if current is not None:
                if current.header.purpose is not bundle.purpose:
                    raise HotlistError(
                        HotlistErrorCode.WRONG_PURPOSE,
                        f"list {bundle.list_id} is a {current.header.purpose.value} list on this node",
                    )
                if bundle.version <= current.header.version:
                    raise HotlistError(
                        HotlistErrorCode.STALE_VERSION,
                        f"list {bundle.list_id} v{bundle.version}: v{current.header.version} is loaded",
                    )
            loaded = _Loaded.of(bundle)
            if self._directory is not None:
                self._store(bundle)
            with self._lock:
                self._lists = {**self._lists, bundle.list_id: loaded}
        log.info(
            "hotlist %s v%d loaded: %s, %d entries, expires %s",
            bundle.list_id,
            bundle.version,
            bundle.purpose.value,
            len(bundle.entries),
            bundle.expires_at,
        )

    def _store(self, bundle: HotlistBundle) -> None:
        assert self._directory is not None
        final = self._directory / f"{bundle.list_id}.json"

        def write(f: BinaryIO) -> None:
            for piece in bundle.iter_json():
                f.write(piece)

        try:
            make_dirs_durably(self._directory, Path(self._directory.anchor))
            final.with_name(final.name + TMP_SUFFIX).unlink(missing_ok=True)
            write_atomically(final, write)
        except OSError as exc:
            raise HotlistError(
                HotlistErrorCode.STORAGE, f"cannot store list {bundle.list_id}: {exc.strerror or exc}"
            ) from None

    def match(self, plate_text: str, now_ns: int, *, purpose: Purpose | None = None) -> list[HotlistHit]:
        """Hits for one read among the lists in force (of ``purpose`` only, when given): exact hits first,
        then folded-only ones (``fuzzy``). Expired lists never match."""
        plate = normalise_plate(plate_text)
        if not plate or len(plate) > MAX_PLATE_CHARS:
            return []
        with self._lock:
            lists = sorted(self._lists.values(), key=lambda loaded: loaded.header.list_id)
        exact_hits: list[HotlistHit] = []
        fuzzy_hits: list[HotlistHit] = []
        for loaded in lists:
            b = loaded.header
            if (
                not loaded.matching
                or b.is_expired(now_ns)
                or (purpose is not None and b.purpose is not purpose)
            ):
                continue
            exact, folded = self._hashes(plate, b.salt, b.iterations)
            for e in _entries(loaded.by_exact.get(exact)):
                exact_hits.append(HotlistHit(b.list_id, b.purpose, b.version, e.category, e.ref, False))
            for e in _entries(loaded.by_folded.get(folded)):
                if e.exact != exact:
                    fuzzy_hits.append(HotlistHit(b.list_id, b.purpose, b.version, e.category, e.ref, True))
        return exact_hits + fuzzy_hits

    def _hashes(self, plate: str, salt: bytes, iterations: int) -> tuple[bytes, bytes]:
        # Several lists signed with the same parameters share one computation; so do repeated reads.
        key = (plate, salt, iterations)
        with self._cache_lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                return cached
        hashes = plate_hashes(plate, salt, iterations)
        with self._cache_lock:
            self._cache[key] = hashes
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return hashes

    def state(self, now_ns: int) -> list[HotlistState]:
        with self._lock:
            lists = sorted(self._lists.values(), key=lambda loaded: loaded.header.list_id)
        return [
            HotlistState(
                list_id=x.header.list_id,
                purpose=x.header.purpose,
                version=x.header.version,
                entries=x.entry_count,
                expires_at=x.header.expires_at,
                expired=x.header.is_expired(now_ns),
                active=x.matching and not x.header.is_expired(now_ns),
            )
            for x in lists
        ]
