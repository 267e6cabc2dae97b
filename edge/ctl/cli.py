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
