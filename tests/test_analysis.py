"""`explorer.analyze` end to end on the sample models: verdicts, partitions, min_block_size, folding."""

from __future__ import annotations

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


def test_parser_verdicts_from_a_stand_in_capability_result():
    """Stand-in for TensorRT's parser (cannot run here): a ParserCapability *value* shaped like what
    `supports_model_v2` + `get_subgraph_nodes` + `get_error` return, fed through the real mapping code."""
    from explorer.trt import ParserCapability, ParserIssue
    from explorer.support.analysis import _partitions, verdicts_from_capability

    model = explorer.load_model(SAMPLES / "unsupported_ops.onnx")
    unique = next(n for n in model.nodes if n.op_type == "Unique")
    others = [n.file_index for n in model.nodes if n is not unique]
    capability = ParserCapability(
        version="10.15.1", source_label="tensorrt-parser 10.15",
        subgraphs=[(others, True), ([unique.file_index], False)],
        errors=[ParserIssue(node_index=unique.file_index, node_name=unique.name, operator="Unique",
                            description="No importer registered for op: Unique", code="UNSUPPORTED_NODE")])
    verdicts = verdicts_from_capability(model, capability)
    bad = [v for v in verdicts if not v.supported]
    assert [v.node for v in bad] == [unique.id]
    assert "No importer registered for op: Unique" in bad[0].reason and "UNSUPPORTED_NODE" in bad[0].reason
    partitions = _partitions(model, verdicts, 1, False)
    assert sum(1 for p in partitions if not p.supported) == 1


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
