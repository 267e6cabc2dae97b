"""Daylight, street lamps and the day/night cycle, quantised so that lit images can be cached."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

CYCLE_LEVELS = 240
"""Lighting steps per day/night cycle. At the default 600 s cycle a step lasts 2.5 s and changes the
brightness by well under 2 %, which the eye does not notice; every lit image is cached per step."""
NIGHT_AMBIENT = 0.04

LightingMode = Literal["day", "night", "cycle"]


@dataclass(frozen=True, slots=True)
class Light:
    """The lighting of one frame."""

    key: int
    """Equal keys mean identical lighting (the cache key for lit backgrounds and vehicle sprites)."""
    ambient: float
    """Daylight on surfaces, 1.0 = full day; reported as the frame's ``lux``."""
    lamps: float
    """How far street lamps, lit windows and vehicle lights are on, 0..1."""

    @property
    def headlights(self) -> bool:
        return self.lamps > 0.3


DAY = Light(key=-1, ambient=1.0, lamps=0.0)
NIGHT = Light(key=-2, ambient=NIGHT_AMBIENT, lamps=1.0)


def _smoothstep(edge0: float, edge1: float, x: float) -> float:
    t = min(max((x - edge0) / (edge1 - edge0), 0.0), 1.0)
    return t * t * (3.0 - 2.0 * t)


def light_at(mode: LightingMode, cycle_seconds: float, scene_t_s: float) -> Light:
    """Lighting at scene time ``scene_t_s``. The cycle starts at noon."""
    if mode == "day":
        return DAY
    if mode == "night":
        return NIGHT
    step = round((scene_t_s / cycle_seconds % 1.0) * CYCLE_LEVELS) % CYCLE_LEVELS
    step = min(step, CYCLE_LEVELS - step)  # morning and evening look alike: share their cache entries
    sun = math.cos(2.0 * math.pi * step / CYCLE_LEVELS)
    ambient = NIGHT_AMBIENT + (1.0 - NIGHT_AMBIENT) * _smoothstep(-0.3, 0.35, sun)
    lamps = 1.0 - _smoothstep(-0.2, 0.15, sun)
    return Light(key=step, ambient=round(ambient, 4), lamps=round(lamps, 4))
