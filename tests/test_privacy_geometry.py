"""Mask geometry: every valid polygon covered, nothing else touched; the ANPR overlap rule; the mask id."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from edge.privacy import AppliedMasks, MaskSet, MaskSetError, Polygon, box_overlaps_masks
from edge.privacy.geometry import ViewTransform
from edge.privacy.masks import validate_mask_set
from tests.fuzzing import examples
from tests.test_privacy_scene import demo_masks

DEMO_MASKS = demo_masks()

FILL = (250, 1, 2)


@st.composite
def star_polygons(draw: st.DrawFn) -> tuple[tuple[float, float], ...]:
    """Simple polygons of any shape: sorted angles around a centre, each at its own radius."""
    n = draw(st.integers(3, 12))
    cx, cy = draw(st.floats(0.05, 0.95)), draw(st.floats(0.05, 0.95))
    angles = sorted(
        draw(st.lists(st.floats(0, 2 * math.pi, exclude_max=True), min_size=n, max_size=n, unique=True))
    )
    radii = draw(st.lists(st.floats(0.01, 0.7), min_size=n, max_size=n))
    return tuple(
        (min(1.0, max(0.0, cx + r * math.cos(a))), min(1.0, max(0.0, cy + r * math.sin(a))))
        for a, r in zip(angles, radii, strict=True)
    )


@settings(
    max_examples=examples(60), deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    polygons=st.lists(star_polygons(), min_size=1, max_size=3),
    mode=st.sampled_from(["solid", "pixelate", "blur"]),
    size=st.sampled_from([(64, 36), (97, 61), (160, 90)]),
    seed=st.integers(0, 2**16),
)
def test_any_valid_polygon_is_covered_and_nothing_else_changes(
    polygons: list[tuple[tuple[float, float], ...]], mode: str, size: tuple[int, int], seed: int
) -> None:
    masks = MaskSet(tuple(Polygon(f"p{i}", p) for i, p in enumerate(polygons)), mode=mode, fill_bgr=FILL)  # type: ignore[arg-type]
    try:
        validate_mask_set(masks)
    except MaskSetError:
        assume(False)  # clamping to the frame can make a polygon degenerate or self-touching
    width, height = size
    original = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    pixels = original.copy()
    masks.burn(pixels)
    covered = masks.coverage(width, height)
    assert (pixels[~covered] == original[~covered]).all()
    if mode == "solid":
        assert (pixels[covered] == FILL).all()
    # Every pixel whose centre lies inside a polygon by at least one pixel is covered.
    ys, xs = np.mgrid[0:height, 0:width]
    centres = np.stack([xs.ravel() + 0.5, ys.ravel() + 0.5], axis=1)
    for points in polygons:
        contour = np.array([(x * width, y * height) for x, y in points], np.float64)
        inside = (_depth_inside(contour, centres) >= 1.0).reshape(height, width)
        assert covered[inside].all()


def _depth_inside(contour: np.ndarray, points: np.ndarray) -> np.ndarray:
    """How deep each point lies inside a simple polygon (0 outside): ray crossings and distance to the edges.

    Independent of OpenCV's rasteriser, which the masks use; vectorised over the points.
    """
    a = contour
    b = np.roll(contour, -1, axis=0)
    px, py = points[:, 0:1], points[:, 1:2]  # (N, 1) against (E,) edges
    ax, ay, bx, by = a[:, 0], a[:, 1], b[:, 0], b[:, 1]
    straddles = (ay > py) != (by > py)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_at = ax + (py - ay) * (bx - ax) / (by - ay)
    inside = (np.count_nonzero(straddles & (px < x_at), axis=1) % 2) == 1
    dx, dy = bx - ax, by - ay
    length2 = np.maximum(dx * dx + dy * dy, 1e-12)
    t = np.clip(((px - ax) * dx + (py - ay) * dy) / length2, 0.0, 1.0)
    distance = np.hypot(px - (ax + t * dx), py - (ay + t * dy)).min(axis=1)
    return np.where(inside, distance, 0.0)


def test_overlapping_masks_cover_their_overlap() -> None:
    # One fillPoly call over several polygons uses the even-odd rule and would leave overlaps unmasked.
    a = Polygon("a", ((0.1, 0.1), (0.6, 0.1), (0.6, 0.6), (0.1, 0.6)))
    b = Polygon("b", ((0.4, 0.4), (0.9, 0.4), (0.9, 0.9), (0.4, 0.9)))
    for mode in ("solid", "pixelate", "blur"):
        masks = MaskSet((a, b), mode=mode, fill_bgr=FILL)
        assert masks.coverage(100, 100)[50, 50]
    pixels = np.full((100, 100, 3), 9, np.uint8)
    MaskSet((a, b), fill_bgr=FILL).burn(pixels)
    assert (pixels[50, 50] == FILL).all()


def test_a_warp_adds_the_moved_masks_to_the_configured_ones() -> None:
    masks = MaskSet((Polygon("a", ((0.2, 0.2), (0.4, 0.2), (0.4, 0.4), (0.2, 0.4))),))
    moved = ViewTransform(m02=0.3)  # 30 % of the width to the right
    base = masks.coverage(200, 100)
    both = masks.coverage(200, 100, moved)
    assert both[30, 60] and both[30, 120] and not base[30, 120]
    assert both.sum() == 2 * base.sum()


# ------------------------------------------------------------------------------------------------ ANPR


def test_a_plate_touching_a_mask_is_never_read() -> None:
    masks = demo_masks()
    shop = np.array(masks.polygons[0].points) * (1280, 720)
    x0, y0 = shop.min(axis=0)
    x1, y1 = shop.max(axis=0)
    inside = (x0 + x1) / 2, (y0 + y1) / 2
    assert box_overlaps_masks((inside[0] - 20, inside[1] - 5, 40, 10), masks, 1280, 720)
    assert not box_overlaps_masks((900, 600, 60, 15), masks, 1280, 720)  # on the road
    # A quad straddling the shop front's bottom-right corner: half its area is outside, it is still refused.
    corner = shop[np.argmax(shop[:, 0] + shop[:, 1])]
    quad = [
        (corner[0] - 10, corner[1] - 4),
        (corner[0] + 30, corner[1] - 4),
        (corner[0] + 30, corner[1] + 8),
        (corner[0] - 10, corner[1] + 8),
    ]
    assert box_overlaps_masks(quad, masks, 1280, 720)
    assert not box_overlaps_masks((2000, 2000, 10, 10), masks, 1280, 720)  # outside the frame
    assert not box_overlaps_masks((10, 10, 40, 10), MaskSet(()), 1280, 720)


def test_the_overlap_rule_follows_the_drift_compensation() -> None:
    masks = MaskSet((Polygon("a", ((0.1, 0.1), (0.2, 0.1), (0.2, 0.2), (0.1, 0.2))),))
    box = (330, 60, 20, 10)  # 0.33 of the width: right of the mask as configured
    assert not box_overlaps_masks(box, masks, 1000, 500)
    assert box_overlaps_masks(box, AppliedMasks(masks, ViewTransform(m02=0.2)), 1000, 500)


@settings(max_examples=examples(40), deadline=None, database=None)
@given(
    x=st.floats(-50, 400),
    y=st.floats(-50, 250),
    w=st.floats(1, 120),
    h=st.floats(1, 60),
)
def test_the_overlap_rule_agrees_with_the_burned_pixels(x: float, y: float, w: float, h: float) -> None:
    masks = DEMO_MASKS
    width, height = 320, 180
    plate = np.zeros((height, width), np.uint8)
    corners = np.array([(x, y), (x + w, y), (x + w, y + h), (x, y + h)])
    cv2.fillPoly(plate, [np.round(corners * 16).astype(np.int32)], 255, cv2.LINE_8, 4)
    expected = bool((plate.astype(bool) & masks.coverage(width, height)).any())
    assert box_overlaps_masks((x, y, w, h), masks, width, height) is expected


def test_a_malformed_plate_is_an_error() -> None:
    with pytest.raises(ValueError, match="no area"):
        box_overlaps_masks((10, 10, 0, 5), demo_masks(), 320, 180)
    with pytest.raises(ValueError, match="corner points"):
        box_overlaps_masks([(1.0, 2.0), (3.0, 4.0)], demo_masks(), 320, 180)


# --------------------------------------------------------------------------------------------- mask id


def test_the_mask_id_covers_geometry_mode_fill_and_reference() -> None:
    base = demo_masks()
    assert base.mask_id == demo_masks().mask_id and base.mask_id.startswith("m1-")
    renamed = MaskSet(tuple(Polygon(p.name.upper(), p.points) for p in base.polygons))
    assert renamed.mask_id == base.mask_id
    variants = [
        demo_masks(fill_bgr=(1, 1, 1)),
        demo_masks(mode="blur"),
        MaskSet(base.polygons[1:]),
        MaskSet(
            (
                Polygon("x", tuple((x, min(1.0, y + 1e-4)) for x, y in base.polygons[0].points)),
                *base.polygons[1:],
            )
        ),
        MaskSet(base.polygons, reference_id="r1-0123456789abcdef"),
    ]
    ids = {v.mask_id for v in variants}
    assert len(ids) == len(variants) and base.mask_id not in ids
    assert MaskSet(()).mask_id == "none"


def test_view_transforms_compose_and_decompose() -> None:
    m = cv2.getRotationMatrix2D((320, 180), -2.0, 1.05)
    m[0, 2] += 12.8
    t = ViewTransform.from_pixel_matrix(m, 640)
    motion = t.motion(360 / 640)
    assert motion.rotation_deg == pytest.approx(2.0)
    assert motion.scale == pytest.approx(1.05)
    assert motion.shift_x_share == pytest.approx(0.02) and motion.shift_y_share == pytest.approx(
        0.0, abs=1e-12
    )
    assert np.allclose(t.pixel_matrix(1920), np.array(m) * [[1, 1, 3], [1, 1, 3]])
    back = ViewTransform.from_pixel_matrix(cv2.invertAffineTransform(m), 640)
    assert t.then(back).max_displacement_share(0.5625) == pytest.approx(0.0, abs=1e-9)
