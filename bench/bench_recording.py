"""Recording: sustained encode + seal + store of the 1080p synthetic street at 25 fps, and what it costs.

Frames are rendered and masked once (5 s of scene) and then fed to the real recorder (PyAV/libx264, the
sealing, the crash-safe store and its SQLite index) in a loop with fresh time stamps, so the figures are
the recorder's alone. CPU time is the whole process's (libx264's own threads included) per frame.
"""

from __future__ import annotations

import resource
import tempfile
import time
from pathlib import Path

import psutil

from edge.capture.synthetic import FACADE_PRIVATE_AREAS, SyntheticStreetCamera
from edge.clock import FakeClock
from edge.config import MaskConfig, PrivacyConfig, StorageConfig, SyntheticCameraConfig
from edge.privacy import PrivacyStage
from edge.storage.factory import make_encoder
from edge.storage.keys import generate_central_keys, load_x25519_public
from edge.storage.profiles import Profile
from edge.storage.pyav_encoder import PyAVEncoder
from edge.storage.recorder import RecorderConsumer
from edge.storage.retention import RetentionPolicy
from edge.storage.sealing import Sealer, SegmentHeader
from edge.storage.store import SegmentStore
from edge.types import MaskedFrame

FPS = 25
RENDERED_FRAMES = 125
RECORDED_FRAMES = 500  # two default 10 s segments
CARDS_GB = (64, 128, 256)


def _frames(clock: FakeClock) -> list[MaskedFrame]:
    camera = SyntheticStreetCamera(SyntheticCameraConfig(type="synthetic", realtime=False), clock)
    camera.open()
    masks = [MaskConfig(name=name, polygon=poly) for name, poly in FACADE_PRIVATE_AREAS.items()]
    privacy = PrivacyStage(PrivacyConfig(masks=masks))
    out = []
    for _ in range(RENDERED_FRAMES):
        frame = privacy.process(camera.read())
        clock.advance(1 / FPS)
        assert frame is not None
        out.append(frame)
    return out


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _record(
    frames: list[MaskedFrame], clock: FakeClock, root: Path, config: StorageConfig
) -> dict[str, float]:
    keys_dir = root / "keys"
    seal, _ = generate_central_keys(keys_dir)
    policy = RetentionPolicy(Profile.POLICE, 30, 10**12, min_free_share=0)
    store = SegmentStore(root / "rec", "bench", load_x25519_public(seal.public), policy, clock)
    recorder = RecorderConsumer(store, make_encoder(config, FPS), segment_seconds=config.segment_seconds)
    process = psutil.Process()
    rss0 = peak = process.memory_info().rss
    finish_ms: list[float] = []
    t0, cpu0 = time.perf_counter(), _cpu_s()
    for i in range(RECORDED_FRAMES):
        source = frames[i % len(frames)]
        recorder.consume(
            MaskedFrame(
                pixels=source.pixels,
                index=i,
                capture_ts_ns=clock.time_ns(),
                monotonic_ns=clock.monotonic_ns(),
                source=source.source,
                mask_id=source.mask_id,
                seal=source.seal,
            )
        )
        clock.advance(1 / FPS)
        if i % 25 == 0:
            peak = max(peak, process.memory_info().rss)
        state = recorder.state()
        if state.segments_written > len(finish_ms):
            finish_ms.append(state.last_finish_ms)
    recorder.close()
    wall, cpu = time.perf_counter() - t0, _cpu_s() - cpu0
    finish_ms.append(recorder.state().last_finish_ms)
    st = store.state()
    seconds = RECORDED_FRAMES / FPS
    return {
        "fps": RECORDED_FRAMES / wall,
        "cpu_ms_per_frame": cpu / RECORDED_FRAMES * 1e3,
        "bytes_per_hour": st.used_bytes / seconds * 3600,
        "segment_mib": st.used_bytes / st.segments / 2**20,
        "finish_ms": max(finish_ms),
        "rss_growth_mib": (peak - rss0) / 2**20,
    }


def _encode_only(frames: list[MaskedFrame], preset: str, crf: int) -> dict[str, float]:
    encoder = PyAVEncoder(preset=preset, crf=crf, nominal_fps=FPS)
    encoder.begin(frames[0].width, frames[0].height)
    n = 250
    t0, cpu0 = time.perf_counter(), _cpu_s()
    for i in range(n):
        encoder.add(frames[i % len(frames)].pixels, i * 1_000_000_000 // FPS)
    video = encoder.finish()
    wall, cpu = time.perf_counter() - t0, _cpu_s() - cpu0
    return {
        "fps": n / wall,
        "cpu_ms_per_frame": cpu / n * 1e3,
        "bytes_per_hour": len(video.data) / (n / FPS) * 3600,
    }


def _seal_mib_per_s() -> float:
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    data = bytes(64 * 2**20)
    header = SegmentHeader("bench", "0-0", 0, 1, 1, "m", "police", 2, 2, "mp4", "h264", "x", 0)
    sealer = Sealer(header, X25519PrivateKey.generate().public_key())

    class _Null:
        def write(self, b: bytes) -> int:
            return len(b)

    t0 = time.perf_counter()
    sealer.write(data, _Null())  # type: ignore[arg-type]
    return len(data) / 2**20 / (time.perf_counter() - t0)


def run() -> dict[str, object]:
    clock = FakeClock()
    frames = _frames(clock)
    config = StorageConfig()
    with tempfile.TemporaryDirectory(prefix="bench-recording-") as tmp:
        rec = _record(frames, clock, Path(tmp), config)
    veryfast = _encode_only(frames, "veryfast", config.crf)
    per_day = rec["bytes_per_hour"] * 24
    usable = 1 - config.min_free_share
    return {
        "record_fps_1080p": round(rec["fps"], 1),
        "record_cpu_ms_per_frame_1080p": round(rec["cpu_ms_per_frame"], 1),
        "record_bytes_per_hour_1080p": round(rec["bytes_per_hour"]),
        "record_mbit_s_1080p": round(rec["bytes_per_hour"] * 8 / 3600 / 1e6, 2),
        "record_settings": f"libx264 {config.preset} crf {config.crf}, {config.segment_seconds:g} s segments",
        "record_days_on_card_1080p": {f"{gb}GB": round(gb * 1e9 * usable / per_day, 1) for gb in CARDS_GB},
        "record_segment_mib_1080p": round(rec["segment_mib"], 2),
        "record_segment_finish_ms_1080p": round(rec["finish_ms"], 1),
        "record_rss_growth_mib_1080p": round(rec["rss_growth_mib"], 1),
        "record_veryfast_fps_1080p": round(veryfast["fps"], 1),
        "record_veryfast_cpu_ms_per_frame_1080p": round(veryfast["cpu_ms_per_frame"], 1),
        "record_veryfast_mbit_s_1080p": round(veryfast["bytes_per_hour"] * 8 / 3600 / 1e6, 2),
        "seal_aes_gcm_mib_per_s": round(_seal_mib_per_s()),
    }
