"""Artifacts users already have: trtexec --dumpProfile logs, TREx-layout folders, multi-profile layer info, and
the TensorRT-RTX execution provider's per-layer trace.

Real inputs: the A100 ResNet-18 trtexec exports (tests/fixtures/trt/, which is itself a TREx-layout folder of
three engines) and the real TensorRT-RTX 1.7.1 build log of sample_models/resnet18.onnx. Formats that cannot be
produced here (no GPU) are built from those real artifacts in the producer's layout, as each test says.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from explorer.engine import (artifact_kind, list_engines, load_report, read_build_log, read_dump_profile,
                             read_layer_info, read_profile, read_rtx_trace, read_trex_folder)
from explorer.errors import ArtifactError

REPO = Path(__file__).resolve().parent.parent
LOGS = REPO / "tests" / "data" / "logs"
DUMP_LOG = LOGS / "trtexec_dumpprofile_a100_fp32.log"
RTX_LOG = LOGS / "rtx_resnet18_aot_sm86.log"
sys.path.insert(0, str(LOGS))
from make_dump_profile import table  # noqa: E402  (the sample's writer: trtexec's Profiler::print layout)


def _json(path):
    with open(path) as f:
        return json.load(f)


# -- trtexec --dumpProfile ------------------------------------------------------------------------------------
def test_dump_profile_log_equals_the_export_profile_of_the_same_run(fixtures_dir):
    """The log table's figures are the --exportProfile figures at trtexec's printed precision (4 decimals for the
    mean and median, 2 for the total), layer by layer; layers that did not run are not printed (8.6+)."""
    report = read_dump_profile(DUMP_LOG)
    rows = [r for r in _json(fixtures_dir / "a100_resnet_fp32.profile.json") if "name" in r]
    ran = [r for r in rows if r["timeMs"] != 0]
    assert [layer.name for layer in report.layers] == [r["name"] for r in ran]
    exported = {layer.name: layer.latency for layer in read_profile(fixtures_dir / "a100_resnet_fp32.profile.json").layers}
    for layer in report.layers:
        want = exported[layer.name]
        assert layer.latency.median_ms == pytest.approx(round(want.median_ms, 4), abs=1e-9)
        assert layer.latency.average_ms == pytest.approx(round(want.average_ms, 4), abs=1e-9)
        assert layer.latency.time_ms == pytest.approx(round(want.time_ms, 2), abs=1e-9)
        assert layer.latency.count == 1
        assert layer.latency.source == "trtexec --dumpProfile log trtexec_dumpprofile_a100_fp32.log"
    total = sum(r["timeMs"] for r in rows)
    assert report.reported_total.average_ms == pytest.approx(round(total, 4), abs=1e-9)
    assert report.latency_ms_total == pytest.approx(sum(round(r["medianMs"], 4) for r in ran))
    assert report.provenance["latency"] == "trtexec --dumpProfile log trtexec_dumpprofile_a100_fp32.log"


@pytest.mark.parametrize("layout", ["8.4", "7.x"])
def test_dump_profile_older_layouts(tmp_path, fixtures_dir, layout):
    """TensorRT 8.4-8.5 printed ``Layer  Time (ms)  Avg. Time (ms)  Median Time (ms)  Time %`` (name first,
    right-aligned) and 7.x-8.2 the same without the median (sampleReporting.cpp of those releases); the table is
    written by the same writer as the committed sample, from the real export."""
    profile = _json(fixtures_dir / "a100_resnet_fp32.profile.json")
    path = tmp_path / "trtexec.log"
    path.write_text("\n".join(f"[06/02/2022-10:15:42] [I] {line}" for line in table(profile, layout)) + "\n")
    report = read_dump_profile(path)
    rows = [r for r in profile if "name" in r]
    assert [layer.name for layer in report.layers] == [r["name"] for r in rows]
    for layer, row in zip(report.layers, rows):
        assert layer.latency.average_ms == pytest.approx(round(row["averageMs"], 4), abs=1e-9)
        if layout == "8.4":
            assert layer.latency.median_ms == pytest.approx(round(row["medianMs"], 4), abs=1e-9)
        else:
            assert layer.latency.median_ms is None and layer.latency_statistic == "mean"
    assert report.reported_total is not None


def test_load_report_reads_a_dump_profile_log_by_content(fixtures_dir):
    assert artifact_kind(DUMP_LOG) == "log"
    by_artifact = load_report(artifact=DUMP_LOG)
    by_log = load_report(log=str(DUMP_LOG))
    assert by_artifact.latency_ms_total == by_log.latency_ms_total == read_dump_profile(DUMP_LOG).latency_ms_total
    # with the layer information of the same engine: types and precisions join the log's latency
    joined = load_report(graph=fixtures_dir / "a100_resnet_fp32.graph.json", log=DUMP_LOG)
    conv = joined.layer("Conv_0 + Relu_1")
    assert conv.type == "CaskConvolution" and conv.latency.source.startswith("trtexec --dumpProfile log")
    assert "no tactic timing lines" not in " ".join(by_log.notes)  # a profiling log is not judged as a build log


def test_dump_profile_malformed_row_names_the_file_and_line(tmp_path):
    lines = DUMP_LOG.read_text().splitlines()
    row = next(i for i, line in enumerate(lines) if "Conv_3 + Relu_4" in line)
    lines[row] = lines[row].replace("0.1085", "0.1o85")
    bad = tmp_path / "cut.log"
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(ArtifactError) as info:
        read_dump_profile(bad)
    assert "cut.log" in str(info.value) and f"line {row + 1}" in str(info.value)
    (tmp_path / "none.log").write_text("[06/02/2026-10:15:42] [I] nothing profiled here\n")
    with pytest.raises(ArtifactError, match="none.log.*no per-layer profile table"):
        read_dump_profile(tmp_path / "none.log")


# -- TREx-layout folders ----------------------------------------------------------------------------------------
def test_trex_folder_reads_one_engine_whole(fixtures_dir):
    """tests/fixtures/trt is a TREx-layout folder of three engines: each is read with its layer info, profile,
    times and build metadata, every section naming its file."""
    assert list_engines(fixtures_dir) == ["a100_resnet_fp16", "a100_resnet_fp32", "a100_resnet_qat"]
    for name in list_engines(fixtures_dir):
        report = read_trex_folder(fixtures_dir, name)
        alone = load_report(graph=fixtures_dir / f"{name}.graph.json", profile=fixtures_dir / f"{name}.profile.json",
                            times=fixtures_dir / f"{name}.timing.json")
        assert [layer.name for layer in report.layers] == [layer.name for layer in alone.layers]
        assert report.latency_ms_total == alone.latency_ms_total
        assert report.end_to_end.latency.p50 == alone.end_to_end.latency.p50
        meta = _json(fixtures_dir / f"{name}.build.metadata.json")
        assert report.metadata.sections["build_options"] == {k: str(v) for k, v in meta["build_options"].items()}
        assert report.metadata.sources["build_options"] == f"TREx build metadata {name}.build.metadata.json"
        assert report.provenance["layers"] == f"trtexec --exportLayerInfo {name}.graph.json"
        assert report.provenance["latency"] == f"trtexec --exportProfile {name}.profile.json"
        assert report.provenance["end_to_end"] == f"trtexec --exportTimes {name}.timing.json"


def test_load_report_of_a_folder_dispatches_and_asks_which_engine(fixtures_dir):
    assert artifact_kind(fixtures_dir) == "folder"
    with pytest.raises(ArtifactError, match="3 engines .*a100_resnet_fp16, a100_resnet_fp32, a100_resnet_qat"):
        load_report(fixtures_dir)
    report = load_report(fixtures_dir, engine="a100_resnet_fp16")
    assert report.metadata.get("build_options", "Precision") == _json(
        fixtures_dir / "a100_resnet_fp16.build.metadata.json")["build_options"]["Precision"]
    with pytest.raises(ArtifactError, match="no engine named 'b1'"):
        load_report(fixtures_dir, engine="b1")


def test_trex_folder_with_profile_metadata_and_torch_tensorrt_names(tmp_path, fixtures_dir):
    """TREx's process_engine.py also writes E.profile.metadata.json (device, inference options, performance
    summary); Torch-TensorRT's debugger (profile_format="trex") names the same documents
    N_engine_layer_information.json and N_engine_execution_profile.trace. Built here from the real fp32 exports
    with the sections TREx's parse_trtexec_log.py writes."""
    shutil.copy(fixtures_dir / "a100_resnet_fp32.graph.json", tmp_path / "_run_on_acc_0_engine_layer_information.json")
    shutil.copy(fixtures_dir / "a100_resnet_fp32.profile.json", tmp_path / "_run_on_acc_0_engine_execution_profile.trace")
    (tmp_path / "_run_on_acc_0.profile.metadata.json").write_text(json.dumps(
        {"device_information": {"Selected Device": "NVIDIA A100-SXM4-40GB", "Compute Capability": 8.0}}))
    report = load_report(tmp_path)  # one engine: no name needed
    assert report.latency_ms_total == read_profile(fixtures_dir / "a100_resnet_fp32.profile.json").latency_ms_total
    assert report.metadata.get("device_information", "Compute Capability") == "8.0"
    assert report.provenance["layers"] == "trtexec --exportLayerInfo _run_on_acc_0_engine_layer_information.json"


def test_trex_folder_errors_name_the_folder_or_file(tmp_path, fixtures_dir):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "README.md").write_text("no engines here")
    with pytest.raises(ArtifactError, match="empty.*no engine artifacts"):
        load_report(empty)
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    shutil.copy(fixtures_dir / "a100_resnet_fp32.profile.json", mixed / "e.graph.json")  # a profile named as layer info
    with pytest.raises(ArtifactError, match="e.graph.json.*named as layer-info but holds profile"):
        load_report(mixed)
    both = tmp_path / "both"
    both.mkdir()
    shutil.copy(fixtures_dir / "a100_resnet_fp32.graph.json", both / "e.graph.json")
    shutil.copy(fixtures_dir / "a100_resnet_fp32.graph.json", both / "e_engine_layer_information.json")
    with pytest.raises(ArtifactError, match="mixed layouts"):
        load_report(both)
    perfetto = tmp_path / "perfetto"  # Torch-TensorRT's default profile format is a Chrome trace, not TREx's
    perfetto.mkdir()
    shutil.copy(fixtures_dir / "a100_resnet_fp32.graph.json", perfetto / "m_engine_layer_information.json")
    (perfetto / "m_engine_execution_profile.trace").write_text(json.dumps(
        [{"name": "Conv_0 + Relu_1", "ph": "X", "ts": 0, "dur": 522, "pid": 0, "tid": 0}]))
    with pytest.raises(ArtifactError, match='m_engine_execution_profile.trace.*profile_format="trex"'):
        load_report(perfetto)


# -- several optimization profiles ------------------------------------------------------------------------------
def _two_profile_layer_info(fixtures_dir, path):
    """The A100 fp32 layer information as a two-profile engine writes it: TensorRT lists every layer and binding
    again for profile 1 with the name suffix `` [profile 1]`` (profile 0 has none), which is how TREx's
    ``parser.import_graph_file`` tells them apart. Profile 1 is given batch 8 instead of 32 (its own shapes), so
    its activations differ. No multi-profile engine export exists here: this follows that documented layout."""
    doc = _json(fixtures_dir / "a100_resnet_fp32.graph.json")
    second = json.loads(json.dumps(doc["Layers"]))
    for layer in second:
        layer["Name"] += " [profile 1]"
        for tensor in layer.get("Inputs", []) + layer.get("Outputs", []):
            tensor["Name"] += " [profile 1]"
            tensor["Dimensions"] = [8] + tensor["Dimensions"][1:]
    doc["Layers"] = doc["Layers"] + second
    doc["Bindings"] = doc["Bindings"] + [f"{b} [profile 1]" for b in doc["Bindings"]]
    path.write_text(json.dumps(doc))
    return doc


def test_optimization_profiles_have_their_own_layers_and_memory(tmp_path, fixtures_dir):
    doc = _two_profile_layer_info(fixtures_dir, tmp_path / "two.graph.json")
    report = read_layer_info(tmp_path / "two.graph.json")
    one = read_layer_info(fixtures_dir / "a100_resnet_fp32.graph.json")
    assert [p.index for p in report.profiles] == [0, 1]
    assert [layer.name for layer in report.layers] == [layer.name for layer in one.layers]  # profile 0 shown
    assert report.memory.to_dict()["total_activation_bytes"] == one.memory.to_dict()["total_activation_bytes"]
    second = report.for_profile(1)
    assert [layer.name for layer in second.layers] == [layer["Name"] for layer in doc["Layers"][len(one.layers):]]
    assert [t.name for t in second.io_tensors] == [f"{b} [profile 1]" for b in _json(
        fixtures_dir / "a100_resnet_fp32.graph.json")["Bindings"]]
    # activations are shape x dtype: batch 8 of 32 is a quarter; weights are the same
    assert second.memory.activation_tensors_bytes * 4 == report.memory.activation_tensors_bytes
    assert second.memory.weights_bytes == report.memory.weights_bytes
    assert second.provenance["profile"].startswith("optimization profile 1 of 2")
    with pytest.raises(KeyError):
        report.for_profile(2)


def test_load_report_picks_a_profile_and_maps_its_layers(tmp_path, fixtures_dir, samples):
    _two_profile_layer_info(fixtures_dir, tmp_path / "two.graph.json")
    report = load_report(tmp_path / "two.graph.json", opt_profile=1)
    assert report.profile_index == 1 and all(layer.name.endswith(" [profile 1]") for layer in report.layers)
    # the layer names without their suffix map to the same ONNX node names as profile 0's
    zero = load_report(tmp_path / "two.graph.json")
    assert [layer.onnx_nodes for layer in report.layers] == [layer.onnx_nodes for layer in zero.layers]
    with pytest.raises(ArtifactError, match="two.graph.json.*no optimization profile 3: the engine has 0, 1"):
        load_report(tmp_path / "two.graph.json", opt_profile=3)


# -- the TensorRT-RTX execution provider's trace -----------------------------------------------------------------
def _rtx_trace(path, runs=5):
    """A trace in the layout ``TrtRtxProfiler::FlushToFile`` writes (NVIDIA/TensorRT-RTX-EP-ABI,
    src/tensorrt_rtx_profiler.h): a ``process_name`` event per EP context node, then one ``nv::trt::layer`` X
    event per layer per run (``tid`` = run, ``dur`` whole µs, ``args.onnx_nodes`` comma-separated). The layer
    names and ONNX nodes are the real ones of the TensorRT-RTX 1.7.1 build of sample_models/resnet18.onnx (its
    verbose log's layer list); the durations are illustrative (no RTX GPU here), stated in the trace itself."""
    layers = read_build_log(RTX_LOG).layers
    from explorer.engine import parse_metadata

    events = [{"name": "process_name", "ph": "M", "pid": 0,
               "args": {"name": "NvTensorRTRTXExecutionProvider_TRTKernel_graph_main_graph_0_0 (illustrative "
                                "durations, not measured)"}}]
    for run in range(runs):
        ts = 0
        for i, layer in enumerate(layers):
            dur = 10 * (i + 1) + run  # µs
            event = {"name": layer.name, "ph": "X", "cat": "nv::trt::layer", "ts": ts, "dur": dur, "pid": 0,
                     "tid": run}
            nodes = parse_metadata(layer.metadata)
            if nodes:
                event["args"] = {"onnx_nodes": ",".join(nodes)}
            events.append(event)
            ts += dur
    path.write_text("[\n" + ",\n".join("  " + json.dumps(e) for e in events) + "\n]\n")
    return layers, events


def test_rtx_trace_per_layer_latency_and_fusions(tmp_path, samples):
    layers, events = _rtx_trace(tmp_path / "trt_rtx_profile.json")
    report = read_rtx_trace(tmp_path / "trt_rtx_profile.json")
    assert [layer.name for layer in report.layers] == [layer.name for layer in layers]
    for layer in report.layers:
        durations = [e["dur"] / 1000 for e in events if e.get("name") == layer.name and e.get("cat")]
        assert layer.latency.median_ms == pytest.approx(statistics.median(durations))
        assert layer.latency.average_ms == pytest.approx(statistics.mean(durations))
        assert layer.latency.count == len(durations) == 5
        assert layer.latency.source == "TensorRT-RTX EP profile trt_rtx_profile.json"
    # fusions: each layer's ONNX nodes, resolved against the model they came from
    mapped = load_report(artifact=tmp_path / "trt_rtx_profile.json", model=samples / "resnet18.onnx")
    from explorer.model import load_model

    model = load_model(samples / "resnet18.onnx")
    by_id = {n.id: n.name for n in model.graph.nodes}
    for layer, event_layer in zip(mapped.layers, layers):
        event = next(e for e in events if e.get("name") == event_layer.name)
        listed = event.get("args", {}).get("onnx_nodes", "")
        # the same nodes (the mapping lists them in the model's topological order)
        assert sorted(by_id[i] for i in layer.onnx_nodes) == sorted(n for n in listed.split(",") if n in
                                                                   set(by_id.values()))
    assert any(len(g.onnx_nodes) > 1 for g in mapped.fused_layers())
    assert mapped.provenance["fusions"] == "args.onnx_nodes of TensorRT-RTX EP profile trt_rtx_profile.json"


def test_rtx_trace_dispatch_and_malformed(tmp_path):
    _rtx_trace(tmp_path / "trace.json", runs=2)
    assert artifact_kind(tmp_path / "trace.json") == "rtx-trace"
    assert load_report(tmp_path / "trace.json").latency_ms_total == read_rtx_trace(tmp_path / "trace.json").latency_ms_total
    events = _json(tmp_path / "trace.json")
    events[3]["dur"] = "fast"
    (tmp_path / "bad.json").write_text(json.dumps(events))
    with pytest.raises(ArtifactError, match=r"bad.json.*\[3\]\.dur"):
        load_report(artifact=tmp_path / "bad.json")
    (tmp_path / "cut.json").write_text((tmp_path / "trace.json").read_text()[:300])
    with pytest.raises(ArtifactError, match="cut.json.*truncated JSON"):
        load_report(artifact=tmp_path / "cut.json")


# -- command line ---------------------------------------------------------------------------------------------------
def _cli(*args):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "explorer", *map(str, args)], capture_output=True, text=True,
                          env=env, cwd=REPO, timeout=300)


def test_cli_inspect_reads_a_folder_and_a_log(fixtures_dir):
    done = _cli("inspect", fixtures_dir, "--engine", "a100_resnet_qat", "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    want = read_trex_folder(fixtures_dir, "a100_resnet_qat")
    assert data["latency_ms_total"] == pytest.approx(want.latency_ms_total)
    assert data["metadata"]["sources"]["build_options"] == "TREx build metadata a100_resnet_qat.build.metadata.json"
    text = _cli("inspect", DUMP_LOG)
    assert text.returncode == 0, text.stderr
    total = read_dump_profile(DUMP_LOG).latency_ms_total
    assert f"Total latency   {total:.4f} ms" in text.stdout
    assert "trtexec --dumpProfile log trtexec_dumpprofile_a100_fp32.log" in text.stdout
    listed = _cli("inspect", fixtures_dir)
    assert listed.returncode == 2 and "a100_resnet_fp16, a100_resnet_fp32, a100_resnet_qat" in listed.stderr


def test_cli_report_adds_every_engine_of_a_folder(tmp_path, fixtures_dir, samples):
    out = tmp_path / "r.html"
    done = _cli("report", samples / "resnet18.onnx", "--artifact", fixtures_dir, "--artifact", DUMP_LOG, "-o", out,
                "--cdn", "--no-fusions")
    assert done.returncode == 0, done.stderr
    assert "4 engine(s)" in done.stdout
    html = out.read_text()
    for name in list_engines(fixtures_dir) + ["trtexec_dumpprofile_a100_fp32"]:
        assert name in html


# -- the app's state (what the Build tab's "Folder / file" field calls) ---------------------------------------------
def test_state_imports_a_folder_a_log_and_profiles(tmp_path, fixtures_dir):
    from explorer.widgets.state import ExplorerState

    st = ExplorerState()
    first = st.import_artifacts(artifact=fixtures_dir)
    assert first is not None and [b for b in st.builds] == list_engines(fixtures_dir)
    for name, build in st.builds.items():
        assert build.report.latency_ms_total == read_trex_folder(fixtures_dir, name).latency_ms_total
    log = st.import_artifacts(artifact=DUMP_LOG)
    assert log.name == "trtexec_dumpprofile_a100_fp32"
    assert log.report.latency_ms_total == read_dump_profile(DUMP_LOG).latency_ms_total
    _two_profile_layer_info(fixtures_dir, tmp_path / "two.graph.json")
    zero = st.import_artifacts(graph=str(tmp_path / "two.graph.json"))
    assert zero.name == "two" and "two · profile 1" in st.builds
    assert st.current == "two"  # profile 0 is the one shown first
    one = st.builds["two · profile 1"].report
    assert one.profile_index == 1 and one.memory.activation_tensors_bytes * 4 == zero.report.memory.activation_tensors_bytes
    before = dict(st.builds)
    assert st.import_artifacts(artifact=tmp_path / "nothing-here") is None  # a missing path: a message, builds kept
    assert st.builds.keys() == before.keys()
    assert "nothing-here" in st.error("import")


def test_cli_inspect_picks_an_optimization_profile(tmp_path, fixtures_dir):
    _two_profile_layer_info(fixtures_dir, tmp_path / "two.graph.json")
    done = _cli("inspect", tmp_path / "two.graph.json", "--opt-profile", "1", "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    want = read_layer_info(tmp_path / "two.graph.json").for_profile(1)
    assert data["profile_index"] == 1 and [layer["name"] for layer in data["layers"]] == [l.name for l in want.layers]
    assert data["memory"]["activation_tensors_bytes"] == want.memory.activation_tensors_bytes
    text = _cli("inspect", tmp_path / "two.graph.json")
    assert "2 optimization profiles; shown: 0" in text.stdout
    bad = _cli("inspect", tmp_path / "two.graph.json", "--opt-profile", "4")
    assert bad.returncode == 2 and "no optimization profile 4" in bad.stderr
