"""``storage`` in the configuration: safe defaults, hard ceilings, and building the recorder from it."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from edge.clock import FakeClock
from edge.config import EdgeConfig, StorageConfig, parse_config
from edge.errors import ConfigError
from edge.storage.errors import KeyFileError
from edge.storage.factory import load_device_key, open_recording
from edge.storage.keys import fingerprint, load_ed25519_public
from tests.storage_support import fake_video, make_keys

BASE = {"node": {"id": "n1"}, "camera": {"type": "synthetic", "fps": 12.5}}


def test_recording_is_off_by_default_and_the_defaults_are_legal() -> None:
    storage = parse_config(BASE).storage
    assert storage == StorageConfig()
    assert (storage.enabled, storage.profile, storage.max_age_days, storage.segment_seconds) == (
        False,
        "police",
        30,
        10,
    )


@pytest.mark.parametrize(
    ("storage", "message"),
    [
        ({"profile": "camera_law", "max_age_days": 91}, "exceeds the 90-day ceiling of the 'camera_law'"),
        ({"max_age_days": 366}, "less than or equal to 365"),
        ({"enabled": True}, "central_public_key_file is not set"),
        ({"directory": "/var/lib/other"}, "relative path below node.state_dir"),
        ({"directory": "../escape"}, "relative path below node.state_dir"),
        ({"quota_bytes": 1000}, "greater than or equal to"),
        ({"segment_seconds": 0.5}, "greater than or equal to 1"),
        ({"retention_days": 30}, "unknown key"),
    ],
)
def test_invalid_storage_settings_are_refused_with_their_path(
    storage: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError) as excinfo:
        parse_config({**BASE, "storage": storage})
    assert "storage" in str(excinfo.value) and message in str(excinfo.value)


def test_the_ceilings_hold_for_models_built_in_code_too() -> None:
    StorageConfig(profile="camera_law", max_age_days=90)
    with pytest.raises(ValidationError):
        StorageConfig(profile="camera_law", max_age_days=90.5)


def test_open_recording_builds_the_store_under_the_state_dir(tmp_path: Path) -> None:
    k = make_keys(tmp_path / "keys")
    config = EdgeConfig.model_validate(
        {
            **BASE,
            "node": {"id": "n1", "state_dir": str(tmp_path / "state")},
            "storage": {"enabled": True, "central_public_key_file": str(k.central_pub), "segment_seconds": 5},
        }
    )
    clock = FakeClock()
    recording = open_recording(config, clock)
    assert recording.store.root == tmp_path / "state" / "recordings"
    assert recording.recorder.state().encoder == "libx264"
    now = clock.time_ns()
    segment = recording.store.store(fake_video(100), now - 10**9, now, "m1-x", "libx264")
    assert (tmp_path / "state" / "recordings" / segment.path).is_file()


def test_open_recording_refuses_a_missing_or_wrong_key(tmp_path: Path) -> None:
    k = make_keys(tmp_path / "keys")
    for key_file, message in [(tmp_path / "nope.pub", "cannot read"), (k.device_pub, "X25519")]:
        config = EdgeConfig.model_validate(
            {**BASE, "storage": {"enabled": True, "central_public_key_file": str(key_file)}}
        )
        with pytest.raises(KeyFileError, match=message):
            open_recording(config, FakeClock())


def test_exports_need_the_device_key(tmp_path: Path) -> None:
    k = make_keys(tmp_path / "keys")
    with pytest.raises(KeyFileError, match="device_key_file is not set"):
        load_device_key(StorageConfig())
    key = load_device_key(StorageConfig(device_key_file=k.device_key))
    assert fingerprint(key.public_key()) == fingerprint(load_ed25519_public(k.device_pub))
