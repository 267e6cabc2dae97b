"""Builds the recorder and its store from the configuration (used by ``edge.app``; no logic of its own)."""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.clock import Clock
from edge.config import EdgeConfig, StorageConfig
from edge.storage.encoder import VideoEncoder
from edge.storage.errors import KeyFileError
from edge.storage.keys import load_ed25519_private, load_x25519_public
from edge.storage.model import AlarmHook, AuditHook
from edge.storage.recorder import RecorderConsumer
from edge.storage.retention import RetentionPolicy
from edge.storage.store import SegmentStore


@dataclass(frozen=True, slots=True)
class Recording:
    store: SegmentStore
    recorder: RecorderConsumer


def make_encoder(config: StorageConfig, nominal_fps: float) -> VideoEncoder:
    from edge.storage.pyav_encoder import PyAVEncoder  # PyAV is imported only by a node that records

    return PyAVEncoder(
        codec="libx264" if config.encoder == "libx264" else "h264_v4l2m2m",
        preset=config.preset,
        crf=config.crf,
        bitrate_kbps=config.bitrate_kbps,
        keyframe_interval_s=config.keyframe_interval_s,
        nominal_fps=nominal_fps,
    )


def open_recording(
    config: EdgeConfig, clock: Clock, *, audit: AuditHook | None = None, alarm: AlarmHook | None = None
) -> Recording:
    """Open (and reconcile) the store and build the recorder. Raises ``StorageError`` (e.g. a bad key)."""
    storage = config.storage
    if storage.central_public_key_file is None:
        raise KeyFileError("storage.central_public_key_file is not set; recording needs it")
    store = SegmentStore(
        config.node.state_dir / storage.directory,
        config.node.id,
        load_x25519_public(storage.central_public_key_file),
        RetentionPolicy.from_config(storage),
        clock,
        audit=audit,
        alarm=alarm,
    )
    fps = getattr(config.camera, "fps", None) or 25.0
    recorder = RecorderConsumer(
        store, make_encoder(storage, fps), segment_seconds=storage.segment_seconds, nominal_fps=fps
    )
    return Recording(store=store, recorder=recorder)


def load_device_key(config: StorageConfig) -> Ed25519PrivateKey:
    """The node's signing key for export manifests. Raises ``KeyFileError`` (exports are then refused)."""
    if config.device_key_file is None:
        raise KeyFileError("storage.device_key_file is not set; exports need the device signing key")
    return load_ed25519_private(config.device_key_file)
