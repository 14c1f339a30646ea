"""Support analysis: which nodes TensorRT takes (parser or published support matrix) and the partitions."""

from .analysis import SOURCES, AnalysisCancelled, AnalysisJob, analyze, start_analysis
from .partition import MAC_OPS, Partition, partition
from .report import Disagreement, FoldingSummary, NodeVerdict, SupportReport, disagreements

__all__ = ["MAC_OPS", "SOURCES", "AnalysisCancelled", "AnalysisJob", "Disagreement", "FoldingSummary", "NodeVerdict",
           "Partition", "SupportReport", "analyze", "disagreements", "partition", "start_analysis"]
