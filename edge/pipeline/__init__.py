"""Threads and bounded queues between the stages: capture -> privacy -> fan-out to consumers."""

from edge.pipeline.consumer import ConsumerStage, FrameConsumer, QueuePolicy
from edge.pipeline.fanout import FanOut
from edge.pipeline.stats import StageStats, StageStatsSnapshot

__all__ = ["ConsumerStage", "FanOut", "FrameConsumer", "QueuePolicy", "StageStats", "StageStatsSnapshot"]
