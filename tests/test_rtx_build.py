"""Real TensorRT-RTX engine builds on this CPU (ahead of time for SM86), through the TensorRT backend.

Every build here is a real ``build_serialized_network`` of TensorRT-RTX 1.7 in the build worker; the
report's fused groups and memory are checked against the builder's own verbose log, read here with plain
regular expressions (not the explorer's reader), and ResNet-18's groups against the real TensorRT 10 A100
engine of the same model. No timed assertions (speed: ``bench/rtx_build.py``).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from explorer.errors import BuildError
from explorer.trt import TENSORRT_RTX, available

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "sample_models"
LOGS = REPO / "tests" / "data" / "logs"
A100_FP32 = REPO / "tests" / "fixtures" / "trt" / "a100_resnet_fp32.graph.json"

pytestmark = pytest.mark.skipif(not available(require_gpu=False, library=TENSORRT_RTX)[0],
                                reason="TensorRT-RTX is not installed")

_METADATA = re.compile(r"\[ONNX Layer: ([^\]]*)\]")
_LAYER_LINE = re.compile(r"^(?:\[[^\]]*\] )*Name: (?P<name>.*?), LayerType: .*, Metadata: (?P<meta>.*)$")
_TOTAL = re.compile(r"(Total Activation|Total Weights|Max Scratch|Total Host Persistent|Total Device Persistent) "
                    r"Memory: (\d+) bytes")


def _log_groups(log_path: str) -> dict[str, list[str]]:
    """engine layer -> the ONNX nodes its Metadata names, straight from the builder's log."""
    groups = {}
    for line in Path(log_path).read_text().splitlines():
        m = _LAYER_LINE.match(line)
        if m:
            groups[m["name"]] = _METADATA.findall(m["meta"])
    return groups


def _log_totals(log_path: str) -> dict[str, int]:
    return {what: int(value) for what, value in _TOTAL.findall(Path(log_path).read_text())}


def _build(model: str, **kw):
    import explorer

    return explorer.build(str(SAMPLES / model), backend="tensorrt-rtx", runs=1, warmup=0, **kw)


def _check_against_log(report) -> dict[str, list[str]]:
    log = report.artifacts["log_path"]
    groups = _log_groups(log)
    assert groups, "the builder logged no engine layers"
    by_name = {layer.name: layer for layer in report.layers}
    assert set(by_name) == set(groups)
    from explorer import load_model

    known = {node.name for node in load_model(report.raw["model_path"]).graph.nodes}
    # nodes of the user's model (a converted model adds casts the user's model does not have)
    groups = {name: [n for n in names if n in known] for name, names in groups.items()}
    for name, onnx_names in groups.items():
        assert set(by_name[name].onnx_nodes) == set(onnx_names), name
    fused = {f["layer"]: set(f["onnx_nodes"]) for f in report.fusions}
    assert fused == {n: set(g) for n, g in groups.items() if len(set(g)) > 1}
    totals = _log_totals(log)
    mem = report.memory.engine_totals
    assert mem["activation_bytes"] == totals["Total Activation"]
    assert mem["weights_bytes"] == totals["Total Weights"]
    assert mem["scratch_bytes"] == totals["Max Scratch"]
    assert mem["host_persistent_bytes"] == totals["Total Host Persistent"]
    assert mem["device_persistent_bytes"] == totals["Total Device Persistent"]
    assert mem["engine_size_bytes"] == os.path.getsize(report.artifacts["engine_path"])
    return groups


# ---------------------------------------------------------------------------------------------------------
# The reader, on the real log excerpt of a sample build
# ---------------------------------------------------------------------------------------------------------

def test_reader_reads_the_rtx_layer_lines_memory_and_phases_of_a_real_log():
    from explorer.engine.mapping import parse_metadata
    from explorer.engine.readers import LogParser, read_build_log

    parser = LogParser("TensorRT-RTX 1.7.1 AOT (SM86) verbose build log")
    report = read_build_log(LOGS / "rtx_resnet18_aot_sm86.log", parser=parser)
    assert len(report.layers) == 25
    conv5 = next(layer for layer in report.layers if layer.name == "Conv_5_myl0_4")
    assert conv5.type == "correlation" and conv5.precision == "FP32" and conv5.tactic_name == "__myelin_CASK_STUB"
    assert parse_metadata(conv5.metadata) == ["Conv_5", "Relu_7", "Add_6"]  # records joined by \x1f
    assert [t.shape for t in conv5.outputs] == [(1, 16, 56, 56)] and len(conv5.inputs) == 2
    assert conv5.weights_bytes and conv5.weights_bytes >= 16 * 16 * 3 * 3 * 4
    assert report.memory.engine_totals == {
        "host_persistent_bytes": 80, "device_persistent_bytes": 0, "scratch_bytes": 9596928,
        "activation_bytes": 9596928, "weights_bytes": 2809408, "peak_cpu_bytes": 2 * 1024**2, "peak_gpu_bytes": 0}
    assert [(m.layer, m.scratch) for m in report.memory.layers] == [("{ForeignNode[fc.bias...Gemm_48_1]}", 9596928)]
    assert [p for p, _ in parser.phases] == ["Graph construction", "Graph optimization",
                                             "Formats and tactics selection", "Subgraph compilation",
                                             "Engine generation"]
    assert all(seconds > 0 for _, seconds in parser.phases)


def test_rtx_fused_groups_equal_the_real_a100_engine_of_the_same_model():
    from explorer import load_model
    from explorer.engine.readers import read_build_log
    from explorer.fusions import engine_groups

    model = load_model(SAMPLES / "resnet18.onnx")
    rtx = {frozenset(nodes) for _, nodes in engine_groups(read_build_log(LOGS / "rtx_resnet18_aot_sm86.log"), model)}
    a100 = {frozenset(nodes) for _, nodes in engine_groups(A100_FP32, model)}
    fused_rtx = {g for g in rtx if len(g) > 1}
    fused_a100 = {g for g in a100 if len(g) > 1}
    assert len(fused_a100) == 17 and fused_rtx >= fused_a100


# ---------------------------------------------------------------------------------------------------------
# Real builds through explorer.build(backend="tensorrt-rtx")
# ---------------------------------------------------------------------------------------------------------

def test_resnet18_fp32_aot_build_matches_the_builders_log():
    report = _build("resnet18.onnx", compute_capability="SM86")
    assert report.backend == "TensorRT-RTX 1.7.1 AOT (SM86)"
    assert report.settings["compute_capability"] == "SM86" and report.settings["ahead_of_time"] is True
    groups = _check_against_log(report)
    assert len(groups) == 25 and len(report.fusions) == 17
    assert {"Conv_5", "Add_6", "Relu_7"} in [set(f["onnx_nodes"]) for f in report.fusions]
    # both directions of the mapping, and the node TensorRT-RTX made vanish
    assert report.mapping.layers_of("Add_6") == ["Conv_5_myl0_4"]
    assert report.mapping.nodes_of("Conv_5_myl0_4") == ["Conv_5", "Add_6", "Relu_7"]
    assert report.vanished and report.vanished[0]["onnx_nodes"] == ["Flatten_47"]
    assert {layer.precision for layer in report.layers} == {"FP32"}
    # every figure names the build
    assert all(v.startswith("TensorRT-RTX 1.7.1 AOT (SM86)") for v in report.memory.provenance.values())
    assert report.provenance["layers"].startswith("TensorRT-RTX 1.7.1 AOT (SM86)")
    assert [p["phase"] for p in report.timings["build_phases_s"]][-1] == "Engine generation"
    # no tactics to time: said, not an empty table
    assert report.tactics == [] and "none" in report.provenance["tactics"]
    assert any("times no tactics" in n for n in report.notes)
    assert any("ahead of time for SM86" in n for n in report.notes)
    assert report.end_to_end is None and not any(layer.latency for layer in report.layers)


def test_fp16_build_converts_the_model_and_layers_are_fp16():
    report = _build("resnet18.onnx", precision="fp16")
    _check_against_log(report)
    precisions = [layer.precision for layer in report.layers if layer.onnx_nodes]
    assert precisions.count("FP16") >= 20
    assert report.settings["conversion"]["tool"] and report.settings["strongly_typed"] is True
    assert any("strongly typed" in n for n in report.notes)


def test_qdq_model_builds_int8_layers():
    report = _build("int8_qdq.onnx", precision="int8")
    _check_against_log(report)
    assert any(layer.precision == "INT8" for layer in report.layers)
    fused_ops = {n for f in report.fusions for n in f["onnx_nodes"]}
    assert any("QuantizeLinear" in n or "DequantizeLinear" in n for n in fused_ops)  # Q/DQ folded into layers


_PROFILE = re.compile(r"Name: (\w+), IOMode: Input, .*?MinShape: \[([\d,]*)\], OptShape: \[([\d,]*)\], "
                      r"MaxShape: \[([\d,]*)\]")


def _log_profiles(log_path: str) -> dict[str, list[list[int]]]:
    """input -> [min, opt, max] of the engine's profile, as the builder's log lists it."""
    return {m[1]: [[int(d) for d in s.split(",")] for s in m.groups()[1:]]
            for m in _PROFILE.finditer(Path(log_path).read_text())}


def test_dynamic_shape_model_builds_with_the_profile_given():
    shapes = {"images": ((1, 3, 64, 64), (2, 3, 224, 224), (4, 3, 224, 224))}
    report = _build("dynamic_shapes.onnx", shapes=shapes)
    _check_against_log(report)
    assert report.settings["shapes"]["images"] == [[1, 3, 64, 64], [2, 3, 224, 224], [4, 3, 224, 224]]
    assert _log_profiles(report.artifacts["log_path"])["images"] == report.settings["shapes"]["images"]


def test_dynamic_shape_model_without_shapes_builds_at_the_sizes_chosen_and_says_which():
    """No shapes given: the builder picks the sizes ONNX Runtime would run at (batch 1, a 640x640 image, from
    the dimension names) for min = opt = max, and the report's notes say so; the engine's profile in the
    builder's own log is that shape."""
    report = _build("dynamic_shapes.onnx")
    _check_against_log(report)
    assert report.settings["shapes"]["images"] == [[1, 3, 640, 640]] * 3
    assert _log_profiles(report.artifacts["log_path"])["images"] == [[1, 3, 640, 640]] * 3
    note = next(n for n in report.notes if n.startswith("input 'images' has dynamic dimensions"))
    assert "was built for 1x3x640x640 (min = opt = max)" in note
    assert "'batch' = 1 (batch of 1)" in note and "'height' = 640 (image height, default 640)" in note
    assert "--shape images:1x3x640x640" in note


def test_unsupported_node_is_a_build_error_naming_the_model_and_the_parsers_reasons():
    with pytest.raises(BuildError) as info:
        _build("unsupported_ops.onnx")
    text = str(info.value)
    assert "unsupported_ops.onnx" in text and "MyPlugin" in text and "Antialiasing" in text


def test_other_compute_capability_and_bad_ones():
    report = _build("hostile_names.onnx", compute_capability="SM89")
    assert report.backend == "TensorRT-RTX 1.7.1 AOT (SM89)"
    with pytest.raises(BuildError, match="unknown compute capability"):
        _build("hostile_names.onnx", compute_capability="SM90")
    with pytest.raises(BuildError, match="CURRENT needs an RTX-class GPU"):
        _build("hostile_names.onnx", compute_capability="CURRENT")


def test_timing_cache_is_a_no_op_and_the_report_says_so(tmp_path):
    cache = tmp_path / "tc.bin"
    report = _build("hostile_names.onnx", timing_cache=cache)
    assert not cache.exists()
    assert any("keeps no timing cache" in n for n in report.notes)


def test_cancel_stops_the_build_through_the_progress_monitor():
    from explorer.backends.build import BuildCancelled, start_build

    cancel = threading.Event()
    seen = []

    def progress(phase, step, total):
        seen.append(phase)
        if phase not in ("load", "convert"):
            cancel.set()

    job = start_build(str(SAMPLES / "transformer_encoder.onnx"), backend="tensorrt-rtx", on_progress=progress,
                      cancel=cancel)
    with pytest.raises(BuildCancelled):
        job.result(timeout=120)
    assert seen and job.cancelled


def test_cli_builds_with_tensorrt_rtx_as_json():
    proc = subprocess.run([sys.executable, "-m", "explorer", "build", str(SAMPLES / "resnet18.onnx"), "--backend",
                           "tensorrt-rtx", "--compute-capability", "SM86", "--runs", "1", "--json"],
                          capture_output=True, text=True, cwd=REPO, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads(proc.stdout)
    assert data["backend"] == "TensorRT-RTX 1.7.1 AOT (SM86)"
    assert len(data["fusions"]) == 17 and data["settings"]["compute_capability"] == "SM86"


def test_auto_does_not_pick_tensorrt_rtx():
    from explorer.backends.jobs.worker import _choose_backend

    backend, why = _choose_backend("auto")
    assert backend in ("tensorrt", "onnxruntime")
    assert _choose_backend("tensorrt-rtx")[0] == "tensorrt-rtx"


# ---------------------------------------------------------------------------------------------------------
# The app without a browser: one click gives TensorRT-RTX's engine and ONNX Runtime's timings
# ---------------------------------------------------------------------------------------------------------

@pytest.mark.filterwarnings("ignore::explorer.ExplorerWarning")
def test_one_click_rtx_engine_and_onnxruntime_timings_in_the_app():
    import time

    from explorer.widgets import Explorer
    from explorer.widgets.tabs.build import RTX_AND_ORT

    app = Explorer(str(SAMPLES / "resnet18.onnx"))
    try:
        app.show("Build")
        tab = app.tabs["Build"]
        tab.backend.value = RTX_AND_ORT
        assert not tab.compute_capability.disabled and tab.timing_cache.disabled
        tab.compute_capability.value = "SM86"
        tab.runs.value = 5
        tab.build_button.click()
        deadline = time.monotonic() + 300
        while len(app.state.builds) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        app.wait(timeout=120)
        names = list(app.state.builds)
        assert len(names) == 2, (names, app.state.job_status)
        rtx, ort = (app.state.builds[n] for n in names)
        assert rtx.report.backend == "TensorRT-RTX 1.7.1 AOT (SM86)" and "tensorrt-rtx" in rtx.name
        assert "onnxruntime" in ort.name and ort.report.end_to_end is not None  # measured, labelled apart
        app.state.set_current(names[0])
        for name in ("Fusions", "Memory", "Layers", "Tactics"):
            app.show(name)
            assert not any("this view failed" in getattr(c, "value", "") for c in app.tabs[name].widget.children)
        fusions = app.tabs["Fusions"].tables.value
        assert "Conv_5_myl0_4" in fusions and "fused as predicted" in fusions
        assert "TensorRT-RTX 1.7.1 AOT (SM86) times no tactics" in app.tabs["Tactics"].head.value
        # Compare pairs the TensorRT-RTX build with the imported real TensorRT 10 A100 engine, layer by ONNX nodes
        from explorer.plots.compare import compare_frame

        app.import_fixture("a100_resnet_fp32")
        a100 = [n for n in app.state.builds if n not in names][0]
        frame = compare_frame(rtx.report, app.state.builds[a100].report, "rtx", "a100")
        assert (frame["in"] == "both").sum() >= 17
        app.show("Compare")
        app.tabs["Compare"].pick(names[0], a100)
        app.tabs["Compare"].render()
        assert "this view failed" not in app.tabs["Compare"].table.value
    finally:
        app.close()


@pytest.mark.filterwarnings("ignore::explorer.ExplorerWarning")
def test_fusions_tab_predicts_with_the_rtx_rules_beside_an_rtx_build():
    import html

    import explorer
    from explorer.fusions import compare_with_engine, predict_fusions
    from explorer.fusions.predict import TARGET_SOURCES
    from explorer.widgets import Explorer

    app = Explorer(str(SAMPLES / "resnet18.onnx"))
    try:
        st = app.state
        app.import_fixture("a100_resnet_fp32")  # a TensorRT 10 engine: TensorRT's documented rules
        assert st.fusion_target == "tensorrt"
        app.show("Fusions")
        assert html.escape(TARGET_SOURCES["tensorrt"]) in app.tabs["Fusions"].header.value
        assert "TensorRT-RTX target" not in app.tabs["Fusions"].header.value
        report = explorer.build(str(SAMPLES / "resnet18.onnx"), backend="tensorrt-rtx", runs=1, warmup=0)
        st.add_report(report, name="resnet18 rtx", kind="build", backend="tensorrt-rtx")
        assert st.fusion_target == "tensorrt-rtx"
        header = app.tabs["Fusions"].header.value  # re-rendered: the current build changed
        rtx = compare_with_engine(predict_fusions(st.model, target="tensorrt-rtx"), report, st.model)
        documented = compare_with_engine(predict_fusions(st.model), report, st.model)
        label = html.escape(TARGET_SOURCES["tensorrt-rtx"])
        assert f"(source: predicted from {label})" in header and "the TensorRT-RTX target" in header
        # the agreement shown is the RTX rules' against this engine, both sides named
        shown = (f"prediction ({TARGET_SOURCES['tensorrt-rtx']}) vs engine (resnet18 rtx: "
                 f"{st.current_build.source}): {len(rtx.exact_matches)} of {rtx.predicted_groups} predicted fusions")
        assert html.escape(shown) in header, header
        assert f"recall {rtx.recall:.0%}" in header and rtx.recall == 1.0
        assert len(rtx.exact_matches) >= len(documented.exact_matches)
        assert app.tabs["Fusions"].panels[0].title == "Predicted fusions (TensorRT-RTX target)"
        assert label in app.tabs["Fusions"].tables.value
        st.set_current(next(n for n in st.builds if n != "resnet18 rtx"))  # back to the A100 import
        assert st.fusion_target == "tensorrt" and "TensorRT-RTX target" not in app.tabs["Fusions"].header.value
    finally:
        app.close()


# ---------------------------------------------------------------------------------------------------------
# A model TensorRT-RTX cannot take whole: one engine per supported partition, the rest to the framework
# ---------------------------------------------------------------------------------------------------------

def test_each_supported_partition_is_built_as_its_own_engine():
    from explorer.backends.build import build_partitions

    result = build_partitions(str(SAMPLES / "unsupported_ops.onnx"), min_block_size=1)
    assert result.verdict_source.startswith("TensorRT-RTX 1.7.1")
    left = {f.node: f for f in result.framework}
    assert set(left) == {"pool/maxpool_with_indices", "plugin/my_plugin", "resize/antialias", "side/unique",
                         "side/bitshift"}
    assert "Antialiasing" in left["resize/antialias"].reasons[0]  # the parser's own words stay attached
    assert all(e.error is None and e.report is not None for e in result.engines), [e.error for e in result.engines]
    covered = [n for e in result.engines for n in e.partition.nodes]
    assert len(covered) == len(set(covered)) and not set(covered) & set(left)
    for engine in result.engines:
        assert engine.report.backend == "TensorRT-RTX 1.7.1 AOT (SM86)"
        _check_against_log(engine.report)
    stem = next(e for e in result.engines if "stem/conv1" in e.partition.nodes)
    assert {"stem/conv1", "stem/relu1"} in [set(f["onnx_nodes"]) for f in stem.report.fusions]
    # min_block_size sends the small partitions back to the framework, saying so
    bigger = build_partitions(str(SAMPLES / "unsupported_ops.onnx"), min_block_size=5)
    assert [len(e.partition.nodes) for e in bigger.engines] == [5]
    demoted = [f for f in bigger.framework if f.node == "stem/conv1"][0]
    assert "min_block_size=5" in demoted.reasons[0]


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "explorer", *args], capture_output=True, text=True, cwd=REPO,
                          timeout=600, env={**os.environ, "PYTHONPATH": str(REPO)})


def test_cli_builds_each_partition_and_lists_the_nodes_left_to_the_framework():
    model = str(SAMPLES / "unsupported_ops.onnx")
    proc = _cli("build", model, "--backend", "tensorrt-rtx", "--partitions", "--min-block-size", "1", "--json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads(proc.stdout)
    assert data["verdict_source"] == "TensorRT-RTX 1.7.1 ONNX parser" and data["min_block_size"] == 1
    left = {f["node"]: f for f in data["framework"]}
    assert set(left) == {"pool/maxpool_with_indices", "plugin/my_plugin", "resize/antialias", "side/unique",
                         "side/bitshift"}
    assert "Antialiasing" in left["resize/antialias"]["reasons"][0]
    assert data["nodes_in_engines"] + len(left) == 17  # every node of the model: in an engine or left
    for engine in data["engines"]:  # each engine's numbers are its builder's (checked against its own log)
        report = engine["report"]
        assert engine["error"] is None and report["backend"] == "TensorRT-RTX 1.7.1 AOT (SM86)"
        totals = _log_totals(report["artifacts"]["log_path"])
        assert report["memory"]["engine_totals"]["activation_bytes"] == totals["Total Activation"]
        assert report["memory"]["engine_totals"]["weights_bytes"] == totals["Total Weights"]
        groups = _log_groups(report["artifacts"]["log_path"])
        assert len(report["layers"]) == len(groups)
        assert sorted(sorted(f["onnx_nodes"]) for f in report["fusions"]) == \
            sorted(sorted(set(g)) for g in groups.values() if len(set(g)) > 1)
    stem = next(e for e in data["engines"] if "stem/conv1" in e["partition"]["nodes"])
    # the text report: each engine, its fusions and memory, then the framework's nodes with the parser's words
    text = _cli("build", model, "--backend", "tensorrt-rtx", "--partitions", "--min-block-size", "1")
    assert text.returncode == 0, text.stderr[-2000:]
    out = text.stdout
    assert "4 engine(s) (12 of 17 nodes) built by tensorrt-rtx; 5 node(s) left to the framework" in out
    assert f"engine {stem['partition']['index']}: 3 node(s): stem/conv1, stem/relu1, stem/conv2" in out
    assert "stem/conv1 + stem/relu1" in out
    assert "checkResize: Antialiasing is not supported currently." in out
    weights = stem["report"]["memory"]["engine_totals"]["weights_bytes"]
    assert f"memory: weights {weights / 1024:.1f} KiB" in out
    # min_block_size sends small partitions back, saying so; other backends are refused
    bigger = _cli("build", model, "--backend", "tensorrt-rtx", "--partitions", "--min-block-size", "5", "--json")
    assert bigger.returncode == 0, bigger.stderr[-2000:]
    demoted = [f for f in json.loads(bigger.stdout)["framework"] if f["node"] == "stem/conv1"][0]
    assert "min_block_size=5" in demoted["reasons"][0]
    refused = _cli("build", model, "--backend", "onnxruntime", "--partitions")
    assert refused.returncode != 0 and "--partitions builds TensorRT engines" in refused.stderr


# ---------------------------------------------------------------------------------------------------------
# Fusion prediction fitted to TensorRT-RTX, checked on real builds of models it was not written around
# ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["resnet50", "squeezenet", "inception_v1"])
def test_rtx_fusion_prediction_agrees_with_real_builds_of_the_model_zoo(name):
    import onnx

    from explorer import build, load_model
    from explorer.fusions import compare_with_engine, predict_fusions

    path = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light" / f"light_{name}.onnx"
    report = build(str(path), backend="tensorrt-rtx", runs=1, warmup=0)
    model = load_model(path)
    rtx = compare_with_engine(predict_fusions(model, target="tensorrt-rtx"), report, model)
    documented = compare_with_engine(predict_fusions(model), report, model)
    agreement = len(rtx.exact_matches) / max(rtx.actual_groups, rtx.predicted_groups)
    assert agreement >= 0.9, (rtx.predicted_only[:3], rtx.actual_only[:3])
    assert len(rtx.exact_matches) >= len(documented.exact_matches)


def test_rtx_rules_predict_the_transformer_epilogues_and_qkv_projection():
    from explorer import load_model
    from explorer.fusions import predict_fusions

    model = load_model(SAMPLES / "transformer_encoder.onnx")
    ops = {n.id: n.op_type for n in model.graph.nodes}
    groups = {frozenset(n for n in g.nodes if ops[n] != "Constant")
              for g in predict_fusions(model, target="tensorrt-rtx")}
    qkv = frozenset(f"/encoder/layers.0/self_attn/{p}_proj/MatMul" for p in "qkv")
    assert qkv in groups  # horizontal fusion of the three projections
    assert frozenset({"/encoder/layers.0/self_attn/q_proj/Add", "/encoder/layers.0/self_attn/Reshape",
                      "/encoder/layers.0/self_attn/Transpose"}) in groups  # bias runs in the shuffle's kernel
    assert frozenset({"/encoder/layers.0/self_attn/Div", "/encoder/layers.0/self_attn/Softmax"}) in groups
    # the out-projection's bias and the residual Add run in LayerNorm's kernel; the MatMul alone
    assert frozenset({"/encoder/layers.0/self_attn/out_proj/MatMul"}) in groups
    assert any({"/encoder/layers.0/self_attn/out_proj/Add", "/encoder/layers.0/Add",
                "/encoder/layers.0/norm1/ReduceMean"} <= g for g in groups)
