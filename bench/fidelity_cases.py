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
    return cases
