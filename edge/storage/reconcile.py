"""Start-up reconciliation: make the index and the files agree again after a crash, and say what was fixed.

What a crash can leave behind, given the write order (seal to ``.tmp``, fsync, rename, fsync directory,
then commit the index row) and the purge order (move the row to ``purging``, unlink, drop the intent):

- a ``.tmp`` file: the segment being written; deleted (this is the one segment a crash may cost);
- a sealed file without a row: the crash fell between rename and commit; the file is complete (it was
  fsynced before the rename), so its framing is checked and it is indexed from its own header;
- a file whose segment is in ``purging``: the purge was interrupted; the file is deleted now;
- a row without a file (or with a file of the wrong size): the row is dropped and reported;
- anything else under ``segments/`` that is not a complete sealed segment of this node: deleted.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

from edge.storage.errors import SealedFormatError
from edge.storage.files import TMP_SUFFIX, remove_durably
from edge.storage.index import SegmentIndex
from edge.storage.model import ReconcileReport, Segment
from edge.storage.sealing import check_structure

log = logging.getLogger(__name__)

SEGMENTS_DIR = "segments"
SEGMENT_SUFFIX = ".seg"


@dataclass(frozen=True, slots=True)
class Reconciled:
    report: ReconcileReport
    dropped: tuple[Segment, ...]
    """Index entries dropped because their file was missing: purged in effect, and audited as such."""


def reconcile(root: Path, index: SegmentIndex, node_id: str, now_ns: int) -> Reconciled:
    rows = index.files()
    pending = index.pending_purges()
    on_disk: dict[str, Path] = {}
    partial: list[Path] = []
    for path in sorted((root / SEGMENTS_DIR).glob("*/*")):
        if path.name.endswith(TMP_SUFFIX):
            partial.append(path)
        elif path.suffix == SEGMENT_SUFFIX and path.is_file():
            on_disk[path.stem] = path
        else:
            log.warning("reconcile: leaving unexpected entry %s alone", path)

    purge_done = [p for sid, p in on_disk.items() if sid in pending]
    orphans = {sid: p for sid, p in on_disk.items() if sid not in rows and sid not in pending}
    missing = [
        sid
        for sid, (rel, size) in rows.items()
        if sid not in on_disk or on_disk[sid] != root / rel or on_disk[sid].stat().st_size != size
    ]
    dropped = tuple(s for sid in missing if (s := index.get(sid, now_ns)) is not None)
    index.drop_missing(missing)

    invalid: list[Path] = []
    adopted = 0
    for sid, path in orphans.items():
        segment = _adopt(root, path, sid, node_id)
        if segment is None:
            invalid.append(path)
        else:
            index.add(segment)
            adopted += 1
    # A wrong-sized file of a dropped row is not trustworthy either.
    invalid.extend(on_disk[sid] for sid in missing if sid in on_disk)

    remove_durably([*partial, *purge_done, *invalid])
    index.end_purge(pending)
    report = ReconcileReport(
        partial_removed=len(partial),
        orphans_adopted=adopted,
        purges_completed=len(purge_done),
        invalid_removed=len(invalid),
        missing_dropped=len(missing),
    )
    if report.repairs:
        log.warning("reconcile: repaired the ring buffer after an unclean stop: %s", report)
    return Reconciled(report=report, dropped=dropped)


def _adopt(root: Path, path: Path, segment_id: str, node_id: str) -> Segment | None:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as f:
            header = check_structure(f)
            f.seek(0)
            while block := f.read(1 << 20):
                digest.update(block)
    except (SealedFormatError, OSError) as exc:
        log.warning("reconcile: %s is not a complete sealed segment (%s); deleting it", path, exc)
        return None
    if header.segment_id != segment_id or header.node_id != node_id:
        log.error("reconcile: %s belongs to %s/%s; deleting it", path, header.node_id, header.segment_id)
        return None
    log.warning("reconcile: indexing %s, written just before an unclean stop", path.name)
    return Segment(
        segment_id=header.segment_id,
        path=str(path.relative_to(root)),
        start_ns=header.start_ns,
        end_ns=header.end_ns,
        frames=header.frames,
        sealed_bytes=path.stat().st_size,
        mask_id=header.mask_id,
        profile=header.profile,
        sha256=digest.hexdigest(),
        width=header.width,
        height=header.height,
        held=False,
    )
