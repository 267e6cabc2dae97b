"""``edgectl hotlist``: make a signed hotlist bundle from a CSV file, describe one without its secrets, and
send one to a node in parts (``hotlist_part`` then ``set_hotlist`` with the ``transfer_id``).

The CSV has a header row ``plate,category,ref``. Errors name the row, never the plate: the person running
this may be allowed to see the list, the terminal's scrollback and the shell's log files are not.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import json
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from edge.anpr.hotlist import HotlistBundle, Purpose, inspect_bundle
from edge.anpr.hotlist_make import make_bundle
from edge.commands.hotlist_transfer import MAX_PARTS
from edge.ctl.send import CommandSession, SendOptions, make_request
from edge.errors import EdgeError

CSV_COLUMNS = ("plate", "category", "ref")
MAX_VALID_DAYS = 31


@dataclass(frozen=True, slots=True)
class MakeOptions:
    list_id: str
    purpose: Purpose
    version: int
    valid_days: float
    issuer: str
    iterations: int
    workers: int


def read_csv(path: Path) -> list[tuple[str, str, str]]:
    """The rows of a ``plate,category,ref`` file; blank lines are skipped."""
    try:
        return _read_csv(path)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise EdgeError(f"{path}: not a UTF-8 CSV file: {exc}") from None


def _read_csv(path: Path) -> list[tuple[str, str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None or tuple(h.strip().lower() for h in header) != CSV_COLUMNS:
            raise EdgeError(f"{path}: the first row must be the header {','.join(CSV_COLUMNS)}")
        rows = []
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(CSV_COLUMNS):
                raise EdgeError(f"{path}: line {reader.line_num}: expected 3 columns, found {len(row)}")
            plate, category, ref = (cell.strip() for cell in row)
            rows.append((plate, category, ref))
    return rows


class ProgressLine:
    """``hashing 1234/50000 (2%)`` on one terminal line, redrawn at most every ``period_s``; silent when
    the stream is not a terminal (a log file gets only the final summary)."""

    def __init__(self, stream: TextIO, period_s: float = 0.5) -> None:
        self._stream = stream
        self._tty = stream.isatty()
        self._period_s = period_s
        self._last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if not self._tty or (done < total and now - self._last < self._period_s):
            return
        self._last = now
        width = 30
        filled = width * done // max(total, 1)
        bar = "#" * filled + "-" * (width - filled)
        self._stream.write(f"\rhashing [{bar}] {done}/{total} ({100 * done // max(total, 1)}%)")
        if done >= total:
            self._stream.write("\n")
        self._stream.flush()


def make(
    rows: list[tuple[str, str, str]],
    key: Ed25519PrivateKey,
    opts: MakeOptions,
    out: Path,
    progress: Callable[[int, int], None] | None = None,
    now_ns: int | None = None,
) -> int:
    """Hash, sign and write the bundle to ``out`` (created 0600, never overwritten); returns the entries."""
    if not 0 < opts.valid_days <= MAX_VALID_DAYS:
        raise EdgeError(f"--valid-days must be in (0, {MAX_VALID_DAYS}]: a node refuses longer lists")
    if out.exists():
        raise EdgeError(f"{out}: already exists; refusing to overwrite a bundle")
    issued_ns = time.time_ns() if now_ns is None else now_ns
    doc = make_bundle(
        rows,
        list_id=opts.list_id,
        purpose=opts.purpose,
        version=opts.version,
        issued_at_ns=issued_ns,
        expires_at_ns=issued_ns + round(opts.valid_days * 86_400e9),
        issuer=opts.issuer,
        key=key,
        iterations=opts.iterations,
        workers=opts.workers,
        progress=progress,
    )
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")
    return len(doc["entries"])


def describe(bundle: HotlistBundle, verified_by: str | None, now_ns: int) -> list[str]:
    """Header fields and counts; never a hash, the salt or a ref."""
    remaining_s = (bundle.expires_at_ns - now_ns) / 1e9
    validity = (
        f"expired {-remaining_s / 86_400:.1f} days ago"
        if remaining_s <= 0
        else (f"valid for {remaining_s / 86_400:.1f} more days")
    )
    categories = Counter(e.category for e in bundle.entries)
    lines = [
        f"list_id:    {bundle.list_id}",
        f"purpose:    {bundle.purpose.value}",
        f"version:    {bundle.version}",
        f"issued_at:  {bundle.issued_at}",
        f"expires_at: {bundle.expires_at} ({validity})",
        f"issuer:     {bundle.issuer}",
        f"kdf:        pbkdf2-sha256, {bundle.iterations} iterations, {len(bundle.salt)}-byte salt",
        f"entries:    {len(bundle.entries)}",
    ]
    lines += [f"  {category}: {count}" for category, count in sorted(categories.items())]
    if verified_by is None:
        lines.append("signature:  NOT CHECKED (give --pub with the central signing public key)")
    else:
        lines.append(f"signature:  verified by key {verified_by}")
    return lines


def inspect(path: Path, keys: list[Ed25519PublicKey] | None, now_ns: int | None = None) -> list[str]:
    bundle = inspect_bundle(path.read_bytes(), keys)
    return describe(bundle, bundle.key_id or None, time.time_ns() if now_ns is None else now_ns)


# --- sending in parts ------------------------------------------------------------------------------------

DEFAULT_MAX_REQUEST_BYTES = 64 * 1024
"""The node's default ``commands.max_request_bytes``."""
_ENVELOPE_MARGIN = 64
"""Bytes left spare in each request beyond the measured envelope (ids and times vary a little)."""


@dataclass(frozen=True, slots=True)
class SendBundleOptions:
    issuer: str
    validity_s: float
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    """The node's ``commands.max_request_bytes``: every request stays within it."""
    transfer_id: str | None = None
    """Default: from the bundle's sha256 and the part size, so sending the same file again resumes."""


@dataclass(frozen=True, slots=True)
class TransferPlan:
    transfer_id: str
    sha256: str
    parts: list[bytes]


def plan_transfer(data: bytes, key: Ed25519PrivateKey, opts: SendBundleOptions) -> TransferPlan:
    """Split ``data`` into the largest parts whose signed ``hotlist_part`` request fits the node's limit."""
    if not data:
        raise EdgeError("the bundle is empty")
    sha256 = hashlib.sha256(data).hexdigest()
    widest = {
        "transfer_id": opts.transfer_id or "x" * 64,
        "index": MAX_PARTS - 1,
        "count": MAX_PARTS,
        "sha256": sha256,
        "data": "",
    }
    envelope = len(_wire(make_request("hotlist_part", widest, key, issuer=opts.issuer))) + _ENVELOPE_MARGIN
    part_bytes = (opts.max_request_bytes - envelope) // 4 * 3
    if part_bytes <= 0:
        raise EdgeError(f"a max request size of {opts.max_request_bytes} bytes leaves no room for data")
    parts = [data[i : i + part_bytes] for i in range(0, len(data), part_bytes)]
    if len(parts) > MAX_PARTS:
        raise EdgeError(f"{len(parts)} parts of {part_bytes} bytes; a node takes at most {MAX_PARTS}")
    transfer_id = opts.transfer_id or f"{sha256[:32]}-{part_bytes}"
    return TransferPlan(transfer_id, sha256, parts)


def send_bundle(
    path: Path,
    key: Ed25519PrivateKey,
    send: SendOptions,
    opts: SendBundleOptions,
    report: Callable[[str], None],
) -> dict[str, Any]:
    """Send the bundle file at ``path`` in parts, each after the node answered the one before, then
    ``set_hotlist`` with the transfer id; returns that command's result document. A refused part raises
    ``EdgeError`` (what the node kept stays until it times out; sending the same file again resumes)."""
    plan = plan_transfer(path.read_bytes(), key, opts)
    count = len(plan.parts)
    with CommandSession(send) as session:  # one connection for every part
        for index, part in enumerate(plan.parts):
            args = {
                "transfer_id": plan.transfer_id,
                "index": index,
                "count": count,
                "sha256": plan.sha256,
                "data": base64.b64encode(part).decode("ascii"),
            }
            request = make_request("hotlist_part", args, key, issuer=opts.issuer, validity_s=opts.validity_s)
            result = session.call(request)
            if result.get("ok") is not True:
                error = result.get("error") or {}
                raise EdgeError(
                    f"part {index + 1}/{count} refused: {error.get('code')}: {error.get('message')}"
                )
            report(f"part {index + 1}/{count} ({len(part)} bytes): {result['data']['received']} received")
        request = make_request(
            "set_hotlist",
            {"transfer_id": plan.transfer_id},
            key,
            issuer=opts.issuer,
            validity_s=opts.validity_s,
        )
        return session.call(request)


def _wire(request: dict[str, Any]) -> bytes:
    """The request as ``send_and_wait`` publishes it."""
    return json.dumps(request, separators=(",", ":")).encode()
