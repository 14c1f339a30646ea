"""Edge cases for the fidelity bench, each read from the onnx-tensorrt parser source (file:line given).

Each case is a small ONNX model whose verdict depends on a restriction of the parser; ``bench/fidelity.py``
compares the support-matrix prediction with the real parser (TensorRT-RTX) on them. The line numbers refer to
onnx/onnx-tensorrt at the TensorRT 10.x release the file names (``main`` = the 10.15-era branch).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh

F, F16, BF16, I32, I64, B = T.FLOAT, T.FLOAT16, T.BFLOAT16, T.INT32, T.INT64, T.BOOL


@dataclass(frozen=True)
class Case:
    name: str
    source: str  # onnx-tensorrt file:line (and branch) the restriction comes from
    model: onnx.ModelProto


def _vi(name, dtype=F, shape=(1, 3, 8, 8)):
    return h.make_tensor_value_info(name, dtype, None if shape is None else list(shape))


def _init(name, array):
    return nh.from_array(np.asarray(array), name)


def _m(nodes, inputs, outputs, inits=(), opset=17):
    g = h.make_graph(nodes, "case", inputs, outputs, list(inits))
    m = h.make_model(g, opset_imports=[h.make_opsetid("", opset)])
    m.ir_version = 8 if opset <= 18 else 9
    return m


def _unary(op, dtype, shape=(2, 3), opset=17, **attrs):
    return _m([h.make_node(op, ["x"], ["y"], name=op.lower(), **attrs)], [_vi("x", dtype, shape)],
              [_vi("y", dtype, shape)], opset=opset)


def _pool(op, shape=(1, 1, 4, 4), dtype=F, **attrs):
    return _m([h.make_node(op, ["x"], ["y"], name=op.lower(), **attrs)], [_vi("x", dtype, shape)],
              [_vi("y", dtype, None)], opset=18)


def _resize(inputs, inits, opset=19, **attrs):
    names = ["x"] + [n for n, _ in inputs]
    return _m([h.make_node("Resize", names, ["y"], name="resize", **attrs)],
              [_vi("x", F, (1, 1, 4, 4))] + [v for _, v in inputs if v is not None], [_vi("y", F, None)],
              inits, opset=opset)


def _topk(**attrs):
    return _m([h.make_node("TopK", ["x", "k"], ["v", "i"], name="topk", **attrs)], [_vi("x", F, (1, 16))],
              [_vi("v", F, None), _vi("i", I64, None)], [_init("k", np.array([4], np.int64))])


def _lstm(**attrs):
    hidden = 3
    inits = [_init("W", np.zeros((1, 4 * hidden, 2), np.float32)),
             _init("R", np.zeros((1, 4 * hidden, hidden), np.float32))]
    return _m([h.make_node("LSTM", ["x", "W", "R"], ["y"], name="lstm", hidden_size=hidden, **attrs)],
              [_vi("x", F, (1, 5, 2))], [_vi("y", F, None)], inits)


def _unsqueeze_runtime_axes():
    return _m([h.make_node("Unsqueeze", ["x", "axes"], ["y"], name="unsqueeze")],
              [_vi("x", F, (3,)), _vi("axes", I64, (1,))], [_vi("y", F, None)])


def _mod(dtype, fmod):
    return _m([h.make_node("Mod", ["a", "b"], ["y"], name="mod", fmod=fmod)],
              [_vi("a", dtype, (3,)), _vi("b", dtype, (3,))], [_vi("y", dtype, None)])


def _if_constant(condition):
    then = h.make_graph([h.make_node("Unique", ["x"], ["t"], name="then/unique")], "then", [],
                        [_vi("t", F, None)])
    other = h.make_graph([h.make_node("Neg", ["x"], ["e"], name="else/neg")], "else", [], [_vi("e", F, (4,))])
    return _m([h.make_node("If", ["c"], ["y"], name="if", then_branch=then, else_branch=other)],
              [_vi("x", F, (4,))], [_vi("y", F, None)], [_init("c", np.array(condition))])


def _attention(k_shape, v_shape):
    return _m([h.make_node("Attention", ["q", "k", "v"], ["y"], name="attention")],
              [_vi("q", F, (1, 2, 4, 8)), _vi("k", F, k_shape), _vi("v", F, v_shape)], [_vi("y", F, None)],
              opset=23)


def _identity_weights_into_conv():
    """Conv weights through an Identity: a tensor for the parser, not weights (only initializers and Constant
    outputs are weights) -- the importer still takes it (it adds the kernel as a tensor input)."""
    w = _init("w", np.ones((2, 1, 3, 3), np.float32))
    return _m([h.make_node("Identity", ["w"], ["w2"], name="identity"),
               h.make_node("Conv", ["x", "w2"], ["y"], name="conv")], [_vi("x", F, (1, 1, 8, 8))],
              [_vi("y", F, None)], [w])


def _einsum(equation):
    return _m([h.make_node("Einsum", ["a", "b"], ["y"], name="einsum", equation=equation)],
              [_vi("a", F, (2, 3)), _vi("b", F, (3, 4))], [_vi("y", F, None)], opset=12)


def _batchnorm(training):
    c = 3
    inits = [_init(n, np.ones(c, np.float32)) for n in ("scale", "bias", "mean", "var")]
    outs = ["y", "running_mean", "running_var"] if training else ["y"]
    return _m([h.make_node("BatchNormalization", ["x", "scale", "bias", "mean", "var"], outs, name="batchnorm",
                           training_mode=training)],
              [_vi("x", F, (1, c, 4, 4))], [_vi(o, F, None) for o in outs], inits, opset=15)


def _squeeze_no_axes(shape):
    return _m([h.make_node("Squeeze", ["x"], ["y"], name="squeeze")], [_vi("x", F, shape)], [_vi("y", F, None)],
              opset=13)


def _loop_scan(trip_count: bool):
    body = h.make_graph(
        [h.make_node("Identity", ["cond_in"], ["cond_out"], name="body/cond"),
         h.make_node("Add", ["x", "x"], ["scan"], name="body/add")],
        "body", [_vi("i", I64, ()), _vi("cond_in", B, ())], [_vi("cond_out", B, ()), _vi("scan", F, (3,))])
    inits = [_init("cond", np.array(True))] + ([_init("M", np.array(4, np.int64))] if trip_count else [])
    return _m([h.make_node("Loop", ["M" if trip_count else "", "cond"], ["y"], name="loop", body=body)],
              [_vi("x", F, (3,))], [_vi("y", F, None)], inits, opset=13)


def _resize_sizes(**attrs):
    return _resize([("", None), ("", None), ("sizes", None)], [_init("sizes", np.array([1, 1, 8, 6], np.int64))],
                   opset=19, **attrs)


def _dq_int4(last_dim):
    w = nh.from_array(np.zeros((4, last_dim), np.int8), "w")
    w.data_type = T.INT4
    w.ClearField("raw_data")
    w.int32_data.extend([0] * ((4 * last_dim + 1) // 2))
    return _m([h.make_node("DequantizeLinear", ["w", "s"], ["y"], name="dequantize", axis=0)], [],
              [_vi("y", F, None)], [w, _init("s", np.ones(4, np.float32))], opset=21)


def _nonzero():
    return _m([h.make_node("NonZero", ["x"], ["y"], name="nonzero")], [_vi("x", F, (2, 3))], [_vi("y", I64, None)])


def _foreign(op, domain, attrs=None, function=False):
    """A node of another domain named like a builtin op (optionally a model-local function of that name)."""
    g = h.make_graph([h.make_node(op, ["x"], ["y"], name=op.lower(), domain=domain, **(attrs or {}))], "case",
                     [_vi("x", F, (2, 3))], [_vi("y", F, (2, 3))])
    fns = [h.make_function(domain, op, ["X"], ["Y"], [h.make_node("Tanh", ["X"], ["Y"])],
                           [h.make_opsetid("", 17)])] if function else []
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 17), h.make_opsetid(domain, 1)], functions=fns)
    m.ir_version = 8
    return m


def _function_einsum(equation):
    """A local function whose body Einsum takes its equation from the caller (``ref_attr_name``)."""
    eq = onnx.AttributeProto()
    eq.name, eq.ref_attr_name, eq.type = "equation", "eq", onnx.AttributeProto.STRING
    body = h.make_node("Einsum", ["A", "B"], ["Y"], name="body_einsum")
    body.attribute.append(eq)
    fn = h.make_function("local.fn", "MatMulByEinsum", ["A", "B"], ["Y"], [body], [h.make_opsetid("", 12)],
                         attributes=["eq"])
    g = h.make_graph([h.make_node("MatMulByEinsum", ["a", "b"], ["y"], name="call", domain="local.fn",
                                  eq=equation)], "case", [_vi("a", F, (2, 3)), _vi("b", F, (3, 4))],
                     [_vi("y", F, None)])
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 12), h.make_opsetid("local.fn", 1)], functions=[fn])
    m.ir_version = 8
    return m


def _dq_tensor(dtype, count):
    """DequantizeLinear of a network input (a tensor, not weights) of ``count`` elements."""
    return _m([h.make_node("DequantizeLinear", ["x", "s"], ["y"], name="dequantize")], [_vi("x", dtype, (count,))],
              [_vi("y", F, None)], [_init("s", np.array(0.1, np.float32))], opset=21)


def build_cases() -> list[Case]:
    """The cases; ``source`` is the file:line the real parser (TensorRT-RTX 1.7.1's onnx-tensorrt) reports
    for the restriction, or the importer that implements what the case checks."""
    cases: list[Case] = []
    add = lambda name, source, model: cases.append(Case(name, source, model))  # noqa: E731
    add("relu_int32", "importerUtils.cpp:60 checkNotInvalidType", _unary("Relu", I32))
    add("relu_int64", "importerUtils.cpp:60 checkNotInvalidType", _unary("Relu", I64))
    add("relu_int8", "importerUtils.cpp:60 checkNotInvalidType", _unary("Relu", T.INT8))
    add("hardswish_bf16", "onnxOpImporters.cpp importHardSwish (FLOAT, HALF, INT8 only)", _unary("HardSwish", BF16))
    add("lppool_p3", "onnxOpCheckers.cpp checkLpPool", _pool("LpPool", kernel_shape=[2, 2], p=3))
    add("lppool_p2", "onnxOpCheckers.cpp checkLpPool", _pool("LpPool", kernel_shape=[2, 2], p=2))
    add("lppool_bf16", "onnxOpImporters.cpp importLpPool", _pool("LpPool", dtype=BF16, kernel_shape=[2, 2], p=2))
    add("resize_antialias", "onnxOpCheckers.cpp:749 checkResize",
        _resize([("", None), ("scales", None)], [_init("scales", np.array([1, 1, 2, 2], np.float32))],
                mode="linear", antialias=1))
    add("resize_cubic", "onnxOpImporters.cpp importResize (cubic -> InterpolationMode::kCUBIC)",
        _resize([("", None), ("scales", None)], [_init("scales", np.array([1, 1, 2, 2], np.float32))],
                mode="cubic"))
    add("resize_scales_network_input", "onnxOpImporters.cpp importResize (scales as a shape tensor)",
        _resize([("", None), ("s", _vi("s", F, (4,)))], []))
    add("topk_unsorted", "onnxOpImporters.cpp importTopK (never reads `sorted`)", _topk(sorted=0))
    add("lstm_layout_1", "onnxOpImporters.cpp importLSTM (layout)", _lstm(layout=1))
    add("unsqueeze_runtime_axes", "onnxOpImporters.cpp importUnsqueeze", _unsqueeze_runtime_axes())
    add("mod_float_fmod0", "onnxOpImporters.cpp importMod", _mod(F, 0))
    add("mod_int_fmod0", "onnxOpImporters.cpp importMod", _mod(I32, 0))
    add("if_constant_false_bad_then", "onnxOpImporters.cpp importIf (constant condition: one branch)",
        _if_constant(False))
    add("if_constant_true_bad_then", "onnxOpImporters.cpp importIf (constant condition: one branch)",
        _if_constant(True))
    add("attention_kv_differ", "onnxOpImporters.cpp importAttention (IAttention: K and V same shape)",
        _attention((1, 2, 6, 8), (1, 2, 6, 16)))
    add("attention_kv_same", "onnxOpImporters.cpp importAttention", _attention((1, 2, 6, 8), (1, 2, 6, 8)))
    add("conv_weights_through_identity", "onnxOpImporters.cpp importConv (kernel weights or tensor)",
        _identity_weights_into_conv())
    add("maxpool_indices", "onnxOpCheckers.cpp:151 emptyOutputChecker",
        _m([h.make_node("MaxPool", ["x"], ["y", "i"], name="maxpool", kernel_shape=[2, 2])],
           [_vi("x", F, (1, 1, 4, 4))], [_vi("y", F, None), _vi("i", I64, None)]))
    add("bitshift", "onnxOpCheckers.cpp:1085 checkBitShift",
        _m([h.make_node("BitShift", ["a", "b"], ["y"], name="bitshift", direction="LEFT")],
           [_vi("a", T.UINT32, (3,)), _vi("b", T.UINT32, (3,))], [_vi("y", T.UINT32, None)]))
    add("einsum_uppercase", "onnxOpCheckers.cpp checkEinsum (letters a-z only)", _einsum("IJ,JK->IK"))
    add("einsum_lowercase", "onnxOpCheckers.cpp checkEinsum", _einsum("ij,jk->ik"))
    add("batchnorm_training", "onnxOpCheckers.cpp checkBatchNormalization (training_mode == 1)", _batchnorm(1))
    add("batchnorm_inference", "onnxOpCheckers.cpp checkBatchNormalization", _batchnorm(0))
    add("squeeze_no_axes_dynamic", "onnxOpImporters.cpp importSqueeze (no axes: shape must be static)",
        _squeeze_no_axes(("N", 1, 3)))
    add("squeeze_no_axes_static", "onnxOpImporters.cpp importSqueeze", _squeeze_no_axes((2, 1, 3)))
    add("loop_scan_no_trip_count", "onnxOpImporters.cpp importLoop (scan output without a trip limit)",
        _loop_scan(False))
    add("loop_scan_trip_count", "onnxOpImporters.cpp importLoop", _loop_scan(True))
    add("resize_keep_aspect_not_larger", "onnxOpCheckers.cpp checkResize (keep_aspect_ratio_policy)",
        _resize_sizes(keep_aspect_ratio_policy="not_larger"))
    add("resize_tf_crop_and_resize", "onnxOpCheckers.cpp checkResize (coordinate_transformation_mode)",
        _resize([("", None), ("scales", None)], [_init("scales", np.array([1, 1, 2, 2], np.float32))],
                coordinate_transformation_mode="tf_crop_and_resize"))
    add("dequantize_int4_odd", "onnxOpImporters.cpp QuantDequantLinearHelper (INT4: even last dimension)",
        _dq_int4(3))
    add("dequantize_int4_even", "onnxOpImporters.cpp QuantDequantLinearHelper", _dq_int4(4))
    add("nonzero", "onnxOpImporters.cpp importNonZero", _nonzero())
    add("foreign_domain_relu", "ModelImporter.cpp parseNode (builtin importer by op_type, any domain)",
        _foreign("Relu", "com.microsoft"))
    add("function_named_scaledtanh_no_attrs", "onnxOpImporters.cpp importScaledTanh (reads alpha, beta)",
        _foreign("ScaledTanh", "local.fn", function=True))
    add("function_named_scaledtanh_attrs", "onnxOpImporters.cpp importScaledTanh",
        _foreign("ScaledTanh", "local.fn", {"alpha": 1.0, "beta": 1.0}, function=True))
    add("function_own_name", "ModelImporter.cpp parseNode (then local function)",
        _foreign("MyTanh", "local.fn", function=True))
    add("function_body_einsum_uppercase", "onnxOpCheckers.cpp checkLocalFunctionImporter (body nodes checked)",
        _function_einsum("IJ,JK->IK"))
    add("function_body_einsum_lowercase", "onnxOpCheckers.cpp checkLocalFunctionImporter",
        _function_einsum("ij,jk->ik"))
    add("dequantize_uint8_network_input", "importerUtils.cpp checkNotInvalidType (UINT8 not from a Q)",
        _dq_tensor(T.UINT8, 4))
    return cases
