"""The joined EngineReport: JSON, DataFrames, provenance of every figure, public constructors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import SAMPLES

from explorer.engine import (EngineReport, LatencyStats, Layer, LayerMemory, MemoryReport, TacticRecord, TensorDesc,
                             load_report)
from explorer.errors import ArtifactError

LOGS = Path(__file__).parent / "data" / "logs"


@pytest.fixture
def full_report(fixtures_dir):
    model = SAMPLES / "resnet18.onnx"
    return load_report(graph=fixtures_dir / "a100_resnet_fp32.graph.json",
                       profile=fixtures_dir / "a100_resnet_fp32.profile.json",
                       times=fixtures_dir / "a100_resnet_fp32.timing.json",
                       log=LOGS / "trt8.log",
                       model=model if model.exists() else None)


def test_to_dict_is_json_with_the_promised_keys(full_report):
    data = json.loads(json.dumps(full_report.to_dict()))
    assert {"layers", "latency_ms_total", "tactics", "memory", "end_to_end", "sources", "provenance", "notes"} <= set(data)
    layer = data["layers"][0]
    assert {"name", "type", "precision", "latency_ms", "onnx_nodes", "tactic"} <= set(layer)
    assert layer["name"] == "Conv_0 + Relu_1" and layer["latency_ms"] == 0.52224
    assert layer["tactic"] == "ampere_scudnn_128x64_relu_xregs_large_nn_v1"
    assert data["latency_ms_total"] == pytest.approx(sum(l["latency_ms"] for l in data["layers"]))
    tactic = data["tactics"][0]
    assert {"layer", "tactic", "time_ms", "chosen", "skipped_reason", "runner", "source"} <= set(tactic)
    memory = data["memory"]
    assert {"total_activation_bytes", "weights_bytes", "layers", "provenance"} <= set(memory)
    assert data["end_to_end"]["count"] == 1600


def test_every_figure_carries_its_source(full_report):
    report = full_report
    for layer in report.layers:
        assert layer.latency.source == "trtexec --exportProfile a100_resnet_fp32.profile.json"
    assert all(t.source == "TensorRT build log trt8.log" for t in report.tactics)
    assert report.end_to_end.source == "trtexec --exportTimes a100_resnet_fp32.timing.json"
    prov = report.provenance
    assert prov["layers"] == "trtexec --exportLayerInfo a100_resnet_fp32.graph.json"
    assert prov["latency"] == "trtexec --exportProfile a100_resnet_fp32.profile.json"
    assert prov["tactics"] == "TensorRT build log trt8.log"
    assert prov["end_to_end"] == "trtexec --exportTimes a100_resnet_fp32.timing.json"
    assert "onnx_nodes" in prov
    memory = report.memory.to_dict()
    for key in ("weights_bytes", "total_activation_bytes", "activation_tensors_bytes", "scratch_bytes",
                "host_persistent_bytes", "device_persistent_bytes", "engine_size_bytes"):
        assert memory[key] is not None
        assert memory["provenance"][key], key
    # the engine's activation memory is the log's figure only when the log has it; here it is computed
    assert memory["provenance"]["total_activation_bytes"].startswith("computed: shape x dtype")


def test_frames(full_report):
    layers = full_report.layers_frame()
    assert len(layers) == 32 and list(layers.columns[:4]) == ["name", "type", "precision", "latency_ms"]
    assert layers["latency_ms"].sum() == pytest.approx(full_report.latency_ms_total)
    tactics = full_report.tactics_frame()
    assert len(tactics) == len(full_report.tactics) and "chosen" in tactics.columns
    assert tactics["chosen"].sum() == 3
    memory = full_report.memory_frame()
    assert len(memory) == 32
    assert memory["weights_bytes"].sum() == full_report.memory.weights_bytes


def test_report_from_public_constructors():
    """What a build backend (engine inspector, ONNX Runtime profiler) will do: build the report directly."""
    layer = Layer(name="conv", type="CaskConvolution", precision="FP16",
                  outputs=[TensorDesc("y", (1, 8, 4, 4), dtype="FP16")], weights_bytes=256,
                  latency=LatencyStats(time_ms=0.5, average_ms=0.5, source="ONNX Runtime profiler"))
    memory = MemoryReport.from_layers([layer], "engine inspector")
    memory.layers.append(LayerMemory("conv", host_persistent=10, device_persistent=0, scratch=64, source="log"))
    report = EngineReport(layers=[layer], memory=memory, sources=["ONNX Runtime profiler"],
                          tactics=[TacticRecord(layer="conv", tactic="0x1", time_ms=0.5, chosen=True, source="cache")])
    data = report.to_dict()
    assert data["latency_ms_total"] == 0.5
    assert data["memory"]["total_activation_bytes"] == 256 and data["memory"]["weights_bytes"] == 256
    assert data["memory"]["layers"] == [{"layer": "conv", "host_persistent": 10, "device_persistent": 0, "scratch": 64}]
    assert data["memory"]["scratch_bytes"] == 64  # from the per-layer figures when no total is reported


def test_nothing_to_read():
    with pytest.raises(ArtifactError, match="nothing to read"):
        load_report()


def test_times_only(fixtures_dir):
    report = load_report(times=fixtures_dir / "a100_resnet_qat.timing.json")
    assert report.layers == [] and report.latency_ms_total is None
    assert report.end_to_end.count == 3614
    assert report.to_dict()["mapping"]["layers"] == []


def test_fused_layers_is_the_one_fusion_definition(full_report):
    """Layers running several ONNX nodes, reformats left out, a layer listed again counted once."""
    from explorer.engine import FusedLayer

    fused = full_report.fused_layers()
    assert fused and all(isinstance(f, FusedLayer) and len(f.onnx_nodes) >= 2 for f in fused)
    first = full_report.layers[0]
    assert fused[0] == FusedLayer(layer="Conv_0 + Relu_1", onnx_nodes=tuple(first.onnx_nodes), type=first.type,
                                  precision=first.precision)
    expected = [l.name for l in full_report.layers if len(l.onnx_nodes) > 1 and not l.is_reformat]
    assert [f.layer for f in fused] == expected
    every = full_report.fused_layers(min_nodes=1)
    assert len(every) > len(fused) and all(len(f.onnx_nodes) >= 1 for f in every)

    again = EngineReport(layers=full_report.layers + [Layer(name="Conv_0 + Relu_1 [profile 1]",
                                                            onnx_nodes=list(first.onnx_nodes))])
    assert [f.layer for f in again.fused_layers()] == expected
    reformat = Layer(name="Reformatting CopyNode for Input Tensor 0 to Conv_0 + Relu_1", onnx_nodes=["a", "b"])
    assert EngineReport(layers=[reformat]).fused_layers() == []


def test_every_onnx_element_type_has_a_size_and_a_name():
    """explorer.dtypes is the one table: the model loader sizes initializers from it."""
    import numpy as np
    import onnx
    from onnx import helper

    from explorer.dtypes import ONNX_DTYPES, onnx_canonical, onnx_nbytes

    names = {name for name, _ in onnx.TensorProto.DataType.items()} - {"UNDEFINED"}
    assert names <= set(ONNX_DTYPES), sorted(names - set(ONNX_DTYPES))
    for name in names - {"STRING"}:  # whole-byte types: the size numpy (via onnx) stores them in
        size = ONNX_DTYPES[name][1]
        if size >= 1:
            np_type = helper.tensor_dtype_to_np_dtype(getattr(onnx.TensorProto, name))
            assert np.dtype(np_type).itemsize == size, name
    assert onnx_canonical("FLOAT") == "FP32" and onnx_canonical("float16") == "FP16"
    assert onnx_nbytes(3, "INT4") == 2 and onnx_nbytes(5, "UINT2") == 2 and onnx_nbytes(3, "FLOAT16") == 6
    assert onnx_nbytes(4, "FLOAT6E2M3") == 3 and onnx_nbytes(2, "UNDEFINED") == 8


def test_one_statistic_median_else_mean_and_shares_of_it():
    """Views show ``Layer.latency_ms``: the median when the source has one (ONNX Runtime, trtexec's medianMs),
    else the mean, and say which; the share is of the same statistic's total, not the source's percentage."""
    from explorer.engine import EngineReport, Layer, LatencyStats, ProfiledLatency

    skewed = ProfiledLatency(time_ms=24.1, average_ms=2.41, median_ms=0.81, percentage=18.03, count=10,
                             source="profiler", p10_ms=0.7, p90_ms=5.0)
    plain = LatencyStats(time_ms=4.0, average_ms=4.0, source="old profile")
    report = EngineReport(layers=[Layer(name="a", latency=skewed), Layer(name="b", latency=skewed)])
    assert report.layers[0].latency_ms == 0.81 and report.latency_statistic == "median"
    assert report.latency_ms_total == pytest.approx(1.62)
    assert report.latency_share(report.layers[0]) == pytest.approx(50.0)  # not the source's 18.03
    frame = report.layers_frame()
    assert list(frame["latency_p10_ms"]) == [0.7, 0.7] and list(frame["percentage"]) == [50.0, 50.0]
    assert report.to_dict()["layers"][0]["latency_statistic"] == "median"
    old = EngineReport(layers=[Layer(name="c", latency=plain)])
    assert old.layers[0].latency_ms == 4.0 and old.latency_statistic == "mean"
    assert old.layers[0].latency.spread_ms is None
    mixed = EngineReport(layers=[Layer(name="a", latency=skewed), Layer(name="c", latency=plain)])
    assert mixed.latency_statistic.startswith("median (mean where")


def test_numbers_read_for_people():
    from explorer.plots.format import fmt_ms, fmt_number, fmt_spread

    assert fmt_number(0.8064728999999999) == "0.806" and fmt_number(60.64) == "60.6" and fmt_number(3) == "3"
    assert fmt_ms(2.41) == "2.41 ms" and fmt_ms(0.00313) == "3.13 µs" and fmt_ms(None) == "n/a"
    assert fmt_spread((0.512, 0.583)) == "p10–p90 0.512–0.583 ms"
