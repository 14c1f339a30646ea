"""trtexec JSON readers (layer info, profile, times) against the real A100 ResNet-18 exports."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from explorer.engine import load_report, read_layer_info, read_profile, read_times
from explorer.engine.readers.layer_info import NAME_ONLY_NOTE
from explorer.errors import ArtifactError

VARIANTS = ["fp32", "fp16", "qat"]
ITEMSIZE = {"Float": 4, "Half": 2, "Int8": 1}


def _load(path):
    with open(path) as handle:
        return json.load(handle)


@pytest.fixture(params=VARIANTS)
def variant(request, fixtures_dir):
    return request.param, fixtures_dir


# -- --exportLayerInfo --------------------------------------------------------------------------------------
def test_layer_info_reads_every_layer(variant):
    name, root = variant
    path = root / f"a100_resnet_{name}.graph.json"
    raw = _load(path)
    report = read_layer_info(path)
    assert [layer.name for layer in report.layers] == [layer["Name"] for layer in raw["Layers"]]
    assert [layer.type for layer in report.layers] == [layer["LayerType"] for layer in raw["Layers"]]
    assert report.provenance["layers"] == f"trtexec --exportLayerInfo a100_resnet_{name}.graph.json"
    assert report.sources == [report.provenance["layers"]]
    for layer, item in zip(report.layers, raw["Layers"]):
        assert layer.tactic_value == item["TacticValue"]
        assert layer.tactic_name == item.get("TacticName")
        assert layer.origin == item.get("Origin")
        assert [t.name for t in layer.outputs] == [t["Name"] for t in item["Outputs"]]
        assert layer.outputs[0].shape == tuple(item["Outputs"][0]["Dimensions"])


def test_weights_total_is_sum_of_counts_times_itemsize(variant):
    name, root = variant
    path = root / f"a100_resnet_{name}.graph.json"
    raw = _load(path)
    expected = {}
    for item in raw["Layers"]:
        size = sum(item[key]["Count"] * ITEMSIZE[item[key]["Type"]] for key in ("Weights", "Bias") if key in item)
        if size:
            expected[item["Name"]] = size
    report = read_layer_info(path)
    assert report.memory.weights == expected
    assert report.memory.weights_bytes == sum(expected.values())
    assert report.memory.figure_sources()["weights_bytes"].startswith("computed: Weights/Bias Count x Type")


def test_activation_bytes_are_shape_times_dtype(variant):
    name, root = variant
    report = read_layer_info(root / f"a100_resnet_{name}.graph.json")
    acts = report.memory.activations
    size = {"FP32": 4, "FP16": 2, "INT8": 1}
    for layer in report.layers:
        for tensor in (*layer.inputs, *layer.outputs):
            assert acts[tensor.name] == int(np.prod(tensor.shape)) * size[tensor.dtype]
    assert report.memory.total_activation_bytes == sum(acts.values())
    # the engine input: 32x3x224x224 fp32
    assert acts["input.1"] == 32 * 3 * 224 * 224 * 4


def test_precision_and_bindings(fixtures_dir):
    fp32 = read_layer_info(fixtures_dir / "a100_resnet_fp32.graph.json")
    fp16 = read_layer_info(fixtures_dir / "a100_resnet_fp16.graph.json")
    qat = read_layer_info(fixtures_dir / "a100_resnet_qat.graph.json")
    assert {layer.precision for layer in fp32.layers} == {"FP32"}
    assert fp16.layer("Conv_0 + Relu_1").precision == "FP16"
    assert qat.layer("QuantizeLinear_2").precision == "INT8"
    assert qat.layer("QuantizeLinear_2").origin == "QDQ"
    io = {t.name: t for t in fp32.io_tensors}
    assert io["input.1"].io_mode == "INPUT" and io["input.1"].shape == (32, 3, 224, 224)
    assert io["input.1"].dtype == "FP32"
    assert io["191"].io_mode == "OUTPUT" and io["191"].shape == (32, 1000)


def test_reformat_layers_are_recognised(fixtures_dir):
    report = read_layer_info(fixtures_dir / "a100_resnet_fp32.graph.json")
    reformats = [layer.name for layer in report.layers if layer.is_reformat]
    assert "Reformatting CopyNode for Output Tensor 0 to MaxPool_2" in reformats  # Origin REFORMAT
    # NoOp copies without an Origin field are reformats too (by name)
    assert "Reformatting CopyNode for Input Tensor 0 to Conv_37" in reformats
    assert "Conv_0 + Relu_1" not in reformats


def test_same_code_path_for_dict_and_text(fixtures_dir):
    path = fixtures_dir / "a100_resnet_fp16.graph.json"
    raw = _load(path)
    from_dict = read_layer_info(raw)
    from_text = read_layer_info(path.read_text())
    from_file = read_layer_info(path)
    assert [l.name for l in from_dict.layers] == [l.name for l in from_file.layers] == [l.name for l in from_text.layers]
    assert from_dict.memory.weights_bytes == from_file.memory.weights_bytes
    assert from_dict.provenance["layers"] == "engine inspector"
    labelled = read_layer_info(raw, origin_label="engine inspector (live engine)")
    assert labelled.sources == ["engine inspector (live engine)"]


def test_single_layer_from_get_layer_information(fixtures_dir):
    raw = _load(fixtures_dir / "a100_resnet_fp32.graph.json")
    report = read_layer_info(raw["Layers"][0])
    assert [layer.name for layer in report.layers] == ["Conv_0 + Relu_1"]


def test_names_only_form_says_what_is_missing(fixtures_dir):
    raw = _load(fixtures_dir / "a100_resnet_fp32.graph.json")
    names_only = {"Layers": [layer["Name"] for layer in raw["Layers"]], "Bindings": raw["Bindings"]}
    report = read_layer_info(names_only)
    assert [layer.name for layer in report.layers] == names_only["Layers"]
    assert all(layer.type is None for layer in report.layers)
    assert report.notes == [NAME_ONLY_NOTE]
    assert "--profilingVerbosity=detailed" in report.notes[0]
    assert report.memory.weights_bytes is None


def test_trt11_io_tensors_replace_bindings(fixtures_dir):
    raw = copy.deepcopy(_load(fixtures_dir / "a100_resnet_fp16.graph.json"))
    del raw["Bindings"]
    raw["I/O Tensors"] = [
        {"Name": "input.1", "IOMode": "Input", "DataType": "FP32", "Dimensions": [32, 3, 224, 224],
         "Location": "Device", "Format/Datatype": "Row major linear FP32"},
        {"Name": "191", "IOMode": "Output", "DataType": "FP32", "Dimensions": [32, 1000], "Location": "Device"},
    ]
    report = read_layer_info(raw)
    assert len(report.layers) == len(raw["Layers"])
    io = {t.name: t for t in report.io_tensors}
    assert io["input.1"].io_mode == "INPUT" and io["input.1"].dtype == "FP32"
    assert io["191"].io_mode == "OUTPUT" and io["191"].shape == (32, 1000) and io["191"].location == "Device"


# -- --exportProfile ----------------------------------------------------------------------------------------
def test_profile_total_is_sum_of_rows(variant):
    name, root = variant
    path = root / f"a100_resnet_{name}.profile.json"
    raw = _load(path)
    rows = [r for r in raw if "name" in r]
    report = read_profile(path)
    assert len(report.layers) == len(rows)
    assert report.latency_ms_total == pytest.approx(sum(r["averageMs"] for r in rows))
    assert sum(layer.latency.time_ms for layer in report.layers) == pytest.approx(sum(r["timeMs"] for r in rows))
    assert sum(layer.latency.percentage for layer in report.layers) == pytest.approx(100, abs=0.01)
    assert {layer.latency.count for layer in report.layers} == {raw[0]["count"]}
    assert {layer.latency.source for layer in report.layers} == {f"trtexec --exportProfile a100_resnet_{name}.profile.json"}


def test_profile_without_count_record_assumes_one_run():
    report = read_profile([{"name": "a", "timeMs": 2.0}, {"name": "b", "timeMs": 1.0}])
    assert report.latency_ms_total == 3.0
    assert report.layers[0].latency.average_ms == 2.0
    assert "count" in report.notes[0]


def test_profile_average_is_time_over_count():
    report = read_profile([{"count": 4}, {"name": "a", "timeMs": 2.0, "medianMs": 0.5}])
    assert report.layers[0].latency.average_ms == 0.5
    assert report.layers[0].latency.count == 4


# -- --exportTimes ------------------------------------------------------------------------------------------
def test_times_percentiles(variant):
    name, root = variant
    path = root / f"a100_resnet_{name}.timing.json"
    raw = _load(path)
    latency = np.array([r["latencyMs"] for r in raw])
    compute = np.array([r["computeMs"] for r in raw])
    summary = read_times(path).end_to_end
    assert summary.count == len(raw)
    assert summary.latency.p50 == np.percentile(latency, 50, method="lower")
    assert summary.latency.p99 == np.percentile(latency, 99, method="lower")
    assert summary.latency.mean == pytest.approx(latency.mean())
    assert (summary.latency.min, summary.latency.max) == (latency.min(), latency.max())
    assert summary.compute.p90 == np.percentile(compute, 90, method="lower")
    assert summary.enqueue is not None and summary.enqueue.min >= 0
    span = (max(r["endD2hMs"] for r in raw) - min(r["startH2dMs"] for r in raw)) / 1000
    assert summary.throughput_qps == pytest.approx(len(raw) / span)
    assert summary.source == f"trtexec --exportTimes a100_resnet_{name}.timing.json"


# -- joining ------------------------------------------------------------------------------------------------
def test_load_report_joins_graph_and_profile(variant):
    name, root = variant
    report = load_report(graph=root / f"a100_resnet_{name}.graph.json",
                         profile=root / f"a100_resnet_{name}.profile.json")
    raw = _load(root / f"a100_resnet_{name}.profile.json")
    by_name = {r["name"]: r for r in raw if "name" in r}
    assert all(layer.latency is not None for layer in report.layers)
    for layer in report.layers:
        assert layer.latency.average_ms == by_name[layer.name]["averageMs"]
    assert report.latency_ms_total == pytest.approx(sum(r["averageMs"] for r in by_name.values()))
    assert report.notes == []


def test_merge_puts_layer_details_first_whatever_the_order(fixtures_dir):
    graph = read_layer_info(fixtures_dir / "a100_resnet_fp32.graph.json")
    profile = read_profile(fixtures_dir / "a100_resnet_fp32.profile.json")
    from explorer.engine import EngineReport

    merged = EngineReport.merge(profile, graph)
    assert merged.layers[0].type == "CaskConvolution" and merged.layers[0].latency is not None
    assert merged.provenance["layers"].startswith("trtexec --exportLayerInfo")


def test_profile_rows_of_another_engine_are_kept_and_noted(fixtures_dir):
    graph = read_layer_info(fixtures_dir / "a100_resnet_fp32.graph.json")
    extra = read_profile([{"count": 1}, {"name": "Conv_0 + Relu_1", "timeMs": 0.5},
                          {"name": "SomethingElse", "timeMs": 0.25}])
    from explorer.engine import EngineReport

    merged = EngineReport.merge(graph, extra)
    assert merged.layers[-1].name == "SomethingElse"
    assert merged.latency_ms_total == pytest.approx(0.75)
    assert any("same engine" in note for note in merged.notes)


# -- bad input ----------------------------------------------------------------------------------------------
def test_missing_file(tmp_path):
    with pytest.raises(ArtifactError, match="file not found") as info:
        read_layer_info(tmp_path / "nope.graph.json")
    assert info.value.file.endswith("nope.graph.json")


def test_truncated_json_names_line_and_column(tmp_path, fixtures_dir):
    text = (fixtures_dir / "a100_resnet_fp32.graph.json").read_text()
    cut = tmp_path / "cut.graph.json"
    cut.write_text(text[: len(text) // 2])
    with pytest.raises(ArtifactError, match="truncated JSON") as info:
        read_layer_info(cut)
    assert info.value.where.startswith("line ")
    assert str(cut) in str(info.value)


@pytest.mark.parametrize("reader, wrong, expected", [
    (read_layer_info, "a100_resnet_fp32.profile.json", "--exportProfile"),
    (read_layer_info, "a100_resnet_fp32.timing.json", "--exportTimes"),
    (read_profile, "a100_resnet_fp32.graph.json", "--exportLayerInfo"),
    (read_profile, "a100_resnet_fp32.timing.json", "--exportTimes"),
    (read_times, "a100_resnet_fp32.profile.json", "--exportProfile"),
    (read_times, "a100_resnet_fp32.build.metadata.json", "build metadata"),
])
def test_json_from_the_wrong_tool_says_which_tool(fixtures_dir, reader, wrong, expected):
    with pytest.raises(ArtifactError, match=expected) as info:
        reader(fixtures_dir / wrong)
    assert wrong in str(info.value)


def test_malformed_layers_name_the_json_path():
    with pytest.raises(ArtifactError) as info:
        read_layer_info({"Layers": [{"Name": "a", "LayerType": "X"}, {"LayerType": "Y"}]})
    assert info.value.where == "Layers[1].Name"
    with pytest.raises(ArtifactError, match="expected a list"):
        read_layer_info({"Layers": {"Name": "a"}})
    with pytest.raises(ArtifactError) as info:
        read_profile([{"count": 1}, {"name": "a", "timeMs": "fast"}])
    assert info.value.where == "[1].timeMs"


def test_binary_and_empty_files(tmp_path):
    plan = tmp_path / "model.engine"
    plan.write_bytes(b"ftrt\x00\x00\x01\x02" * 64)
    with pytest.raises(ArtifactError, match="binary"):
        read_layer_info(plan)
    empty = tmp_path / "empty.json"
    empty.write_text("  \n")
    with pytest.raises(ArtifactError, match="empty"):
        read_profile(empty)
