"""``edgectl keys``, ``edgectl clip`` and ``edgectl decrypt`` against a real recording and export."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import av
import pytest

from edge.clock import FakeClock
from edge.ctl.cli import main
from edge.storage.export import MANIFEST_NAME, export_clip
from edge.storage.keys import load_ed25519_private
from edge.storage.pyav_encoder import PyAVEncoder, pts_to_ns
from edge.storage.recorder import RecorderConsumer
from tests.storage_support import Keys, make_keys, moving_frames, open_store

STEP_NS = 40_000_000


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Keys, int]:
    """3.6 s recorded in 1 s segments; exported range [0.5 s, 2.5 s) from the first frame."""
    tmp = tmp_path_factory.mktemp("clip")
    k = make_keys(tmp / "keys")
    clock = FakeClock()
    t0 = clock.time_ns()
    store = open_store(tmp / "rec", k, clock)
    recorder = RecorderConsumer(store, PyAVEncoder(), segment_seconds=1.0)
    for frame in moving_frames(clock, 90, size=(96, 64)):
        recorder.consume(frame)
    recorder.close()
    export_clip(
        store,
        t0 + 500_000_000,
        t0 + 2_500_000_000,
        tmp / "export",
        load_ed25519_private(k.device_key),
        requester="officer 7",
        purpose="test",
    )
    return tmp / "export", k, t0


def clip_args(export_dir: Path, central_key: Path, device_pub: Path, out: Path) -> list[str]:
    return [
        "clip",
        "--key",
        str(central_key),
        "--device-pub",
        str(device_pub),
        str(export_dir),
        "-o",
        str(out),
    ]


def test_clip_is_one_playable_mp4_trimmed_to_the_range(
    export: tuple[Path, Keys, int], tmp_path: Path
) -> None:
    export_dir, k, _t0 = export
    out = tmp_path / "out.mp4"
    # As a real command, in a child process.
    done = subprocess.run(
        [sys.executable, "-m", "edge.ctl.cli", *clip_args(export_dir, k.central_key, k.device_pub, out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "verified and decrypted 3 segment(s); wrote 50 frames" in done.stdout
    with av.open(str(out), mode="r") as container:
        times = [pts_to_ns(f.pts) for f in container.decode(video=0) if f.pts is not None]
        assert "node=test-node" in container.metadata["comment"]
    # Frames 13..62 of the recording: 0.52 s .. 2.48 s, with the original 40 ms timing.
    assert len(times) == 50
    assert times == [i * STEP_NS for i in range(50)]


def test_decrypt_one_segment(
    export: tuple[Path, Keys, int], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export_dir, k, _ = export
    first = json.loads((export_dir / MANIFEST_NAME).read_bytes())["segments"][0]
    out = tmp_path / "seg.mp4"
    assert (
        main(["decrypt", "--key", str(k.central_key), str(export_dir / first["file"]), "-o", str(out)]) == 0
    )
    assert f"{first['frames']} frames" in capsys.readouterr().out
    with av.open(io.BytesIO(out.read_bytes()), mode="r") as container:
        assert sum(1 for _ in container.decode(video=0)) == first["frames"] == 25
    assert (
        main(["decrypt", "--key", str(k.central_key), str(export_dir / first["file"]), "-o", str(out)]) == 1
    )


@pytest.mark.parametrize("tamper", ["manifest", "segment", "device-key", "central-key"])
def test_a_tampered_export_or_wrong_key_is_refused(
    export: tuple[Path, Keys, int], tmp_path: Path, tamper: str, capsys: pytest.CaptureFixture[str]
) -> None:
    export_dir, k, _ = export
    copy = tmp_path / "export"
    copy.mkdir()
    for f in export_dir.iterdir():
        (copy / f.name).write_bytes(f.read_bytes())
    central_key, device_pub = k.central_key, k.device_pub
    if tamper == "manifest":
        body = (copy / MANIFEST_NAME).read_text().replace('"purpose":"test"', '"purpose":"tset"')
        (copy / MANIFEST_NAME).write_text(body)
        expected = "signature does not verify"
    elif tamper == "segment":
        seg = sorted(copy.glob("*.seg"))[1]
        data = bytearray(seg.read_bytes())
        data[-100] ^= 0x40
        seg.write_bytes(bytes(data))
        expected = "does not match the manifest"
    elif tamper == "device-key":
        device_pub = make_keys(tmp_path / "other").device_pub
        expected = "signature does not verify"
    else:
        central_key = make_keys(tmp_path / "other").central_key
        expected = "different central key"
    out = tmp_path / "out.mp4"
    assert main(clip_args(copy, central_key, device_pub, out)) == 1
    assert expected in capsys.readouterr().err
    assert not out.exists()


def test_keys_makes_a_development_key_set(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "--out", str(tmp_path / "k"), "--device"]) == 0
    names = sorted(p.name for p in (tmp_path / "k").iterdir())
    assert names == [
        "central_seal.key",
        "central_seal.pub",
        "central_sign.key",
        "central_sign.pub",
        "device_sign.key",
        "device_sign.pub",
    ]
    assert all((tmp_path / "k" / n).stat().st_mode & 0o077 == 0 for n in names if n.endswith(".key"))
    assert "development keys only" in capsys.readouterr().out
    assert main(["keys", "--out", str(tmp_path / "k")]) == 1
    assert "refusing to overwrite" in capsys.readouterr().err
