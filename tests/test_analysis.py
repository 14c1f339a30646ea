"""`explorer.analyze` end to end on the sample models: verdicts, partitions, min_block_size, folding."""

from __future__ import annotations

import importlib.util
import re
import types
import warnings

import numpy as np
import pytest
from onnx import numpy_helper

import explorer
from conftest import SAMPLES, TensorProto, helper, tiny_model


def analyze(name, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return explorer.analyze(SAMPLES / name, use_parser=False, **kwargs)


@pytest.mark.parametrize("name", ["resnet18.onnx", "transformer_encoder.onnx", "int8_qdq.onnx",
                                  "dynamic_shapes.onnx", "resnet18_qat.onnx"])
def test_models_tensorrt_builds_are_fully_supported(name):
    report = analyze(name, trt_version="10.15")
    assert report.unsupported == [], [(v.node, v.reason) for v in report.unsupported]
    assert report.engines == 1
    assert report.coverage == 1.0
    assert report.source == "support-matrix 10.15 (prediction)"


def test_every_result_is_labelled_with_its_source():
    report = analyze("resnet18.onnx", trt_version="10.1")
    assert report.source == "support-matrix 10.1 (prediction)"
    data = report.to_dict()
    assert data["source"] == report.source
    assert set(report.nodes_frame()["source"]) == {report.source}


def test_unsupported_model_has_reasons_and_alternating_partitions():
    report = analyze("unsupported_ops.onnx", trt_version="10.15")
    reasons = {v.op: v.reason for v in report.unsupported}
    assert "plugin" in reasons["MyPlugin"]
    assert "Indices" in reasons["MaxPool"]
    assert "TopK" not in reasons  # sorted=0: the real parser accepts it (a caveat, not a rejection)
    assert "ntialias" in reasons["Resize"]
    assert "Unique" in reasons["Unique"]
    assert report.engines >= 2
    assert len(report.partitions) > report.engines
    # partitions are label-pure and cover every node exactly once
    seen = [n for p in report.partitions for n in p.nodes]
    assert sorted(seen) == sorted(v.node for v in report.verdicts)
    for p in report.partitions:
        assert {report.verdict(n).in_tensorrt for n in p.nodes} == {p.supported}


def test_min_block_size_sends_small_engines_back_to_the_framework():
    plain = analyze("unsupported_ops.onnx", trt_version="10.15")
    strict = analyze("unsupported_ops.onnx", trt_version="10.15", min_block_size=5)
    assert strict.engines < plain.engines
    assert strict.nodes_supported == plain.nodes_supported  # verdicts don't change...
    assert strict.nodes_in_tensorrt < plain.nodes_in_tensorrt  # ...where nodes run does
    sent_back = [v for v in strict.verdicts if v.supported and not v.in_tensorrt]
    assert sent_back and all("min_block_size=5" in v.fallback_reason for v in sent_back)
    assert all(p.size >= 5 for p in strict.partitions if p.supported)


def test_require_mac_prunes_engines_without_conv_or_matmul():
    report = analyze("unsupported_ops.onnx", trt_version="10.15", require_mac=True)
    for p in report.partitions:
        if p.supported:
            assert set(p.ops) & explorer.support.MAC_OPS


def test_control_flow_bodies_are_judged_as_part_of_their_parent():
    report = analyze("control_flow.onnx", trt_version="10.15")
    loop = next(v for v in report.verdicts if v.op == "Loop")
    assert not loop.supported and "Unique" in loop.reason
    assert any(not c.supported for c in loop.children)
    assert report.nodes_total == len(explorer.load_model(SAMPLES / "control_flow.onnx").nodes)
    assert next(v for v in report.verdicts if v.op == "If").supported


def test_asymmetric_uint8_qdq_is_rejected_with_a_hint():
    report = analyze("int8_qdq_asymmetric_uint8.onnx", trt_version="10.15")
    q = [v for v in report.unsupported if v.op == "QuantizeLinear"]
    assert q and all("UINT8" in v.reason for v in q)


def test_hostile_names_are_kept_verbatim_as_data():
    report = analyze("hostile_names.onnx")
    names = {v.name for v in report.verdicts}
    assert any("<script>" in n for n in names)
    ids = [v.node for v in report.verdicts]
    assert len(ids) == len(set(ids))


def test_constant_folding_changes_partitions_and_keeps_node_ids():
    # Shape -> Gather -> Unique -> Concat -> Reshape on a static input folds away entirely.
    nodes = [
        helper.make_node("Relu", ["x"], ["r"], name="relu"),
        helper.make_node("Shape", ["r"], ["s"], name="shape"),
        helper.make_node("Gather", ["s", "zero"], ["g"], name="gather", axis=0),
        helper.make_node("Unique", ["g"], ["u"], name="unique_on_shape"),  # unsupported, but constant
        helper.make_node("Concat", ["u", "minus1"], ["c"], name="concat", axis=0),
        helper.make_node("Reshape", ["r", "c"], ["y"], name="reshape"),
    ]
    inits = [numpy_helper.from_array(np.array([0], np.int64), "zero"),
             numpy_helper.from_array(np.array([-1], np.int64), "minus1")]
    proto = tiny_model(nodes, [("x", TensorProto.FLOAT, [2, 3, 4])], [("y", TensorProto.FLOAT, None)], inits)
    model = explorer.load_model(proto)
    before = explorer.analyze(model, trt_version="10.15", use_parser=False)
    after = explorer.analyze(model, trt_version="10.15", use_parser=False, fold_constants=True)
    assert not before.verdict("unique_on_shape").supported
    assert before.engines == 2
    assert after.engines == 1 and after.unsupported == []
    f = after.folding
    assert f.nodes_before == 6 and f.nodes_after < 6 and "unique_on_shape" in f.removed
    assert f.engines_before == 2 and f.engines_after == 1
    assert {v.node for v in after.verdicts} <= {v.node for v in before.verdicts}
    assert "constant folding" in after.summary()


def test_summary_reads_like_a_dry_run_report():
    text = analyze("unsupported_ops.onnx", trt_version="10.15", min_block_size=3).summary()
    assert "support-matrix 10.15 (prediction)" in text
    assert "TensorRT engine" in text and "Unsupported nodes" in text and "min_block_size=3" in text


def test_bad_min_block_size_is_an_explorer_error():
    with pytest.raises(explorer.ExplorerError, match="min_block_size"):
        analyze("resnet18.onnx", min_block_size=0)


def test_unknown_trt_version_is_an_explorer_error():
    with pytest.raises(explorer.ExplorerError, match="10.15"):
        analyze("resnet18.onnx", trt_version="banana")


def test_frames_have_one_row_per_node_and_partition():
    report = analyze("unsupported_ops.onnx", trt_version="10.15")
    assert len(report.nodes_frame()) == report.nodes_total
    assert len(report.partitions_frame()) == len(report.partitions)
    frame = report.unsupported_frame()
    assert list(frame.columns) == ["operator", "count", "reason", "nodes"]
    assert frame["count"].sum() == len(report.unsupported)


def test_opset_outside_the_range_is_reported_and_conversion_is_offered():
    from explorer.model.transforms import convert_opset

    proto = tiny_model([helper.make_node("Relu", ["x"], ["y"], name="relu")],
                       [("x", TensorProto.FLOAT, [1, 4])], [("y", TensorProto.FLOAT, [1, 4])], opset=7)
    model = explorer.load_model(proto)
    report = explorer.analyze(model, trt_version="10.15", use_parser=False)
    assert report.opset_issue and "version_converter" in report.opset_issue and "7" in report.opset_issue
    converted = convert_opset(model, 13)
    assert converted.opset == 13
    assert explorer.analyze(converted, trt_version="10.15", use_parser=False).opset_issue is None


# ------------------------------------------------------------------------------------------ real parsers

needs_rtx = pytest.mark.skipif(importlib.util.find_spec("tensorrt_rtx_bindings") is None,
                               reason="TensorRT-RTX is not installed (make setup installs it)")
RTX_LABEL = re.compile(r"^TensorRT-RTX \d+\.\d+\.\d+ parser$")


def quiet_load(source):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return explorer.load_model(source)


def one_bad_among_many():
    """30 supported nodes and, in the middle, a Resize with antialias=1 (TensorRT's checkResize rejects it).
    TensorRT 10.x and TensorRT-RTX answer ``is_subgraph_supported(i) == False`` for EVERY subgraph of it."""
    nodes, prev = [], "x"
    for i in range(30):
        nodes.append(helper.make_node(("Relu", "Sigmoid", "Tanh")[i % 3], [prev], [f"t{i}"], name=f"n{i}"))
        prev = f"t{i}"
        if i == 14:
            nodes.append(helper.make_node("Resize", [prev, "", "scales"], ["r"], name="bad/resize", mode="linear",
                                          antialias=1))
            prev = "r"
    scales = numpy_helper.from_array(np.array([1, 1, 1, 1], np.float32), "scales")
    return tiny_model(nodes, [("x", TensorProto.FLOAT, [1, 2, 4, 4])], [(prev, TensorProto.FLOAT, [1, 2, 4, 4])],
                      [scales], opset=18)


@needs_rtx
def test_one_bad_node_among_many_is_the_only_unsupported_node_real_tensorrt_rtx_parser():
    """The is_subgraph_supported bug: False means "unknown" unless the whole model parses, so taking it as
    "unsupported" condemned all 31 nodes. The re-checks leave exactly the Resize unsupported."""
    report = explorer.analyze(quiet_load(one_bad_among_many()), source="tensorrt-rtx")
    assert RTX_LABEL.match(report.source), report.source
    assert [v.name for v in report.unsupported] == ["bad/resize"]
    assert report.unsupported[0].reason == ("checkResize: Antialiasing is not supported currently. "
                                            "[UNSUPPORTED_NODE_ATTR]")
    assert report.nodes_supported == 30 and report.engines == 2


@needs_rtx
def test_several_failing_nodes_each_keep_the_parsers_own_message_real_tensorrt_rtx_parser():
    report = explorer.analyze(SAMPLES / "unsupported_ops.onnx", source="tensorrt-rtx")
    reasons = {v.name: v.reason for v in report.unsupported}
    assert set(reasons) == {"pool/maxpool_with_indices", "plugin/my_plugin", "resize/antialias", "side/unique",
                            "side/bitshift"}
    assert reasons["resize/antialias"].startswith("checkResize: Antialiasing is not supported currently.")
    assert reasons["side/unique"] == "checkUnique: false [UNSUPPORTED_NODE]"
    assert report.nodes_supported == report.nodes_total - 5
    data = report.to_dict()
    assert RTX_LABEL.match(data["source"]) and {n.get("source", data["source"]) for n in data["nodes"]} == {data["source"]}


@needs_rtx
@pytest.mark.parametrize("name", sorted(p.name for p in SAMPLES.glob("*.onnx")))
def test_every_sample_node_has_a_real_tensorrt_rtx_verdict(name):
    model = quiet_load(SAMPLES / name)
    report = explorer.analyze(model, source="tensorrt-rtx")
    assert [v.node for v in report.verdicts] == [n.id for n in model.nodes]
    assert all(v.source == report.source for v in report.verdicts) and RTX_LABEL.match(report.source)
    assert all(v.reason for v in report.unsupported)
    assert not any("no verdict" in v.reason for v in report.unsupported), name
    body_nodes = sum(1 for n in model.graph.walk()) - len(model.nodes)
    assert sum(len(v.children) for v in report.verdicts) == body_nodes


@needs_rtx
def test_control_flow_bodies_get_the_parsers_verdicts_and_disagreements_name_both_sources():
    from explorer.support import disagreements

    model = quiet_load(SAMPLES / "control_flow.onnx")
    real = explorer.analyze(model, source="tensorrt-rtx")
    loop = real.verdict("repeat/loop")
    assert not loop.supported and loop.reason == "checkUnique: false [UNSUPPORTED_NODE]"
    unsupported_children = [c.node for c in loop.children if not c.supported]
    assert unsupported_children == ["repeat/loop/body/unique"]
    # local.fn::ScaledTanh is named like a builtin op: the parser imports it with its builtin ScaledTanh
    # importer (dispatch by op_type whatever the domain), which needs alpha/beta -- and the prediction says so
    scaled = real.verdict("head/scaled_tanh")
    assert not scaled.supported and "INVALID_NODE" in scaled.reason
    predicted = explorer.analyze(model, source="matrix")
    assert not predicted.verdict("head/scaled_tanh").supported
    assert "builtin ScaledTanh importer" in predicted.verdict("head/scaled_tanh").reason
    assert disagreements(predicted, real) == []


@needs_rtx
def test_a_difference_by_design_is_a_disagreement_with_both_reasons(tmp_path):
    """NonZero: the prediction is TensorRT's (its parser imports NonZero through a plugin) and says that
    TensorRT-RTX lacks the plugin; the real TensorRT-RTX parser rejects it. Both reasons are kept."""
    from explorer.support import disagreements
    from known_models import RTX_DIFFERENCE_NODE, write_rtx_difference_model

    model = quiet_load(write_rtx_difference_model(tmp_path / "rtx_difference.onnx"))
    real = explorer.analyze(model, source="tensorrt-rtx")
    predicted = explorer.analyze(model, source="matrix")
    found = disagreements(predicted, real)
    assert [d.node for d in found] == [RTX_DIFFERENCE_NODE]
    d = found[0]
    assert d.first_source == predicted.source and d.second_source == real.source
    assert d.first_supported and "TensorRT-RTX has no such plugin" in d.first_reason
    assert not d.second_supported and d.second_reason == real.verdict(RTX_DIFFERENCE_NODE).reason
    assert "NonZero plugin" in d.second_reason


def test_tensorrt_shaped_answers_take_the_same_verdict_path_stand_in():
    """Stand-in for TensorRT's own parser, which needs a GPU (none here): an object answering like
    TensorRT 10.x's ``supports_model_v2`` (every subgraph False while any node fails, one error per failing
    subgraph) drives the REAL verdict algorithm (trt/verdicts.py) and mapping (support/analysis.py); only
    the failing nodes come out unsupported. The file order here is not topological, so ids map by
    ``file_index``."""
    import onnx

    from explorer.support.analysis import verdicts_from_parser
    from explorer.trt.verdicts import ParserError, judge_model

    class TensorRT10Answers:
        calls = 0

        def check(self, data, path=""):
            self.calls += 1
            graph = onnx.load_from_string(data).graph
            bad = [i for i, n in enumerate(graph.node) if n.op_type == "Unique"]
            if not bad:
                return True, [(list(range(len(graph.node))), True)], []
            runs, run = [], []
            for i in range(len(graph.node)):
                if i in bad:
                    runs.append(run) if run else None
                    run = []
                else:
                    run.append(i)
            if run:
                runs.append(run)
            errors = [ParserError(i, graph.node[i].name, "Unique", "checkUnique", "UNSUPPORTED_NODE", "false")
                      for i in bad]
            return False, [(r, False) for r in runs], errors

    nodes = [helper.make_node("Relu", ["a"], ["b"], name="second"),  # reads what the next node makes
             helper.make_node("Abs", ["x"], ["a"], name="first")]
    nodes += [helper.make_node("Unique" if i == 3 else "Neg", [f"b{i}" if i else "b"], [f"b{i + 1}"], name=f"n{i}")
              for i in range(6)]
    proto = tiny_model(nodes, [("x", TensorProto.FLOAT, [4])], [("b6", TensorProto.FLOAT, None)], opset=17)
    fake_trt = types.SimpleNamespace(__name__="tensorrt", __version__="10.15.1.29")
    result = judge_model(fake_trt, proto, parser=TensorRT10Answers())
    assert result.parser == "TensorRT 10.15.1 parser"
    model = quiet_load(proto)
    verdicts = verdicts_from_parser(model, result)
    assert [v.name for v in verdicts if not v.supported] == ["n3"]
    assert [v.name for v in verdicts][:2] == ["first", "second"]  # topological order, verdicts by file_index
    assert next(v for v in verdicts if v.name == "n3").reason == "checkUnique: false [UNSUPPORTED_NODE]"


@needs_rtx
def test_a_parser_child_that_runs_out_of_memory_or_time_is_a_model_error_naming_the_file(monkeypatch):
    from explorer.errors import ModelError
    from explorer.trt import TENSORRT_RTX, judge_isolated, verdicts

    path = str(SAMPLES / "resnet18.onnx")
    monkeypatch.setattr(verdicts, "PARSER_MEMORY_LIMIT", 16 * 1024**2)  # not even the imports fit
    with pytest.raises(ModelError, match="TensorRT-RTX's ONNX parser") as info:
        judge_isolated(path, TENSORRT_RTX)
    assert info.value.file == path
    monkeypatch.undo()
    with pytest.raises(ModelError, match="did not finish within") as info:
        judge_isolated(path, TENSORRT_RTX, timeout=0.001)
    assert info.value.file == path


@needs_rtx
def test_background_analysis_gives_the_real_verdicts_and_can_be_cancelled():
    from explorer.support import AnalysisCancelled, start_analysis

    model = quiet_load(SAMPLES / "unsupported_ops.onnx")
    job = start_analysis(model, source="tensorrt-rtx")
    report = job.result(120)
    assert job.done() and job.progress.startswith("done: TensorRT-RTX")
    assert [v.node for v in report.unsupported] == [v.node for v in explorer.analyze(
        model, source="tensorrt-rtx").unsupported]
    job = start_analysis(model, source="tensorrt-rtx")
    job.cancel()
    with pytest.raises(AnalysisCancelled):
        job.result(120)
    assert job.progress.startswith("cancelled")


def test_sources_are_checked_and_the_default_is_the_instant_prediction():
    from explorer.errors import ExplorerError

    with pytest.raises(ExplorerError, match="source must be one of"):
        explorer.analyze(SAMPLES / "resnet18.onnx", source="openvino")  # ("onnxruntime" is one now)
    if importlib.util.find_spec("tensorrt") is None:
        with pytest.raises(ExplorerError, match="TensorRT parser was requested but cannot be used: TensorRT is not"):
            explorer.analyze(SAMPLES / "resnet18.onnx", source="tensorrt")
        report = explorer.analyze(SAMPLES / "resnet18.onnx")
        assert report.source.startswith("support-matrix") and report.source.endswith("(prediction)")
    with pytest.raises(ExplorerError, match="contradicts"):
        explorer.analyze(SAMPLES / "resnet18.onnx", source="tensorrt-rtx", use_parser=False)
