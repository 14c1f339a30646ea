"""fp16/bf16 conversion of ONNX models (what TensorRT 11's strongly typed builds need).

fp16 models are run with ONNX Runtime on the CPU against the fp32 original; bf16 ones (no ONNX Runtime CPU
kernels) with ONNX's reference evaluator. Every converted model must pass ONNX's checker and strict type
inference, keep fp32 inputs and outputs (``keep_io_types``), and really hold low-precision weights.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from explorer.backends.precision import DEFAULT_BLOCK_OPS, convert_precision
from explorer.errors import ExplorerError

SAMPLES = Path(__file__).resolve().parents[1] / "sample_models"
HAVE_MODELOPT = importlib.util.find_spec("modelopt") is not None
LOW = {"fp16": TensorProto.FLOAT16, "bf16": TensorProto.BFLOAT16}


# ------------------------------------------------------------------------------------------------------
# Small models built here (the sample models are used too when present)
# ------------------------------------------------------------------------------------------------------

def _init(rng, name, *shape, scale=0.2):
    return numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name)


def conv_net() -> onnx.ModelProto:
    """Conv -> BN -> Relu -> Conv + residual -> Relu -> MaxPool -> GlobalAveragePool -> Flatten -> Gemm."""
    rng = np.random.default_rng(1)
    inits = [_init(rng, "w1", 8, 3, 3, 3), _init(rng, "b1", 8), _init(rng, "w2", 8, 8, 3, 3), _init(rng, "b2", 8),
             numpy_helper.from_array(np.abs(rng.standard_normal(8)).astype(np.float32) + 0.5, "bn_scale"),
             _init(rng, "bn_bias", 8), _init(rng, "bn_mean", 8),
             numpy_helper.from_array(np.abs(rng.standard_normal(8)).astype(np.float32) + 0.5, "bn_var"),
             _init(rng, "fc_w", 10, 8), _init(rng, "fc_b", 10)]
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c1", "bn_scale", "bn_bias", "bn_mean", "bn_var"], ["bn1"], name="bn1"),
        helper.make_node("Relu", ["bn1"], ["r1"], name="relu1"),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], name="conv2", pads=[1, 1, 1, 1]),
        helper.make_node("Add", ["c2", "r1"], ["res"], name="residual"),
        helper.make_node("Relu", ["res"], ["r2"], name="relu2"),
        helper.make_node("MaxPool", ["r2"], ["p"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("GlobalAveragePool", ["p"], ["g"], name="gap"),
        helper.make_node("Flatten", ["g"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "fc_w", "fc_b"], ["logits"], name="fc", transB=1),
    ]
    graph = helper.make_graph(nodes, "conv_net", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 16, 16])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [2, 10])], inits)
    return _finish(graph)


def transformer_block() -> onnx.ModelProto:
    """Self-attention (MatMul, Softmax) + decomposed LayerNorm (ReduceMean, Pow, Sqrt) + erf-GELU MLP,
    plus an unnamed node and a Cast(to=FLOAT) of an int64 input, which naive converters get wrong."""
    rng = np.random.default_rng(2)
    d = 16
    inits = [_init(rng, "wq", d, d), _init(rng, "wk", d, d), _init(rng, "wv", d, d), _init(rng, "w1", d, 4 * d),
             _init(rng, "w2", 4 * d, d), numpy_helper.from_array(np.ones(d, np.float32), "gamma"),
             numpy_helper.from_array(np.zeros(d, np.float32), "beta"),
             numpy_helper.from_array(np.array(2.0, np.float32), "two"),
             numpy_helper.from_array(np.array(1e-5, np.float32), "eps"),
             numpy_helper.from_array(np.array(np.sqrt(d), np.float32), "scale"),
             numpy_helper.from_array(np.array(np.sqrt(2.0), np.float32), "sqrt2"),
             numpy_helper.from_array(np.array(0.5, np.float32), "half"),
             numpy_helper.from_array(np.array(1.0, np.float32), "one"),
             numpy_helper.from_array(np.array([0, 2, 1], np.int64), "perm_unused")]
    n = helper.make_node
    nodes = [
        n("Cast", ["positions"], ["pos_f"], name="pos_cast", to=TensorProto.FLOAT),
        n("Add", ["x", "pos_f"], ["h"]),  # unnamed on purpose
        n("MatMul", ["h", "wq"], ["q"], name="q"), n("MatMul", ["h", "wk"], ["k"], name="k"),
        n("MatMul", ["h", "wv"], ["v"], name="v"),
        n("Transpose", ["k"], ["kt"], name="kt", perm=[0, 2, 1]),
        n("MatMul", ["q", "kt"], ["qk"], name="qk"), n("Div", ["qk", "scale"], ["qk_s"], name="qk_scale"),
        n("Softmax", ["qk_s"], ["attn"], name="softmax", axis=-1),
        n("MatMul", ["attn", "v"], ["ctx"], name="ctx"),
        n("Add", ["ctx", "h"], ["res1"], name="res1"),
        n("ReduceMean", ["res1"], ["mean"], name="ln_mean", axes=[-1]),
        n("Sub", ["res1", "mean"], ["centered"], name="ln_sub"),
        n("Pow", ["centered", "two"], ["sq"], name="ln_pow"),
        n("ReduceMean", ["sq"], ["var"], name="ln_var", axes=[-1]),
        n("Add", ["var", "eps"], ["var_eps"], name="ln_add_eps"),
        n("Sqrt", ["var_eps"], ["std"], name="ln_sqrt"),
        n("Div", ["centered", "std"], ["normed"], name="ln_div"),
        n("Mul", ["normed", "gamma"], ["scaled"], name="ln_gamma"),
        n("Add", ["scaled", "beta"], ["ln"], name="ln_beta"),
        n("MatMul", ["ln", "w1"], ["up"], name="fc1"),
        n("Div", ["up", "sqrt2"], ["up_s"], name="gelu_div"), n("Erf", ["up_s"], ["erf"], name="gelu_erf"),
        n("Add", ["erf", "one"], ["erf1"], name="gelu_add"), n("Mul", ["up", "erf1"], ["g1"], name="gelu_mul"),
        n("Mul", ["g1", "half"], ["gelu"], name="gelu_half"),
        n("MatMul", ["gelu", "w2"], ["down"], name="fc2"),
        n("Add", ["down", "ln"], ["y"], name="res2"),
    ]
    graph = helper.make_graph(
        nodes, "transformer_block",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, d]),
         helper.make_tensor_value_info("positions", TensorProto.INT64, [1, 8, d])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, d])], inits[:-1])
    return _finish(graph, opset=13)


def _finish(graph, opset=17) -> onnx.ModelProto:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def _sample(name: str) -> onnx.ModelProto:
    path = SAMPLES / name
    if not path.is_file():
        pytest.skip(f"{path} not present")
    return onnx.load(str(path))


def _feeds(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    feeds = {}
    inits = {t.name for t in model.graph.initializer}
    for vi in model.graph.input:
        if vi.name in inits:
            continue
        shape = [d.dim_value if d.dim_value > 0 else 2 for d in vi.type.tensor_type.shape.dim]
        if vi.type.tensor_type.elem_type == TensorProto.INT64:
            feeds[vi.name] = rng.integers(0, 3, size=shape).astype(np.int64)
        else:
            feeds[vi.name] = rng.standard_normal(shape).astype(np.float32)
    return feeds


def _ort(model: onnx.ModelProto, feeds) -> list[np.ndarray]:
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return session.run(None, feeds)


def _reference(model: onnx.ModelProto, feeds) -> list[np.ndarray]:
    from onnx.reference import ReferenceEvaluator

    return ReferenceEvaluator(model).run(None, feeds)


def _assert_close(outputs, expected, rel: float) -> None:
    for out, ref in zip(outputs, expected):
        assert out.dtype == np.float32, "outputs must stay fp32 (keep_io_types)"
        scale = float(np.max(np.abs(ref))) or 1.0
        worst = float(np.max(np.abs(out.astype(np.float32) - ref))) / scale
        assert worst < rel, f"max error {worst:.3g} of the output range, allowed {rel}"


def _assert_converted(model: onnx.ModelProto, original: onnx.ModelProto, precision: str) -> None:
    onnx.checker.check_model(model)
    onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    for before, after in zip(list(original.graph.input) + list(original.graph.output),
                             list(model.graph.input) + list(model.graph.output)):
        assert after.name == before.name
        assert after.type.tensor_type.elem_type == before.type.tensor_type.elem_type, f"{after.name} changed type"
    low = sum(1 for t in model.graph.initializer if t.data_type == LOW[precision])
    low += sum(1 for n in model.graph.node for a in n.attribute if a.name == "value" and a.t.data_type == LOW[precision])
    assert low > 0, "no weight was converted"


# ------------------------------------------------------------------------------------------------------
# fp16: ONNX Runtime on the CPU, fp32 vs fp16
# ------------------------------------------------------------------------------------------------------

TOOLS = ["auto", "explorer"]  # auto: Model Optimizer if installed, else onnxconverter-common


@pytest.mark.parametrize("tool", TOOLS)
@pytest.mark.parametrize("make", [conv_net, transformer_block], ids=["conv_net", "transformer_block"])
def test_fp16_conversion_matches_fp32_in_onnxruntime(make, tool):
    model = make()
    converted, info = convert_precision(model, "fp16", tool=tool)
    _assert_converted(converted, model, "fp16")
    feeds = _feeds(model)
    _assert_close(_ort(converted, feeds), _ort(model, feeds), rel=1e-2)
    assert info.precision == "fp16" and info.keep_io_types
    if tool == "explorer":
        assert info.tool == "explorer cast-based converter"
    elif not HAVE_MODELOPT:
        assert info.tool.startswith("onnxconverter-common") or "not a valid model" in " ".join(info.notes)


@pytest.mark.parametrize("tool", TOOLS)
def test_fp16_transformer_keeps_the_risky_parts_in_fp32(tool):
    model = transformer_block()
    converted, info = convert_precision(model, "fp16", tool=tool)
    assert {"ln_mean", "ln_pow", "ln_var", "ln_sqrt"} <= set(info.kept_fp32), info.kept_fp32
    assert not {"q", "k", "v", "qk", "ctx", "fc1", "fc2", "softmax"} & set(info.kept_fp32)
    inferred = onnx.shape_inference.infer_shapes(converted).graph
    types = {vi.name: vi.type.tensor_type.elem_type for vi in inferred.value_info}
    output_of = {n.name: n.output[0] for n in inferred.node}
    assert types[output_of["ln_pow"]] == TensorProto.FLOAT  # x**2 overflows fp16 above 256
    assert types[output_of["fc1"]] == TensorProto.FLOAT16


@pytest.mark.parametrize("name", ["resnet18.onnx", "transformer_encoder.onnx"])
@pytest.mark.parametrize("tool", TOOLS)
def test_fp16_sample_models_match_fp32_in_onnxruntime(name, tool):
    model = _sample(name)
    converted, info = convert_precision(model, "fp16", tool=tool)
    _assert_converted(converted, model, "fp16")
    feeds = _feeds(model)
    _assert_close(_ort(converted, feeds), _ort(model, feeds), rel=1e-2)
    if name.startswith("transformer"):
        assert any("LayerNormalization" in n or "Pow" in n for n in info.kept_fp32)


# ------------------------------------------------------------------------------------------------------
# bf16: the explorer's converter (onnxconverter-common cannot), checked with ONNX's reference evaluator
# ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("make", [conv_net, transformer_block], ids=["conv_net", "transformer_block"])
def test_bf16_conversion_is_valid_and_close_in_the_reference_evaluator(make):
    model = make()
    converted, info = convert_precision(model, "bf16")
    _assert_converted(converted, model, "bf16")
    feeds = _feeds(model)
    _assert_close(_reference(converted, feeds), _reference(model, feeds), rel=5e-2)
    if not HAVE_MODELOPT:
        assert info.tool == "explorer cast-based converter"
    if make is conv_net and not HAVE_MODELOPT:
        # opset 17's Conv has no bfloat16: the converter says so instead of writing an invalid model
        assert "conv1" in info.kept_fp32 and any("Conv" in note for note in info.notes)


def test_bf16_is_refused_by_onnxconverter_common_with_a_pointer_to_modelopt():
    with pytest.raises(ExplorerError, match="modelopt|Model Optimizer"):
        convert_precision(conv_net(), "bf16", tool="onnxconverter-common")


# ------------------------------------------------------------------------------------------------------
# Options and edge cases
# ------------------------------------------------------------------------------------------------------

def test_keep_io_types_false_makes_inputs_and_outputs_low_precision():
    model = conv_net()
    converted, info = convert_precision(model, "fp16", keep_io_types=False, tool="explorer")
    onnx.shape_inference.infer_shapes(converted, check_type=True, strict_mode=True)
    assert converted.graph.input[0].type.tensor_type.elem_type == TensorProto.FLOAT16
    assert converted.graph.output[0].type.tensor_type.elem_type == TensorProto.FLOAT16
    feeds = {k: v.astype(np.float16) for k, v in _feeds(model).items()}
    out = _ort(converted, feeds)[0]
    ref = _ort(model, {k: v.astype(np.float32) for k, v in feeds.items()})[0]
    assert out.dtype == np.float16 and np.max(np.abs(out - ref)) / np.max(np.abs(ref)) < 1e-2


@pytest.mark.parametrize("tool", TOOLS)
def test_block_ops_are_kept_in_fp32(tool):
    converted, info = convert_precision(transformer_block(), "fp16", block_ops=["MatMul"], tool=tool)
    assert {"q", "k", "v", "fc1", "fc2"} <= set(info.kept_fp32)
    assert info.block_ops == ["MatMul"]
    onnx.shape_inference.infer_shapes(converted, check_type=True, strict_mode=True)


def test_fixed_type_inputs_stay_fp32_without_a_block_list():
    """Resize's scales are tensor(float) in every opset: converting them would make an invalid model."""
    scales = numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales")
    w = numpy_helper.from_array(np.ones((4, 3, 1, 1), np.float32) * 0.1, "w")
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
             helper.make_node("Resize", ["c", "", "scales"], ["y"], name="resize", mode="nearest")]
    graph = helper.make_graph(nodes, "resize", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 8, 8])], [scales, w])
    model = _finish(graph, opset=13)
    converted, _ = convert_precision(model, "fp16", block_ops=(), tool="explorer")
    assert {t.name: t.data_type for t in converted.graph.initializer}["scales"] == TensorProto.FLOAT
    feeds = _feeds(model)
    _assert_close(_ort(converted, feeds), _ort(model, feeds), rel=1e-2)


def test_values_read_by_control_flow_bodies_keep_their_type():
    rng = np.random.default_rng(3)
    w = numpy_helper.from_array(rng.standard_normal((4, 4)).astype(np.float32), "w")
    then_graph = helper.make_graph([helper.make_node("Relu", ["m"], ["t_out"], name="then_relu")], "then", [],
                                   [helper.make_tensor_value_info("t_out", TensorProto.FLOAT, [2, 4])])
    else_graph = helper.make_graph([helper.make_node("Neg", ["m"], ["e_out"], name="else_neg")], "else", [],
                                   [helper.make_tensor_value_info("e_out", TensorProto.FLOAT, [2, 4])])
    nodes = [helper.make_node("MatMul", ["x", "w"], ["m"], name="mm"),
             helper.make_node("If", ["cond"], ["y"], name="branch", then_branch=then_graph, else_branch=else_graph)]
    graph = helper.make_graph(nodes, "if", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4]),
                                            helper.make_tensor_value_info("cond", TensorProto.BOOL, [])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4])], [w])
    model = _finish(graph)
    converted, info = convert_precision(model, "fp16", tool="explorer")
    onnx.checker.check_model(converted, full_check=True)
    feeds = {"x": rng.standard_normal((2, 4)).astype(np.float32), "cond": np.array(True)}
    _assert_close(_ort(converted, feeds), _ort(model, feeds), rel=1e-2)
    assert "mm" in info.kept_fp32  # its output is read inside the If bodies, which are not converted


def test_weights_in_external_data_must_be_loaded_first(tmp_path):
    model = conv_net()
    path = tmp_path / "m.onnx"
    onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                    location="m.data", size_threshold=0)
    unloaded = onnx.load(str(path), load_external_data=False)
    with pytest.raises(ExplorerError, match="external data"):
        convert_precision(unloaded, "fp16")
    converted, _ = convert_precision(onnx.load(str(path)), "fp16")
    onnx.checker.check_model(converted)


def test_input_model_is_not_modified_and_bad_precisions_are_refused():
    model = transformer_block()
    before = model.SerializeToString()
    convert_precision(model, "fp16")
    convert_precision(model, "bf16")
    assert model.SerializeToString() == before
    with pytest.raises(ExplorerError, match="fp16 or bf16"):
        convert_precision(model, "int8")
    assert "LayerNormalization" in DEFAULT_BLOCK_OPS and "Softmax" not in DEFAULT_BLOCK_OPS


@pytest.mark.skipif(HAVE_MODELOPT, reason="Model Optimizer is installed here")
def test_forcing_modelopt_without_it_says_how_to_install():
    with pytest.raises(ExplorerError, match="nvidia-modelopt"):
        convert_precision(conv_net(), "fp16", tool="modelopt")
