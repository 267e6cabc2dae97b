"""Shared fixtures: a real mosquitto broker and the synthetic camera with a fixed seed."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from tests.broker import Broker

# Hypothesis: `make test` runs the quick profile (100 examples, Hypothesis' default; tests that set their
# own max_examples keep it); `make soak` runs the property tests under "soak" (FUZZ_EXAMPLES examples).
settings.register_profile("quick", max_examples=100)
settings.register_profile(
    "soak", max_examples=int(os.environ.get("FUZZ_EXAMPLES", "100000")), deadline=None, print_blob=True
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "quick"))


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    """A private mosquitto on a random loopback port; tests may stop() and restart() it."""
    b = Broker(tmp_path)
    b.start()
    yield b
    b.stop()
