"""The model cards' target table: each figure with whether it meets issue #6's target."""

from __future__ import annotations

from models.training.cards import _measured
from tests.anpr_offline import PassAccuracy


def test_figures_are_marked_met_or_not_against_their_targets() -> None:
    street = {"top1": 0.891, "median_ms": 6.3}
    crops = {"top1": 0.895}
    passes = PassAccuracy(width=1920, seconds=240.0, eligible=66, correct=65)
    out = _measured({"eu-street": street, "be-crops": crops}, passes)
    assert out["eu-street"] == "**0.891** (met)"
    assert out["median"] == "**6.3 ms** (met)"
    assert out["be-crops"] == "0.895 (**not met**)"
    assert out["passes"] == "**65 / 66 = 98.5% over 240 s** (met)"
    slow = _measured({"eu-street": {"top1": 0.84, "median_ms": 15.5}}, None)
    assert slow["eu-street"] == "0.840 (**not met**)"
    assert slow["median"] == "15.5 ms (**not met**)"


def test_figures_not_measured_say_so() -> None:
    out = _measured({}, None)
    assert set(out.values()) == {"not measured"}
    empty = PassAccuracy(width=1920, seconds=10.0)
    assert _measured({}, empty)["passes"] == "not measured"
