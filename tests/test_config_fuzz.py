"""Property tests of the configuration loader: whatever the input, the only failure is ``ConfigError``.

A node must refuse a bad file with a readable message, never with a traceback from deep in a validator.
``make soak`` runs these with the ``soak`` Hypothesis profile (``FUZZ_EXAMPLES``, default 100 000).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from edge.config import EdgeConfig, load_config, parse_config
from edge.errors import ConfigError

DEMO: dict[str, Any] = yaml.safe_load((Path(__file__).parent.parent / "examples" / "demo.yaml").read_text())
FIELDS = sorted({(section, key) for section, body in DEMO.items() if isinstance(body, dict) for key in body})

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
)
yamlish = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=20,
)


def parses_or_refuses(data: object) -> None:
    try:
        result: EdgeConfig | str = parse_config(data)
    except ConfigError as exc:
        result = str(exc)
    assert isinstance(result, EdgeConfig) or result, "a refusal says why"


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(yamlish)
def test_any_yaml_value_is_parsed_or_refused(data: object) -> None:
    parses_or_refuses(data)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(FIELDS), yamlish), min_size=1, max_size=4))
def test_the_demo_with_fields_replaced_is_parsed_or_refused(
    changes: list[tuple[tuple[str, str], Any]],
) -> None:
    data = {k: dict(v) if isinstance(v, dict) else v for k, v in DEMO.items()}
    for (section, key), value in changes:
        data[section][key] = value
    parses_or_refuses(data)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(DEMO)), yamlish)
def test_the_demo_with_a_section_replaced_is_parsed_or_refused(section: str, value: object) -> None:
    parses_or_refuses({**DEMO, section: value})


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.binary(max_size=300), st.builds(lambda d: yaml.safe_dump(d).encode(), yamlish)))
@example(b"\x80")  # not UTF-8: was a UnicodeDecodeError traceback
def test_any_file_content_is_loaded_or_refused(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "node.yaml"
        path.write_bytes(content)
        try:
            result: EdgeConfig | str = load_config(path)
        except ConfigError as exc:
            result = str(exc)
        assert isinstance(result, EdgeConfig) or result, "a refusal says why"
