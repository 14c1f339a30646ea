"""Whether a model is already quantized: a property of the model, asked by both backends before int8."""

from __future__ import annotations

from typing import Iterable

import onnx

#: the explicit-quantization pair TensorRT and ONNX Runtime fuse into int8 kernels
QDQ_OPS = frozenset({"QuantizeLinear", "DequantizeLinear"})
#: ops that only exist in a quantized model (Q/DQ, or ONNX Runtime's QLinear / Integer operator format)
QUANTIZED_OPS = QDQ_OPS | {"QLinearConv", "QLinearMatMul", "ConvInteger", "MatMulInteger", "DynamicQuantizeLinear"}


def _nodes(graph: onnx.GraphProto) -> Iterable[onnx.NodeProto]:
    """Every node of ``graph``, the bodies of its If/Loop/Scan nodes included."""
    for node in graph.node:
        yield node
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                yield from _nodes(attr.g)
            elif attr.type == onnx.AttributeProto.GRAPHS:
                for body in attr.graphs:
                    yield from _nodes(body)


def has_qdq(proto: onnx.ModelProto) -> bool:
    """Whether the model is already quantized: Q/DQ nodes, or QLinear/Integer ops, in its graph, the bodies
    of its control-flow nodes or its local functions (quantizing it again would quantize twice)."""
    if any(node.op_type in QUANTIZED_OPS for node in _nodes(proto.graph)):
        return True
    return any(node.op_type in QUANTIZED_OPS for function in proto.functions for node in function.node)


__all__ = ["QDQ_OPS", "QUANTIZED_OPS", "has_qdq"]
