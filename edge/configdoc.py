"""Generates docs/config.md from the configuration schema, so the reference cannot drift from the code.

The walk starts at ``EdgeConfig`` and gives every model its own section (a discriminated union, such as
``camera``, one section per variant), in schema order, so the output is deterministic. A type the
renderer does not know raises ``TypeError``: extending the schema with one means extending this module,
rather than publishing a wrong reference.
"""

from __future__ import annotations

import inspect
import re
import types
import typing
from dataclasses import dataclass
from pathlib import Path

import annotated_types
import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from edge.config import EdgeConfig

DOCS_PATH = Path("docs/config.md")
EXAMPLE_PATH = "../examples/demo.yaml"  # relative to docs/config.md


@dataclass(frozen=True, slots=True)
class FieldRow:
    """One row of a section's table. ``path`` is dotted, e.g. ``mqtt.keepalive_s``."""

    path: str
    type: str
    default: str
    allowed: str
    description: str
    required: bool


@dataclass(frozen=True, slots=True)
class Section:
    """One model at one place in the configuration."""

    anchor: str
    title: str
    model: type[BaseModel]
    rows: tuple[FieldRow, ...]
    variant: str
    """Under a union (``camera``), the ``type`` that selects this section; else empty."""
    union_path: str
    """The path of that union, e.g. ``camera``; else empty."""


@dataclass(frozen=True, slots=True)
class _Place:
    """Where a model sits: its dotted path and, under a union, the variant that selects it."""

    path: str
    variant: str = ""
    union_path: str = ""

    @property
    def anchor(self) -> str:
        key = " ".join(part for part in (self.path or "top level", self.variant) if part)
        return re.sub(r"[^a-z0-9]+", "-", key.lower()).strip("-")

    @property
    def title(self) -> str:
        if not self.path:
            return "Top level"
        if not self.variant:
            return f"`{self.path}`"
        if self.path == self.union_path:
            return f"`{self.path}` (`type: {self.variant}`)"
        return f"`{self.path}` (when `{self.union_path}.type: {self.variant}`)"

    @property
    def link_text(self) -> str:
        return f"`{self.variant}`" if self.variant and self.path == self.union_path else f"`{self.path}`"

    def child(self, name: str) -> _Place:
        return _Place(f"{self.path}.{name}" if self.path else name, self.variant, self.union_path)


# -------------------------------------------------------------------------------------------- walk


def collect_sections(root: type[BaseModel] = EdgeConfig) -> list[Section]:
    """Every model reachable from ``root``, parents before children, in field order."""
    sections: list[Section] = []
    _walk(root, _Place(""), sections)
    anchors = [s.anchor for s in sections]
    if len(anchors) != len(set(anchors)):
        raise ValueError(f"duplicate section anchors: {sorted(anchors)}")
    return sections


def _walk(model: type[BaseModel], place: _Place, out: list[Section]) -> None:
    rows: list[FieldRow] = []
    children: list[tuple[type[BaseModel], _Place]] = []
    for name, info in model.model_fields.items():
        field_place = place.child(name)
        nested = _nested_models(info.annotation, field_place)
        children.extend(nested)
        rows.append(_row(field_place.path, info, nested))
    out.append(Section(place.anchor, place.title, model, tuple(rows), place.variant, place.union_path))
    for child_model, child_place in children:
        _walk(child_model, child_place, out)


def _nested_models(annotation: object, place: _Place) -> list[tuple[type[BaseModel], _Place]]:
    """The models a field holds, each with the place its section describes."""
    annotation = _strip_optional(annotation)
    if _is_model(annotation):
        return [(typing.cast(type[BaseModel], annotation), place)]
    if _is_model_union(annotation):
        return [
            (m, _Place(place.path, _discriminator_value(m), place.path)) for m in typing.get_args(annotation)
        ]
    if typing.get_origin(annotation) is list:
        (item,) = typing.get_args(annotation)
        return _nested_models(item, _Place(f"{place.path}[]", place.variant, place.union_path))
    return []


def _discriminator_value(model: type[BaseModel]) -> str:
    # Union members are told apart by a Literal `type` field (see CameraConfig).
    (value,) = typing.get_args(model.model_fields["type"].annotation)
    return str(value)


# --------------------------------------------------------------------------------------------- rows


def _row(path: str, info: FieldInfo, nested: list[tuple[type[BaseModel], _Place]]) -> FieldRow:
    type_text, allowed_by_type = _type_text(info.annotation, nested)
    allowed = [allowed_by_type] if allowed_by_type else []
    allowed.extend(_constraints(info, info.annotation))
    return FieldRow(
        path=path,
        type=type_text,
        default=_default_text(info),
        allowed="; ".join(allowed),
        description=" ".join((info.description or "").split()),
        required=info.is_required(),
    )


def _type_text(annotation: object, nested: list[tuple[type[BaseModel], _Place]]) -> tuple[str, str]:
    """The type as a YAML author sees it, and the values a Literal allows."""
    inner = _strip_optional(annotation)
    suffix = " or null" if inner is not annotation else ""
    links = ", ".join(f"[{p.link_text}](#{p.anchor})" for _, p in nested)
    if _is_model(inner):
        return f"mapping: {links}{suffix}", ""
    if _is_model_union(inner):
        return f"mapping, chosen by `type`: {links}{suffix}", ""
    if typing.get_origin(inner) is list and nested:
        return f"list of mappings: {links}{suffix}", ""
    if typing.get_origin(inner) is typing.Literal:
        values = typing.get_args(inner)
        kinds = {_scalar_name(type(v)) for v in values}
        listed = ", ".join(f"`{_yaml_value(v)}`" for v in values)
        allowed = f"one of {listed}" if len(values) > 1 else f"exactly {listed}"
        return " or ".join(sorted(kinds)) + suffix, allowed
    return _plain_type(inner) + suffix, ""


def _plain_type(annotation: object) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is list:
        return f"list of {_plain_type(args[0])}"
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return f"list of {_plain_type(args[0])}"
        return "[" + ", ".join(_plain_type(a) for a in args) + "]"
    if origin is typing.Annotated:
        return _plain_type(args[0])
    if isinstance(annotation, type):
        return _scalar_name(annotation)
    raise TypeError(f"configdoc cannot describe the type {annotation!r}; extend edge/configdoc.py")


_SCALAR_NAMES: dict[type, str] = {
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    Path: "path",
}


def _scalar_name(cls: type) -> str:
    for known, name in _SCALAR_NAMES.items():
        if cls is known:
            return name
    raise TypeError(f"configdoc cannot describe the type {cls!r}; extend edge/configdoc.py")


def _constraints(info: FieldInfo, annotation: object) -> list[str]:
    lower = upper = ""
    min_len: int | None = None
    max_len: int | None = None
    out: list[str] = []
    for item in info.metadata:
        if isinstance(item, annotated_types.Ge):
            lower = f"{_yaml_value(item.ge)} ≤ "
        elif isinstance(item, annotated_types.Gt):
            lower = f"{_yaml_value(item.gt)} < "
        elif isinstance(item, annotated_types.Le):
            upper = f" ≤ {_yaml_value(item.le)}"
        elif isinstance(item, annotated_types.Lt):
            upper = f" < {_yaml_value(item.lt)}"
        elif isinstance(item, annotated_types.MinLen):
            min_len = item.min_length
        elif isinstance(item, annotated_types.MaxLen):
            max_len = item.max_length
        elif isinstance(item, annotated_types.MultipleOf):
            out.append(f"multiple of {_yaml_value(item.multiple_of)}")
        elif getattr(item, "pattern", None) is not None:
            out.append(f"matches `{item.pattern}`")
        else:
            raise TypeError(f"configdoc cannot describe the constraint {item!r}; extend edge/configdoc.py")
    if lower or upper:
        out.insert(0, f"{lower}x{upper}")
    if min_len is not None or max_len is not None:
        out.insert(0, _length_text(min_len, max_len, annotation))
    return out


def _length_text(min_len: int | None, max_len: int | None, annotation: object) -> str:
    unit = "characters" if _strip_optional(annotation) is str else "items"
    if min_len is not None and max_len is not None:
        return f"{min_len} to {max_len} {unit}"
    if min_len is not None:
        return f"at least {min_len} {unit}"
    return f"at most {max_len} {unit}"


def _default_text(info: FieldInfo) -> str:
    if info.is_required():
        return "**required**"
    value = info.get_default(call_default_factory=True)
    if isinstance(value, BaseModel):
        return "see its section"
    return f"`{_yaml_value(value)}`"


def _yaml_value(value: object) -> str:
    """A value as it would be written in the YAML file (flow style)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str | Path):
        # Plain where YAML reads it back as the same string (`day`), quoted where it would not (`''`).
        dumped = yaml.safe_dump(str(value), default_flow_style=True, allow_unicode=True, width=1_000_000)
        return dumped.removesuffix("\n").removesuffix("\n...")
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_yaml_value(v) for v in value) + "]"
    raise TypeError(f"configdoc cannot write the default {value!r}; extend edge/configdoc.py")


def _strip_optional(annotation: object) -> object:
    if _is_union(annotation):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _is_union(annotation: object) -> bool:
    return typing.get_origin(annotation) in (typing.Union, types.UnionType)


def _is_model(annotation: object) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _is_model_union(annotation: object) -> bool:
    return _is_union(annotation) and all(_is_model(a) for a in typing.get_args(annotation))


# ------------------------------------------------------------------------------------------ render


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_section(section: Section) -> str:
    lines = [f'<a id="{section.anchor}"></a>', "", f"### {section.title}", ""]
    doc = section.model.__dict__.get("__doc__")
    if doc:
        lines += [f"{' '.join(inspect.cleandoc(doc).split())} (`{section.model.__name__}`)", ""]
    lines += [
        "| Field | Type | Default | Allowed | Description |",
        "|---|---|---|---|---|",
    ]
    for row in section.rows:
        cells = (f"`{row.path}`", row.type, row.default, row.allowed, row.description)
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


_INTRO = """\
# Configuration

<!-- Generated from edge/config.py by `edge config-docs`; do not edit by hand. -->

A node reads **one YAML file**, named on the command line:

```sh
edge run --config /etc/edge/edge.yaml
```

Check a file before it is deployed:

```sh
edge validate --config /etc/edge/edge.yaml
```

`edge validate` exits 0 when the file is valid. Otherwise it exits 1 and lists **every** problem, one per
line, each naming the field by its path, e.g. `camera.width` or `privacy.masks[0].polygon`. Unknown keys
are errors, so a misspelt key is never silently ignored. Validation does no I/O beyond reading the file
(and the override below) and reads no environment variables.

## Remote changes override the file

The central system may change a few fields remotely with the signed `set_config` command. Those changes
live in `<node.state_dir>/config-override.json` and are merged over this file at every start: schema
defaults, then this file, then the override. `edge validate` says when an override is in force and
which fields it sets. An override that cannot be used is refused as a whole and the node runs on this
file alone (see [operations.md](operations.md#remote-configuration-changes-set_config)).

## Secrets come from files

No secret belongs in this file. Fields ending in `_file` (such as `camera.credentials_file`) name a file
that holds the secret, normally a systemd credential (`LoadCredential=` in the unit, which places it
under `/run/credentials/<unit>/`). A stream URL with `user:password@` in it is rejected.

## Example

A complete example: [`examples/demo.yaml`](EXAMPLE). The smallest valid file:

```yaml
node:
  id: cam-0001
camera:
  type: synthetic
```

Everything not given takes the default listed below. Required: REQUIRED.
With `privacy.required` left at `true` and no `privacy.masks`, no frame leaves the node (fail closed).

## Reference

One section per part of the file; a path such as `privacy.masks[].polygon` means the `polygon` key of each
entry of the `privacy.masks` list. In the *Allowed* column, `x` stands for the value.
"""


def render_config_docs(root: type[BaseModel] = EdgeConfig) -> str:
    """The whole of docs/config.md."""
    sections = collect_sections(root)
    intro = _INTRO.replace("EXAMPLE", EXAMPLE_PATH).replace("REQUIRED", _required_text(sections))
    return intro + "".join("\n" + render_section(s) for s in sections)


def _required_text(sections: list[Section]) -> str:
    """Required keys outside lists; a key only some union variants require names those variants."""
    variants_of: dict[str, list[str]] = {}
    required_in: dict[str, list[str]] = {}
    for section in sections:
        if section.variant and section.variant not in variants_of.setdefault(section.union_path, []):
            variants_of[section.union_path].append(section.variant)
        for row in section.rows:
            if row.required and "[]" not in row.path:
                required_in.setdefault(row.path, []).append(section.variant)
    parts = []
    for path, variants in required_in.items():
        union = next((u for u in variants_of if path.startswith(u + ".")), "")
        if not variants[0] or variants == variants_of.get(union):
            parts.append(f"`{path}`")
        else:
            parts.append(f"`{path}` (" + ", ".join(f"`type: {v}`" for v in variants) + ")")
    return ", ".join(parts)
