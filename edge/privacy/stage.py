"""``PrivacyStage``: turns raw ``Frame`` objects into ``MaskedFrame`` objects, or into nothing.

Contract:
- it holds the privacy seal, so it is the only code that can create a ``MaskedFrame``;
- it masks in place and then makes the array read-only; sources hand over ownership of each frame's array;
- on any doubt it fails closed. Masks required but none configured, or an error while masking: it returns
  ``None``. A view that no longer matches the reference (see ``tamper``), or no reference while one is
  required: every pixel of the frame is painted with the fill colour (``blanked=True``), so recording and
  the live view go on, showing nothing. The reason is kept in ``state()`` for health.
- masking switched off (``privacy.required: false``) is honoured only with a written reason, which is
  logged at start and reported in every health message.

Threads and locks: ``process`` runs on the capture thread. ``set_masks``, ``capture_reference`` and
``approve_view`` come from command threads; ``state`` and ``applied_masks`` from health and ANPR.
``_frame_lock`` is held for the whole of ``process`` and for every swap of the mask set, so a frame is
masked with one mask set from start to end, and once ``set_masks`` returns no later frame carries the old
mask id. ``_lock`` guards only what ``state`` reads, so health never waits for a frame. Events are
delivered after both locks are released.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import cv2

from edge.clock import Clock, SystemClock
from edge.config import PrivacyConfig
from edge.privacy.alignment import Aligner
from edge.privacy.events import EventKind, EventSink, PrivacyEvent, emit
from edge.privacy.geometry import ViewTransform
from edge.privacy.masks import NO_MASKS_ID, AppliedMasks, MaskSet, validate_mask_set
from edge.privacy.reference import (
    ANCHORS_FILE,
    ReferenceView,
    StoredReferenceError,
    analysis_gray,
    load_reference,
    save_reference,
    valid_area,
)
from edge.privacy.state import PrivacyMode, PrivacyState, TamperStatus
from edge.privacy.tamper import TamperCause, TamperDetector, ViewCheck
from edge.types import Frame, MaskedFrame, issue_privacy_seal

log = logging.getLogger(__name__)

__all__ = ["PrivacyMode", "PrivacyStage", "PrivacyState", "TamperStatus"]

_SEAL = issue_privacy_seal()

_DEADBAND_SHARE = 0.001
"""Estimated drift that moves no frame corner by more than this share of the width is treated as none:
below it the estimate is noise, and following noise would only make the masks jitter."""
_ANCHOR_SAVE_INTERVAL_NS = 60_000_000_000
"""Learnt anchors are written at most once a minute: they only matter after a restart."""


@dataclass(frozen=True, slots=True)
class _Request:
    actor: str
    approve: bool


@dataclass(frozen=True, slots=True)
class _View:
    """What ``state`` reports about masks and tamper checks; replaced as a whole under ``_lock``."""

    masks: MaskSet
    warp: ViewTransform | None
    tamper: TamperStatus
    cause: str
    check: ViewCheck | None
    warning: str


class PrivacyStage:
    """Applies the current mask set to each frame. ``process`` is called from the capture thread only."""

    def __init__(
        self,
        config: PrivacyConfig,
        *,
        state_dir: Path | None = None,
        on_event: EventSink | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._frame_lock = threading.Lock()
        self._lock = threading.Lock()
        self._required = config.required
        self._off_reason = config.off_reason.strip()
        self._tamper_cfg = config.tamper
        self._dir = state_dir / "privacy" if state_dir is not None else None
        self._on_event = on_event
        self._clock = clock or SystemClock()
        self._aligner = Aligner()
        self._detector: TamperDetector | None = None
        self._request: _Request | None = None
        self._strikes = 0
        self._since_check = self._tamper_cfg.check_every_frames  # the first frame is checked
        self._anchors_saved = (0, -_ANCHOR_SAVE_INTERVAL_NS)  # (detector version, monotonic ns)
        self._masked = 0
        self._blocked = 0
        self._blanked = 0
        self._error = ""
        checks = self._required and self._tamper_cfg.enabled
        self._view = _View(
            masks=MaskSet.from_config(config),
            warp=None,
            tamper=TamperStatus.NO_REFERENCE if checks else TamperStatus.DISABLED,
            cause="",
            check=None,
            warning="",
        )
        events: list[PrivacyEvent] = []
        if not self._required:
            log.warning("privacy masking is switched off for this camera: %s", self._off_reason)
        elif self._view.masks.empty:
            log.error("privacy masks are required but none are configured: no frame will leave the node")
            events.append(self._event("alarm", "no_masks", {"masks": 0.0}))
        if self._required:
            self._load_reference(events)
        emit(self._on_event, events)

    # ----------------------------------------------------------------------------------- capture thread

    def process(self, frame: Frame) -> MaskedFrame | None:
        """Mask ``frame`` and return it sealed (blanked when the view is in doubt), or return ``None``."""
        events: list[PrivacyEvent] = []
        with self._frame_lock:
            out = self._process(frame, events)
        emit(self._on_event, events)
        return out

    def _process(self, frame: Frame, events: list[PrivacyEvent]) -> MaskedFrame | None:
        view = self._view
        if self._required and view.masks.empty:
            self._count(blocked=True)
            return None
        try:
            pixels = frame.pixels
            if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.dtype.name != "uint8":
                raise ValueError(f"unexpected frame layout {pixels.shape} {pixels.dtype}")
            if self._required:
                self._watch_view(frame, events)
                view = self._view
            blank = self._required and self._must_blank(view)
            if blank:
                # cv2 paints a colour over 1080p in 0.3 ms; numpy broadcasting a colour takes 25 ms.
                cv2.rectangle(pixels, (0, 0), (frame.width, frame.height), view.masks.fill_bgr, cv2.FILLED)
            elif self._required:
                view.masks.burn(pixels, view.warp)
            pixels.flags.writeable = False
            masked = MaskedFrame(
                pixels=pixels,
                index=frame.index,
                capture_ts_ns=frame.capture_ts_ns,
                monotonic_ns=frame.monotonic_ns,
                source=frame.source,
                mask_id=view.masks.mask_id if self._required else NO_MASKS_ID,
                seal=_SEAL,
                blanked=blank,
                truth=frame.truth,
            )
        except Exception as exc:
            log.exception("privacy stage failed; blocking frame %d", frame.index)
            if not self._error:
                events.append(self._event("alarm", "masking_failed", {}, detail=f"{type(exc).__name__}"))
            self._count(blocked=True, error=f"{type(exc).__name__}: {exc}")
            return None
        self._count(blocked=False, blanked=blank)
        return masked

    def _must_blank(self, view: _View) -> bool:
        if view.tamper in (TamperStatus.SUSPECT, TamperStatus.TAMPERED):
            return True
        return view.tamper is TamperStatus.NO_REFERENCE and self._tamper_cfg.require_reference

    def _watch_view(self, frame: Frame, events: list[PrivacyEvent]) -> None:
        """Take a requested reference, or run the periodic check. Works on the raw, unmasked pixels."""
        with self._lock:
            request, self._request = self._request, None
        if request is not None:
            self._take_reference(frame, request, events)
            return
        if self._detector is None or not self._tamper_cfg.enabled:
            return
        self._since_check += 1
        if self._since_check < self._tamper_cfg.check_every_frames:
            return
        # The counter restarts only after a check completed: a check that raises is retried on the next
        # frame, so a broken check blocks every frame instead of letting unverified frames through.
        self._check(frame, self._detector, events)
        self._since_check = 0

    def _check(self, frame: Frame, detector: TamperDetector, events: list[PrivacyEvent]) -> None:
        view = self._view
        gray = analysis_gray(frame.pixels, self._tamper_cfg.analysis_width_px)
        valid = valid_area(view.masks.coverage(gray.shape[1], gray.shape[0], view.warp))
        result = detector.check(gray, valid)
        tamper, cause, warp = view.tamper, view.cause, view.warp
        if result.ok:
            self._strikes = 0
            if tamper is TamperStatus.SUSPECT:
                log.info("view verified again after a failed check (%s)", cause)
            if tamper is not TamperStatus.TAMPERED:
                tamper, cause = TamperStatus.OK, ""
                warp = self._compensation(result.transform, gray.shape[0] / gray.shape[1])
            self._save_anchors(detector)
        elif tamper is not TamperStatus.TAMPERED:
            self._strikes += 1
            cause = str(result.cause)
            if self._strikes >= self._tamper_cfg.confirm_checks:
                tamper = TamperStatus.TAMPERED
                log.error(
                    "camera tamper: %s %s; blanking every frame until the view is approved",
                    cause,
                    _brief(result),
                )
                events.append(self._event("tamper", cause, result.measured))
            else:
                tamper = TamperStatus.SUSPECT
                log.warning(
                    "view check failed (%s %s); blanking frames while it is rechecked", cause, _brief(result)
                )
        self._set_view(dataclasses.replace(view, warp=warp, tamper=tamper, cause=cause, check=result))

    @staticmethod
    def _compensation(transform: ViewTransform, aspect: float) -> ViewTransform | None:
        if transform.max_displacement_share(aspect) < _DEADBAND_SHARE:
            return None
        return transform

    def _take_reference(self, frame: Frame, request: _Request, events: list[PrivacyEvent]) -> None:
        view = self._view
        gray = analysis_gray(frame.pixels, self._tamper_cfg.analysis_width_px)
        # Approving a view means the masks, as configured, sit where they should: no compensation.
        valid = valid_area(view.masks.coverage(gray.shape[1], gray.shape[0]))
        reference = ReferenceView.create(
            gray, valid, frame.width, frame.height, frame.capture_ts_ns, request.actor
        )
        detector = TamperDetector(self._tamper_cfg, reference, self._aligner, just_taken=True)
        needed = 2 * self._tamper_cfg.min_inliers
        if detector.reference_features() < needed:
            found = detector.reference_features()
            log.error("reference view from %s rejected: %d features, %d needed", request.actor, found, needed)
            events.append(
                self._event("alarm", "reference_rejected", {"features": float(found)}, actor=request.actor)
            )
            self._set_view(
                dataclasses.replace(
                    view,
                    warning=f"reference view rejected: {found} features, {needed} needed (covered or dark?)",
                )
            )
            return
        warning = ""
        if self._dir is not None:
            try:
                save_reference(self._dir, reference)
                (self._dir / ANCHORS_FILE).unlink(missing_ok=True)
            except OSError as exc:
                log.exception("cannot store the reference view in %s", self._dir)
                warning = f"reference view not stored ({exc.strerror}); it is lost on restart"
                events.append(self._event("alarm", "reference_not_stored", {}, actor=request.actor))
        self._detector = detector
        self._strikes = 0
        self._since_check = 0
        self._anchors_saved = (detector.version, self._clock.monotonic_ns())
        tamper, cause = view.tamper, view.cause
        if request.approve or tamper is not TamperStatus.TAMPERED:
            if tamper in (TamperStatus.SUSPECT, TamperStatus.TAMPERED):
                events.append(self._event("tamper_cleared", "view_approved", {}, actor=request.actor))
            tamper = TamperStatus.OK if self._tamper_cfg.enabled else TamperStatus.DISABLED
            cause = ""
        masks = dataclasses.replace(view.masks, reference_id=reference.id)
        self._set_view(_View(masks=masks, warp=None, tamper=tamper, cause=cause, check=None, warning=warning))
        log.info(
            "reference view %s captured (approved by %s); mask id %s",
            reference.id,
            request.actor,
            masks.mask_id,
        )
        events.append(
            self._event(
                "masks_changed",
                "view_approved" if request.approve else "reference_captured",
                {"masks": float(len(masks.polygons))},
                actor=request.actor,
            )
        )

    def _save_anchors(self, detector: TamperDetector) -> None:
        version, saved_ns = self._anchors_saved
        now_ns = self._clock.monotonic_ns()
        if self._dir is None or detector.version == version or now_ns - saved_ns < _ANCHOR_SAVE_INTERVAL_NS:
            return
        self._anchors_saved = (detector.version, now_ns)
        try:
            detector.save_anchors(self._dir)
        except OSError:
            log.exception("cannot store tamper anchors in %s", self._dir)

    # --------------------------------------------------------------------------------- command threads

    def set_masks(self, masks: MaskSet, *, actor: str) -> str:
        """Replace the mask set between two frames; returns the new mask id.

        An invalid set raises ``MaskSetError`` and the current one stays. A valid empty set while masks are
        required is accepted and makes the stage fail closed (no frame leaves) until masks are set again.
        """
        try:
            validate_mask_set(masks)
        except ValueError:
            log.warning("mask set from %s refused", actor)
            raise
        events: list[PrivacyEvent] = []
        with self._frame_lock:
            view = self._view
            new = dataclasses.replace(masks, reference_id="")
            detector = self._detector
            if detector is not None:
                detector.forget(new)  # newly masked areas leave the stored views too
                self._store(detector)
                new = dataclasses.replace(new, reference_id=detector.reference.id)
            self._set_view(dataclasses.replace(view, masks=new))
        log.warning(
            "mask set changed by %s: %s -> %s (%d masks, %s)",
            actor,
            view.masks.mask_id,
            new.mask_id,
            len(new.polygons),
            new.mode,
        )
        measured = {"masks": float(len(new.polygons)), "previous_masks": float(len(view.masks.polygons))}
        events.append(self._event("masks_changed", "set_masks", measured, actor=actor, mask_id=new.mask_id))
        if not self._required:
            log.warning("masking is switched off for this camera: the new mask set is kept but not applied")
        elif new.empty:
            log.error("mask set from %s has no masks: no frame will leave the node", actor)
            events.append(self._event("alarm", "no_masks", {"masks": 0.0}, actor=actor, mask_id=new.mask_id))
        emit(self._on_event, events)
        return new.mask_id if self._required else NO_MASKS_ID

    def capture_reference(self, *, actor: str) -> None:
        """Take the next frame's unmasked parts as the reference view (a latched tamper stays latched)."""
        with self._lock:
            self._request = _Request(actor, approve=False)
        log.info("reference view requested by %s", actor)

    def approve_view(self, *, actor: str) -> None:
        """A technician approves the view as it is now: retake the reference and clear any tamper.

        Takes effect on the next frame. The technician first checks, in the masked live view, that the
        masks sit where they should; approving a view whose masks are off would make that view the truth.
        """
        with self._lock:
            self._request = _Request(actor, approve=True)
        log.warning("view approval requested by %s", actor)

    # ---------------------------------------------------------------------------------- any thread

    def applied_masks(self) -> AppliedMasks:
        """The masks being burned in now, with the drift compensation (for ANPR's overlap rule)."""
        with self._lock:
            view = self._view
        return AppliedMasks(view.masks, view.warp)

    def state(self) -> PrivacyState:
        with self._lock:
            view, masked, blocked, blanked, error = (
                self._view,
                self._masked,
                self._blocked,
                self._blanked,
                self._error,
            )
        masks = view.masks
        mode, reason = PrivacyMode.MASKING, ""
        if not self._required:
            mode, reason = PrivacyMode.OFF, f"masking switched off: {self._off_reason}"
        elif masks.empty:
            mode, reason = PrivacyMode.FAIL_CLOSED, "masks are required but none are configured"
        elif error:
            mode, reason = PrivacyMode.FAIL_CLOSED, f"masking failed: {error}"
        elif view.tamper is TamperStatus.TAMPERED:
            mode = PrivacyMode.FAIL_CLOSED
            reason = (
                f"camera tampered ({view.cause}): every frame blanked until a technician approves the view"
            )
        elif view.tamper is TamperStatus.SUSPECT:
            mode = PrivacyMode.FAIL_CLOSED
            reason = f"view check failed ({view.cause}): frames blanked while it is rechecked"
        elif self._must_blank(view):
            mode = PrivacyMode.FAIL_CLOSED
            reason = "no reference view: frames blanked until a technician approves the view"
        warning = view.warning
        if not warning and view.tamper is TamperStatus.NO_REFERENCE and mode is PrivacyMode.MASKING:
            warning = (
                "no reference view: camera displacement is not detected until a technician approves the view"
            )
        measured = view.check.measured if view.check is not None else {}
        return PrivacyState(
            mode=mode,
            reason=reason,
            mask_id=masks.mask_id if self._required else NO_MASKS_ID,
            masks=len(masks.polygons),
            frames_masked=masked,
            frames_blocked=blocked,
            frames_blanked=blanked,
            tamper=view.tamper,
            tamper_cause=view.cause,
            shift_share=measured.get("shift_share", 0.0),
            rotation_deg=measured.get("rotation_deg", 0.0),
            scale=measured.get("scale", 1.0),
            reference_id=masks.reference_id,
            warning=warning,
        )

    # ------------------------------------------------------------------------------------ internals

    def _load_reference(self, events: list[PrivacyEvent]) -> None:
        if self._dir is None:
            return
        try:
            reference = load_reference(self._dir)
        except StoredReferenceError as exc:
            # Someone or something changed the stored reference: nothing proves the masks fit any more.
            log.error("%s; blanking every frame until a technician approves the view", exc)  # noqa: TRY400
            cause = str(TamperCause.REFERENCE_INVALID)
            self._view = dataclasses.replace(self._view, tamper=TamperStatus.TAMPERED, cause=cause)
            events.append(self._event("tamper", cause, {}))
            return
        if reference is None:
            log.warning(
                "no reference view yet: camera displacement is not detected until the view is approved"
            )
            return
        detector = TamperDetector(self._tamper_cfg, reference, self._aligner)
        detector.load_anchors(self._dir)
        detector.forget(self._view.masks)  # the configuration may mask more than when it was taken
        self._detector = detector
        self._store(detector)
        tamper = TamperStatus.OK if self._tamper_cfg.enabled else TamperStatus.DISABLED
        masks = dataclasses.replace(self._view.masks, reference_id=detector.reference.id)
        self._view = dataclasses.replace(self._view, masks=masks, tamper=tamper)
        log.info("reference view %s loaded (approved by %s)", detector.reference.id, reference.actor)

    def _store(self, detector: TamperDetector) -> None:
        """Write the reference and anchors when ``forget`` changed them."""
        if self._dir is None or detector.version == self._anchors_saved[0]:
            return
        self._anchors_saved = (detector.version, self._clock.monotonic_ns())
        try:
            save_reference(self._dir, detector.reference)
            detector.save_anchors(self._dir)
        except OSError:
            log.exception("cannot store the reference view in %s", self._dir)

    def _set_view(self, view: _View) -> None:
        with self._lock:
            self._view = view

    def _count(self, *, blocked: bool, blanked: bool = False, error: str = "") -> None:
        with self._lock:
            if blocked:
                self._blocked += 1
                if error:
                    self._error = error
            else:
                self._masked += 1
                self._blanked += int(blanked)
                self._error = ""

    def _event(
        self,
        kind: EventKind,
        cause: str,
        measured: dict[str, float],
        *,
        actor: str = "",
        mask_id: str | None = None,
        detail: str = "",
    ) -> PrivacyEvent:
        return PrivacyEvent(
            kind=kind,
            cause=f"{cause}: {detail}" if detail else cause,
            measured={k: round(v, 6) for k, v in measured.items()},
            ts_ns=self._clock.time_ns(),
            mask_id=self._view.masks.mask_id if mask_id is None else mask_id,
            actor=actor,
        )


def _brief(check: ViewCheck) -> str:
    return " ".join(f"{k}={v:.4g}" for k, v in sorted(check.measured.items()))
