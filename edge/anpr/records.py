"""The payloads of plate reading: a read record per vehicle pass, hits, and the LEZ profile's minimal records.

Schemas (``edge/uplink/schemas/``; the outbox adds ``msg_id``, ``stream`` and ``seq``):

- ``edge.anpr_read/1`` on ``anpr/read`` — requirement 13: normalised plate, country, confidence, UTC time
  of the best read, first and last seen, node id and location, direction, plate crop, masked overview with
  occupants blurred, model version, mask id;
- ``edge.anpr_hit/1`` on ``anpr/hit`` — the read record plus the list that matched and the event clip;
- ``edge.lez_read/1`` on ``lez/read`` and ``edge.lez_evidence/1`` on ``lez/evidence`` — requirement 15:
  plate, country, time, place and crop only (with confidence, model version and mask id); never an
  overview image.

Times: the tracker works in monotonic seconds; a record's ``ts`` is the wall-clock capture time of the
frame the best read came from, and first/last seen are offset from it by the monotonic difference, so a
wall-clock step during a pass cannot reorder them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edge.anpr import grammar
from edge.anpr.hotlist import HotlistHit
from edge.anpr.overview import CROP_QUALITY, OVERVIEW_QUALITY, Box, jpeg_b64, overview_image
from edge.anpr.recognizer import PlateRead
from edge.anpr.tracker import VehiclePass
from edge.privacy.masks import AppliedMasks
from edge.types import MaskedFrame
from edge.uplink.payloads import utc_iso

READ_SCHEMA = "edge.anpr_read/1"
HIT_SCHEMA = "edge.anpr_hit/1"
LEZ_READ_SCHEMA = "edge.lez_read/1"
LEZ_EVIDENCE_SCHEMA = "edge.lez_evidence/1"


@dataclass(frozen=True, slots=True)
class Sighting:
    """``Observation.payload`` of the ANPR stage: the read and the masked frame it came from.

    Holds a reference to the frame's (read-only, shared) pixels, not a copy; the tracker keeps one per
    distinct text of an open track, so a few frames are alive at a time.
    """

    frame: MaskedFrame
    read: PlateRead
    frame_boxes: tuple[Box, ...]
    """Every plate box read in that frame (pixels): each one's occupants are blurred in the overview."""
    masks: AppliedMasks | None = None
    """The masks burned into the frame (None when none were): the overview's blur leaves them alone."""


@dataclass(frozen=True, slots=True)
class RecordContext:
    """What every record of this node says besides the pass itself."""

    node_id: str
    profile: str
    location: dict[str, Any]
    """``{"lat", "lon", "site", "description"}``."""
    model_version: str
    overview: bool
    """Attach the overview image (never for the ``lez`` profile)."""
    blur_occupants: bool
    overview_width_px: int


@dataclass(frozen=True, slots=True)
class ClipRef:
    """The event clip of a hit: exported and sent on ``clip/<clip_id>/...`` once the footage is recorded."""

    clip_id: str
    start_ns: int
    end_ns: int


def sighting_of(vehicle_pass: VehiclePass) -> Sighting:
    payload = vehicle_pass.best.payload
    if not isinstance(payload, Sighting):
        raise TypeError("a vehicle pass of the ANPR stage carries a Sighting")
    return payload


def _times(vehicle_pass: VehiclePass, sighting: Sighting) -> tuple[int, int, int]:
    """(ts, first seen, last seen) in wall-clock ns, anchored on the best read's frame."""
    ts = sighting.frame.capture_ts_ns
    best_t = vehicle_pass.best.t_s
    return (
        ts,
        ts + round((vehicle_pass.first_t_s - best_t) * 1e9),
        ts + round((vehicle_pass.last_t_s - best_t) * 1e9),
    )


def _plate_fields(vehicle_pass: VehiclePass, read: PlateRead) -> dict[str, Any]:
    text = vehicle_pass.text or ""
    if read.text == text:
        formatted, country, series, corrections = read.formatted, read.country, read.series, read.corrections
    else:
        # A per-character vote can produce a text no single frame read: format it by its grammar.
        fit = grammar.best(text, vehicle_pass.country)
        formatted = fit.formatted if fit else text
        country = fit.country if fit else vehicle_pass.country
        series = fit.series if fit else None
        corrections = 0
    return {
        "plate": text,
        "formatted": formatted,
        "country": vehicle_pass.country or country,
        "series": series,
        "corrections": corrections,
    }


def pass_span_ns(vehicle_pass: VehiclePass) -> tuple[int, int]:
    """First and last seen of a pass, wall-clock ns."""
    _, first, last = _times(vehicle_pass, sighting_of(vehicle_pass))
    return first, last


def read_document(vehicle_pass: VehiclePass, ctx: RecordContext, read_id: str) -> dict[str, Any]:
    """``edge.anpr_read/1`` for a pass with a text."""
    sighting = sighting_of(vehicle_pass)
    frame = sighting.frame
    ts, first, last = _times(vehicle_pass, sighting)
    total_votes = sum(vehicle_pass.votes.values())
    winner = vehicle_pass.votes.get(vehicle_pass.text or "", 0.0)
    overview = None
    if ctx.overview:
        image = overview_image(
            frame.pixels,
            sighting.frame_boxes,
            ctx.overview_width_px,
            blur=ctx.blur_occupants,
            masks=sighting.masks,
        )
        overview = jpeg_b64(image, OVERVIEW_QUALITY)
    return {
        "schema": READ_SCHEMA,
        "read_id": read_id,
        "node_id": ctx.node_id,
        "profile": ctx.profile,
        **_plate_fields(vehicle_pass, sighting.read),
        "confidence": vehicle_pass.confidence,
        "ts": utc_iso(ts),
        "first_seen": utc_iso(first),
        "last_seen": utc_iso(last),
        "direction": vehicle_pass.direction,
        "crossed_line": vehicle_pass.crossed_line,
        "location": ctx.location,
        "observations": vehicle_pass.observations,
        "reads": vehicle_pass.reads,
        "vote_share": round(winner / total_votes, 4) if total_votes > 0 else 0.0,
        "plate_box": list(sighting.read.box),
        "frame_index": frame.index,
        "frame_size": [frame.width, frame.height],
        "crop_jpeg_b64": jpeg_b64(sighting.read.crop, CROP_QUALITY),
        "overview_jpeg_b64": overview,
        "occupants_blurred": overview is not None and ctx.blur_occupants,
        "model_version": ctx.model_version,
        "mask_id": frame.mask_id,
    }


def hit_document(
    read_doc: dict[str, Any], hit: HotlistHit, clip: ClipRef | None, clip_reason: str
) -> dict[str, Any]:
    """``edge.anpr_hit/1``: the read record, the listing it matched and its event clip."""
    return {
        **read_doc,
        "schema": HIT_SCHEMA,
        "list_id": hit.list_id,
        "list_version": hit.version,
        "category": hit.category,
        "ref": hit.ref,
        "fuzzy": hit.fuzzy,
        "needs_human_check": hit.fuzzy,
        "clip": None
        if clip is None
        else {"clip_id": clip.clip_id, "from": utc_iso(clip.start_ns), "to": utc_iso(clip.end_ns)},
        "clip_reason": clip_reason,
    }


def lez_read_document(vehicle_pass: VehiclePass, ctx: RecordContext, read_id: str) -> dict[str, Any]:
    """``edge.lez_read/1``: the minimum (requirement 15), never an overview image."""
    sighting = sighting_of(vehicle_pass)
    ts, _, _ = _times(vehicle_pass, sighting)
    plate = _plate_fields(vehicle_pass, sighting.read)
    return {
        "schema": LEZ_READ_SCHEMA,
        "read_id": read_id,
        "node_id": ctx.node_id,
        "profile": ctx.profile,
        "plate": plate["plate"],
        "country": plate["country"],
        "confidence": vehicle_pass.confidence,
        "ts": utc_iso(ts),
        "location": ctx.location,
        "crop_jpeg_b64": jpeg_b64(sighting.read.crop, CROP_QUALITY),
        "model_version": ctx.model_version,
        "mask_id": sighting.frame.mask_id,
    }


def lez_evidence_document(lez_doc: dict[str, Any], hit: HotlistHit) -> dict[str, Any]:
    """``edge.lez_evidence/1``: a minimal read of a vehicle on the LEZ list, with the listing it matched."""
    return {
        **lez_doc,
        "schema": LEZ_EVIDENCE_SCHEMA,
        "list_id": hit.list_id,
        "list_version": hit.version,
        "category": hit.category,
        "ref": hit.ref,
        "fuzzy": hit.fuzzy,
        "needs_human_check": hit.fuzzy,
    }
