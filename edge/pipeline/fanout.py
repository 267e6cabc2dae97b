"""Hands each masked frame to every consumer stage according to its queue policy."""

from __future__ import annotations

from collections.abc import Sequence

from edge.pipeline.consumer import ConsumerStage
from edge.types import MaskedFrame


class FanOut:
    """Typed so that only ``MaskedFrame`` objects can be published to consumers."""

    def __init__(self, stages: Sequence[ConsumerStage]) -> None:
        self._stages = tuple(stages)

    @property
    def stages(self) -> tuple[ConsumerStage, ...]:
        return self._stages

    def publish(self, frame: MaskedFrame) -> None:
        if not isinstance(frame, MaskedFrame):  # belt and braces for callers outside mypy's reach
            raise TypeError(f"only MaskedFrame objects may reach consumers, got {type(frame).__name__}")
        for stage in self._stages:
            stage.offer(frame)
