"""Where precision loses accuracy (explorer.backends.accuracy) and why each layer runs in its precision, on the
real sample models with real ONNX Runtime runs: the library's table is checked against the test's own ONNX
Runtime runs of the same two models (every tensor marked by the test itself) and numpy."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from conftest import REPO, SAMPLES

from explorer.backends.accuracy import (CAUSE_BLOCK_LIST, CAUSE_NO_KERNEL, CAUSE_QDQ, ComparisonCancelled,
                                        JUMP_FACTOR, JUMP_FLOOR, compare_precision, start_precision_comparison)
from explorer.errors import BuildError
from explorer.model import load_model
from explorer.model.transforms import name_nodes_by_id

RESNET = SAMPLES / "resnet18.onnx"
TRANSFORMER = SAMPLES / "transformer_encoder.onnx"


def _all_outputs_run(proto: onnx.ModelProto, feeds: dict) -> dict[str, np.ndarray]:
    """The test's own run: every node output made a graph output by hand, ONNX Runtime CPU, no optimizations."""
    marked = onnx.ModelProto()
    marked.CopyFrom(proto)
    declared = {o.name for o in marked.graph.output}
    for node in marked.graph.node:
        for name in node.output:
            if name and name not in declared:
                marked.graph.output.append(onnx.ValueInfoProto(name=name))
                declared.add(name)
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(marked.SerializeToString(), so, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, feeds)))


def _numpy_errors(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    a = a.astype(np.float64).ravel()
    b = b.astype(np.float64).ravel()
    max_abs = np.max(np.abs(a - b))
    rel = max_abs / np.max(np.abs(a)) if np.max(np.abs(a)) > 0 else 0.0
    cosine = (a @ b) / (np.sqrt(a @ a) * np.sqrt(b @ b))
    return float(max_abs), float(rel), float(cosine)


def _original(path) -> onnx.ModelProto:
    proto = onnx.load(str(path))
    name_nodes_by_id(proto, load_model(str(path)))
    return proto


def _delivered(original: onnx.ModelProto, converted: onnx.ModelProto, tensor: str) -> str:
    """Where a tensor is in the converted model: the same output of the node of the same name, and in a Q/DQ
    model the DequantizeLinear after its QuantizeLinear (what consumers read)."""
    producer = next(n for n in original.graph.node if tensor in n.output)
    same = next(n for n in converted.graph.node if n.name == producer.name)
    name = same.output[list(producer.output).index(tensor)]
    for q in converted.graph.node:
        if q.op_type == "QuantizeLinear" and q.input[0] == name:
            for dq in converted.graph.node:
                if dq.op_type == "DequantizeLinear" and dq.input[0] == q.output[0]:
                    return dq.output[0]
    return name


@pytest.mark.parametrize("path,precision", [(RESNET, "fp16"), (TRANSFORMER, "fp16"), (RESNET, "int8")])
def test_error_table_equals_numpy_on_the_tests_own_onnxruntime_runs(path, precision):
    """The table's max abs / rel / cosine per tensor are what numpy computes from two ONNX Runtime runs the test
    makes itself (the fp32 model and the converted model the comparison ran), on the documented random inputs
    (numpy's default_rng(seed) standard normal)."""
    seed = 3
    result = compare_precision(str(path), precision, seed=seed)
    original = _original(path)
    converted = onnx.ModelProto()
    converted.ParseFromString(result.converted_model)
    (vi,) = [i for i in original.graph.input if i.name not in {t.name for t in original.graph.initializer}]
    shape = [d.dim_value for d in vi.type.tensor_type.shape.dim]
    feeds = {vi.name: np.random.default_rng(seed).standard_normal(shape).astype(np.float32)}
    reference = _all_outputs_run(original, feeds)
    low = _all_outputs_run(converted, feeds)

    assert result.inputs.startswith(f"random (explorer.backends.inputs.random_feeds), seed {seed}")
    assert result.source.startswith(f"onnxruntime {ort.__version__}")
    assert f"{precision} vs fp32, all outputs marked" in result.source
    float_outputs = [o for n in original.graph.node for o in n.output
                     if o and n.op_type != "Constant" and reference[o].dtype.kind == "f"]
    assert [r.tensor for r in result.rows] == float_outputs  # every float tensor, in topological order
    for row in result.rows:
        a, b = reference[row.tensor], low[_delivered(original, converted, row.tensor)]
        max_abs, rel, cosine = _numpy_errors(a, b)
        assert row.max_abs == pytest.approx(max_abs, rel=1e-9, abs=1e-30), row.tensor
        assert row.rel == pytest.approx(rel, rel=1e-9, abs=1e-30), row.tensor
        assert row.cosine == pytest.approx(cosine, rel=1e-9), row.tensor
    assert any(r.max_abs > 0 for r in result.rows)  # the conversion changed something

    # the first jump follows the documented rule, recomputed here
    by_tensor = {r.tensor: r.rel for r in result.rows}
    reads = {n.name: [i for i in n.input if i in by_tensor] for n in original.graph.node}
    expected = None
    for row in result.rows:
        inputs = max((by_tensor[t] for t in reads[row.node]), default=0.0)
        assert row.input_rel == inputs
        if expected is None and row.rel > JUMP_FLOOR and row.rel > JUMP_FACTOR * inputs:
            expected = row.node
    assert (result.first_jump.node if result.first_jump else None) == expected


def test_int8_marks_the_first_quantized_node_as_the_jump_and_says_qdq():
    result = compare_precision(str(RESNET), "int8", seed=0)
    jump = result.first_jump
    assert jump is not None and jump.rel > JUMP_FLOOR and jump.input_rel == 0.0
    assert jump.precision == "INT8" and jump.why.startswith(CAUSE_QDQ)
    assert {l.cause for l in result.layers} == {CAUSE_QDQ}


def test_fp32_against_fp32_is_exactly_zero():
    result = compare_precision(str(RESNET), "fp32", seed=0)
    assert result.rows
    assert all(r.max_abs == 0.0 and r.rel == 0.0 and r.nonfinite == 0 for r in result.rows)
    assert all(r.cosine == pytest.approx(1.0, abs=1e-12) for r in result.rows)
    assert result.first_jump is None


def test_given_inputs_dict_and_npz_give_the_same_table(tmp_path):
    rng = np.random.default_rng(11)
    x = (rng.standard_normal((1, 128, 64)) * 4).astype(np.float32)
    from_dict = compare_precision(str(TRANSFORMER), "fp16", inputs={"embeddings": x})
    np.savez(tmp_path / "x.npz", embeddings=x)
    from_file = compare_precision(str(TRANSFORMER), "fp16", inputs=str(tmp_path / "x.npz"))
    assert from_dict.inputs.startswith("given arrays") and from_file.inputs.startswith("given: x.npz")
    assert [r.to_dict() for r in from_dict.rows] == [r.to_dict() for r in from_file.rows]
    random = compare_precision(str(TRANSFORMER), "fp16", seed=0)
    assert [r.max_abs for r in random.rows] != [r.max_abs for r in from_dict.rows]


def test_block_list_changes_the_converted_model_and_the_why():
    plain = compare_precision(str(TRANSFORMER), "fp16")
    blocked = compare_precision(str(TRANSFORMER), "fp16", block=["Softmax"])
    assert plain.converted_model != blocked.converted_model

    def softmax_types(result):
        model = onnx.shape_inference.infer_shapes(onnx.load_from_string(result.converted_model))
        types = {v.name: v.type.tensor_type.elem_type for v in model.graph.value_info}
        return {n.name: types.get(n.output[0]) for n in model.graph.node if n.op_type == "Softmax"}

    assert set(softmax_types(plain).values()) == {onnx.TensorProto.FLOAT16}
    assert set(softmax_types(blocked).values()) == {onnx.TensorProto.FLOAT}
    why = {l.layer: l for l in blocked.layers}
    for name in softmax_types(blocked):
        assert why[name].cause == CAUSE_BLOCK_LIST and why[name].precision == "FP32"
        assert {l.layer: l for l in plain.layers}[name].cause != CAUSE_BLOCK_LIST
    row = next(r for r in blocked.rows if r.op_type == "Softmax")
    assert row.why == "kept fp32: in block list"
    # ONNX Runtime's own optimized graph says which fp16 nodes its CPU EP runs in fp32
    assert any(l.cause == CAUSE_NO_KERNEL for l in plain.layers)


def test_block_list_reaches_builds_through_build_settings():
    """``precision_block`` of BuildSettings reaches the build's converter: the blocked op's layers run fp32."""
    import explorer
    from explorer.backends.settings import BuildSettings

    assert BuildSettings.make(precision_block="Softmax, /a/Conv").precision_block == ["Softmax", "/a/Conv"]
    with pytest.raises(BuildError):
        BuildSettings.make(precision_block=[1, 2])
    report = explorer.build(str(TRANSFORMER), backend="onnxruntime", precision="fp16", precision_block=["Softmax"],
                            runs=1, warmup=0)
    softmax = [l for l in report.layers if l.name.endswith("Softmax")]
    assert softmax and {l.precision for l in softmax} == {"FP32"}


def test_bad_input_is_a_clear_build_error(tmp_path):
    with pytest.raises(BuildError, match="choose one of"):
        start_precision_comparison(str(RESNET), "fp8")
    with pytest.raises(BuildError, match="no such inputs file"):
        start_precision_comparison(str(RESNET), "fp16", inputs=str(tmp_path / "missing.npz"))
    np.savez(tmp_path / "wrong.npz", other=np.zeros(3, np.float32))
    with pytest.raises(BuildError, match="no array for 'input.1'"):
        compare_precision(str(RESNET), "fp16", inputs=str(tmp_path / "wrong.npz"))
    with pytest.raises(BuildError, match="cannot be used"):
        compare_precision(str(RESNET), "fp16", backend="tensorrt")  # no TensorRT here: says so


def test_cancel_stops_the_comparison():
    job = start_precision_comparison(str(TRANSFORMER), "int8")
    assert job.cancel() is True
    with pytest.raises(ComparisonCancelled):
        job.result(300)
    assert job.progress.startswith("cancelled")


def test_plot_and_overlay_show_what_the_library_computed():
    from explorer.plots.accuracy import ERROR_BANDS, accuracy_figure, accuracy_overlay
    from explorer.plots.graph_layout import ScopeTree

    result = compare_precision(str(RESNET), "int8")
    fig = accuracy_figure(result)
    assert fig.layout.yaxis.type == "log"
    points = [(x, y, c) for t in fig.data if t.name != "first jump" for x, y, c in zip(t.x, t.y, t.customdata)]
    assert sorted(points) == sorted((r.index, r.rel, r.node) for r in result.rows)
    (jump,) = [t for t in fig.data if t.name == "first jump"]
    assert list(jump.customdata) == [result.first_jump.node]
    assert "onnxruntime" in fig.layout.title.text

    model = load_model(str(RESNET))
    tree = ScopeTree(model)
    overlay = accuracy_overlay(tree, result)
    for node, row in result.by_node().items():
        band = int(overlay.node_category[tree.index_of[node]])
        upper = ERROR_BANDS[band][0]
        lower = ERROR_BANDS[band - 1][0] if band else 0.0
        assert lower <= row.rel < upper
    assert int(overlay.marked.sum()) == 1 and overlay.marked[tree.index_of[result.first_jump.node]]


def test_fp32_plot_is_drawn_on_a_linear_axis_with_zeros():
    from explorer.plots.accuracy import accuracy_figure

    fig = accuracy_figure(compare_precision(str(RESNET), "fp32"))
    assert fig.layout.yaxis.type == "linear"
    assert {y for t in fig.data for y in t.y} == {0.0}


def test_cli_json_is_the_librarys_table():
    out = subprocess.run([sys.executable, "-m", "explorer", "accuracy", str(RESNET), "--precision", "int8",
                          "--seed", "2", "--json"], capture_output=True, text=True, cwd=REPO, timeout=600,
                         env={**os.environ, "PYTHONPATH": str(REPO)})
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    library = compare_precision(str(RESNET), "int8", seed=2)
    assert [r["rel"] for r in data["rows"]] == [r.to_dict()["rel"] for r in library.rows]
    assert data["first_jump"]["node"] == library.first_jump.node
    assert data["rel_definition"] == library.rel_definition
    bad = subprocess.run([sys.executable, "-m", "explorer", "accuracy", str(RESNET), "--inputs", "nope.npz"],
                         capture_output=True, text=True, cwd=REPO, timeout=300,
                         env={**os.environ, "PYTHONPATH": str(REPO)})
    assert bad.returncode == 2 and bad.stderr.startswith("error: ") and "nope.npz" in bad.stderr


def test_app_accuracy_tab_shows_the_comparison():
    from explorer import Explorer

    app = Explorer(str(RESNET))
    try:
        app.show("Accuracy")
        tab = app.tabs["Accuracy"]
        tab.precision.value = "int8"
        assert tab.start()
        result = app.state.comparison_job.result(300)
        app.state.comparison_job.future.result()
        import time

        for _ in range(120):  # the watcher thread records the result (no timing asserted)
            if app.state.comparison is not None:
                break
            time.sleep(0.5)
        tab.invalidate()
        assert app.state.comparison is not None
        assert result.first_jump.node in tab.header.value
        for row in result.rows:
            assert f"<td>{row.node}</td>" in tab.tables.value
        assert tab.plot is not None and tab.plot.figure.layout.meta["points"] == len(result.rows)
        assert tab.panel is not None
        build = app.tabs["Build"]
        app.show("Build")
        build.precision_block.value = "Softmax"
        assert build.options()["precision_block"] == "Softmax"
    finally:
        app.close()


def test_a_model_with_its_own_qdq_is_compared_with_its_activation_qdq_bypassed():
    """int8_qdq.onnx is already quantized: the int8 run is the model as it is, the fp32 reference the same model
    with its activation QuantizeLinear -> DequantizeLinear pairs bypassed (checked here on the saved model)."""
    from explorer.backends.onnxruntime.accuracy import without_activation_qdq

    path = SAMPLES / "int8_qdq.onnx"
    result = compare_precision(str(path), "int8")
    assert any("bypassed" in n for n in result.notes)
    assert result.rows and not {r.op_type for r in result.rows} & {"QuantizeLinear", "DequantizeLinear"}
    assert result.first_jump is not None and result.first_jump.op_type == "Conv"
    original = _original(path)
    bypassed = without_activation_qdq(original)
    ops = [n.op_type for n in bypassed.graph.node]
    weights = {t.name for t in original.graph.initializer}
    assert "QuantizeLinear" in [n.op_type for n in original.graph.node] and "QuantizeLinear" not in ops
    assert all(n.input[0] in weights for n in bypassed.graph.node if n.op_type == "DequantizeLinear")
    x = np.random.default_rng(0).standard_normal(
        [d.dim_value for d in original.graph.input[0].type.tensor_type.shape.dim]).astype(np.float32)
    reference = _all_outputs_run(bypassed, {original.graph.input[0].name: x})
    low = _all_outputs_run(original, {original.graph.input[0].name: x})
    for row in result.rows:
        max_abs, rel, cosine = _numpy_errors(reference[row.tensor], low[_delivered(original, original, row.tensor)])
        assert row.max_abs == pytest.approx(max_abs, rel=1e-9, abs=1e-30)
        assert row.rel == pytest.approx(rel, rel=1e-9, abs=1e-30)


def test_engine_layer_precisions_of_the_real_a100_qat_engine(fixtures_dir):
    """Why each layer of a real TensorRT engine (trtexec --exportLayerInfo, A100 ResNet-18 QAT) runs in its
    precision: its INT8 layers are Q/DQ placement, reformat layers are inserted casts."""
    from explorer.backends.accuracy import CAUSE_CAST, engine_layer_precisions
    from explorer.engine import load_report

    report = load_report(graph=fixtures_dir / "a100_resnet_qat.graph.json",
                         model=load_model(str(SAMPLES / "resnet18_qat.onnx")))
    rows = engine_layer_precisions(report, strongly_typed=False, source="trtexec A100 QAT")
    assert [r.layer for r in rows] == [l.name for l in report.layers]
    for row, layer in zip(rows, report.layers):
        if (layer.precision or "").upper().startswith("INT8"):
            assert row.cause == CAUSE_QDQ
        elif "reformat" in (layer.type or "").lower():
            assert row.cause == CAUSE_CAST
    assert any(r.cause == CAUSE_QDQ for r in rows)
