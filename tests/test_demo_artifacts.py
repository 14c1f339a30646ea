"""What ships for a demo without a GPU: the Tactics tab from the real A100 exports (the tactic TensorRT chose per
layer, with its measured time) and from the bundled verbose-log format sample (labelled illustrative)."""

from __future__ import annotations

import json

import pytest

from explorer.plots.format import fmt_number

from conftest import FIXTURES, REPO

pytestmark = pytest.mark.filterwarnings("ignore::explorer.ExplorerWarning")

SAMPLE = "trt8_tactics_format_sample"
SAMPLE_ORIGIN = f"format sample (illustrative values, not measured): {SAMPLE}.log"


def _needs(*names: str) -> None:
    missing = [n for n in names if not (FIXTURES / n).is_file()]
    if missing:
        pytest.skip(f"{', '.join(missing)} not in {FIXTURES}")


def _app():
    from explorer.widgets import Explorer

    return Explorer(str(REPO / "sample_models" / "resnet18.onnx"), fixtures_dir=str(FIXTURES))


def _exports(variant: str) -> tuple[dict, dict]:
    """The fixture's own files, read with json: layer name -> layer info, layer name -> profile row."""
    graph = json.loads((FIXTURES / f"a100_resnet_{variant}.graph.json").read_text())
    profile = json.loads((FIXTURES / f"a100_resnet_{variant}.profile.json").read_text())
    return ({layer["Name"]: layer for layer in graph["Layers"]},
            {row["name"]: row for row in profile if "name" in row})


def test_the_build_tab_offers_the_format_sample_labelled_illustrative_everywhere():
    _needs(f"{SAMPLE}.log")
    app = _app()
    try:
        app.show("Build")
        tab = app.tabs["Build"]
        labels = dict((value, label) for label, value in tab.fixture.options)
        assert SAMPLE in labels
        assert "format sample" in labels[SAMPLE] and "illustrative values, not measured" in labels[SAMPLE]
        assert labels["a100_resnet_fp32"] == "a100_resnet_fp32"  # real exports carry no such label
        tab.fixture.value = SAMPLE
        tab.fixture_button.click()
        build = app.state.current_build
        assert build is not None and build.name == SAMPLE and build.source == SAMPLE_ORIGIN
        chosen = [t for t in build.report.tactics if t.chosen]
        assert len(build.report.tactics) == 13 and chosen  # every tactic the excerpt times, the chosen ones
        assert all(t.source == SAMPLE_ORIGIN for t in build.report.tactics)
        assert build.report.provenance["tactics"] == SAMPLE_ORIGIN

        app.show("Tactics")
        tactics = app.tabs["Tactics"]
        figs = [f.figure_dict()["layout"] for f in tactics.figures]
        timed = [layout for layout in figs if layout.get("meta", {}).get("kind") == "tactics"]
        assert len(timed) == 1, [layout.get("meta") for layout in figs]
        assert timed[0]["meta"]["source"] == SAMPLE_ORIGIN
        assert f"source: {SAMPLE_ORIGIN}" in timed[0]["title"]["text"]  # on the figure itself
        assert SAMPLE_ORIGIN in tactics.head.value  # the tab's header
        assert f"source: {SAMPLE_ORIGIN}" in tactics.table.value  # and the table's source line
    finally:
        app.close()

    readme = (FIXTURES / "README.md").read_text()
    assert f"`{SAMPLE}.log`" in readme and "not a measurement" in readme  # its provenance is stated
    assert "NOT a measurement" in (FIXTURES / f"{SAMPLE}.log").read_text().splitlines()[0]


def test_the_a100_exports_show_the_chosen_tactic_per_layer_with_its_measured_time():
    from explorer.plots.tactics import chosen_tactics, chosen_tactics_table

    _needs("a100_resnet_fp32.graph.json", "a100_resnet_fp32.profile.json")
    info, profile = _exports("fp32")
    app = _app()
    try:
        app.import_fixture("a100_resnet_fp32")
        app.show("Tactics")
        tab = app.tabs["Tactics"]
        assert "alternatives it timed, and their times, are only in a verbose build log" in tab.head.value
        [fig] = [f.figure_dict() for f in tab.figures]
        assert fig["layout"]["meta"]["kind"] == "chosen_tactics"
        title = fig["layout"]["title"]["text"]
        assert "trtexec --exportLayerInfo a100_resnet_fp32.graph.json" in title
        assert "trtexec --exportProfile" in title and "a100_resnet_fp32.profile.json" in title

        # the first layer: its real kernel and its real median time, as the fixture's files have them
        layer = "Conv_0 + Relu_1"
        kernel = info[layer]["TacticName"]
        assert kernel == "ampere_scudnn_128x64_relu_xregs_large_nn_v1"
        bars = {name: (x, text) for trace in fig["data"]
                for name, x, text in zip(trace["customdata"], trace["x"], trace["text"])}
        assert bars[layer] == (profile[layer]["medianMs"], kernel)  # 0.52224 ms
        assert any(trace["name"].startswith("ampere_scudnn (1 layer") for trace in fig["data"])
        # the table rounds for people (three significant digits), the plot keeps the file's value
        assert kernel in tab.table.value and fmt_number(profile[layer]["medianMs"]) in tab.table.value

        # every row: the kernel and id of the layer information, the median of the profile
        report = app.state.current_build.report
        rows = chosen_tactics(report)
        assert len(rows) == 23  # 32 layers less 8 reformatting layers and 1 no-op (reshape_after_Gemm_48)
        for row in rows:
            assert row.kernel == info[row.layer].get("TacticName")
            assert row.tactic_id == info[row.layer]["TacticValue"]
            assert row.median_ms == profile[row.layer]["medianMs"]
            assert row.time_source == "trtexec --exportProfile a100_resnet_fp32.profile.json"
        assert list(chosen_tactics_table(report)["layer"]) == [row.layer for row in rows]
        xmma = [name for name, layer_info in info.items() if layer_info.get("TacticName", "").startswith("sm80_xmma")]
        legend = next(t["name"] for t in fig["data"] if t["name"].startswith("sm80_xmma"))
        assert legend.startswith(f"sm80_xmma ({len(xmma)} layers")
    finally:
        app.close()


def test_compare_lists_the_layers_whose_tactic_changed_from_fp32_to_fp16():
    from explorer.plots import compare_frame

    _needs("a100_resnet_fp32.graph.json", "a100_resnet_fp16.graph.json")
    info32, _ = _exports("fp32")
    info16, _ = _exports("fp16")

    def tactic(layer: dict) -> str:
        return layer.get("TacticName") or layer["TacticValue"]

    # the model's layers (not the reformatting ones, whose names repeat) in both engines, from the files
    shared = [n for n in info32 if n in info16 and not n.startswith("Reformatting")]
    changed = {n for n in shared if tactic(info32[n]) != tactic(info16[n])}
    assert "Conv_0 + Relu_1" in changed and "reshape_after_Gemm_48" not in changed
    app = _app()
    try:
        app.import_fixture("a100_resnet_fp32")
        app.import_fixture("a100_resnet_fp16")
        report32 = app.state.builds["a100_resnet_fp32"].report
        report16 = app.state.builds["a100_resnet_fp16"].report
        frame = compare_frame(report32, report16, "fp32", "fp16")
        rows = {r["layer"]: r for r in frame.to_dict("records") if r["layer"] in shared}
        assert {n for n, r in rows.items() if r["tactic_changed"]} == changed
        conv0 = rows["Conv_0 + Relu_1"]
        assert conv0["tactic [fp32]"] == info32["Conv_0 + Relu_1"]["TacticName"]
        assert conv0["tactic [fp16]"] == info16["Conv_0 + Relu_1"]["TacticName"]
        app.show("Compare")
        html = app.tabs["Compare"].table.value
        assert info16["Conv_0 + Relu_1"]["TacticName"] in html  # the tab's table of changed layers lists it
    finally:
        app.close()


def test_kernel_families():
    from explorer.plots.tactics import kernel_family

    assert kernel_family("ampere_scudnn_128x64_relu_xregs_large_nn_v1") == "ampere_scudnn"
    assert kernel_family("sm80_xmma_fprop_implicit_gemm_f32f32_tf32f32_f32_nhwckrsc_nhwc") == "sm80_xmma"
    assert kernel_family("trt_turing_cutlass_image_network_first_layer_hmma") == "trt_turing_cutlass"
    assert kernel_family("ampere_h16816cudnn_128x128_ldg8_relu") == "ampere_h16816cudnn"
    assert kernel_family(None, "TiledPooling") == "TiledPooling (tactic id only)"


def test_no_chosen_tactic_view_when_the_backend_says_it_chose_none():
    from explorer.engine.report import EngineReport, Layer
    from explorer.plots.tactics import chosen_tactics

    # TensorRT-RTX ahead of time: the layer names a placeholder kernel, and the report says no tactics exist
    layer = Layer(name="Conv_5 + Relu_7", type="correlation", tactic_name="__myelin_CASK_STUB")
    said = EngineReport(layers=[layer], provenance={"tactics": "none: TensorRT-RTX times no tactics"})
    assert chosen_tactics(said) == []
    assert [row.kernel for row in chosen_tactics(EngineReport(layers=[layer]))] == ["__myelin_CASK_STUB"]
