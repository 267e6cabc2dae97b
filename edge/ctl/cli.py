"""The ``edgectl`` command."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from edge import __version__
from edge.ctl.listen import ListenOptions, listen


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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
