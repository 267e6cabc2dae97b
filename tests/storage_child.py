"""A recording node in miniature, run as a child process by the crash tests and killed with SIGKILL.

``python -m tests.storage_child ROOT KEYS START_S [CRASH_POINT NTH]`` records the small synthetic camera
non-realtime (a fake clock advancing 40 ms per frame) into 1 s segments with a small quota, so eviction
runs all the time. It prints ``stored <id>`` after each segment is indexed and ``frame <n>`` every few
frames, flushing each line, so the parent can kill it at varied moments without sleeping. With a crash
point it kills itself at the ``NTH`` time it reaches that point.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edge.capture.synthetic import SyntheticStreetCamera
from edge.clock import FakeClock
from edge.config import PrivacyConfig
from edge.privacy import PrivacyStage
from edge.storage import index, sealing
from edge.storage.keys import load_x25519_public
from edge.storage.profiles import Profile
from edge.storage.pyav_encoder import PyAVEncoder
from edge.storage.recorder import RecorderConsumer
from edge.storage.retention import RetentionPolicy
from edge.storage.store import SegmentStore
from tests.storage_support import MASK, NODE_ID, SMALL_CAMERA, Keys

QUOTA_BYTES = 400_000
MAX_FRAMES = 3000


def _die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def _arm(point: str, nth: int) -> None:
    """Wrap one step of the write or purge path so that its ``nth`` call kills the process."""
    calls = 0

    def hit() -> bool:
        nonlocal calls
        calls += 1
        return calls == nth

    def wrap(owner: Any, name: str, before: bool) -> None:
        original: Callable[..., Any] = getattr(owner, name)

        def wrapper(*args: Any, **kw: Any) -> Any:
            if before and hit():
                _die()
            result = original(*args, **kw)
            if not before and hit():
                _die()
            return result

        setattr(owner, name, wrapper)

    if point == "mid_write":  # half the sealed bytes reached the .tmp file

        def half_write(self: sealing.Sealer, plaintext: bytes, out: Any) -> Any:
            if hit():
                out.write(b"\0" * 1000)
                out.flush()
                os.fsync(out.fileno())
                _die()
            return original_write(self, plaintext, out)

        original_write = sealing.Sealer.write
        sealing.Sealer.write = half_write  # type: ignore[method-assign]
    elif point == "before_rename":
        wrap(os, "replace", before=True)  # files.write_atomically's rename
    elif point == "after_rename":
        wrap(os, "replace", before=False)
    elif point == "after_begin_purge":
        wrap(index.SegmentIndex, "begin_purge", before=False)
    else:
        raise SystemExit(f"unknown crash point {point}")


def main(argv: list[str]) -> int:
    root, key_dir, start_s = Path(argv[0]), Path(argv[1]), float(argv[2])
    if len(argv) == 5:
        _arm(argv[3], int(argv[4]))
    clock = FakeClock(start_ns=int(start_s * 1e9))
    store = SegmentStore(
        root,
        NODE_ID,
        load_x25519_public(Keys(key_dir).central_pub),
        RetentionPolicy(Profile.POLICE, 30, QUOTA_BYTES, min_free_share=0),
        clock,
    )
    print(f"reconciled {store.reconcile_report.repairs}", flush=True)

    def on_segment(segment: Any) -> None:
        print(f"stored {segment.segment_id}", flush=True)

    recorder = RecorderConsumer(store, PyAVEncoder(), segment_seconds=1.0, on_segment=on_segment)
    camera = SyntheticStreetCamera(SMALL_CAMERA, clock)
    camera.open()
    privacy = PrivacyStage(PrivacyConfig(masks=[MASK]))
    n = 0
    while n < MAX_FRAMES:  # until killed; the bound keeps a missed crash point from hanging the test
        frame = privacy.process(camera.read())
        clock.advance(0.04)
        assert frame is not None
        recorder.consume(frame)
        n += 1
        if n % 5 == 0:
            print(f"frame {n}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
