"""Reformat/copy layers and Myelin regions (issue 14 items 5 and 6), on real artifacts.

* the real A100 trtexec exports (tests/fixtures/trt): every expected figure is recomputed here from the JSON files
  (layer types, tensor names and formats from ``*.graph.json``, ``medianMs`` from ``*.profile.json``);
* real TensorRT-RTX 1.7 ahead-of-time builds of the sample models on this CPU (one build per model, shared by the
  module): the Myelin region, its ONNX nodes and sub-layers checked against the builder's own verbose log, read
  here with plain regular expressions;
* layer information with a ``{ForeignNode[...]}`` layer, which no engine built here has (TensorRT-RTX lists a
  region's sub-layers instead): written in trtexec's ``--exportLayerInfo`` schema (the fields of the A100 files)
  with TensorRT's naming, as public sources show it: a Myelin region as one layer ``"LayerType": "Myelin"``,
  ``TacticValue`` 0 (TensorRT 8.x-10.x; ``tests/data/logs/trt10.log`` has such a region,
  ``{ForeignNode[/classifier/classifier.0/Flatten.../classifier/classifier.6/Gemm]}``), or, in TensorRT 10 engines,
  the region's ``<name>_myl<N>_<k>`` kernels with ``Reformatting CopyNode for Output Tensor 0 to
  {ForeignNode[...]}`` after them (a public TensorRT 10 engine layer list of YOLO11's C2PSA block has
  ``__myl_MovSliSliTra_myl109_1`` ... ``__myl_Add_myl109_6`` then such a reformat). The region name used is the
  real one TensorRT-RTX gives the sample transformer.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, SAMPLES

import explorer
from explorer.engine import load_report

LOGS = Path(__file__).parent / "data" / "logs"


def _json(path: Path):
    return json.loads(path.read_text())


def _expected_reformats(graph: dict) -> list[dict]:
    """Reformat/copy layers as the module doc defines them, straight from the layer-info JSON."""
    return [l for l in graph["Layers"]
            if l["Name"].startswith("Reformatting CopyNode for ") or "Reformat" in (l.get("LayerType"), l.get("ParameterType"))]


def _load(fixtures_dir, variant: str, model: str = "resnet18.onnx"):
    return load_report(graph=fixtures_dir / f"a100_resnet_{variant}.graph.json",
                       profile=fixtures_dir / f"a100_resnet_{variant}.profile.json", model=SAMPLES / model)


# -- the A100 exports ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("variant", ["fp32", "fp16", "qat"])
def test_reformats_and_their_totals_equal_the_exports(fixtures_dir, variant):
    graph = _json(fixtures_dir / f"a100_resnet_{variant}.graph.json")
    profile = [r for r in _json(fixtures_dir / f"a100_resnet_{variant}.profile.json") if "name" in r]
    report = _load(fixtures_dir, variant, "resnet18_qat.onnx" if variant == "qat" else "resnet18.onnx")
    expected = _expected_reformats(graph)
    found = report.reformats()
    assert [r.layer for r in found] == [l["Name"] for l in expected] and found

    median = {r["name"]: r["medianMs"] for r in profile}
    total_ms = sum(median[l["Name"]] for l in expected)
    all_ms = sum(r["medianMs"] for r in profile)
    summary = report.reformat_summary()
    assert summary.count == len(expected) and summary.timed == len(expected)
    assert summary.total_ms == pytest.approx(total_ms) and summary.latency_ms_total == pytest.approx(all_ms)
    assert summary.share == pytest.approx(100 * total_ms / all_ms)
    assert summary.statistic == "median" and summary.source == f"trtexec --exportProfile a100_resnet_{variant}.profile.json"
    assert sum(n for _, n, _ in summary.by_cause) == len(expected)
    assert sum(ms for _, _, ms in summary.by_cause) == pytest.approx(total_ms)

    writes = {t["Name"]: l["Name"] for l in graph["Layers"] for t in l["Outputs"]}
    reads: dict[str, list[str]] = {}
    for l in graph["Layers"]:
        for t in l["Inputs"]:
            reads.setdefault(t["Name"], []).append(l["Name"])
    for r, raw in zip(found, expected):
        src, dst = raw["Inputs"][0], raw["Outputs"][0]
        assert (r.from_format, r.to_format) == (src["Format/Datatype"], dst["Format/Datatype"])
        assert r.latency_ms == median[raw["Name"]]
        if src["Name"] in graph["Bindings"]:
            assert r.producer == f"network input {src['Name']}"
        else:
            assert r.producer == writes[src["Name"]]
        consumers = list(reads.get(dst["Name"], []))
        if dst["Name"] in graph["Bindings"]:
            consumers.append(f"network output {dst['Name']}")
        assert list(r.consumers) == consumers
        if raw.get("LayerType") == "NoOp":
            assert (r.kind, r.cause) == ("reformat (NoOp)", "NoOp")
        if raw.get("Origin") == "QDQ":
            assert (r.kind, r.cause) == ("quantize (Q/DQ)", "Q/DQ") and raw["Name"] in r.reason


def test_fp16_reformats_are_the_bindings_and_noops(fixtures_dir):
    """fp16 ResNet-18: the only reformats that run a kernel convert the FP32 network input and output."""
    report = _load(fixtures_dir, "fp16")
    timed = [r for r in report.reformats() if r.latency_ms]
    assert [(r.cause, r.producer, r.consumer, r.from_dtype, r.to_dtype) for r in timed] == [
        ("network input", "network input input.1", "Conv_0 + Relu_1", "FP32", "FP16"),
        ("network output", "reshape_after_Gemm_48", "network output 191", "FP16", "FP32")]
    assert timed[0].change == "FP32 -> FP16: Row major linear -> Channel major where channel % 4 == 0"
    assert {r.cause for r in report.reformats() if not r.latency_ms} == {"NoOp"}


def test_layout_and_precision_causes(fixtures_dir):
    graph = _json(fixtures_dir / "a100_resnet_fp32.graph.json")
    fp32 = _load(fixtures_dir, "fp32")
    maxpool = next(r for r in fp32.reformats() if r.cause == "layout")
    consumer = next(l for l in graph["Layers"] if l["Name"] == maxpool.consumers[0])
    assert maxpool.producer == "MaxPool_2" and consumer["TacticName"] in maxpool.reason
    assert maxpool.change == "Row major linear -> Channel major"
    qat = _load(fixtures_dir, "qat", "resnet18_qat.onnx")
    precision = [r for r in qat.reformats() if r.cause == "precision"]
    assert [(r.producer, r.from_dtype, r.to_dtype) for r in precision] == [("MaxPool_12", "FP32", "FP16")]


def test_inspect_prints_the_reformats_and_their_total(fixtures_dir):
    f = fixtures_dir
    args = ["--graph", f / "a100_resnet_fp16.graph.json", "--profile", f / "a100_resnet_fp16.profile.json",
            "--model", SAMPLES / "resnet18.onnx"]
    run = lambda *extra: subprocess.run([sys.executable, "-m", "explorer", "inspect", *map(str, args), *extra],  # noqa: E731
                                        cwd=REPO, capture_output=True, text=True, timeout=120)
    text = run()
    assert text.returncode == 0, text.stderr
    report = _load(f, "fp16")
    assert report.reformat_summary().line() in text.stdout
    assert "by cause: network input 1 (0.0809 ms), network output 1 (0.0072 ms), NoOp 10" in text.stdout
    data = json.loads(run("--json").stdout)
    assert [r["layer"] for r in data["reformats"]] == [r.layer for r in report.reformats()]
    assert data["reformat_summary"]["total_ms"] == pytest.approx(report.reformat_summary().total_ms)


# -- Myelin regions in TensorRT's layer-information naming -----------------------------------------------------
REGION = "{ForeignNode[encoder.layers.1.norm2.bias.../encoder/Identity]}"  # TensorRT-RTX 1.7's name for it
PART = "{ForeignNode[/encoder/layers.0/self_attn/q_proj/MatMul.../encoder/layers.0/norm1/Add_1]}"


def _tensor(name, dims=(1, 16, 64)):
    return {"Name": name, "Location": "Device", "Dimensions": list(dims), "Format/Datatype": "Row major linear FP32"}


def _graph(layers, bindings=("src", "out")):
    return {"Layers": layers, "Bindings": list(bindings)}


def test_a_myelin_layer_maps_to_the_nodes_on_paths_between_its_ends(tmp_path):
    """A TensorRT 8.x-10.x Myelin layer (one layer named ``{ForeignNode[A...B]}``) without metadata: its ONNX
    nodes by topological range; with a profile, its latency and share."""
    from test_engine_mapping import _on_paths

    graph = _graph([
        {"Name": PART, "LayerType": "Myelin", "Inputs": [_tensor("src")], "Outputs": [_tensor("mid")],
         "TacticValue": "0x0000000000000000"},
        {"Name": "/encoder/layers.0/linear1/MatMul", "LayerType": "CaskGemmConvolution",
         "Inputs": [_tensor("mid")], "Outputs": [_tensor("out")], "TacticValue": "0x0000000000000001"}])
    profile = [{"count": 10}, {"name": PART, "timeMs": 1.5, "averageMs": 0.15, "medianMs": 0.14, "percentage": 75.0},
               {"name": "/encoder/layers.0/linear1/MatMul", "timeMs": 0.5, "averageMs": 0.05, "medianMs": 0.05,
                "percentage": 25.0}]
    (tmp_path / "g.json").write_text(json.dumps(graph))
    (tmp_path / "p.json").write_text(json.dumps(profile))
    report = load_report(graph=tmp_path / "g.json", profile=tmp_path / "p.json", model=SAMPLES / "transformer_encoder.onnx")
    (region,) = report.myelin_regions()
    expected = _on_paths(SAMPLES / "transformer_encoder.onnx", "/encoder/layers.0/self_attn/q_proj/MatMul",
                         "/encoder/layers.0/norm1/Add_1")
    assert list(region.onnx_nodes) == expected == report.layer(PART).onnx_nodes
    assert region.via == "topological range" and region.layers == (PART,)
    assert region.latency_ms == 0.14 and region.share == pytest.approx(100 * 0.14 / (0.14 + 0.05))
    assert region.source == "trtexec --exportLayerInfo g.json"

    meta = "\x1f".join(f"[ONNX Layer: {n}]" for n in expected[:3])
    graph["Layers"][0]["Metadata"] = meta
    (tmp_path / "g.json").write_text(json.dumps(graph))
    with_meta = load_report(graph=tmp_path / "g.json", model=SAMPLES / "transformer_encoder.onnx").myelin_regions()[0]
    assert with_meta.via == "metadata" and list(with_meta.onnx_nodes) == expected[:3]
    assert list(with_meta.range_nodes) == expected  # the range beside it, to compare


def test_myelin_sublayers_named_after_a_region_sum_to_its_latency(tmp_path):
    """TensorRT 10 naming: the region's ``_myl<N>_<k>`` kernels, then ``Reformatting CopyNode for Output Tensor 0
    to {ForeignNode[...]}``: the region is found from the reformat's name, its sub-layers by their Myelin graph."""
    sub = [("__myl_MatMulAdd_myl7_0", "[ONNX Layer: /encoder/layers.0/self_attn/q_proj/MatMul]\x1f"
                                      "[ONNX Layer: /encoder/layers.0/self_attn/q_proj/Add]", 0.02),
           ("__myl_Softmax_myl7_1", "[ONNX Layer: /encoder/layers.0/self_attn/Softmax]", 0.03)]
    layers = [{"Name": n, "LayerType": "kgen", "Inputs": [_tensor("src")], "Outputs": [_tensor(f"t{i}")],
               "Metadata": m} for i, (n, m, _) in enumerate(sub)]
    layers.append({"Name": f"Reformatting CopyNode for Output Tensor 0 to {PART}", "LayerType": "Reformat",
                   "Inputs": [_tensor("t1")], "Outputs": [dict(_tensor("out"), **{"Format/Datatype": "Row major linear FP16 format"})],
                   "ParameterType": "Reformat", "Origin": "REFORMAT", "TacticValue": "0x00000000000003e8"})
    profile = [{"count": 1}] + [{"name": n, "timeMs": t, "averageMs": t, "medianMs": t, "percentage": 0} for n, _, t in sub]
    profile.append({"name": layers[-1]["Name"], "timeMs": 0.01, "averageMs": 0.01, "medianMs": 0.01, "percentage": 0})
    (tmp_path / "g.json").write_text(json.dumps(_graph(layers)))
    (tmp_path / "p.json").write_text(json.dumps(profile))
    report = load_report(graph=tmp_path / "g.json", profile=tmp_path / "p.json", model=SAMPLES / "transformer_encoder.onnx")
    (region,) = report.myelin_regions()
    assert region.name == PART and region.layers == tuple(n for n, _, _ in sub)
    assert region.latency_ms == pytest.approx(0.05) and region.share == pytest.approx(100 * 0.05 / 0.06)
    (reformat,) = report.reformats()
    assert reformat.producer == "__myl_Softmax_myl7_1" and reformat.cause == "network output"


# -- real TensorRT-RTX builds --------------------------------------------------------------------------------------
_METADATA = re.compile(r"\[ONNX Layer: ([^\]]*)\]")
_REGION_LINE = re.compile(r"ForeignNode (\{ForeignNode\[.*\]\}) metadata: (.*)$")


def _rtx_available() -> bool:
    from explorer.trt import TENSORRT_RTX, available

    return available(require_gpu=False, library=TENSORRT_RTX)[0]


@pytest.fixture(scope="module")
def rtx_builds():
    if not _rtx_available():
        pytest.skip("TensorRT-RTX is not installed")
    return {name: explorer.build(str(SAMPLES / name), backend="tensorrt-rtx", runs=1, warmup=0)
            for name in ("resnet18.onnx", "transformer_encoder.onnx")}


def _log_regions(log_path: str) -> dict[str, list[str]]:
    out = {}
    for line in Path(log_path).read_text().split("\n"):  # not splitlines(): the metadata holds \x1e separators
        m = _REGION_LINE.search(line)
        if m:
            out[m[1]] = _METADATA.findall(m[2])
    return out


@pytest.mark.parametrize("model", ["resnet18.onnx", "transformer_encoder.onnx"])
def test_rtx_build_myelin_region_nodes_come_from_the_builders_log(rtx_builds, model):
    report = rtx_builds[model]
    logged = _log_regions(report.artifacts["log_path"])
    assert len(logged) == 1, logged  # both samples become one Myelin region on TensorRT-RTX 1.7
    (name, names), = logged.items()
    (region,) = report.myelin_regions()
    graph = explorer.load_model(SAMPLES / model).graph
    ids = {n.name: n.id for n in graph.nodes}
    assert region.name == name and region.via == "metadata"
    assert set(region.onnx_nodes) == {ids[n] for n in names if n in ids}
    assert set(region.range_nodes) >= set(region.onnx_nodes)  # the range from its two ends holds them all
    assert region.layers == tuple(l.name for l in report.layers if "_myl" in l.name) and region.layers
    assert region.latency_ms is None  # no GPU here: the engine was built, not run
    assert name in report.to_dict()["myelin_regions"][0]["name"]


def test_rtx_build_moves_the_network_input_to_nhwc(rtx_builds):
    """ResNet-18 on TensorRT-RTX: Myelin's Move kernel changes the input's layout (the log's own formats)."""
    report = rtx_builds["resnet18.onnx"]
    (move,) = report.reformats()
    line = next(l for l in Path(report.artifacts["log_path"]).read_text().splitlines()
                if l.startswith(f"Name: {move.layer}, "))
    formats = re.findall(r"Datatype: (\w+), Format: ([^}]*?) \}", line)
    assert move.kind == "Myelin move" and move.producer == "network input input.1"
    assert (move.from_format, move.to_format) == tuple(f"{d} {f}" for d, f in formats)
    assert move.cause == "network input" and move.consumers == ("Conv_0_myl0_1",)


def test_the_layers_tab_html_escapes_region_and_node_names():
    """Names are model data: a region named with markup is shown as text in the Layers tab's sections."""
    from explorer.engine import EngineReport, Layer, attach_mapping
    from explorer.widgets.tabs.layers import myelin_html, reformats_html

    name = "{ForeignNode[<img src=x onerror=alert(1)>...<b>y</b>]}"
    report = EngineReport(layers=[Layer(name=name, type="Myelin"),
                                  Layer(name=f"Reformatting CopyNode for Input Tensor 0 to {name}", type="Reformat")])
    attach_mapping(report)  # no model: the ends as written
    html_text = myelin_html(report) + reformats_html(report)
    assert "<img" not in html_text and "<b>y" not in html_text
    assert "&lt;img src=x onerror=alert(1)&gt;" in html_text and "&lt;b&gt;y&lt;/b&gt;" in html_text
    (region,) = report.myelin_regions()
    assert region.onnx_nodes == ("<img src=x onerror=alert(1)>", "<b>y</b>")
    assert region.via == "layer names only (no ONNX model)"


def test_inspect_prints_the_myelin_region_of_the_real_rtx_log():
    """The shipped TensorRT-RTX 1.7 build log of resnet18 (real): the region, its node count from the log's own
    ``ForeignNode ... metadata:`` line, its 25 sub-layers and the Move kernel as a reformat."""
    log = LOGS / "rtx_resnet18_aot_sm86.log"
    (name, names), = _log_regions(str(log)).items()
    proc = subprocess.run([sys.executable, "-m", "explorer", "inspect", "--log", str(log), "--model",
                           str(SAMPLES / "resnet18.onnx")], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    layers = sum(1 for line in log.read_text().split("\n") if line.startswith("Name: "))
    assert f"{name}: {len(names)} ONNX nodes (metadata), {layers} engine layer(s), no per-layer times" in proc.stdout
    assert "Reformats       1 reformat/copy layer(s): no per-layer times" in proc.stdout
    assert "__myl_Move_myl0_0  network input input.1  Conv_0_myl0_1" in proc.stdout


def test_onnx_runtime_nchwc_reorders_are_its_reformats():
    """A real ONNX Runtime build (level 3: the NCHWc transformer): its ReorderInput/ReorderOutput nodes are the
    layout changes, timed by ONNX Runtime's profiler."""
    report = explorer.build(SAMPLES / "resnet18.onnx", backend="onnxruntime", opt_level=3, runs=3, warmup=1)
    reorders = [l for l in report.layers if (l.type or "").rpartition("::")[2] in ("ReorderInput", "ReorderOutput")]
    assert reorders, [l.type for l in report.layers]
    found = report.reformats()
    assert [r.layer for r in found] == [l.name for l in reorders]
    assert all(r.kind == "ONNX Runtime reorder" and r.cause == "layout" and "NCHWc" in r.change for r in found)
    summary = report.reformat_summary()
    assert summary.total_ms == pytest.approx(sum(l.latency_ms for l in reorders))
    assert summary.source == reorders[0].latency.source and "ONNX Runtime" in summary.source
