"""The configuration schema and ``edge validate``: good files pass, bad ones fail naming every bad field."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from edge.cli import main
from edge.config import EdgeConfig, load_config, parse_config
from edge.errors import ConfigError

CONFIGS = Path(__file__).parent / "data" / "configs"
GOOD = sorted(CONFIGS.glob("good_*.yaml"))

MINIMAL = {"node": {"id": "cam-test-01", "state_dir": "state"}, "camera": {"type": "synthetic"}}


def _validate(capsys: pytest.CaptureFixture[str], path: Path) -> tuple[int, str, str]:
    code = main(["validate", "--config", str(path)])
    out, err = capsys.readouterr()
    return code, out, err


def _errors(data: object) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(data)
    return str(info.value).splitlines()


def _with(section: str, **values: object) -> dict[str, object]:
    data: dict[str, object] = {key: dict(value) for key, value in MINIMAL.items()}
    current = data.get(section, {})
    assert isinstance(current, dict)
    data[section] = {**current, **values}
    return data


# ---------------------------------------------------------------------------------- edge validate


def test_good_fixtures_exist() -> None:
    assert {p.name for p in GOOD} >= {"good_minimal.yaml", "good_full.yaml"}


@pytest.mark.parametrize("path", GOOD, ids=[p.name for p in GOOD])
def test_validate_accepts_good_files(capsys: pytest.CaptureFixture[str], path: Path) -> None:
    code, out, err = _validate(capsys, path)
    assert code == 0, err
    config = load_config(path)
    assert out == f"{path}: ok (node {config.node.id}, camera {config.camera.type})\n"
    assert err == ""


@pytest.mark.parametrize("path", GOOD, ids=[p.name for p in GOOD])
def test_good_files_keep_state_out_of_var(path: Path) -> None:
    state_dir = load_config(path).node.state_dir
    assert not state_dir.is_absolute() or state_dir.parts[:2] == ("/", "tmp"), state_dir


def test_validate_lists_all_three_errors_naming_the_fields(capsys: pytest.CaptureFixture[str]) -> None:
    path = CONFIGS / "bad_three_errors.yaml"
    code, out, err = _validate(capsys, path)
    assert code == 1
    assert out == ""
    lines = err.splitlines()
    assert lines[0] == f"{path}: invalid configuration"
    assert len(lines) == 4, err
    bogus, width, polygon = (line.strip() for line in lines[1:])
    assert bogus.startswith("node.bogus: unknown key")
    assert width.startswith("camera.width: ")
    assert "1920" in width
    assert polygon.startswith("privacy.masks[0].polygon: ")
    assert "at least 3" in polygon


def test_validate_as_a_real_process() -> None:
    def run(name: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "edge", "validate", "--config", str(CONFIGS / name)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    good = run("good_minimal.yaml")
    assert (good.returncode, good.stderr) == (0, "")
    assert "ok (node cam-test-01, camera synthetic)" in good.stdout

    bad = run("bad_three_errors.yaml")
    assert bad.returncode == 1
    assert bad.stdout == ""
    for field in ("node.bogus", "camera.width", "privacy.masks[0].polygon"):
        assert f"  {field}: " in bad.stderr


def test_yaml_syntax_error_is_one_clear_line(capsys: pytest.CaptureFixture[str]) -> None:
    path = CONFIGS / "bad_yaml_syntax.yaml"
    code, out, err = _validate(capsys, path)
    assert code == 1
    assert out == ""
    header, detail = err.splitlines()
    assert header == f"{path}: invalid configuration"
    assert detail.strip() == f"{path}: not valid YAML: line 3, column 10: mapping values are not allowed here"


def test_yaml_syntax_error_does_not_echo_the_file(tmp_path: Path) -> None:
    path = tmp_path / "edge.yaml"
    path.write_text("camera:\n  url: rtsp://admin:hunter2@cam/stream\n   oops: 1\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "hunter2" not in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_file_is_one_clear_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    code, out, err = _validate(capsys, path)
    assert code == 1
    assert out == ""
    header, detail = err.splitlines()
    assert header == f"{path}: invalid configuration"
    assert detail.strip() == f"{path}: cannot read: No such file or directory"


@pytest.mark.parametrize("text", ["", "# only a comment\n", "- a\n- b\n", "just a string\n"])
def test_file_that_is_not_a_mapping_is_rejected(tmp_path: Path, text: str) -> None:
    path = tmp_path / "edge.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match="mapping at the top level"):
        load_config(path)


# ----------------------------------------------------------------------------------------- schema


def test_every_error_is_listed_not_just_the_first() -> None:
    data = {
        "node": {"id": "Bad Id!", "site": "x" * 201},
        "camera": {"type": "synthetic", "fps": 0, "noise": 1.0},
        "mqtt": {"port": 70000, "colour": "red"},
        "logging": {"level": "LOUD"},
    }
    fields = sorted(line.split(": ", 1)[0] for line in _errors(data))
    assert fields == sorted(
        ["node.id", "node.site", "camera.fps", "camera.noise", "mqtt.port", "mqtt.colour", "logging.level"]
    )


def test_missing_required_sections_are_named() -> None:
    assert sorted(_errors({})) == ["camera: required field is missing", "node: required field is missing"]


def test_discriminator_tag_is_not_in_the_error_path() -> None:
    (line,) = _errors(_with("camera", width=300))
    assert line.startswith("camera.width: ")
    (line,) = _errors(_with("camera", type="opencv", url="/dev/video0", fps=-1))
    assert line.startswith("camera.fps: ")


def test_unknown_camera_type_is_rejected() -> None:
    (line,) = _errors(_with("camera", type="webcam"))
    assert line.startswith("camera: ")
    assert "synthetic" in line


@pytest.mark.parametrize(
    ("polygon", "field", "message"),
    [
        ([[0, 0], [1, 1]], "privacy.masks[0].polygon", "at least 3"),
        ([[0, 0], [1, 0], [1.5, 1]], "privacy.masks[0].polygon", "outside the image"),
        ([[0, 0], [0.5, 0.5], [1, 1]], "privacy.masks[0].polygon", "no area"),
        ([[0, 0], [1, 0], [float("nan"), 1]], "privacy.masks[0].polygon", "finite"),
        ([[0, 0], [1, 0, 0], [1, 1]], "privacy.masks[0].polygon[1]", "at most 2"),
        ("a square", "privacy.masks[0].polygon", "list"),
    ],
)
def test_malformed_mask_polygons_are_rejected(polygon: object, field: str, message: str) -> None:
    (line,) = _errors(_with("privacy", masks=[{"name": "shop", "polygon": polygon}]))
    assert line.startswith(f"{field}: ")
    assert message in line.lower()


def test_good_polygon_is_accepted() -> None:
    config = parse_config(_with("privacy", masks=[{"name": "shop", "polygon": [[0, 0], [1, 0], [1, 1]]}]))
    assert config.privacy.masks[0].polygon == [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0)]


@pytest.mark.parametrize("reason", ["", "   "])
def test_privacy_off_needs_a_reason(reason: str) -> None:
    (line,) = _errors(_with("privacy", required=False, off_reason=reason))
    assert line.startswith("privacy: ")
    assert "off_reason" in line


def test_privacy_off_fixture_is_rejected(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _validate(capsys, CONFIGS / "bad_privacy_off_without_reason.yaml")
    assert code == 1
    assert "off_reason" in err


def test_privacy_off_with_a_reason_is_accepted() -> None:
    config = parse_config(_with("privacy", required=False, off_reason="points at a motorway only"))
    assert config.privacy.required is False


def test_emit_on_cross_needs_a_counting_line() -> None:
    (line,) = _errors(_with("anpr", enabled=True, emit_on_cross=True))
    assert line.startswith("anpr: ") and "anpr.line" in line
    config = parse_config(_with("anpr", enabled=True, emit_on_cross=True, line=[[0, 0.5], [1, 0.5]]))
    assert config.anpr.emit_on_cross is True


def test_finer_look_is_off_or_a_factor_above_one() -> None:
    (line,) = _errors(_with("anpr", enabled=True, finer_look=0.8))
    assert line.startswith("anpr.finer_look: ") and "above 1" in line
    assert parse_config(_with("anpr", enabled=True)).anpr.finer_look == 0.0
    assert parse_config(_with("anpr", enabled=True, finer_look=1.5)).anpr.finer_look == 1.5


@pytest.mark.parametrize(
    "url",
    [
        "rtsp://admin:hunter2@10.0.0.20:554/stream1",
        "rtsp://admin@10.0.0.20/stream1",
        "rtsps://user:hunter2@cam.example/live",
        "http://u:hunter2@cam/mjpeg",
    ],
)
def test_credentials_in_the_url_are_rejected_without_echoing_them(url: str) -> None:
    (line,) = _errors(_with("camera", type="opencv", url=url))
    assert line.startswith("camera.url: ")
    assert "credentials_file" in line
    assert "hunter2" not in line


def test_credentials_fixture_is_rejected(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _validate(capsys, CONFIGS / "bad_rtsp_credentials.yaml")
    assert code == 1
    assert "camera.url" in err
    assert "hunter2" not in out + err


@pytest.mark.parametrize(
    "url", ["rtsp://10.0.0.20:554/stream1", "/dev/video0", "clips/street.mp4", "rtsp://cam/path@2"]
)
def test_urls_without_credentials_are_accepted(url: str) -> None:
    camera = parse_config(_with("camera", type="opencv", url=url)).camera
    assert camera.type == "opencv"
    assert camera.url == url


def test_defaults_fill_in() -> None:
    config = parse_config({"node": {"id": "cam-1"}, "camera": {"type": "synthetic"}})
    assert isinstance(config, EdgeConfig)
    assert config.node.site == ""
    assert config.node.state_dir == Path("/var/lib/edge")
    assert (config.node.location.lat, config.node.location.lon) == (0.0, 0.0)
    assert config.camera.type == "synthetic"
    assert (config.camera.width, config.camera.height, config.camera.fps) == (1920, 1080, 25.0)
    assert config.camera.plate_mix.be_current == 0.55
    assert config.privacy.required is True
    assert config.privacy.masks == []
    assert config.privacy.fill_bgr == (0, 0, 0)
    assert config.pipeline.stall_after_s == 5.0
    assert (config.mqtt.host, config.mqtt.port, config.mqtt.keepalive_s) == ("127.0.0.1", 8883, 30)
    assert config.logging.level == "INFO"


def test_opencv_defaults_fill_in() -> None:
    camera = parse_config(_with("camera", type="opencv", url="/dev/video0")).camera
    assert camera.type == "opencv"
    assert (camera.credentials_file, camera.width, camera.fps, camera.loop) == (None, None, None, False)
    assert (camera.reconnect_initial_s, camera.reconnect_max_s, camera.read_timeout_s) == (0.5, 30.0, 5.0)


def test_full_fixture_values_are_kept() -> None:
    config = load_config(CONFIGS / "good_full.yaml")
    assert config.node.location.lat == 50.8456
    assert config.camera.type == "opencv"
    assert config.camera.credentials_file == Path("/run/credentials/edge.service/rtsp")
    assert [m.name for m in config.privacy.masks] == ["shop front", "upstairs windows"]
    assert config.mqtt.topic_prefix == "city/cams"
    assert config.logging.level == "DEBUG"


@pytest.mark.parametrize(
    ("section", "values", "field"),
    [
        ("camera", {"width": 1279}, "camera"),  # odd: H.264 needs even sizes
        ("camera", {"type": "opencv", "url": "x", "reconnect_initial_s": 10, "reconnect_max_s": 5}, "camera"),
        ("mqtt", {"reconnect_min_s": 10, "reconnect_max_s": 5}, "mqtt"),
        ("privacy", {"fill_bgr": [0, 0, 256]}, "privacy.fill_bgr"),
        ("privacy", {"mode": "blur", "blur_share": 0.5}, "privacy.blur_share"),
        ("mqtt", {"topic_prefix": "cams/"}, "mqtt.topic_prefix"),
        ("node", {"id": "a" * 64}, "node.id"),
    ],
)
def test_cross_field_and_format_rules(section: str, values: dict[str, object], field: str) -> None:
    (line,) = _errors(_with(section, **values))
    assert line.split(": ", 1)[0] == field


def test_the_configuration_is_immutable() -> None:
    config = parse_config(MINIMAL)
    with pytest.raises(ValueError, match="frozen"):
        config.mqtt.port = 1  # type: ignore[misc]


def test_repeated_keys_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "dup.yaml"
    path.write_text("node: {id: a}\nnode: {id: b}\ncamera: {type: synthetic}\n")
    with pytest.raises(ConfigError, match="line 2, column 1: duplicate key 'node'"):
        load_config(path)


def test_credentials_in_the_query_string_are_refused() -> None:
    data = {"node": {"id": "a"}, "camera": {"type": "opencv", "url": "rtsp://cam/x?user=a&password=s3cret"}}
    with pytest.raises(ConfigError, match=r"camera\.url: the URL's query carries credentials") as info:
        parse_config(data)
    assert "s3cret" not in str(info.value)
