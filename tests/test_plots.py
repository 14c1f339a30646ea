"""Figure builders: graph collapse and layout at scale, trace structure, source labels, escaping, report."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import explorer
from explorer.plots.graph_layout import GROUP, LEAF, MAX_CHILDREN, GraphView, ScopeTree, scope_of

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "sample_models"
sys.path.insert(0, str(REPO / "bench"))
from graphs import decoder_model  # noqa: E402


def _fixtures() -> Path:
    return Path(os.environ.get("EXPLORER_FIXTURES", REPO / "tests" / "fixtures" / "trt"))


def _load(name: str):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return explorer.load_model(SAMPLES / name)


@pytest.fixture(scope="module")
def decoder10k():
    return explorer.load_model(decoder_model(10_000))


@pytest.fixture(scope="module")
def engine_reports():
    fx = _fixtures()
    if not (fx / "a100_resnet_fp32.graph.json").is_file():
        pytest.skip(f"TensorRT fixtures not found at {fx}")
    from explorer.engine import load_report

    model = _load("resnet18.onnx")
    out = {}
    for v in ("fp32", "fp16"):
        out[v] = load_report(graph=fx / f"a100_resnet_{v}.graph.json", profile=fx / f"a100_resnet_{v}.profile.json",
                             times=fx / f"a100_resnet_{v}.timing.json", model=model)
    return model, out


# ---------------------------------------------------------------------------------------------- layout

def test_scope_of():
    assert scope_of("/model/layers.3/attn/MatMul") == ("model", "layers.3", "attn")
    assert scope_of("Conv_0") == ()
    assert scope_of("") == ()


def test_decoder_10k_collapses_by_scope(decoder10k):
    tree = ScopeTree(decoder10k)
    view = GraphView(tree).compute()  # how fast: bench/browser.py and bench/graphs.py, not asserted here
    assert tree.n > 10_000
    # a few hundred boxes stand for ten thousand nodes; every node is drawn by exactly one item
    assert 10 <= len(view.items) <= 400
    assert (view.rep >= 0).all() and view.rep.max() < len(view.items)
    sizes = sum(len(view.item_members(k)) for k in range(len(view.items)))
    assert sizes == tree.n
    labels = [tree.groups[it.ref].label for it in view.items if it.kind == GROUP]
    assert "layers.0" in labels and "layers.1" in labels
    # the layered layout: forward edges go strictly down
    a, b = view.edges[:, 0], view.edges[:, 1]
    forward = a < b
    assert (view.depth[b[forward]] > view.depth[a[forward]]).all()


def test_expand_and_collapse_a_scope(decoder10k):
    tree = ScopeTree(decoder10k)
    view = GraphView(tree).compute()
    before = len(view.items)
    key = next(view.key(k) for k, it in enumerate(view.items) if it.kind == GROUP and tree.groups[it.ref].label == "layers.3")
    gid = int(key[2:])
    view.toggle(gid)
    view.compute()
    assert len(view.items) > before
    names = {tree.names[it.ref] for it in view.items if it.kind == LEAF}
    assert "/model/layers.3/residual_attn/Add" in names
    view.toggle(gid)
    view.compute()
    assert len(view.items) == before
    # revealing a deep node opens exactly its ancestors
    node = tree.index_of["/model/layers.7/self_attn/q_proj/MatMul"]
    view.reveal(node)
    view.compute()
    assert view.items[view.rep[node]].kind == LEAF


def test_flat_graphs_are_chunked():
    from conftest import chain

    model = explorer.load_model(chain(["Relu"] * 3000))
    tree = ScopeTree(model)
    assert all(len(g.entries) <= MAX_CHILDREN for g in tree.groups)
    view = GraphView(tree).compute()
    assert len(view.items) <= 400
    view.expand_all()
    view.compute()
    assert len(view.items) == 3000
    assert view.num_layers == 3000  # a chain: one node per layer


def test_small_models_are_fully_expanded():
    model = _load("resnet18.onnx")
    view = GraphView(ScopeTree(model)).compute()
    assert len(view.items) == len(model.nodes)
    assert all(it.kind == LEAF for it in view.items)


# ---------------------------------------------------------------------------------------------- graph figures

def test_partitions_figure_traces_and_source():
    from explorer.plots import partitions_figure

    model = _load("unsupported_ops.onnx")
    report = explorer.analyze(model, trt_version="10.15")
    fig = partitions_figure(model, report)
    kinds = [t.type for t in fig.data]
    assert kinds[:4] == ["scattergl", "scattergl", "scatter", "scattergl"]
    assert len(fig.data) == 4 + 3 + 2  # + one legend entry per category, mixed scopes, collapsed scopes
    nodes = fig.data[1]
    assert len(nodes.x) == len(model.nodes)
    assert "support-matrix 10.15 (prediction)" in fig.layout.title.text
    hover = " ".join(nodes.hovertext)
    assert "UNSUPPORTED" in hover and "TopK" in hover
    colors = set(nodes.marker.color)
    assert "#d62728" in colors  # unsupported nodes are red


def test_hover_text_is_escaped():
    from explorer.plots import partitions_figure

    model = _load("hostile_names.onnx")
    assert any("<script>" in n.name for n in model.nodes)
    fig = partitions_figure(model, explorer.analyze(model))
    texts = list(fig.data[1].hovertext) + list(fig.data[2].text or []) + [fig.layout.title.text]
    joined = " ".join(texts)
    assert "&lt;script&gt;" in joined
    for text in texts:
        stripped = text.replace("<br>", "").replace("<b>", "").replace("</b>", "").replace("<sup>", "") \
            .replace("</sup>", "").replace("<i>", "").replace("</i>", "")
        stripped = stripped.replace("<span style='font-size:12px;color:#666'>", "").replace("</span>", "")
        assert "<" not in stripped, text


def test_fusion_and_engine_overlays(engine_reports):
    from explorer.fusions import predict_fusions
    from explorer.plots import engine_fusions_figure, fusions_figure

    model, reports = engine_reports
    fig = fusions_figure(model, predict_fusions(model))
    assert "predicted" in fig.layout.title.text
    assert len(set(fig.data[1].marker.color)) > 5  # one colour per fused group
    fig = engine_fusions_figure(model, reports["fp16"])
    hover = " ".join(fig.data[1].hovertext)
    assert "engine layer: Conv_0 + Relu_1" in hover
    assert "exportLayerInfo" in fig.layout.title.text


# ---------------------------------------------------------------------------------------------- engine figures

def test_layer_figures(engine_reports):
    from explorer.plots import latency_bar, latency_treemap, precision_pie

    _, reports = engine_reports
    r = reports["fp16"]
    bar = latency_bar(r)
    assert bar.layout.meta["kind"] == "latency_bar"
    assert sum(len(t.x) for t in bar.data) == len(r.layers)
    assert "exportProfile" in bar.layout.title.text
    assert {t.name for t in bar.data} >= {"FP16"}
    tree = latency_treemap(r)
    assert tree.data[0].type == "treemap" and "CaskConvolution" in tree.data[0].labels
    pie = precision_pie(reports["fp32"])
    assert "FP32" in pie.data[0].labels


def test_tactics_say_plainly_when_there_are_none(engine_reports):
    from explorer.plots import tactics_figure

    _, reports = engine_reports
    fig = tactics_figure(reports["fp32"])
    assert fig.layout.meta["kind"] == "empty"
    assert "No tactic timings exist for this source" in fig.layout.meta["message"]


def test_tactics_strip_and_box_from_a_log():
    from explorer.engine.report import EngineReport, Layer, LatencyStats, TacticRecord
    from explorer.plots import tactics_figure, tactics_table

    tactics = [TacticRecord(layer="conv <1>", tactic=f"0x{i:04x}", time_ms=0.1 + i / 100, chosen=(i == 2),
                            runner="CaskConvolution", source="TensorRT build log test.log",
                            tactic_name=f"kernel_<{i}>") for i in range(5)]
    tactics += [TacticRecord(layer="gemm", tactic="0x1", time_ms=0.5, chosen=True, runner="CaskGemm",
                             source="TensorRT build log test.log")]
    report = EngineReport(layers=[Layer(name="conv <1>", latency=LatencyStats(1.0, 1.0)),
                                  Layer(name="gemm", latency=LatencyStats(2.0, 2.0))],
                          tactics=tactics, sources=["TensorRT build log test.log"],
                          provenance={"tactics": "TensorRT build log test.log"})
    strip = tactics_figure(report)
    assert strip.data[1].name == "chosen" and len(strip.data[1].y) == 2
    assert len(strip.data[0].y) == 4
    assert "&lt;1&gt;" in strip.data[0].hovertext[0] and "kernel_&lt;0&gt;" in strip.data[0].hovertext[0]
    # sorted by layer latency: gemm (2 ms) first
    assert list(strip.layout.xaxis.ticktext)[0] == "gemm"
    box = tactics_figure(report, kind="box")
    assert box.data[0].type == "box"
    table = tactics_table(report)
    assert list(table["layer"])[0] == "gemm"


def test_memory_figures(engine_reports):
    from explorer.plots import activation_footprint_figure, memory_layers_figure, memory_totals_figure
    from explorer.plots.data import activation_footprint

    _, reports = engine_reports
    r = reports["fp32"]
    totals = memory_totals_figure(r)
    assert "weights" in totals.data[0].x and "scratch" in totals.data[0].x
    assert any("n/a" in t for t in totals.data[0].text)  # scratch is not in these files and says so
    foot = activation_footprint(r)
    assert foot["known"] and 0 < foot["peak_bytes"] <= r.memory.activation_tensors_bytes
    fig = activation_footprint_figure(r)
    assert len(fig.data) == 2 and "peak" in fig.layout.title.text
    layers = memory_layers_figure(r)
    assert layers.layout.barmode == "stack"


def test_compare(engine_reports):
    from explorer.plots import compare_frame, compare_latency_figure, compare_totals_figure

    _, reports = engine_reports
    a, b = reports["fp32"], reports["fp16"]
    frame = compare_frame(a, b, "fp32", "fp16")
    assert {"latency_ms [fp32]", "latency_ms [fp16]", "precision_changed", "tactic_changed"} <= set(frame.columns)
    both = frame[frame["in"] == "both"]
    assert both["precision_changed"].any()
    fig = compare_latency_figure(a, b, label_a="fp32", label_b="fp16")
    assert len(fig.data) == 3 and "Per-layer latency (median)" in fig.layout.title.text
    assert {t.name for t in fig.data} >= {"fp32", "fp16"}  # the build names are in the legend
    totals = compare_totals_figure(a, b, label_a="fp32", label_b="fp16")
    assert len(totals.data) == 4


# ---------------------------------------------------------------------------------------------- report, imports

def test_write_report_offline_and_escaped(tmp_path, engine_reports):
    from explorer.html import write_report
    from explorer.fusions import predict_fusions

    model, reports = engine_reports
    path = write_report(tmp_path / "r.html", model, explorer.analyze(model),
                        engine_reports=[("fp32", reports["fp32"]), ("fp16", reports["fp16"])],
                        fusions=predict_fusions(model))
    text = Path(path).read_text()
    assert "<script src=" not in text and "id='trex-plotlyjs'" in text  # plotly.js inline, nothing fetched
    for heading in ("Partitions", "Fusions", "Build: fp32", "Build: fp16", "Compare"):
        assert f">{heading}</h2>" in text

    hostile = _load("hostile_names.onnx")
    path = write_report(tmp_path / "h.html", hostile, explorer.analyze(hostile))
    text = Path(path).read_text()
    assert "&lt;script&gt;" in text
    assert "<script>alert" not in text and "<img" not in text


def test_cli_report(tmp_path):
    fx = _fixtures()
    out = tmp_path / "report.html"
    cmd = [sys.executable, "-m", "explorer", "report", str(SAMPLES / "resnet18.onnx"), "-o", str(out)]
    if (fx / "a100_resnet_fp32.graph.json").is_file():
        cmd += ["--graph", str(fx / "a100_resnet_fp32.graph.json"), "--profile", str(fx / "a100_resnet_fp32.profile.json"),
                "--label", "fp32"]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=300)
    assert r.returncode == 0, r.stderr
    assert out.is_file() and "wrote" in r.stdout
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(os.urandom(256))
    r = subprocess.run([sys.executable, "-m", "explorer", "report", str(bad), "-o", str(tmp_path / "x.html")],
                       capture_output=True, text=True, cwd=REPO, timeout=120)
    assert r.returncode == 2 and r.stderr.startswith("error:") and "Traceback" not in r.stderr


def test_plots_and_widgets_are_imported_lazily():
    code = ("import sys, explorer, explorer.plots, explorer.widgets; "
            "print(json.dumps(sorted(m for m in ('plotly', 'ipywidgets', 'anywidget') if m in sys.modules)))")
    r = subprocess.run([sys.executable, "-c", "import json; " + code], capture_output=True, text=True, cwd=REPO,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == []


def test_partition_overlay_marks_where_prediction_and_real_parser_disagree(tmp_path):
    """The real TensorRT-RTX parser rejects the NonZero node (TensorRT-RTX has no NonZero plugin) where the
    prediction (TensorRT's) says supported: the graph draws that node (and only it) with the outlined marker,
    its hover gives both verdicts with both reasons and sources, and the legend says what the marker means."""
    from explorer.plots import graph_figure, partition_overlay
    from explorer.support import disagreements
    from known_models import RTX_DIFFERENCE_NODE, write_rtx_difference_model

    model = explorer.load_model(write_rtx_difference_model(tmp_path / "rtx_difference.onnx"))
    predicted = explorer.analyze(model, source="matrix")
    real = explorer.analyze(model, source="tensorrt-rtx")
    differ = disagreements(real, predicted)
    assert [d.node for d in differ] == [RTX_DIFFERENCE_NODE]
    view = GraphView(ScopeTree(model), budget=10_000)
    fig = graph_figure(view, partition_overlay(view.tree, real, predicted))
    nodes = fig.data[1]
    marked = [view.items[k] for k, symbol in enumerate(nodes.marker.symbol) if symbol == "diamond-open"]
    assert [view.tree.node_ids[it.ref] for it in marked] == [RTX_DIFFERENCE_NODE]
    # hover lines wrap at 72 characters (<br>): compare the text with the wraps taken out
    import html

    # (the hover is HTML: the parser's "&&" arrives escaped)
    hover = html.unescape(nodes.hovertext[view.item_for_node(RTX_DIFFERENCE_NODE)].replace("<br>", " "))
    assert "disagree" in hover
    assert f"{real.source}: unsupported: {differ[0].first_reason}" in hover
    assert f"{predicted.source}: {differ[0].second_reason}" in hover
    assert "NonZero plugin" in hover
    legend = [t.name for t in fig.data if t.showlegend]
    assert f"outlined: {real.source} and {predicted.source} disagree (1 node)" in legend
    # one report alone: no marker, no legend entry for it
    plain = graph_figure(GraphView(ScopeTree(model), budget=10_000), partition_overlay(view.tree, real))
    assert "diamond-open" not in list(plain.data[1].marker.symbol)
    assert not any("disagree" in (t.name or "") for t in plain.data)


# -- the graph view's first look (issue 11): whole graph, labels where they fit, wheel left to the page -------------
def _chain_model(count: int):
    from conftest import TensorProto, helper, tiny_model

    nodes = [helper.make_node("Relu", [f"t{i}"], [f"t{i + 1}"], name=f"relu_{i}") for i in range(count)]
    return explorer.load_model(tiny_model(nodes, [("t0", TensorProto.FLOAT, [4])],
                                          [(f"t{count}", TensorProto.FLOAT, [4])]))


def test_first_view_of_resnet18_shows_every_layer_with_labels():
    from explorer.plots.graph import GRAPH_CONFIG, graph_layout_dict, graph_traces, partition_overlay

    model = _load("resnet18.onnx")
    assert len(model.graph.nodes) == 49
    report = explorer.analyze(model)
    view = GraphView(ScopeTree(model))
    overlay = partition_overlay(view.tree, report)
    layout = graph_layout_dict(view, overlay)
    data = graph_traces(view, overlay)
    low, high = layout["yaxis"]["range"]
    assert low <= min(view.y) and high >= max(view.y) and layout["yaxis"]["autorange"] is False
    assert view.num_layers > 32  # more layers than the old first view showed
    xs = layout["xaxis"]["range"]
    assert xs[0] <= min(view.x) and xs[1] >= max(view.x)
    assert len(data["labels"]["text"]) == len(view.items) == 49  # room for every label
    assert "Conv" in data["labels"]["text"][0]
    assert GRAPH_CONFIG["scrollZoom"] is False and GRAPH_CONFIG["doubleClick"] == "reset"
    assert layout["hoverlabel"]["align"] == "left"
    # nothing is sent back at min_block_size=1: no legend entry for it
    legend = {leg["name"]: leg["showlegend"] for leg in data["legend"]}
    assert not any(shown for name, shown in legend.items() if "sent back" in name)
    assert legend["TensorRT engine (shades alternate per engine)"] is True


def test_a_long_chain_keeps_labels_on_the_items_they_fit_beside():
    from explorer.plots.graph import graph_layout_dict, graph_traces, plain_overlay
    from explorer.plots.graph_layout import FRAME_PX, LABEL_HEIGHT_PX, MAX_HEIGHT

    view = GraphView(ScopeTree(_chain_model(300)))
    view.compute()
    assert len(view.items) == 300 and view.num_layers == 300  # far above the old 160-item cut (no labels at all)
    overlay = plain_overlay(view.tree)
    data = graph_traces(view, overlay)
    layout = graph_layout_dict(view, overlay)
    assert layout["height"] == MAX_HEIGHT
    labelled = len(data["labels"]["text"])
    px = (MAX_HEIGHT - FRAME_PX) / 300
    assert labelled == int(view.label_mask().sum()) == len(range(0, 300, math.ceil(LABEL_HEIGHT_PX / px)))
    assert 50 < labelled < 300
    depths = sorted(view.depth[view.label_mask()].tolist())
    assert min(b - a for a, b in zip(depths, depths[1:])) * px >= LABEL_HEIGHT_PX  # labels do not overlap
    assert f"labels on {labelled} items where they fit" in layout["title"]["text"]


def test_hover_text_is_wrapped_so_the_box_fits_the_figure():
    import numpy as np

    from explorer.plots.graph import HOVER_CHARS, Overlay, graph_traces

    view = GraphView(ScopeTree(_chain_model(3)))
    long_reason = "UNSUPPORTED: " + " ".join(["a reason in many words"] * 20)
    overlay = Overlay(title="t", source="test", categories=[("node", "#000")],
                      node_category=np.zeros(3, dtype=np.int64), describe=lambda nid: [long_reason])
    hover = graph_traces(view, overlay)["nodes"]["hovertext"][0]
    lines = hover.split("<br>")
    assert all(len(line) <= HOVER_CHARS for line in lines if "<b>" not in line)
    assert "".join(lines).count("reason") >= 10 and len(lines) >= 5  # wrapped over lines, not one wide box
