"""Layer fusions: predicted from TensorRT's documented patterns, and compared with a real engine.

    from explorer.fusions import predict_fusions, compare_with_engine
    groups = predict_fusions(model)                      # before any build
    score = compare_with_engine(groups, "m.graph.json", model)

What a built engine actually fused comes from :mod:`explorer.engine` (layer names and metadata mapped
back to ONNX nodes).
"""

from .compare import Exclusion, FusionComparison, compare_with_engine, engine_groups
from .predict import FusionGroup, predict_fusions

__all__ = ["Exclusion", "FusionComparison", "FusionGroup", "compare_with_engine", "engine_groups", "predict_fusions"]
