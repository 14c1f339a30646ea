"""The ONNX Runtime backend in-process: real ONNX Runtime, real sample models, no mocks.

What is checked: the optimization-level mapping, the fusions ONNX Runtime really makes (read from its saved
optimized graph) mapped back to the right ONNX nodes, per-node profiler timings, memory figures, input
shapes, and the accuracy of the fp16 / int8 models the backend builds against fp32.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from conftest import SAMPLES
from explorer import load_model
from explorer.backends import onnxruntime as ort_backend
from explorer.errors import BuildError


def _build(tmp_path, name, **settings):
    settings.setdefault("runs", 3)
    settings.setdefault("warmup", 1)
    return ort_backend.build(str(SAMPLES / f"{name}.onnx"), settings, workdir=str(tmp_path))


def _layer_covering(result, node_id):
    layers = [l for l in result.layers if node_id in l.onnx_nodes]
    assert layers, f"no layer covers {node_id}"
    return layers[0]


def _all_nodes_accounted_for(result, model_path):
    model = load_model(model_path)
    covered = {n for l in result.layers for n in l.onnx_nodes}
    vanished = {n for group in result.vanished for n in group.onnx_nodes}
    missing = [n.id for n in model.graph.nodes if n.id not in covered | vanished]
    assert not missing, f"nodes neither in a layer nor reported as vanished: {missing}"


def test_optimization_levels_map_to_onnxruntime_levels():
    assert [ort_backend.graph_optimization_level(i) for i in range(6)] == [
        "ORT_DISABLE_ALL", "ORT_ENABLE_BASIC", "ORT_ENABLE_EXTENDED", "ORT_ENABLE_ALL", "ORT_ENABLE_ALL",
        "ORT_ENABLE_ALL"]
    with pytest.raises(BuildError):
        ort_backend.graph_optimization_level(-1)


def test_resnet18_conv_relu_become_fusedconv_with_timings_and_memory(tmp_path):
    result = _build(tmp_path, "resnet18", opt_level=2)
    conv0 = _layer_covering(result, "Conv_0")
    assert conv0.type == "FusedConv" and conv0.onnx_nodes == ["Conv_0", "Relu_1"]
    fused = [f for f in result.fusions if f.pattern == "Conv + Relu -> FusedConv"]
    assert len(fused) == 9  # the stem and the first conv of each of the 8 basic blocks
    # the second conv of a block is followed by Add (residual), which level 2 does not fuse
    assert _layer_covering(result, "Conv_5").onnx_nodes == ["Conv_5"]
    _all_nodes_accounted_for(result, SAMPLES / "resnet18.onnx")

    timed = [l for l in result.layers if l.latency]
    assert len(timed) == len(result.layers)
    for layer in timed:
        stats = layer.latency
        assert stats.count == 3 and stats.median_ms > 0
        assert stats.p10_ms <= stats.median_ms <= stats.p90_ms
        assert layer.provider == "CPUExecutionProvider"
    assert result.latency.end_to_end.median_ms > 0
    assert len(result.latency.end_to_end_ms) == 3

    memory = result.memory
    proto = onnx.load(SAMPLES / "resnet18.onnx", load_external_data=False)
    initializer_bytes = sum(int(np.prod(t.dims)) * 4 for t in proto.graph.initializer)
    assert memory.weights_bytes == initializer_bytes  # fp32 weights, none folded away
    assert sum(l.weights_bytes or 0 for l in result.layers) == initializer_bytes
    assert conv0.weights_bytes == (16 * 3 * 7 * 7 + 16) * 4
    assert conv0.outputs[0].shape == [1, 16, 112, 112] and conv0.outputs[0].dtype == "float"
    assert memory.arena_peak_bytes is None or memory.arena_peak_bytes > 0


def test_resnet18_level3_nchwc_conv_absorbs_its_residual_add_and_relu(tmp_path):
    result = _build(tmp_path, "resnet18", opt_level=3)
    assert result.settings.ort_graph_optimization_level == "ORT_ENABLE_ALL"
    layer = _layer_covering(result, "Add_6")
    assert layer.type == "com.microsoft.nchwc::Conv"
    assert layer.onnx_nodes == ["Conv_5", "Add_6", "Relu_7"]
    # downsample block: the Add joins the 3x3 conv (whose fused node reads the 1x1 conv's output as its sum
    # input), not the 1x1 downsample conv
    assert _layer_covering(result, "Add_17").onnx_nodes == ["Conv_15", "Add_17", "Relu_18"]
    assert _layer_covering(result, "Conv_16").onnx_nodes == ["Conv_16"]
    reorder = [l for l in result.layers if l.type == "com.microsoft.nchwc::ReorderOutput"]
    assert reorder and all(l.origin == "inserted" and not l.onnx_nodes for l in reorder)
    _all_nodes_accounted_for(result, SAMPLES / "resnet18.onnx")


@pytest.mark.parametrize("level, expected", [
    (0, set()),
    (1, {"MatMul + Add -> Gemm",
         "ReduceMean + Sub + Pow + ReduceMean + Add + Sqrt + Div + Mul + Add -> LayerNormalization"}),
    (2, {"MatMul + Add -> Gemm", "MatMul + Div -> FusedMatMul", "Div + Erf + Add + Mul + Mul -> Gelu",
         "Add + ReduceMean + Sub + Pow + ReduceMean + Add + Sqrt + Div + Mul + Add -> SkipLayerNormalization",
         "Add + LayerNormalization -> SkipLayerNormalization"}),
])
def test_transformer_fusions_by_level(tmp_path, level, expected):
    result = _build(tmp_path, "transformer_encoder", opt_level=level, runs=1, warmup=0)
    patterns = {f.pattern for f in result.fusions if f.kind == "fusion"}
    assert expected <= patterns, patterns - expected
    if level == 0:
        assert not result.fusions
    if level == 2:
        gelu = _layer_covering(result, "/encoder/layers.0/activation/Erf")
        assert gelu.type == "Gelu"
        assert gelu.onnx_nodes == [f"/encoder/layers.0/activation/{n}" for n in ("Div", "Erf", "Add", "Mul", "Mul_1")]
        skip = _layer_covering(result, "/encoder/layers.0/norm1/Sqrt")
        assert skip.type == "SkipLayerNormalization" and "/encoder/layers.0/Add" in skip.onnx_nodes
    _all_nodes_accounted_for(result, SAMPLES / "transformer_encoder.onnx")
    constants = [g for g in result.vanished if g.reason.startswith("Constant nodes")]
    assert constants and all(n.rsplit("/", 1)[-1].startswith("Constant") for n in constants[0].onnx_nodes)


def test_qdq_model_fuses_into_qlinear_ops(tmp_path):
    result = _build(tmp_path, "int8_qdq", opt_level=2, precision="int8")
    conv1 = _layer_covering(result, "conv1")
    assert conv1.type == "QLinearConv"
    assert set(conv1.onnx_nodes) == {"conv1.weight_DequantizeLinear", "input_DequantizeLinear", "conv1",
                                        "conv1_out_QuantizeLinear"}
    assert result.conversion.changed is False  # already Q/DQ: kept as is
    assert any(o.dtype in ("int8", "uint8") for o in conv1.outputs)
    _all_nodes_accounted_for(result, SAMPLES / "int8_qdq.onnx")


def test_hostile_and_duplicate_names_run_under_their_ids(tmp_path):
    # ONNX Runtime refuses two nodes named "duplicate"; the backend names nodes by their explorer ids
    result = _build(tmp_path, "hostile_names", opt_level=2)
    names = {l.name for l in result.layers}
    assert '<script>alert("x")</script>' in names
    assert {"duplicate", "duplicate_6"} <= {n for l in result.layers for n in l.onnx_nodes}
    assert any("named by their explorer id" in note for note in result.notes)
    _all_nodes_accounted_for(result, SAMPLES / "hostile_names.onnx")


def test_control_flow_and_inlined_function(tmp_path):
    result = _build(tmp_path, "control_flow", opt_level=2)
    by_type = {l.type: l for l in result.layers}
    assert by_type["If"].latency.median_ms > 0 and by_type["Loop"].latency.median_ms > 0
    # the local function call is inlined into several nodes, all covering the one call node
    expanded = [f for f in result.fusions if f.kind == "expansion"]
    assert expanded and all(f.onnx_ops == ["local.fn::ScaledTanh"] for f in expanded)
    # body nodes are timed inside their If/Loop and are not layers of their own
    assert all("/" not in n or n.startswith(("cond/", "branch/", "repeat/", "head/"))
               for l in result.layers for n in l.onnx_nodes)


def test_symbolic_dims_are_chosen_with_a_note_or_take_given_shapes(tmp_path):
    (tmp_path / "a").mkdir()
    result = _build(tmp_path / "a", "dynamic_shapes", opt_level=2)
    assert result.settings.input_shapes == {"images": [1, 3, 640, 640]}  # batch 1, an image's default size
    assert any("'height' = 640 (image height, default 640)" in note for note in result.notes)
    (tmp_path / "b").mkdir()
    shaped = _build(tmp_path / "b", "dynamic_shapes", opt_level=2,
                    shapes={"images": [[1, 3, 8, 8], [2, 3, 16, 16], [4, 3, 32, 32]]})
    assert shaped.settings.input_shapes == {"images": [2, 3, 16, 16]}  # the opt shape
    conv = _layer_covering(shaped, "/backbone/conv/Conv")
    assert conv.outputs[0].shape[0] == 2
    with pytest.raises(BuildError, match="no input named"):
        ort_backend.resolve_input_shapes(onnx.load(SAMPLES / "dynamic_shapes.onnx"), {"pixels": [(1,), (1,), (1,)]})


def _cosine(a, b) -> float:
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.mark.parametrize("name", ["resnet18", "transformer_encoder"])
def test_fp16_and_int8_models_stay_close_to_fp32(name):
    proto = onnx.load(SAMPLES / f"{name}.onnx")
    shapes, _ = ort_backend.resolve_input_shapes(proto, {})
    feeds = ort_backend.random_inputs(proto, shapes, seed=123)
    reference = ort_backend.run(proto, feeds)[0]

    fp16, info = ort_backend.convert_precision(proto, "fp16")
    assert info.changed and info.tool
    assert any(t.data_type == onnx.TensorProto.FLOAT16 for t in fp16.graph.initializer)
    out16 = ort_backend.run(fp16, feeds)[0]
    assert out16.dtype == np.float32  # keep_io_types
    np.testing.assert_allclose(out16, reference, rtol=1e-2, atol=1e-2 * float(np.abs(reference).max()))

    calibration = [ort_backend.random_inputs(proto, shapes, seed=s) for s in range(1, 5)]
    int8, info = ort_backend.convert_precision(proto, "int8", calibration=calibration)
    assert "quantize_static" in info.tool and "not for accuracy" in info.note
    zero_points = [t for t in int8.graph.initializer if t.name.endswith("zero_point")]
    assert zero_points and all(not np.any(onnx.numpy_helper.to_array(t)) for t in zero_points)  # symmetric
    kinds = {t.data_type for t in zero_points}
    assert onnx.TensorProto.INT8 in kinds and kinds <= {onnx.TensorProto.INT8, onnx.TensorProto.INT32}  # int32: biases
    out8 = ort_backend.run(int8, feeds)[0]
    assert _cosine(out8, reference) > 0.95


def test_external_weights_and_unnamed_nodes(tmp_path):
    """Renamed nodes mean ONNX Runtime gets bytes, not the file: the external weights must still be found."""
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.arange(64 * 64, dtype=np.float32).reshape(64, 64) / 4096.0, "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"]), helper.make_node("Relu", ["y"], ["z"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64])],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, 64])], [weight])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    folder = tmp_path / "model"
    folder.mkdir()
    onnx.save_model(model, folder / "m.onnx", save_as_external_data=True, location="m.data", size_threshold=0)
    (tmp_path / "work").mkdir()
    result = ort_backend.build(str(folder / "m.onnx"), {"runs": 2, "warmup": 0, "opt_level": 2},
                               workdir=str(tmp_path / "work"))
    assert [l.onnx_nodes for l in result.layers] == [["MatMul_0"], ["Relu_1"]]
    assert result.memory.model_weights_bytes == 64 * 64 * 4


def test_fast_trace_reader_agrees_with_json(tmp_path):
    """The one-pass reader of ONNX Runtime's trace gives what a full json.load of it gives."""
    import json

    proto = onnx.load(SAMPLES / "hostile_names.onnx")  # quotes, tags and unicode in node names
    ort_backend.name_nodes_by_id(proto, load_model(SAMPLES / "hostile_names.onnx"))  # duplicates renamed
    session = ort_backend.create_session(proto, 2, profile_prefix=str(tmp_path / "trace"))
    shapes, _ = ort_backend.resolve_input_shapes(proto, {})
    feeds = ort_backend.random_inputs(proto, shapes)
    for _ in range(5):
        session.run(None, feeds)
    path = session.end_profiling()
    fast = ort_backend.parse_profile(ort_backend.read_profile_file(path), skip_runs=1)
    with open(path, encoding="utf-8") as f:
        slow = ort_backend.parse_profile(json.load(f), skip_runs=1)
    assert fast.runs == slow.runs == 4
    assert set(fast.nodes) == set(slow.nodes) and '<script>alert("x")</script>' in fast.nodes
    for name, node in fast.nodes.items():
        assert node.durations_us == slow.nodes[name].durations_us and len(node.durations_us) == 4
        assert node.op_type == slow.nodes[name].op_type and node.provider == "CPUExecutionProvider"


def test_profiler_overhead_is_calibrated_on_a_chain_and_subtracted(tmp_path):
    result = _build(tmp_path, "transformer_encoder", opt_level=2, runs=20, warmup=2)
    calibration = result.latency.profiler_calibration
    assert calibration.nodes == ort_backend.CALIBRATION_NODES and "Neg" in calibration.method
    assert "Sigmoid" in calibration.method and calibration.parallel_nodes == ort_backend.PARALLEL_NODES
    assert 0 <= calibration.overhead_us < 100  # a few microseconds on any CPU this runs on
    assert 0 <= calibration.parallel_extra_us < 1000 and calibration.outside_us >= 0
    assert calibration.recorded_per_node_us >= calibration.overhead_us
    serial_ms = calibration.overhead_us / 1000.0
    parallel_ms = serial_ms + calibration.parallel_extra_us / 1000.0
    for layer in result.layers:
        stats = layer.latency
        assert 0 < stats.median_ms <= stats.raw_median_ms
        assert stats.p10_ms <= stats.median_ms <= stats.p90_ms
        # a node that used the thread pool has the bigger overhead taken off (the trace says which)
        assert (stats.profiler_overhead_ms == pytest.approx(serial_ms)
                or stats.profiler_overhead_ms == pytest.approx(parallel_ms))
        overhead_ms = stats.profiler_overhead_ms
        assert stats.median_ms == pytest.approx(
            max(stats.raw_median_ms - overhead_ms, min(stats.raw_median_ms, 1e-4)), abs=1e-6) or stats.at_floor
    latency = result.latency
    assert latency.sum_of_node_medians_ms < latency.raw_sum_of_node_medians_ms
    assert any("profiler overhead subtracted" in n and f"chains of {ort_backend.CALIBRATION_NODES} Neg and "
               f"{ort_backend.PARALLEL_NODES} Sigmoid nodes" in n for n in result.notes)


def test_calibration_is_independent_of_the_model_and_can_be_turned_off(tmp_path):
    (tmp_path / "a").mkdir()
    raw = _build(tmp_path / "a", "hostile_names", opt_level=2, profiler_calibration=False)
    assert raw.latency.profiler_calibration is None
    for layer in raw.layers:
        assert layer.latency.raw_median_ms is None
    assert raw.latency.raw_sum_of_node_medians_ms == raw.latency.sum_of_node_medians_ms


def test_corrected_stats_subtract_and_floor():
    stats = ort_backend.corrected_stats([10.0, 12.0, 14.0], 3.0)
    # whole-µs values: the median 12 is the class [12, 13) holding the middle run, interpolated to 12.5
    assert stats.median_ms == pytest.approx(0.0095) and stats.raw_median_ms == pytest.approx(0.0125)
    assert stats.p10_ms <= stats.median_ms <= stats.p90_ms
    assert not stats.at_floor
    tiny = ort_backend.corrected_stats([1.0, 2.0, 3.0], 3.0)  # no longer than the overhead: at the floor
    assert tiny.at_floor and tiny.median_ms == pytest.approx(ort_backend.CORRECTED_FLOOR_US / 1000.0)
    assert tiny.median_ms > 0


def test_whole_us_quantiles_are_interpolated_within_the_microsecond():
    """ONNX Runtime truncates durations to whole µs: 3 µs means [3, 4). With runs at 3, 3 and 4 µs the
    middle run sits three quarters into the class [3, 4), not at 3; fractional data is taken as it is."""
    assert ort_backend.whole_us_median([3, 3, 4]) == pytest.approx(3.75)
    assert ort_backend.whole_us_median([3.0] * 10) == pytest.approx(3.5)
    assert ort_backend.whole_us_median([2.5, 3.5, 9.25]) == pytest.approx(3.5)
    values = [3] * 6 + [4] * 3 + [9]
    quantiles = ort_backend.whole_us_quantiles(values, (0.1, 0.5, 0.9))
    assert quantiles == sorted(quantiles) and 3 <= quantiles[0] < quantiles[1] < 4 <= quantiles[2] <= 5


def test_control_flow_nodes_are_corrected_for_their_bodies_and_loop_nodes_per_event():
    """An If/Loop's recorded time spans its body's node events (each with the profiler's work); a body
    node run three times in a run carries the overhead three times. Both are taken off, from the trace."""
    import numpy as np

    # a Loop [0, 100) holding three body events and an If holding one; then a plain node
    ts = [0, 10, 40, 70, 120, 125, 200]
    dur = [100, 5, 5, 5, 20, 5, 8]
    assert ort_backend.nested_event_counts(ts, dur).tolist() == [3, 0, 0, 0, 1, 0, 0]
    assert ort_backend.nested_event_counts([0, 10, 20], [5, 5, 5]).tolist() == [0, 0, 0]
    stats = ort_backend.corrected_stats([100.0, 100.0], 3.0, events=[1, 1], nested=[3, 3], nested_overhead_us=5.0)
    assert stats.profiler_overhead_ms == pytest.approx(0.018)  # 3 + 3 x 5 µs
    body = ort_backend.corrected_stats([15.0, 15.0], 3.0, events=[3, 3])
    assert body.profiler_overhead_ms == pytest.approx(0.009)
    assert np.isclose(body.median_ms, (15.5 - 9.0) / 1000.0)


def test_result_crosses_the_worker_pipe_as_json_and_comes_back_typed(tmp_path):
    """The worker sends ``to_dict()`` as JSON; ``from_dict`` rebuilds the same result, nested types included."""
    import json

    from explorer.backends.onnxruntime import OrtBuildResult, report_from_onnxruntime

    result = _build(tmp_path, "control_flow", opt_level=2)
    back = OrtBuildResult.from_dict(json.loads(json.dumps(result.to_dict())))
    assert back == result
    assert isinstance(back.layers[0].latency, ort_backend.DurationStats)
    assert isinstance(back.latency.profiler_calibration, ort_backend.ProfilerCalibration)
    report = report_from_onnxruntime(back)
    assert [l.name for l in report.layers] == [l.name for l in result.layers]
    assert report.layers[0].outputs[0].dtype == "FP32"  # ONNX Runtime's "float", in the explorer's words


def test_fp8_is_refused_in_words():
    proto = onnx.load(SAMPLES / "int8_qdq.onnx")
    with pytest.raises(BuildError, match="ONNX Runtime cannot build fp8"):
        ort_backend.convert_precision(proto, "fp8")
