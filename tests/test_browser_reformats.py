"""The Layers tab's reformat table and Myelin regions (issue 14 items 5 and 6), in real JupyterLab + Chromium.

Import the real A100 fp16 exports in the Build tab: the Layers tab lists the reformat/copy layers, and the rows
and the totals line the page shows equal what the library computes from the same files here
(:meth:`EngineReport.reformats` / :meth:`EngineReport.reformat_summary`). Then build the sample transformer with
TensorRT-RTX (ahead of time for SM86, on this CPU, a few seconds): the tab shows its Myelin region with the ONNX
node list the kernel's own report holds. Generous waits on states that persist, no timed assertion.
"""

from __future__ import annotations

import json

import pytest

from browser_util import REPO, NotebookPage, chromium_available, lab_and_page, lab_env, open_tab, prepare_root

pytestmark = [pytest.mark.browser, pytest.mark.timeout(480)]

FIXTURES = REPO / "tests" / "fixtures" / "trt"
RTX_OPTION = "TensorRT-RTX engine (built ahead of time, no GPU needed)"


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    ok, why = chromium_available()
    if not ok:
        pytest.skip(why)
    if not (FIXTURES / "a100_resnet_fp16.graph.json").is_file():
        pytest.skip(f"the A100 fp16 fixture is not in {FIXTURES}")
    root = prepare_root(tmp_path_factory.mktemp("lab"))
    env = lab_env()
    env["EXPLORER_FIXTURES"] = str(FIXTURES)
    with lab_and_page(root, env=env, width=1400) as (lab, page):
        nb = NotebookPage(page, lab, "notebooks/explorer.ipynb").open()
        nb.run_all()
        page.locator(".trex-app").wait_for(state="visible", timeout=90_000)
        yield {"nb": nb, "page": page, "root": root}


def _rows(page, selector: str) -> list[list[str]]:
    return page.evaluate("""(sel) => [...document.querySelectorAll(sel + ' table tbody tr')]
                               .filter(tr => tr.offsetParent !== null)
                               .map(tr => [...tr.querySelectorAll('td')].map(td => td.textContent))""", selector)


def test_layers_tab_shows_the_reformats_of_the_a100_fp16_engine(session):
    from explorer.engine import load_report

    nb, page = session["nb"], session["page"]
    where = nb.add_and_run("import explorer; print(explorer.__file__)")
    assert str(REPO / "explorer") in where, where  # this tree's explorer
    app = page.locator(".trex-app")
    open_tab(page, "Build")
    app.locator(".widget-dropdown:has(label:text-is('Fixture')) select").select_option(label="a100_resnet_fp16")
    app.locator("button:text-is('Import fixture')").click()
    open_tab(page, "Layers")
    app.locator(".trex-reformats .trex-reformat-total").wait_for(state="visible", timeout=120_000)

    report = load_report(graph=FIXTURES / "a100_resnet_fp16.graph.json",
                         profile=FIXTURES / "a100_resnet_fp16.profile.json")
    summary, items = report.reformat_summary(), report.reformats()
    assert app.locator(".trex-reformat-total").inner_text().strip() == summary.line()
    assert "8.66% of 1.0168 ms" in summary.line()  # 0.088064 of 1.016803 ms, the profile's medians
    rows = _rows(page, ".trex-app .trex-reformats")
    assert [r[0] for r in rows] == [x.layer for x in items] and len(rows) == 12
    assert [(r[2], r[3], r[4], r[5]) for r in rows] == [(x.producer, x.consumer, x.change, x.cause) for x in items]
    assert [r[7] for r in rows] == [f"{x.latency_ms:.4f}" for x in items]
    assert sum(float(r[7]) for r in rows) == pytest.approx(summary.total_ms, abs=1e-3)
    app.locator(".trex-reformats").scroll_into_view_if_needed()
    nb.screenshot("browser_reformats_a100_fp16")  # tests/artifacts/, for a person to look at


def test_layers_tab_shows_the_myelin_region_of_a_tensorrt_rtx_build(session):
    from explorer.trt import TENSORRT_RTX, available

    if not available(require_gpu=False, library=TENSORRT_RTX)[0]:
        pytest.skip("TensorRT-RTX is not installed")
    nb, page, root = session["nb"], session["page"], session["root"]
    app = page.locator(".trex-app")
    open_tab(page, "Model")
    app.locator(".widget-text:has(label:text-is('Path')) input").fill(
        str(root / "sample_models" / "transformer_encoder.onnx"))
    app.locator("button:text-is('Load')").first.click()
    page.wait_for_function(
        "() => document.querySelector('.trex-app .trex-model').textContent.includes('transformer_encoder.onnx')",
        timeout=120_000)
    open_tab(page, "Build")
    app.locator(".widget-dropdown:has(label:text-is('Backend')) select").select_option(label=RTX_OPTION)
    cc = app.locator(".widget-dropdown:has(label:text-is('Compute cap.')) select")
    page.wait_for_function("(s) => !s.disabled", arg=cc.element_handle())
    cc.select_option("SM86")
    app.locator("button:text-is('Build')").first.click()
    app.locator(".trex-phase[data-state='done']").wait_for(timeout=240_000)
    open_tab(page, "Layers")
    app.locator(".trex-myelin .trex-myelin-nodes").first.wait_for(state="visible", timeout=120_000)

    out = nb.add_and_run("import json; print(json.dumps([r.to_dict() for r in "
                         "app.state.current_build.report.myelin_regions()]))")
    regions = json.loads(out.strip().splitlines()[-1])
    assert len(regions) == 1 and regions[0]["name"].startswith("{ForeignNode[")
    region = regions[0]
    shown = page.evaluate("""() => [...document.querySelectorAll('.trex-app .trex-myelin-nodes')]
                               .filter(el => el.offsetParent !== null)
                               .map(el => ({summary: el.querySelector('summary').textContent,
                                            nodes: el.querySelector('.trex-log').textContent}))""")
    assert len(shown) == 1
    assert shown[0]["summary"] == f"{region['name']}: {len(region['onnx_nodes'])} ONNX nodes ({region['via']})"
    assert shown[0]["nodes"].split("\n") == region["onnx_nodes"] and region["via"] == "metadata"
    row = _rows(page, ".trex-app .trex-myelin")[0]
    assert row[:4] == [region["name"], str(len(region["onnx_nodes"])), "metadata", str(len(region["layers"]))]
    assert row[4] == "no per-layer times"  # built ahead of time: no GPU ran it
    app.locator(".trex-myelin").scroll_into_view_if_needed()
    nb.screenshot("browser_myelin_rtx_transformer")
    nb.add_and_run("app.close()", expect_output=False)
