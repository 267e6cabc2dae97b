"""The node's configuration: one YAML file, validated by this schema.

Rules (see docs/config.md, generated from this module and checked by a test):
- every model forbids unknown keys; every field has a default where one is safe, bounds and a description;
- validation does no I/O and reads no environment;
- secrets (stream credentials, keys, passwords) never live in the YAML: fields ending in ``_file`` point
  at files, normally delivered by systemd credentials.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from edge.config_override import OVERRIDE_NAME, OverrideError, OverrideStatus, merged, read_override
from edge.errors import ConfigError
from edge.storage.profiles import RETENTION_CEILING_DAYS, Profile

_SECRET_QUERY_KEYS = frozenset({"user", "username", "password", "pwd", "passwd", "pass", "token", "auth"})
NODE_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


# --------------------------------------------------------------------------------------------- node


class Location(_Model):
    """Where the camera stands (WGS 84)."""

    lat: float = Field(default=0.0, ge=-90, le=90, description="Latitude in decimal degrees (WGS 84).")
    lon: float = Field(default=0.0, ge=-180, le=180, description="Longitude in decimal degrees (WGS 84).")


class NodeConfig(_Model):
    """Identity of this node."""

    id: str = Field(
        pattern=NODE_ID_PATTERN,
        description="Unique node id; lower-case letters, digits and '-', at most 63 characters. "
        "Used in every MQTT topic (`cams/<id>/...`).",
    )
    site: str = Field(default="", max_length=200, description="Human-readable site name, e.g. a street.")
    location: Location = Field(default_factory=Location, description="Position of the camera.")
    state_dir: Path = Field(
        default=Path("/var/lib/edge"),
        description="Directory for the node's state (recordings, outbox, audit log). "
        "Disk use reported in health is measured here.",
    )


# ------------------------------------------------------------------------------------------- camera


class PlateMix(_Model):
    """Relative weights of plate formats on synthetic vehicles. Weights need not sum to 1."""

    be_current: float = Field(default=0.55, ge=0, le=1000, description="Belgian current series `1-ABC-234`.")
    be_old: float = Field(
        default=0.15, ge=0, le=1000, description="Belgian older series `ABC-123` / `123-ABC`."
    )
    nl: float = Field(default=0.12, ge=0, le=1000, description="Dutch plates (yellow, sidecodes).")
    fr: float = Field(default=0.10, ge=0, le=1000, description="French SIV plates `AB-123-CD`.")
    de: float = Field(
        default=0.08, ge=0, le=1000, description="German plates (FE font, at most 8 characters)."
    )

    @model_validator(mode="after")
    def _some_weight(self) -> PlateMix:
        if self.be_current + self.be_old + self.nl + self.fr + self.de <= 0:
            raise ValueError("at least one plate format needs a weight above 0")
        return self


class SyntheticCameraConfig(_Model):
    """The synthetic street camera: a deterministic rendered street with known plates and ground truth."""

    type: Literal["synthetic"] = Field(description="Selects the synthetic street camera.")
    seed: int = Field(
        default=1, ge=0, le=2**32 - 1, description="Seed; the same seed renders the same scene."
    )
    width: int = Field(default=1920, ge=320, le=1920, description="Frame width in pixels.")
    height: int = Field(default=1080, ge=180, le=1080, description="Frame height in pixels.")
    fps: float = Field(default=25.0, gt=0, le=60, description="Frames per second.")
    realtime: bool = Field(
        default=True,
        description="Pace frames at `fps` in wall-clock time. False renders as fast as possible "
        "(tests, benchmarks); scene time still advances by 1/fps per frame.",
    )
    vehicles_per_minute: float = Field(
        default=12.0, ge=0, le=120, description="Mean traffic over both directions."
    )
    plate_mix: PlateMix = Field(default_factory=PlateMix, description="Mix of plate formats.")
    lighting: Literal["day", "night", "cycle"] = Field(
        default="day",
        description="`day`, `night` (street lights, headlights, IR-like noise) or `cycle` "
        "(one day/night cycle every `cycle_seconds` of scene time).",
    )
    cycle_seconds: float = Field(
        default=600.0, ge=10, le=86400, description="Length of the day/night cycle in scene seconds."
    )
    noise: float = Field(
        default=0.02, ge=0, le=0.2, description="Sensor noise, std dev as a share of full scale."
    )
    motion_blur: bool = Field(default=True, description="Blur vehicles along their motion.")

    @model_validator(mode="after")
    def _even_size(self) -> SyntheticCameraConfig:
        if self.width % 2 or self.height % 2:
            raise ValueError("width and height must be even (H.264 needs even dimensions)")
        return self


class OpenCVCameraConfig(_Model):
    """A video file, V4L2 device or RTSP stream, read through OpenCV (FFmpeg / V4L2 back ends)."""

    type: Literal["opencv"] = Field(description="Selects the OpenCV source.")
    url: str = Field(
        min_length=1,
        max_length=2048,
        description="A file path, `/dev/videoN`, or an `rtsp://host/path` URL without credentials.",
    )
    credentials_file: Path | None = Field(
        default=None,
        description="File holding `user:password` for the stream, inserted into the URL at open time "
        "and never logged. Use a systemd credential.",
    )
    width: int | None = Field(default=None, ge=16, le=7680, description="Requested width (devices only).")
    height: int | None = Field(default=None, ge=16, le=4320, description="Requested height (devices only).")
    fps: float | None = Field(default=None, gt=0, le=120, description="Requested or, for files, pacing fps.")
    loop: bool = Field(default=False, description="Restart a video file at its end (demos, soak tests).")
    reconnect_initial_s: float = Field(
        default=0.5, ge=0.01, le=60, description="First wait before reopening a lost stream."
    )
    reconnect_max_s: float = Field(
        default=30.0,
        ge=0.1,
        le=3600,
        description="Longest wait between reopen attempts (exponential backoff).",
    )
    read_timeout_s: float = Field(
        default=5.0,
        ge=0.1,
        le=120,
        description="A stream that delivers no frame for this long counts as lost.",
    )

    @field_validator("url")
    @classmethod
    def _no_inline_credentials(cls, url: str) -> str:
        scheme, sep, rest = url.partition("://")
        if sep and "@" in rest.split("/", 1)[0]:
            raise ValueError(f"credentials must not be in the URL; use credentials_file ({scheme}://...)")
        query = rest.partition("?")[2]
        keys = {part.partition("=")[0].lower() for part in query.split("&") if part}
        if keys & _SECRET_QUERY_KEYS:
            raise ValueError(
                f"the URL's query carries credentials ({', '.join(sorted(keys & _SECRET_QUERY_KEYS))}); "
                "use credentials_file"
            )
        return url

    @model_validator(mode="after")
    def _backoff_order(self) -> OpenCVCameraConfig:
        if self.reconnect_max_s < self.reconnect_initial_s:
            raise ValueError("reconnect_max_s must be at least reconnect_initial_s")
        return self


class Picamera2CameraConfig(_Model):
    """A Raspberry Pi camera module through picamera2 (libcamera)."""

    type: Literal["picamera2"] = Field(description="Selects the Raspberry Pi camera.")
    camera_index: int = Field(default=0, ge=0, le=7, description="Which camera, for boards with several.")
    width: int = Field(default=1920, ge=64, le=4608, description="Frame width in pixels.")
    height: int = Field(default=1080, ge=64, le=2592, description="Frame height in pixels.")
    fps: float = Field(default=25.0, gt=0, le=120, description="Frames per second.")
    reconnect_initial_s: float = Field(
        default=1.0, ge=0.01, le=60, description="First wait before reopening."
    )
    reconnect_max_s: float = Field(default=60.0, ge=0.1, le=3600, description="Longest wait between reopens.")


CameraConfig = Annotated[
    SyntheticCameraConfig | OpenCVCameraConfig | Picamera2CameraConfig, Field(discriminator="type")
]


# ------------------------------------------------------------------------------------------ privacy


def _check_polygon(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    if len(points) < 3:
        raise ValueError(f"a polygon needs at least 3 points, got {len(points)}")
    for x, y in points:
        if not (math.isfinite(x) and math.isfinite(y)):
            raise ValueError("polygon coordinates must be finite numbers")
        if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
            raise ValueError(f"point ({x}, {y}) is outside the image; coordinates are normalised to 0..1")
    area2 = sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(points, points[1:] + points[:1], strict=True))
    if abs(area2) < 1e-9:
        raise ValueError("polygon has no area (all points on one line)")
    crossing = _crossing_edges(points)
    if crossing is not None:
        # Polygons are filled with the even-odd rule: where one overlaps itself it would stay unmasked.
        raise ValueError(
            f"polygon edges {crossing[0]} and {crossing[1]} cross or touch; draw it without crossings"
        )
    return points


def _crossing_edges(points: list[tuple[float, float]]) -> tuple[int, int] | None:
    """The first two non-adjacent edges that cross or touch (numbered from 0); None for a simple polygon."""
    n = len(points)
    edges = [(points[i], points[(i + 1) % n]) for i in range(n)]
    for i in range(n):
        for j in range(i + 2, n):
            if i == 0 and j == n - 1:
                continue  # adjacent through the closing edge
            if _segments_meet(*edges[i], *edges[j]):
                return i, j
    return None


def _segments_meet(
    a: tuple[float, float], b: tuple[float, float], c: tuple[float, float], d: tuple[float, float]
) -> bool:
    def orient(p: tuple[float, float], q: tuple[float, float], r: tuple[float, float]) -> float:
        return (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])

    def within(p: tuple[float, float], q: tuple[float, float], r: tuple[float, float]) -> bool:
        return min(p[0], q[0]) <= r[0] <= max(p[0], q[0]) and min(p[1], q[1]) <= r[1] <= max(p[1], q[1])

    d1, d2, d3, d4 = orient(c, d, a), orient(c, d, b), orient(a, b, c), orient(a, b, d)
    if ((d1 > 0 > d2) or (d1 < 0 < d2)) and ((d3 > 0 > d4) or (d3 < 0 < d4)):
        return True
    return (
        (d1 == 0 and within(c, d, a))
        or (d2 == 0 and within(c, d, b))
        or (d3 == 0 and within(a, b, c))
        or (d4 == 0 and within(a, b, d))
    )


class MaskConfig(_Model):
    """One privacy mask: a polygon in normalised image coordinates."""

    name: str = Field(
        min_length=1, max_length=64, description="Label shown in diagnostics, e.g. `shop front`."
    )
    polygon: list[tuple[float, float]] = Field(
        min_length=3,
        max_length=256,
        description="Corner points `[x, y]`, each normalised to 0..1 of width and height (0,0 = top left). "
        "Edges must not cross or touch each other.",
    )

    _polygon = field_validator("polygon")(_check_polygon)


class TamperConfig(_Model):
    """Camera displacement and tampering: the view is compared with the reference view taken at installation.

    Checks run every `check_every_frames` frames on a small grayscale copy of the unmasked parts of the
    view. Small drift moves the masks with the view; anything beyond the limits below, a covered, dark or
    defocused lens, or a view that no longer matches blanks the whole frame and raises a `tamper` event
    until a technician approves the view again.
    """

    enabled: bool = Field(
        default=True,
        description="Check the view against the reference. Switch off only for a camera that moves "
        "on purpose.",
    )
    require_reference: bool = Field(
        default=False,
        description="Without a reference view, blank every frame until a technician approves the view. "
        "When false, checks start once a reference exists and health warns until then.",
    )
    check_every_frames: int = Field(
        default=10,
        ge=1,
        le=250,
        description="Frames between two checks (10 = 0.4 s at 25 fps). A displacement can show unmasked "
        "private areas for at most this many frames before frames are blanked.",
    )
    analysis_width_px: int = Field(
        default=320,
        ge=160,
        le=640,
        description="Width of the grayscale copy the checks work on (and of the stored reference view).",
    )
    max_shift_share: float = Field(
        default=0.02,
        ge=0.002,
        le=0.1,
        description="Largest drift of the image centre, as a share of the frame width, that masks follow; "
        "beyond it the frame is blanked (cause `displaced`).",
    )
    max_rotation_deg: float = Field(
        default=1.0,
        ge=0.1,
        le=10.0,
        description="Largest rotation masks follow; beyond it the frame is blanked (cause `rotated`).",
    )
    max_scale_change: float = Field(
        default=0.02,
        ge=0.002,
        le=0.2,
        description="Largest zoom change masks follow, as a share (0.02 = 2 %); beyond it the frame is "
        "blanked (cause `zoomed`).",
    )
    min_inliers: int = Field(
        default=25,
        ge=8,
        le=500,
        description="Features that must agree on one transform for the view to count as matched; fewer "
        "means the view cannot be verified (cause `scene_changed`).",
    )
    cover_std: float = Field(
        default=4.0,
        ge=0.0,
        le=50.0,
        description="A view whose gray levels vary less than this (standard deviation, 0..255) is "
        "covered or sprayed (cause `covered`).",
    )
    dark_luma: float = Field(
        default=10.0,
        ge=0.0,
        le=128.0,
        description="Mean gray level (0..255) below which the view is too dark to verify (cause `dark`).",
    )
    dark_drop_share: float = Field(
        default=0.4,
        ge=0.05,
        le=0.95,
        description="A mean gray level below this share of the last verified check's is a sudden "
        "darkness (cause `dark`): checks are under a second apart, nightfall takes many minutes.",
    )
    defocus_share: float = Field(
        default=0.6,
        ge=0.05,
        le=0.95,
        description="Focus score below this share of the matching reference is a defocused or "
        "smeared lens (cause `defocused`). The score compares fine with coarse detail tile by tile, so "
        "dusk and passing vehicles do not lower it; 0.6 catches a blur of about 0.4 % of the width.",
    )
    confirm_checks: int = Field(
        default=2,
        ge=1,
        le=20,
        description="Consecutive failed checks before a `tamper` event. Frames are blanked from the first "
        "failed check on; a good check in between ends the suspicion.",
    )


class PrivacyConfig(_Model):
    """Privacy masking. Masks are burned into the pixels before any consumer sees a frame."""

    required: bool = Field(
        default=True,
        description="Masks are required: with none configured, no frame leaves the node (fail closed). "
        "Set to false only for a camera that sees nothing private, and say why in `off_reason`.",
    )
    off_reason: str = Field(
        default="",
        max_length=500,
        description="Why masking is not required for this camera. Mandatory when `required` is false; "
        "it is logged and reported in health so the choice is auditable.",
    )
    mode: Literal["solid", "pixelate", "blur"] = Field(
        default="solid",
        description="How masked areas are filled: `solid` paints `fill_bgr`; `pixelate` replaces them by "
        "large blocks; `blur` by a heavy blur that keeps no detail. Blanked frames always use `fill_bgr`.",
    )
    fill_bgr: tuple[int, int, int] = Field(
        default=(0, 0, 0), description="Fill colour for `solid` and for blanked frames, B, G, R 0..255."
    )
    pixelate_block_share: float = Field(
        default=0.025,
        ge=0.01,
        le=0.1,
        description="Edge of a `pixelate` block as a share of the frame width (0.025 = 48 px at 1920, "
        "32 px at 1280; never below 8 px). Each block shows only the mean colour of what it covers.",
    )
    blur_share: float = Field(
        default=0.04,
        ge=0.02,
        le=0.15,
        description="Cell size of `blur` as a share of the frame width (0.04 = 77 px at 1920): masked "
        "content is averaged down to cells this big and smoothly interpolated, so no finer detail survives.",
    )
    masks: list[MaskConfig] = Field(default_factory=list, max_length=64, description="The privacy masks.")
    tamper: TamperConfig = Field(
        default_factory=TamperConfig, description="Camera displacement and tampering checks."
    )

    @field_validator("fill_bgr")
    @classmethod
    def _colour(cls, bgr: tuple[int, int, int]) -> tuple[int, int, int]:
        if any(not 0 <= c <= 255 for c in bgr):
            raise ValueError("each colour component must be 0..255")
        return bgr

    @model_validator(mode="after")
    def _explicit_off(self) -> PrivacyConfig:
        if not self.required and not self.off_reason.strip():
            raise ValueError("privacy.required is false but privacy.off_reason is empty: say why")
        return self


# ----------------------------------------------------------------------------------------- pipeline


class PipelineConfig(_Model):
    """Queues and liveness between the stages."""

    recorder_queue_frames: int = Field(
        default=50, ge=1, le=1000, description="Frames buffered for the recorder, which takes every frame."
    )
    stall_after_s: float = Field(
        default=5.0,
        ge=0.5,
        le=300,
        description="A stage without a heartbeat for this long is reported as stalled, and the systemd "
        "watchdog is no longer fed while frames are not flowing.",
    )


# ------------------------------------------------------------------------------------------ storage

_GIB = 1024**3


class StorageConfig(_Model):
    """Continuous recording into sealed H.264 segments: the ring buffer (see docs/storage.md).

    Recording is off until switched on, because it needs the central public key: without it nothing can be
    sealed, and the node never writes plaintext video.
    """

    enabled: bool = Field(
        default=False,
        description="Record every masked frame. Needs `central_public_key_file`.",
    )
    directory: Path = Field(
        default=Path("recordings"),
        description="Where segments and their index live, relative to `node.state_dir`.",
    )
    profile: Literal["police", "camera_law"] = Field(
        default="police",
        description="Processing profile. It sets the hard retention ceiling that no configuration can "
        "raise: 365 days for `police`, 90 days for `camera_law`.",
    )
    max_age_days: float = Field(
        default=30.0,
        gt=0,
        le=365,
        description="Footage older than this is purged (unless under a legal hold). At most the "
        "profile's ceiling. The disk quota may make retention shorter, never longer.",
    )
    quota_bytes: int = Field(
        default=32 * _GIB,
        ge=64 * 1024**2,
        le=64 * 1024**4,
        description="Most bytes the sealed segments may occupy. Oldest footage is evicted first; held "
        "footage last, and only after an alarm.",
    )
    min_free_share: float = Field(
        default=0.10,
        ge=0,
        le=0.9,
        description="Share of the filesystem that must stay free; recording evicts old footage to keep it.",
    )
    held_alarm_share: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="Raise an alarm when footage under legal hold fills more than this share of the quota, "
        "long before held footage would have to be evicted.",
    )
    segment_seconds: float = Field(default=10.0, ge=1, le=300, description="Length of one recorded segment.")
    encoder: Literal["libx264", "v4l2m2m"] = Field(
        default="libx264",
        description="H.264 encoder: `libx264` in software (any board; the only one on a Raspberry Pi 5), "
        "or `v4l2m2m`, the Raspberry Pi 4 hardware encoder through FFmpeg (untested off a Pi).",
    )
    preset: Literal["ultrafast", "superfast", "veryfast", "faster", "fast", "medium"] = Field(
        default="ultrafast",
        description="libx264 speed preset: faster presets use less CPU and more bytes.",
    )
    crf: int = Field(
        default=26,
        ge=0,
        le=51,
        description="libx264 constant rate factor: lower is better quality and more bytes.",
    )
    bitrate_kbps: int = Field(
        default=2000,
        ge=100,
        le=50000,
        description="Target bit rate for the `v4l2m2m` hardware encoder, which has no CRF mode.",
    )
    keyframe_interval_s: float = Field(
        default=2.0,
        ge=0.2,
        le=60,
        description="Longest time between key frames inside a segment (each segment starts with one).",
    )
    retention_check_interval_s: float = Field(
        default=60.0,
        ge=1,
        le=3600,
        description="How often age-based purging runs even when no frames arrive (camera down).",
    )
    central_public_key_file: Path | None = Field(
        default=None,
        description="PEM file with the central system's X25519 public key; every segment key is sealed "
        "to it. The node cannot decrypt its own recordings.",
    )
    device_key_file: Path | None = Field(
        default=None,
        description="PEM file with this node's Ed25519 private key, which signs clip export manifests and "
        "the audit log. Use a systemd credential. Without it exports are refused and audit entries are "
        "hash-chained but unsigned (`edgectl audit verify` fails on them).",
    )

    @field_validator("directory")
    @classmethod
    def _relative(cls, directory: Path) -> Path:
        if directory.is_absolute() or ".." in directory.parts or not directory.parts:
            raise ValueError("must be a relative path below node.state_dir, without '..'")
        return directory

    @model_validator(mode="after")
    def _within_ceiling(self) -> StorageConfig:
        ceiling = RETENTION_CEILING_DAYS[Profile(self.profile)]
        if self.max_age_days > ceiling:
            raise ValueError(
                f"max_age_days {self.max_age_days:g} exceeds the {ceiling}-day ceiling of the "
                f"'{self.profile}' profile"
            )
        if self.enabled and self.central_public_key_file is None:
            raise ValueError("recording is enabled but central_public_key_file is not set")
        return self


# ------------------------------------------------------------------------------------------- uplink


class OutboxConfig(_Model):
    """The durable store-and-forward queue (`<state_dir>/outbox.sqlite`) in front of the MQTT client."""

    max_messages: int = Field(
        default=200_000,
        ge=10,
        le=10_000_000,
        description="Most messages kept while the broker is unreachable. When full: health is coalesced "
        "first, then the oldest least important messages are dropped, counted and reported as an "
        "`event/outbox_overflow`.",
    )
    max_bytes: int = Field(
        default=512 * 1024 * 1024,
        ge=64 * 1024,
        le=64 * 1024**3,
        description="Most payload bytes kept; the same policy applies when this bound is reached.",
    )


class CommandsConfig(_Model):
    """Signed commands from the central system on `cams/<id>/cmd` (see README, MQTT API)."""

    central_public_key_files: list[Path] = Field(
        default_factory=list,
        max_length=8,
        description="Central Ed25519 public keys (PEM) whose signatures are accepted; several allow key "
        "rotation. Empty: every command is refused with `bad_signature`.",
    )
    max_validity_s: float = Field(
        default=300.0,
        ge=1,
        le=86400,
        description="Longest accepted `expires_at - issued_at`; request ids are remembered this long "
        "(on disk) to refuse replays.",
    )
    max_request_bytes: int = Field(
        default=64 * 1024, ge=512, le=1024 * 1024, description="Larger requests are refused (`too_large`)."
    )
    clip_chunk_bytes: int = Field(
        default=64 * 1024,
        ge=1024,
        le=4 * 1024 * 1024,
        description="Bytes of export data per `clip/<clip_id>/chunk/<n>` message (base64 adds a third).",
    )
    clip_keep_s: float = Field(
        default=3600.0,
        ge=60,
        le=30 * 86400,
        description="An export folder (`<state_dir>/exports/<clip_id>`) is kept this long after the last "
        "of its queued messages was acknowledged, so the centre can ask for chunks again (`resend_clip`); "
        "then it is removed.",
    )
    clip_max_age_h: float = Field(
        default=48.0,
        ge=1,
        le=24 * 90,
        description="Export folders older than this are removed at start and on every sweep, delivered or "
        "not (chunks already in the outbox still go out). Unfinished exports are removed at start.",
    )


class MqttTlsConfig(_Model):
    """TLS to the broker with a client certificate (the node's identity from provisioning)."""

    ca_file: Path = Field(description="PEM CA certificate(s) the broker's certificate must chain to.")
    cert_file: Path = Field(description="PEM client certificate of this node (CN = node id).")
    key_file: Path = Field(description="PEM private key of the client certificate. Use a systemd credential.")


class MqttConfig(_Model):
    """Connection to the central MQTT broker."""

    host: str = Field(
        default="127.0.0.1", min_length=1, max_length=253, description="Broker host name or address."
    )
    port: int = Field(default=8883, ge=1, le=65535, description="Broker TCP port.")
    topic_prefix: str = Field(
        default="cams",
        pattern=r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$",
        description="Root of this node's topics: `<prefix>/<node id>/...`.",
    )
    keepalive_s: int = Field(
        default=30,
        ge=2,
        le=3600,
        description="MQTT keepalive. The broker publishes the `offline` will about 1.5x this long after "
        "the node goes silent.",
    )
    reconnect_min_s: float = Field(default=1.0, ge=0.1, le=60, description="First wait before reconnecting.")
    reconnect_max_s: float = Field(
        default=60.0, ge=1, le=3600, description="Longest wait between reconnects."
    )
    max_inflight: int = Field(
        default=20,
        ge=1,
        le=1000,
        description="QoS 1 messages from the outbox awaiting the broker's ack (the send window).",
    )
    max_queued: int = Field(
        default=1000,
        ge=1,
        le=100000,
        description="Bound on the MQTT client's own in-memory queue (it is unbounded by default).",
    )
    health_interval_s: float = Field(default=10.0, ge=1, le=3600, description="Period of `health` messages.")
    clip_max_bytes_per_s: int = Field(
        default=0,
        ge=0,
        le=1024**3,
        description="Bandwidth cap for clip transfers (`clip/...` messages, counted as MQTT payload bytes, "
        "i.e. base64): a token bucket in the sender, with bursts of at most 50 ms worth "
        "plus one chunk. Hits, events, plate reads and health never wait behind it. 0: no cap; otherwise "
        "at least 8192.",
    )
    outbox: OutboxConfig = Field(
        default_factory=OutboxConfig, description="Store-and-forward of everything but `status`."
    )
    tls: MqttTlsConfig | None = Field(
        default=None,
        description="TLS with a client certificate; the broker's name (`host`) must match its certificate. "
        "Unset: plain TCP (development and loopback only).",
    )

    @model_validator(mode="after")
    def _backoff_order(self) -> MqttConfig:
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ValueError("reconnect_max_s must be at least reconnect_min_s")
        if 0 < self.clip_max_bytes_per_s < 8192:
            raise ValueError("clip_max_bytes_per_s must be 0 (no cap) or at least 8192")
        return self


# -------------------------------------------------------------------------------------- diagnostics


def _ip_address(text: str) -> str:
    # An address, not a host name: resolving one would be I/O, and the page must bind the technician link.
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise ValueError(f"{text!r} is not an IP address (the technician interface's address)") from None


class DiagnosticsConfig(_Model):
    """The technicians' diagnostics page and the Prometheus metrics endpoint (see docs/diagnostics.md)."""

    enabled: bool = Field(
        default=False,
        description="Serve the diagnostics page: health, the masked live view, self-tests and reference "
        "view approval, for technicians listed in `technicians_file`.",
    )
    bind: str = Field(
        default="127.0.0.1",
        description="IP address the page listens on: loopback, or the technician link's own address. "
        "Never a public interface.",
    )
    port: int = Field(default=8080, ge=1024, le=65535, description="TCP port of the page.")
    technicians_file: Path = Field(
        default=Path("/run/credentials/edge.service/technicians"),
        description="Technicians' scrypt hashes as written by `edge provision` (the `technicians` "
        "systemd credential). Without it nobody can log in.",
    )
    session_ttl_s: float = Field(
        default=900.0,
        ge=60,
        le=43200,
        description="A login lasts this long, then the technician logs in again.",
    )
    login_max_failures: int = Field(
        default=5,
        ge=1,
        le=100,
        description="Failed logins allowed per client address, and per technician name, within "
        "`login_window_s`; further attempts are refused without checking the password.",
    )
    login_window_s: float = Field(
        default=300.0, ge=10, le=86400, description="Window over which failed logins are counted."
    )
    preview_refresh_s: float = Field(
        default=1.0, ge=0.2, le=60, description="How often the page reloads the masked live view."
    )
    preview_max_width_px: int = Field(
        default=640, ge=160, le=1920, description="Width the live view is scaled down to."
    )
    selftest_timeout_s: float = Field(
        default=5.0, ge=0.5, le=60, description="Longest wait of one self-test (e.g. the broker round trip)."
    )
    metrics_enabled: bool = Field(
        default=True, description="Serve `/metrics` in Prometheus text format (no login) when `enabled`."
    )
    metrics_bind: str = Field(
        default="127.0.0.1",
        description="IP address of the metrics endpoint. It has no login, so keep it on loopback unless a "
        "firewall limits who may scrape it.",
    )
    metrics_port: int = Field(default=9108, ge=1024, le=65535, description="TCP port of `/metrics`.")

    _bind = field_validator("bind", "metrics_bind")(_ip_address)

    @model_validator(mode="after")
    def _distinct_ports(self) -> DiagnosticsConfig:
        if self.metrics_enabled and self.port == self.metrics_port:
            raise ValueError("port and metrics_port must differ")
        return self


# --------------------------------------------------------------------------------------------- anpr

_WHOLE_FRAME = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]


class AnprConfig(_Model):
    """Plate reading (ANPR) on the masked frames: one read record per vehicle pass (see docs/anpr.md).

    `profile` keeps the two controllers apart: `police` publishes on `anpr/read` and `anpr/hit` and matches
    police hotlists; `lez` (the city's low-emission zone) publishes only the minimum on `lez/read` and
    `lez/evidence`, never an overview image, and matches only LEZ lists.
    """

    enabled: bool = Field(default=False, description="Run plate reading on this node.")
    profile: Literal["police", "lez"] = Field(
        default="police",
        description="`police`: police ANPR (hotlists, hits with event clips, overview images); `lez`: the "
        "city's low-emission zone (LEZ lists only, minimal records, no overview image).",
    )
    models_dir: Path | None = Field(
        default=None,
        description="Folder with `manifest.json` and the `.tflite` models; default: `models/` of the "
        "checkout, else `/usr/share/edge/models`. A missing or corrupt model disables ANPR (health says "
        "why).",
    )
    precision: Literal["int8", "fp32"] = Field(
        default="int8", description="Which of the manifest's model files to load."
    )
    threads: int | None = Field(
        default=None, ge=1, le=16, description="Inference threads; default: the usable cores, at most 4."
    )
    roi: list[tuple[float, float]] = Field(
        default_factory=lambda: list(_WHOLE_FRAME),
        min_length=3,
        max_length=64,
        description="The road: a polygon `[x, y]` normalised to 0..1 (a box is its four corners). Plates are "
        "searched in its bounding box and kept when their centre lies inside it. Default: the whole frame.",
    )
    detector_long_side: int = Field(
        default=768,
        ge=128,
        le=2048,
        description="Pixels the long side of the ROI's bounding box is scaled to for the plate detector. "
        "Larger finds smaller plates and costs more.",
    )
    finer_look: float = Field(
        default=0.0,
        ge=0,
        le=4,
        description="When no read of a frame is at least 0.5 confident, detect again at "
        "`detector_long_side` times this (above 1; 0: never). Costs a larger detection on unsure frames "
        "only; `edge anpr-eval` gives photos this look at 1.33 by default (a photo has one chance, a "
        "vehicle pass many frames).",
    )
    closer_look_below: float = Field(
        default=0.8,
        ge=0,
        le=1,
        description="The best plate of a frame is read again over three more crops (padded once, trimmed "
        "twice) and the four reads voted when its first read is less confident than this; 1: on every "
        "frame. Costs three to six reader runs (about 1.5-3 ms on 2 x86 cores) each time; `edge anpr-eval` "
        "always does it (a photo has one chance, a vehicle pass many frames).",
    )
    max_fps: float = Field(
        default=8.0,
        gt=0,
        le=60,
        description="ANPR reads the newest masked frame at most this often; frames in between are skipped "
        "(and counted).",
    )
    min_confidence: float = Field(
        default=0.15,
        ge=0,
        le=1,
        description="A vehicle pass whose voted read is less confident than this is counted as unread and "
        "not published. The voted confidence is the winner's share of the votes times its mean reader "
        "confidence; with the current models correct passes score 0.18 and up, garbage passes (a sign, a "
        "plate far away read in part) mostly less (docs/anpr.md).",
    )
    min_reads: int = Field(
        default=2,
        ge=1,
        le=50,
        description="Frames a plate must be read in before its pass carries a text; a pass read fewer "
        "times is counted as unread (a single read is too often a sign or a shadow).",
    )
    line: tuple[tuple[float, float], tuple[float, float]] | None = Field(
        default=None,
        description="Optional counting line `[[x1, y1], [x2, y2]]`, normalised; a pass that crosses it gets "
        "direction `in` (left to right of the directed line as seen on the image) or `out`.",
    )
    max_gap_s: float = Field(
        default=1.0,
        ge=0.1,
        le=10,
        description="A tracked plate not seen for this long has left: its pass is voted and published.",
    )
    emit_on_cross: bool = Field(
        default=False,
        description="Publish a pass as soon as its vehicle crosses `line` (with `min_reads` reads), instead "
        "of when it has left the road region: about `max_gap_s` sooner at the centre (hotlist hits), voted "
        "over the reads so far. Needs `line`.",
    )
    location: str = Field(
        default="",
        max_length=200,
        description="What the read record says about the place (lane, direction, landmark), next to "
        "`node.location` and `node.site`.",
    )
    overview: bool = Field(
        default=True,
        description="Attach an overview image (the masked frame, downscaled) to police read records. Never "
        "for the `lez` profile, whatever this says.",
    )
    blur_occupants: bool = Field(
        default=True,
        description="Blur the estimated windscreen area above each plate in overview images (requirement 8).",
    )
    overview_width_px: int = Field(
        default=960, ge=160, le=1920, description="Width the overview image is scaled down to."
    )
    hit_clip_pre_s: float = Field(
        default=5.0,
        ge=0,
        le=120,
        description="A hit's event clip starts this long before the pass was first seen.",
    )
    hit_clip_post_s: float = Field(
        default=5.0,
        ge=0,
        le=120,
        description="A hit's event clip ends this long after the pass was last seen.",
    )
    hit_clip_queue: int = Field(
        default=16,
        ge=1,
        le=256,
        description="Hit clips waiting for their footage; a hit that finds the queue full says so (`clip: "
        "null` with the reason).",
    )
    hotlist_public_key_files: list[Path] = Field(
        default_factory=list,
        max_length=8,
        description="Ed25519 public keys (PEM) whose hotlist signatures are accepted (the controller's "
        "keys: police or LEZ). Empty: the keys of `commands.central_public_key_files`.",
    )
    hotlist_max_entries: int = Field(
        default=500_000, ge=1, le=5_000_000, description="Largest hotlist accepted, in entries."
    )
    hotlist_max_bytes: int = Field(
        default=160 * 1024 * 1024,
        ge=1024,
        le=1024**3,
        description="Largest hotlist accepted, in bytes of JSON. A list larger than "
        "`commands.max_request_bytes` arrives in parts (`hotlist_part`, docs/hotlists.md); this bounds "
        "each transfer's parts as well.",
    )
    hotlist_max_validity_days: float = Field(
        default=31.0, gt=0, le=366, description="A list valid for longer than this is refused."
    )
    hotlist_transfer_timeout_s: float = Field(
        default=3600.0,
        ge=60,
        le=86_400,
        description="A hotlist sent in parts must be complete and loaded (`set_hotlist` with its "
        "`transfer_id`) within this many seconds of its first part; older transfers are deleted with "
        "their parts at the next part and at start.",
    )

    _roi = field_validator("roi")(_check_polygon)

    @field_validator("line")
    @classmethod
    def _line_inside(
        cls, line: tuple[tuple[float, float], tuple[float, float]] | None
    ) -> tuple[tuple[float, float], tuple[float, float]] | None:
        if line is None:
            return None
        for x, y in line:
            if not (math.isfinite(x) and math.isfinite(y) and 0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
                raise ValueError(f"point ({x}, {y}) is outside the image; coordinates are normalised to 0..1")
        if line[0] == line[1]:
            raise ValueError("the counting line needs two distinct points")
        return line

    @field_validator("finer_look")
    @classmethod
    def _finer_look_enlarges(cls, factor: float) -> float:
        if 0.0 < factor <= 1.0:
            raise ValueError(f"finer_look {factor} does not look closer: 0 (never) or a factor above 1")
        return factor

    @model_validator(mode="after")
    def _emit_on_cross_needs_a_line(self) -> AnprConfig:
        if self.emit_on_cross and self.line is None:
            raise ValueError("emit_on_cross needs a counting line (anpr.line)")
        return self


# --------------------------------------------------------------------------------------------- root


class LoggingConfig(_Model):
    """Log output (to stderr; journald collects it under systemd)."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="Lowest level logged."
    )


class EdgeConfig(_Model):
    """The whole configuration file."""

    node: NodeConfig = Field(description="Identity of this node.")
    camera: CameraConfig = Field(description="Where frames come from; `type` selects the source.")
    privacy: PrivacyConfig = Field(default_factory=PrivacyConfig, description="Privacy masking.")
    pipeline: PipelineConfig = Field(default_factory=PipelineConfig, description="Queues and liveness.")
    storage: StorageConfig = Field(
        default_factory=StorageConfig, description="Recording, the ring buffer and retention."
    )
    mqtt: MqttConfig = Field(default_factory=MqttConfig, description="The central MQTT broker.")
    commands: CommandsConfig = Field(
        default_factory=CommandsConfig, description="Signed commands from the central system."
    )
    diagnostics: DiagnosticsConfig = Field(
        default_factory=DiagnosticsConfig, description="Technicians' diagnostics page and metrics."
    )
    anpr: AnprConfig = Field(default_factory=AnprConfig, description="Plate reading (ANPR); off by default.")
    logging: LoggingConfig = Field(default_factory=LoggingConfig, description="Logging.")


# ------------------------------------------------------------------------------------------ loading


def _format_location(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def format_validation_errors(exc: ValidationError) -> list[str]:
    """One line per error: the dotted path of the bad field, then what is wrong with it."""
    lines = []
    for err in exc.errors(include_url=False):
        # Drop discriminator tags pydantic inserts into the path (e.g. camera.synthetic.width).
        loc = tuple(err["loc"])
        if len(loc) >= 2 and loc[0] == "camera" and loc[1] in ("synthetic", "opencv", "picamera2"):
            loc = (loc[0], *loc[2:])
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key (not part of the schema; check the spelling)"
        elif err["type"] == "missing":
            msg = "required field is missing"
        elif msg.startswith("Value error, "):
            msg = msg.removeprefix("Value error, ")
        lines.append(f"{_format_location(loc)}: {msg}")
    return lines


def parse_config(data: object) -> EdgeConfig:
    """Validate already-parsed YAML. Raises ``ConfigError`` listing every problem."""
    if not isinstance(data, dict):
        raise ConfigError("the configuration must be a YAML mapping at the top level")
    try:
        return EdgeConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError("\n".join(format_validation_errors(exc))) from None


@dataclass(frozen=True, slots=True)
class LoadedConfig:
    """A configuration as the node starts with it: the YAML, and the remote override merged over it."""

    config: EdgeConfig
    """In force: the YAML with the override merged over it, or the YAML alone when there is none or it
    was refused (``override.error``)."""
    yaml_data: dict[str, Any] = field(hash=False)
    """The YAML as parsed, before the override; ``set_config`` validates its changes against it."""
    override: OverrideStatus


def load_config(path: Path) -> EdgeConfig:
    """Read and validate a configuration file, with the remote override (``set_config``) merged over it."""
    return load_config_layers(path).config


def load_config_layers(path: Path) -> LoadedConfig:
    """Read and validate the YAML, then merge ``<node.state_dir>/config-override.json`` over it.

    Raises ``ConfigError`` when the YAML itself is invalid. An unusable override does not stop the node:
    it is refused as a whole, ``override.error`` says why, and the YAML alone is in force."""
    data = _read_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError("the configuration must be a YAML mapping at the top level")
    base = parse_config(data)
    override_path = base.node.state_dir / OVERRIDE_NAME
    try:
        found = read_override(override_path)
    except OverrideError as exc:
        return LoadedConfig(base, data, OverrideStatus(override_path, error=str(exc)))
    if found is None or not found.values:
        return LoadedConfig(base, data, OverrideStatus(override_path))
    try:
        effective = parse_config(merged(data, found.values))
    except ConfigError as exc:
        problem = "; ".join(str(exc).splitlines())
        return LoadedConfig(base, data, OverrideStatus(override_path, error=f"{override_path}: {problem}"))
    return LoadedConfig(effective, data, OverrideStatus(override_path, dict(found.values)))


def _read_yaml(path: Path) -> object:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {_describe_yaml_error(exc)}") from None
    return data


class _StrictLoader(yaml.SafeLoader):
    """A safe loader that refuses repeated keys: PyYAML would silently keep the last one."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[object, object]:
        seen: set[object] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key '{key}'", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _describe_yaml_error(exc: yaml.YAMLError) -> str:
    # PyYAML's own text spans several lines, calls the file "<unicode string>" and quotes the offending
    # line, which may hold a stream URL: one line with position and problem is clearer and leaks nothing.
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        return (
            f"line {mark.line + 1}, column {mark.column + 1}: {exc.problem or exc.context or 'syntax error'}"
        )
    return " ".join(str(exc).split())
