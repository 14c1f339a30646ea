"""Support analysis: which nodes TensorRT takes (parser or published support matrix) and the partitions."""

from .analysis import SOURCES, AnalysisCancelled, AnalysisJob, analyze, start_analysis
from .assignment import EpAssignment, NodeAssignment
from .partition import MAC_OPS, Partition, partition
from .report import Disagreement, FoldingSummary, NodeVerdict, SupportReport, disagreements
from .subgraphs import ExportedSubgraph, export_subgraphs

__all__ = ["MAC_OPS", "SOURCES", "AnalysisCancelled", "AnalysisJob", "Disagreement", "EpAssignment", "ExportedSubgraph",
           "FoldingSummary", "NodeAssignment", "NodeVerdict", "Partition", "SupportReport", "analyze", "disagreements",
           "export_subgraphs", "partition", "start_analysis"]
