"""Shared test helpers: paths to sample models and TensorRT fixtures, and a tiny ONNX model builder."""

from __future__ import annotations

import os
from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "sample_models"
# Real trtexec exports (A100, ResNet-18 fp32/fp16/QAT) copied from ../shared/fixtures/trt with their README.
os.environ.setdefault("EXPLORER_FIXTURES", str(REPO / "tests" / "fixtures" / "trt"))
FIXTURES = Path(os.environ["EXPLORER_FIXTURES"])


def tiny_model(nodes, inputs, outputs, initializers=(), opset=17, functions=(), extra_opsets=()):
    """Build a ModelProto from onnx.helper pieces; inputs/outputs are (name, elem_type, shape) tuples."""
    graph = helper.make_graph(
        nodes, "test",
        [helper.make_tensor_value_info(n, t, s) for n, t, s in inputs],
        [helper.make_tensor_value_info(n, t, s) for n, t, s in outputs],
        initializer=list(initializers))
    opsets = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, v) for d, v in extra_opsets]
    model = helper.make_model(graph, opset_imports=opsets, functions=list(functions))
    model.ir_version = 9
    return model


def chain(ops, shape=(1, 4), dtype=TensorProto.FLOAT):
    """A linear chain x -> op0 -> op1 -> ... with unary ops (or (op, attrs) pairs)."""
    nodes, prev = [], "x"
    for i, op in enumerate(ops):
        attrs = {}
        if isinstance(op, tuple):
            op, attrs = op
        out = f"t{i}"
        nodes.append(helper.make_node(op, [prev], [out], name=f"{op}_{i}", **attrs))
        prev = out
    return tiny_model(nodes, [("x", dtype, list(shape))], [(prev, dtype, None)])


@pytest.fixture
def samples() -> Path:
    return SAMPLES


@pytest.fixture
def fixtures_dir() -> Path:
    if not FIXTURES.is_dir():
        pytest.skip(f"TensorRT fixtures not found at {FIXTURES} (set EXPLORER_FIXTURES)")
    return FIXTURES


__all__ = ["REPO", "SAMPLES", "FIXTURES", "tiny_model", "chain", "TensorProto", "helper", "onnx"]
