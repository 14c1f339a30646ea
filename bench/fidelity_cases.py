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


def build_cases() -> list[Case]:
    cases: list[Case] = []
    add = lambda name, source, model: cases.append(Case(name, source, model))  # noqa: E731
    add("relu_int32", "importerUtils.cpp checkNotInvalidType (activationHelper: no INT32)", _unary("Relu", I32))
    add("hardswish_bf16", "onnxOpImporters.cpp importHardSwish", _unary("HardSwish", BF16))
    return cases
