"""The audit log: append-only, hash-chained, signed; the verifier pinpoints the first broken link."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.audit import AuditLog, verify_chain
from edge.ctl.cli import main as edgectl
from edge.storage.keys import generate_device_key, load_ed25519_private

KEY = Ed25519PrivateKey.generate()


def write_log(path: Path, n: int, key: Ed25519PrivateKey | None = KEY) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    log = AuditLog(path, "n1", key, time.time_ns, sink=sent.append)
    for i in range(n):
        log.append(
            actor=f"op{i}", action="command.hold", purpose="case=C-1", start_ns=10**18, end_ns=10**18 + 1
        )
    return sent


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_chain_links_entries_and_verifies(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    sent = write_log(path, 3)
    docs = lines(path)
    assert [d["entry"] for d in docs] == [1, 2, 3]
    assert docs[0]["prev"] == "0" * 64 and docs[1]["prev"] == docs[0]["hash"]
    assert docs[0]["start"].endswith("Z") and docs[0]["actor"] == "op0"
    assert sent == docs, "every entry is handed to the uplink as written"
    report = verify_chain(path, KEY.public_key())
    assert report.ok and report.entries == 3


def test_reopened_log_continues_the_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write_log(path, 2)
    write_log(path, 2)
    assert [d["entry"] for d in lines(path)] == [1, 2, 3, 4]
    assert verify_chain(path, KEY.public_key()).ok


def test_edits_removals_and_forgeries_are_pinpointed(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write_log(path, 4)
    original = path.read_text().splitlines()

    docs = lines(path)
    docs[2]["actor"] = "someone else"
    path.write_text("\n".join(json.dumps(d) for d in docs) + "\n")
    report = verify_chain(path, KEY.public_key())
    assert report.broken_line == 3 and "edited" in report.reason and report.entries == 2

    path.write_text("\n".join(original[:1] + original[2:]) + "\n")
    report = verify_chain(path, KEY.public_key())
    assert report.broken_line == 2 and "removed" in report.reason

    path.write_text("\n".join(original) + "\n")
    assert "signature" in verify_chain(path, Ed25519PrivateKey.generate().public_key()).reason


def test_a_torn_last_line_is_cut_off_on_reopen(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write_log(path, 2)
    with path.open("a") as f:
        f.write('{"entry": 3, "half')
    write_log(path, 1)
    assert [d["entry"] for d in lines(path)] == [1, 2, 3]
    assert verify_chain(path, KEY.public_key()).ok


def test_unsigned_entries_fail_verification(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write_log(path, 1, key=None)
    assert "unsigned" in verify_chain(path, KEY.public_key()).reason


def test_edgectl_audit_verify(tmp_path: Path, capsys: Any) -> None:
    files = generate_device_key(tmp_path / "keys")
    path = tmp_path / "audit.jsonl"
    write_log(path, 3, key=load_ed25519_private(files.private))
    assert edgectl(["audit", "verify", str(path), "--device-pub", str(files.public)]) == 0
    assert "3 entries" in capsys.readouterr().out
    docs = lines(path)
    docs[1]["purpose"] = "none"
    path.write_text("\n".join(json.dumps(d) for d in docs) + "\n")
    assert edgectl(["audit", "verify", str(path), "--device-pub", str(files.public)]) == 1
    assert "line 2" in capsys.readouterr().out
