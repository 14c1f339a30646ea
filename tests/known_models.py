"""Small models built by the tests for one known fact each (no download; written where a test asks)."""

from __future__ import annotations

from pathlib import Path

import onnx
from onnx import TensorProto, helper

#: the node on which the support-matrix prediction (TensorRT's) and TensorRT-RTX's real parser disagree
RTX_DIFFERENCE_NODE = "mask/nonzero"


def write_rtx_difference_model(path: Path) -> Path:
    """Conv-free little graph with one NonZero: TensorRT's parser imports NonZero through its NonZero plugin,
    TensorRT-RTX has no such plugin, so the prediction (TensorRT's) says supported and the real TensorRT-RTX
    parser says unsupported -- a disagreement by design (``TENSORRT_RTX.differs_by_design``)."""
    vi = helper.make_tensor_value_info
    nodes = [helper.make_node("Relu", ["x"], ["r"], name="body/relu"),
             helper.make_node("Sigmoid", ["r"], ["y"], name="body/sigmoid"),
             helper.make_node("NonZero", ["r"], ["idx"], name=RTX_DIFFERENCE_NODE)]
    graph = helper.make_graph(nodes, "rtx_difference", [vi("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [vi("y", TensorProto.FLOAT, [1, 3, 8, 8]), vi("idx", TensorProto.INT64, [4, None])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return Path(path)
