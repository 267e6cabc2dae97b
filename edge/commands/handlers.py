"""What each command does. ``Handlers.run`` maps a verified ``Command`` to its result data or raises
``CommandError``. The node's parts are reached only through ``CommandContext``."""

from __future__ import annotations

import base64
import binascii
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import BaseModel, ValidationError

from edge.anpr.hotlist import HotlistError, HotlistErrorCode
from edge.anpr.lists import NodeHotlists
from edge.commands.args import (
    ExportArgs,
    HoldArgs,
    HotlistPartArgs,
    NoArgs,
    ReleaseArgs,
    ResendClipArgs,
    SetConfigArgs,
    SetHotlistArgs,
    SetMasksArgs,
    ns,
)
from edge.commands.clips import ClipSender, send_clip
from edge.commands.hotlist_transfer import HotlistTransfers
from edge.commands.model import Command, CommandError, ErrorCode
from edge.config import PrivacyConfig
from edge.diagnostics.preview import PreviewConsumer
from edge.errors import EdgeError
from edge.privacy import PrivacyStage
from edge.privacy.masks import MaskSet, Polygon
from edge.storage.errors import ExportRefusedError, StorageError
from edge.storage.export import export_clip
from edge.storage.store import SegmentStore
from edge.uplink.payloads import utc_iso

log = logging.getLogger(__name__)

A = TypeVar("A", bound=BaseModel)

RESTART_EXIT_CODE = 75
"""EX_TEMPFAIL: non-zero, so systemd's ``Restart=on-failure`` starts the node again."""


@dataclass(frozen=True, slots=True)
class CommandContext:
    node_id: str
    time_ns: Callable[[], int]
    health: Callable[[], dict[str, Any]]
    preview: PreviewConsumer
    privacy: PrivacyStage
    privacy_config: PrivacyConfig
    store: SegmentStore | None
    """None when recording is off: footage commands answer ``unsupported``."""
    device_key: Callable[[], Ed25519PrivateKey]
    """Loads the device signing key (raises ``StorageError`` when there is none)."""
    exports_dir: Path
    chunk_bytes: int
    send_clip: ClipSender
    outbox_room_bytes: Callable[[], int]
    """Room left in the outbox: a clip that does not fit would push out its own first chunks."""
    request_restart: Callable[[int], None]
    hotlists: NodeHotlists | None = None
    """None when ANPR is off: ``set_hotlist`` and ``hotlist_part`` answer ``unsupported``."""
    hotlist_transfers: HotlistTransfers | None = None
    """Bundles arriving in parts (``hotlist_part``); None when ANPR is off."""
    set_config: Callable[[dict[str, Any], list[str], str], dict[str, Any]] | None = None
    """``ConfigUpdater.update`` (values, reset, actor); None: ``set_config`` answers ``unsupported``."""


_HOTLIST_ERRORS = {
    HotlistErrorCode.MALFORMED: ErrorCode.BAD_ARGS,
    HotlistErrorCode.TOO_LARGE: ErrorCode.TOO_LARGE,
    HotlistErrorCode.BAD_SIGNATURE: ErrorCode.BAD_SIGNATURE,
    HotlistErrorCode.EXPIRED: ErrorCode.EXPIRED,
    HotlistErrorCode.NOT_YET_VALID: ErrorCode.NOT_YET_VALID,
    HotlistErrorCode.VALIDITY_TOO_LONG: ErrorCode.VALIDITY_TOO_LONG,
    HotlistErrorCode.WRONG_PURPOSE: ErrorCode.REFUSED,
    HotlistErrorCode.STALE_VERSION: ErrorCode.REFUSED,
    HotlistErrorCode.STORAGE: ErrorCode.FAILED,
}
"""A refused bundle's code as a command error; the message keeps the hotlist code (``stale_version: ...``)."""
_HOTLIST_RETRYABLE = frozenset({HotlistErrorCode.STORAGE, HotlistErrorCode.NOT_YET_VALID})
"""Refusals that may pass later unchanged: a transfer refused so keeps its parts (until it times out)."""


class Handlers:
    def __init__(self, ctx: CommandContext) -> None:
        self._ctx = ctx
        self._table: dict[str, Callable[[Command], dict[str, Any]]] = {
            "ping": self._ping,
            "status": self._status,
            "snapshot": self._snapshot,
            "hold": self._hold,
            "release": self._release,
            "export_clip": self._export_clip,
            "resend_clip": self._resend_clip,
            "set_masks": self._set_masks,
            "capture_reference": self._capture_reference,
            "approve_view": self._approve_view,
            "set_config": self._set_config,
            "set_hotlist": self._set_hotlist,
            "hotlist_part": self._hotlist_part,
            "restart": self._restart,
        }

    @property
    def names(self) -> list[str]:
        return sorted(self._table)

    def run(self, cmd: Command) -> dict[str, Any]:
        handler = self._table.get(cmd.name)
        if handler is None:
            raise CommandError(
                ErrorCode.UNKNOWN_COMMAND, f"unknown command {cmd.name!r}; known: {self.names}"
            )
        try:
            return handler(cmd)
        except ExportRefusedError as exc:
            raise CommandError(ErrorCode.REFUSED, str(exc)) from None
        except (StorageError, EdgeError, ValueError, OSError) as exc:
            if isinstance(exc, CommandError):
                raise
            raise CommandError(ErrorCode.FAILED, str(exc)) from None

    # ----------------------------------------------------------------------------------- commands

    def _ping(self, cmd: Command) -> dict[str, Any]:
        _args(NoArgs, cmd)
        return {"pong": True, "node_time": utc_iso(self._ctx.time_ns())}

    def _status(self, cmd: Command) -> dict[str, Any]:
        _args(NoArgs, cmd)
        return self._ctx.health()

    def _snapshot(self, cmd: Command) -> dict[str, Any]:
        _args(NoArgs, cmd)
        try:
            frame, jpeg = self._ctx.preview.jpeg()
        except EdgeError as exc:
            raise CommandError(ErrorCode.FAILED, f"no snapshot: {exc}") from None
        return {
            "mask_id": frame.mask_id,
            "blanked": frame.blanked,
            "captured_at": utc_iso(frame.capture_ts_ns),
            "content_type": "image/jpeg",
            "jpeg_b64": base64.b64encode(jpeg).decode("ascii"),
        }

    def _hold(self, cmd: Command) -> dict[str, Any]:
        a = _args(HoldArgs, cmd)
        hold = self._store().place_hold(ns(a.start), ns(a.end), a.case_ref, cmd.issuer, ns(a.expires_at))
        return {"hold_id": hold.hold_id, "expires_at": utc_iso(hold.expires_ns)}

    def _release(self, cmd: Command) -> dict[str, Any]:
        a = _args(ReleaseArgs, cmd)
        hold = self._store().release_hold(a.hold_id, cmd.issuer)
        return {"hold_id": hold.hold_id, "released_at": utc_iso(hold.released_ns or self._ctx.time_ns())}

    def _export_clip(self, cmd: Command) -> dict[str, Any]:
        a = _args(ExportArgs, cmd)
        store = self._store()
        clip_id = uuid.uuid4().hex
        out = self._ctx.exports_dir / clip_id
        result = export_clip(
            store,
            ns(a.start),
            ns(a.end),
            out,
            self._ctx.device_key(),
            requester=cmd.issuer,
            purpose=a.purpose,
            decision_ref=a.decision_ref,
        )
        need = _transfer_bytes(out, self._ctx.chunk_bytes)
        if need > self._ctx.outbox_room_bytes():
            raise CommandError(
                ErrorCode.FAILED,
                f"export {clip_id} is ready on the node, but its transfer ({need} bytes) does not fit in the "
                "outbox now; fetch it in parts with resend_clip (clip_id, chunks)",
            )
        queued, total = send_clip(clip_id, out, self._ctx.chunk_bytes, self._ctx.send_clip, self._header(cmd))
        return {
            "clip_id": clip_id,
            "segments": len(result.segment_ids),
            "corrupt_left_out": list(result.corrupt_ids),
            "sealed_bytes": result.sealed_bytes,
            "chunks": total,
            "queued": queued,
        }

    def _resend_clip(self, cmd: Command) -> dict[str, Any]:
        a = _args(ResendClipArgs, cmd)
        folder = self._ctx.exports_dir / a.clip_id
        if not (folder / "manifest.json").is_file():
            raise CommandError(ErrorCode.BAD_ARGS, f"no finished export {a.clip_id} on this node")
        only = None if a.chunks is None else set(a.chunks)
        queued, total = send_clip(
            a.clip_id, folder, self._ctx.chunk_bytes, self._ctx.send_clip, self._header(cmd), only
        )
        return {"clip_id": a.clip_id, "chunks": total, "queued": queued}

    def _set_masks(self, cmd: Command) -> dict[str, Any]:
        a = _args(SetMasksArgs, cmd)
        cfg = self._ctx.privacy_config
        masks = MaskSet(
            polygons=tuple(Polygon(m.name, tuple(m.polygon)) for m in a.masks),
            mode=cfg.mode,
            fill_bgr=cfg.fill_bgr,
            pixelate_block_share=cfg.pixelate_block_share,
            blur_share=cfg.blur_share,
        )
        try:
            mask_id = self._ctx.privacy.set_masks(masks, actor=cmd.issuer)
        except ValueError as exc:
            raise CommandError(ErrorCode.BAD_ARGS, str(exc)) from None
        return {"mask_id": mask_id}

    def _capture_reference(self, cmd: Command) -> dict[str, Any]:
        _args(NoArgs, cmd)
        self._ctx.privacy.capture_reference(actor=cmd.issuer)
        return {"requested": True, "takes_effect": "next frame"}

    def _approve_view(self, cmd: Command) -> dict[str, Any]:
        _args(NoArgs, cmd)
        self._ctx.privacy.approve_view(actor=cmd.issuer)
        return {"requested": True, "takes_effect": "next frame"}

    def _set_config(self, cmd: Command) -> dict[str, Any]:
        a = _args(SetConfigArgs, cmd)
        if self._ctx.set_config is None:
            raise CommandError(ErrorCode.UNSUPPORTED, "set_config is not wired on this node")
        return self._ctx.set_config(a.values, a.reset, cmd.issuer)

    def _set_hotlist(self, cmd: Command) -> dict[str, Any]:
        hotlists = self._ctx.hotlists
        if hotlists is None:
            raise CommandError(ErrorCode.UNSUPPORTED, "ANPR is off on this node: it holds no hotlists")
        a = _args(SetHotlistArgs, cmd)
        document: Any = a.bundle
        if a.transfer_id is not None:
            document = self._assembled(a.transfer_id)
        try:
            bundle = hotlists.load(document, actor=cmd.issuer)
        except HotlistError as exc:
            if a.transfer_id is not None and exc.code not in _HOTLIST_RETRYABLE:
                self._transfers().remove(a.transfer_id)
            raise CommandError(_HOTLIST_ERRORS[exc.code], str(exc)) from None
        if a.transfer_id is not None:
            self._transfers().remove(a.transfer_id)
        return {
            "list_id": bundle.list_id,
            "purpose": bundle.purpose.value,
            "version": bundle.version,
            "entries": len(bundle.entries),
            "expires_at": bundle.expires_at,
            "key_id": bundle.key_id,
        }

    def _hotlist_part(self, cmd: Command) -> dict[str, Any]:
        transfers = self._transfers()
        a = _args(HotlistPartArgs, cmd)
        try:
            data = base64.b64decode(a.data, validate=True)
        except binascii.Error:
            raise CommandError(ErrorCode.BAD_ARGS, "hotlist_part: data must be base64") from None
        return transfers.add(a.transfer_id, a.index, a.count, a.sha256, data).to_json()

    def _assembled(self, transfer_id: str) -> object:
        """The JSON document of a finished transfer; a transfer that is not JSON is dropped."""
        transfers = self._transfers()
        raw = transfers.assemble(transfer_id)
        try:
            return json.loads(raw, parse_constant=_no_constants)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            transfers.remove(transfer_id)
            raise CommandError(
                ErrorCode.BAD_ARGS, f"malformed: transfer {transfer_id} is not JSON: {str(exc)[:200]}"
            ) from None

    def _restart(self, cmd: Command) -> dict[str, Any]:
        _args(NoArgs, cmd)
        self._ctx.request_restart(RESTART_EXIT_CODE)
        return {"exit_code": RESTART_EXIT_CODE, "restarting": True}

    # ------------------------------------------------------------------------------------ helpers

    def _store(self) -> SegmentStore:
        if self._ctx.store is None:
            raise CommandError(ErrorCode.UNSUPPORTED, "recording is off on this node: there is no footage")
        return self._ctx.store

    def _transfers(self) -> HotlistTransfers:
        if self._ctx.hotlists is None or self._ctx.hotlist_transfers is None:
            raise CommandError(ErrorCode.UNSUPPORTED, "ANPR is off on this node: it holds no hotlists")
        return self._ctx.hotlist_transfers

    def _header(self, cmd: Command) -> dict[str, Any]:
        return {"node_id": self._ctx.node_id, "request_id": cmd.id}


def _transfer_bytes(folder: Path, chunk_bytes: int) -> int:
    """About what the chunks of ``folder`` take in the outbox: base64 plus a JSON envelope per chunk."""
    sizes = [p.stat().st_size for p in folder.iterdir()]
    chunks = sum(max(1, -(-size // chunk_bytes)) for size in sizes)
    return sum(sizes) * 4 // 3 + chunks * 512


def _no_constants(name: str) -> object:
    # NaN and Infinity are not JSON (RFC 8259) and cannot be signed canonically.
    raise ValueError(f"{name} is not JSON")


def _args(model: type[A], cmd: Command) -> A:
    try:
        return model.model_validate(cmd.args)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(args)'}: {e['msg']}"
            for e in exc.errors(include_url=False)
        )
        raise CommandError(ErrorCode.BAD_ARGS, f"{cmd.name}: {problems}") from None
