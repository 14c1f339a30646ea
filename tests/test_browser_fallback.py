"""Silent fallback and "repeat it elsewhere" in a real JupyterLab driven in headless Chromium.

On the Partitions tab the test picks ONNX Runtime's own assignment as the source (a real session in a child
process records ``session.record_ep_graph_assignment_info``), waits for it (no timing is asserted), and checks
the grouped "operator | count | reason | nodes" table shows the rows and counts the library computes for the
same model (``explorer.analyze(model, source="onnxruntime").unsupported_frame()``), then exports the
partitions with the tab's button and finds one file per partition of the library's report. On the Build tab it sets
fp16 and checks the trtexec (TensorRT 10.x) line on the page is the library's
``trtexec_command(BuildSettings.make(...), path)`` for the same settings, character for character.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import explorer
from browser_util import (REPO, NotebookPage, chromium_available, lab_and_page, open_tab, prepare_root,
                          write_notebook)
from explorer.backends.commands import trtexec_command
from explorer.backends.settings import BuildSettings

pytestmark = [pytest.mark.browser, pytest.mark.timeout(900)]

ARTIFACTS = REPO / "tests" / "artifacts"
MODEL = "sample_models/transformer_encoder.onnx"
WAIT = 240_000  # ms: generous (2 cores shared); nothing here is a timed assertion


def _notebook(root: Path) -> str:
    return write_notebook(root, "fallback.ipynb", ["from explorer import Explorer\n",
                                                    f"app = Explorer('{MODEL}', tab='Partitions')\n", "app"])


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    ok, why = chromium_available()
    if not ok:
        pytest.skip(why)
    root = prepare_root(tmp_path_factory.mktemp("lab"), notebooks=False)
    notebook = _notebook(root)
    with lab_and_page(root, height=1100, timeout_ms=WAIT) as (lab, page):
        yield {"root": root, "lab": lab, "page": page, "notebook": notebook}


def _wait_text(page, selector: str, text: str) -> None:
    page.wait_for_function("""([sel, text]) => [...document.querySelectorAll(sel)]
        .some(e => e.offsetParent !== null && e.innerText.includes(text))""", arg=[selector, text], timeout=WAIT)


def test_onnxruntime_assignment_grouped_table_and_the_trtexec_line(session):
    page, lab = session["page"], session["lab"]
    report = explorer.analyze(REPO / MODEL, source="onnxruntime")
    frame = report.unsupported_frame()
    assert len(frame) > 1  # several operators: the grouping is visible

    nb = NotebookPage(page, lab, session["notebook"]).open()
    nb.run_all()
    app = page.locator(".trex-app")
    app.wait_for(state="visible", timeout=WAIT)
    app.locator(".trex-plot[data-trex-ready='1']:visible").first.wait_for(timeout=WAIT)

    select = app.locator(".widget-dropdown:has(label:text-is('parser')) select")
    select.select_option(label=f"{report.source}")  # "ONNX Runtime 1.32 assignment": the installed version
    _wait_text(page, ".trex-app .parser-status", f"real verdicts: {report.source}")
    _wait_text(page, ".trex-app .trex-badge", report.source)
    page.wait_for_function("""(n) => { const t = [...document.querySelectorAll('.trex-app table.grouped-unsupported')]
                                         .find(e => e.offsetParent !== null);
                                       return t && t.querySelectorAll('tbody tr').length === n; }""",
                           arg=len(frame), timeout=WAIT)
    rows = page.evaluate("""() => [...[...document.querySelectorAll('.trex-app table.grouped-unsupported')]
                                  .find(e => e.offsetParent !== null).querySelectorAll('tbody tr')]
                                  .map(r => [...r.querySelectorAll('td')].map(c => c.innerText))""")
    assert [(r[0], int(r[1]), r[2]) for r in rows] == [(row.operator, int(row.count), row.reason)
                                                       for row in frame.itertuples()]
    for r, row in zip(rows, frame.itertuples()):
        assert r[3].startswith(row.nodes[0])
    nb.screenshot("browser_fallback_partitions", ARTIFACTS)

    # the partitions shown, as .onnx files beside the model (the button's default folder)
    app.locator("button:has-text('export subgraphs')").first.click()
    _wait_text(page, ".trex-app .export-status", f"wrote {len(report.partitions)} files")
    folder = session["root"] / "sample_models" / "transformer_encoder_subgraphs"
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        f"{'supported' if p.supported else 'unsupported'}_subgraph-{p.index}.onnx" for p in report.partitions)

    open_tab(page, "Build")
    precision = app.locator(".widget-dropdown:has(label:text-is('Precision')) select")
    precision.select_option("fp16")
    defaults = BuildSettings()
    expected = trtexec_command(BuildSettings.make(precision="fp16", runs=defaults.runs, warmup=defaults.warmup),
                               MODEL, version="10").text
    page.wait_for_function("""(want) => [...document.querySelectorAll(
                                  ".trex-app .command[data-command='trtexec-10'] pre.command-line")]
                                  .some(e => e.offsetParent !== null && e.textContent === want)""",
                           arg=expected, timeout=WAIT)
    assert "--fp16" in expected
    nb.screenshot("browser_fallback_build_commands", ARTIFACTS)
    assert not page.explorer_errors, page.explorer_errors
