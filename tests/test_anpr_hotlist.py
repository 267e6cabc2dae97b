"""Hotlist bundles: signing, validation, keyed-hash matching with OCR confusions, persistence, edgectl.

Bundles here use the minimum PBKDF2 cost (1000 iterations) so that each test hashes in milliseconds.
"""

from __future__ import annotations

import base64
import copy
import io
import json
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import edge.anpr.hotlist_index as hotlist_index
from edge.anpr.hotlist import (
    HotlistError,
    HotlistErrorCode,
    HotlistHit,
    Purpose,
    fold_plate,
    normalise_plate,
    parse_bundle,
)
from edge.anpr.hotlist_index import Hotlists
from edge.anpr.hotlist_make import make_bundle
from edge.commands.signing import sign_request
from edge.ctl.hotlist import ProgressLine

KEY = Ed25519PrivateKey.generate()
OTHER = Ed25519PrivateKey.generate()
KEYS = [KEY.public_key()]
HOUR_NS = 3600 * 10**9
DAY_NS = 24 * HOUR_NS
NOW_NS = 1_795_867_200 * 10**9  # 2026-11-28T12:00:00Z
ITERATIONS = 1_000
ROWS = [
    ("1-ABC-234", "stolen", "case-0001"),
    ("2-XYZ-999", "wanted", "case-0002"),
    ("GHK-472", "uninsured", "case-0003"),
]
PLAIN = ["1ABC234", "1-ABC-234", "2XYZ999", "2-XYZ-999", "GHK472", "GHK-472", "1A8C234"]


def bundle_doc(
    rows: list[tuple[str, str, str]] = ROWS,
    *,
    version: int = 1,
    list_id: str = "police-national",
    purpose: str = "police",
    issued_ns: int = NOW_NS - HOUR_NS,
    valid_ns: int = DAY_NS,
    key: Ed25519PrivateKey = KEY,
) -> dict[str, Any]:
    return make_bundle(
        rows,
        list_id=list_id,
        purpose=purpose,
        version=version,
        issued_at_ns=issued_ns,
        expires_at_ns=issued_ns + valid_ns,
        issuer="op:central",
        key=key,
        iterations=ITERATIONS,
    )


DOC = bundle_doc()


def raw(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc).encode()


def loaded(*docs: dict[str, Any], directory: Path | None = None) -> Hotlists:
    h = Hotlists(directory)
    for doc in docs:
        h.load(parse_bundle(raw(doc), KEYS, NOW_NS))
    return h


def code_of(data: bytes | dict[str, Any], **kw: Any) -> HotlistErrorCode:
    with pytest.raises(HotlistError) as info:
        parse_bundle(data, kw.pop("keys", KEYS), kw.pop("now_ns", NOW_NS), **kw)
    return info.value.code


# --- matching --------------------------------------------------------------------------------------------


def test_an_exact_read_is_a_hit_that_needs_no_check() -> None:
    h = loaded(DOC)
    hit = HotlistHit("police-national", Purpose.POLICE, 1, "stolen", "case-0001", fuzzy=False)
    assert h.match("1ABC234", NOW_NS) == [hit]
    assert h.match("1-abc-234", NOW_NS) == [hit], "separators and case are normalised away"
    assert h.match("1AB-C234", NOW_NS) == [hit]
    assert h.match("GHK472", NOW_NS)[0].category == "uninsured"


@pytest.mark.parametrize("read", ["IABC234", "1A8C234", "IA8C234", "1-a8c-234"])
def test_an_ocr_confusion_is_a_hit_flagged_for_a_human(read: str) -> None:
    hits = loaded(DOC).match(read, NOW_NS)
    assert [(x.ref, x.fuzzy) for x in hits] == [("case-0001", True)]


def test_other_plates_do_not_match() -> None:
    h = loaded(DOC)
    for read in ["1ABC235", "1ABC23", "ABC234", "", "---", "€", "X" * 40, "2XYZ998"]:
        assert h.match(read, NOW_NS) == [], read


def test_a_read_can_hit_one_plate_exactly_and_its_look_alike_fuzzily() -> None:
    doc = bundle_doc([("1ABC234", "stolen", "case-a"), ("IABC234", "wanted", "case-b")])
    hits = loaded(doc).match("IABC234", NOW_NS)
    assert [(x.ref, x.fuzzy) for x in hits] == [("case-b", False), ("case-a", True)], "exact first"


def test_folding_maps_letters_to_the_digits_they_are_read_as() -> None:
    assert normalise_plate(" 1-abc-234\n") == "1ABC234"
    assert normalise_plate("ÄB-12") == "B12", "non-ASCII is dropped, never transliterated"
    assert fold_plate("OIBSZ") == "01852" and fold_plate("01852") == "01852"


def test_an_expired_list_never_matches_and_health_says_so() -> None:
    h = loaded(DOC)
    later = NOW_NS + DAY_NS
    assert h.match("1ABC234", later) == []
    [state] = h.state(later)
    assert (state.list_id, state.version, state.entries, state.expired, state.active) == (
        "police-national",
        1,
        3,
        True,
        False,
    )
    assert h.state(NOW_NS)[0].active


def test_purposes_stay_apart() -> None:
    lez = bundle_doc([("1ABC234", "lez_not_admitted", "lez-17")], list_id="lez-antwerp", purpose="lez")
    h = loaded(DOC, lez)
    assert {x.purpose for x in h.match("1ABC234", NOW_NS)} == {Purpose.POLICE, Purpose.LEZ}
    assert [x.ref for x in h.match("1ABC234", NOW_NS, purpose=Purpose.LEZ)] == ["lez-17"]
    assert code_of(raw(lez), purpose=Purpose.POLICE) == HotlistErrorCode.WRONG_PURPOSE
    same_id = bundle_doc(version=2, purpose="lez")
    with pytest.raises(HotlistError) as info:
        h.load(parse_bundle(raw(same_id), KEYS, NOW_NS))
    assert info.value.code == HotlistErrorCode.WRONG_PURPOSE


def test_a_read_is_hashed_once_per_kdf_parameters(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = hotlist_index.plate_hashes

    def counting(plate: str, salt: bytes, iterations: int) -> tuple[bytes, bytes]:
        calls.append(plate)
        return real(plate, salt, iterations)

    doc = bundle_doc()
    # A second list with the same salt: one computation serves both.
    second = copy.deepcopy(doc)
    second["list_id"] = "police-regional"
    second = sign_request(second, KEY)
    h = loaded(doc, second, bundle_doc(list_id="other-salt"))
    monkeypatch.setattr(hotlist_index, "plate_hashes", counting)
    assert len(h.match("1ABC234", NOW_NS)) == 3
    assert len(calls) == 2, "two salts, two computations"
    assert len(h.match("1-ABC-234", NOW_NS)) == 3
    assert len(calls) == 2, "the same read again is served from the cache"


def test_matching_while_lists_are_replaced() -> None:
    h = loaded(DOC)
    docs = [bundle_doc(version=v) for v in range(2, 8)]
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader() -> None:
        try:
            while not stop.is_set():
                assert [x.ref for x in h.match("1ABC234", NOW_NS)] == ["case-0001"]
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=reader, name=f"reader-{i}") for i in range(3)]
    for t in threads:
        t.start()
    for doc in docs:
        h.load(parse_bundle(raw(doc), KEYS, NOW_NS))
    stop.set()
    for t in threads:
        t.join()
    assert errors == [] and h.state(NOW_NS)[0].version == 7


# --- refusals --------------------------------------------------------------------------------------------


def tampered(change: Callable[[dict[str, Any]], None]) -> bytes:
    doc = copy.deepcopy(DOC)
    change(doc)
    return raw(doc)


def test_forged_or_tampered_bundles_are_refused() -> None:
    forged = copy.deepcopy(DOC)
    forged["sig"] = sign_request(DOC, OTHER)["sig"]
    assert code_of(raw(forged)) == HotlistErrorCode.BAD_SIGNATURE
    assert code_of(raw(bundle_doc(key=OTHER))) == HotlistErrorCode.BAD_SIGNATURE
    assert code_of(raw(DOC), keys=[OTHER.public_key()]) == HotlistErrorCode.BAD_SIGNATURE
    assert code_of(raw(DOC), keys=[]) == HotlistErrorCode.BAD_SIGNATURE
    for change in [
        lambda d: d["entries"][0].update(category="wanted"),
        lambda d: d["entries"][1].update(exact=d["entries"][0]["exact"]),
        lambda d: d["entries"].pop(),
        lambda d: d.update(version=9),
        lambda d: d["kdf"].update(iterations=2000),
        lambda d: d.update(sig="AAAA"),
        lambda d: d.update(sig=base64.b64encode(bytes(64)).decode()),
    ]:
        assert code_of(tampered(change)) == HotlistErrorCode.BAD_SIGNATURE
    assert parse_bundle(raw(DOC), [OTHER.public_key(), KEY.public_key()], NOW_NS).version == 1


def test_the_validity_window_is_enforced() -> None:
    assert code_of(raw(DOC), now_ns=NOW_NS + DAY_NS) == HotlistErrorCode.EXPIRED
    assert code_of(raw(bundle_doc(issued_ns=NOW_NS + HOUR_NS))) == HotlistErrorCode.NOT_YET_VALID
    assert parse_bundle(raw(bundle_doc(issued_ns=NOW_NS + 60 * 10**9)), KEYS, NOW_NS), "clock skew"
    too_long = bundle_doc(valid_ns=40 * DAY_NS)
    assert code_of(raw(too_long)) == HotlistErrorCode.VALIDITY_TOO_LONG


def test_an_older_or_equal_version_is_refused() -> None:
    h = loaded(bundle_doc(version=5))
    for version in (5, 4, 1):
        with pytest.raises(HotlistError) as info:
            h.load(parse_bundle(raw(bundle_doc(version=version)), KEYS, NOW_NS))
        assert info.value.code == HotlistErrorCode.STALE_VERSION
    h.load(parse_bundle(raw(bundle_doc(version=6)), KEYS, NOW_NS))
    assert h.state(NOW_NS)[0].version == 6


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"{",
        b"\xff\xfe",
        b"[]",
        b'"bundle"',
        b'{"a": NaN}',
        b"[" * 50_000 + b"]" * 50_000,
        b"1" * 5000,
    ],
)
def test_what_is_not_a_json_object_is_malformed(data: bytes) -> None:
    assert code_of(data) == HotlistErrorCode.MALFORMED


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d.pop("issuer"),
        lambda d: d.update(extra=1),
        lambda d: d.update(schema="edge.hotlist/2"),
        lambda d: d.update(list_id="../../etc/passwd"),
        lambda d: d.update(list_id="police\n"),
        lambda d: d.update(purpose="marketing"),
        lambda d: d.update(version=0),
        lambda d: d.update(version=True),
        lambda d: d.update(version=1.0),
        lambda d: d.update(issued_at="2026-11-28T12:00:00"),
        lambda d: d.update(expires_at="2026-02-30T12:00:00Z"),
        lambda d: d.update(expires_at=d["issued_at"]),
        lambda d: d["kdf"].update(iterations=10),
        lambda d: d["kdf"].update(iterations=10**9),
        lambda d: d["kdf"].update(name="md5"),
        lambda d: d["kdf"].update(salt="c2hvcnQ="),
        lambda d: d["kdf"].update(salt="not base64!"),
        lambda d: d.update(entries={}),
        lambda d: d["entries"].append("1ABC234"),
        lambda d: d["entries"][0].update(exact="ABC"),
        lambda d: d["entries"][0].update(exact=d["entries"][0]["exact"].upper()),
        lambda d: d["entries"][0].update(category="Stolen!"),
        lambda d: d["entries"][0].update(ref=""),
        lambda d: d["entries"][0].update(plate="1ABC234"),
    ],
)
def test_a_signed_bundle_with_a_bad_field_is_malformed(change: Callable[[dict[str, Any]], None]) -> None:
    # Re-signed, so the refusal comes from validation and not from the signature.
    doc = copy.deepcopy(DOC)
    change(doc)
    assert code_of(raw(sign_request(doc, KEY))) == HotlistErrorCode.MALFORMED


def test_oversized_bundles_are_refused() -> None:
    data = raw(DOC)
    assert code_of(data, max_bytes=len(data) - 1) == HotlistErrorCode.TOO_LARGE
    assert code_of(DOC, max_bytes=len(data) // 2) == HotlistErrorCode.TOO_LARGE, "a parsed document too"
    assert code_of(data, max_entries=2) == HotlistErrorCode.TOO_LARGE
    assert parse_bundle(data, KEYS, NOW_NS, max_entries=3, max_bytes=len(data)).version == 1


def test_the_central_side_refuses_bad_rows_without_echoing_the_plate() -> None:
    for rows, why in [
        ([("1ABC234", "stolen", "seen 1-abc-234")], "ref contains the plate"),
        ([("--", "stolen", "case-1")], "no letters or digits"),
        ([("1ABC234", "Stolen", "case-1")], "category"),
        ([("1ABC234", "stolen", "")], "ref must be"),
    ]:
        with pytest.raises(HotlistError) as info:
            bundle_doc(rows)
        assert why in str(info.value) and "1ABC234" not in str(info.value)
    with pytest.raises(HotlistError):
        bundle_doc(list_id="Police National")
    with pytest.raises(HotlistError):
        bundle_doc(valid_ns=0)


# --- persistence -----------------------------------------------------------------------------------------


def test_lists_survive_a_restart_and_are_stored_without_plate_text(tmp_path: Path) -> None:
    directory = tmp_path / "state" / "hotlists"
    h = Hotlists.open(directory, KEYS, NOW_NS)
    h.load(parse_bundle(raw(DOC), KEYS, NOW_NS))
    stored = directory / "police-national.json"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    data = stored.read_bytes()
    for text in PLAIN + [fold_plate(normalise_plate(p)) for p in PLAIN]:
        assert text.encode() not in data.upper(), "no plate, in any form, in the stored file"
    again = Hotlists.open(directory, KEYS, NOW_NS + HOUR_NS)
    assert [x.ref for x in again.match("1ABC234", NOW_NS + HOUR_NS)] == ["case-0001"]
    assert again.match("IABC234", NOW_NS + HOUR_NS)[0].fuzzy
    with pytest.raises(HotlistError) as info:
        again.load(parse_bundle(raw(DOC), KEYS, NOW_NS))
    assert info.value.code == HotlistErrorCode.STALE_VERSION, "the stored version is the floor"
    again.load(parse_bundle(raw(bundle_doc(version=2, rows=ROWS[:1])), KEYS, NOW_NS))
    assert Hotlists.open(directory, KEYS, NOW_NS).state(NOW_NS)[0].entries == 1


def test_at_start_expired_lists_keep_only_their_header_and_bad_files_are_left_out(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    directory = tmp_path / "hotlists"
    lez = bundle_doc(list_id="lez-antwerp", purpose="lez", rows=[("9ZZZ999", "lez_not_admitted", "z-1")])
    loaded(DOC, lez, directory=directory)
    later = NOW_NS + DAY_NS
    (directory / "renamed.json").write_bytes((directory / "lez-antwerp.json").read_bytes())
    (directory / "broken.json").write_bytes(b"{not json")
    (directory / "police-national.json.tmp").write_bytes(b"half a write")
    text = (directory / "lez-antwerp.json").read_text()
    (directory / "lez-antwerp.json").write_text(text.replace('"z-1"', '"z-2"'))
    h = Hotlists.open(directory, KEYS, later)
    assert [(s.list_id, s.expired, s.active, s.entries) for s in h.state(later)] == [
        ("police-national", True, False, 3)
    ]
    assert h.match("1ABC234", NOW_NS) == [], "entries of a list expired at start are never loaded"
    with pytest.raises(HotlistError) as info:
        h.load(parse_bundle(raw(DOC), KEYS, NOW_NS))
    assert info.value.code == HotlistErrorCode.STALE_VERSION
    assert not (directory / "police-national.json.tmp").exists()
    logged = caplog.text
    assert "lez-antwerp.json refused" in logged and "bad_signature" in logged
    assert "broken.json refused" in logged and "renamed.json holds list lez-antwerp" in logged


# --- edgectl ---------------------------------------------------------------------------------------------


def edgectl(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edge.ctl.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_edgectl_makes_and_inspects_a_bundle_the_node_accepts(tmp_path: Path) -> None:
    from edge.storage.keys import load_ed25519_public

    assert edgectl("keys", "--out", tmp_path / "keys").returncode == 0
    key, pub = tmp_path / "keys" / "central_sign.key", tmp_path / "keys" / "central_sign.pub"
    csv_file = tmp_path / "plates.csv"
    csv_file.write_text("plate,category,ref\n1-ABC-234,stolen,case-0001\n\nGHK-472,uninsured,case-0003\n")
    out = tmp_path / "bundle.json"
    make_args: list[str | Path] = ["hotlist", "make", "--key", key, "--list-id", "police-national"]
    make_args += ["--purpose", "police", "--version", "3", "--valid-days", "2", "--iterations", "1000"]
    make_args += ["--workers", "2", "--in", csv_file]
    done = edgectl(*make_args, "--out", out)
    assert done.returncode == 0, done.stderr
    assert "2 entries" in done.stdout and stat.S_IMODE(out.stat().st_mode) == 0o600

    bundle = parse_bundle(out.read_bytes(), [load_ed25519_public(pub)], time.time_ns())
    h = Hotlists()
    h.load(bundle)
    assert [(x.version, x.ref, x.fuzzy) for x in h.match("1ABC234", time.time_ns())] == [
        (3, "case-0001", False)
    ]

    shown = edgectl("hotlist", "inspect", out, "--pub", pub)
    assert shown.returncode == 0, shown.stderr
    assert "version:    3" in shown.stdout and "entries:    2" in shown.stdout
    assert "verified by key" in shown.stdout and "uninsured: 1" in shown.stdout
    secrets = [
        *PLAIN,
        bundle.salt.hex(),
        base64.b64encode(bundle.salt).decode(),
        bundle.entries[0].exact.hex(),
    ]
    assert not any(s in shown.stdout for s in secrets)
    assert "NOT CHECKED" in edgectl("hotlist", "inspect", out).stdout

    refused = edgectl(*make_args, "--out", tmp_path / "again.json", "--valid-days", "60")
    assert refused.returncode == 1 and "--valid-days" in refused.stderr
    exists = edgectl(*make_args, "--out", out)
    assert exists.returncode == 1 and "exists" in exists.stderr
    csv_file.write_text("plate,category,ref\n1-ABC-234,stolen,see 1ABC234\n")
    bad = edgectl(*make_args, "--out", tmp_path / "bad.json")
    assert bad.returncode == 1 and "row 1" in bad.stderr and "1ABC234" not in bad.stderr
    wrong_key = edgectl("hotlist", "inspect", out, "--pub", tmp_path / "keys" / "central_seal.pub")
    assert wrong_key.returncode == 1


def test_the_progress_line_draws_on_a_terminal_only() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty, pipe = Tty(), io.StringIO()
    for stream in (tty, pipe):
        line = ProgressLine(stream, period_s=0.0)
        line(1, 4)
        line(4, 4)
    assert "1/4 (25%)" in tty.getvalue() and tty.getvalue().endswith("4/4 (100%)\n")
    assert pipe.getvalue() == ""


# --- fuzz: whatever arrives, the only failure is HotlistError ---------------------------------------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
)
jsonish = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=20,
)
FIELD_PATHS = (
    [(k,) for k in DOC] + [("kdf", k) for k in DOC["kdf"]] + [("entries", 0, k) for k in DOC["entries"][0]]
)


def parses_or_refuses(data: bytes | dict[str, Any]) -> None:
    try:
        result: object = parse_bundle(data, KEYS, NOW_NS, max_bytes=100_000)
    except HotlistError as exc:
        result = exc.message
    assert result, "a refusal says why"


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.binary(max_size=300), st.builds(lambda d: json.dumps(d).encode(), jsonish)))
@example(b"\x80")
@example(b'{"schema": "edge.hotlist/1"}')
@example(json.dumps({**DOC, "issuer": "\ud800"}).encode())
def test_any_bytes_are_parsed_or_refused(data: bytes) -> None:
    parses_or_refuses(data)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.dictionaries(st.text(max_size=12), jsonish, max_size=12), st.just({**DOC, "x": float("nan")})
    )
)
def test_any_parsed_document_is_parsed_or_refused(doc: dict[str, Any]) -> None:
    parses_or_refuses(doc)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(FIELD_PATHS), jsonish), min_size=1, max_size=3), st.booleans())
def test_a_bundle_with_fields_replaced_is_parsed_or_refused(
    changes: list[tuple[tuple[Any, ...], Any]], resign: bool
) -> None:
    doc = copy.deepcopy(DOC)
    for path, value in changes:
        target: Any = doc
        try:
            for step in path[:-1]:
                target = target[step]
            target[path[-1]] = value
        except (TypeError, KeyError, IndexError):
            continue  # an earlier change replaced the container
    if resign:
        doc = sign_request(doc, KEY)  # so validation past the signature is exercised too
    parses_or_refuses(raw(doc))
    parses_or_refuses(doc)
