"""The synthetic street camera: determinism, pacing, the street's contents and its ground truth.

Everything renders for real. Small frames keep the file fast; 1080p is used only where the plate size at
1080p is the point. A low ``fps`` makes scene time pass quickly per rendered frame.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator

import cv2
import numpy as np
import pytest

from edge.capture import open_source
from edge.capture.synthetic import FACADE_PRIVATE_AREAS, SyntheticStreetCamera
from edge.capture.synthetic.plate_text import PLATE_FORMATS, random_plate
from edge.capture.synthetic.plates import render_plate
from edge.capture.synthetic.render import StreetRenderer
from edge.capture.synthetic.scene import build_scene
from edge.clock import FakeClock
from edge.config import MaskConfig, PlateMix, SyntheticCameraConfig
from edge.errors import CameraError
from edge.privacy.masks import MaskSet, Polygon
from edge.types import Direction, Frame, PlateTruth

FAST = {"type": "synthetic", "width": 320, "height": 180, "realtime": False}


def config(**overrides: object) -> SyntheticCameraConfig:
    return SyntheticCameraConfig.model_validate({**FAST, **overrides})


def frames(cfg: SyntheticCameraConfig, count: int, clock: FakeClock | None = None) -> Iterator[Frame]:
    camera = SyntheticStreetCamera(cfg, clock or FakeClock())
    camera.open()
    try:
        for _ in range(count):
            yield camera.read()
    finally:
        camera.close()


def mask_coverage(width: int, height: int, names: list[str] | None = None) -> np.ndarray:
    polygons = tuple(
        Polygon(n, tuple(p)) for n, p in FACADE_PRIVATE_AREAS.items() if names is None or n in names
    )
    return MaskSet(polygons=polygons, mode="solid", fill_bgr=(0, 0, 0)).coverage(width, height)


def plate_pixels(frame: Frame, plate: PlateTruth, shrink: float = 0.15) -> np.ndarray:
    """The frame's pixels inside the plate quad, shrunk towards its centre to stay off the edges."""
    corners = np.array(plate.corners)
    centre = corners.mean(axis=0)
    quad = centre + (corners - centre) * (1 - shrink)
    mask = np.zeros((frame.height, frame.width), np.uint8)
    cv2.fillPoly(mask, [np.round(quad * 16).astype(np.int32)], 255, shift=4)
    return frame.pixels[mask > 0]


# ------------------------------------------------------------------------------------ determinism


def test_same_seed_renders_identical_frames_and_truth() -> None:
    cfg = config(seed=11, fps=5, vehicles_per_minute=60)
    fast_clock, slow_clock = FakeClock(), FakeClock()
    a = list(frames(cfg, 40, fast_clock))
    slow_clock.advance(1234.5)  # wall time must not matter: scene time is index / fps
    b = list(frames(cfg, 40, slow_clock))
    assert any(f.truth is not None and f.truth.vehicles for f in a)
    for fa, fb in zip(a, b, strict=True):
        assert np.array_equal(fa.pixels, fb.pixels)
        assert fa.truth == fb.truth


def test_different_seeds_render_different_streets() -> None:
    a = list(frames(config(seed=1, fps=5, vehicles_per_minute=60), 20))
    b = list(frames(config(seed=2, fps=5, vehicles_per_minute=60), 20))
    assert any(not np.array_equal(fa.pixels, fb.pixels) for fa, fb in zip(a, b, strict=True))
    plates_a = {p.text for f in a if f.truth for p in f.truth.plates}
    plates_b = {p.text for f in b if f.truth for p in f.truth.plates}
    assert plates_a and plates_b and plates_a != plates_b


def test_reopening_continues_the_same_street() -> None:
    cfg = config(seed=5, fps=5, vehicles_per_minute=40)
    straight = list(frames(cfg, 12))
    camera = SyntheticStreetCamera(cfg, FakeClock())
    camera.open()
    first = [camera.read() for _ in range(7)]
    camera.close()
    camera.close()  # idempotent
    camera.open()
    rest = [camera.read() for _ in range(5)]
    camera.close()
    assert [f.index for f in first + rest] == list(range(12))
    for expected, got in zip(straight, first + rest, strict=True):
        assert np.array_equal(expected.pixels, got.pixels)
        assert expected.truth == got.truth


def test_a_frame_is_the_same_whatever_was_rendered_before_it() -> None:
    """The detector's training data asks for frames at random: an earlier frame after later ones must be
    the frame rendered in order (its traffic is replayed), or the data would depend on the worker."""
    cfg = config(seed=9, fps=5, vehicles_per_minute=60)
    in_order = StreetRenderer(cfg)
    expected = {i: in_order.render(i) for i in (0, 20, 45, 60)}
    assert expected[45][1].vehicles  # traffic on the road at the frames compared
    shuffled = StreetRenderer(cfg)
    for i in (60, 20, 45, 0, 45):
        pixels, truth = shuffled.render(i)
        assert np.array_equal(pixels, expected[i][0])
        assert truth == expected[i][1]


# ----------------------------------------------------------------------------- frames and clock


@pytest.mark.parametrize(("width", "height"), [(320, 180), (640, 360), (1280, 720), (320, 240)])
def test_frames_are_contiguous_bgr_uint8_of_the_configured_size(width: int, height: int) -> None:
    (frame,) = frames(config(width=width, height=height), 1)
    assert frame.pixels.shape == (height, width, 3)
    assert frame.pixels.dtype == np.uint8
    assert frame.pixels.flags.c_contiguous
    assert frame.truth is not None
    assert frame.truth.frame_index == 0


def test_index_and_timestamps_come_from_the_clock() -> None:
    clock = FakeClock()
    camera = SyntheticStreetCamera(config(), clock)
    with pytest.raises(CameraError):
        camera.read()
    camera.open()
    for expected_index in range(4):
        clock.advance(0.37)
        clock.jump_wall(-1.0 if expected_index == 2 else 0.0)
        frame = camera.read()
        assert frame.index == expected_index
        assert frame.capture_ts_ns == clock.time_ns()
        assert frame.monotonic_ns == clock.monotonic_ns()
        assert frame.source == camera.name == "synthetic:1"
    camera.close()
    with pytest.raises(CameraError):
        camera.read()


def test_open_source_builds_the_synthetic_camera() -> None:
    source = open_source(config(), FakeClock())
    assert isinstance(source, SyntheticStreetCamera)


class FakeSleep:
    """Sleeping moves the fake clock instead of waiting."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        self.clock.advance(seconds)


def test_without_realtime_it_never_sleeps() -> None:
    clock = FakeClock()
    sleep = FakeSleep(clock)
    camera = SyntheticStreetCamera(config(realtime=False, fps=25), clock, sleep=sleep)
    camera.open()
    for _ in range(10):
        camera.read()
    assert sleep.calls == []


def test_realtime_paces_frames_at_fps() -> None:
    clock = FakeClock()
    sleep = FakeSleep(clock)
    camera = SyntheticStreetCamera(config(realtime=True, fps=20), clock, sleep=sleep)
    camera.open()
    stamps = [camera.read().monotonic_ns for _ in range(6)]
    assert sleep.calls == pytest.approx([0.05] * 5)
    assert np.diff(stamps).tolist() == [50_000_000] * 5


def test_realtime_when_late_does_not_sleep_and_bursts_at_most_one_frame() -> None:
    clock = FakeClock()
    sleep = FakeSleep(clock)
    camera = SyntheticStreetCamera(config(realtime=True, fps=10), clock, sleep=sleep)
    camera.open()
    camera.read()
    clock.advance(2.0)  # a stall of 20 frame periods
    camera.read()
    camera.read()
    assert sleep.calls == []  # the late frame and one more come at once ...
    camera.read()
    assert sleep.calls == pytest.approx([0.1])  # ... then pacing resumes; no catching up


# --------------------------------------------------------------------------------------- traffic


def test_vehicles_in_both_directions_appear_within_a_minute_of_scene_time() -> None:
    seen: set[Direction] = set()
    for frame in frames(config(seed=3, fps=2, vehicles_per_minute=6), 120):
        assert frame.truth is not None
        seen |= {v.direction for v in frame.truth.vehicles}
        if seen == {Direction.APPROACHING, Direction.RECEDING}:
            break
    assert seen == {Direction.APPROACHING, Direction.RECEDING}


def test_ground_truth_is_consistent() -> None:
    width, height = 320, 180
    for frame in frames(config(seed=4, fps=5, vehicles_per_minute=60), 60):
        truth = frame.truth
        assert truth is not None
        vehicles = {v.vehicle_id: v for v in truth.vehicles}
        assert len(vehicles) == len(truth.vehicles)
        for v in truth.vehicles:
            x, y, w, h = v.bbox
            assert x >= 0 and y >= 0 and w > 0 and h > 0 and x + w <= width and y + h <= height
            assert v.speed_px_s >= 0
            assert all(0 <= px <= width and 0 <= py <= height for px, py in v.windscreen)
        for p in truth.plates:
            assert p.vehicle_id in vehicles
            assert vehicles[p.vehicle_id].plate_text == p.text == re.sub(r"[^A-Z0-9]", "", p.formatted)
            assert p.country == PLATE_FORMATS[p.plate_format].country
            inside = all(0 <= cx <= width - 1 and 0 <= cy <= height - 1 for cx, cy in p.corners)
            assert inside or not p.fully_visible
        assert truth.lux == 1.0


def test_a_plate_mix_with_one_format_yields_only_that_country() -> None:
    mix = PlateMix(be_current=0, be_old=0, nl=1, fr=0, de=0)
    plates = [
        p
        for f in frames(config(seed=8, fps=2, vehicles_per_minute=60, plate_mix=mix), 40)
        if f.truth
        for p in f.truth.plates
    ]
    assert len({p.vehicle_id for p in plates}) >= 5
    assert {p.country for p in plates} == {"NL"}
    assert {p.plate_format for p in plates} == {"nl"}


# ----------------------------------------------------------------------------------------- plates

# Written independently of the generator, from the formats' rules.
GRAMMAR = {
    "be_current": r"[12]-[A-Z]{3}-(?!000)\d{3}",
    "be_old": r"[A-Z]{3}-(?!000)\d{3}|(?!000)\d{3}-[A-Z]{3}",
    "nl": "|".join(
        s.replace("X", "[BDFGHJKLMNPRSTVXZ]").replace("9", r"\d")
        for s in (
            *("XX-99-99", "99-99-XX", "99-XX-99", "XX-99-XX", "XX-XX-99", "99-XX-XX", "99-XXX-9"),
            *("9-XXX-99", "XX-999-X", "X-999-XX", "XXX-99-X", "X-99-XXX", "9-XX-999", "999-XX-9"),
        )
    ),
    "fr": r"(?!SS|WW)[A-HJ-NP-TV-Z]{2}-(?!000)\d{3}-(?!SS)[A-HJ-NP-TV-Z]{2}",
    "de": r"[A-Z]{1,3}-[A-Z]{1,2} [1-9]\d{0,3}",
}


@pytest.mark.parametrize("plate_format", sorted(GRAMMAR))
def test_generated_plates_follow_their_format(plate_format: str) -> None:
    assert set(GRAMMAR) == set(PLATE_FORMATS) == set(PlateMix.model_fields)
    rng = np.random.default_rng(77)
    seen = set()
    for _ in range(400):
        text, formatted = random_plate(plate_format, rng)
        assert re.fullmatch(GRAMMAR[plate_format], formatted), formatted
        assert text == re.sub(r"[^A-Z0-9]", "", formatted)
        seen.add(formatted)
        if plate_format == "de":
            assert len(text) <= 8
    assert len(seen) > 350  # random, not a handful of fixed strings


@pytest.mark.parametrize(
    ("plate_format", "formatted"),
    [
        ("be_current", "1-ABC-234"),
        ("be_old", "ABC-123"),
        ("nl", "12-BDF-3"),
        ("fr", "AB-123-CD"),
        ("de", "B-AB 1234"),
    ],
)
def test_plate_images_have_the_formats_colours(plate_format: str, formatted: str) -> None:
    plate = render_plate(formatted, plate_format, 110, np.random.default_rng(1))
    assert plate.shape == (110, 520, 3) and plate.dtype == np.uint8 and plate.flags.c_contiguous
    b, g, r = (plate[:, :, i].astype(int) for i in range(3))
    text_area = (slice(25, 85), slice(80, 440))
    background = np.median(plate[10:15, 200:300].reshape(-1, 3), axis=0)
    if plate_format == "nl":
        assert background[2] > 200 and background[1] > 150 and background[0] < 100  # yellow
    else:
        assert background.min() > 200  # white
    red_ink = (r > g + 80) & (r > b + 60)
    dark_ink = (r < 80) & (g < 80) & (b < 80)
    if plate_format.startswith("be"):
        assert red_ink[text_area].mean() > 0.15 and dark_ink[text_area].mean() < 0.01
    else:
        # A little red is allowed: the German state seal.
        assert dark_ink[text_area].mean() > 0.15 and red_ink[text_area].mean() < 0.03
    eu_band = ((b > 100) & (r < 60))[:, :45].mean()
    assert eu_band < 0.05 if plate_format == "be_old" else eu_band > 0.5
    assert render_plate(formatted, plate_format, 30, np.random.default_rng(1)).shape == (30, 142, 3)


@pytest.mark.parametrize("plate_format", ["be_current", "nl", "de"])
def test_every_character_stands_on_the_baseline(plate_format: str) -> None:
    """Plate fonts have no descenders: a J ends where an H does (DejaVu's J hangs below it)."""

    def ink_bottom(formatted: str) -> int:
        plate = render_plate(formatted, plate_format, 110, np.random.default_rng(1))
        grey = cv2.cvtColor(plate, cv2.COLOR_BGR2GRAY)[10:100, 60:460]  # inside the plate's border
        background = int(np.median(grey[:5]))
        rows = np.flatnonzero((np.abs(grey.astype(int) - background) > 80).sum(axis=1) > 3)
        return int(rows.max())

    texts = {
        "be_current": ("1-HHH-111", "1-JJJ-111"),
        "nl": ("HH-111-H", "JJ-111-J"),
        "de": ("B-HH 11", "B-JJ 11"),
    }
    plain, with_j = texts[plate_format]
    assert abs(ink_bottom(with_j) - ink_bottom(plain)) <= 1


def _visible_plates(
    cfg: SyntheticCameraConfig, count: int, min_width_px: float
) -> Iterator[tuple[Frame, PlateTruth]]:
    for frame in frames(cfg, count):
        assert frame.truth is not None
        for plate in frame.truth.plates:
            if plate.fully_visible and plate.corners[1][0] - plate.corners[0][0] >= min_width_px:
                yield frame, plate


def test_ground_truth_corners_land_on_the_plate() -> None:
    cfg = config(width=1280, height=720, seed=21, fps=5, vehicles_per_minute=60, noise=0.0)
    checked = 0
    for frame, plate in _visible_plates(cfg, 60, 50):
        inside = plate_pixels(frame, plate).astype(int)
        b, g, r = inside[:, 0], inside[:, 1], inside[:, 2]
        bright = inside.max(axis=1) > 170
        if plate.country == "NL":
            background = (r > 170) & (g > 120) & (b < 110)
        else:
            background = (r > 170) & (g > 170) & (b > 170)
        ink = (r > g + 60) if plate.plate_format.startswith("be") else (inside.max(axis=1) < 90)
        assert background.mean() > 0.35, plate
        assert ink.mean() > 0.05, plate
        assert bright.mean() > 0.35, plate
        checked += 1
        if checked >= 12:
            break
    assert checked >= 5


def test_plates_near_the_bottom_of_a_1080p_frame_are_readable_size() -> None:
    cfg = config(width=1920, height=1080, seed=3, fps=4, vehicles_per_minute=60)
    widths: dict[int, float] = {}
    for _, plate in _visible_plates(cfg, 80, 0):
        if min(plate.corners[2][1], plate.corners[3][1]) > 0.85 * 1080:
            widths[plate.vehicle_id] = plate.corners[1][0] - plate.corners[0][0]
            if len(widths) >= 3:
                break
    assert widths, "no plate came near the bottom of the frame"
    assert all(140 <= w <= 220 for w in widths.values()), widths


# ---------------------------------------------------------------------------------------- façade


def test_facade_private_areas_are_valid_normalised_masks() -> None:
    assert {"shop_front", "door", "window_1_left", "window_1_right"} <= set(FACADE_PRIVATE_AREAS)
    for name, polygon in FACADE_PRIVATE_AREAS.items():
        assert len(polygon) >= 3
        assert all(0.0 <= x <= 1.0 and 0.0 <= y <= 1.0 for x, y in polygon), name
        MaskConfig(name=name, polygon=polygon)  # the privacy configuration accepts it as it is
    (frame,) = frames(config(width=640, height=360), 1)
    assert frame.truth is not None
    expected = [tuple((x * 640, y * 360) for x, y in p) for p in FACADE_PRIVATE_AREAS.values()]
    assert list(frame.truth.private_areas) == expected


@pytest.mark.parametrize(("width", "height"), [(320, 180), (1280, 720), (320, 240)])
def test_everything_private_in_the_street_lies_inside_the_masks(width: int, height: int) -> None:
    private = build_scene(width, height).private > 0
    assert private.sum() > 0.01 * width * height
    assert not (private & ~mask_coverage(width, height)).any()


def test_private_areas_are_busy_and_some_change_over_time() -> None:
    cfg = config(width=640, height=360, fps=5, vehicles_per_minute=0, noise=0.0)
    shots = list(frames(cfg, 16))
    first, later = shots[0].pixels, shots[-1].pixels
    grey = cv2.cvtColor(first, cv2.COLOR_BGR2GRAY)
    for name in FACADE_PRIVATE_AREAS:
        area = mask_coverage(640, 360, [name])
        assert grey[area].std() > 25, name
    changed = (first != later).any(axis=2)
    inside = mask_coverage(640, 360)
    assert changed[inside].sum() > 200  # the television, the people, the sign
    assert not changed[~inside].any()  # and nothing moves outside the masks on an empty street


# ---------------------------------------------------------------------------------------- lighting


def test_night_is_darker_but_plates_stay_readable() -> None:
    (day,) = frames(config(width=640, height=360, seed=9, noise=0.0), 1)
    night_cfg = config(
        width=1280, height=720, seed=21, fps=5, vehicles_per_minute=60, noise=0.0, lighting="night"
    )
    (night,) = frames(config(width=640, height=360, seed=9, noise=0.0, lighting="night"), 1)
    assert day.truth is not None and night.truth is not None
    assert night.pixels.mean() < 0.5 * day.pixels.mean()
    assert night.truth.lux < 0.1 < day.truth.lux == 1.0
    contrasts = []
    for frame, plate in _visible_plates(night_cfg, 60, 50):
        grey = cv2.cvtColor(plate_pixels(frame, plate)[None], cv2.COLOR_BGR2GRAY)
        contrasts.append(float(np.percentile(grey, 95) - np.percentile(grey, 5)))
        if len(contrasts) >= 8:
            break
    assert len(contrasts) >= 3
    assert min(contrasts) > 80, contrasts


def test_day_night_cycle_runs_on_scene_time() -> None:
    cfg = config(lighting="cycle", cycle_seconds=10, fps=20, vehicles_per_minute=0)
    shots = list(frames(cfg, 201))
    lux = [f.truth.lux for f in shots if f.truth]
    assert lux[0] == 1.0 and lux[200] == 1.0  # noon, and noon again a cycle later
    assert lux[100] == min(lux) < 0.1  # midnight
    assert max(abs(a - b) for a, b in itertools.pairwise(lux)) < 0.15  # dusk, not a switch
    assert shots[100].pixels.mean() < 0.5 * shots[0].pixels.mean()


def test_noise_has_the_configured_strength_and_changes_every_frame() -> None:
    clean = list(frames(config(noise=0.0, vehicles_per_minute=0), 2))
    noisy = list(frames(config(noise=0.02, vehicles_per_minute=0), 2))
    diffs = [n.pixels.astype(int) - c.pixels.astype(int) for n, c in zip(noisy, clean, strict=True)]
    for diff in diffs:
        assert 0.02 * 255 * 0.8 < diff.std() < 0.02 * 255 * 1.2
    assert not np.array_equal(diffs[0], diffs[1])


def test_motion_blur_can_be_switched_off() -> None:
    blurred = list(frames(config(seed=6, fps=5, vehicles_per_minute=60, noise=0.0), 30))
    sharp = list(frames(config(seed=6, fps=5, vehicles_per_minute=60, noise=0.0, motion_blur=False), 30))
    assert any(not np.array_equal(a.pixels, b.pixels) for a, b in zip(blurred, sharp, strict=True))
    assert all(a.truth == b.truth for a, b in zip(blurred, sharp, strict=True))
