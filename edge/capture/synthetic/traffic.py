"""The traffic schedule: when each vehicle enters its lane, how fast it drives, what it is.

Each lane is a renewal process: after a vehicle enters, the next arrives after an exponentially
distributed gap (together both lanes average ``vehicles_per_minute``), but never so early that it would
come closer than a safe gap to the vehicle ahead at any moment (speeds are constant, so checking the two
ends of their time together is enough). Every vehicle's details come from its own random generator
seeded with ``(seed, lane, number)``, so the schedule is a pure function of the seed and does not depend
on how many frames were rendered or when.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from edge.capture.synthetic.geometry import APPROACH_LANE_X_M, FAR_DEPTH_M, RECEDE_LANE_X_M
from edge.capture.synthetic.plate_text import PLATE_FORMATS, random_plate
from edge.capture.synthetic.vehicle_models import KIND_WEIGHTS, SHAPES
from edge.config import PlateMix
from edge.types import Direction

SAFE_GAP_M = 4.0
"""Bumper-to-bumper distance kept between consecutive vehicles in a lane."""
START_T_S = -45.0
"""Traffic starts this long before scene time 0, so the street is already busy in the first frame."""
_SPEED_M_S = {
    "hatchback": (8.0, 13.5),
    "sedan": (8.5, 14.0),
    "suv": (8.0, 13.5),
    "van": (7.5, 12.0),
    "truck": (6.5, 10.0),
}
LANES: tuple[tuple[Direction, float], ...] = (
    (Direction.APPROACHING, APPROACH_LANE_X_M),
    (Direction.RECEDING, RECEDE_LANE_X_M),
)


@dataclass(frozen=True, slots=True)
class VehiclePlan:
    """One vehicle's whole life in the scene."""

    lane: int
    number: int
    """Position in its lane's sequence; with ``lane`` it seeds the vehicle's details."""
    direction: Direction
    lane_x_m: float
    kind: str
    length_m: float
    speed_m_s: float
    spawn_t_s: float
    plate_format: str
    plate_text: str
    plate_formatted: str
    country: str

    @property
    def path_m(self) -> float:
        """Distance driven from entering to leaving the scene."""
        return FAR_DEPTH_M + self.length_m + 1.0

    @property
    def exit_t_s(self) -> float:
        return self.spawn_t_s + self.path_m / self.speed_m_s

    def face_depth_m(self, scene_t_s: float) -> float:
        """Depth of the face the camera sees (front when approaching, rear when receding)."""
        travelled = self.speed_m_s * (scene_t_s - self.spawn_t_s)
        if self.direction is Direction.APPROACHING:
            return FAR_DEPTH_M - travelled
        return -(self.length_m + 1.0) + travelled


def plate_weights(mix: PlateMix) -> tuple[tuple[str, ...], np.ndarray]:
    keys = tuple(PLATE_FORMATS)
    weights = np.array([float(getattr(mix, key)) for key in keys], np.float64)
    return keys, weights / weights.sum()


def vehicle_rng(seed: int, lane: int, number: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, lane, number]))


class LaneSchedule:
    """Generates the plans of one lane in spawn order."""

    def __init__(self, seed: int, lane: int, vehicles_per_minute: float, mix: PlateMix) -> None:
        self._seed = seed
        self._lane = lane
        self._direction, self._lane_x_m = LANES[lane]
        self._rate_per_s = vehicles_per_minute / 60.0 / len(LANES)
        self._gaps = np.random.default_rng(np.random.SeedSequence([seed, lane, 0xFFFF_FFFF]))
        self._plate_keys, self._plate_p = plate_weights(mix)
        self._kinds = tuple(KIND_WEIGHTS)
        kind_w = np.array([KIND_WEIGHTS[k] for k in self._kinds])
        self._kind_p = kind_w / kind_w.sum()
        self._number = 0
        self._previous: VehiclePlan | None = None
        self._next_arrival_t_s = START_T_S + self._gap_s()
        self._pending: VehiclePlan | None = None

    def _gap_s(self) -> float:
        if self._rate_per_s <= 0:
            return float("inf")
        return float(self._gaps.exponential(1.0 / self._rate_per_s))

    def until(self, scene_t_s: float) -> Iterator[VehiclePlan]:
        """Plans spawning at or before ``scene_t_s`` that have not been handed out yet."""
        while True:
            if self._pending is None:
                if self._next_arrival_t_s == float("inf"):
                    return
                self._pending = self._plan(self._next_arrival_t_s)
            if self._pending.spawn_t_s > scene_t_s:
                return
            plan, self._pending = self._pending, None
            self._previous = plan
            self._next_arrival_t_s = plan.spawn_t_s + self._gap_s()
            yield plan

    def _plan(self, arrival_t_s: float) -> VehiclePlan:
        self._number += 1
        rng = vehicle_rng(self._seed, self._lane, self._number)
        kind = self._kinds[int(rng.choice(len(self._kinds), p=self._kind_p))]
        low, high = _SPEED_M_S[kind]
        speed = float(rng.uniform(low, high))
        plate_format = self._plate_keys[int(rng.choice(len(self._plate_keys), p=self._plate_p))]
        text, formatted = random_plate(plate_format, rng)
        spawn = arrival_t_s
        ahead = self._previous
        if ahead is not None:
            gap = ahead.length_m + SAFE_GAP_M
            spawn = max(
                spawn,
                ahead.spawn_t_s + gap / ahead.speed_m_s,  # far enough behind when it enters
                ahead.exit_t_s - (ahead.path_m - gap) / speed,  # and still when the one ahead leaves
            )
        return VehiclePlan(
            lane=self._lane,
            number=self._number,
            direction=self._direction,
            lane_x_m=self._lane_x_m,
            kind=kind,
            length_m=SHAPES[kind].length_m,
            speed_m_s=speed,
            spawn_t_s=spawn,
            plate_format=plate_format,
            plate_text=text,
            plate_formatted=formatted,
            country=PLATE_FORMATS[plate_format].country,
        )
