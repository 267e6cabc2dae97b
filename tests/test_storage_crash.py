"""Crash safety: start-up reconciliation, and a recording child process killed with SIGKILL again and again.

After every kill the store is reopened (which reconciles) and checked from the outside: index and files
agree, every segment verifies against its hash, decrypts with the central key and decodes with PyAV to
its indexed frame count, no segment the child reported as stored is missing, and within each run the
surviving segments are contiguous, so a crash cost at most the segment being written.
"""

from __future__ import annotations

import itertools
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from edge.clock import FakeClock
from edge.storage.keys import load_x25519_public
from edge.storage.model import EventKind, ReconcileReport, StorageEvent
from edge.storage.profiles import Profile
from edge.storage.retention import RetentionPolicy
from edge.storage.store import INDEX_NAME, SegmentStore
from tests.storage_support import (
    Keys,
    check_consistent,
    fake_video,
    make_keys,
    open_store,
    segment_files,
)

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def k(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return make_keys(tmp_path_factory.mktemp("keys"))


def stored(store: SegmentStore, n: int, clock: FakeClock) -> list[str]:
    ids = []
    for _ in range(n):
        clock.advance(10)
        now = clock.time_ns()
        ids.append(store.store(fake_video(500), now - 10**10, now, "m1-test", "fake").segment_id)
    return ids


# ------------------------------------------------------------------------------- reconciliation


def test_a_clean_store_needs_no_repair(tmp_path: Path, k: Keys) -> None:
    clock = FakeClock()
    stored(open_store(tmp_path, k, clock), 3, clock)
    assert open_store(tmp_path, k, clock).reconcile_report.repairs == 0


def test_reconcile_repairs_every_kind_of_leftover(tmp_path: Path, k: Keys) -> None:
    clock = FakeClock()
    store = open_store(tmp_path, k, clock)
    ids = stored(store, 5, clock)
    files = segment_files(tmp_path)
    store.close()
    db = sqlite3.connect(tmp_path / INDEX_NAME)
    with db:
        # ids[0]: committed, then its file vanished.
        files[ids[0]].unlink()
        # ids[1]: renamed into place but the crash came before the index commit -> an orphan to adopt.
        orphan_row = db.execute("SELECT * FROM segments WHERE segment_id = ?", (ids[1],)).fetchone()
        db.execute("DELETE FROM segments WHERE segment_id = ?", (ids[1],))
        # ids[2]: its purge was interrupted after the intent was committed.
        row = db.execute(
            "SELECT segment_id, path, start_ns, end_ns, sealed_bytes FROM segments WHERE segment_id = ?",
            (ids[2],),
        ).fetchone()
        db.execute("DELETE FROM segments WHERE segment_id = ?", (ids[2],))
        db.execute("INSERT INTO purging VALUES (?,?,?,?,?,'age',0)", row)
    db.close()
    # The segment being written at the crash, and a file that claims to be complete but is cut short.
    files[ids[3]].with_name("9999999999999999999-00000000.seg.tmp").write_bytes(b"EDGESEG\x01partial")
    truncated = files[ids[4]].read_bytes()
    files[ids[4]].with_name("9999999999999999998-00000000.seg").write_bytes(truncated[:-10])

    events: list[StorageEvent] = []
    reopened = open_store(tmp_path, k, clock, audit=events.append)
    report = reopened.reconcile_report
    assert (
        report.missing_dropped,
        report.orphans_adopted,
        report.purges_completed,
        report.partial_removed,
        report.invalid_removed,
    ) == (1, 1, 1, 1, 1)
    assert [s.segment_id for s in reopened.segments(0, 2**63 - 1)] == [ids[1], ids[3], ids[4]]
    adopted = reopened.segments(0, 2**63 - 1)[0]
    assert (adopted.sha256, adopted.sealed_bytes, adopted.frames) == (orphan_row[8], orphan_row[5], 1)
    assert [e.kind for e in events] == [EventKind.PURGE]
    assert events[0].segment_ids == (ids[0],) and "reason=missing" in events[0].detail
    assert check_consistent(reopened, k, decode=False) == 3
    assert open_store(tmp_path, k, clock).reconcile_report.repairs == 0


def test_a_file_of_another_node_is_not_adopted(tmp_path: Path, k: Keys) -> None:
    clock = FakeClock()
    policy = RetentionPolicy(Profile.POLICE, 30, 10**9, min_free_share=0)
    other = SegmentStore(tmp_path / "other", "other-node", load_x25519_public(k.central_pub), policy, clock)
    [sid] = stored(other, 1, clock)
    src = segment_files(tmp_path / "other")[sid]
    target = tmp_path / "mine" / src.relative_to(tmp_path / "other")
    target.parent.mkdir(parents=True)
    target.write_bytes(src.read_bytes())
    report = open_store(tmp_path / "mine", k, clock).reconcile_report
    assert (report.orphans_adopted, report.invalid_removed) == (0, 1)
    assert not target.exists()


# ------------------------------------------------------------------------------------ SIGKILL


class Child:
    """The recording child; its stdout lines are how the test knows where it is, without sleeping."""

    def __init__(
        self, root: Path, k: Keys, start_s: float, tmp: Path, crash: tuple[str, int] | None = None
    ) -> None:
        args = [sys.executable, "-m", "tests.storage_child", str(root), str(k.directory), str(start_s)]
        if crash is not None:
            args += [crash[0], str(crash[1])]
        self.stderr = (tmp / f"child-{start_s:.0f}.log").open("wb")
        self.proc = subprocess.Popen(args, cwd=REPO, stdout=subprocess.PIPE, stderr=self.stderr, text=True)
        self.stored: list[str] = []

    def read_lines(self, limit: int | None) -> int:
        """Read until ``limit`` lines arrived (or EOF); returns how many."""
        assert self.proc.stdout is not None
        n = 0
        while limit is None or n < limit:
            line = self.proc.stdout.readline()
            if not line:
                break
            n += 1
            if line.startswith("stored "):
                self.stored.append(line.split()[1])
        return n

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.read_lines(None)  # whatever it managed to print before dying
        self.finish()

    def finish(self) -> None:
        assert self.proc.wait(60) == -signal.SIGKILL, f"child did not die by SIGKILL; see {self.stderr.name}"
        self.stderr.close()


def check_after_crash(root: Path, k: Keys, runs: list[tuple[float, list[str]]]) -> SegmentStore:
    store = open_store(root, k, FakeClock(start_ns=10**18))  # reconciles (no age purge: max age 30 days)
    check_consistent(store, k)
    segments = store.segments(0, 2**63 - 1)
    indexed = {s.segment_id for s in segments}
    oldest = min(s.start_ns for s in segments)
    reported = [sid for _, ids in runs for sid in ids]
    missing = [sid for sid in reported if sid not in indexed and int(sid.split("-")[0]) >= oldest]
    assert not missing, f"segments reported as stored were lost: {missing}"
    assert len(indexed - set(reported)) <= len(runs), "more unreported segments than crashes"
    # Within one run the surviving segments form a gapless chain: at most the tail was lost.
    for start_s, _ in runs:
        lo, hi = int(start_s * 1e9), int((start_s + 500) * 1e9)
        chain = [s for s in segments if lo <= s.start_ns < hi]
        assert all(a.end_ns == b.start_ns for a, b in itertools.pairwise(chain)), "a gap"
    return store


@pytest.mark.slow
def test_sigkill_at_any_moment_loses_at_most_the_segment_being_written(tmp_path: Path, k: Keys) -> None:
    root = tmp_path / "rec"
    runs: list[tuple[float, list[str]]] = []
    # Random-ish moments: the child is killed after a varying number of progress lines, so the kill
    # lands while encoding, sealing, fsyncing, renaming, indexing or purging.
    for cycle, lines in enumerate([23, 41, 12, 67, 35]):
        start_s = 1_800_000_000 + cycle * 1000
        child = Child(root, k, start_s, tmp_path)
        assert child.read_lines(lines) == lines, f"child ended early; see {child.stderr.name}"
        child.kill()
        runs.append((start_s, child.stored))
        check_after_crash(root, k, runs).close()
    assert sum(len(ids) for _, ids in runs) >= 10

    # Deterministic moments: the child kills itself at a chosen step of the write or purge path.
    expectations: dict[str, Callable[[ReconcileReport], bool]] = {
        "mid_write": lambda r: r.partial_removed == 1,
        "before_rename": lambda r: r.partial_removed == 1,
        "after_rename": lambda r: r.orphans_adopted == 1,
        "after_begin_purge": lambda r: r.purges_completed >= 1,
    }
    for i, (point, expected) in enumerate(expectations.items()):
        start_s = 1_800_010_000 + i * 1000
        child = Child(root, k, start_s, tmp_path, crash=(point, 3))
        child.read_lines(None)
        child.finish()
        runs.append((start_s, child.stored))
        store = check_after_crash(root, k, runs)
        assert expected(store.reconcile_report), f"{point}: {store.reconcile_report}"
        store.close()
