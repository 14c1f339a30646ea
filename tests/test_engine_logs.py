"""Verbose build logs (7.x, 8.x, 10.x, Python API) from short real-format excerpts in tests/data/logs."""

from __future__ import annotations

import re
import tracemalloc
from pathlib import Path

import pytest

from explorer.engine import load_report, read_build_log
from explorer.engine.readers.build_log import tactic_key
from explorer.errors import ArtifactError

LOGS = Path(__file__).parent / "data" / "logs"
PREFIX = re.compile(r"^(?:\[\d\d/\d\d/\d{4}-\d\d:\d\d:\d\d\] )?(?:\[(?:V|I|W|TRT)\] ){0,2}(?:\[TensorRT\] \w+: )?")


def _records(report, layer):
    return [t for t in report.tactics if t.layer == layer]


def _chosen(report, layer):
    chosen = [t for t in report.tactics if t.layer == layer and t.chosen]
    assert len(chosen) == 1, chosen
    return chosen[0]


def test_trt7_timing_runner_blocks():
    report = read_build_log(LOGS / "trt7.log")
    conv = "vgg0_conv0_fwd + vgg0_relu0_fwd"
    records = _records(report, conv)
    timed = [t for t in records if t.time_ms is not None]
    assert len(timed) == 5  # 3 CaskConvolution + 2 CudaConvolution
    chosen = _chosen(report, conv)
    assert (chosen.runner, chosen.tactic, chosen.time_ms) == ("CaskConvolution", "-4420849921117327522", 0.198656)
    assert chosen.tactic_name == "maxwell_scudnn_128x64_relu_large_nn_v1"  # from the 7.x "Set Tactic Name" line
    assert chosen.fastest
    skipped = [t for t in records if t.skipped_reason]
    assert {(t.runner, t.tactic) for t in skipped} == {("FusedConvActConvolution", None), ("CudaConvolution", "1")}
    assert next(t for t in skipped if t.tactic == "1").skipped_reason == "Scratch requested: 1199616, available: 1048576"
    fastest = {t.runner: t.tactic for t in records if t.fastest}
    assert fastest == {"CaskConvolution": "-4420849921117327522", "CudaConvolution": "0"}
    # a layer whose choice is not the overall fastest record of the log
    assert _chosen(report, "vgg0_conv4_fwd + vgg0_relu4_fwd").runner == "CudaConvolution"
    assert _chosen(report, "vgg0_pool0_fwd").tactic == "2752769"
    assert report.provenance["tactics"] == "TensorRT build log trt7.log"
    assert {t.source for t in report.tactics} == {"TensorRT build log trt7.log"}


def test_trt8_engine_layer_information_decides_the_choice():
    report = read_build_log(LOGS / "trt8.log")
    chosen = _chosen(report, "Conv_0 + Relu_1")
    assert (chosen.tactic, chosen.runner, chosen.time_ms) == ("0x5deb29b7a8e275f7", "CaskConvolution", 0.52224)
    assert chosen.tactic_name == "ampere_scudnn_128x64_relu_xregs_large_nn_v1"
    failed = next(t for t in report.tactics if t.tactic == "0x7e29bdfccd92c42c")
    assert failed.time_ms is None and "failed" in failed.skipped_reason
    conv3 = {t.tactic: t for t in _records(report, "Conv_3 + Relu_4")}
    assert conv3["0x3a4e23ea5e9eee92"].skipped_reason == "Myelin error: no results found."
    assert "insufficient memory" in conv3["0x0000000000000003"].skipped_reason  # a [W]-prefixed line
    assert _chosen(report, "MaxPool_2").runner == "TiledPooling"
    # the engine layer list of the log
    assert [l.name for l in report.layers][:2] == ["Conv_0 + Relu_1", "MaxPool_2"]
    conv0 = report.layers[0]
    assert conv0.type == "CaskConvolution" and conv0.precision == "FP32"
    assert conv0.inputs[0].shape == (32, 3, 224, 224) and conv0.outputs[0].name == "onnx::MaxPool_125"
    assert report.layers[3].outputs[0].shape == (32, 64, 56, 56)  # "64:4" vectorized channels
    # no phantom tactic record for the reformat layer, which the log never timed
    assert not _records(report, "Reformatting CopyNode for Output Tensor 0 to MaxPool_2")
    totals = report.memory.engine_totals
    assert totals == {"host_persistent_bytes": 170400, "device_persistent_bytes": 125895680,
                      "scratch_bytes": 59641344, "peak_cpu_bytes": 116 * 2**20, "peak_gpu_bytes": 4 * 2**20,
                      "engine_size_bytes": 45 * 2**20}


def test_trt10_tactic_names_profiling_completed_and_myelin():
    report = read_build_log(LOGS / "trt10.log")
    conv = "/features/features.0/Conv + /features/features.1/Relu"
    records = _records(report, conv)
    named = [t for t in records if t.tactic_name]
    assert len(named) == 4 and all(t.tactic_name.startswith("sm80_xmma_fprop") for t in named)
    assert {t.formats.split("(")[0] for t in records} == {"Float", "Half"}
    fastest = sorted((t.formats[:5], t.tactic) for t in records if t.fastest)
    assert fastest == [("Float", "0xd828f024626fa982"), ("Half(", "0x245530c34bd6090f")]
    # two format combinations, two "Chose Runner" lines: the last is the engine's
    assert _chosen(report, conv).tactic == "0x245530c34bd6090f"
    assert any(t.runner == "CaskFlattenConvolution" and t.tactic is None and "no valid tactics" in t.skipped_reason
               for t in records)
    myelin = "{ForeignNode[/classifier/classifier.0/Flatten.../classifier/classifier.6/Gemm]}"
    chosen = _chosen(report, myelin)
    assert (chosen.runner, chosen.time_ms) == ("Myelin", 17.8375)
    memory = report.memory.to_dict()
    assert memory["layers"][0] == {"layer": conv, "host_persistent": 2400, "device_persistent": 0, "scratch": 0}
    assert memory["layers"][2]["scratch"] == 411041792
    assert memory["total_activation_bytes"] == 2478873600
    assert memory["scratch_bytes"] == 2065996800
    assert memory["weights_bytes"] == 34082304
    assert memory["engine_size_bytes"] == round(32.6271 * 2**20)
    assert memory["provenance"]["total_activation_bytes"] == "TensorRT build log trt10.log"


def test_python_api_logger_prefix():
    report = read_build_log(LOGS / "python_api.log")
    assert _chosen(report, "/conv1/Conv + /relu/Relu").tactic == "0x0866ddee325d07a6"
    skipped = next(t for t in report.tactics if t.skipped_reason)
    assert skipped.tactic == "0x048d6d0400f33439" and skipped.tactic_name.startswith("sm80_xmma")
    assert skipped.skipped_reason == "Scratch requested: 8388608, available: 4194304"
    assert report.memory.total_activation_bytes == 6422528


def test_old_memory_totals_printed_twice_last_wins():
    report = read_build_log(LOGS / "memory_old.log")
    memory = report.memory.to_dict()
    assert memory["host_persistent_bytes"] == 170400
    assert memory["device_persistent_bytes"] == 125895680
    assert memory["scratch_bytes"] == 59641344
    assert memory["peak_cpu_bytes"] == 116 * 2**20
    assert memory["layers"] == []
    assert report.tactics == [] and "--verbose" in report.notes[0]


def test_new_memory_lines_repeated_last_wins():
    report = read_build_log(LOGS / "memory_new.log")
    memory = report.memory.to_dict()
    layers = {m["layer"]: m for m in memory["layers"]}
    assert len(layers) == 4
    assert layers["/backbone/conv1/Conv + /backbone/relu/Relu"]["host_persistent"] == 3328
    assert layers["/head/fc/Gemm"] == {"layer": "/head/fc/Gemm", "host_persistent": 3840,
                                       "device_persistent": 32768, "scratch": 2097152}
    assert memory["host_persistent_bytes"] == 84864
    assert memory["device_persistent_bytes"] == 0
    assert memory["scratch_bytes"] == 2065996800
    assert memory["total_activation_bytes"] == 2478873600
    assert memory["weights_bytes"] == 34082304


@pytest.mark.parametrize("name", ["trt7.log", "trt8.log", "trt10.log", "memory_new.log", "python_api.log"])
def test_prefixes_do_not_matter(name, tmp_path):
    text = (LOGS / name).read_text()
    bare = "".join(PREFIX.sub("", line) for line in text.splitlines(keepends=True))
    assert bare != text
    with_prefix = read_build_log(LOGS / name)
    without = read_build_log(bare)  # log text given directly
    key = lambda t: (t.layer, t.runner, t.tactic, t.time_ms, t.chosen, t.skipped_reason, t.fastest)  # noqa: E731
    assert sorted(map(key, with_prefix.tactics), key=repr) == sorted(map(key, without.tactics), key=repr)
    assert with_prefix.memory.to_dict()["layers"] == without.memory.to_dict()["layers"]
    assert with_prefix.memory.engine_totals == without.memory.engine_totals


def test_lines_from_an_iterable():
    lines = (LOGS / "trt8.log").read_text().splitlines()
    report = read_build_log(iter(lines), origin_label="live logger")
    assert _chosen(report, "Conv_0 + Relu_1").source == "live logger"


def test_log_merged_with_layer_info(fixtures_dir):
    report = load_report(graph=fixtures_dir / "a100_resnet_fp32.graph.json",
                         profile=fixtures_dir / "a100_resnet_fp32.profile.json", log=LOGS / "trt8.log")
    assert len(report.layers) == 32  # the graph's layer list, not the log's 4
    engine = {l.name: l.tactic_value for l in report.layers}
    for record in report.tactics:
        if record.chosen:
            assert tactic_key(record.tactic) == tactic_key(engine[record.layer])
    memory = report.memory.to_dict()
    assert memory["weights_bytes"] == report.memory.weights_bytes == sum(report.memory.weights.values())
    sources = memory["provenance"]
    assert sources["weights_bytes"].startswith("computed: Weights/Bias Count x Type from trtexec --exportLayerInfo")
    assert sources["device_persistent_bytes"] == "TensorRT build log trt8.log"
    assert report.provenance["tactics"] == "TensorRT build log trt8.log"
    assert report.sources == ["trtexec --exportLayerInfo a100_resnet_fp32.graph.json",
                              "trtexec --exportProfile a100_resnet_fp32.profile.json",
                              "TensorRT build log trt8.log"]


def test_engine_tactic_overrides_log_choice(fixtures_dir):
    """The engine's TacticValue marks the chosen record even when the log's own "Chose" lines differ."""
    log = "\n".join([
        "[V] [TRT] --------------- Timing Runner: MaxPool_2 (TiledPooling)",
        "[V] [TRT] Tactic: 0x00000000005e0101 Time: 0.05",
        "[V] [TRT] Tactic: 0x0000000000270101 Time: 0.09",
        "[V] [TRT] >>>>>>>>>>>>>>> Chose Runner Type: TiledPooling Tactic: 0x00000000005e0101",
    ])
    assert _chosen(read_build_log(log), "MaxPool_2").tactic == "0x00000000005e0101"
    report = load_report(graph=fixtures_dir / "a100_resnet_fp32.graph.json", log=log)
    assert _chosen(report, "MaxPool_2").tactic == "0x0000000000270101"


def test_tactic_key():
    assert tactic_key("0x5deb29b7a8e275f7") == 0x5deb29b7a8e275f7
    assert tactic_key("-1") == tactic_key("0xffffffffffffffff") == 2**64 - 1
    assert tactic_key("1062367460111450758") == 1062367460111450758
    assert tactic_key(None) is None


def test_streaming_memory_does_not_grow_with_the_log(tmp_path):
    """A few MB of real-format lines: the reader keeps records, not lines (the 200 MB run is bench/logs.py)."""
    block = (LOGS / "trt10.log").read_text().splitlines(keepends=True)
    layers = [f"/m/block{i}/Conv + /m/block{i}/Relu" for i in range(40)]

    def write(path, repeats):
        with open(path, "w") as out:
            for r in range(repeats):
                for name in layers:
                    out.write("".join(line.replace("/features/features.0/Conv + /features/features.1/Relu", name)
                                      .replace("Time: 0.0", f"Time: 0.{r % 9 + 1}") for line in block))
        return path.stat().st_size

    small = write(tmp_path / "small.log", 5)
    big = write(tmp_path / "big.log", 20)
    peaks = []
    for path in (tmp_path / "small.log", tmp_path / "big.log"):
        tracemalloc.start()
        report = read_build_log(path)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        assert len({t.layer for t in report.tactics}) == len(layers) + 1
    assert big > 3 * small and big > 2_000_000
    assert peaks[1] < 1.3 * peaks[0] + 200_000  # same records whatever the size
    assert peaks[1] < big / 4  # never the whole file


# -- bad input ----------------------------------------------------------------------------------------------
def test_missing_log(tmp_path):
    with pytest.raises(ArtifactError, match="file not found"):
        read_build_log(tmp_path / "build.log")


def test_binary_file_is_not_a_log(tmp_path):
    path = tmp_path / "model.engine"
    path.write_bytes(b"ftrt" + bytes(range(256)) * 8)
    with pytest.raises(ArtifactError, match="binary file"):
        read_build_log(path)


def test_json_is_not_a_log(fixtures_dir):
    with pytest.raises(ArtifactError, match="JSON"):
        read_build_log(fixtures_dir / "a100_resnet_fp32.profile.json")


def test_text_that_is_not_a_log(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("shopping list\nmilk\neggs\n" * 50)
    with pytest.raises(ArtifactError, match="not a TensorRT log") as info:
        read_build_log(path)
    assert str(path) in str(info.value)


def test_non_verbose_log_is_read_with_a_note(tmp_path):
    path = tmp_path / "info.log"
    path.write_text("[01/15/2025-10:20:01] [I] [TRT] [MemUsageChange] Init CUDA: CPU +2, GPU +0, now: CPU 25\n"
                    "[01/15/2025-10:20:11] [I] Engine built in 7.3 sec.\n")
    report = read_build_log(path)
    assert report.tactics == [] and "--verbose" in report.notes[0]


def test_gzipped_log_is_streamed(tmp_path):
    import gzip

    path = tmp_path / "build.log.gz"
    with gzip.open(path, "wt") as out:
        out.write((LOGS / "trt10.log").read_text())
    report = read_build_log(path)
    assert report.sources == ["TensorRT build log build.log.gz"]
    assert len(report.tactics) == len(read_build_log(LOGS / "trt10.log").tactics)
