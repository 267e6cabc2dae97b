"""Plate tracking: many per-frame plate observations in, one ``VehiclePass`` per vehicle out.

The ANPR stage reads the latest masked frame, so the tracker sees irregular time steps (a few to a dozen
frames per second out of 25). Each frame's observations are associated with the open tracks greedily, on
a cost that mixes the distance from the track's predicted centre (constant velocity, normalised by plate
width), the change of plate width against the predicted one, and agreement between the read texts. Two things
keep a track from taking over the next vehicle: a confident read far (3+ edits) from what the track has
read confidently and repeatedly never joins it, nor does a detection more than a plate width *behind* a
moving track (cars do not reverse between frames). A track ends when it has not been seen for
``max_gap_s``; its reads are then voted to one text (``edge.anpr.voting``), each weighing its confidence
times its detail (a distant plate's read weighs less).

Stitching: the association still splits a vehicle now and then (a far plate detected as a small box read
as garbage, then a box over twice as wide; a spurious box that takes the next detection). A track that
ends weak (vote under ``_WEAK_PASS`` or fewer than ``min_reads`` reads), or that read a text within one
edit of another track's without an established read of its own, is merged into a track seen at the same
place at about the same time (``_STITCH_GAP_S``, ``_STITCH_WIDTHS``) — open, ending with it, or ended
lately — instead of making a pass of its own. A track read confidently and repeatedly is not stitched,
unless all it read so is a shorter part of the other's reads: two cars side by side whose plates differ by
one character stay two passes.

Camera convention (direction without a counting line): the camera looks along the road from above, so an
approaching vehicle's plate moves *down* the image and grows, a receding one moves *up* and shrinks.

Counting line (optional, pixels ``(p1, p2)``): a track that starts on one side of the segment, passes
through it and ends on the other side has ``crossed_line`` set and direction ``"in"`` when it went from
the left of the directed line ``p1 -> p2`` to its right *as seen on the image* (y pointing down), ``"out"``
the other way. A line drawn left to right across the road therefore counts approaching vehicles as
``"in"``. A track that did not cross falls back to ``"approaching"``/``"receding"``/``"unknown"``.

Exactly once: every track yields at most one pass. It is emitted when the track ends (``update`` or
``flush``), or earlier when ``emit_on_cross`` is set and the track crosses the line with enough reads, or
when a track has been open for ``max_track_s`` (a parked car); an early-emitted track stays open, silently
absorbing its vehicle's observations, so the vehicle cannot start a second track while it is in view. A
track whose voted text equals a pass emitted less than ``repeat_window_s`` before it started is the same
vehicle seen again after a long occlusion and is merged (not emitted). A track without any read and with
fewer than ``min_observations`` observations is dropped as detector noise; a track with a read never is.

Not thread-safe: one tracker belongs to the one ANPR stage thread.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from edge.anpr.voting import Ballot, Observation, Verdict, edit_distance, is_part
from edge.types import Direction

log = logging.getLogger(__name__)

APPROACHING = Direction.APPROACHING.value
RECEDING = Direction.RECEDING.value
UNKNOWN = "unknown"
IN = "in"
OUT = "out"

Line = tuple[tuple[float, float], tuple[float, float]]

_SMOOTHING_S = 0.2
"""Time constant of the velocity filter: at 25 fps it averages jitter, at 3 fps it follows each step."""
_MIN_STEP_S = 1e-3
"""Steps shorter than this (two reads of one frame, a clock hiccup) do not update the velocity."""
_MOTION_GATE = 0.5
"""The gate widens by this share of the predicted displacement: prediction error grows with motion."""
_INITIAL_GATE_GAIN = 1.6
"""A track seen once has no velocity yet; its gate is wider so a fast vehicle at low fps still joins."""
_TEXT_GATE_GAIN = 1.5
"""Agreeing texts (edit distance <= 1) are strong identity evidence: the gate widens by this much."""
_MAX_SIZE_RATIO = 2.2
"""Beyond this ratio between observed and predicted plate width an observation is another plate."""
_TEXT_BONUS = {0: -1.0, 1: -0.5}
_TEXT_PENALTY = 0.5
"""Added when both texts are read and differ by 3 edits or more."""
_DUPLICATE_FACTOR = 0.5
"""An unmatched observation within half a plate width of one matched this frame is a duplicate detection."""
_IDENTITY_CONFIDENCE = 0.5
"""A read at least this confident and unlike every text the track has read at least twice at least this
confidently (``_unlike``: 3 or more edits from it, and not a part of it) is another vehicle's plate: it
never joins that track, unless it is the track's next step and half like it (``_in_step``)."""
_IN_STEP_S = 0.2
_IN_STEP_WIDTHS = 0.5
_IN_STEP_SIZE = math.log(1.3)
"""An observation at most ``_IN_STEP_WIDTHS`` plate widths from where a track seen at most ``_IN_STEP_S``
ago was predicted to be, and of the predicted width (within ``_IN_STEP_SIZE``), whose read differs from one
of the track's established reads in at most half its glyphs, is that track's plate: a receding plate's
far end misread with some confidence (`1B16557` for `1BJH657`, the frame after its last good read) is no
new vehicle. A coasting track's wide gate gets no such exception, nor does a read of another plate
altogether."""
_WEAK_PASS = 0.25
"""A track whose vote is less confident than this (or that has fewer than ``min_reads`` reads) is weak:
at its end it is stitched onto a stronger track of the same place (``_stitch_target``)."""
_STITCH_GAP_S = 0.3
"""Two tracks are of the same place when they were seen this close in time ..."""
_STITCH_TEXT_GAP_S = 0.6
"""... or this close, when their reads are alike (``_resembles``): a node that skips frames can lose a
near, fast plate for a third of a second, in which its box may grow beyond the association's size gate."""
_STITCH_WIDTHS = 1.5
"""... and this close in space (centres, in plate widths)."""
_REVERSAL_WIDTHS = 1.0
"""A step of more than this many plate widths against a moving track's velocity is another vehicle: a
car does not reverse between two frames."""
_PATH = 64
"""Positions kept per track for stitching (the newest)."""
_MIN_MOTION_WIDTHS = 0.5
"""Vertical motion (in plate widths) below which the direction is read from growth instead."""
_MIN_GROWTH = math.log(1.2)
_ENDS = 3
"""Positions kept at each end of a track for its direction."""


@dataclass(frozen=True, slots=True)
class VehiclePass:
    """One vehicle's pass in front of the camera: the voted read of one track."""

    track_id: int
    text: str | None
    """The voted read; None when the track was never read (or had fewer than ``min_reads`` reads)."""
    confidence: float
    """Share of the weighted votes of the winner times the winner's mean reader confidence, 0..1."""
    country: str | None
    direction: str
    """``approaching`` / ``receding`` / ``unknown``; ``in`` / ``out`` when it crossed the counting line."""
    crossed_line: bool
    first_t_s: float
    last_t_s: float
    observations: int
    reads: int
    """Observations that carried a text."""
    votes: dict[str, float]
    """Text -> summed confidence of the reads of that text."""
    best: Observation
    """Highest-confidence observation of the winning text (largest plate when unread)."""


@dataclass(frozen=True, slots=True)
class TrackerCounters:
    tracks_started: int
    passes: int
    noise_dropped: int
    """Tracks without a read and with fewer than ``min_observations`` observations."""
    repeats_merged: int
    """Tracks whose text repeated a recent pass: the same vehicle again after a long occlusion."""
    stitched: int
    """Tracks that ended weak (or read like another) next to a track of the same place, and were merged
    into it: one vehicle the association had split."""
    observations_rejected: int
    """Observations with a non-finite or empty box."""
    open_tracks: int


def _side(line: Line, x: float, y: float) -> int:
    """+1 right of ``p1 -> p2`` as seen on the image (y down), -1 left, 0 on the line."""
    (x1, y1), (x2, y2) = line
    cross = (x2 - x1) * (y - y1) - (y2 - y1) * (x - x1)
    return (cross > 0) - (cross < 0)


def _segments_cross(line: Line, a: tuple[float, float], b: tuple[float, float]) -> bool:
    """Whether the step ``a -> b`` touches the line segment."""
    p1, p2 = line
    step: Line = (a, b)
    d1, d2 = _side(line, *a), _side(line, *b)
    d3, d4 = _side(step, *p1), _side(step, *p2)
    return d1 != d2 and d3 != d4 and not (d1 == 0 and d2 == 0)


class _Track:
    __slots__ = (
        "ballot",
        "crossed",
        "cx",
        "cy",
        "emitted",
        "emitted_text",
        "end_side",
        "first",
        "first_t_s",
        "h",
        "id",
        "largest",
        "last",
        "last_t_s",
        "moves",
        "observations",
        "path",
        "scale_rate",
        "start_side",
        "vx",
        "vy",
        "w",
    )

    def __init__(self, track_id: int, obs: Observation, t_s: float) -> None:
        x, y, w, h = obs.box
        self.id = track_id
        self.cx, self.cy, self.w, self.h = x + w / 2, y + h / 2, w, h
        self.vx = self.vy = self.scale_rate = 0.0  # px/s, px/s, d ln(w)/dt
        self.first_t_s = self.last_t_s = t_s
        self.observations = 0
        self.ballot = Ballot()
        self.largest = obs
        self.first: list[tuple[float, float, float]] = []
        self.last: deque[tuple[float, float, float]] = deque(maxlen=_ENDS)
        self.start_side = 0
        self.end_side = 0
        self.crossed = False
        self.emitted = False
        self.emitted_text: str | None = None
        self.moves = 0
        self.path: deque[tuple[float, float, float, float]] = deque(maxlen=_PATH)  # t, cx, cy, w

    def predict(self, t_s: float) -> tuple[float, float, float, float]:
        """Centre, width and the predicted displacement's length at ``t_s`` (constant velocity)."""
        dt = max(t_s - self.last_t_s, 0.0)
        dx, dy = self.vx * dt, self.vy * dt
        growth = math.exp(max(min(self.scale_rate * dt, 1.0), -1.0))
        return self.cx + dx, self.cy + dy, self.w * growth, math.hypot(dx, dy)

    def record(self, obs: Observation, *, moved: bool) -> None:
        """Count ``obs`` (and its read); ``moved`` is False for a duplicate detection of a matched plate."""
        self.observations += 1
        if obs.text:
            self.ballot.add(obs, obs.text)
        if obs.box[2] > self.largest.box[2]:
            self.largest = obs
        if moved:
            self.moves += 1
            self.path.append((self.last_t_s, self.cx, self.cy, self.w))
            point = (self.cx, self.cy, self.w)
            if len(self.first) < _ENDS:
                self.first.append(point)
            self.last.append(point)

    def move(self, obs: Observation, t_s: float, line: Line | None) -> None:
        x, y, w, h = obs.box
        cx, cy = x + w / 2, y + h / 2
        dt = t_s - self.last_t_s
        if self.observations and dt >= _MIN_STEP_S:
            alpha = 1.0 if self.observations == 1 else min(1.0, dt / _SMOOTHING_S)
            self.vx += alpha * ((cx - self.cx) / dt - self.vx)
            self.vy += alpha * ((cy - self.cy) / dt - self.vy)
            self.scale_rate += alpha * (math.log(w / self.w) / dt - self.scale_rate)
        if line is not None:
            side = _side(line, cx, cy)
            if self.observations and _segments_cross(line, (self.cx, self.cy), (cx, cy)):
                self.crossed = True
            if side:
                self.start_side = self.start_side or side
                self.end_side = side
        self.cx, self.cy, self.w, self.h = cx, cy, w, h
        self.last_t_s = max(self.last_t_s, t_s)

    def absorb(self, other: _Track) -> None:
        """Take over ``other``'s reads and extent: the two were one vehicle (``PlateTracker._end``)."""
        self.ballot.absorb(other.ballot)
        self.observations += other.observations
        self.moves += other.moves
        if other.largest.box[2] > self.largest.box[2]:
            self.largest = other.largest
        if other.first_t_s < self.first_t_s:
            self.first = (other.first + self.first)[:_ENDS]
            self.first_t_s = other.first_t_s
            self.start_side = other.start_side or self.start_side
        if other.last_t_s > self.last_t_s:  # only between two ended tracks: an open one is always newer
            self.last.extend(other.last)
            self.end_side = other.end_side or self.end_side
            self.last_t_s = other.last_t_s
        self.crossed = self.crossed or other.crossed
        self.path = deque(sorted([*self.path, *other.path]), maxlen=_PATH)

    def crossed_line(self) -> bool:
        return self.crossed and self.start_side != 0 and self.end_side == -self.start_side

    def direction(self) -> str:
        if self.crossed_line():
            return IN if self.start_side < 0 else OUT
        k = min(_ENDS, self.moves // 2)
        if k == 0:
            return UNKNOWN
        head, tail = self.first[:k], list(self.last)[-k:]
        y0, y1 = sum(p[1] for p in head) / k, sum(p[1] for p in tail) / k
        w0, w1 = sum(p[2] for p in head) / k, sum(p[2] for p in tail) / k
        down = (y1 - y0) / ((w0 + w1) / 2)
        if abs(down) >= _MIN_MOTION_WIDTHS:
            return APPROACHING if down > 0 else RECEDING
        growth = math.log(w1 / w0)
        if abs(growth) >= _MIN_GROWTH:
            return APPROACHING if growth > 0 else RECEDING
        return UNKNOWN


class PlateTracker:
    """Associates plate observations across frames and votes each track to one ``VehiclePass``.

    ``line``: optional counting line in pixels (see the module doc for ``in``/``out``).
    ``max_gap_s``: a track not seen for longer than this has ended (bridges occlusions up to it).
    ``min_reads``: reads a track needs before its pass carries a text (and before ``emit_on_cross``
    may emit it early); with fewer its pass is reported unread (``text`` None).
    ``max_distance_factor``: association gate, in plate widths from the predicted centre.
    ``emit_on_cross``: emit the pass as soon as the track crosses the line (lower latency for hotlist
    hits); reads arriving after that are absorbed without a second pass.
    ``min_observations``: a track with no read and fewer observations than this is dropped as noise.
    ``max_track_s``: a track open this long (a parked car) is emitted then, and stays open silently.
    ``repeat_window_s``: a track whose text equals a pass that ended less than this before the track
    started is the same vehicle again (after an occlusion longer than ``max_gap_s``) and is not emitted.
    """

    def __init__(
        self,
        *,
        line: Line | None = None,
        max_gap_s: float = 1.0,
        min_reads: int = 1,
        max_distance_factor: float = 2.5,
        emit_on_cross: bool = False,
        min_observations: int = 2,
        max_track_s: float = 30.0,
        repeat_window_s: float = 10.0,
    ) -> None:
        if line is not None and line[0] == line[1]:
            raise ValueError("the counting line needs two distinct points")
        if max_gap_s <= 0 or max_distance_factor <= 0 or max_track_s <= 0:
            raise ValueError("max_gap_s, max_distance_factor and max_track_s must be positive")
        if min_reads < 1 or min_observations < 1 or repeat_window_s < 0:
            raise ValueError("min_reads and min_observations must be >= 1, repeat_window_s >= 0")
        if emit_on_cross and line is None:
            raise ValueError("emit_on_cross needs a counting line")
        self._line = line
        self._max_gap_s = max_gap_s
        self._min_reads = min_reads
        self._factor = max_distance_factor
        self._emit_on_cross = emit_on_cross
        self._min_observations = min_observations
        self._max_track_s = max_track_s
        self._repeat_window_s = repeat_window_s
        self._tracks: list[_Track] = []
        self._next_id = 1
        self._now_s = -math.inf
        self._recent: dict[str, float] = {}  # text of an emitted pass -> last time its track was seen
        self._finished: list[_Track] = []  # ended lately: a weak track ending now may have split from one
        self._started = self._passes = self._noise = self._repeats = self._rejected = self._stitched = 0

    @property
    def counters(self) -> TrackerCounters:
        return TrackerCounters(
            tracks_started=self._started,
            passes=self._passes,
            noise_dropped=self._noise,
            repeats_merged=self._repeats,
            stitched=self._stitched,
            observations_rejected=self._rejected,
            open_tracks=len(self._tracks),
        )

    def update(self, t_s: float, observations: list[Observation]) -> list[VehiclePass]:
        """Feed one processed frame (monotonic seconds ``t_s``); return the passes that are now final.

        A ``t_s`` earlier than the previous frame's is treated as the same instant.
        """
        t_s = max(t_s, self._now_s)
        self._now_s = t_s
        passes = self._expire(t_s)
        valid = [obs for obs in observations if _valid(obs)]
        self._rejected += len(observations) - len(valid)
        self._associate(t_s, valid)
        for track in self._tracks:
            passes.extend(self._early(track, t_s))
        return passes

    def flush(self) -> list[VehiclePass]:
        """End every open track (shutdown); each not yet emitted yields its pass now, and never again."""
        ended, self._tracks = self._tracks, []
        return self._end(ended)

    def _expire(self, t_s: float) -> list[VehiclePass]:
        ended = [track for track in self._tracks if t_s - track.last_t_s > self._max_gap_s]
        if not ended:
            return []
        self._tracks = [track for track in self._tracks if t_s - track.last_t_s <= self._max_gap_s]
        # A pass can only be repeated by a track that starts within the window after it was last seen.
        cutoff = min((track.first_t_s for track in self._tracks), default=t_s) - self._repeat_window_s
        self._recent = {text: seen for text, seen in self._recent.items() if seen >= cutoff}
        return self._end(ended)

    def _end(self, ended: list[_Track]) -> list[VehiclePass]:
        """Stitch each of ``ended`` that was split from another track (``_stitch_target``: weak, or alike
        it) onto that track (open, ending now or ended lately), then vote the rest."""
        starts = [track.first_t_s for track in [*self._tracks, *ended]]
        horizon = min(starts, default=self._now_s) - max(_STITCH_GAP_S, _STITCH_TEXT_GAP_S)
        self._finished = [track for track in self._finished if track.last_t_s >= horizon]
        strength: dict[int, float] = {}  # track id -> vote confidence, computed once per call

        def strength_of(track: _Track) -> float:
            if track.id not in strength:
                strength[track.id] = self._strength(track)
            return strength[track.id]

        ended.sort(key=lambda track: (strength_of(track), track.id))
        finishing: list[_Track] = []
        for i, track in enumerate(ended):
            others = [*self._tracks, *ended[i + 1 :], *self._finished]
            target = self._stitch_target(track, strength_of, others)
            if target is None:
                finishing.append(track)
            else:
                target.absorb(track)
                strength.pop(target.id, None)  # its vote may have changed
                self._stitched += 1
                log.debug("track %d stitched onto track %d", track.id, target.id)
        finishing.sort(key=lambda track: track.first_t_s)
        self._finished.extend(finishing)
        return [p for track in finishing if (p := self._finish(track)) is not None]

    def _strength(self, track: _Track) -> float:
        if track.ballot.reads < self._min_reads:
            return 0.0
        return track.ballot.verdict().confidence

    def _stitch_target(
        self, track: _Track, strength_of: Callable[[_Track], float], others: list[_Track]
    ) -> _Track | None:
        """The track ``track`` was split from, if any: one of ``others`` seen at the same place at about
        the same time (``_STITCH_WIDTHS``; ``_STITCH_GAP_S``, or ``_STITCH_TEXT_GAP_S`` when their reads
        are alike) that is stronger, when ``track`` is weak, or that read a text like one of its heaviest
        (``_resembles``: an edit apart, or one a part of the other) while none of its own reads is
        established (read twice, confidently), or whose established reads are all shorter parts of the
        other's reads (``_fragment``). Two confident, different reads stay two vehicles."""
        if track.emitted or not track.path:
            return None
        strength = strength_of(track)
        weak = strength < _WEAK_PASS
        established = [] if weak else track.ballot.established(2, _IDENTITY_CONFIDENCE)
        texts = track.ballot.heaviest()
        best: tuple[float, _Track] | None = None
        for other in others:
            if established:
                # Read confidently and repeatedly: a vehicle of its own, unless all it read so is a part of
                # what the other read, shorter (a box that cut the first glyphs off, read that way in
                # frame after frame: `CK094` of `2JCK094`).
                if not all(_fragment(t, other.ballot.heaviest()) for t in established):
                    continue
                alike = True
            else:
                alike = any(_resembles(t, o) for t in texts for o in other.ballot.heaviest())
            if not alike and not (weak and strength_of(other) > strength):
                continue
            distance = _closeness(track, other, _STITCH_TEXT_GAP_S if alike else _STITCH_GAP_S)
            if distance is not None and distance <= _STITCH_WIDTHS and (best is None or distance < best[0]):
                best = (distance, other)
        return None if best is None else best[1]

    def _associate(self, t_s: float, observations: list[Observation]) -> None:
        candidates: list[tuple[float, int, int]] = []
        for ti, track in enumerate(self._tracks):
            prediction = track.predict(t_s)
            for oi, obs in enumerate(observations):
                cost = self._cost(track, prediction, obs)
                if cost is not None:
                    candidates.append((cost, ti, oi))
        candidates.sort()
        track_of: dict[int, _Track] = {}
        used: set[int] = set()
        for _, ti, oi in candidates:
            if ti in used or oi in track_of:
                continue
            used.add(ti)
            track_of[oi] = self._tracks[ti]
        for oi, track in track_of.items():
            obs = observations[oi]
            track.move(obs, t_s, self._line)
            track.record(obs, moved=True)
        for oi, obs in enumerate(observations):
            if oi in track_of:
                continue
            owner = self._duplicate_of(obs, observations, track_of)
            if owner is not None:
                owner.record(obs, moved=False)
                continue
            track = _Track(self._next_id, obs, t_s)
            self._next_id += 1
            self._started += 1
            track.move(obs, t_s, self._line)
            track.record(obs, moved=True)
            self._tracks.append(track)
            track_of[oi] = track

    def _cost(
        self, track: _Track, prediction: tuple[float, float, float, float], obs: Observation
    ) -> float | None:
        px, py, pw, displacement = prediction
        x, y, w, h = obs.box
        scale = max(pw, w)
        gate = self._factor * scale + _MOTION_GATE * displacement
        if track.observations == 1:
            gate *= _INITIAL_GATE_GAIN
        distance = track.ballot.nearest(obs.text) if obs.text and track.ballot.texts else None
        if distance is not None and distance <= 1:
            gate *= _TEXT_GATE_GAIN
        if obs.text and obs.confidence >= _IDENTITY_CONFIDENCE:
            # Against what the track has read confidently and repeatedly, not its heaviest texts: those may
            # hold another plate's unsure reads, taken in while it was far and small (a coasting track's
            # wide gate at the far end of the road, where the lanes meet).
            established = track.ballot.established(2, _IDENTITY_CONFIDENCE)
            if (
                established
                and all(_unlike(obs.text, known) for known in established)
                and not _in_step(track, prediction, obs, established)
            ):
                return None
        if track.moves >= 2:
            step_x, step_y = x + w / 2 - track.cx, y + h / 2 - track.cy
            backwards = step_x * track.vx + step_y * track.vy < 0
            if backwards and math.hypot(step_x, step_y) > _REVERSAL_WIDTHS * max(track.w, w):
                return None
        offset = math.hypot(x + w / 2 - px, y + h / 2 - py)
        # Detector boxes of one plate jitter in width from frame to frame; a growth extrapolated from two
        # of them can be far off, so the last width seen counts too.
        size = min(abs(math.log(w / pw)), abs(math.log(w / track.w)))
        if offset > gate or size > math.log(_MAX_SIZE_RATIO):
            return None
        text_term = 0.0
        if distance is not None:
            text_term = _TEXT_BONUS.get(distance, _TEXT_PENALTY if distance >= 3 else 0.0)
        return offset / scale + size + text_term

    @staticmethod
    def _duplicate_of(
        obs: Observation, observations: list[Observation], track_of: dict[int, _Track]
    ) -> _Track | None:
        x, y, w, h = obs.box
        for oi, track in track_of.items():
            ox, oy, ow, oh = observations[oi].box
            near = math.hypot(x + w / 2 - ox - ow / 2, y + h / 2 - oy - oh / 2) <= _DUPLICATE_FACTOR * max(
                w, ow
            )
            if near and abs(math.log(w / ow)) <= math.log(1.5):
                return track
            # A part of the plate read on its own (a blob that holds the last three glyphs) lies inside the
            # whole plate's box, whatever its size: its centre is inside the other box.
            if ox <= x + w / 2 <= ox + ow and oy <= y + h / 2 <= oy + oh and w < ow:
                return track
        return None

    def _early(self, track: _Track, t_s: float) -> list[VehiclePass]:
        """A pass emitted before its track ends: on crossing the line, or when the track is very old."""
        if track.emitted:
            return []
        crossing = self._emit_on_cross and track.crossed_line() and track.ballot.reads >= self._min_reads
        if crossing or t_s - track.first_t_s >= self._max_track_s:
            vehicle_pass = self._finish(track)
            return [] if vehicle_pass is None else [vehicle_pass]
        return []

    def _finish(self, track: _Track) -> VehiclePass | None:
        """The track's pass, or None when it is noise, a repeat, or already emitted. Marks it emitted."""
        if track.emitted:
            if track.emitted_text is not None:  # anchor the repeat window to when it was last seen
                last_seen = self._recent.get(track.emitted_text, track.last_t_s)
                self._recent[track.emitted_text] = max(last_seen, track.last_t_s)
            return None
        track.emitted = True
        if track.ballot.reads == 0 and track.observations < self._min_observations:
            self._noise += 1
            return None
        verdict = (
            track.ballot.verdict()
            if track.ballot.reads >= self._min_reads
            else Verdict(None, 0.0, None, None)
        )
        track.emitted_text = verdict.text
        if verdict.text is not None:
            previous = self._recent.get(verdict.text)
            self._recent[verdict.text] = track.last_t_s if previous is None else max(previous, track.last_t_s)
            if previous is not None and track.first_t_s - previous <= self._repeat_window_s:
                self._repeats += 1
                log.debug("track %d repeats a recent pass; merged", track.id)
                return None
        self._passes += 1
        return VehiclePass(
            track_id=track.id,
            text=verdict.text,
            confidence=round(min(max(verdict.confidence, 0.0), 1.0), 4),
            country=verdict.country,
            direction=track.direction(),
            crossed_line=track.crossed_line(),
            first_t_s=track.first_t_s,
            last_t_s=track.last_t_s,
            observations=track.observations,
            reads=track.ballot.reads,
            votes={text: round(tally.weight, 4) for text, tally in track.ballot.texts.items()},
            best=verdict.best or track.largest,
        )


def _in_step(
    track: _Track, prediction: tuple[float, float, float, float], obs: Observation, established: list[str]
) -> bool:
    """Whether ``obs`` is where and as wide as ``track``, seen a moment ago, was predicted to be, and its
    read half like one of ``established`` (``_IN_STEP_S``)."""
    px, py, pw, _ = prediction
    x, y, w, h = obs.box
    return (
        obs.t_s - track.last_t_s <= _IN_STEP_S
        and math.hypot(x + w / 2 - px, y + h / 2 - py) <= _IN_STEP_WIDTHS * max(pw, w)
        and abs(math.log(w / pw)) <= _IN_STEP_SIZE
        and obs.text is not None
        and any(_half_like(obs.text, known) for known in established)
    )


def _half_like(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` differ in at most half the glyphs of the longer."""
    longest = max(len(a), len(b))
    return 2 * edit_distance(a, b, cap=longest + 1) <= longest


def _unlike(a: str, b: str) -> bool:
    """Whether two reads are of two plates: three or more edits apart, and neither a part of the other."""
    return edit_distance(a, b) >= 3 and not is_part(a, b)


def _fragment(text: str, others: list[str]) -> bool:
    """Whether ``text`` is a part (``is_part``) of one of ``others`` that is longer than it."""
    return any(len(text) < len(other) and is_part(text, other) for other in others)


def _resembles(a: str, b: str) -> bool:
    """Whether two reads may be of one plate: an edit apart, or one a part of the other (``is_part``: a
    read that lost glyphs at an edge, or took one in from the plate's surround)."""
    return edit_distance(a, b, cap=2) <= 1 or is_part(a, b)


def _closeness(a: _Track, b: _Track, gap_s: float) -> float | None:
    """Smallest distance, in plate widths, between positions of the two tracks seen within ``gap_s`` of
    each other; None when they never were that close in time."""
    best: float | None = None
    for ta, xa, ya, wa in a.path:
        for tb, xb, yb, wb in b.path:
            if abs(ta - tb) <= gap_s:
                distance = math.hypot(xa - xb, ya - yb) / max(wa, wb)
                if best is None or distance < best:
                    best = distance
    return best


def _valid(obs: Observation) -> bool:
    x, y, w, h = obs.box
    return all(math.isfinite(v) for v in (x, y, w, h, obs.t_s)) and w > 0 and h > 0
