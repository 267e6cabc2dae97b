"""Shared fixtures: a real mosquitto broker and the synthetic camera with a fixed seed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.broker import Broker


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    """A private mosquitto on a random loopback port; tests may stop() and restart() it."""
    b = Broker(tmp_path)
    b.start()
    yield b
    b.stop()
