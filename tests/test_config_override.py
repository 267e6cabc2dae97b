"""The remote configuration override on its own: allow-list, validation, atomic persistence, the merge at
start (a "restart" is a second ``load_config_layers``), refusal of a corrupt file, and ``edge validate``."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from edge.audit import AuditLog
from edge.cli import main as edge_main
from edge.commands.config_update import ConfigUpdater
from edge.commands.model import CommandError, ErrorCode
from edge.config import EdgeConfig, load_config, load_config_layers
from edge.config_override import ALLOWED_KEYS, OVERRIDE_NAME, get_dotted

YAML = {
    "node": {"id": "cam-1"},
    "camera": {"type": "synthetic"},
    "mqtt": {"health_interval_s": 10},
    "logging": {"level": "INFO"},
}


@pytest.fixture
def yaml_path(tmp_path: Path) -> Path:
    path = tmp_path / "edge.yaml"
    data = {**YAML, "node": {**YAML["node"], "state_dir": str(tmp_path / "state")}}
    path.write_text(yaml.safe_dump(data))
    return path


class Rig:
    def __init__(self, yaml_path: Path) -> None:
        self.yaml_path = yaml_path
        self.layers = load_config_layers(yaml_path)
        self.state_dir = self.layers.config.node.state_dir
        self.audit_path = self.state_dir / "audit.jsonl"
        self.audit = AuditLog(self.audit_path, "cam-1", None, time.time_ns)
        self.updater = ConfigUpdater(self.layers, self.audit, time.time_ns)
        self.applied: list[EdgeConfig] = []
        self.updater.add_live(["mqtt.health_interval_s", "logging.level"], self.applied.append)

    @property
    def override(self) -> Path:
        return self.state_dir / OVERRIDE_NAME

    def actions(self) -> list[dict[str, Any]]:
        if not self.audit_path.exists():
            return []
        return [json.loads(line) for line in self.audit_path.read_text().splitlines()]


def test_every_allowed_key_is_a_scalar_field_of_the_schema(yaml_path: Path) -> None:
    doc = load_config(yaml_path).model_dump(mode="json")
    for key in sorted(ALLOWED_KEYS):
        value = get_dotted(doc, key)
        assert isinstance(value, bool | int | float | str), (key, value)
    assert not any(
        k.startswith(("privacy.masks", "node.", "camera.", "mqtt.tls", "mqtt.host")) for k in ALLOWED_KEYS
    )


def test_a_change_is_applied_persisted_and_merged_again_at_the_next_start(yaml_path: Path) -> None:
    rig = Rig(yaml_path)
    result = rig.updater.update(
        {"mqtt.health_interval_s": 30, "logging.level": "DEBUG", "privacy.tamper.cover_std": 6},
        [],
        "op:alice",
    )
    assert result["changed"] == {
        "logging.level": {"old": "INFO", "new": "DEBUG"},
        "mqtt.health_interval_s": {"old": 10.0, "new": 30.0},
        "privacy.tamper.cover_std": {"old": 4.0, "new": 6.0},
    }
    assert result["applied"] == ["logging.level", "mqtt.health_interval_s"]
    assert result["restart_required"] is True and result["restart_keys"] == ["privacy.tamper.cover_std"]
    assert len(rig.applied) == 1, "one applier serving two keys runs once"
    assert rig.applied[0].mqtt.health_interval_s == 30.0
    status = rig.updater.status()
    assert status.active and status.restart_pending == ("privacy.tamper.cover_std",)

    stored = json.loads(rig.override.read_text())
    assert stored["format"] == "edge-config-override/1" and stored["updated_by"] == "op:alice"
    assert stored["values"] == {
        "logging.level": "DEBUG",
        "mqtt.health_interval_s": 30.0,
        "privacy.tamper.cover_std": 6.0,
    }
    assert not list(rig.state_dir.glob("*.tmp"))
    change = next(e for e in rig.actions() if e["action"] == "config.changed")
    assert change["actor"] == "op:alice"
    assert "mqtt.health_interval_s: 10.0 -> 30.0" in change["detail"]
    assert "restart required for privacy.tamper.cover_std" in change["detail"]

    # The next start: the YAML is unchanged, the override is merged over it.
    again = load_config_layers(yaml_path)
    assert again.override.active and not again.override.error
    assert again.config.mqtt.health_interval_s == 30.0
    assert again.config.logging.level == "DEBUG"
    assert again.config.privacy.tamper.cover_std == 6.0
    assert again.yaml_data["mqtt"]["health_interval_s"] == 10

    # A second change builds on the first; a reset goes back to the YAML's value.
    rig2 = Rig(yaml_path)
    result = rig2.updater.update({"storage.max_age_days": 14}, ["logging.level"], "op:bob")
    assert result["changed"] == {
        "logging.level": {"old": "DEBUG", "new": "INFO"},
        "storage.max_age_days": {"old": 30.0, "new": 14.0},
    }
    config = load_config(yaml_path)
    assert (config.logging.level, config.storage.max_age_days, config.mqtt.health_interval_s) == (
        "INFO",
        14.0,
        30.0,
    )
    rig2.updater.update(
        {}, ["storage.max_age_days", "mqtt.health_interval_s", "privacy.tamper.cover_std"], "op:bob"
    )
    assert not rig2.override.exists(), "an empty override is no file at all"
    assert load_config(yaml_path) == load_config_layers(yaml_path).config
    assert load_config(yaml_path).mqtt.health_interval_s == 10.0


@pytest.mark.parametrize(
    ("values", "reset", "code", "named"),
    [
        ({"privacy.masks": []}, [], ErrorCode.REFUSED, "privacy.masks"),
        ({"node.id": "other"}, [], ErrorCode.REFUSED, "node.id"),
        ({"mqtt.host": "evil.example"}, [], ErrorCode.REFUSED, "mqtt.host"),
        ({"privacy.tamper.enabled": False}, [], ErrorCode.REFUSED, "privacy.tamper.enabled"),
        ({}, ["storage.central_public_key_file"], ErrorCode.REFUSED, "storage.central_public_key_file"),
        ({"mqtt.health_interval_s": "30"}, [], ErrorCode.BAD_ARGS, "mqtt.health_interval_s must be a number"),
        ({"mqtt.health_interval_s": True}, [], ErrorCode.BAD_ARGS, "mqtt.health_interval_s must be a number"),
        ({"logging.level": 10}, [], ErrorCode.BAD_ARGS, "logging.level must be a string"),
        ({"logging.level": "TRACE"}, [], ErrorCode.BAD_ARGS, "logging.level"),
        ({"mqtt.health_interval_s": 0.5}, [], ErrorCode.BAD_ARGS, "mqtt.health_interval_s"),
        ({"commands.clip_chunk_bytes": 4096.5}, [], ErrorCode.BAD_ARGS, "commands.clip_chunk_bytes"),
        ({"mqtt.clip_max_bytes_per_s": 100}, [], ErrorCode.BAD_ARGS, "clip_max_bytes_per_s"),
        ({"storage.max_age_days": 400}, [], ErrorCode.BAD_ARGS, "storage.max_age_days"),
        ({"logging.level": "DEBUG"}, ["logging.level"], ErrorCode.BAD_ARGS, "both set and reset"),
        ({}, [], ErrorCode.BAD_ARGS, "give `values`"),
    ],
)
def test_refused_changes_leave_everything_as_it_was(
    yaml_path: Path, values: dict[str, Any], reset: list[str], code: ErrorCode, named: str
) -> None:
    rig = Rig(yaml_path)
    rig.updater.update({"mqtt.health_interval_s": 20}, [], "op:alice")
    before = rig.override.read_bytes()
    with pytest.raises(CommandError) as caught:
        rig.updater.update(values, reset, "op:mallory")
    assert caught.value.code is code
    assert named in caught.value.message
    assert rig.override.read_bytes() == before, "nothing persisted"
    assert [e["actor"] for e in rig.actions() if e["action"] == "config.changed"] == ["op:alice"]
    assert rig.updater.status().values == {"mqtt.health_interval_s": 20.0}
    assert load_config(yaml_path).mqtt.health_interval_s == 20.0


def test_a_cross_field_rule_is_checked_against_the_whole_configuration(tmp_path: Path) -> None:
    path = tmp_path / "edge.yaml"
    data = {
        **YAML,
        "node": {"id": "cam-1", "state_dir": str(tmp_path / "s")},
        "storage": {"profile": "camera_law"},
    }
    path.write_text(yaml.safe_dump(data))
    rig = Rig(path)
    with pytest.raises(CommandError, match="90-day ceiling") as caught:
        rig.updater.update({"storage.max_age_days": 120}, [], "op:alice")
    assert caught.value.code is ErrorCode.BAD_ARGS
    assert not rig.override.exists()


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"\x00\x01 torn write", "not valid JSON"),
        (b'{"format": "edge-config-override/1", "values": {"logging.level": "DEBUG"', "not valid JSON"),
        (b'{"values": {}}', "not an edge-config-override/1 file"),
        (b'{"format": "edge-config-override/1", "values": {"node.id": "x"}}', "keys not allowed"),
        (b'{"format": "edge-config-override/1", "values": {"mqtt.health_interval_s": 0}}', "greater than"),
        (
            b'{"format": "edge-config-override/1", "values": {"mqtt.health_interval_s": NaN}}',
            "not valid JSON",
        ),
    ],
)
def test_a_corrupt_override_is_refused_as_a_whole_and_the_yaml_runs(
    yaml_path: Path, content: bytes, why: str, capsys: pytest.CaptureFixture[str]
) -> None:
    state = yaml_path.parent / "state"
    state.mkdir()
    (state / OVERRIDE_NAME).write_bytes(content)
    layers = load_config_layers(yaml_path)
    assert why in layers.override.error
    assert not layers.override.active
    assert layers.config.mqtt.health_interval_s == 10.0 and layers.config.logging.level == "INFO"
    assert load_config(yaml_path) == layers.config

    assert edge_main(["validate", "--config", str(yaml_path)]) == 0, "the YAML decides the exit code"
    out = capsys.readouterr()
    assert "ok" in out.out and "override refused" in out.err and why in out.err

    # The next set_config starts from the YAML alone and keeps the refused file aside.
    rig = Rig(yaml_path)
    result = rig.updater.update({"logging.level": "WARNING"}, [], "op:alice")
    assert result["override"] == {"logging.level": "WARNING"}
    kept = list(state.glob(f"{OVERRIDE_NAME}.refused-*"))
    assert len(kept) == 1 and kept[0].read_bytes() == content
    assert (
        "refused at start was kept"
        in next(e for e in rig.actions() if e["action"] == "config.changed")["detail"]
    )
    assert load_config_layers(yaml_path).override.values == {"logging.level": "WARNING"}


def test_edge_validate_shows_an_active_override(yaml_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert edge_main(["validate", "--config", str(yaml_path)]) == 0
    assert "override" not in capsys.readouterr().out
    Rig(yaml_path).updater.update({"storage.quota_bytes": 10 * 1024**3}, [], "op:alice")
    assert edge_main(["validate", "--config", str(yaml_path)]) == 0
    out = capsys.readouterr().out
    assert "override active" in out and "storage.quota_bytes = 10737418240" in out


def test_a_change_that_cannot_be_written_fails_and_changes_nothing(yaml_path: Path) -> None:
    rig = Rig(yaml_path)
    rig.override.mkdir()  # the rename over it fails, as a full or read-only disk would make it
    with pytest.raises(CommandError) as caught:
        rig.updater.update({"logging.level": "DEBUG"}, [], "op:alice")
    assert caught.value.code is ErrorCode.FAILED and "cannot write" in caught.value.message
    assert rig.applied == [] and not rig.updater.status().active
    assert not any(e["action"] == "config.changed" for e in rig.actions())


def test_a_change_undone_before_the_restart_needs_no_restart(yaml_path: Path) -> None:
    rig = Rig(yaml_path)
    first = rig.updater.update({"privacy.tamper.cover_std": 6}, [], "op:alice")
    assert first["restart_keys"] == ["privacy.tamper.cover_std"]
    undone = rig.updater.update({}, ["privacy.tamper.cover_std"], "op:alice")
    assert undone["changed"] == {"privacy.tamper.cover_std": {"old": 6.0, "new": 4.0}}
    assert undone["restart_required"] is False and undone["restart_keys"] == []
    assert rig.updater.status().restart_pending == ()
