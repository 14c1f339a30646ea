"""A model-local function's body as the parser sees it at one call site.

TensorRT's parser inlines a local function (onnx-tensorrt ``LocalFunctionImporter``): each body node is imported
like any other node, with the caller's attribute values and the caller's input tensors. :func:`instantiate`
builds that body as a small explorer :class:`~explorer.model.ir.Model` (pure Python: no ONNX C++ runs), so the
support rules can judge it node by node. Tensor types are known for the function's inputs (the caller's);
types inside the body are not inferred.
"""

from __future__ import annotations

import onnx
from onnx import helper

from .ir import Graph, Model, Node

__all__ = ["instantiate"]


def instantiate(model: Model, node: Node, graph: Graph, dtype_of, shape_of) -> Model | None:
    """The body of the function ``node`` calls, with the call's attributes bound and its input types; None when
    the model has no body for it. ``dtype_of(name)``/``shape_of(name)`` read the caller's tensors."""
    info = model.functions.get((node.domain, node.op_type))
    if info is None or info.proto is None:
        return None
    fn = info.proto
    bound = {a.name: a for a in (node.proto.attribute if node.proto is not None else ())}
    defaults = {a.name: a for a in fn.attribute_proto}
    nodes = [_bind(n, bound, defaults) for n in fn.node]
    inputs = []
    for i, name in enumerate(fn.input):
        outer = node.inputs[i] if i < len(node.inputs) else ""
        dtype = dtype_of(outer) if outer else None
        shape = shape_of(outer) if outer else None
        elem = onnx.TensorProto.DataType.Value(dtype) if dtype in onnx.TensorProto.DataType.keys() else 0
        dims = None if shape is None else [d if isinstance(d, int) else (d if isinstance(d, str) else None)
                                           for d in shape]
        inputs.append(helper.make_tensor_value_info(name, elem, dims))
    outputs = [helper.make_empty_tensor_value_info(name) for name in fn.output]
    body = helper.make_graph(nodes, f"{info.domain}::{info.name}" if info.domain else info.name, inputs, outputs)
    opsets = list(fn.opset_import) or [helper.make_opsetid(d, v) for d, v in model.opsets.items()]
    proto = helper.make_model(body, opset_imports=opsets, functions=[f.proto for f in model.functions.values()
                                                                        if f.proto is not None])
    proto.ir_version = model.ir_version or proto.ir_version
    from .loader import load_model

    return load_model(proto, infer_shapes=False)


def _bind(node: onnx.NodeProto, bound: dict, defaults: dict) -> onnx.NodeProto:
    """A copy of a body node whose attribute references (``ref_attr_name``) carry the caller's values."""
    if not any(a.ref_attr_name for a in node.attribute):
        return node
    out = onnx.NodeProto()
    out.CopyFrom(node)
    del out.attribute[:]
    for a in node.attribute:
        if not a.ref_attr_name:
            out.attribute.append(a)
            continue
        value = bound.get(a.ref_attr_name) or defaults.get(a.ref_attr_name)
        if value is None:
            continue  # the caller did not set it and the function has no default: the op's own default
        copy = onnx.AttributeProto()
        copy.CopyFrom(value)
        copy.name = a.name
        out.attribute.append(copy)
    return out
