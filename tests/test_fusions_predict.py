"""Fusion prediction: TensorRT's documented patterns on small models, and the score against real engines."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SAMPLES, TensorProto, helper, tiny_model
from onnx import numpy_helper

import explorer
from explorer.fusions import FusionGroup, compare_with_engine, predict_fusions

F = TensorProto.FLOAT


def _init(name, shape, value=None):
    arr = np.full(shape, value, dtype=np.float32) if value is not None else np.ones(shape, dtype=np.float32)
    return numpy_helper.from_array(arr, name)


def _groups(nodes, inputs, outputs, inits=()):
    model = explorer.load_model(tiny_model(nodes, inputs, outputs, initializers=list(inits)))
    groups = predict_fusions(model)
    assert sorted(n for g in groups for n in g.nodes) == sorted(n.id for n in model.nodes)
    return {g.nodes[0]: g for g in groups}, model


def _sample(name):
    path = SAMPLES / name
    if not path.exists():
        pytest.skip(f"sample model {name} not generated yet")
    return explorer.load_model(path)


# -- every node in exactly one group ------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["resnet18.onnx", "resnet18_qat.onnx", "transformer_encoder.onnx", "int8_qdq.onnx",
                                  "int8_qdq_asymmetric_uint8.onnx", "dynamic_shapes.onnx", "hostile_names.onnx",
                                  "unsupported_ops.onnx"])
def test_partition_of_every_sample(name):
    model = _sample(name)
    groups = predict_fusions(model)
    ids = [n for g in groups for n in g.nodes]
    assert sorted(ids) == sorted(n.id for n in model.nodes) and len(ids) == len(set(ids))
    order = {n.id: i for i, n in enumerate(model.nodes)}
    for g in groups:
        assert g.nodes == sorted(g.nodes, key=order.get) and g.kind and g.rule
        assert (g.kind == "single") == (len(g.nodes) == 1 and "no fusion rule" in g.rule)


# -- convolution epilogues ------------------------------------------------------------------------------------
def test_conv_batchnorm_bias_relu():
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
             helper.make_node("BatchNormalization", ["c", "s", "b", "m", "v"], ["bn"], name="bn"),
             helper.make_node("Add", ["bn", "bias"], ["a"], name="bias"),
             helper.make_node("Relu", ["a"], ["y"], name="relu")]
    inits = [_init("w", (4, 3, 3, 3)), *(_init(n, (4,)) for n in "sbmv"), _init("bias", (1, 4, 1, 1))]
    groups, _ = _groups(nodes, [("x", F, [1, 3, 8, 8])], [("y", F, None)], inits)
    g = groups["conv"]
    assert g.nodes == ["conv", "bn", "bias", "relu"] and g.kind == "convolution"
    assert g.rule == "Conv + BatchNorm folded (scale) + bias + Relu"
    assert g.weights == ["w", "s", "b", "m", "v", "bias"]


def test_residual_add_fuses_into_the_convolution_that_runs_last():
    """ResNet's downsample block: Add(conv2(x'), downsample(x)) joins the later convolution."""
    nodes = [helper.make_node("Conv", ["x", "w1"], ["a"], name="conv_main"),
             helper.make_node("Conv", ["x", "w2"], ["b"], name="conv_down"),
             helper.make_node("Add", ["a", "b"], ["s"], name="add"),
             helper.make_node("Relu", ["s"], ["y"], name="relu")]
    groups, _ = _groups(nodes, [("x", F, [1, 4, 8, 8])], [("y", F, None)],
                        [_init("w1", (4, 4, 3, 3)), _init("w2", (4, 4, 1, 1))])
    assert groups["conv_main"].nodes == ["conv_main"]
    assert groups["conv_down"].nodes == ["conv_down", "add", "relu"]
    assert groups["conv_down"].rule == "Conv + residual Add + Relu"


def test_pointwise_unit_joins_and_branching_output_stops_fusion():
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("Sigmoid", ["r"], ["y"], name="sig"),
             helper.make_node("Conv", ["x", "w"], ["c2"], name="conv2"),
             helper.make_node("Relu", ["c2"], ["y2"], name="relu2"),
             helper.make_node("Neg", ["c2"], ["y3"], name="neg")]
    groups, _ = _groups(nodes, [("x", F, [1, 4, 8, 8])], [("y", F, None), ("y2", F, None), ("y3", F, None)],
                        [_init("w", (4, 4, 1, 1))])
    # Relu -> Sigmoid is one pointwise unit (PWN), taken by the convolution as a whole
    assert groups["conv"].nodes == ["conv", "relu", "sig"]
    assert groups["conv"].rule == "Conv + pointwise unit (Relu, Sigmoid)"
    assert groups["conv2"].nodes == ["conv2"]  # its output has two readers
    assert groups["relu2"].kind == groups["neg"].kind == "single"


def test_pad_conv_and_silu_unit():
    nodes = [helper.make_node("Pad", ["x", "pads"], ["p"], name="pad"),
             helper.make_node("Conv", ["p", "w"], ["c"], name="conv"),
             helper.make_node("Sigmoid", ["c"], ["s"], name="sig"),
             helper.make_node("Mul", ["c", "s"], ["y"], name="mul")]
    pads = numpy_helper.from_array(np.array([0, 0, 1, 1, 0, 0, 1, 1], dtype=np.int64), "pads")
    groups, _ = _groups(nodes, [("x", F, [1, 4, 8, 8])], [("y", F, None)], [_init("w", (4, 4, 3, 3)), pads])
    assert groups["pad"].nodes == ["pad", "conv", "sig", "mul"]
    assert groups["pad"].rule == "Pad + Conv + SiLU/Swish pointwise unit"


def test_matmul_bias_gelu_erf():
    nodes = [helper.make_node("MatMul", ["x", "w"], ["m"], name="mm"),
             helper.make_node("Add", ["m", "b"], ["h"], name="bias"),
             helper.make_node("Div", ["h", "sqrt2"], ["d"], name="div"),
             helper.make_node("Erf", ["d"], ["e"], name="erf"),
             helper.make_node("Add", ["e", "one"], ["e1"], name="add1"),
             helper.make_node("Mul", ["h", "e1"], ["g"], name="mul"),
             helper.make_node("Mul", ["g", "half"], ["y"], name="half")]
    inits = [_init("w", (8, 8)), _init("b", (8,)), _init("sqrt2", (), 1.4142), _init("one", (), 1.0),
             _init("half", (), 0.5)]
    groups, _ = _groups(nodes, [("x", F, [2, 8])], [("y", F, None)], inits)
    g = groups["mm"]
    assert g.nodes == ["mm", "bias", "div", "erf", "add1", "mul", "half"] and g.kind == "matmul"
    assert g.rule == "MatMul + GELU (erf) pointwise unit"


# -- Q/DQ -----------------------------------------------------------------------------------------------------
def _qdq_model():
    scale, zp = _init("sc", (), 0.1), numpy_helper.from_array(np.array(0, dtype=np.int8), "zp")
    nodes = [helper.make_node("QuantizeLinear", ["x", "sc", "zp"], ["xq"], name="q_in"),
             helper.make_node("DequantizeLinear", ["xq", "sc", "zp"], ["xd"], name="dq_in"),
             helper.make_node("QuantizeLinear", ["w", "sc", "zp"], ["wq"], name="q_w"),
             helper.make_node("DequantizeLinear", ["wq", "sc", "zp"], ["wd"], name="dq_w"),
             helper.make_node("Conv", ["xd", "wd"], ["c"], name="conv"),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("QuantizeLinear", ["r", "sc", "zp"], ["rq"], name="q_out"),
             helper.make_node("DequantizeLinear", ["rq", "sc", "zp"], ["rd"], name="dq_out"),
             helper.make_node("MaxPool", ["rd"], ["mp"], name="pool", kernel_shape=[2, 2]),
             helper.make_node("QuantizeLinear", ["mp", "sc", "zp"], ["mq"], name="q_pool"),
             helper.make_node("Add", ["mp", "mp"], ["y2"], name="other_reader")]
    return nodes, [scale, zp, _init("w", (4, 4, 1, 1))]


def test_qdq_folds_into_the_convolution():
    nodes, inits = _qdq_model()
    groups, _ = _groups(nodes, [("x", F, [1, 4, 8, 8])], [("mq", TensorProto.INT8, None), ("y2", F, None)], inits)
    conv = groups["dq_in"]
    assert conv.nodes == ["dq_in", "q_w", "dq_w", "conv", "relu", "q_out"]
    assert conv.weights == ["sc", "zp", "w"]
    assert "weight Q/DQ folded" in conv.rule and "output QuantizeLinear" in conv.rule
    # an activation Q at the network input, and one whose input is read elsewhere too: Reformat layers
    assert groups["q_in"].kind == "quantize" and groups["q_in"].nodes == ["q_in"]
    assert groups["q_pool"].kind == "quantize"
    assert groups["dq_out"].kind == "dequantize"


# -- transformer patterns ---------------------------------------------------------------------------------------
def test_attention_layernorm_and_shuffle_chains():
    model = _sample("transformer_encoder.onnx")
    groups = predict_fusions(model)
    kinds = [g.kind for g in groups if g.kind != "constant"]
    assert kinds.count("attention") == 2
    attention = next(g for g in groups if g.kind == "attention")
    assert [n.rsplit("/", 1)[-1] for n in attention.nodes] == ["MatMul", "Div", "Softmax", "MatMul_1"]
    norms = [g for g in groups if g.kind == "normalization"]
    assert len(norms) == 2  # layer 0 spells LayerNorm out; layer 1 uses the LayerNormalization op
    assert all("LayerNorm pattern" in g.rule and len(g.nodes) == 9 for g in norms)
    assert [g.kind for g in groups if g.nodes[0].endswith("LayerNormalization")] == ["single", "single"]
    gelu = [g for g in groups if "GELU (erf)" in g.rule]
    assert len(gelu) == 2 and all(g.kind == "matmul" for g in gelu)
    shuffles = [g for g in groups if g.kind == "shuffle"]
    assert shuffles and all(len(g.nodes) == 2 for g in shuffles)


def test_rmsnorm_pattern():
    nodes = [helper.make_node("Pow", ["x", "two"], ["p"], name="pow"),
             helper.make_node("ReduceMean", ["p", "axes"], ["m"], name="mean", keepdims=1),
             helper.make_node("Add", ["m", "eps"], ["a"], name="eps_add"),
             helper.make_node("Sqrt", ["a"], ["s"], name="sqrt"),
             helper.make_node("Div", ["x", "s"], ["d"], name="div"),
             helper.make_node("Mul", ["d", "gamma"], ["y"], name="gamma")]
    axes = numpy_helper.from_array(np.array([-1], dtype=np.int64), "axes")
    inits = [_init("two", (), 2.0), _init("eps", (), 1e-6), _init("gamma", (8,)), axes]
    groups, _ = _groups(nodes, [("x", F, [2, 8])], [("y", F, None)], inits)
    assert groups["pow"].nodes == ["pow", "mean", "eps_add", "sqrt", "div", "gamma"]
    assert groups["pow"].kind == "normalization" and "RMSNorm" in groups["pow"].rule


def test_softmax_topk_and_pointwise_chain_and_constants():
    k = numpy_helper.from_array(np.array([2], dtype=np.int64), "k")
    nodes = [helper.make_node("Constant", [], ["c"], name="const", value=numpy_helper.from_array(
                 np.array(2.0, dtype=np.float32))),
             helper.make_node("Mul", ["c", "c"], ["cc"], name="folded"),
             helper.make_node("Softmax", ["x"], ["s"], name="softmax"),
             helper.make_node("TopK", ["s", "k"], ["v", "i"], name="topk"),
             helper.make_node("Mul", ["x", "cc"], ["m"], name="scale"),
             helper.make_node("Abs", ["m"], ["a"], name="abs"),
             helper.make_node("Add", ["a", "x2"], ["y"], name="add")]
    groups, _ = _groups(nodes, [("x", F, [2, 8]), ("x2", F, [2, 8])],
                        [("v", F, None), ("i", TensorProto.INT64, None), ("y", F, None)], [k])
    assert groups["const"].kind == "constant" and groups["folded"].kind == "constant"
    assert groups["softmax"].nodes == ["softmax", "topk"] and groups["softmax"].rule == "Softmax + TopK"
    assert groups["scale"].nodes == ["scale", "abs", "add"] and groups["scale"].kind == "pointwise"


# -- against the real engines ---------------------------------------------------------------------------------
@pytest.mark.parametrize("variant, model_name, target", [("fp32", "resnet18.onnx", 0.90),
                                                         ("fp16", "resnet18.onnx", 0.90),
                                                         ("qat", "resnet18_qat.onnx", 0.80)])
def test_prediction_matches_real_engine(fixtures_dir, variant, model_name, target):
    model = _sample(model_name)
    result = compare_with_engine(predict_fusions(model), fixtures_dir / f"a100_resnet_{variant}.graph.json", model)
    assert result.recall >= target, result.actual_only
    assert result.precision >= target, result.predicted_only
    expected_actual = {"fp32": 17, "fp16": 17, "qat": 21}[variant]  # fused layers (2+ nodes) only
    assert result.actual_groups == expected_actual


def test_comparison_rule_ignores_nodes_the_engine_does_not_name(fixtures_dir):
    """Flatten_47 is in no engine layer: predicting it alone or with Gemm_48 scores the same."""
    model = _sample("resnet18.onnx")
    graph = fixtures_dir / "a100_resnet_fp32.graph.json"
    groups = predict_fusions(model)
    flatten = next(g for g in groups if g.nodes == ["Flatten_47"])
    assert flatten.kind == "single"
    merged = [g for g in groups if g.nodes not in (["Flatten_47"], ["Gemm_48"])]
    merged.append(FusionGroup("matmul", "test", ["Flatten_47", "Gemm_48"]))
    a, b = compare_with_engine(groups, graph, model), compare_with_engine(merged, graph, model)
    assert (a.precision, a.recall) == (b.precision, b.recall) == (1.0, 1.0)
    assert ["Flatten_47"] in a.excluded_predictions
    # a wrong grouping of named nodes is caught
    wrong = [g for g in groups if g.nodes not in (["Conv_0", "Relu_1"], ["MaxPool_2"])]
    wrong.append(FusionGroup("convolution", "test", ["Conv_0", "Relu_1", "MaxPool_2"]))
    c = compare_with_engine(wrong, graph, model)
    assert c.recall == pytest.approx(16 / 17) and [a["nodes"] for a in c.actual_only] == [["Conv_0", "Relu_1"]]
    assert c.predicted_only[0]["restricted"] == ["Conv_0", "Relu_1", "MaxPool_2"]


# -- only fusions are scored (issue 11: a build that fused nothing scored 98%) ---------------------------------
def test_single_nodes_are_not_scored_and_every_exclusion_says_why(fixtures_dir):
    from explorer.fusions.compare import ONE_NAMED, SINGLE, UNNAMED

    model = _sample("resnet18.onnx")
    graph = fixtures_dir / "a100_resnet_fp32.graph.json"
    groups = predict_fusions(model)
    result = compare_with_engine(groups, graph, model)
    singles = [g for g in groups if len(g.nodes) == 1]
    assert result.predicted_groups == len(groups) - len(singles) == 17
    assert result.excluded_counts() == {SINGLE: len(singles)}
    assert result.single_node_layers == 6
    assert "not scored: 7 single-node predictions, 6 single-node engine layers" in result.headline()
    # the naive baseline (every node alone) scores nothing now: it predicts no fusion
    naive = compare_with_engine([FusionGroup("single", "baseline", [n.id]) for n in model.nodes], graph, model)
    assert (naive.precision, naive.recall, naive.predicted_groups) == (None, 0.0, 0)
    assert "precision not defined (no multi-node prediction)" in naive.headline()
    mixed = [FusionGroup("matmul", "test", ["Flatten_47", "Gemm_48"]), FusionGroup("constant", "test", ["Flatten_47", "Flatten_47"])]
    reasons = [x.reason for x in compare_with_engine(mixed, graph, model).excluded]
    assert reasons == [ONE_NAMED, UNNAMED]


def test_a_build_that_fused_nothing_scores_no_recall_and_no_free_precision(tmp_path):
    """ONNX Runtime with every optimization off runs each node alone: none of the predicted fusions exists
    in that build, and the headline says so instead of 98%."""
    from explorer.backends.build import build

    model = _sample("resnet18.onnx")
    report = build(SAMPLES / "resnet18.onnx", backend="onnxruntime", opt_level=0, runs=2, warmup=1)
    result = compare_with_engine(predict_fusions(model), report, model)
    assert result.actual_groups == 0 and result.recall is None
    assert result.predicted_groups == 17 and result.precision == 0.0 and len(result.predicted_only) == 17
    assert "0 of 17 predicted fusions" in result.headline() and "recall not defined (the engine fused no nodes)" \
        in result.headline()
    assert result.to_dict()["headline"] == result.headline()
