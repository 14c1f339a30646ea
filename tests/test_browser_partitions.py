"""The Partitions tab with NVIDIA's real ONNX parser, in a real JupyterLab driven in headless Chromium.

The model (written by ``known_models.write_rtx_difference_model``) holds a known disagreement: the prediction
(TensorRT's) says its NonZero supported, TensorRT-RTX's parser rejects it (TensorRT-RTX has no NonZero plugin).
The test switches the tab to the
TensorRT-RTX parser, waits for its verdicts (they arrive from a background job; no timing is asserted),
and checks that the page shows the parser's label, the counts the library computes for the same model
(``explorer.analyze(model, source="tensorrt-rtx")``), every disagreement with both reasons and the
outlined marker on the graph; then back to the prediction and its label.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import explorer
from browser_util import REPO, NotebookPage, chromium_available, lab_and_page, prepare_root, write_notebook
from known_models import RTX_DIFFERENCE_NODE, write_rtx_difference_model
from explorer.support import disagreements

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

ARTIFACTS = REPO / "tests" / "artifacts"
MODEL = "rtx_difference.onnx"
WAIT = 240_000  # ms: generous (2 cores shared); nothing here is a timed assertion


def _notebook(root: Path) -> str:
    return write_notebook(root, "partitions.ipynb", ["from explorer import Explorer\n",
                                                      f"app = Explorer('sample_models/{MODEL}', tab='Partitions')\n",
                                                      "app"])


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    ok, why = chromium_available()
    if not ok:
        pytest.skip(why)

    root = prepare_root(tmp_path_factory.mktemp("lab"), notebooks=False)
    write_rtx_difference_model(root / "sample_models" / MODEL)
    notebook = _notebook(root)
    with lab_and_page(root, height=1100, timeout_ms=WAIT) as (lab, page):
        yield {"root": root, "lab": lab, "page": page, "notebook": notebook}


def _visible_text(page, selector: str) -> str:
    return page.evaluate("""(sel) => [...document.querySelectorAll(sel)].filter(e => e.offsetParent !== null)
                                     .map(e => e.innerText).join('\\n')""", selector)


def _wait_text(page, selector: str, text: str) -> None:
    page.wait_for_function("""([sel, text]) => [...document.querySelectorAll(sel)]
        .some(e => e.offsetParent !== null && e.innerText.includes(text))""", arg=[selector, text], timeout=WAIT)


def _counts(report) -> list[str]:
    """What the tab's header says about a report, in its own words (html/fragments.partitions_header)."""
    return [f"{report.coverage:.1%}", f"{len(report.partitions)} partitions",
            f"{report.nodes_supported}/{report.nodes_total} nodes supported"]


GRAPH_MARKS = """() => {
  const gd = [...document.querySelectorAll('.trex-app .trex-plot .js-plotly-plot')].find(g => g.offsetParent);
  if (!gd || !gd._fullData) return null;
  const nodes = gd._fullData[1];
  const marked = [];
  (nodes.marker.symbol || []).forEach((s, k) => { if (s === 'diamond-open') marked.push(nodes.hovertext[k]); });
  return {marked, legend: gd._fullData.filter(t => t.showlegend).map(t => t.name)};
}"""


def test_partitions_tab_with_the_real_tensorrt_rtx_parser(session):
    page, lab = session["page"], session["lab"]
    model = explorer.load_model(session["root"] / "sample_models" / MODEL)
    real = explorer.analyze(model, source="tensorrt-rtx")
    predicted = explorer.analyze(model, source="matrix")
    differ = disagreements(predicted, real)
    assert real.source == "TensorRT-RTX 1.7.1 parser"
    assert [d.node for d in differ] == [RTX_DIFFERENCE_NODE]  # the known disagreement this test is about

    nb = NotebookPage(page, lab, session["notebook"]).open()
    nb.run_all()
    app = page.locator(".trex-app")
    app.wait_for(state="visible", timeout=WAIT)
    app.locator(".trex-plot[data-trex-ready='1']:visible").first.wait_for(timeout=WAIT)
    _wait_text(page, ".trex-app .trex-badge", predicted.source)

    # the real TensorRT-RTX parser, then its verdicts on the page
    app.locator(".widget-dropdown:has(label:text-is('parser')) select").select_option(label="TensorRT-RTX")
    app.locator("button:text-is('real parser')").first.click()
    _wait_text(page, ".trex-app .parser-status", f"real verdicts: {real.source}")
    _wait_text(page, ".trex-app .trex-badge", real.source)
    text = app.inner_text()
    for fragment in _counts(real):
        assert fragment in text, (fragment, text[:2000])
    # every disagreement, with both reasons (the prediction's and the parser's) and both sources
    table = _visible_text(page, ".trex-app table.disagreements")
    assert predicted.source in table and real.source in table
    for d in differ:
        row = _visible_text(page, f".trex-app table.disagreements tr[data-node='{d.node}']")
        assert d.node in row
        for ok, reason in ((d.first_supported, d.first_reason), (d.second_supported, d.second_reason)):
            assert (reason if ok else f"unsupported: {reason}") in row, row
    assert "NonZero plugin" in table and "TensorRT-RTX has no such plugin" in table
    # the graph draws the parser's verdicts and outlines the disagreement
    app.locator(".trex-plot[data-trex-ready='1']:visible").first.wait_for(timeout=WAIT)
    page.wait_for_function(f"() => {{ const m = ({GRAPH_MARKS})(); return m && m.marked.length === {len(differ)}; }}",
                           timeout=WAIT)
    marks = page.evaluate(GRAPH_MARKS)
    hovers = [h.replace("<br>", " ") for h in marks["marked"]]  # hover lines wrap at spaces
    assert any(RTX_DIFFERENCE_NODE in h and "NonZero plugin" in h for h in hovers), marks
    assert any("disagree" in name for name in marks["legend"]), marks["legend"]
    nb.screenshot("browser_partitions_parser", ARTIFACTS)

    # back to the prediction: its label and its counts
    app.locator("button:text-is('prediction')").first.click()
    _wait_text(page, ".trex-app .trex-badge", predicted.source)
    text = app.inner_text()
    for fragment in _counts(predicted):
        assert fragment in text, (fragment, text[:2000])
    assert real.source not in _visible_text(page, ".trex-app .trex-badge")
    nb.screenshot("browser_partitions_prediction", ARTIFACTS)
    nb.add_and_run("app.close()", expect_output=False)
