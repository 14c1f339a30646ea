"""The app without a browser: drive controls (values, ``button.click()``), check the state and widget contents."""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "sample_models"
FIXTURES = Path(os.environ.get("EXPLORER_FIXTURES", REPO / "tests" / "fixtures" / "trt"))
HAVE_FIXTURES = (FIXTURES / "a100_resnet_fp32.graph.json").is_file()
needs_fixtures = pytest.mark.skipif(not HAVE_FIXTURES, reason=f"TensorRT fixtures not found at {FIXTURES}")

pytestmark = pytest.mark.filterwarnings("ignore::explorer.ExplorerWarning")


@pytest.fixture
def app():
    from explorer.widgets import Explorer

    a = Explorer(str(SAMPLES / "resnet18.onnx"))
    yield a
    a.close()


def _plots(widget):
    """Every PlotWidget below an ipywidgets container."""
    from explorer.widgets.plot_widget import PlotWidget

    out = []

    def walk(w):
        if isinstance(w, PlotWidget):
            out.append(w)
        for child in getattr(w, "children", ()) or ():
            walk(child)

    walk(widget)
    return out


def _kinds(tab) -> list[str]:
    return [p.figure_dict()["layout"].get("meta", {}).get("kind") for p in _plots(tab.widget)]


def test_explorer_is_exported_lazily():
    import explorer

    assert explorer.Explorer.__name__ == "Explorer"


def test_opens_on_the_model_tab_with_a_summary(app):
    assert app.state.model is not None and app.state.support is not None
    model_tab = app.tabs["Model"]
    assert "resnet18.onnx" in model_tab.summary.value
    assert "Inputs and outputs" in model_tab.summary.value and "input.1" in model_tab.summary.value
    assert "support-matrix" in app.header.value
    assert app.visible_tab is model_tab
    # other tabs are not built until shown
    assert not app.tabs["Layers"].built


def test_every_tab_renders(app):
    for name in app.tabs:
        app.show(name)
        tab = app.tabs[name]
        assert tab.built, name
        assert not any("this view failed" in getattr(c, "value", "") for c in tab.widget.children), name
    assert app.state.messages == {}


def test_partitions_controls_update_the_view_live(app):
    app.show("Partitions")
    tab = app.tabs["Partitions"]
    assert "support-matrix 10.15 (prediction)" in tab.header.value
    assert _kinds(tab) == ["graph"]
    app.load(str(SAMPLES / "unsupported_ops.onnx"))
    assert "MyPlugin" in tab.table.value and "needs a TensorRT plugin" in tab.table.value
    engines = app.state.support.engines
    tab.min_block.value = 3
    assert app.state.support.min_block_size == 3 and app.state.support.engines < engines
    assert "sent back" in tab.table.value
    tab.version.value = "10.1"
    assert app.state.support.source == "support-matrix 10.1 (prediction)"
    assert "10.1" in tab.header.value
    tab.fold.value = True
    assert app.state.support.folding is not None and "constant folding" in tab.header.value


def test_graph_clicks_expand_scopes_and_select_nodes():
    from explorer.plots.graph_layout import GROUP
    from explorer.widgets import Explorer

    app = Explorer(str(SAMPLES / "transformer_encoder.onnx"), tab="Partitions")
    try:
        panel = app._panels["partitions"]
        view = panel.view
        view.reset()
        view.expanded = {0}  # everything collapsed to the top scopes
        panel.redraw()
        before = len(view.items)
        group_index = next(k for k, it in enumerate(view.items) if it.kind == GROUP)
        panel.figure.click(1, group_index)  # as the browser reports a click on the nodes trace
        assert len(panel.view.items) > before
        node = app.state.model.nodes[5].id
        panel.reveal(node)
        panel.click_key(f"n:{node}")
        assert app.state.selection.node == node
        assert "runs in TensorRT" in app.details.value
        sel = panel.figure.patches[-1]
        assert sel["traces"] == [3] and len(sel["update"]["x"][0]) == 1
    finally:
        app.close()


def test_load_errors_are_shown_in_place_and_keep_the_model(app, tmp_path):
    model_tab = app.tabs["Model"]
    bad = tmp_path / "corrupt.onnx"
    bad.write_bytes(os.urandom(2048))
    model_tab.path.value = str(bad)
    model_tab.load_button.click()
    assert app.state.wait_load(120)  # the button loads in the background
    assert "could not load corrupt.onnx" in model_tab.message.value
    assert "trex-msg-error" in model_tab.message.value
    assert app.state.model_label == "resnet18.onnx"  # what the user had is still there
    assert "resnet18.onnx" in model_tab.summary.value
    model_tab.path.value = str(tmp_path / "missing.onnx")
    model_tab.load_button.click()
    assert app.state.wait_load(120)  # the button loads in the background
    assert "not found" in model_tab.message.value
    model_tab.path.value = str(SAMPLES / "dynamic_shapes.onnx")
    model_tab.load_button.click()
    assert app.state.wait_load(120)  # the button loads in the background
    assert model_tab.message.value == "" and app.state.model_label == "dynamic_shapes.onnx"


def test_upload_and_samples(app):
    model_tab = app.tabs["Model"]
    data = (SAMPLES / "control_flow.onnx").read_bytes()
    model_tab._uploaded({"new": ({"name": "my upload.onnx", "content": memoryview(data), "size": len(data)},)})
    assert app.state.wait_load(120)
    assert app.state.model_label == "my upload.onnx"
    assert app.state.model_path and os.path.isfile(app.state.model_path)  # written for Netron and builds
    model_tab.samples.value = "transformer_encoder.onnx"
    assert app.state.wait_load(120)
    assert app.state.model_label == "transformer_encoder.onnx"


def test_hostile_names_render_as_text(app):
    app.load(str(SAMPLES / "hostile_names.onnx"))
    summary = app.tabs["Model"].summary.value
    assert "&lt;script&gt;" in summary and "<script>" not in summary
    node = next(n for n in app.state.model.nodes if "<script>" in n.name)
    app.select(node.id)
    assert "&lt;script&gt;" in app.details.value and "<script>" not in app.details.value
    app.show("Partitions")
    fig = app._panels["partitions"].figure.figure_dict()
    hover = " ".join(fig["data"][1]["hovertext"])
    assert "&lt;script&gt;" in hover and "<script>" not in hover
    app.show("Fusions")
    assert "<script>" not in app.tabs["Fusions"].tables.value


@needs_fixtures
def test_switching_builds_redraws_the_memory_plots_in_the_same_widgets(app):
    import math

    from explorer.plots.memory import memory_categories

    app.import_fixture("a100_resnet_fp32")
    app.show("Memory")
    tab = app.tabs["Memory"]
    first = [p.model_id for p in _plots(tab.widget)]
    assert len(first) == 3
    app.import_fixture("a100_resnet_fp16")  # becomes the current build: the visible tab redraws
    assert [p.model_id for p in _plots(tab.widget)] == first
    report = app.state.current_build.report
    totals = tab.widgets[0].figure_dict()
    rows = memory_categories(report)
    assert list(totals["data"][0]["x"]) == [r["category"] for r in rows]
    for y, row in zip(totals["data"][0]["y"], rows):  # the fp16 engine's bytes, not the fp32 one's
        assert math.isclose(y, (row["bytes"] or 0) / 2**20, rel_tol=1e-9, abs_tol=1e-12)
    app.state.set_current("a100_resnet_fp32")
    assert [p.model_id for p in _plots(tab.widget)] == first
    assert tab.widgets[0].figure_dict()["data"][0]["y"] != totals["data"][0]["y"]


@needs_fixtures
def test_imports_feed_every_engine_view(app):
    app.import_fixture("a100_resnet_fp32")
    app.import_fixture("a100_resnet_fp16")
    assert list(app.builds) == ["a100_resnet_fp32", "a100_resnet_fp16"]
    assert app.state.current == "a100_resnet_fp16"
    app.show("Layers")
    assert _kinds(app.tabs["Layers"]) == ["latency_bar", "latency_treemap", "precision_pie"]
    assert "exportProfile" in app.tabs["Layers"].head.value
    app.show("Memory")
    assert _kinds(app.tabs["Memory"]) == ["memory_totals", "activation_footprint", "memory_layers"]
    app.show("Tactics")
    assert "No tactic timings exist for this source" in app.tabs["Tactics"].head.value
    app.show("Fusions")
    assert len(_plots(app.tabs["Fusions"].widget)) == 2
    assert "precision 100%, recall 100%; not scored: 7 single-node predictions" in app.tabs["Fusions"].header.value
    app.show("Compare")
    tab = app.tabs["Compare"]
    assert (tab.a.value, tab.b.value) == ("a100_resnet_fp32", "a100_resnet_fp16")
    assert _kinds(tab) == ["compare_totals", "compare_latency"]
    assert "precision" in tab.table.value
    # clicking a bar selects the layer everywhere
    app.show("Layers")
    bar = app.tabs["Layers"].bar
    bar.click(0, 1)
    layer = app.state.selection.layer
    assert layer and layer in app.details.value
    assert bar.patches and bar.patches[-1]["update"]["selectedpoints"]
    assert app.state.selection.node in (app.state.current_build.report.layer(layer).onnx_nodes or [None])
    # ...and the Memory views highlight the same layer
    app.show("Memory")
    for plot in app.tabs["Memory"].plots:
        hits = plot.patches[-1]["update"]["selectedpoints"]
        names = [list(t.customdata) for t in plot.figure.data]
        assert any(trace_hits and all(names[t][i] == layer for i in trace_hits)
                   for t, trace_hits in enumerate(hits))


@needs_fixtures
def test_import_errors_keep_the_builds(app, tmp_path):
    build_tab = app.tabs["Build"]
    app.show("Build")
    app.import_fixture("a100_resnet_fp32")
    bad = tmp_path / "bad.graph.json"
    bad.write_text("{not json")
    build_tab.graph_path.value = str(bad)
    build_tab.import_button.click()
    assert "import failed" in build_tab.import_message.value
    assert list(app.builds) == ["a100_resnet_fp32"]
    build_tab.graph_path.value = ""
    build_tab.profile_path.value = str(FIXTURES / "a100_resnet_fp16.profile.json")
    build_tab.import_name.value = "profile only"
    build_tab.import_button.click()
    assert "profile only" in app.builds and build_tab.import_message.value == ""


def test_tensorrt_option_is_disabled_with_the_reason(app):
    ok, why = app.tensorrt_status()
    if ok:
        pytest.skip("TensorRT is available here")
    app.show("Build")
    tab = app.tabs["Build"]
    tab.backend.value = "tensorrt"
    assert tab.build_button.disabled
    assert "unavailable" in tab.trt_note.value and "TensorRT cannot be used here" in tab.message.value
    tab.backend.value = "onnxruntime"
    assert not tab.build_button.disabled


def test_opening_the_build_tab_prestarts_the_build_worker(app):
    """The worker (Python, ONNX Runtime, the profiler calibration) starts when the Build tab first opens,
    so the first build does not wait for it; opening the tab again starts nothing more."""
    from explorer.backends.build import idle_worker_pid, shutdown_idle_worker

    shutdown_idle_worker()
    app.tabs["Build"].built = False  # as if it had never been shown
    app.show("Build")
    pid = idle_worker_pid()
    assert pid is not None
    app.show("Model")
    app.show("Build")
    assert idle_worker_pid() == pid


def test_dynamic_shape_profile_editor():
    from explorer.widgets import Explorer
    from explorer.widgets.tabs.build import parse_dims

    assert parse_dims("1x3x224x224") == (1, 3, 224, 224) and parse_dims("[2, 3]") == (2, 3)
    with pytest.raises(ValueError):
        parse_dims("1x<b>")
    app = Explorer(str(SAMPLES / "dynamic_shapes.onnx"), tab="Build")
    try:
        tab = app.tabs["Build"]
        assert "images" in tab.shape_fields
        mn, opt, mx = tab.shape_fields["images"]
        opt.value = "1x3x64x64"
        assert tab.options()["shapes"] == {"images": ((1, 3, 64, 64),) * 3}
        mn.value, mx.value = "1x3x32x32", "4x3x128x128"
        assert tab.options()["shapes"]["images"] == ((1, 3, 32, 32), (1, 3, 64, 64), (4, 3, 128, 128))
        assert "duration" not in tab.options()  # 0: just the runs
        tab.duration.value = 2.5
        assert tab.options()["duration"] == 2.5
        opt.value = "one"
        tab.build_button.click()
        assert "shape profile" in tab.message.value and not app.state.building
    finally:
        app.close()


@pytest.mark.slow
def test_onnxruntime_build_progress_result_and_cancel(app):
    app.show("Build")
    tab = app.tabs["Build"]
    tab.backend.value = "onnxruntime"
    tab.runs.value = 5
    phases = []
    app.state.on("job", lambda s: phases.append(s.job_status.phase))
    tab.build_button.click()
    assert app.state.building and tab.cancel_button.disabled is False and tab.build_button.disabled
    status = app.wait(240)
    assert status.state == "done", status.message
    assert tab.progress.value == tab.progress.max and tab.progress.bar_style == "success"
    assert "data-state='done'" in tab.phase.value
    name = app.state.current
    assert name.startswith("resnet18 · build 1: onnxruntime") and app.builds[name].backend == "onnxruntime"
    assert _kinds(tab) == ["latency_bar"]  # the layer plot appears under the form
    assert len(set(phases)) > 2
    app.show("Tactics")
    assert "ONNX Runtime does not autotune" in app.tabs["Tactics"].head.value
    # a second, long build, cancelled
    app.show("Build")
    tab.runs.value = 100000
    running = threading.Event()  # set from the job's thread on its first progress, as the widgets see it
    app.state.on("job", lambda s: s.job_status.phase not in ("starting", "") and running.set())
    tab.build_button.click()
    assert running.wait(120), app.state.job_status
    tab.cancel_button.click()
    status = app.wait(60)
    assert status.state == "cancelled"
    assert "cancelled" in tab.message.value and "data-state='cancelled'" in tab.phase.value
    assert list(app.builds) == [name]  # nothing lost, nothing half-added


def test_netron_starts_and_stops(app):
    app.show("Netron")
    server = app.tabs["Netron"].server
    assert server.running
    port = server.address[1]
    assert f":{port}/" in app.tabs["Netron"].frame.value and "<iframe" in app.tabs["Netron"].frame.value
    with socket.create_connection(("127.0.0.1", port), timeout=5):
        pass
    app.close()
    assert not server.running
    time.sleep(0.3)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_export_writes_the_report(app, tmp_path):
    app.show("Export")
    tab = app.tabs["Export"]
    tab.path.value = str(tmp_path / "out.html")
    tab.button.click()
    assert (tmp_path / "out.html").is_file() and "wrote" in tab.message.value
    tab.path.value = str(tmp_path / "no" / "such" / "\0bad.html")
    tab.button.click()
    assert "export failed" in tab.message.value


def test_fixtures_come_from_the_argument_or_the_variable_only(monkeypatch, tmp_path):
    from explorer.widgets.state import ExplorerState

    monkeypatch.delenv("EXPLORER_FIXTURES", raising=False)
    assert ExplorerState().fixture_sets() == {}  # nothing guessed from where the package lives
    (tmp_path / "mine.graph.json").write_text("{}")
    assert list(ExplorerState(fixtures_dir=tmp_path).fixture_sets()) == ["mine"]
    monkeypatch.setenv("EXPLORER_FIXTURES", str(tmp_path))
    assert list(ExplorerState().fixture_sets()) == ["mine"]


def test_state_without_widgets():
    from explorer.widgets.state import ExplorerState

    st = ExplorerState()
    seen = []
    st.on("model", lambda s: seen.append("model"))
    st.on("analysis", lambda s: seen.append("analysis"))
    assert st.load(str(SAMPLES / "resnet18.onnx"))
    assert seen == ["model", "analysis"]
    assert not st.load(b"not an onnx model", label="junk.onnx")
    assert "junk.onnx" in st.messages["model"][1] and st.model_label == "resnet18.onnx"
    assert not st.start_build(backend="onnxruntime", precision="fp99")
    assert st.job_status.state == "failed" and "precision" in st.job_status.message
    st.close()


# ---------------------------------------------------------------------------------------------- a whole session

def _layer_value_everywhere(app, layer_name: str) -> dict[str, str]:
    """One layer's latency as every view of the current build shows it (text, as the user reads it)."""
    import re

    from explorer.plots.format import fmt_ms

    build = app.state.current_build
    report = build.report
    layer = report.layer(layer_name)
    out = {"library": fmt_ms(layer.latency_ms)}
    app.show("Layers")
    tab = app.tabs["Layers"]
    bar = tab.bar.figure
    for trace in bar.data:
        for name, y, hover in zip(trace.customdata, trace.y, trace.hovertext):
            if name == layer_name:
                out["layers bar"] = fmt_ms(y)
                out["layers bar hover"] = re.search(r"latency \(\w+\): ([^<]+)", hover).group(1)
    tree = next(p for p in _plots(tab.widget) if p.figure_dict()["layout"]["meta"]["kind"] == "latency_treemap")
    data = tree.figure.data[0]
    k = list(data.customdata).index(layer_name)
    out["treemap"] = fmt_ms(data.values[k])
    row = re.search(r"<tr><td[^>]*>" + re.escape(layer_name) + r"</td>(.*?)</tr>", tab.table.value).group(1)
    out["layers table"] = re.findall(r"<td[^>]*>([^<]*)</td>", row)[2] + " ms"
    app.select(layer=layer_name)
    out["details"] = re.search(r"latency \(\w+\)</td><td[^>]*>([^<]+)</td>", app.details.value).group(1)
    from explorer.plots.graph import engine_overlay  # noqa: F401 - the graph overlay formats with fmt_ms too
    from explorer.plots.compare import compare_rows

    other = next((b for b in app.state.builds_of() if b.name != build.name), None)
    if other is not None:
        row = next(r for r in compare_rows(other.report, report) if r["layer_b"] == layer_name)
        out["compare"] = fmt_ms(row["latency_b_ms"])
    from explorer.plots.tactics import tactics_table

    frame = tactics_table(report)
    if len(frame):
        values = frame.loc[frame["layer"] == layer_name, "layer_latency_ms"]
        if len(values):
            out["tactics"] = fmt_ms(values.iloc[0])
    return out


@pytest.mark.slow
def test_a_session_of_builds_keeps_the_current_build_and_one_statistic(app):
    """Two models, several ONNX Runtime builds, the current build switched between them: the newest build
    becomes current, a user's pick stays (options being reassigned never move it back to build 1), every
    name says its model, Compare pairs builds of one model, and one layer reads the same in every view."""
    app.show("Build")
    tab = app.tabs["Build"]
    tab.backend.value = "onnxruntime"
    tab.runs.value = 5
    assert tab.warmup.value == 5  # one default, the CLI's (BuildSettings)
    names = []
    for precision in ("fp32", "fp16", "fp32"):
        tab.precision.value = precision
        tab.build_button.click()
        status = app.wait(240)
        assert status.state == "done", status.message
        names.append(app.state.current)
        assert tab.current.value == app.state.current == names[-1]  # the newest is current
        assert names[-1] in app.header.value and "resnet18.onnx" in app.header.value
    assert names == ["resnet18 · build 1: onnxruntime fp32", "resnet18 · build 2: onnxruntime fp16",
                     "resnet18 · build 3: onnxruntime fp32"]
    # the user picks build 2; the next build finishes and is current; picking build 2 again stays
    tab.current.value = names[1]
    assert app.state.current == names[1]
    app.show("Layers")
    assert names[1] in app.tabs["Layers"].head.value
    app.show("Build")
    tab.current.value = names[1]
    tab.render_builds()  # options reassigned: the pick stays
    assert app.state.current == names[1] and tab.current.value == names[1]
    fp16 = app.builds[names[1]]
    assert any("still compute in fp32" in note for note in fp16.notes)
    assert "Build notes" in tab.result_box.children[0].value and "still compute in fp32" in tab.result_box.children[0].value
    assert "median" in tab.result_box.children[0].value and "runs" in tab.result_box.children[0].value
    # one layer, one figure, in every view (the slowest layer of build 2)
    report = fp16.report
    slowest = max((layer for layer in report.layers if layer.latency), key=lambda layer: layer.latency_ms)
    assert slowest.latency_ms == slowest.latency.median_ms  # the median, not the mean
    seen = _layer_value_everywhere(app, slowest.name)
    assert {"layers bar", "treemap", "layers table", "details", "compare"} <= set(seen)
    assert len(set(seen.values())) == 1, seen
    share = report.latency_share(slowest)
    assert share == pytest.approx(100 * slowest.latency_ms / report.latency_ms_total)
    assert f"{share:.3g}"[:3] in app.details.value
    # a second model: no build of it yet, so none is current; its builds are named with it
    app.show("Build")
    app.load(str(SAMPLES / "transformer_encoder.onnx"))
    assert app.state.current is None and "no build of this model yet" in app.header.value
    tab.precision.value = "fp32"
    tab.build_button.click()
    assert app.wait(240).state == "done"
    other = app.state.current
    assert other == "transformer_encoder · build 1: onnxruntime fp32"
    assert app.builds[other].model == "transformer_encoder.onnx"
    app.show("Compare")
    cmp = app.tabs["Compare"]
    assert cmp.b.value == other and cmp.a.value is None  # only one build of this model: nothing to pair
    assert "same model" in cmp.message.value
    app.compare(names[0], other)  # picked across models on purpose: warned
    assert cmp.across.value and "trex-msg-warning" in cmp.message.value and "transformer_encoder" in cmp.message.value
    # back to resnet18: its newest build is current again, Compare pairs its builds and judges the noise
    app.load(str(SAMPLES / "resnet18.onnx"))
    assert app.state.current == names[2]
    cmp.across.value = False
    app.compare(names[0], names[2])
    assert "run-to-run noise" in cmp.noise.value and "p10–p90" in cmp.noise.value


@needs_fixtures
def test_imports_do_not_move_the_current_build_back(app, tmp_path):
    """Importing (paths or fixtures) adds a build and makes it current; picking an older one stays picked
    when the dropdown's options are reassigned (ipywidgets resets the index to 0 then)."""
    app.show("Build")
    tab = app.tabs["Build"]
    for name in ("a100_resnet_fp32", "a100_resnet_fp16", "a100_resnet_qat"):
        app.import_fixture(name)
    assert app.state.current == "a100_resnet_qat" == tab.current.value
    tab.current.value = "a100_resnet_fp16"
    assert app.state.current == "a100_resnet_fp16"
    tab.profile_path.value = str(FIXTURES / "a100_resnet_fp32.profile.json")
    tab.import_name.value = "by path"
    tab.import_button.click()
    assert app.state.current == "by path" == tab.current.value
    assert "by path" in app.header.value
    tab.current.value = "a100_resnet_fp16"
    tab.render_builds()
    assert app.state.current == "a100_resnet_fp16"
    app.show("Layers")
    assert "a100_resnet_fp16" in app.tabs["Layers"].head.value
    # trtexec's profile has medians (medianMs): the Layers table says median and rounds for people
    assert "median ms" in app.tabs["Layers"].table.value
    assert "0.806472" not in app.tabs["Layers"].table.value
    assert app.tabs["Layers"].table.value.count("a100_resnet_fp16.profile.json") == 1  # the source once, not per row


def test_analysis_options_kept_for_a_new_model_are_said(app):
    app.analyze(min_block_size=3)
    app.load(str(SAMPLES / "transformer_encoder.onnx"))
    level, text = app.state.messages["analysis options"]
    assert level == "info" and "min block size 3" in text
    app.analyze(min_block_size=1)
    assert "analysis options" not in app.state.messages


def test_path_field_follows_the_loaded_model(app):
    app.show("Model")
    tab = app.tabs["Model"]
    assert tab.path.value.endswith("resnet18.onnx")
    app.load((SAMPLES / "transformer_encoder.onnx").read_bytes(), label="uploaded.onnx")
    assert tab.path.value == "" and "uploaded uploaded.onnx" in tab.path.placeholder


def test_table_cells_wrap_between_words_and_break_only_long_names():
    from explorer.html.fragments import LONG_TOKEN, STYLE, table

    assert "word-break: break-word" not in STYLE  # it broke words mid-word in narrow columns
    assert ".trex-table td.trex-long {overflow-wrap: anywhere;}" in STYLE
    name = "model.layer1.0.conv1.weight + QuantizeLinear_7 + Conv_9"  # a layer name: long tokens
    path = "/tmp/explorer-rtx-abc/partition_0.fp32.o3.engine"
    words = "the parser says this node is not supported in this version"
    html = table([{"layer": name, "path": path, "why": words, "short": "Conv_9 + Relu_10"}])
    assert f"<td class='trex-long'>{path}</td>" in html
    assert "<td class='trex-long'>model.layer1.0.conv1.weight + QuantizeLinear_7 + Conv_9</td>" in html
    assert f"<td>{words}</td>" in html and "<td>Conv_9 + Relu_10</td>" in html
    assert len("model.layer1.0.conv1.weight") >= LONG_TOKEN > len("QuantizeLinear_7")


# A model TensorRT-RTX cannot take whole: the Build tab builds one engine per supported partition
def test_partitioned_build_adds_one_build_per_engine_and_lists_the_framework_nodes():
    import html

    from explorer.backends.build import build_partitions
    from explorer.widgets import Explorer

    model = str(SAMPLES / "unsupported_ops.onnx")
    app = Explorer(model)
    try:
        app.analyze(min_block_size=1)  # the Partitions tab's option is the one the partitioned build uses
        app.show("Build")
        tab = app.tabs["Build"]
        tab.backend.value = "onnxruntime"
        assert tab.per_partition.disabled  # only TensorRT backends build engines per partition
        tab.backend.value = "tensorrt-rtx"
        assert not tab.per_partition.disabled
        tab.per_partition.value = True
        phases = []
        app.state.on("job", lambda s: phases.append(s.job_status.phase))
        tab.build_button.click()
        assert app.state.building and not tab.cancel_button.disabled
        status = app.wait(900)
        assert status.state == "done", status.message
        expected = build_partitions(model, backend="tensorrt-rtx", min_block_size=1)
        n = len(expected.engines)
        assert n > 1
        names = [b.name for b in app.state.builds_of()]
        assert len(names) == n and all(f"partition {k}/{n}" in names[k - 1] for k in range(1, n + 1))
        assert all(name.startswith("unsupported_ops · ") for name in names)
        assert app.state.current == names[-1]  # the last engine of this model is the current build
        assert any(p.startswith(f"engine {n} of {n}") for p in phases), set(phases)
        summary = tab.partitions_summary.value
        assert "TensorRT-RTX 1.7.1 AOT (SM86)" in summary
        for node in expected.framework:  # every node left to the framework, with the parser's reason, as text
            assert html.escape(node.node) in summary
            assert node.reasons and html.escape(node.reasons[0][:300]) in summary
        for build in app.state.builds_of():  # each engine is a build the engine tabs show
            assert build.report.backend == "TensorRT-RTX 1.7.1 AOT (SM86)" and build.report.layers
        app.show("Layers")
        app.show("Memory")
    finally:
        app.close()


def test_partitioned_build_cancel_and_errors_stay_in_the_widget():
    from explorer.widgets import Explorer

    app = Explorer(str(SAMPLES / "unsupported_ops.onnx"))
    try:
        app.analyze(min_block_size=1)
        app.show("Build")
        tab = app.tabs["Build"]
        tab.backend.value = "tensorrt-rtx"
        tab.per_partition.value = True
        asked = []

        def cancel_at_first_engine(state):  # on the build's thread, as the first engine starts
            if not asked and state.job_status.phase.startswith("engine 1 of"):
                asked.append(state.job_status.phase)
                app.cancel()

        app.state.on("job", cancel_at_first_engine)
        tab.build_button.click()
        status = app.wait(600)
        assert asked and status.state == "cancelled", status.message
        assert "cancelled" in tab.message.value and "data-state='cancelled'" in tab.phase.value
        assert app.state.builds_of() == []  # the cancelled engine is not half-added
        assert not tab.build_button.disabled and tab.cancel_button.disabled
        # a backend that builds no TensorRT engines: a message, no thread
        assert app.state.start_partitioned_build(backend="onnxruntime") is False
        assert "TensorRT or TensorRT-RTX" in app.state.error("build")
    finally:
        app.close()


def test_the_load_button_loads_in_the_background_and_says_so(app):
    """The Load button hands the work to a thread (the kernel is free for the notebook meanwhile): the Model tab
    says what is loading and disables the button until the load has ended; then the model is there."""
    model_tab = app.tabs["Model"]
    seen = []
    app.state.on("message", lambda st: seen.append((st.messages.get("loading"), model_tab.load_button.disabled)))
    model_tab.path.value = str(SAMPLES / "transformer_encoder.onnx")
    model_tab.load_button.click()
    assert app.state.wait_load(120)
    assert seen[0] == (("info", "loading transformer_encoder.onnx… (the notebook stays usable)"), True)
    assert app.state.model_label == "transformer_encoder.onnx" and app.state.loading is None
    assert "loading" not in app.state.messages and not model_tab.load_button.disabled
    assert "transformer_encoder.onnx" in model_tab.summary.value
