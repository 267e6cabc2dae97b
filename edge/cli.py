"""The ``edge`` command: run the node, validate a configuration, and the operator's tools."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from edge import __version__
from edge.errors import ConfigError


def _cmd_validate(args: argparse.Namespace) -> int:
    from edge.config import load_config_layers

    try:
        layers = load_config_layers(args.config)
    except ConfigError as exc:
        print(f"{args.config}: invalid configuration", file=sys.stderr)
        for line in str(exc).splitlines():
            print(f"  {line}", file=sys.stderr)
        return 1
    config = layers.config
    print(f"{args.config}: ok (node {config.node.id}, camera {config.camera.type})")
    # The YAML decides the exit code; an override (set_config) only ever adds to it, so it is shown here.
    override = layers.override
    if override.error:
        print(f"override refused, the node runs on the YAML alone: {override.error}", file=sys.stderr)
    elif override.active:
        print(f"override active: {override.path} (set_config) takes precedence over the YAML for:")
        for key, value in sorted(override.values.items()):
            print(f"  {key} = {value!r}")
    return 0


def _cmd_config_docs(args: argparse.Namespace) -> int:
    from edge.configdoc import render_config_docs

    path: Path = args.output
    expected = render_config_docs()
    if args.check:
        try:
            current = path.read_text(encoding="utf-8")
        except OSError as exc:
            print(
                f"{path}: cannot read: {exc.strerror}; run `edge config-docs` to generate it", file=sys.stderr
            )
            return 1
        if current != expected:
            print(
                f"{path}: out of date with edge/config.py; run `edge config-docs` to regenerate it",
                file=sys.stderr,
            )
            return 1
        print(f"{path}: up to date")
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(expected, encoding="utf-8", newline="\n")
    print(f"{path}: written")
    return 0


def _cmd_approve_view(args: argparse.Namespace) -> int:
    from edge.config import load_config
    from edge.errors import EdgeError
    from edge.privacy.approve import approve_view_from_camera

    try:
        state = approve_view_from_camera(load_config(args.config), actor=args.actor)
    except EdgeError as exc:
        print(f"edge approve-view: {exc}", file=sys.stderr)
        return 1
    print(f"view approved by {args.actor}: reference {state.reference_id}, mask id {state.mask_id}")
    return 0


def _cmd_diag(args: argparse.Namespace) -> int:
    from edge.diagnostics.console import main as diag_main

    return diag_main(args.config, as_json=args.json, timeout_s=args.timeout)


def _cmd_anpr_eval(args: argparse.Namespace) -> int:
    import json

    from edge.anpr.evaluate import DatasetError, evaluate, load_samples, table
    from edge.anpr.recognizer import Recognizer
    from edge.anpr.runtime import ModelError

    try:
        load_samples(args.dataset)  # a broken set is refused before the models load
        recognizer = Recognizer(
            args.models,
            precision=args.precision,
            threads=args.threads,
            finer_look=args.finer_look,
            closer_look_below=args.closer_look_below,
        )
        report = evaluate(
            args.dataset, recognizer, long_side=args.long_side, progress=not args.json, runs=args.runs
        )
    except (DatasetError, ModelError) as exc:
        print(f"edge anpr-eval: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(report.summary()))
    else:
        print(table(report, failures=not args.quiet))
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from edge.app import run_node

    return run_node(args.config)


def _finer_look(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value != 0.0 and not 1.0 < value <= 4.0:
        raise argparse.ArgumentTypeError(f"0 (never) or a factor above 1 and at most 4, not {text}")
    return value


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"a confidence from 0 to 1, not {text}")
    return value


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"at least 1, not {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    from edge.anpr import PHOTO_FINER_LOOK

    parser = argparse.ArgumentParser(prog="edge", description="Street-camera node firmware.")
    parser.add_argument("--version", action="version", version=f"edge {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run the node until SIGTERM or SIGINT")
    run.add_argument("--config", type=Path, required=True, help="YAML configuration file")
    run.set_defaults(func=_cmd_run)

    approve = sub.add_parser(
        "approve-view",
        help="take the camera's current view as the tamper reference (node service stopped)",
    )
    approve.add_argument("--config", type=Path, required=True, help="YAML configuration file")
    approve.add_argument("--actor", required=True, help="who approves (technician id), for the audit trail")
    approve.set_defaults(func=_cmd_approve_view)

    diag = sub.add_parser(
        "diag", help="check the node from the console (config, disk, broker, camera); exit 2 when red"
    )
    diag.add_argument("--config", type=Path, required=True, help="YAML configuration file")
    diag.add_argument("--json", action="store_true", help="print the results as JSON")
    diag.add_argument(
        "--timeout", type=float, default=3.0, help="seconds to wait for the broker (default: %(default)s)"
    )
    diag.set_defaults(func=_cmd_diag)

    anpr_eval = sub.add_parser(
        "anpr-eval", help="plate recognition accuracy and speed on a labelled set (DATASET_DIR/labels.tsv)"
    )
    anpr_eval.add_argument(
        "dataset", type=Path, metavar="DATASET_DIR", help="folder with labels.tsv and images"
    )
    anpr_eval.add_argument(
        "--json", action="store_true", help="print one JSON object (n, top1, found, median_ms, ...)"
    )
    anpr_eval.add_argument("--quiet", action="store_true", help="table without the list of wrong reads")
    anpr_eval.add_argument(
        "--runs",
        type=_positive,
        default=1,
        help="pass over the set this many times; median_ms is then the median of the passes' medians "
        "(default: %(default)s)",
    )
    anpr_eval.add_argument(
        "--models", type=Path, default=None, help="model folder (default: the installed models)"
    )
    anpr_eval.add_argument(
        "--precision", choices=("int8", "fp32"), default="int8", help="default: %(default)s"
    )
    anpr_eval.add_argument(
        "--threads", type=int, default=None, help="inference threads (default: up to 4 cores)"
    )
    anpr_eval.add_argument(
        "--long-side", type=int, default=384, help="detector input long side in pixels (default: %(default)s)"
    )
    anpr_eval.add_argument(
        "--finer-look",
        type=_finer_look,
        default=PHOTO_FINER_LOOK,
        help="when no read of a photo is at least 0.5 confident, detect again at this many times the long "
        f"side (default: {PHOTO_FINER_LOOK:.2f}; 0: never)",
    )
    anpr_eval.add_argument(
        "--closer-look-below",
        type=_share,
        default=1.0,
        help="read a photo's best plate again over three more crops (padded, trimmed) and vote only when "
        "its first read is less confident than this (1, the default: always; the node uses "
        "anpr.closer_look_below, 0.8)",
    )
    anpr_eval.set_defaults(func=_cmd_anpr_eval)

    validate = sub.add_parser("validate", help="check a configuration file; exit 1 listing every error")
    validate.add_argument("--config", type=Path, required=True, help="YAML configuration file")
    validate.set_defaults(func=_cmd_validate)

    docs = sub.add_parser(
        "config-docs", help="write docs/config.md, the configuration reference, from the schema"
    )
    docs.add_argument(
        "--check", action="store_true", help="only compare; exit 1 if the file is missing or out of date"
    )
    docs.add_argument(
        "--output",
        type=Path,
        default=Path("docs/config.md"),
        help="file to write or check (default: %(default)s)",
    )
    docs.set_defaults(func=_cmd_config_docs)

    from edge.provision.cli import add_provision_parser

    add_provision_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
