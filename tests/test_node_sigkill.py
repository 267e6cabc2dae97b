"""The whole node SIGKILLed at random moments, again and again, while it records and answers commands.

``KILL_CYCLES`` kills (3 under ``make test``, 20 under ``make soak``). Each cycle starts the node, waits
until it answers a signed ``ping`` (it is up), then keeps commands coming while a random delay runs out
and kills it with SIGKILL: mid-segment, mid-command, mid-outbox write. Afterwards the node is started a last
time, its outbox drains, it is stopped with SIGTERM, and:

- nothing acknowledged is lost: every sequence number the outbox committed, on every stream except the
  coalesced ``health``, reached the central subscriber (de-duplicated by ``msg_id``), and every command
  the node answered is in its audit log, whose hash chain still verifies;
- the ring buffer is consistent: reopening it reconciles, and every indexed segment verifies, decrypts and
  decodes to its frame count; the last start records again;
- recovery needs no human: every restart reaches ``ping``-answering by itself;
- the fault is visible while it lasts: after every kill the broker publishes the node's ``offline`` last
  will, which is what the centre sees of a dead node.
"""

from __future__ import annotations

import contextlib
import os
import queue
import random
import signal
import sqlite3
import threading
from pathlib import Path

import pytest

from edge.audit import verify_chain
from edge.clock import SystemClock
from edge.ctl.cli import main as edgectl
from edge.ctl.send import SendOptions, make_request, send_and_wait
from edge.storage.keys import load_ed25519_private, load_ed25519_public, load_x25519_public
from edge.storage.profiles import Profile
from edge.storage.retention import RetentionPolicy
from edge.storage.store import SegmentStore
from tests.broker import Broker
from tests.mqtt_client import Message, Subscriber, wait_until
from tests.node_process import NodeProcess, node_config
from tests.storage_support import Keys, check_consistent

KILL_CYCLES = int(os.environ.get("KILL_CYCLES", "3"))
COALESCED = frozenset({"health"})


class Centre:
    """The central side: every outbox message once (by ``msg_id``), and the node's status changes."""

    def __init__(self, broker: Broker) -> None:
        self._sub = Subscriber(broker.host, broker.port, "cams/test-node/#")
        self.seqs: dict[str, set[int]] = {}
        self.msg_ids: set[str] = set()
        self.online = threading.Event()
        self.offline = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                msg = self._sub.messages.get(timeout=0.2)
            except queue.Empty:
                continue
            self._take(msg)

    def _take(self, msg: Message) -> None:
        if msg.topic.endswith("/status"):
            if not msg.retain:
                {"online": self.online, "offline": self.offline}[msg.json()["state"]].set()
            return
        if msg.topic.endswith("/cmd"):
            return
        doc = msg.json()
        if doc["msg_id"] in self.msg_ids:
            return
        self.msg_ids.add(doc["msg_id"])
        self.seqs.setdefault(doc["stream"], set()).add(int(doc["seq"]))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sub.close()


class Pinger:
    """Signed ``ping`` requests, one every few tens of milliseconds, while the node is being killed."""

    def __init__(self, opts: SendOptions, key_file: Path, rng: random.Random) -> None:
        self._opts = opts
        self._key = load_ed25519_private(key_file)
        self._rng = rng
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def ping(self, timeout_s: float) -> dict[str, object]:
        opts = SendOptions(self._opts.host, self._opts.port, self._opts.prefix, self._opts.node, timeout_s)
        return send_and_wait(opts, make_request("ping", {}, self._key, issuer="op:kill-test"))

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._rng.uniform(0.02, 0.1)):
            with contextlib.suppress(Exception):  # the node dies under some of them: that is the point
                self.ping(0.5)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)


def outbox_state(path: Path) -> tuple[dict[str, int], dict[str, int], int]:
    """(last committed seq per stream, dropped by policy per stream, rows not yet delivered)."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        last = {str(s): int(n) for s, n in db.execute("SELECT stream, last_seq FROM streams")}
        dropped = {str(s): int(n) for s, n in db.execute("SELECT stream, count FROM dropped")}
        (left,) = db.execute("SELECT count(*) FROM messages").fetchone()
    return last, dropped, int(left)


def indexed_segments(path: Path) -> int:
    """Segments in the ring buffer's index, read while the node runs (WAL: readers do not block it)."""
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        return int(db.execute("SELECT count(*) FROM segments").fetchone()[0])


@pytest.mark.slow
def test_a_node_killed_at_random_moments_loses_nothing_acknowledged(tmp_path: Path, broker: Broker) -> None:
    keys = tmp_path / "keys"
    assert edgectl(["keys", "--out", str(keys), "--device"]) == 0
    cfg = node_config(
        tmp_path,
        broker,
        storage={
            "enabled": True,
            "segment_seconds": 1.0,
            "central_public_key_file": str(keys / "central_seal.pub"),
            "device_key_file": str(keys / "device_sign.key"),
        },
        commands={"central_public_key_files": [str(keys / "central_sign.pub")], "max_validity_s": 120},
    )
    state = Path(cfg["node"]["state_dir"])
    rng = random.Random(20261129)
    centre = Centre(broker)
    opts = SendOptions(broker.host, broker.port, "cams", "test-node", 30)
    answered = 0
    try:
        for cycle in range(KILL_CYCLES):
            centre.online.clear()
            node = NodeProcess(tmp_path, cfg)
            try:
                assert centre.online.wait(60), f"cycle {cycle}: the node did not come back online"
                pinger = Pinger(opts, keys / "central_sign.key", rng)
                assert pinger.ping(60)["ok"] is True, f"cycle {cycle}: the node did not come back"
                answered += 1
                centre.offline.clear()
                pinger.start()
                threading.Event().wait(rng.uniform(0.3, 3.0))  # the random moment itself, not a sync
                node.signal(signal.SIGKILL)
                assert node.wait(10) == -signal.SIGKILL
                pinger.stop()
            finally:
                node.close()
            assert centre.offline.wait(15), f"cycle {cycle}: no offline last will after the kill"

        centre.online.clear()
        node = NodeProcess(tmp_path, cfg)
        try:
            assert centre.online.wait(60), "the node did not come back online"
            assert Pinger(opts, keys / "central_sign.key", rng).ping(60)["ok"] is True
            before = indexed_segments(state / "recordings" / "index.sqlite3")
            wait_until(
                lambda: indexed_segments(state / "recordings" / "index.sqlite3") >= before + 2,
                60,
                "the restarted node to record again",
            )
            wait_until(lambda: outbox_state(state / "outbox.sqlite")[2] == 0, 60, "the outbox to drain")
            node.signal(signal.SIGTERM)
            assert node.wait(30) == 0, node.log()[-3000:]
        finally:
            node.close()
        last, dropped, _ = outbox_state(state / "outbox.sqlite")
        wait_until(
            lambda: all(len(centre.seqs.get(s, ())) >= n for s, n in last.items() if s not in COALESCED),
            20,
            "every committed message at the centre",
        )
    finally:
        centre.close()

    assert not any(dropped.values()), f"the overflow policy dropped messages: {dropped}"
    for stream, n in last.items():
        if stream not in COALESCED:
            missing = sorted(set(range(1, n + 1)) - centre.seqs.get(stream, set()))
            assert not missing, f"{stream}: committed but never delivered: {missing[:20]}"
    assert last.get("cmd_result", 0) >= answered + 1, "answered commands without a result in the outbox"

    report = verify_chain(state / "audit.jsonl", load_ed25519_public(keys / "device_sign.pub"))
    assert report.ok, f"audit chain broken after the kills: {report}"

    store = SegmentStore(
        state / "recordings",
        "test-node",
        load_x25519_public(keys / "central_seal.pub"),
        RetentionPolicy(Profile.POLICE, 30, 10 * 1024**3, min_free_share=0),
        SystemClock(),
    )
    try:
        checked = check_consistent(store, Keys(keys))
    finally:
        store.close()
    assert checked >= before + 2
