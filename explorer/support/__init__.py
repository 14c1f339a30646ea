"""Support analysis: which nodes TensorRT takes (parser or published support matrix) and the partitions."""

from .analysis import analyze
from .partition import MAC_OPS, Partition, partition
from .report import FoldingSummary, NodeVerdict, SupportReport

__all__ = ["MAC_OPS", "FoldingSummary", "NodeVerdict", "Partition", "SupportReport", "analyze", "partition"]
