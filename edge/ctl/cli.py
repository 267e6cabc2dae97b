"""The ``edgectl`` command."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from edge import __version__
from edge.ctl.listen import ListenOptions, listen
from edge.errors import EdgeError


def _cmd_listen(args: argparse.Namespace) -> int:
    stop = threading.Event()

    def _on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    colour = sys.stdout.isatty() and "NO_COLOR" not in os.environ

    def write(line: str) -> None:
        print(line, flush=True)

    opts = ListenOptions(
        host=args.host,
        port=args.port,
        prefix=args.prefix,
        node=args.node,
        raw=args.raw,
        count=args.count,
        timeout_s=args.timeout,
        colour=colour,
    )
    return listen(opts, write, stop)


def _cmd_keys(args: argparse.Namespace) -> int:
    from edge.storage.keys import generate_central_keys, generate_device_key

    out: Path = args.out
    seal, sign = generate_central_keys(out)
    print(f"central sealing key (X25519):  {seal.private}  (keep secret)  public: {seal.public}")
    print(f"central signing key (Ed25519): {sign.private}  (keep secret)  public: {sign.public}")
    if args.device:
        device = generate_device_key(out)
        print(f"device signing key (Ed25519):  {device.private}  (the node's)  public: {device.public}")
    print("development keys only: real central keys never leave the central system")
    return 0


def _cmd_clip(args: argparse.Namespace) -> int:
    from edge.ctl.clip import build_clip
    from edge.storage.keys import load_ed25519_public, load_x25519_private

    result = build_clip(
        args.export_dir, load_x25519_private(args.key), load_ed25519_public(args.device_pub), args.output
    )
    print(
        f"verified and decrypted {result.segments} segment(s); wrote {result.frames} frames to {args.output} "
        f"(mask ids: {', '.join(result.mask_ids)})"
    )
    if result.corrupt:
        print(
            f"warning: the node left out {len(result.corrupt)} segment(s) of the range, corrupt on its disk: "
            + ", ".join(result.corrupt)
        )
    return 0


def _cmd_decrypt(args: argparse.Namespace) -> int:
    from edge.ctl.clip import decrypt_segment
    from edge.storage.keys import load_x25519_private

    header, mp4 = decrypt_segment(args.segment, load_x25519_private(args.key))
    fd = os.open(args.output, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(mp4)
    print(
        f"segment {header.segment_id} of node {header.node_id}: {header.frames} frames, "
        f"mask id {header.mask_id}; wrote {args.output}"
    )
    return 0


def _cmd_audit_verify(args: argparse.Namespace) -> int:
    from edge.audit import verify_chain
    from edge.storage.keys import load_ed25519_public

    report = verify_chain(args.file, load_ed25519_public(args.device_pub))
    if report.ok:
        print(f"{args.file}: chain intact, {report.entries} entries, every signature verified")
        return 0
    print(
        f"{args.file}: BROKEN at line {report.broken_line}: {report.reason} "
        f"({report.entries} entries verified before it)"
    )
    return 1


def _cmd_send(args: argparse.Namespace) -> int:
    import base64
    import json

    from edge.ctl.receive import ClipReceiver
    from edge.ctl.send import SendOptions, make_request, send_and_wait
    from edge.storage.keys import load_ed25519_private

    try:
        cmd_args = json.loads(args.args)
    except ValueError as exc:
        print(f"edgectl send: --args is not JSON: {exc}", file=sys.stderr)
        return 2
    if not isinstance(cmd_args, dict):
        print("edgectl send: --args must be a JSON object", file=sys.stderr)
        return 2
    request = make_request(
        args.name, cmd_args, load_ed25519_private(args.key), issuer=args.issuer, validity_s=args.validity
    )
    opts = SendOptions(args.host, args.port, args.prefix, args.node, args.timeout)
    receiver = None if args.receive is None else ClipReceiver(args.receive)
    result = send_and_wait(opts, request, receiver)
    if result.get("ok") and "jpeg_b64" in (result.get("data") or {}) and args.save_jpeg is not None:
        args.save_jpeg.write_bytes(base64.b64decode(result["data"].pop("jpeg_b64")))
        result["data"]["saved"] = str(args.save_jpeg)
    print(json.dumps(result, indent=2))
    return 0 if result.get("ok") is True else 1


def _cmd_hotlist_make(args: argparse.Namespace) -> int:
    from edge.anpr.hotlist import Purpose
    from edge.ctl.hotlist import MakeOptions, ProgressLine, make, read_csv
    from edge.storage.keys import load_ed25519_private

    key = load_ed25519_private(args.key)
    rows = read_csv(args.input)
    opts = MakeOptions(
        args.list_id,
        Purpose(args.purpose),
        args.version,
        args.valid_days,
        args.issuer,
        args.iterations,
        args.workers,
    )
    count = make(rows, key, opts, args.out, ProgressLine(sys.stderr))
    print(f"wrote {args.out}: list {args.list_id} v{args.version} ({args.purpose}), {count} entries")
    return 0


def _cmd_hotlist_inspect(args: argparse.Namespace) -> int:
    from edge.ctl.hotlist import inspect
    from edge.storage.keys import load_ed25519_public

    keys = None if args.pub is None else [load_ed25519_public(args.pub)]
    for line in inspect(args.bundle, keys):
        print(line)
    return 0


def _cmd_hotlist_send(args: argparse.Namespace) -> int:
    import json

    from edge.ctl.hotlist import SendBundleOptions, send_bundle
    from edge.ctl.send import SendOptions
    from edge.storage.keys import load_ed25519_private

    opts = SendBundleOptions(args.issuer, args.validity, args.max_request_bytes, args.transfer_id)
    send = SendOptions(args.host, args.port, args.prefix, args.node, args.timeout)
    result = send_bundle(
        args.bundle, load_ed25519_private(args.key), send, opts, lambda s: print(s, flush=True)
    )
    print(json.dumps(result, indent=2))
    return 0 if result.get("ok") is True else 1


def _add_request_options(parser: argparse.ArgumentParser, *, each: str, timeout_s: float) -> None:
    """Options of every command that signs requests and sends them to a node (`send`, `hotlist send`)."""
    parser.add_argument("--node", required=True, help="node id")
    parser.add_argument("--key", type=Path, required=True, help="central Ed25519 signing key (PEM)")
    parser.add_argument(
        "--issuer", default=os.environ.get("USER", "edgectl"), help="who asks (default $USER)"
    )
    parser.add_argument("--validity", type=float, default=60.0, help=f"seconds {each} stays valid")
    parser.add_argument("--host", default="127.0.0.1", help="broker host (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=1883, help="broker port (default 1883)")
    parser.add_argument("--prefix", default="cams", help="topic prefix (default cams)")
    parser.add_argument(
        "--timeout", type=float, default=timeout_s, help=f"seconds to wait for {each}'s result"
    )


def _add_hotlist_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    hot = sub.add_parser("hotlist", help="make, inspect and send signed hotlist bundles (keyed plate hashes)")
    hot_sub = hot.add_subparsers(dest="hotlist_command", required=True, metavar="ACTION")
    mk = hot_sub.add_parser("make", help="hash and sign a plate,category,ref CSV into a bundle")
    mk.add_argument("--key", type=Path, required=True, help="central Ed25519 signing key (PEM)")
    mk.add_argument("--list-id", required=True, help="the list's id, e.g. police-national")
    mk.add_argument("--purpose", required=True, choices=["police", "lez"], help="police or lez")
    mk.add_argument("--version", type=int, required=True, help="must be higher than the one nodes hold")
    mk.add_argument("--valid-days", type=float, default=7.0, help="days until it expires (default 7, max 31)")
    mk.add_argument("--issuer", default=os.environ.get("USER", "edgectl"), help="who issues (default $USER)")
    mk.add_argument("--iterations", type=int, default=20_000, help="PBKDF2 iterations (default 20000)")
    mk.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="hashing threads (default: CPUs)"
    )
    mk.add_argument("--in", dest="input", type=Path, required=True, help="CSV with header plate,category,ref")
    mk.add_argument("--out", type=Path, required=True, help="the bundle to write (must not exist)")
    mk.set_defaults(func=_cmd_hotlist_make)
    ins = hot_sub.add_parser("inspect", help="print a bundle's header and entry count (nothing secret)")
    ins.add_argument("bundle", type=Path, metavar="BUNDLE", help="a bundle .json")
    ins.add_argument(
        "--pub", type=Path, default=None, help="central Ed25519 public key: verify the signature"
    )
    ins.set_defaults(func=_cmd_hotlist_inspect)
    snd = hot_sub.add_parser(
        "send", help="send a bundle to a node in parts (hotlist_part), then load it (set_hotlist)"
    )
    snd.add_argument("bundle", type=Path, metavar="BUNDLE", help="a bundle .json (from `hotlist make`)")
    _add_request_options(snd, each="each request", timeout_s=60.0)
    snd.add_argument(
        "--max-request-bytes",
        type=int,
        default=64 * 1024,
        help="the node's commands.max_request_bytes (default 65536): each request stays within it",
    )
    snd.add_argument(
        "--transfer-id",
        default=None,
        help="default: from the bundle's sha256 and the part size (sending the same file again resumes)",
    )
    snd.set_defaults(func=_cmd_hotlist_send)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="edgectl", description="Central-side tool for edge camera nodes.")
    parser.add_argument("--version", action="version", version=f"edgectl {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    lis = sub.add_parser("listen", help="live view of everything nodes publish")
    lis.add_argument("--host", default="127.0.0.1", help="broker host (default 127.0.0.1)")
    lis.add_argument("--port", type=int, default=1883, help="broker port (default 1883)")
    lis.add_argument("--prefix", default="cams", help="topic prefix (default cams)")
    lis.add_argument("--node", default="+", help="node id to follow (default: all nodes)")
    lis.add_argument("--raw", action="store_true", help="print topic and raw payload")
    lis.add_argument("--count", type=int, default=None, help="exit after this many messages")
    lis.add_argument(
        "--timeout", type=float, default=None, help="exit 1 when nothing arrives for this many seconds"
    )
    lis.set_defaults(func=_cmd_listen)

    keys = sub.add_parser("keys", help="make a development central key set (and optionally a device key)")
    keys.add_argument("--out", type=Path, required=True, help="directory for the key files (created)")
    keys.add_argument("--device", action="store_true", help="also make a device signing key for a node")
    keys.set_defaults(func=_cmd_keys)

    clip = sub.add_parser("clip", help="verify an export, decrypt it and write one MP4 trimmed to its range")
    clip.add_argument("export_dir", type=Path, metavar="EXPORT_DIR", help="folder with manifest.json")
    clip.add_argument("--key", type=Path, required=True, help="central X25519 private key (PEM)")
    clip.add_argument("--device-pub", type=Path, required=True, help="the node's Ed25519 public key (PEM)")
    clip.add_argument("-o", "--output", type=Path, required=True, help="the MP4 to write")
    clip.set_defaults(func=_cmd_clip)

    dec = sub.add_parser("decrypt", help="decrypt one sealed segment to its MP4")
    dec.add_argument("segment", type=Path, metavar="SEGMENT", help="a .seg file")
    dec.add_argument("--key", type=Path, required=True, help="central X25519 private key (PEM)")
    dec.add_argument("-o", "--output", type=Path, required=True, help="the MP4 to write (must not exist)")
    dec.set_defaults(func=_cmd_decrypt)

    snd = sub.add_parser("send", help="sign a command, send it to a node and print its result")
    snd.add_argument("name", metavar="COMMAND", help="ping, status, snapshot, hold, export_clip, ...")
    snd.add_argument("--args", default="{}", help="the command's arguments as a JSON object (default {})")
    _add_request_options(snd, each="the request", timeout_s=30.0)
    snd.add_argument(
        "--receive",
        type=Path,
        default=None,
        metavar="DIR",
        help="export_clip / resend_clip: receive the clip's chunks and write the export folder DIR/<clip_id>",
    )
    snd.add_argument("--save-jpeg", type=Path, default=None, help="snapshot: write the JPEG here")
    snd.set_defaults(func=_cmd_send)

    _add_hotlist_parser(sub)

    aud = sub.add_parser("audit", help="audit log tools")
    aud_sub = aud.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    ver = aud_sub.add_parser("verify", help="check a node's audit.jsonl: hashes, links and signatures")
    ver.add_argument("file", type=Path, metavar="FILE", help="the audit.jsonl to check")
    ver.add_argument("--device-pub", type=Path, required=True, help="the node's Ed25519 public key (PEM)")
    ver.set_defaults(func=_cmd_audit_verify)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except (EdgeError, OSError) as exc:
        print(f"edgectl {args.command}: {exc}", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    raise SystemExit(main())
