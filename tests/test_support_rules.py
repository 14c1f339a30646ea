"""Support-matrix parsing and the per-node rules that predict what TensorRT's ONNX parser takes.

Every rule family has a violating and a valid tiny model, built with onnx.helper and loaded through the
public path (``explorer.load_model``), so the rules see exactly what the analysis sees.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh

from explorer import ExplorerError, load_model
from explorer.support.matrix import available_versions, load_matrix
from explorer.support.rules import (FOLDABLE, RUNTIME, WEIGHTS, Judgement, check_opset, constness,
                                    is_build_time_constant, judge, judge_graph)

pytestmark = pytest.mark.filterwarnings("ignore::explorer.ExplorerWarning")

REPO = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------------------------- helpers

def vi(name, dtype, shape):
    return h.make_tensor_value_info(name, dtype, shape)


def init(name, array):
    return nh.from_array(np.asarray(array), name)


def build(nodes, inputs, outputs, inits=(), opset=17, functions=(), domains=(), value_info=()):
    graph = h.make_graph(nodes, "t", inputs, outputs, initializer=list(inits), value_info=list(value_info))
    opsets = [h.make_opsetid("", opset)] + [h.make_opsetid(d, 1) for d in domains]
    model = h.make_model(graph, opset_imports=opsets, functions=list(functions))
    model.ir_version = 10
    return load_model(model)


def verdict(model, node_id, version="10.15") -> Judgement:
    j = judge(model.graph.by_id[node_id], model.graph, model, load_matrix(version))
    if not j.supported:
        assert j.reasons, "an unsupported verdict must say why"
    return j


def text(j: Judgement) -> str:
    return " | ".join(j.reasons + j.caveats + j.warnings)


def unary(op, dtype=T.FLOAT, shape=(1, 4), opset=17, **attrs):
    return build([h.make_node(op, ["x"], ["y"], name="n", **attrs)], [vi("x", dtype, list(shape))],
                 [vi("y", dtype, None)], opset=opset)


# --------------------------------------------------------------------------------------- the matrices

def test_available_versions():
    assert available_versions() == ["10.1", "10.15", "11.x"]


@pytest.mark.parametrize("version, yes, no, lo, hi", [("10.1", 150, 46, 9, 20), ("10.15", 158, 42, 9, 24),
                                                      ("11.x", 158, 42, 9, 24)])
def test_matrix_counts_and_opset_range(version, yes, no, lo, hi):
    m = load_matrix(version)
    assert (len(m.supported_operators), len(m.unsupported_operators)) == (yes, no)
    assert (m.opset_min, m.opset_max) == (lo, hi)
    assert m.source_label == f"support-matrix {m.version} (prediction)"
    assert m.io_only_types == frozenset({"UINT8"})
    assert {"INT8", "INT4", "FLOAT8E4M3FN"} <= m.quantized_types


def test_types_are_normalised_to_onnx_names():
    m10, m15 = load_matrix("10.1"), load_matrix("10.15")
    assert m15.operators["Conv"].types == {"FLOAT", "FLOAT16", "BFLOAT16"}
    assert "INT64" in m10.operators["ConstantOfShape"].types  # "INF64" typo in the 10.1 file
    assert {"INT8", "INT4", "FLOAT4E2M1", "FLOAT8E4M3FN"} <= m15.operators["DequantizeLinear"].types
    assert "FLOAT4E2M1" not in m10.operators["DequantizeLinear"].types
    assert m15.operators["Cast"].types >= {"UINT8", "BOOL", "INT64"}
    assert m10.operators["Selu"].types == {"FLOAT", "FLOAT16", "BFLOAT16"}  # trailing comma in the file
    assert "FLOAT4E2M1" in m15.quantized_types and "FLOAT4E2M1" not in m10.quantized_types
    assert "half_pixel" in m15.operators["Resize"].restrictions and "<br" not in m10.operators["Resize"].restrictions


def test_version_between_published_ones_uses_the_older_matrix_and_says_so():
    m = load_matrix("10.8")
    assert m.version == "10.1" and m.requested == "10.8"
    assert "10.8" in m.note and "10.1" in m.note
    full = load_matrix("10.16.1.11")
    assert full.version == "10.15" and "10.16" in full.note
    assert load_matrix("10.0").version == "10.1"
    assert load_matrix("10.15").note == "" and load_matrix("10.15.1.29").version == "10.15"


def test_11x_is_the_1015_matrix_labelled_and_explained():
    m = load_matrix("11.4")
    assert m.version == "11.x based on 10.15"
    assert m.source_label == "support-matrix 11.x based on 10.15 (prediction)"
    assert "10.15" in m.note and "strongly typed" in m.note
    assert m.strongly_typed and not load_matrix("10.15").strongly_typed
    assert m.operators == load_matrix("10.15").operators
    assert load_matrix(None).version == "10.15"  # newest published
    assert load_matrix("11.x") is load_matrix("11.x")  # cached


@pytest.mark.parametrize("bad", ["9.0", "12.1", "abc", "", "10.x.1", 10.15, ["10.15"]])
def test_unknown_version_raises_explorer_error_listing_versions(bad):
    with pytest.raises(ExplorerError) as err:
        load_matrix(bad)
    assert "10.1, 10.15, 11.x" in str(err.value)


# --------------------------------------------------------------------------- operators and domains

def test_custom_domain_needs_a_plugin_and_ort_ops_say_where_they_come_from():
    m = build([h.make_node("MyOp", ["x"], ["a"], name="custom", domain="com.example"),
               h.make_node("FusedConv", ["a"], ["y"], name="ort", domain="com.microsoft")],
              [vi("x", T.FLOAT, [1, 4])], [vi("y", T.FLOAT, None)], domains=("com.example", "com.microsoft"))
    assert "custom operator com.example::MyOp needs a TensorRT plugin" in text(verdict(m, "custom"))
    assert "ONNX Runtime" in text(verdict(m, "ort"))


def test_tensorrt_plugin_names_are_supported_with_a_caveat():
    m = build([h.make_node("EfficientNMS_TRT", ["x"], ["y"], name="nms", domain="TRT")],
              [vi("x", T.FLOAT, [1, 4])], [vi("y", T.FLOAT, None)], domains=("TRT",))
    j = verdict(m, "nms")
    assert j.supported and "plugin" in j.caveats[0]


def _function(name, ops):
    nodes = []
    prev = "fx"
    for i, op in enumerate(ops):
        nodes.append(h.make_node(op, [prev], [f"f{i}"]))
        prev = f"f{i}"
    nodes.append(h.make_node("Identity", [prev], ["fy"]))
    return h.make_function("local", name, ["fx"], ["fy"], nodes, [h.make_opsetid("", 17)])


def test_model_local_functions_are_judged_by_their_body_ops():
    m = build([h.make_node("Good", ["x"], ["a"], name="good", domain="local"),
               h.make_node("Bad", ["a"], ["y"], name="bad", domain="local")],
              [vi("x", T.FLOAT, [1, 4])], [vi("y", T.FLOAT, None)],
              functions=[_function("Good", ["Relu", "Tanh"]), _function("Bad", ["Relu", "Unique"])],
              domains=("local",))
    good, bad = verdict(m, "good"), verdict(m, "bad")
    assert good.supported and "inlines" in good.caveats[0]
    assert not bad.supported and "Unique" in bad.reasons[0] and "local::Bad" in bad.reasons[0]


def test_operator_marked_n_or_absent_is_unsupported_with_the_matrix_note():
    j = verdict(unary("Unique", shape=(6,)), "n")
    assert not j.supported and j.reasons == ["Unique is not supported by TensorRT 10.15"]
    dq = build([h.make_node("DynamicQuantizeLinear", ["x"], ["y", "s", "z"], name="n")],
               [vi("x", T.FLOAT, [4])], [vi("y", T.UINT8, None), vi("s", T.FLOAT, None), vi("z", T.UINT8, None)])
    assert "model local function" in text(verdict(dq, "n"))
    swish = unary("Swish", opset=24)
    assert "not in the TensorRT 10.15 operator support matrix" in text(verdict(swish, "n"))
    assert "TensorRT 11.x (support matrix 10.15)" in text(verdict(swish, "n", "11.x"))
    assert verdict(unary("Relu"), "n") == Judgement(True, [], [])


# ---------------------------------------------------------------------------------------- data types

def test_unlisted_type_is_rejected_and_double_only_warns():
    mm = build([h.make_node("MatMul", ["a", "b"], ["y"], name="n")],
               [vi("a", T.INT64, [2, 2]), vi("b", T.INT64, [2, 2])], [vi("y", T.INT64, None)])
    j = verdict(mm, "n")
    assert not j.supported and "INT64" in j.reasons[0] and "supported types" in j.reasons[0]
    add = build([h.make_node("Add", ["a", "b"], ["y"], name="n")],
                [vi("a", T.DOUBLE, [2]), vi("b", T.DOUBLE, [2])], [vi("y", T.DOUBLE, None)])
    j = verdict(add, "n")
    assert j.supported and "cast" in j.warnings[0].lower() and "FLOAT" in j.warnings[0]


def test_index_shape_and_condition_inputs_are_not_checked_against_the_data_types():
    nodes = [
        h.make_node("Shape", ["x"], ["s"], name="shape"),
        h.make_node("Gather", ["s", "zero"], ["d0"], name="gather", axis=0),
        h.make_node("Unsqueeze", ["d0", "ax0"], ["d0u"], name="unsq"),
        h.make_node("Concat", ["d0u", "minus1"], ["newshape"], name="concat", axis=0),
        h.make_node("Reshape", ["x", "newshape"], ["r"], name="reshape"),
        h.make_node("ReduceMax", ["r"], ["mx"], name="rmax", axes=[1], keepdims=1),
        h.make_node("Equal", ["idx", "idx"], ["eq"], name="equal"),
        h.make_node("Where", ["eq", "r", "r"], ["w"], name="where"),
        h.make_node("ArgMax", ["w"], ["am"], name="argmax", axis=1),
        h.make_node("TopK", ["w", "k"], ["vals", "inds"], name="topk", axis=1),
        h.make_node("Cast", ["eq"], ["eqf"], name="cast", to=T.FLOAT),
        h.make_node("Slice", ["w", "st", "en"], ["sl"], name="slice"),
        h.make_node("Expand", ["sl", "eshape"], ["ex"], name="expand"),
        h.make_node("Pad", ["ex", "pads"], ["pd"], name="pad"),
        h.make_node("Resize", ["pd", "", "scales"], ["rs"], name="resize", mode="nearest"),
        h.make_node("ConstantOfShape", ["s"], ["cs"], name="cos", value=h.make_tensor("v", T.FLOAT, [1], [0.0])),
        h.make_node("NonZero", ["w"], ["nz"], name="nonzero"),
    ]
    inits = [init("zero", np.array(0, np.int64)), init("ax0", np.array([0], np.int64)),
             init("minus1", np.array([-1], np.int64)), init("k", np.array([2], np.int64)),
             init("st", np.array([0], np.int64)), init("en", np.array([2], np.int64)),
             init("eshape", np.array([1, 2], np.int64)), init("pads", np.array([0, 1, 0, 1], np.int64)),
             init("scales", np.array([1, 2], np.float32))]
    m = build(nodes, [vi("x", T.FLOAT, [1, 8]), vi("idx", T.INT64, [1, 8])],
              [vi(o, T.FLOAT, None) for o in ("mx", "rs", "cs")]
              + [vi("am", T.INT64, None), vi("vals", T.FLOAT, None), vi("inds", T.INT64, None),
                 vi("eqf", T.FLOAT, None), vi("nz", T.INT64, None)], inits)
    for node_id, j in judge_graph(m, load_matrix("10.15")).items():
        # NonZero's one caveat is the TensorRT-RTX difference, not a type finding
        caveats = [c for c in j.caveats if not (node_id == "nonzero" and "TensorRT-RTX has no such plugin" in c)]
        assert j.supported and not caveats and not j.warnings, (node_id, j)


def test_quantized_types_only_through_qdq():
    m = build([h.make_node("Relu", ["x"], ["y"], name="n")], [vi("x", T.INT8, [4])], [vi("y", T.INT8, None)])
    j = verdict(m, "n")
    assert not j.supported and "INT8" in j.reasons[0] and "QuantizeLinear/DequantizeLinear" in j.reasons[0]


def test_uint8_only_at_network_io_through_cast():
    ok = build([h.make_node("Cast", ["img"], ["f"], name="cast", to=T.FLOAT),
                h.make_node("Relu", ["f"], ["r"], name="relu"),
                h.make_node("Cast", ["r"], ["out"], name="back", to=T.UINT8)],
               [vi("img", T.UINT8, [1, 3])], [vi("out", T.UINT8, None)])
    assert all(j.supported for j in judge_graph(ok, load_matrix("10.15")).values())
    direct = build([h.make_node("Relu", ["img"], ["y"], name="relu")], [vi("img", T.UINT8, [1, 3])],
                   [vi("y", T.UINT8, None)])
    assert "UINT8 network input 'img'" in text(verdict(direct, "relu"))
    middle = build([h.make_node("Cast", ["x"], ["u"], name="to_u8", to=T.UINT8),
                    h.make_node("Cast", ["u"], ["y"], name="from_u8", to=T.FLOAT)],
                   [vi("x", T.FLOAT, [3])], [vi("y", T.FLOAT, None)])
    for node_id in ("to_u8", "from_u8"):
        j = verdict(middle, node_id)
        assert not j.supported and "intermediate UINT8" in j.reasons[0]


def test_types_the_parser_accepts_beyond_the_matrix_give_a_caveat_not_a_rejection():
    j = verdict(unary("Clip", dtype=T.INT64), "n")
    assert j.supported and "INT64" in j.caveats[0] and "onnx-tensorrt" in j.caveats[0]


# ------------------------------------------------------------------------------- attribute limits

def _topk(k, **attrs):
    return build([h.make_node("TopK", ["x", "k"], ["v", "i"], name="n", **attrs)],
                 [vi("x", T.FLOAT, [1, 8000])], [vi("v", T.FLOAT, None), vi("i", T.INT64, None)],
                 [init("k", np.array([k], np.int64))])


def test_topk_sorted_and_k_limit():
    assert verdict(_topk(10), "n").supported
    j = verdict(_topk(10, sorted=0), "n")  # the parser never reads `sorted`: a caveat, not a rejection
    assert j.supported and "sorted=0" in text(j)
    j = verdict(_topk(5000), "n")
    assert not j.supported and "K is 5000" in j.reasons[0] and "3840" in j.reasons[0]


def _rnn(op, hidden=3, direction="forward", **attrs):
    gates = {"LSTM": 4, "GRU": 3, "RNN": 1}[op]
    dirs = 2 if direction == "bidirectional" else 1
    inits = [init("W", np.zeros((dirs, gates * hidden, 2), np.float32)),
             init("R", np.zeros((dirs, gates * hidden, hidden), np.float32))]
    return build([h.make_node(op, ["x", "W", "R"], ["y"], name="n", hidden_size=hidden, direction=direction,
                              **attrs)],
                 [vi("x", T.FLOAT, [5, 1, 2])], [vi("y", T.FLOAT, None)], inits)


def test_lstm_layout_input_forget_and_bidirectional_activations():
    assert verdict(_rnn("LSTM"), "n").supported
    j = verdict(_rnn("LSTM", layout=1), "n")  # the parser accepts batch-major LSTMs
    assert j.supported and "layout=1" in text(j)
    assert "input_forget=1" in text(verdict(_rnn("LSTM", input_forget=1), "n"))
    same = ["Sigmoid", "Tanh", "Tanh"] * 2
    assert verdict(_rnn("LSTM", direction="bidirectional", activations=same), "n").supported
    mixed = ["Sigmoid", "Tanh", "Tanh", "Sigmoid", "Relu", "Tanh"]
    j = verdict(_rnn("LSTM", direction="bidirectional", activations=mixed), "n")
    assert not j.supported and "reverse" in j.reasons[0]
    j = verdict(_rnn("GRU", direction="bidirectional", activations=["Sigmoid", "Tanh", "Relu", "Tanh"]), "n")
    assert not j.supported and "bidirectional GRUs" in j.reasons[0]
    assert verdict(_rnn("RNN", direction="bidirectional", activations=["Tanh", "Tanh"]), "n").supported


def _scatter(op, **attrs):
    return build([h.make_node(op, ["x", "i", "u"], ["y"], name="n", **attrs)],
                 [vi("x", T.FLOAT, [4, 4]), vi("i", T.INT64, [2, 1] if op == "ScatterND" else [2, 4]),
                  vi("u", T.FLOAT, [2, 4])], [vi("y", T.FLOAT, None)], opset=18)


def test_scatter_reduction():
    assert verdict(_scatter("ScatterND"), "n").supported
    j = verdict(_scatter("ScatterND", reduction="add"), "n")
    assert not j.supported and "reduction 'add'" in j.reasons[0]
    j = verdict(_scatter("ScatterElements", reduction="add"), "n")
    assert j.supported and "plugin" in j.caveats[0]


def _resize(**attrs):
    return build([h.make_node("Resize", ["x", "", "scales"], ["y"], name="n", **attrs)],
                 [vi("x", T.FLOAT, [1, 1, 4, 4])], [vi("y", T.FLOAT, None)],
                 [init("scales", np.array([1, 1, 2, 2], np.float32))], opset=19)


@pytest.mark.parametrize("attrs, problem", [
    ({"mode": "linear", "coordinate_transformation_mode": "tf_crop_and_resize"}, "tf_crop_and_resize"),
    ({"mode": "linear", "antialias": 1}, "antialias=1"),
    ({"keep_aspect_ratio_policy": "not_larger"}, "not_larger"),
])
def test_resize_restrictions(attrs, problem):
    j = verdict(_resize(**attrs), "n")
    assert not j.supported and problem in j.reasons[0]


def test_resize_cubic_is_accepted_with_a_caveat_and_scales_as_a_network_input_is_not():
    j = verdict(_resize(mode="cubic"), "n")
    assert j.supported and "cubic" in text(j)
    m = build([h.make_node("Resize", ["x", "", "s"], ["y"], name="n")],
              [vi("x", T.FLOAT, [1, 1, 4, 4]), vi("s", T.FLOAT, [4])], [vi("y", T.FLOAT, None)], opset=19)
    j = verdict(m, "n")
    assert not j.supported and "shape tensor" in j.reasons[0]


def test_parser_restrictions_the_matrix_never_states():
    # LpPool: checkLpPool takes p = 1 or 2 only
    assert verdict(unary("LpPool", shape=(1, 1, 4, 4), kernel_shape=[2, 2], p=2), "n").supported
    j = verdict(unary("LpPool", shape=(1, 1, 4, 4), kernel_shape=[2, 2], p=3), "n")
    assert not j.supported and "p=3" in j.reasons[0]
    # Mod: fmod=0 only for integers (importMod)
    def mod(dtype, fmod):
        return build([h.make_node("Mod", ["a", "b"], ["y"], name="n", fmod=fmod)],
                     [vi("a", dtype, [3]), vi("b", dtype, [3])], [vi("y", dtype, None)])
    assert verdict(mod(T.INT32, 0), "n").supported and verdict(mod(T.FLOAT, 1), "n").supported
    j = verdict(mod(T.FLOAT, 0), "n")
    assert not j.supported and "fmod=0" in j.reasons[0]
    # Unsqueeze: axes computed at run time
    m = build([h.make_node("Unsqueeze", ["x", "axes"], ["y"], name="n")],
              [vi("x", T.FLOAT, [3]), vi("axes", T.INT64, [1])], [vi("y", T.FLOAT, None)])
    j = verdict(m, "n")
    assert not j.supported and "axes" in j.reasons[0]


def test_importer_type_narrowing_beyond_the_matrix():
    for op, dtype, kw in (("Relu", T.INT32, {}), ("HardSwish", T.BFLOAT16, {}),
                          ("LpPool", T.BFLOAT16, {"kernel_shape": [2, 2]})):
        j = verdict(unary(op, dtype=dtype, shape=(1, 1, 4, 4), opset=18, **kw), "n")
        assert not j.supported and "onnx-tensorrt parser rejects" in j.reasons[-1], op
    assert verdict(unary("Relu", dtype=T.FLOAT16), "n").supported


def test_attention_key_and_value_of_different_shapes():
    def attention(k_shape, v_shape):
        return build([h.make_node("Attention", ["q", "k", "v"], ["y"], name="n")],
                     [vi("q", T.FLOAT, [1, 2, 4, 8]), vi("k", T.FLOAT, k_shape), vi("v", T.FLOAT, v_shape)],
                     [vi("y", T.FLOAT, None)], opset=23)
    assert verdict(attention([1, 2, 6, 8], [1, 2, 6, 8]), "n").supported
    j = verdict(attention([1, 2, 6, 8], [1, 2, 6, 16]), "n")
    assert not j.supported and "same shape" in j.reasons[0]


def test_cast_to_fp8_int4_fp4_is_accepted_with_a_caveat():
    for to in (T.FLOAT8E4M3FN, T.INT4, T.FLOAT4E2M1):
        m = build([h.make_node("Cast", ["x"], ["y"], name="n", to=to)], [vi("x", T.FLOAT, [4])],
                  [vi("y", to, None)], opset=23)
        j = verdict(m, "n")
        assert j.supported and j.caveats, to


def test_if_with_a_constant_condition_is_judged_on_the_taken_branch():
    def if_model(condition: bool):
        then = h.make_graph([h.make_node("Unique", ["x"], ["t"], name="then/unique")], "then", [],
                            [vi("t", T.FLOAT, None)])
        other = h.make_graph([h.make_node("Neg", ["x"], ["e"], name="else/neg")], "else", [],
                             [vi("e", T.FLOAT, [4, 1])])
        return build([h.make_node("If", ["c"], ["y"], name="n", then_branch=then, else_branch=other)],
                     [vi("x", T.FLOAT, [4])], [vi("y", T.FLOAT, None)], [init("c", np.array(condition))])
    assert verdict(if_model(False), "n").supported  # then_branch (Unique) is never imported
    assert not verdict(if_model(True), "n").supported


def test_resize_valid_modes():
    for attrs in ({}, {"mode": "linear"}, {"mode": "nearest", "nearest_mode": "round_prefer_ceil",
                                            "coordinate_transformation_mode": "asymmetric"}):
        j = verdict(_resize(**attrs), "n")
        assert j.supported and not j.caveats, attrs


def test_resize_tensor_scales_need_iota_axes():
    m = build([h.make_node("Resize", ["x", "", "s"], ["y"], name="n", axes=[2, 3])],
              [vi("x", T.FLOAT, [1, 1, 4, 4]), vi("s", T.FLOAT, [2])], [vi("y", T.FLOAT, None)], opset=19)
    assert "iota" in text(verdict(m, "n"))


def _pool(op, kernel, outputs=("y",), **attrs):
    rank = len(kernel) + 2
    return build([h.make_node(op, ["x"], list(outputs), name="n", kernel_shape=kernel, **attrs)],
                 [vi("x", T.FLOAT, [1, 1] + [4] * (rank - 2))],
                 [vi(o, T.INT64 if o == "idx" else T.FLOAT, None) for o in outputs])


def test_pooling_dims_dilations_and_indices():
    assert verdict(_pool("MaxPool", [2, 2]), "n").supported
    assert verdict(_pool("AveragePool", [2, 2, 2]), "n").supported
    j = verdict(_pool("AveragePool", [2, 2, 2, 2]), "n")
    assert not j.supported and "4D pooling" in j.reasons[0]
    j = verdict(_pool("AveragePool", [2, 2], dilations=[2, 2]), "n", "10.1")
    assert not j.supported and "dilations" in j.reasons[0]
    assert not verdict(_pool("LpPool", [2, 2], dilations=[1, 2]), "n").supported
    j = verdict(_pool("MaxPool", [2, 2], outputs=("y", "idx")), "n")
    assert not j.supported and "Indices" in j.reasons[0]
    one_d = verdict(_pool("MaxPool", [2]), "n")
    assert one_d.supported and "1D pooling" in one_d.caveats[0]


def test_layernorm_only_first_output():
    def ln(outputs):
        return build([h.make_node("LayerNormalization", ["x", "g", "b"], outputs, name="n")],
                     [vi("x", T.FLOAT, [2, 4])], [vi(o, T.FLOAT, None) for o in outputs],
                     [init("g", np.ones(4, np.float32)), init("b", np.zeros(4, np.float32))])
    assert verdict(ln(["y"]), "n").supported
    j = verdict(ln(["y", "mean"]), "n")
    assert not j.supported and "'mean'" in j.reasons[0] and "first output" in j.reasons[0]


def test_constant_string_attributes():
    ok = build([h.make_node("Constant", [], ["c"], name="n", value_floats=[1.0, 2.0])], [],
               [vi("c", T.FLOAT, None)])
    assert verdict(ok, "n").supported
    bad = build([h.make_node("Constant", [], ["c"], name="n", value_strings=["a"])], [], [vi("c", T.STRING, None)])
    assert "value_strings" in text(verdict(bad, "n"))


def _dropout(training, as_input=False):
    inputs = [vi("x", T.FLOAT, [4])] + ([vi("t", T.BOOL, [])] if as_input else [])
    inits = [] if as_input else [init("t", np.array(training))]
    return build([h.make_node("Dropout", ["x", "", "t"], ["y"], name="n")], inputs, [vi("y", T.FLOAT, None)],
                 inits)


def test_dropout_training_mode():
    assert verdict(_dropout(False), "n").supported
    assert "is True" in text(verdict(_dropout(True), "n"))
    j = verdict(_dropout(None, as_input=True), "n")
    assert not j.supported and "run time" in j.reasons[0]
    plain = build([h.make_node("Dropout", ["x"], ["y"], name="n")], [vi("x", T.FLOAT, [4])], [vi("y", T.FLOAT, None)])
    assert verdict(plain, "n").supported


def test_gridsample_must_be_4d():
    def gs(rank):
        return build([h.make_node("GridSample", ["x", "g"], ["y"], name="n")],
                     [vi("x", T.FLOAT, [1, 1] + [4] * (rank - 2)), vi("g", T.FLOAT, [1] + [2] * (rank - 2) + [rank - 2])],
                     [vi("y", T.FLOAT, None)], opset=20)
    assert verdict(gs(4), "n").supported
    j = verdict(gs(5), "n")
    assert not j.supported and "5D" in j.reasons[0]


def _attention(q_shape, kv_shape, extra_inputs=(), **attrs):
    inputs = ["q", "k", "v"] + list(extra_inputs)
    infos = [vi("q", T.FLOAT, q_shape), vi("k", T.FLOAT, kv_shape), vi("v", T.FLOAT, kv_shape)]
    infos += [vi(n, T.FLOAT, kv_shape) for n in extra_inputs if n]
    return build([h.make_node("Attention", inputs, ["y"], name="n", **attrs)], infos, [vi("y", T.FLOAT, None)],
                 opset=23)


def test_attention_restrictions():
    assert verdict(_attention([1, 2, 8, 16], [1, 2, 8, 16]), "n").supported
    j = verdict(_attention([1, 8, 32], [1, 8, 32], q_num_heads=2, kv_num_heads=2), "n")
    assert not j.supported and "3D" in j.reasons[0]
    j = verdict(_attention([1, 2, 8, 16], [1, 2, 8, 16], ["", "past_key", "past_value"]), "n")
    assert not j.supported and "past_key" in text(j)
    j = verdict(_attention([1, 2, 8, 16], [1, 2, 8, 16], softcap=30.0), "n")
    assert not j.supported and "softcap" in j.reasons[0]
    assert "not in the TensorRT 10.1" in text(verdict(_attention([1, 2, 8, 16], [1, 2, 8, 16]), "n", "10.1"))


def test_deformconv_symmetric_pads():
    def dc(pads):
        return build([h.make_node("DeformConv", ["x", "w", "off"], ["y"], name="n", pads=pads,
                                  kernel_shape=[3, 3])],
                     [vi("x", T.FLOAT, [1, 1, 5, 5]), vi("off", T.FLOAT, [1, 18, 5, 5])],
                     [vi("y", T.FLOAT, None)], [init("w", np.ones((1, 1, 3, 3), np.float32))], opset=19)
    assert verdict(dc([1, 1, 1, 1]), "n").supported
    assert "pads" in text(verdict(dc([1, 0, 0, 1]), "n"))


def test_tensor_scatter_axis():
    def ts(axis):
        return build([h.make_node("TensorScatter", ["c", "u"], ["y"], name="n", axis=axis)],
                     [vi("c", T.FLOAT, [1, 2, 8, 4]), vi("u", T.FLOAT, [1, 2, 1, 4])], [vi("y", T.FLOAT, None)],
                     opset=24)
    assert verdict(ts(-2), "n").supported
    assert "axis=-1" in text(verdict(ts(-1), "n"))


def test_stft_constant_inputs_and_real_signal():
    def stft(signal_shape, step_is_input=False):
        inputs = [vi("sig", T.FLOAT, signal_shape)] + ([vi("step", T.INT64, [])] if step_is_input else [])
        inits = [init("len", np.array(4, np.int64))] + ([] if step_is_input else [init("step", np.array(2, np.int64))])
        return build([h.make_node("STFT", ["sig", "step", "", "len"], ["y"], name="n")], inputs,
                     [vi("y", T.FLOAT, None)], inits)
    assert verdict(stft([1, 16, 1]), "n").supported
    assert "complex" in text(verdict(stft([1, 16, 2]), "n"))
    assert "frame_step" in text(verdict(stft([1, 16, 1], step_is_input=True), "n"))


def test_static_dimension_restrictions():
    def eyelike(shape):
        return build([h.make_node("EyeLike", ["x"], ["y"], name="n")], [vi("x", T.FLOAT, shape)],
                     [vi("y", T.FLOAT, None)])
    assert verdict(eyelike([3, 4]), "n").supported
    assert "dynamic dimension(s) n" in text(verdict(eyelike(["n", 4]), "n"))
    hardmax = build([h.make_node("Hardmax", ["x"], ["y"], name="n")], [vi("x", T.FLOAT, [2, "k"])],
                    [vi("y", T.FLOAT, None)])
    assert not verdict(hardmax, "n").supported
    assert verdict(unary("Hardmax", shape=(2, 5)), "n").supported


def test_if_branches_need_different_output_names():
    def branch(out, value):
        return h.make_graph([h.make_node("Constant", [], [out], value_floats=[value])], "b", [],
                            [vi(out, T.FLOAT, [1])])
    def model(then_name, else_name):
        return build([h.make_node("If", ["c"], ["y"], name="n", then_branch=branch(then_name, 1.0),
                                  else_branch=branch(else_name, 2.0))],
                     [vi("c", T.BOOL, [])], [vi("y", T.FLOAT, None)])
    assert verdict(model("a", "b"), "n").supported
    j = verdict(model("same", "same"), "n")
    assert not j.supported and "'same'" in j.reasons[0]


# ----------------------------------------------------------------------------- build-time constants

def _reduce(axes_source):
    nodes, inputs, inits = [], [vi("x", T.FLOAT, [2, 3])], []
    if axes_source == "initializer":
        inits.append(init("axes", np.array([1], np.int64)))
    elif axes_source == "input":
        inputs.append(vi("axes", T.INT64, [1]))
    elif axes_source == "folded":
        nodes.append(h.make_node("Constant", [], ["a32"], value=h.make_tensor("v", T.INT32, [1], [1])))
        nodes.append(h.make_node("Cast", ["a32"], ["axes"], to=T.INT64))
    nodes.append(h.make_node("ReduceMean", ["x", "axes"], ["y"], name="n"))
    return build(nodes, inputs, [vi("y", T.FLOAT, None)], inits, opset=18)


def test_reduce_axes_must_be_an_initializer():
    assert verdict(_reduce("initializer"), "n") == Judgement(True, [], [])
    j = verdict(_reduce("input"), "n")
    assert not j.supported and "`axes`" in j.reasons[0] and "initializer" in j.reasons[0]
    j = verdict(_reduce("folded"), "n")
    assert j.supported and "fold" in j.caveats[0]


def test_build_time_constant_inputs():
    cumsum = build([h.make_node("CumSum", ["x", "ax"], ["y"], name="n")],
                   [vi("x", T.FLOAT, [4]), vi("ax", T.INT64, [])], [vi("y", T.FLOAT, None)])
    assert "build-time constant" in text(verdict(cumsum, "n"))
    # depth from the shape of a static tensor is known at build time
    onehot = build([h.make_node("Shape", ["x"], ["s"]),
                    h.make_node("Gather", ["s", "one"], ["depth"], axis=0),
                    h.make_node("OneHot", ["idx", "depth", "vals"], ["y"], name="n")],
                   [vi("x", T.FLOAT, [2, 5]), vi("idx", T.INT64, [3])], [vi("y", T.FLOAT, None)],
                   [init("one", np.array(1, np.int64)), init("vals", np.array([0, 1], np.float32))])
    assert verdict(onehot, "n") == Judgement(True, [], [])
    dyn = build([h.make_node("Shape", ["x"], ["s"]),
                 h.make_node("Gather", ["s", "one"], ["depth"], axis=0),
                 h.make_node("OneHot", ["idx", "depth", "vals"], ["y"], name="n")],
                [vi("x", T.FLOAT, [2, "n"]), vi("idx", T.INT64, [3])], [vi("y", T.FLOAT, None)],
                [init("one", np.array(1, np.int64)), init("vals", np.array([0, 1], np.float32))])
    assert "`depth`" in text(verdict(dyn, "n")) and not verdict(dyn, "n").supported


def test_squeeze_axes_not_constant_is_only_a_caveat():
    m = build([h.make_node("Squeeze", ["x", "axes"], ["y"], name="n")],
              [vi("x", T.FLOAT, [1, 4]), vi("axes", T.INT64, [1])], [vi("y", T.FLOAT, None)])
    j = verdict(m, "n")
    assert j.supported and "resolvable to a constant" in j.caveats[0]
    const = build([h.make_node("Constant", [], ["axes"], value_ints=[0]),
                   h.make_node("Unsqueeze", ["x", "axes"], ["y"], name="n")],
                  [vi("x", T.FLOAT, [4])], [vi("y", T.FLOAT, None)])
    assert verdict(const, "n") == Judgement(True, [], [])


def test_slice_axes_rule_only_in_101():
    m = build([h.make_node("Slice", ["x", "st", "en", "axes"], ["y"], name="n")],
              [vi("x", T.FLOAT, [4, 4]), vi("axes", T.INT64, [1])], [vi("y", T.FLOAT, None)],
              [init("st", np.array([0], np.int64)), init("en", np.array([2], np.int64))])
    assert not verdict(m, "n", "10.1").supported
    assert verdict(m, "n", "10.15").supported


def test_is_build_time_constant():
    m = build([h.make_node("Constant", [], ["c"], value_ints=[1]),
               h.make_node("Shape", ["x"], ["s"]), h.make_node("Add", ["s", "c"], ["sc"]),
               h.make_node("Shape", ["d"], ["ds"]), h.make_node("Relu", ["x"], ["r"])],
              [vi("x", T.FLOAT, [2, 3]), vi("d", T.FLOAT, ["n", 3])],
              [vi("sc", T.INT64, None), vi("ds", T.INT64, None), vi("r", T.FLOAT, None)],
              [init("w", np.ones(2, np.float32))])
    g = m.graph
    assert constness("w", g) == WEIGHTS and constness("c", g) == WEIGHTS
    assert constness("sc", g) == FOLDABLE and is_build_time_constant("sc", g)
    assert constness("ds", g) == RUNTIME and not is_build_time_constant("ds", g)
    assert not is_build_time_constant("r", g) and not is_build_time_constant("x", g)


# ----------------------------------------------------------------------------------------- Q/DQ

def _qdq(zp=0, zp_type=np.int8, x_type=T.FLOAT, scale=0.1, with_zp=True, opset=17):
    inits = [init("s", np.array(scale, np.float32))]
    if with_zp:
        inits.append(init("z", np.array(zp, zp_type)))
    ins = ["x", "s", "z"] if with_zp else ["x", "s"]
    dq_ins = ["q", "s", "z"] if with_zp else ["q", "s"]
    return build([h.make_node("QuantizeLinear", ins, ["q"], name="q"),
                  h.make_node("DequantizeLinear", dq_ins, ["y"], name="dq")],
                 [vi("x", x_type, [4])], [vi("y", T.FLOAT, None)], inits, opset=opset)


def test_symmetric_int8_qdq_is_supported():
    m = _qdq()
    assert verdict(m, "q") == Judgement(True, [], []) and verdict(m, "dq") == Judgement(True, [], [])


def test_nonzero_zero_points_are_rejected():
    m = _qdq(zp=3)
    assert "y_zero_point is 3" in verdict(m, "q").reasons[0]
    assert "x_zero_point is 3" in verdict(m, "dq").reasons[0]


def test_asymmetric_uint8_qdq_is_rejected_with_a_fix():
    m = _qdq(zp=128, zp_type=np.uint8)
    for node_id in ("q", "dq"):
        j = verdict(m, node_id)
        assert not j.supported and "UINT8" in j.reasons[0] and "symmetric INT8" in j.reasons[0]
    # no zero point: ONNX quantizes to UINT8 with zero point 0; the parser takes it as INT8 (it warns), so the
    # prediction takes it too and warns that values above 127 change meaning
    plain = verdict(_qdq(with_zp=False), "q")
    assert plain.supported and "no zero point" in plain.warnings[0] and "uses INT8 instead" in plain.warnings[0]


def test_fp8_qdq():
    m = build([h.make_node("QuantizeLinear", ["x", "s", "z"], ["q"], name="q"),
               h.make_node("DequantizeLinear", ["q", "s", "z"], ["y"], name="dq")],
              [vi("x", T.FLOAT, [4])], [vi("y", T.FLOAT, None)],
              [init("s", np.array(0.1, np.float32)), h.make_tensor("z", T.FLOAT8E4M3FN, [], [0.0])], opset=19)
    assert verdict(m, "q").supported and verdict(m, "dq") == Judgement(True, [], [])
    e5 = build([h.make_node("QuantizeLinear", ["x", "s", "z"], ["q"], name="q")],
               [vi("x", T.FLOAT, [4])], [vi("q", T.FLOAT8E5M2, None)],
               [init("s", np.array(0.1, np.float32)), h.make_tensor("z", T.FLOAT8E5M2, [], [0.0])], opset=19)
    j = verdict(e5, "q")
    assert j.supported and "E4M3" in j.caveats[0]


def test_int32_bias_dequantize_is_rejected():
    m = build([h.make_node("DequantizeLinear", ["b", "s"], ["y"], name="dq")], [], [vi("y", T.FLOAT, None)],
              [init("b", np.array([5, 7], np.int32)), init("s", np.array(0.01, np.float32))])
    j = verdict(m, "dq")
    assert not j.supported and "INT32" in j.reasons[0] and "QuantizeBias=False" in j.reasons[0]


def test_zero_point_that_cannot_be_read_is_a_caveat_and_bad_scale_is_rejected():
    m = build([h.make_node("QuantizeLinear", ["x", "s", "z"], ["q"], name="q")],
              [vi("x", T.FLOAT, [4]), vi("z", T.INT8, [])], [vi("q", T.INT8, None)],
              [init("s", np.array(0.1, np.float32))])
    j = verdict(m, "q")
    assert j.supported and "could not be read" in j.caveats[0]
    assert "scale" in text(verdict(_qdq(scale=-0.5), "q"))


def test_pytorch_quantization_weight_pattern_and_qdq_through_data_movement():
    # weights: Constant zero point -> Cast(INT8) -> Q -> DQ ; activations: Q -> Transpose (INT8) -> DQ
    nodes = [h.make_node("Constant", [], ["zf"], value=h.make_tensor("v", T.INT8, [2], [0, 0])),
             h.make_node("Cast", ["zf"], ["z"], name="cast", to=T.INT8),
             h.make_node("QuantizeLinear", ["w", "ws", "z"], ["wq"], name="wq", axis=0),
             h.make_node("DequantizeLinear", ["wq", "ws", "z"], ["wd"], name="wdq", axis=0),
             h.make_node("QuantizeLinear", ["x", "s", "z0"], ["xq"], name="xq"),
             h.make_node("Transpose", ["xq"], ["xt"], name="transpose"),
             h.make_node("DequantizeLinear", ["xt", "s", "z0"], ["xd"], name="xdq"),
             h.make_node("MatMul", ["xd", "wd"], ["y"], name="mm")]
    m = build(nodes, [vi("x", T.FLOAT, [2, 2])], [vi("y", T.FLOAT, None)],
              [init("w", np.ones((2, 2), np.float32)), init("ws", np.array([0.1, 0.2], np.float32)),
               init("s", np.array(0.1, np.float32)), init("z0", np.array(0, np.int8))])
    for node_id, j in judge_graph(m, load_matrix("10.15")).items():
        assert j == Judgement(True, [], []), (node_id, j)


# ----------------------------------------------------------------------------------------- opset

def test_check_opset_suggests_a_concrete_conversion():
    old = unary("Relu", opset=7)
    message = check_opset(old, load_matrix("10.15"))
    assert "opset 7" in message and "onnx.version_converter.convert_version(model, 9)" in message
    new = unary("Relu", opset=21)
    assert "convert_version(model, 20)" in check_opset(new, load_matrix("10.1"))
    assert check_opset(new, load_matrix("10.15")) is None


# ------------------------------------------------------------------------------- control flow

def _loop(body_op):
    body_nodes = [h.make_node("Identity", ["cond_in"], ["cond_out"], name="cond"),
                  h.make_node("Add", ["v_in", "one"], ["v_out"], name="add"),
                  h.make_node(body_op, ["v_in"], ["scan_out"], name="inner")]
    body = h.make_graph(body_nodes, "body",
                        [vi("iter", T.INT64, []), vi("cond_in", T.BOOL, []), vi("v_in", T.FLOAT, [3])],
                        [vi("cond_out", T.BOOL, []), vi("v_out", T.FLOAT, [3]), vi("scan_out", T.FLOAT, None)])
    return build([h.make_node("Loop", ["trip", "cond", "v0"], ["v_final", "scans"], name="loop", body=body)],
                 [vi("v0", T.FLOAT, [3])], [vi("v_final", T.FLOAT, None), vi("scans", T.FLOAT, None)],
                 [init("trip", np.array(2, np.int64)), init("cond", np.array(True)),
                  init("one", np.ones(3, np.float32))])


def test_loop_body_nodes_are_judged():
    bad = verdict(_loop("Unique"), "loop")
    assert not bad.supported
    assert "Loop body node 'loop/inner' (Unique): Unique is not supported by TensorRT 10.15" in bad.reasons
    assert set(bad.children) == {"loop/cond", "loop/add", "loop/inner"}
    assert not bad.children["loop/inner"].supported and bad.children["loop/add"].supported
    good = verdict(_loop("Relu"), "loop")
    # "Scan output length cannot be dynamic" is checked now (a trip count or no scan output), not a caveat
    assert good.supported and not any("Scan output length" in c for c in good.caveats)
    assert any("carried dependencies" in c for c in good.caveats)


def test_nested_bodies_are_flattened_into_children():
    inner_then = h.make_graph([h.make_node("Unique", ["v_in"], ["t"], name="uniq")], "then", [],
                              [vi("t", T.FLOAT, None)])
    inner_else = h.make_graph([h.make_node("Relu", ["v_in"], ["e"], name="relu")], "else", [],
                              [vi("e", T.FLOAT, None)])
    body = h.make_graph([h.make_node("Identity", ["cond_in"], ["cond_out"], name="cond"),
                         h.make_node("If", ["cond_in"], ["v_out"], name="if", then_branch=inner_then,
                                     else_branch=inner_else)], "body",
                        [vi("iter", T.INT64, []), vi("cond_in", T.BOOL, []), vi("v_in", T.FLOAT, [3])],
                        [vi("cond_out", T.BOOL, []), vi("v_out", T.FLOAT, [3])])
    m = build([h.make_node("Loop", ["trip", "cond", "v0"], ["v_final"], name="loop", body=body)],
              [vi("v0", T.FLOAT, [3])], [vi("v_final", T.FLOAT, None)],
              [init("trip", np.array(2, np.int64)), init("cond", np.array(True))])
    j = judge_graph(m, load_matrix("10.15"))["loop"]
    body_ids = {n.id for b in m.graph.nodes[0].subgraphs.values() for n in b.walk()}
    assert set(j.children) == body_ids
    assert not j.supported and "Unique" in j.reasons[0]


# -------------------------------------------------------------------- real models: no false positives

SAMPLES = ["resnet18.onnx", "resnet18_qat.onnx", "transformer_encoder.onnx", "int8_qdq.onnx",
           "dynamic_shapes.onnx"]


@pytest.mark.parametrize("name", SAMPLES)
@pytest.mark.parametrize("version", ["10.1", "10.15"])
def test_valid_sample_models_are_fully_supported(name, version):
    path = REPO / "sample_models" / name
    if not path.exists():
        pytest.skip(f"{name} not generated")
    model = load_model(path)
    verdicts = judge_graph(model, load_matrix(version))
    assert len(verdicts) == len(model.graph.nodes)
    bad = {k: j.reasons for k, j in verdicts.items() if not j.supported}
    assert not bad


def test_onnx_zoo_resnet50_structure_is_fully_supported():
    path = Path(onnx.__file__).parent / "backend/test/data/light/light_resnet50.onnx"
    if not path.exists():
        pytest.skip("onnx backend light models not installed")
    model = load_model(path)
    assert all(j.supported and not j.caveats for j in judge_graph(model, load_matrix("10.15")).values())


def test_asymmetric_sample_is_rejected_for_the_documented_reason():
    path = REPO / "sample_models" / "int8_qdq_asymmetric_uint8.onnx"
    if not path.exists():
        pytest.skip("sample not generated")
    model = load_model(path)
    verdicts = judge_graph(model, load_matrix("10.15"))
    import onnx
    from onnx import numpy_helper

    proto = onnx.load(path)
    zp = {i.name: int(numpy_helper.to_array(i).reshape(-1)[0]) for i in proto.graph.initializer}
    qs = [(n.name, zp[n.input[2]]) for n in proto.graph.node if n.op_type == "QuantizeLinear"]
    asym = [name for name, z in qs if z != 0]
    assert asym and len(asym) < len(qs)  # the sample has both kinds
    for name, z in qs:
        j = verdicts[name]
        if z:  # asymmetric: rejected, as by the real parser ("Non-zero zero point is not supported")
            assert not j.supported and "asymmetric UINT8" in j.reasons[0], (name, j)
        else:  # zero point 0 (after a ReLU): the parser takes it as INT8; the prediction too, with the warning
            assert j.supported and "uses INT8 instead" in j.warnings[0], (name, j)


# ------------------------------------------------------------------------------------------- speed

def test_judging_a_10k_node_chain_judges_every_node():
    """Every node of a long chain gets a verdict (how fast per node is bench/analyze.py's figure, not a test's)."""
    ops = ["Relu", "Sigmoid", "Tanh", "Abs", "Neg", "Exp", "Identity", "Softsign"]
    nodes, prev = [], "x"
    for i in range(10_000):
        nodes.append(h.make_node(ops[i % len(ops)], [prev], [f"t{i}"], name=f"n{i}"))
        prev = f"t{i}"
    model = build(nodes, [vi("x", T.FLOAT, [1, 64])], [vi(prev, T.FLOAT, None)])
    matrix = load_matrix("10.15")
    verdicts = judge_graph(model, matrix)
    assert len(verdicts) == 10_000 and all(j.supported for j in verdicts.values())


# -- rule families read from the onnx-tensorrt parser source (issue 12); each agrees with TensorRT-RTX's parser in
# bench/fidelity_cases.py, which builds the same models ----------------------------------------------------------
def _edge(name):
    import sys

    bench = str(Path(__file__).resolve().parents[1] / "bench")
    if bench not in sys.path:
        sys.path.insert(0, bench)
    from fidelity_cases import build_cases

    case = next(c for c in build_cases() if c.name == name)
    model = load_model(case.model)
    return list(judge_graph(model, load_matrix("10.15")).values())[0]


@pytest.mark.parametrize("name, supported, words", [
    ("einsum_uppercase", False, "lowercase letters"),
    ("einsum_lowercase", True, ""),
    ("batchnorm_training", False, "training_mode=1"),
    ("batchnorm_inference", True, ""),
    ("loop_scan_no_trip_count", False, "no trip count"),
    ("loop_scan_trip_count", True, ""),
    ("foreign_domain_relu", True, ""),
    ("function_named_scaledtanh_no_attrs", False, "alpha, beta"),
    ("function_named_scaledtanh_attrs", True, ""),
    ("function_own_name", True, ""),
    ("function_body_einsum_uppercase", False, "body node 'body_einsum' (Einsum)"),
    ("function_body_einsum_lowercase", True, ""),
    ("dequantize_uint8_network_input", False, "not a QuantizeLinear output"),
])
def test_rule_families_from_the_parser_source(name, supported, words):
    j = _edge(name)
    assert j.supported == supported, j
    assert words in "; ".join(j.reasons)


def test_nonzero_prediction_is_tensorrts_and_names_the_rtx_difference():
    j = _edge("nonzero")
    assert j.supported
    assert any("TensorRT-RTX has no such plugin" in c for c in j.caveats), j.caveats
