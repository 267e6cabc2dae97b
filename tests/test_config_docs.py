"""docs/config.md is generated from the schema, complete, and current; the schema describes every field."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import types
import typing
from pathlib import Path
from typing import Literal

import pytest
import yaml
from pydantic import BaseModel, ConfigDict, Field

from edge.cli import main
from edge.config import EdgeConfig, load_config, parse_config
from edge.configdoc import EXAMPLE_PATH, collect_sections, render_config_docs, render_section

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs" / "config.md"


def _models_in(annotation: object) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def _is_list(annotation: object) -> bool:
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and len(args) == 1:
        return _is_list(args[0])
    return typing.get_origin(annotation) is list


def _schema_fields(
    model: type[BaseModel] = EdgeConfig, prefix: str = ""
) -> list[tuple[type[BaseModel], str, str]]:
    """(model, field name, dotted path) for every field reachable from ``model``, written independently
    of edge.configdoc so that a walker bug there cannot hide a missing field."""
    out = []
    for name, info in model.model_fields.items():
        path = f"{prefix}.{name}" if prefix else name
        out.append((model, name, path))
        child_prefix = f"{path}[]" if _is_list(info.annotation) else path
        for child in _models_in(info.annotation):
            out.extend(_schema_fields(child, child_prefix))
    return out


ALL_FIELDS = _schema_fields()
ALL_MODELS = sorted({m for m, _, _ in ALL_FIELDS} | {EdgeConfig}, key=lambda m: m.__name__)


def test_walk_sees_the_whole_schema() -> None:
    # Guards the independent walker above: if it found nothing, the tests below would pass vacuously.
    paths = {path for _, _, path in ALL_FIELDS}
    assert {"mqtt.keepalive_s", "camera.url", "camera.plate_mix.nl", "privacy.masks[].polygon"} <= paths
    assert len(ALL_MODELS) >= 12


def test_checked_in_docs_are_current() -> None:
    assert DOCS.is_file(), "docs/config.md is missing: run `edge config-docs` from the repository root"
    assert DOCS.read_text(encoding="utf-8") == render_config_docs(), (
        "docs/config.md is out of date with edge/config.py: run `edge config-docs` from the repository root"
    )


@pytest.mark.parametrize(
    ("model", "name", "path"), ALL_FIELDS, ids=[f"{m.__name__}.{n}" for m, n, _ in ALL_FIELDS]
)
def test_every_field_is_documented(model: type[BaseModel], name: str, path: str) -> None:
    docs = DOCS.read_text(encoding="utf-8")
    assert f"| `{path}` |" in docs, f"{model.__name__}.{name} has no row `{path}` in docs/config.md"


@pytest.mark.parametrize("model", ALL_MODELS, ids=lambda m: m.__name__)
def test_every_model_has_a_section(model: type[BaseModel]) -> None:
    assert f"(`{model.__name__}`)" in DOCS.read_text(encoding="utf-8")


@pytest.mark.parametrize(("model", "name", "path"), ALL_FIELDS, ids=[p for _, _, p in ALL_FIELDS])
def test_every_field_has_a_description(model: type[BaseModel], name: str, path: str) -> None:
    description = model.model_fields[name].description
    assert description, f"{model.__name__}.{name} ({path}) needs Field(description=...)"
    assert description.strip() == description, f"{model.__name__}.{name}: stray whitespace"


@pytest.mark.parametrize("model", ALL_MODELS, ids=lambda m: m.__name__)
def test_every_model_has_its_own_docstring(model: type[BaseModel]) -> None:
    # Rendered as the section's introduction; an inherited BaseModel docstring would be nonsense there.
    assert (model.__dict__.get("__doc__") or "").strip(), f"{model.__name__} needs a docstring"


def test_one_section_per_camera_type() -> None:
    camera_models = _models_in(EdgeConfig.model_fields["camera"].annotation)
    types_ = [typing.get_args(m.model_fields["type"].annotation)[0] for m in camera_models]
    assert sorted(types_) == ["opencv", "picamera2", "synthetic"]
    titles = [s.title for s in collect_sections()]
    for camera_type in types_:
        assert f"`camera` (`type: {camera_type}`)" in titles
    docs = DOCS.read_text(encoding="utf-8")
    assert docs.count("| `camera.width` |") == len(types_)


def test_rows_carry_type_default_bounds_and_description() -> None:
    docs = DOCS.read_text(encoding="utf-8")
    (row,) = [line for line in docs.splitlines() if line.startswith("| `mqtt.keepalive_s` |")]
    cells = [c.strip() for c in row.strip("|").split(" | ")]
    assert cells[:4] == ["`mqtt.keepalive_s`", "integer", "`30`", "2 ≤ x ≤ 3600"]
    assert cells[4].startswith("MQTT keepalive.")

    (row,) = [line for line in docs.splitlines() if line.startswith("| `camera.url` |")]
    assert "**required**" in row
    assert "1 to 2048 characters" in row
    (row,) = [line for line in docs.splitlines() if line.startswith("| `camera.lighting` |")]
    assert "one of `day`, `night`, `cycle`" in row


def test_intro_covers_validate_secrets_and_the_example() -> None:
    docs = DOCS.read_text(encoding="utf-8")
    assert "edge validate --config" in docs
    assert "_file" in docs
    assert "credential" in docs
    assert "(../examples/demo.yaml)" in docs


def test_linked_example_exists_and_is_valid() -> None:
    example = (DOCS.parent / EXAMPLE_PATH).resolve()
    assert example.is_file(), f"docs/config.md links {EXAMPLE_PATH}, which does not exist"
    load_config(example)


def test_yaml_examples_in_the_docs_are_valid() -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", DOCS.read_text(encoding="utf-8"), flags=re.DOTALL)
    assert blocks
    for block in blocks:
        parse_config(yaml.safe_load(block))


def test_internal_links_resolve() -> None:
    docs = DOCS.read_text(encoding="utf-8")
    anchors = set(re.findall(r'<a id="([^"]+)"></a>', docs))
    links = set(re.findall(r"\]\(#([^)]+)\)", docs))
    assert links
    assert links <= anchors, f"broken links: {sorted(links - anchors)}"


def test_output_is_deterministic_across_processes() -> None:
    script = (
        "import sys; from edge.configdoc import render_config_docs; sys.stdout.write(render_config_docs())"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env={**os.environ, "PYTHONHASHSEED": "12345"},
        timeout=60,
        check=True,
    )
    assert result.stdout == render_config_docs()


# ----------------------------------------------------------------------------------- the renderer


class _Inner(BaseModel):
    """An inner thing."""

    model_config = ConfigDict(extra="forbid")

    level: Literal["a", "b"] = Field(default="a", description="Level.")


class _Outer(BaseModel):
    """An outer thing."""

    model_config = ConfigDict(extra="forbid")

    count: int | None = Field(default=None, ge=0, lt=5, description="How many | which.")
    name: str = Field(default="yes", max_length=8, description="A name.")
    items: list[_Inner] = Field(default_factory=list, description="Inner things.")


def test_renderer_on_a_small_schema() -> None:
    root, inner = collect_sections(_Outer)
    assert (inner.title, inner.anchor) == ("`items[]`", "items")
    assert render_section(root).splitlines()[-3:] == [
        "| `count` | integer or null | `null` | 0 ≤ x < 5 | How many \\| which. |",
        "| `name` | string | `'yes'` | at most 8 characters | A name. |",
        "| `items` | list of mappings: [`items[]`](#items) | `[]` |  | Inner things. |",
    ]
    assert (
        render_section(inner).splitlines()[-1]
        == "| `items[].level` | string | `a` | one of `a`, `b` | Level. |"
    )


def test_renderer_refuses_types_it_cannot_describe() -> None:
    class Odd(BaseModel):
        """Odd."""

        table: dict[str, int] = Field(default_factory=dict, description="A mapping of counts.")

    with pytest.raises(TypeError, match="configdoc"):
        collect_sections(Odd)


# ------------------------------------------------------------------------------------------- CLI


def test_cli_writes_then_checks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "out" / "config.md"
    assert main(["config-docs", "--check", "--output", str(target)]) == 1
    assert "edge config-docs" in capsys.readouterr().err

    assert main(["config-docs", "--output", str(target)]) == 0
    assert target.read_text(encoding="utf-8") == render_config_docs()
    assert main(["config-docs", "--check", "--output", str(target)]) == 0
    capsys.readouterr()

    target.write_text(render_config_docs().replace("keepalive", "keep-alive"), encoding="utf-8")
    assert main(["config-docs", "--check", "--output", str(target)]) == 1
    err = capsys.readouterr().err
    assert "out of date" in err
    assert "run `edge config-docs`" in err
