"""Request parsing, signature and replay checks, without a node; a short Hypothesis fuzz."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from edge.commands.model import CommandError, ErrorCode
from edge.commands.parse import ParseLimits, parse_request
from edge.commands.replay import ReplayGuard
from edge.commands.signing import sign_request
from edge.ctl.send import make_request

KEY = Ed25519PrivateKey.generate()
OTHER = Ed25519PrivateKey.generate()
LIMITS = ParseLimits(max_request_bytes=4096, max_validity_s=300)
NOW = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)
NOW_NS = int(NOW.timestamp()) * 1_000_000_000


def parse(doc: object, raw: bytes | None = None) -> object:
    data = raw if raw is not None else json.dumps(doc).encode()
    return parse_request(data, [KEY.public_key()], NOW_NS, LIMITS)


def code_of(doc: object, raw: bytes | None = None) -> ErrorCode:
    with pytest.raises(CommandError) as info:
        parse(doc, raw)
    return info.value.code


def test_a_signed_request_parses() -> None:
    doc = make_request("ping", {}, KEY, issuer="op:alice", now=NOW)
    cmd = parse(doc)
    assert cmd.name == "ping" and cmd.issuer == "op:alice" and cmd.id == doc["id"]  # type: ignore[attr-defined]


def test_forged_and_tampered_requests_are_refused() -> None:
    assert code_of(make_request("ping", {}, OTHER, issuer="x", now=NOW)) == ErrorCode.BAD_SIGNATURE
    doc = make_request("hold", {"case_ref": "A"}, KEY, issuer="x", now=NOW)
    doc["args"]["case_ref"] = "B"
    assert code_of(doc) == ErrorCode.BAD_SIGNATURE
    doc = make_request("ping", {}, KEY, issuer="x", now=NOW)
    doc["sig"] = "AAAA"
    assert code_of(doc) == ErrorCode.BAD_SIGNATURE
    with pytest.raises(CommandError) as info:
        parse_request(
            json.dumps(make_request("ping", {}, KEY, issuer="x", now=NOW)).encode(), [], NOW_NS, LIMITS
        )
    assert info.value.code == ErrorCode.BAD_SIGNATURE


def test_time_window_is_enforced() -> None:
    old = NOW - dt.timedelta(minutes=10)
    assert code_of(make_request("ping", {}, KEY, issuer="x", now=old)) == ErrorCode.EXPIRED
    future = NOW + dt.timedelta(minutes=10)
    assert code_of(make_request("ping", {}, KEY, issuer="x", now=future)) == ErrorCode.NOT_YET_VALID
    long = make_request("ping", {}, KEY, issuer="x", now=NOW, validity_s=3600)
    assert code_of(long) == ErrorCode.VALIDITY_TOO_LONG


@pytest.mark.parametrize(
    "raw",
    [b"", b"not json", b"[]", b"null", b'{"id": 1}', b"\xff\xfe", b"[" * 5000],
)
def test_malformed_bytes_are_refused(raw: bytes) -> None:
    assert code_of(None, raw) in (ErrorCode.MALFORMED, ErrorCode.TOO_LARGE)


def test_wrong_types_and_extra_fields_are_refused() -> None:
    good = make_request("ping", {}, KEY, issuer="x", now=NOW)
    for key, value in [("args", []), ("id", 5), ("name", "Ping!"), ("issued_at", "yesterday"), ("sig", 7)]:
        assert code_of({**good, key: value}) == ErrorCode.MALFORMED, key
    assert code_of({**good, "extra": 1}) == ErrorCode.MALFORMED
    naive = sign_request({**good, "issued_at": "2026-11-28T12:00:00"}, KEY)
    assert code_of(naive) == ErrorCode.MALFORMED


def test_oversized_request_is_refused() -> None:
    doc = make_request("ping", {"pad": "x" * 5000}, KEY, issuer="x", now=NOW)
    assert code_of(doc) == ErrorCode.TOO_LARGE


def test_replay_guard_remembers_ids_across_restarts(tmp_path: Path) -> None:
    guard = ReplayGuard(tmp_path / "c.sqlite")
    assert guard.first_use("a", NOW_NS + 10**9, NOW_NS)
    assert not guard.first_use("a", NOW_NS + 10**9, NOW_NS)
    guard.close()
    guard = ReplayGuard(tmp_path / "c.sqlite")
    assert not guard.first_use("a", NOW_NS + 10**9, NOW_NS)
    # Past its expiry the id is forgotten (the parser refuses the request as expired by then).
    assert guard.first_use("a", NOW_NS + 3 * 10**9, NOW_NS + 2 * 10**9)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=600))
def test_fuzz_random_bytes_only_ever_raise_command_errors(raw: bytes) -> None:
    with pytest.raises(CommandError):
        parse(None, raw)


@settings(deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["id", "name", "args", "issued_at", "expires_at", "issuer", "sig", "x"]), json_values
    )
)
def test_fuzz_request_shaped_objects_only_ever_raise_command_errors(doc: dict[str, object]) -> None:
    with pytest.raises(CommandError):
        parse(doc)


@settings(deadline=None)
@given(st.sampled_from(["id", "name", "args", "issuer", "issued_at", "expires_at"]), json_values)
@example("args", {"": math.inf})  # Infinity on the wire: was a ValueError from the canonical encoding
def test_fuzz_any_change_to_a_signed_request_breaks_it(field: str, value: object) -> None:
    doc = make_request("ping", {}, KEY, issuer="op", now=NOW)
    if doc[field] == value:
        return
    with pytest.raises(CommandError):
        parse({**doc, field: value})
