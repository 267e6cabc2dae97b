"""Camera displacement and tampering: compare the current view with the reference view.

One ``check`` looks at a small grayscale copy of the unmasked parts of a frame and answers with a
``ViewCheck``: either the transform from the reference to the current view (small drift, which the masks
follow), or the cause that makes the view unusable. In the order tested:

``covered``        gray levels hardly vary (a hand, a cap, paint);
``dark``           mean gray below ``dark_luma``, or below ``dark_drop_share`` of the previous good check
                   (nightfall takes minutes; this takes one check interval);
``scene_changed``  the view cannot be matched to the reference (or ``defocused``, when sharpness also fell);
``displaced`` / ``rotated`` / ``zoomed``  matched, but beyond the limits masks may follow;
``defocused``      matched, but the focus score fell below ``defocus_share`` (see ``sharpness``).

Day and night look too different to match directly. The detector therefore keeps *anchors*: views it
verified itself, one per lighting level, each with its transform to the reference. A check matches the
anchors nearest in brightness first, and the chain of verified transforms still measures the drift
against the reference, so a slow push of the camera adds up and is caught. Anchors are stored with the
reference (masked areas zeroed) so that a restart at night still has a night view to match.
"""

from __future__ import annotations

import enum
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edge.config import TamperConfig
from edge.privacy.alignment import Aligner, Features, Match, luma_stats
from edge.privacy.geometry import ViewTransform
from edge.privacy.masks import MaskSet
from edge.privacy.reference import ANCHORS_FILE, Gray, ReferenceView, valid_area, write_npz
from edge.privacy.sharpness import Tiles, sharpness_ratio, sharpness_tiles

log = logging.getLogger(__name__)

_STRONG = 3
"""A match with ``_STRONG * min_inliers`` inliers is strong: no other anchor is tried, nothing is learnt.
Below it, while still verified, the current view is learnt as a new anchor - before the light changes
so far that no stored view matches any more."""
_LUMA_STEP = 1.1
"""Anchors are at least this brightness ratio apart; within it a weak anchor is only refreshed."""
_MAX_ANCHORS = 16
"""Besides the reference. Learning happens only on weak matches, so the bank fills slowly."""
_TRIES = 3
"""Anchors tried per check at most, nearest in brightness first."""
_REFRESH_AFTER_CHECKS = 1000
"""An anchor is replaced by a fresher view at the same light at most this often: each new anchor adds
one estimation error to the chain, so refreshing every check would let the chain wander."""


class TamperCause(enum.StrEnum):
    DISPLACED = "displaced"
    ROTATED = "rotated"
    ZOOMED = "zoomed"
    COVERED = "covered"
    DARK = "dark"
    DEFOCUSED = "defocused"
    SCENE_CHANGED = "scene_changed"
    VIEW_SIZE_CHANGED = "view_size_changed"
    REFERENCE_INVALID = "reference_invalid"


@dataclass(frozen=True, slots=True)
class ViewCheck:
    cause: TamperCause | None
    """``None`` when the view is verified."""
    transform: ViewTransform
    """Reference -> current view; identity when it could not be measured."""
    measured: dict[str, float] = field(hash=False)

    @property
    def ok(self) -> bool:
        return self.cause is None


@dataclass(frozen=True, slots=True, eq=False)  # identity: anchors hold arrays, and are removed by identity
class Anchor:
    """A verified view: analysis-size gray (zero where masked) and its transform from the reference."""

    gray: Gray
    valid: Gray
    features: Features
    transform: ViewTransform
    luma: float
    sharpness: Tiles
    learnt_at_check: int
    is_reference: bool = False


class TamperDetector:
    """Checks views against one reference. Called from the capture thread only; not thread-safe."""

    def __init__(
        self, config: TamperConfig, reference: ReferenceView, aligner: Aligner, *, just_taken: bool = False
    ) -> None:
        """``just_taken``: the reference shows the view as it is now, so its brightness is the baseline of
        the sudden-darkness test. A reference loaded at start may be from another time of day."""
        self._config = config
        self._aligner = aligner
        self._reference = reference
        self._anchors: list[Anchor] = [
            self._anchor(reference.gray, reference.valid, ViewTransform(), 0, True)
        ]
        self._last_luma: float | None = self._anchors[0].luma if just_taken else None
        self._checks = 0
        self.version = 0
        """Bumped whenever the anchors change, so the owner knows when to store them."""

    @property
    def reference(self) -> ReferenceView:
        return self._reference

    @property
    def anchors(self) -> int:
        return len(self._anchors) - 1

    def check(self, gray: Gray, valid: Gray) -> ViewCheck:  # noqa: PLR0911 - one return per cause
        self._checks += 1
        if gray.shape != self._reference.gray.shape:
            return ViewCheck(TamperCause.VIEW_SIZE_CHANGED, ViewTransform(), {})
        cfg = self._config
        luma, std = luma_stats(gray, valid)
        sharp = sharpness_tiles(gray, valid)
        measured = {"luma": luma, "luma_std": std}
        if std < cfg.cover_std:
            return ViewCheck(TamperCause.COVERED, ViewTransform(), measured)
        if self._last_luma is not None:
            measured["luma_before"] = self._last_luma
        if luma < max(cfg.dark_luma, cfg.dark_drop_share * (self._last_luma or 0.0)):
            return ViewCheck(TamperCause.DARK, ViewTransform(), measured)

        current = self._aligner.features(gray, valid)
        measured["features"] = float(len(current))
        by_light = sorted(self._anchors, key=lambda a: _light_distance(luma, a))
        hit: tuple[Anchor, Match] | None = None
        for anchor in by_light[:_TRIES]:
            match = self._aligner.match(anchor.features, current)
            if match is None or match.inliers < cfg.min_inliers:
                continue
            if hit is None or match.inliers > hit[1].inliers:
                hit = (anchor, match)
            if match.inliers >= _STRONG * cfg.min_inliers:
                break
        if hit is None:
            measured["sharpness_ratio"] = sharpness_ratio(sharp, by_light[0].sharpness)
            cause = (
                TamperCause.DEFOCUSED
                if measured["sharpness_ratio"] < cfg.defocus_share
                else TamperCause.SCENE_CHANGED
            )
            return ViewCheck(cause, ViewTransform(), measured)

        anchor, match = hit
        width = gray.shape[1]
        transform = anchor.transform.then(ViewTransform.from_pixel_matrix(match.matrix, width))
        motion = transform.motion(gray.shape[0] / width)
        measured |= {
            "shift_share": motion.shift_share,
            "shift_x_share": motion.shift_x_share,
            "shift_y_share": motion.shift_y_share,
            "rotation_deg": motion.rotation_deg,
            "scale": motion.scale,
            "inliers": float(match.inliers),
            "sharpness_ratio": sharpness_ratio(sharp, anchor.sharpness),
        }
        excess = {
            TamperCause.DISPLACED: motion.shift_share / cfg.max_shift_share,
            TamperCause.ROTATED: abs(motion.rotation_deg) / cfg.max_rotation_deg,
            TamperCause.ZOOMED: abs(motion.scale - 1.0) / cfg.max_scale_change,
        }
        worst = max(excess, key=lambda cause: excess[cause])
        if excess[worst] > 1.0:
            return ViewCheck(worst, transform, measured)
        if measured["sharpness_ratio"] < cfg.defocus_share:
            return ViewCheck(TamperCause.DEFOCUSED, transform, measured)
        self._last_luma = luma
        self._learn(gray, valid, transform, luma, anchor, match)
        return ViewCheck(None, transform, measured)

    def _learn(
        self, gray: Gray, valid: Gray, transform: ViewTransform, luma: float, matched: Anchor, match: Match
    ) -> None:
        if match.inliers >= _STRONG * self._config.min_inliers:
            return  # the stored views still match well
        near = [a for a in self._anchors if _light_distance(luma, a) < math.log(_LUMA_STEP)]
        if near:
            # A view at this light exists but matches poorly now (parked cars, season): refresh, rarely.
            stale = [
                a
                for a in near
                if not a.is_reference and self._checks - a.learnt_at_check >= _REFRESH_AFTER_CHECKS
            ]
            if not stale:
                return
            self._anchors.remove(stale[0])
        elif self.anchors >= _MAX_ANCHORS:
            # Full: the learnt anchor closest in brightness to the new view is the least informative one.
            self._anchors.remove(min(self._anchors[1:], key=lambda a: _light_distance(luma, a)))
        self._anchors.append(self._anchor(gray, valid, transform, self._checks, False))
        self.version += 1
        log.info("tamper check learnt the view at luma %.0f (%d anchors)", luma, self.anchors)

    def _anchor(
        self, gray: Gray, valid: Gray, transform: ViewTransform, at_check: int, is_reference: bool
    ) -> Anchor:
        blanked = np.where(valid > 0, gray, 0).astype(np.uint8)  # nothing masked is ever kept
        blanked.flags.writeable = False
        valid = valid.copy()
        valid.flags.writeable = False
        luma, _ = luma_stats(blanked, valid)
        return Anchor(
            gray=blanked,
            valid=valid,
            features=self._aligner.features(blanked, valid),
            transform=transform,
            luma=luma,
            sharpness=sharpness_tiles(blanked, valid),
            learnt_at_check=at_check,
            is_reference=is_reference,
        )

    # ---------------------------------------------------------------------------------- persistence

    def reference_features(self) -> int:
        return len(self._anchors[0].features)

    def forget(self, masks: MaskSet) -> None:
        """Zero what ``masks`` cover in every stored view (a changed reference gets a new id)."""
        height, width = self._reference.gray.shape
        changed = False
        anchors: list[Anchor] = []
        for a in self._anchors:
            kept = valid_area(masks.coverage(width, height, None if a.is_reference else a.transform))
            valid = np.minimum(a.valid, kept)
            if np.array_equal(valid, a.valid):
                anchors.append(a)
                continue
            changed = True
            anchors.append(self._anchor(a.gray, valid, a.transform, a.learnt_at_check, a.is_reference))
            if a.is_reference:
                self._reference = self._reference.without(np.where(valid > 0, 0, 255).astype(np.uint8))
        self._anchors = anchors
        if changed:
            self.version += 1

    def save_anchors(self, directory: Path) -> None:
        learnt = self._anchors[1:]
        shape = self._reference.gray.shape
        write_npz(
            directory / ANCHORS_FILE,
            reference_id=np.array(self._reference.id),
            gray=np.array([a.gray for a in learnt], np.uint8).reshape(-1, *shape),
            valid=np.array([a.valid for a in learnt], np.uint8).reshape(-1, *shape),
            transform=np.array([a.transform.as_tuple() for a in learnt], np.float64).reshape(-1, 6),
        )

    def load_anchors(self, directory: Path) -> None:
        """Add the anchors stored for this reference; anything else in the file is ignored."""
        path = directory / ANCHORS_FILE
        if not path.exists():
            return
        try:
            with np.load(path, allow_pickle=False) as data:
                if str(data["reference_id"]) != self._reference.id:
                    log.info("stored tamper anchors belong to another reference; starting afresh")
                    return
                grays, valids, transforms = data["gray"], data["valid"], data["transform"]
            if grays.shape[1:] != self._reference.gray.shape or grays.dtype != np.uint8:
                raise ValueError(f"unexpected layout {grays.shape}")
            for gray, valid, t in zip(grays, valids, transforms, strict=True):
                values = [float(v) for v in t]
                transform = ViewTransform(values[0], values[1], values[2], values[3], values[4], values[5])
                self._anchors.append(self._anchor(gray, valid, transform, 0, False))
        except (OSError, ValueError, KeyError) as exc:
            # Anchors only speed up matching at other light levels; the reference alone is still sound.
            log.warning("cannot use stored tamper anchors %s: %s", path, exc)
            self._anchors = self._anchors[:1]
            return
        del self._anchors[1 + _MAX_ANCHORS :]
        log.info("loaded %d tamper anchors", self.anchors)


def _light_distance(luma: float, anchor: Anchor) -> float:
    return abs(math.log((luma + 1.0) / (anchor.luma + 1.0)))
