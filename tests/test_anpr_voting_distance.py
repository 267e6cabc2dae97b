"""The text distances the tracker's gates use: whole-text edits and how far one read is from being a part
of another."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from edge.anpr.voting import edit_distance, is_part, part_distance

TEXT = st.text(alphabet="ABC0123", max_size=9)


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [
        ("SI342", "1MSI342", 0),  # the tail of the plate
        ("1MSI342", "SI342", 0),  # either order
        ("1MSI", "1MSI342", 0),  # the head
        ("IH32", "1MSI342", 2),  # a part, misread twice
        ("T36Z", "VFT56Z", 1),
        ("81H5I342", "1MSI342", 2),  # a glyph too many in front, one misread
        ("2QSI528", "1FTT980", 3),  # another plate (capped)
        ("", "ABC", 0),
    ],
)
def test_part_distance(a: str, b: str, distance: int) -> None:
    assert part_distance(a, b) == distance


@pytest.mark.parametrize(
    ("a", "b", "part"),
    [
        ("SI342", "1MSI342", True),
        ("IH32", "1MSI342", True),  # four characters: two edits allowed
        ("335", "1MSI342", False),  # three characters: one edit allowed, two needed
        ("342", "1MSI342", True),
        ("E4IM", "1MSI342", False),
        ("2HEI057", "1MD687", False),
    ],
)
def test_is_part(a: str, b: str, part: bool) -> None:
    assert is_part(a, b) is part


@given(TEXT, TEXT)
@example("0011", "0101")  # as long as each other: either could be taken as the part
def test_part_distance_is_symmetric_and_never_more_than_the_edit_distance(a: str, b: str) -> None:
    assert part_distance(a, b) == part_distance(b, a)
    assert part_distance(a, b) <= edit_distance(a, b)
    assert (part_distance(a, b) == 0) == (a in b or b in a)
