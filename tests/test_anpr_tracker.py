"""Plate tracker and capture statistics: deterministic traffic simulations, no sleeps.

Plates move under a pinhole model of the street camera (looking along the road from above): at depth
``z_m`` a plate is ``F * 0.52 / z_m`` pixels wide and its centre sits ``F * H / z_m`` below the horizon, so an
approaching plate moves down and grows and accelerates in the image as it nears the camera.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.anpr.stats import HISTOGRAM_EDGES, CaptureStats, confidence_bin, percentile
from edge.anpr.tracker import PlateTracker, VehiclePass
from edge.anpr.voting import Observation
from edge.clock import FakeClock

F_PX = 1200.0
HORIZON_Y = 200.0
CENTRE_X = 960.0
CAMERA_HEIGHT_M = 3.5
PLATE_W_M, PLATE_H_M = 0.52, 0.11
LANE_X_M = (-1.75, 1.75)
CONFUSABLE = {
    "0": "O",
    "O": "0",
    "1": "I",
    "I": "1",
    "8": "B",
    "B": "8",
    "5": "S",
    "S": "5",
    "2": "Z",
    "Z": "2",
}


@dataclass(frozen=True)
class Vehicle:
    text: str
    lane_x_m: float
    z0_m: float
    speed_m_s: float
    """Positive: approaching (depth shrinks); negative: receding."""
    t0_s: float = 0.0
    country: str = "BE"

    def depth_m(self, t_s: float) -> float:
        return self.z0_m - self.speed_m_s * (t_s - self.t0_s)

    def box(self, t_s: float, rng: random.Random) -> tuple[float, float, float, float]:
        z = self.depth_m(t_s)
        w, h = F_PX * PLATE_W_M / z, F_PX * PLATE_H_M / z
        cx = CENTRE_X + F_PX * self.lane_x_m / z + rng.uniform(-1, 1)
        cy = HORIZON_Y + F_PX * CAMERA_HEIGHT_M / z + rng.uniform(-1, 1)
        return cx - w / 2, cy - h / 2, w, h


def misread(text: str, rng: random.Random) -> str:
    positions = [i for i, c in enumerate(text) if c in CONFUSABLE]
    i = rng.choice(positions)
    return text[:i] + CONFUSABLE[text[i]] + text[i + 1 :]


def observe(
    vehicle: Vehicle, t_s: float, rng: random.Random, *, unread: float = 0.2, wrong: float = 0.1
) -> Observation:
    """One detection of ``vehicle``: unread, misread by one confusable character, or read right."""
    box = vehicle.box(t_s, rng)
    draw = rng.random()
    if draw < unread:
        return Observation(t_s, box, None, 0.0, payload=("crop", t_s))
    if draw < unread + wrong:
        return Observation(t_s, box, misread(vehicle.text, rng), rng.uniform(0.5, 0.8), vehicle.country)
    return Observation(t_s, box, vehicle.text, rng.uniform(0.75, 0.95), vehicle.country, ("crop", t_s))


def run(tracker: PlateTracker, frames: list[tuple[float, list[Observation]]]) -> list[VehiclePass]:
    passes: list[VehiclePass] = []
    for t_s, observations in frames:
        passes.extend(tracker.update(t_s, observations))
    passes.extend(tracker.flush())
    return passes


def simulate(
    vehicles: list[Vehicle],
    times: list[float],
    seed: int,
    *,
    visible: tuple[float, float] = (5.5, 40.0),
    hidden: tuple[float, float] | None = None,
    **noise: float,
) -> list[tuple[float, list[Observation]]]:
    """Frames at ``times``; a vehicle is detected while its depth is inside ``visible``."""
    rng = random.Random(seed)
    frames = []
    for t_s in times:
        seen = [
            observe(v, t_s, rng, **noise)
            for v in vehicles
            if visible[0] <= v.depth_m(t_s) <= visible[1] and not (hidden and hidden[0] <= t_s < hidden[1])
        ]
        frames.append((t_s, seen))
    return frames


def even(fps: float, duration_s: float, start_s: float = 100.0) -> list[float]:
    return [start_s + i / fps for i in range(round(duration_s * fps))]


def irregular(seed: int, duration_s: float, start_s: float = 100.0) -> list[float]:
    """Frame times the way a latest-frame ANPR stage sees them: 3 to 12 fps, varying every frame."""
    rng = random.Random(seed)
    times, t_s = [], start_s
    while t_s < start_s + duration_s:
        times.append(t_s)
        t_s += rng.uniform(1 / 12, 1 / 3)
    return times


# --- single vehicle ------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(20))
def test_approaching_vehicle_yields_one_pass_with_the_voted_text(seed: int) -> None:
    car = Vehicle("1ABC234", LANE_X_M[0], z0_m=30.0, speed_m_s=6.0, t0_s=100.0)
    frames = simulate([car], even(10, 4.0), seed)  # 40 frames, 20 % unread, 10 % misread
    assert sum(len(obs) for _, obs in frames) == 40

    tracker = PlateTracker()
    passes = run(tracker, frames)

    assert len(passes) == 1
    assert tracker.counters.tracks_started == 1  # one track, not a split one merged by its text
    (p,) = passes
    assert p.text == "1ABC234"
    assert p.country == "BE"
    assert p.direction == "approaching"
    assert not p.crossed_line
    assert p.observations == 40
    assert 0 < p.reads < 40
    assert 0.5 < p.confidence <= 0.95
    assert p.best.text == "1ABC234"
    assert p.best.confidence == max(o.confidence for _, obs in frames for o in obs if o.text == "1ABC234")
    assert p.best.payload == ("crop", p.best.t_s)
    assert sum(p.votes.values()) == pytest.approx(
        sum(o.confidence for _, obs in frames for o in obs if o.text), abs=1e-3
    )


@pytest.mark.parametrize("seed", range(10))
def test_receding_vehicle_is_receding(seed: int) -> None:
    car = Vehicle("2XYZ987", LANE_X_M[1], z0_m=6.0, speed_m_s=-6.0, t0_s=100.0)
    passes = run(PlateTracker(), simulate([car], even(10, 4.0), seed))
    assert [(p.text, p.direction) for p in passes] == [("2XYZ987", "receding")]


def test_a_stationary_plate_has_unknown_direction() -> None:
    frames = [(t, [Observation(t, (500, 500, 80, 17), "1ABC234", 0.9)]) for t in even(10, 3.0)]
    (p,) = run(PlateTracker(), frames)
    assert p.direction == "unknown"


@pytest.mark.parametrize("seed", range(10))
def test_two_lanes_side_by_side_stay_two_passes(seed: int) -> None:
    left = Vehicle("1ABC234", LANE_X_M[0], z0_m=30.0, speed_m_s=7.0, t0_s=100.0)
    right = Vehicle("1ABD234", LANE_X_M[1], z0_m=31.0, speed_m_s=7.5, t0_s=100.0)
    tracker = PlateTracker()
    passes = run(tracker, simulate([left, right], irregular(seed, 4.0), seed))
    assert tracker.counters.tracks_started == 2
    assert sorted((p.text, p.direction) for p in passes) == [
        ("1ABC234", "approaching"),
        ("1ABD234", "approaching"),
    ]


@pytest.mark.parametrize("seed", range(10))
def test_opposite_directions_passing_each_other_stay_separate(seed: int) -> None:
    coming = Vehicle("1ABC234", LANE_X_M[0], z0_m=30.0, speed_m_s=8.0, t0_s=100.0)
    going = Vehicle("AB1234", LANE_X_M[1], z0_m=6.0, speed_m_s=-8.0, t0_s=100.0)
    tracker = PlateTracker()
    passes = run(tracker, simulate([coming, going], irregular(seed, 3.2), seed))
    assert tracker.counters.tracks_started == 2
    assert sorted((p.text, p.direction) for p in passes) == [
        ("1ABC234", "approaching"),
        ("AB1234", "receding"),
    ]


@pytest.mark.parametrize("seed", range(10))
def test_an_occlusion_of_half_a_second_does_not_split_the_pass(seed: int) -> None:
    car = Vehicle("1ABC234", LANE_X_M[0], z0_m=30.0, speed_m_s=6.0, t0_s=100.0)
    frames = simulate([car], even(10, 4.0), seed, hidden=(101.5, 102.0))
    assert [len(obs) for t, obs in frames if 101.35 < t < 102.05] == [1, 0, 0, 0, 0, 0, 1]
    tracker = PlateTracker()
    passes = run(tracker, frames)
    assert [(p.text, p.direction) for p in passes] == [("1ABC234", "approaching")]
    assert tracker.counters.tracks_started == 1


@pytest.mark.parametrize("seed", range(30))
def test_fast_vehicle_at_irregular_low_frame_rates_is_one_pass(seed: int) -> None:
    car = Vehicle("1ABC234", LANE_X_M[0], z0_m=25.0, speed_m_s=14.0, t0_s=100.0)  # 50 km/h
    frames = simulate([car], irregular(seed, 1.6), seed)
    assert sum(len(obs) for _, obs in frames) >= 4
    tracker = PlateTracker()
    passes = run(tracker, frames)
    assert len(passes) == 1
    assert tracker.counters.tracks_started == 1
    assert passes[0].direction == "approaching"
    if any(o.text == "1ABC234" for _, obs in frames for o in obs):
        assert passes[0].text == "1ABC234"


def test_a_stream_of_vehicles_in_one_lane_gives_one_pass_each() -> None:
    cars = [
        Vehicle(text, LANE_X_M[0], z0_m=30.0, speed_m_s=9.0, t0_s=100.0 + 2.5 * i)
        for i, text in enumerate(["1ABC234", "1ABC235", "2DEF456", "AB1234", "1GHJ789"])
    ]
    tracker = PlateTracker()
    passes = run(tracker, simulate(cars, irregular(7, 16.0), 7))
    assert tracker.counters.tracks_started == 5
    assert [p.text for p in passes] == ["1ABC234", "1ABC235", "2DEF456", "AB1234", "1GHJ789"]


# --- counting line ---------------------------------------------------------------------------------------

LINE = ((0.0, 600.0), (1920.0, 600.0))  # drawn left to right: moving down the image crosses it "in"


@pytest.mark.parametrize(("speed", "direction"), [(6.0, "in"), (-6.0, "out")])
def test_crossing_the_line_gives_in_or_out(speed: float, direction: str) -> None:
    car = Vehicle("1ABC234", LANE_X_M[0], z0_m=30.0 if speed > 0 else 6.0, speed_m_s=speed, t0_s=100.0)
    passes = run(PlateTracker(line=LINE), simulate([car], even(10, 4.0), 1))
    assert [(p.text, p.direction, p.crossed_line) for p in passes] == [("1ABC234", direction, True)]


def test_reversed_line_swaps_in_and_out() -> None:
    car = Vehicle("1ABC234", LANE_X_M[0], z0_m=30.0, speed_m_s=6.0, t0_s=100.0)
    reverse = (LINE[1], LINE[0])
    (p,) = run(PlateTracker(line=reverse), simulate([car], even(10, 4.0), 1))
    assert (p.direction, p.crossed_line) == ("out", True)


def test_a_track_that_does_not_cross_keeps_its_motion_direction() -> None:
    car = Vehicle("1ABC234", LANE_X_M[0], z0_m=30.0, speed_m_s=6.0, t0_s=100.0)
    short_line = ((1500.0, 600.0), (1900.0, 600.0))  # beside the lane: the plate passes its end
    (p,) = run(PlateTracker(line=short_line), simulate([car], even(10, 4.0), 1))
    assert (p.direction, p.crossed_line) == ("approaching", False)


def test_emit_on_cross_emits_at_the_crossing_and_never_again() -> None:
    car = Vehicle("1ABC234", LANE_X_M[0], z0_m=30.0, speed_m_s=6.0, t0_s=100.0)
    frames = simulate([car], even(10, 4.0), 2)
    tracker = PlateTracker(line=LINE, emit_on_cross=True)
    emitted_at = []
    for t_s, observations in frames:
        for p in tracker.update(t_s, observations):
            emitted_at.append((t_s, p))
    assert len(emitted_at) == 1
    t_s, p = emitted_at[0]
    assert (p.text, p.direction, p.crossed_line) == ("1ABC234", "in", True)
    assert t_s < frames[-1][0]  # before the vehicle left the view
    assert tracker.flush() == []
    assert tracker.counters.passes == 1


def test_the_line_must_be_a_line() -> None:
    with pytest.raises(ValueError, match="two distinct points"):
        PlateTracker(line=((1.0, 1.0), (1.0, 1.0)))
    with pytest.raises(ValueError, match="needs a counting line"):
        PlateTracker(emit_on_cross=True)


# --- voting ----------------------------------------------------------------------------------------------


def still(reads: list[tuple[str | None, float]]) -> list[tuple[float, list[Observation]]]:
    """One plate standing still, read as given, one read per frame at 10 fps."""
    return [
        (100 + i / 10, [Observation(100 + i / 10, (500, 500, 80, 17), text, conf, "BE", i)])
        for i, (text, conf) in enumerate(reads)
    ]


def test_majority_wins_and_confidence_is_share_times_mean() -> None:
    (p,) = run(PlateTracker(), still([("1ABC234", 0.9), ("1ABC234", 0.8), ("1A8C234", 0.6), (None, 0)]))
    assert p.text == "1ABC234"
    assert p.votes == {"1ABC234": pytest.approx(1.7), "1A8C234": pytest.approx(0.6)}
    assert p.confidence == pytest.approx(1.7 / 2.3 * 0.85, abs=1e-4)
    assert (p.observations, p.reads) == (4, 3)
    assert p.best.payload == 0


def test_character_level_vote_when_no_text_has_a_majority() -> None:
    reads = [("1ABC284", 0.9), ("1A8C234", 0.85), ("IABC234", 0.8), ("1ABC234", 0.7)]
    (p,) = run(PlateTracker(), still(reads))
    assert p.text == "1ABC234"
    weakest_share = (0.85 + 0.8 + 0.7) / 3.25  # position 5, where the most confident read is wrong
    assert p.confidence == pytest.approx(weakest_share * 3.25 / 4, abs=1e-4)
    assert p.best.text == "1ABC234"


def test_character_level_vote_can_compose_a_text_never_read_whole() -> None:
    (p,) = run(PlateTracker(), still([("1ABC284", 0.9), ("1A8C234", 0.85), ("IABC234", 0.8)]))
    assert p.text == "1ABC234"
    assert p.best.text == "1ABC284"  # the most confident of the reads one character away


def test_character_vote_uses_the_heaviest_length_only() -> None:
    reads = [("1ABC234", 0.9), ("1ABC284", 0.8), ("AB1234", 0.95), ("AB1284", 0.3)]
    (p,) = run(PlateTracker(), still(reads))
    assert p.text == "1ABC234"


def test_the_vote_takes_the_length_the_reads_gather_around() -> None:
    """Four unsure reads of a far plate: three within two edits of each other (one with a glyph too many,
    one with a glyph lost), one short read of something else that alone is the heaviest."""
    reads = [("LZ68", 0.17), ("2JLV288", 0.12), ("BZJLV288", 0.16), ("2LV208", 0.16)]
    (p,) = run(PlateTracker(), still(reads))
    assert p.text == "2JLV288"


def test_of_a_read_and_a_near_shorter_one_the_heavier_sets_the_length() -> None:
    """A Dutch ``J-907-JJ`` approaching: read whole in its two nearest frames, as ``J907J`` (the double
    letter run together) once, and as scattered misreads of both lengths while far. ``J907J`` has more
    texts within two edits (``J9073``, ``1907B``), but they are a glyph apart from it as the whole read is:
    a neighbour counts half its weight, and the whole read, more than twice as heavy, sets the length."""
    reads = [
        ("B074BJ", 0.29),
        ("1907B", 0.43),
        ("J9073", 0.55),
        ("1507JI", 0.29),
        ("J907J", 0.68),
        ("J907JJ", 0.8),
        ("J907JJ", 0.86),
    ]
    (p,) = run(PlateTracker(), still(reads))
    assert p.text == "J907JJ"


def test_ties_go_to_the_higher_mean_confidence() -> None:
    # Equal weight 1.6 each, no majority; "AB123" reads are fewer but more confident.
    reads = [("AB123", 0.8), ("1ABC234", 0.6), ("AB123", 0.8), ("1ABC234", 0.6), ("1ABC234", 0.4)]
    (p,) = run(PlateTracker(), still(reads))
    assert p.text == "AB123"


def test_min_reads_withholds_the_text_of_a_thin_track() -> None:
    (p,) = run(PlateTracker(min_reads=3), still([("1ABC234", 0.9), (None, 0), ("1ABC234", 0.9)]))
    assert (p.text, p.confidence, p.reads) == (None, 0.0, 2)
    assert p.votes == {"1ABC234": pytest.approx(1.8)}


# --- unread, noise, flush, repeats ----------------------------------------------------------------------


def test_a_track_never_read_is_an_unread_pass() -> None:
    car = Vehicle("1ABC234", LANE_X_M[0], z0_m=30.0, speed_m_s=6.0, t0_s=100.0)
    frames = simulate([car], even(10, 4.0), 3, unread=1.0)
    (p,) = run(PlateTracker(), frames)
    assert (p.text, p.reads, p.votes, p.country, p.confidence) == (None, 0, {}, None, 0.0)
    assert p.direction == "approaching"
    assert p.best.box[2] == max(o.box[2] for _, obs in frames for o in obs)  # the largest plate

    stats = CaptureStats(clock=FakeClock())
    stats.record(p)
    snap = stats.snapshot()
    assert (snap["vehicles"], snap["read"], snap["unread"], snap["capture_rate"]) == (1, 0, 1, 0.0)
    assert snap["mean_confidence"] is None


def test_a_single_unread_detection_is_noise_but_a_single_read_is_not() -> None:
    tracker = PlateTracker()
    assert run(tracker, [(1.0, [Observation(1.0, (10, 10, 8, 2), None, 0.0)])]) == []
    assert tracker.counters.noise_dropped == 1
    (p,) = run(tracker, [(9.0, [Observation(9.0, (10, 10, 8, 2), "1ABC234", 0.4)])])
    assert p.text == "1ABC234"
    assert run(PlateTracker(min_observations=1), [(1.0, [Observation(1.0, (10, 10, 8, 2), None, 0.0)])])


def test_flush_emits_open_tracks_once_and_never_again() -> None:
    tracker = PlateTracker()
    car = Vehicle("1ABC234", LANE_X_M[0], z0_m=30.0, speed_m_s=6.0, t0_s=100.0)
    frames = simulate([car], even(10, 2.0), 4)
    assert [p for t_s, obs in frames for p in tracker.update(t_s, obs)] == []
    assert tracker.counters.open_tracks == 1
    assert [p.text for p in tracker.flush()] == ["1ABC234"]
    assert tracker.flush() == []
    assert tracker.update(200.0, []) == []
    assert tracker.counters.open_tracks == 0


def test_a_track_ends_after_max_gap() -> None:
    tracker = PlateTracker(max_gap_s=1.0)
    obs = Observation(10.0, (500, 500, 80, 17), "1ABC234", 0.9)
    assert tracker.update(10.0, [obs]) == []
    assert tracker.update(11.0, []) == []  # exactly max_gap_s: still open
    (p,) = tracker.update(11.05, [])
    assert (p.first_t_s, p.last_t_s) == (10.0, 10.0)


def test_duplicate_detections_of_one_plate_are_one_track() -> None:
    frames = [
        (t, [Observation(t, (500, 500, 80, 17), "1ABC234", 0.9), Observation(t, (503, 501, 78, 17), None, 0)])
        for t in even(10, 1.0)
    ]
    tracker = PlateTracker()
    (p,) = run(tracker, frames)
    assert (p.observations, p.reads) == (20, 10)
    assert tracker.counters.tracks_started == 1


def test_a_part_of_the_plate_read_beside_the_whole_is_not_a_second_vehicle() -> None:
    """A second, smaller detection inside the plate's box (its last glyphs, read as `56Z`) in the same
    frames is the same plate, however much smaller its box."""
    frames = [
        (
            t,
            [
                Observation(t, (500 - 8 * k, 500, 100, 24), "VFT56Z", 0.9),
                Observation(t, (550 - 8 * k, 503, 40, 18), "56Z", 0.3),
            ],
        )
        for k, t in enumerate(even(10, 1.0))
    ]
    tracker = PlateTracker()
    (p,) = run(tracker, frames)
    assert p.text == "VFT56Z"
    assert tracker.counters.tracks_started == 1


def test_a_small_plate_beside_a_large_one_is_another_vehicle() -> None:
    """Side by side, not inside: two tracks."""
    frames = [
        (
            t,
            [
                Observation(t, (500, 500, 100, 24), "VFT56Z", 0.9),
                Observation(t, (620, 505, 40, 10), "1ABC234", 0.9),
            ],
        )
        for t in even(10, 1.0)
    ]
    tracker = PlateTracker()
    assert sorted(p.text for p in run(tracker, frames)) == ["1ABC234", "VFT56Z"]


def moving(
    text: str | None,
    conf: float,
    start: tuple[float, float],
    step: tuple[float, float],
    width: float,
    times: list[float],
) -> list[tuple[float, list[Observation]]]:
    """One plate seen once per frame at ``times``, moving ``step`` pixels per frame, read as given."""
    return [
        (
            t,
            [
                Observation(
                    t, (start[0] + k * step[0], start[1] + k * step[1], width, width / 4.5), text, conf
                )
            ],
        )
        for k, t in enumerate(times)
    ]


def test_a_confident_read_of_another_plate_never_joins_an_established_track() -> None:
    """A car leaves at the bottom and the next appears where the first would have gone: without the
    texts the two are one track (they are in gate), and the first car's pass is lost to the second."""
    first = moving("1ABC234", 0.9, (500, 300), (0, 40), 100, even(10, 0.6))
    second = moving("2XYZ987", 0.9, (500, 540), (0, 40), 100, even(10, 0.6, start_s=100.6))
    tracker = PlateTracker()
    passes = run(tracker, first + second)
    assert [p.text for p in passes] == ["1ABC234", "2XYZ987"]
    assert tracker.counters.tracks_started == 2


def test_the_next_step_of_a_track_misread_with_some_confidence_still_joins_it() -> None:
    """A receding plate read ``1BJH657`` in five frames, then, the next frame, exactly where it was going,
    ``1B16557`` at 0.51 (its far end, three glyphs wrong): the track's plate, not a new vehicle. The same
    misread a moment later but a plate width beside the prediction, or a read of another plate altogether
    at the predicted spot, stays another vehicle."""
    times = even(8, 6 / 8)
    near = moving("1BJH657", 0.95, (800, 500), (-4, -25), 60, times[:5])
    t = times[5]

    def then(text: str, x: float) -> list[tuple[float, list[Observation]]]:
        return [(t, [Observation(t, (x, 500 - 5 * 25, 60, 60 / 4.5), text, 0.51)])]

    tracker = PlateTracker()
    assert [p.text for p in run(tracker, near + then("1B16557", 800 - 5 * 4))] == ["1BJH657"]
    assert tracker.counters.tracks_started == 1
    for text, x in (("1B16557", 800 - 5 * 4 + 60), ("2XYZ987", 800 - 5 * 4)):
        tracker = PlateTracker()
        run(tracker, near + then(text, x))
        assert tracker.counters.tracks_started == 2, (text, x)


def test_a_track_that_took_in_another_plate_s_unsure_reads_refuses_its_confident_ones() -> None:
    """A receding car read ``2VLV316`` drives off towards the far end of the road and is lost there; 0.9 s
    later an approaching car appears where the first was heading. Its first, unsure reads (``LA266ER``,
    ``EA264ER``) join the coasting track, which has no reason to refuse them; its confident ones do not:
    they are unlike everything the track read confidently and repeatedly, whatever unsure reads it took in.
    Before, the identity check looked at the track's heaviest texts, those unsure reads among them, and the
    approaching car's pass was lost in the first's."""
    fps = 8.0
    away = [
        (t, [Observation(t, (500 - 5 * k, 300 - 20 * k, 60, 14), "2VLV316", 0.9, "BE")])
        for k, t in enumerate(even(fps, 10 / fps))
    ]
    t0 = away[-1][0] + 0.9
    texts = [("LA266ER", 0.37), ("EA264ER", 0.18)] + [("EA266ER", 0.96)] * 5
    towards = [
        (t0 + k / fps, [Observation(t0 + k / fps, (440 - 5 * k, 90 + 20 * k, 60, 14), text, conf, "FR")])
        for k, (text, conf) in enumerate(texts)
    ]
    tracker = PlateTracker()
    passes = run(tracker, away + towards)
    assert [p.text for p in passes] == ["2VLV316", "EA266ER"]
    assert tracker.counters.tracks_started == 2


def test_a_confident_misread_still_joins() -> None:
    """One character off is the same plate misread, however confident."""
    first = moving("1ABC234", 0.9, (500, 300), (0, 40), 100, even(10, 0.6))
    second = moving("1ABC284", 0.9, (500, 540), (0, 40), 100, even(10, 0.3, start_s=100.6))
    tracker = PlateTracker()
    assert [p.text for p in run(tracker, first + second)] == ["1ABC234"]
    assert tracker.counters.tracks_started == 1


def test_a_step_against_the_motion_is_another_vehicle() -> None:
    """A plate moving down the image; the next detection is two plate widths *above* it (a car behind,
    read unsure): within the association gate, but a car does not reverse between frames."""
    first = moving("1ABC234", 0.9, (500, 300), (0, 40), 100, even(10, 0.6))
    behind = moving("2XYZ987", 0.3, (500, 300 + 5 * 40 - 200), (0, 40), 100, even(10, 0.6, start_s=100.6))
    tracker = PlateTracker()
    passes = run(tracker, first + behind)
    assert [p.text for p in passes] == ["1ABC234", "2XYZ987"]
    assert tracker.counters.tracks_started == 2
    assert tracker.counters.stitched == 0  # two widths apart: not the same place


def test_a_weak_track_split_from_its_vehicle_is_stitched_onto_it() -> None:
    """The far plate is first detected as a small box read as garbage; the next detection is more than
    twice as wide (beyond the association's size gate) and read right. One vehicle, one pass."""
    far = [
        (100.0, [Observation(100.0, (500, 300, 50, 11), "ZZ22", 0.2)]),
        (100.1, [Observation(100.1, (498, 306, 52, 11), "400", 0.08)]),
        (100.2, [Observation(100.2, (496, 312, 54, 12), "ZZ7", 0.15)]),
    ]
    near = moving("1ABC234", 0.9, (470, 320), (-5, 12), 125, even(10, 0.5, start_s=100.3))
    tracker = PlateTracker()
    (p,) = run(tracker, far + near)
    assert p.text == "1ABC234"
    assert p.observations == 8
    assert p.first_t_s == pytest.approx(100.0)
    assert tracker.counters.stitched == 1


def test_a_weak_track_elsewhere_is_not_stitched() -> None:
    """The same garbage track, but six plate widths to the side: another vehicle, unread."""
    far = [
        (100.0 + k / 10, [Observation(100.0 + k / 10, (1200, 300, 50, 11), "ZZ22", 0.2)]) for k in range(3)
    ]
    near = moving("1ABC234", 0.9, (470, 320), (-5, 12), 125, even(10, 0.5, start_s=100.3))
    tracker = PlateTracker()
    assert sorted(p.text or "" for p in run(tracker, far + near)) == ["1ABC234", "ZZ22"]
    assert tracker.counters.stitched == 0


def test_a_track_ending_after_its_vehicle_passed_adds_no_second_pass() -> None:
    """A receding car read well; right after, at the same place, a larger box read as one glyph off and
    garbage. The first pass is out already when the second track ends; the second is the same car."""
    car = moving("1ABC234", 0.95, (500, 700), (0, -40), 120, even(10, 0.4))
    tail = [
        (100.5, [Observation(100.5, (480, 560, 280, 60), "1ABC284", 0.6)]),
        (100.6, [Observation(100.6, (470, 530, 290, 62), "81HC28", 0.5)]),
        (100.7, [Observation(100.7, (465, 500, 300, 64), "XX9", 0.3)]),
    ]
    # Frames without plates: the car's track ends first, the tail's after it.
    quiet: list[tuple[float, list[Observation]]] = [(t, []) for t in even(10, 1.5, start_s=100.8)]
    tracker = PlateTracker()
    passes = run(tracker, car + tail + quiet)
    assert [p.text for p in passes] == ["1ABC234"]
    assert (tracker.counters.tracks_started, tracker.counters.stitched) == (2, 1)


def test_a_confident_read_of_part_of_the_plate_still_joins() -> None:
    """A receding car read well; as it shrinks the box cuts the first two glyphs off and the rest is read
    confidently. Three edits from the whole plate, but a part of it: the same car, not another one."""
    car = moving("1ABC234", 0.95, (500, 700), (0, -40), 120, even(10, 0.5))
    part = moving("C234", 0.6, (500, 500), (0, -40), 110, even(10, 0.3, start_s=100.5))
    tracker = PlateTracker()
    assert [p.text for p in run(tracker, car + part)] == ["1ABC234"]
    assert tracker.counters.tracks_started == 1


def test_a_track_of_partial_reads_is_stitched_onto_its_vehicle() -> None:
    """The car's box suddenly shrinks to half its width (the detector saw only part of the plate): beyond
    the size gate, so a second track starts, read as parts of the plate, each text once. Same place, same
    moment, a part of the plate's text: stitched, one pass (the part's own vote, 0.4, is not weak)."""
    car = moving("1ABC234", 0.95, (500, 700), (0, -40), 120, even(10, 0.5))
    part = [
        (100.5, [Observation(100.5, (530, 500, 50, 11), "BC234", 0.8)]),
        (100.6, [Observation(100.6, (530, 460, 50, 11), "ABC23", 0.75)]),
        (100.7, [Observation(100.7, (530, 420, 50, 11), "C234", 0.7)]),
    ]
    tracker = PlateTracker()
    assert [p.text for p in run(tracker, car + part)] == ["1ABC234"]
    assert (tracker.counters.tracks_started, tracker.counters.stitched) == (2, 1)


def test_a_partial_track_a_third_of_a_second_before_its_vehicle_is_stitched() -> None:
    """A far plate read in part; then no frame for 0.35 s (a busy node skips frames) and the plate, now
    near, is more than twice as wide: a new track. Alike texts at the same place bridge the longer gap."""
    far = [
        (100.0, [Observation(100.0, (566, 316, 45, 12), "LBM374", 0.1)]),
        (100.15, [Observation(100.15, (566, 346, 41, 12), "H774", 0.39)]),
    ]
    near = moving("2LRH774", 0.94, (420, 420), (-40, 60), 158, even(8, 0.4, start_s=100.5))
    tracker = PlateTracker()
    assert [p.text for p in run(tracker, far + near)] == ["2LRH774"]
    assert (tracker.counters.tracks_started, tracker.counters.stitched) == (2, 1)


def _box_cut_then_whole(cut_text: str) -> list[tuple[float, list[Observation]]]:
    """An approaching `2JCK094` whose box held only part of the plate for two frames, read ``cut_text`` at
    0.99 and 0.97, then grew past the size gate around the whole plate: two tracks."""
    cut = [
        (100.0, [Observation(100.0, (824, 474, 111, 35), cut_text, 0.99)]),
        (100.24, [Observation(100.24, (829, 527, 61, 35), cut_text, 0.97)]),
    ]
    return cut + moving("2JCK094", 0.98, (700, 570), (-60, 70), 150, even(6, 0.48, start_s=100.36))


def test_a_track_that_read_only_part_of_the_plate_again_and_again_is_stitched_onto_it() -> None:
    """The cut box read the last five glyphs (`CK094`): a confident, repeated read of its own, which would
    keep it a vehicle of its own, but every such read is a shorter part of the second track's: stitched,
    one pass."""
    tracker = PlateTracker()
    assert [p.text for p in run(tracker, _box_cut_then_whole("CK094"))] == ["2JCK094"]
    assert (tracker.counters.tracks_started, tracker.counters.stitched) == (2, 1)


def test_two_plates_read_confidently_one_not_a_part_of_the_other_stay_two() -> None:
    """The same two tracks, but the first read `RT512` twice: not a part of `2JCK094`, so a vehicle of its
    own."""
    assert sorted(p.text for p in run(PlateTracker(), _box_cut_then_whole("RT512"))) == ["2JCK094", "RT512"]


def test_unlike_tracks_a_third_of_a_second_apart_stay_two() -> None:
    """The same, but the far track read another plate: not alike, so the short gap applies: two passes."""
    far = [
        (100.0, [Observation(100.0, (566, 316, 45, 12), "LBM374", 0.1)]),
        (100.15, [Observation(100.15, (566, 346, 41, 12), "KX91", 0.39)]),
    ]
    near = moving("2LRH774", 0.94, (420, 420), (-40, 60), 158, even(8, 0.4, start_s=100.5))
    tracker = PlateTracker()
    assert sorted(p.text or "" for p in run(tracker, far + near)) == ["2LRH774", "KX91"]
    assert tracker.counters.stitched == 0


def still_with_detail(reads: list[tuple[str, float, float]]) -> list[tuple[float, list[Observation]]]:
    """A still plate read once per frame at 10 fps: (text, confidence, detail) per frame."""
    return [
        (100 + i / 10, [Observation(100 + i / 10, (500, 500, 80, 17), text, conf, detail=detail)])
        for i, (text, conf, detail) in enumerate(reads)
    ]


def test_a_distant_read_weighs_less_than_a_near_one() -> None:
    """Two reads of a plate that filled a seventh of the reader's input lose to one of a near plate: each
    weighs 0.9 x sqrt(0.14)."""
    reads = [("1ABC284", 0.9, 0.14), ("1ABC284", 0.9, 0.14), ("1ABC234", 0.8, 1.0)]
    (p,) = run(PlateTracker(), still_with_detail(reads))
    assert p.text == "1ABC234"
    assert p.votes == {"1ABC234": pytest.approx(0.8), "1ABC284": pytest.approx(1.8 * 0.14**0.5, abs=1e-4)}


def test_a_sure_read_of_a_half_width_plate_outweighs_an_unsure_wide_one() -> None:
    """A wide, unsure read of the plate, one sure read at half the reader's width and one wrong read of a
    wide crop: the two agreeing reads win (with weights linear in the detail they would tie)."""
    reads = [("2JLV288", 0.4, 1.0), ("2JLV208", 0.96, 1.0), ("2JLV288", 1.0, 0.56)]
    (p,) = run(PlateTracker(), still_with_detail(reads))
    assert p.text == "2JLV288"


def test_the_same_plate_after_a_long_occlusion_is_merged_not_repeated() -> None:
    car = Vehicle("1ABC234", LANE_X_M[0], z0_m=30.0, speed_m_s=4.0, t0_s=100.0)
    frames = simulate([car], even(10, 5.0), 5, hidden=(101.5, 104.0), unread=0.0, wrong=0.0)
    tracker = PlateTracker()
    passes = run(tracker, frames)
    assert [p.text for p in passes] == ["1ABC234"]
    assert (tracker.counters.tracks_started, tracker.counters.repeats_merged) == (2, 1)


def test_a_parked_car_is_reported_once() -> None:
    tracker = PlateTracker(max_track_s=30.0)
    passes = run(tracker, still([("1ABC234", 0.9)] * 600))  # a minute at 10 fps
    assert len(passes) == 1
    assert passes[0].last_t_s == pytest.approx(130.0)  # emitted when the track turned 30 s old
    assert tracker.counters.passes == 1


def test_bad_observations_are_rejected_not_fatal() -> None:
    tracker = PlateTracker()
    bad = [
        Observation(1.0, (1, 1, 0, 5), "1ABC234", 0.9),
        Observation(1.0, (float("nan"), 1, 5, 5), "1ABC234", 0.9),
        Observation(1.0, (1, 1, 5, float("inf")), None, 0.0),
    ]
    assert run(tracker, [(1.0, bad)]) == []
    assert tracker.counters.observations_rejected == 3


def test_time_going_backwards_is_tolerated() -> None:
    tracker = PlateTracker()
    tracker.update(10.0, [Observation(10.0, (500, 500, 80, 17), "1ABC234", 0.9)])
    tracker.update(9.0, [Observation(9.0, (505, 505, 80, 17), "1ABC234", 0.9)])
    (p,) = tracker.flush()
    assert p.observations == 2


def test_vanishingly_small_time_steps_do_not_blow_up_the_velocity() -> None:
    tracker = PlateTracker()
    for i, t_s in enumerate([10.0, 10.0 + 1e-12, 10.0 + 2e-12, 10.1, 10.2]):
        tracker.update(t_s, [Observation(t_s, (500 + 50 * i, 500, 80, 17), "1ABC234", 0.9)])
    (p,) = tracker.flush()
    assert p.observations == 5


# --- property ----------------------------------------------------------------------------------------------

_texts = st.one_of(st.none(), st.sampled_from(["1ABC234", "1ABC235", "IABC234", "AB1234", "X"]))
_observation = st.tuples(
    st.floats(-100, 2000),
    st.floats(-100, 1200),
    st.floats(0.5, 400),
    st.floats(0.5, 100),
    _texts,
    st.floats(0, 1),
)
_stream = st.lists(
    st.tuples(st.floats(0.0, 2.0), st.lists(_observation, max_size=6)),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(
    stream=_stream,
    line=st.one_of(st.none(), st.just(LINE)),
    emit_on_cross=st.booleans(),
    min_observations=st.integers(1, 3),
    min_reads=st.integers(1, 3),
)
def test_random_streams_never_crash_and_each_track_is_emitted_at_most_once(
    stream: list[tuple[float, list[tuple[float, float, float, float, str | None, float]]]],
    line: tuple[tuple[float, float], tuple[float, float]] | None,
    emit_on_cross: bool,
    min_observations: int,
    min_reads: int,
) -> None:
    tracker = PlateTracker(
        line=line,
        emit_on_cross=emit_on_cross and line is not None,
        min_observations=min_observations,
        min_reads=min_reads,
    )
    t_s = 0.0
    frames = []
    for step, raw in stream:
        t_s += step
        frames.append((t_s, [Observation(t_s, (x, y, w, h), text, conf) for x, y, w, h, text, conf in raw]))
    passes = run(tracker, frames)

    ids = [p.track_id for p in passes]
    assert len(ids) == len(set(ids))
    counters = tracker.counters
    assert counters.open_tracks == 0
    assert counters.passes == len(passes)
    assert counters.tracks_started == (
        len(passes) + counters.noise_dropped + counters.repeats_merged + counters.stitched
    )
    total = sum(len(obs) for _, obs in frames)
    assert sum(p.observations for p in passes) <= total
    for p in passes:
        assert 0.0 <= p.confidence <= 1.0
        assert p.direction in {"approaching", "receding", "unknown", "in", "out"}
        assert p.crossed_line == (p.direction in {"in", "out"})
        assert p.reads <= p.observations
        assert p.first_t_s <= p.last_t_s
        assert (p.text is None) == (p.reads < min_reads)
    # A fresh run of the same stream gives the same passes: the tracker is deterministic.
    again = run(
        PlateTracker(
            line=line,
            emit_on_cross=emit_on_cross and line is not None,
            min_observations=min_observations,
            min_reads=min_reads,
        ),
        frames,
    )
    assert [(p.track_id, p.text, p.direction) for p in again] == [
        (p.track_id, p.text, p.direction) for p in passes
    ]


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), fast=st.booleans())
def test_random_single_vehicles_are_one_pass(seed: int, fast: bool) -> None:
    rng = random.Random(seed)
    speed = rng.uniform(10, 16) if fast else rng.uniform(4, 9)
    approaching = rng.random() < 0.5
    car = Vehicle(
        "1ABC234",
        rng.choice(LANE_X_M),
        z0_m=30.0 if approaching else 6.0,
        speed_m_s=speed if approaching else -speed,
        t0_s=100.0,
    )
    times = irregular(seed, 24.0 / speed) if fast else even(rng.choice([5, 10, 25]), 24.0 / speed)
    tracker = PlateTracker()
    passes = run(tracker, simulate([car], times, seed))
    assert len(passes) == 1
    assert tracker.counters.tracks_started == 1
    assert passes[0].direction == ("approaching" if approaching else "receding")


# --- capture statistics -------------------------------------------------------------------------------


def a_pass(text: str | None, confidence: float) -> VehiclePass:
    obs = Observation(0.0, (0, 0, 10, 2), text, confidence)
    return VehiclePass(1, text, confidence, None, "unknown", False, 0.0, 0.0, 1, int(bool(text)), {}, obs)


def test_capture_rate_and_histogram() -> None:
    stats = CaptureStats(clock=FakeClock())
    assert stats.snapshot()["capture_rate"] is None
    for confidence in (0.2, 0.5, 0.69, 0.7, 0.85, 0.9, 1.0):
        stats.record(a_pass("1ABC234", confidence))
    stats.record(a_pass(None, 0.0))
    snap = stats.snapshot()
    assert (snap["vehicles"], snap["read"], snap["unread"]) == (8, 7, 1)
    assert snap["capture_rate"] == 0.875
    assert snap["confidence_histogram"] == {
        "0.0-0.5": 1,
        "0.5-0.7": 2,
        "0.7-0.8": 1,
        "0.8-0.9": 1,
        "0.9-1.0": 2,
    }
    assert snap["mean_confidence"] == pytest.approx((0.2 + 0.5 + 0.69 + 0.7 + 0.85 + 0.9 + 1.0) / 7, abs=1e-4)


@pytest.mark.parametrize(
    ("confidence", "index"),
    [(-1.0, 0), (0.0, 0), (0.4999, 0), (0.5, 1), (0.79, 2), (0.8, 3), (0.9, 4), (1.0, 4)],
)
def test_histogram_bins(confidence: float, index: int) -> None:
    assert confidence_bin(confidence) == index
    assert len(HISTOGRAM_EDGES) == 6


def test_processing_time_percentiles_over_recent_samples() -> None:
    stats = CaptureStats(clock=FakeClock(), samples=100)
    assert stats.snapshot()["ms_p50"] is None
    for ms in range(1, 1001):  # only the last 100 (901..1000) count
        stats.frame(detections=2, ms=float(ms))
    snap = stats.snapshot()
    assert (snap["frames"], snap["detections"]) == (1000, 2000)
    assert snap["ms_p50"] == pytest.approx(950.5)
    assert snap["ms_p95"] == pytest.approx(995.05)


def test_percentile() -> None:
    assert percentile([], 0.5) is None
    assert percentile([3.0], 0.95) == 3.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert percentile(list(map(float, range(101))), 0.95) == pytest.approx(95.0)


def test_rolling_window_forgets_old_passes() -> None:
    clock = FakeClock()
    stats = CaptureStats(clock=clock, window_s=3600)
    stats.record(a_pass(None, 0.0))
    clock.advance(3000)
    stats.record(a_pass("1ABC234", 0.9))
    assert stats.snapshot()["window"] == {"vehicles": 2, "read": 1, "capture_rate": 0.5}
    clock.advance(700)
    snap = stats.snapshot()
    assert snap["window"] == {"vehicles": 1, "read": 1, "capture_rate": 1.0}
    assert snap["capture_rate"] == 0.5  # totals since start are not windowed


def test_stats_are_thread_safe() -> None:
    stats = CaptureStats(clock=FakeClock())

    def work() -> None:
        for i in range(500):
            stats.record(a_pass("1ABC234" if i % 2 else None, 0.9))
            stats.frame(1, 5.0)
            stats.snapshot()

    threads = [threading.Thread(target=work, name=f"stats-{i}") for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    snap = stats.snapshot()
    assert (snap["vehicles"], snap["read"], snap["frames"]) == (2000, 1000, 2000)
