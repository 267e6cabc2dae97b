"""Builds the command path from the configuration and the node's parts (used by ``edge.app``)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from edge.anpr.lists import NodeHotlists
from edge.audit import AuditLog
from edge.clock import Clock
from edge.commands.config_update import ConfigUpdater
from edge.commands.exports import ExportSweeper
from edge.commands.handlers import CommandContext, Handlers
from edge.commands.hotlist_transfer import TRANSFERS_DIR, HotlistTransfers
from edge.commands.parse import ParseLimits
from edge.commands.replay import ReplayGuard
from edge.commands.service import CommandService
from edge.config import EdgeConfig
from edge.diagnostics.preview import PreviewConsumer
from edge.privacy import PrivacyStage
from edge.storage.errors import StorageError
from edge.storage.factory import load_device_key
from edge.storage.keys import fingerprint, load_ed25519_public
from edge.storage.retention import RetentionPolicy
from edge.storage.store import SegmentStore
from edge.uplink import Uplink
from edge.uplink.outbox import Priority
from edge.uplink.payloads import utc_iso

log = logging.getLogger(__name__)


def load_central_keys(config: EdgeConfig) -> list[Ed25519PublicKey]:
    """Every configured key that loads; a bad file is logged and skipped (its commands are refused)."""
    keys = []
    for path in config.commands.central_public_key_files:
        try:
            key = load_ed25519_public(path)
        except StorageError as exc:
            log.error("central command key %s unusable: %s", path, exc)  # noqa: TRY400 - the message says it
            continue
        log.info("accepting commands signed by central key %s", fingerprint(key))
        keys.append(key)
    if not keys:
        log.warning("no central command key: every command will be refused")
    return keys


def load_audit_key(config: EdgeConfig) -> Ed25519PrivateKey | None:
    if config.storage.device_key_file is None:
        return None
    try:
        return load_device_key(config.storage)
    except StorageError as exc:
        log.error("device key unusable, audit entries will be unsigned: %s", exc)  # noqa: TRY400
        return None


def build_command_service(
    config: EdgeConfig,
    *,
    clock: Clock,
    uplink: Uplink,
    audit: AuditLog,
    health: Callable[[], dict[str, Any]],
    preview: PreviewConsumer,
    privacy: PrivacyStage,
    store: SegmentStore | None,
    request_restart: Callable[[int], None],
    stop: threading.Event,
    hotlists: NodeHotlists | None = None,
    config_updater: ConfigUpdater | None = None,
) -> CommandService:
    node_id = config.node.id
    topics = uplink.topics
    exports_dir = config.node.state_dir / "exports"
    sweeper = ExportSweeper(
        exports_dir,
        pending=lambda clip_id: uplink.outbox.pending("clip", topics.clip(f"clip/{clip_id}/")),
        keep_s=config.commands.clip_keep_s,
        max_age_h=config.commands.clip_max_age_h,
        time_ns=clock.time_ns,
        monotonic_ns=clock.monotonic_ns,
        audit=audit,
    )
    sweeper.sweep_at_start()  # before the commands thread exists: nothing else touches the folders yet
    if config_updater is not None:
        config_updater.add_live(
            ["mqtt.clip_max_bytes_per_s"], lambda c: uplink.set_clip_rate(c.mqtt.clip_max_bytes_per_s)
        )
        config_updater.add_live(
            ["commands.clip_keep_s", "commands.clip_max_age_h"],
            lambda c: sweeper.set_limits(c.commands.clip_keep_s, c.commands.clip_max_age_h),
        )
        if store is not None:
            config_updater.add_live(
                [
                    "storage.max_age_days",
                    "storage.quota_bytes",
                    "storage.min_free_share",
                    "storage.held_alarm_share",
                ],
                lambda c: store.set_policy(RetentionPolicy.from_config(c.storage)),
            )

    transfers = None
    if hotlists is not None:
        transfers = HotlistTransfers(
            config.node.state_dir / TRANSFERS_DIR,
            max_bytes=config.anpr.hotlist_max_bytes,
            timeout_s=config.anpr.hotlist_transfer_timeout_s,
            time_ns=clock.time_ns,
        )
        try:
            transfers.sweep()  # before the commands thread exists, like the export sweep
        except OSError as exc:
            log.error("hotlist transfers unreadable at start: %s", exc)  # noqa: TRY400 - the message says it

    def send_clip(suffix: str, body: dict[str, Any]) -> None:
        uplink.send("clip", topics.clip(suffix), body, Priority.CLIP)

    def answer(result: dict[str, Any]) -> None:
        body = {"schema": "edge.cmd_result/1", "node_id": node_id, "ts": utc_iso(clock.time_ns()), **result}
        uplink.send("cmd_result", topics.cmd_result, body, Priority.EVENT)

    ctx = CommandContext(
        node_id=node_id,
        time_ns=clock.time_ns,
        health=health,
        preview=preview,
        privacy=privacy,
        privacy_config=config.privacy,
        store=store,
        device_key=lambda: load_device_key(config.storage),
        exports_dir=exports_dir,
        chunk_bytes=config.commands.clip_chunk_bytes,
        send_clip=send_clip,
        outbox_room_bytes=uplink.outbox.room_bytes,
        request_restart=request_restart,
        hotlists=hotlists,
        hotlist_transfers=transfers,
        set_config=None if config_updater is None else config_updater.update,
    )
    service = CommandService(
        Handlers(ctx),
        load_central_keys(config),
        ParseLimits(config.commands.max_request_bytes, config.commands.max_validity_s),
        ReplayGuard(config.node.state_dir / "commands.sqlite"),
        audit,
        answer,
        clock.time_ns,
        stop,
        housekeeping=sweeper.sweep,
    )
    uplink.subscribe(topics.cmd, service.offer)
    return service
