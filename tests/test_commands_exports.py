"""Clean-up of ``<state_dir>/exports/``: unfinished and too old folders at start, delivered ones after the
keep time (measured from the moment the outbox held none of their messages), audited."""

from __future__ import annotations

import json
import os
from pathlib import Path

from edge.audit import AuditLog
from edge.clock import FakeClock
from edge.commands.exports import ExportSweeper
from edge.storage.export import MANIFEST_NAME, SIGNATURE_NAME
from edge.uplink.outbox import Outbox, Priority
from tests.broker import Broker
from tests.mqtt_client import Subscriber
from tests.node_process import NodeProcess, node_config

HOUR_S = 3600


def make_export(
    root: Path, clip_id: str, *, finished: bool = True, age_s: float = 0, now_s: float = 0
) -> Path:
    folder = root / clip_id
    folder.mkdir(parents=True)
    (folder / "0001.seg").write_bytes(b"sealed" * 100)
    if finished:
        (folder / SIGNATURE_NAME).write_text("sig")
        (folder / MANIFEST_NAME).write_text("{}")
    for path in [*folder.iterdir(), folder]:
        os.utime(path, (now_s - age_s, now_s - age_s))
    return folder


def test_exports_are_removed_when_unfinished_too_old_or_delivered_and_kept_long_enough(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    now_s = clock.time_ns() / 1e9
    exports = tmp_path / "exports"
    outbox = Outbox(
        tmp_path / "outbox.sqlite",
        max_messages=100,
        max_bytes=1 << 20,
        time_ns=clock.time_ns,
        overflow_report=lambda totals: ("o", {}),
    )
    audit = AuditLog(tmp_path / "audit.jsonl", "n", None, clock.time_ns)
    sweeper = ExportSweeper(
        exports,
        pending=lambda clip_id: outbox.pending("clip", f"cams/n/clip/{clip_id}/"),
        keep_s=600,
        max_age_h=48,
        time_ns=clock.time_ns,
        monotonic_ns=clock.monotonic_ns,
        audit=audit,
    )
    assert sweeper.sweep_at_start() == [] and sweeper.sweep() == [], "no exports folder yet"

    make_export(exports, "a" * 32, finished=False, now_s=now_s)
    make_export(exports, "b" * 32, age_s=49 * HOUR_S, now_s=now_s)
    sending = make_export(exports, "c" * 32, age_s=HOUR_S, now_s=now_s)
    idle = make_export(exports, "d" * 32, age_s=HOUR_S, now_s=now_s)
    for n in range(3):
        outbox.enqueue("clip", f"cams/n/clip/{'c' * 32}/chunk/{n}", {"n": n}, Priority.CLIP)

    assert sorted(sweeper.sweep_at_start()) == ["a" * 32, "b" * 32]
    assert sorted(p.name for p in exports.iterdir()) == ["c" * 32, "d" * 32]

    # "d" has nothing in the outbox: its keep time starts now. "c" is still being sent.
    assert sweeper.sweep() == []
    clock.advance(599)
    assert sweeper.sweep() == []
    clock.advance(2)
    assert sweeper.sweep() == ["d" * 32]
    assert not idle.exists() and sending.exists()

    # The broker acknowledges all of "c": its keep time starts at the first sweep that sees that.
    outbox.ack([m.row_id for m in outbox.claim(10)])
    clock.advance(10 * HOUR_S)
    assert sweeper.sweep() == [], "the wait starts when the sweeper sees it idle"
    # A resend_clip in between queues chunks again and restarts the wait.
    clock.advance(300)
    outbox.enqueue("clip", f"cams/n/clip/{'c' * 32}/chunk/1", {"n": 1}, Priority.CLIP)
    assert sweeper.sweep() == []
    outbox.ack([m.row_id for m in outbox.claim(10)])
    assert sweeper.sweep() == []
    clock.advance(599)
    assert sweeper.sweep() == []
    clock.advance(1)
    assert sweeper.sweep() == ["c" * 32]
    assert list(exports.iterdir()) == []

    # The age rule also applies on a sweep, whatever the folder's state.
    make_export(exports, "e" * 32, age_s=47 * HOUR_S, now_s=clock.time_ns() / 1e9)
    outbox.enqueue("clip", f"cams/n/clip/{'e' * 32}/meta", {}, Priority.CLIP)
    assert sweeper.sweep() == []
    sweeper.set_limits(keep_s=600, max_age_h=46)
    assert sweeper.sweep() == ["e" * 32]
    assert outbox.pending("clip", f"cams/n/clip/{'e' * 32}/") == 1, "queued chunks still go out"

    entries = [json.loads(x) for x in (tmp_path / "audit.jsonl").read_text().splitlines()]
    removed = {e["detail"].split(":")[0]: e for e in entries if e["action"] == "export.removed"}
    assert sorted(removed) == [f"clip_id={c * 32}" for c in "abcde"]
    assert all(e["actor"] == "node" for e in removed.values())
    assert "unfinished" in removed[f"clip_id={'a' * 32}"]["detail"]
    assert "older than 48 h" in removed[f"clip_id={'b' * 32}"]["detail"]
    assert "delivered" in removed[f"clip_id={'d' * 32}"]["detail"]
    outbox.close()


def test_the_node_sweeps_its_exports_at_start(tmp_path: Path, broker: Broker) -> None:
    exports = tmp_path / "state" / "exports"
    now_s = os.path.getmtime(tmp_path)
    make_export(exports, "a" * 32, finished=False, now_s=now_s)
    make_export(exports, "b" * 32, age_s=3 * HOUR_S, now_s=now_s)
    make_export(exports, "c" * 32, age_s=0.5 * HOUR_S, now_s=now_s)
    cfg = node_config(tmp_path, broker, commands={"clip_max_age_h": 2})
    sub = Subscriber(broker.host, broker.port, "cams/test-node/status")
    node = NodeProcess(tmp_path, cfg)
    try:
        sub.expect(lambda m: m.json()["state"] == "online", 20, "online")
    finally:
        node.close()
        sub.close()
    assert sorted(p.name for p in exports.iterdir()) == ["c" * 32]
    actions = [json.loads(x)["action"] for x in (tmp_path / "state" / "audit.jsonl").read_text().splitlines()]
    assert actions.count("export.removed") == 2
