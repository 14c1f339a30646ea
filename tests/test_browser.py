"""The app in a real JupyterLab, driven in headless Chromium (Playwright + Debian's /usr/bin/chromium).

One session, in order: open ``explorer.ipynb``, run all cells, click every tab, run an ONNX Runtime build
(progress bar finishes, the layer plot appears), start a second one and cancel it, load a model with
hostile names (shown as text, nothing injected), load a corrupt file (an error in the app), and check the
kernel is still alive. Screenshots go to ``tests/artifacts/``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from browser_util import REPO, NotebookPage, chromium_available, prepare_root, lab_and_page, open_tab

pytestmark = [pytest.mark.browser, pytest.mark.timeout(420)]

ARTIFACTS = REPO / "tests" / "artifacts"
TABS = ["Model", "Partitions", "Fusions", "Build", "Tactics", "Memory", "Layers", "Compare", "Accuracy", "Netron", "Export"]


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    ok, why = chromium_available()
    if not ok:
        pytest.skip(why)

    root = prepare_root(tmp_path_factory.mktemp("lab"))
    if ARTIFACTS.exists():
        for old in ARTIFACTS.glob("browser_*.png"):
            old.unlink()
    with lab_and_page(root) as (lab, page):
        yield {"root": root, "lab": lab, "page": page, "dialogs": page.explorer_dialogs}


def _app(page):
    return page.locator(".trex-app")



#: the drawn graph whose node trace holds the hostile name (plotly fills _fullData once it has drawn)
GRAPH = """(text) => {
  const plots = [...document.querySelectorAll('.trex-app .trex-plot .js-plotly-plot')].filter(g => g.offsetParent);
  for (const gd of plots) {
    const data = gd._fullData || [];
    for (let i = 0; i < data.length; i++) {
      const k = (data[i].hovertext || []).findIndex(t => String(t).includes(text));
      if (k >= 0 && gd._fullLayout) {
        const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, tr = data[i];
        const box = gd.getBoundingClientRect();
        return [box.left + xa._offset + xa.l2p(tr.x[k]), box.top + ya._offset + ya.l2p(tr.y[k])];
      }
    }
  }
  return null;
}"""


def _button(app, label: str):
    # by text content: Font Awesome icons add a glyph to the accessible name, so get_by_role does not match
    return app.locator(f"button:text-is('{label}')").first


def _shot(nb: NotebookPage, name: str) -> None:
    nb.page.evaluate("() => document.querySelector('.trex-app') && document.querySelector('.trex-app').scrollIntoView()")
    nb.screenshot(f"browser_{name}", ARTIFACTS)


def test_app_in_jupyterlab(session):
    page, lab, root = session["page"], session["lab"], session["root"]
    nb = NotebookPage(page, lab, "notebooks/explorer.ipynb").open()
    nb.run_all()
    app = _app(page)
    app.wait_for(state="visible", timeout=90_000)
    assert "resnet18.onnx" in app.locator(".trex-model").inner_text()
    assert app.locator(".lm-TabBar-tab").count() == len(TABS)

    # ---------------------------------------------------------------- every tab
    for name in TABS:
        open_tab(page, name)
        if name in ("Partitions", "Fusions"):
            app.locator(".trex-plot[data-trex-ready='1']:visible").first.wait_for(timeout=60_000)
        if name == "Partitions":
            assert "prediction" in app.inner_text()
        if name in ("Tactics", "Memory", "Layers"):
            app.locator(".trex-msg-info:visible", has_text="No build yet").first.wait_for()
        if name == "Netron":
            app.locator("iframe[title='Netron']").wait_for(timeout=30_000)
        _shot(nb, f"tab_{name.lower()}")

    # ---------------------------------------------------------------- an ONNX Runtime build
    open_tab(page, "Build")
    app.locator(".widget-dropdown:has(label:text-is('Backend')) select").select_option(label="ONNX Runtime (CPU)")
    runs = app.locator(".widget-inline-hbox:has(label:text-is('Runs')) input")
    runs.fill("5")
    runs.press("Enter")
    _button(app, "Build").click()
    app.locator(".trex-phase[data-state='done']").wait_for(timeout=120_000)
    bar = app.locator(".progress-bar-success:visible")
    bar.wait_for()
    assert bar.evaluate("(b) => b.style.width") == "100%"
    app.locator(".trex-plot[data-kind='latency_bar'][data-trex-ready='1']:visible").wait_for(timeout=60_000)
    assert "build 1: onnxruntime fp32" in app.locator(".trex-phase").inner_text()
    _shot(nb, "build_done")
    open_tab(page, "Layers")
    app.locator(".trex-plot[data-kind='latency_treemap'][data-trex-ready='1']:visible").wait_for()
    _shot(nb, "layers_after_build")

    # ---------------------------------------------------------------- a second build, cancelled
    open_tab(page, "Build")
    runs.fill("100000")
    runs.press("Enter")
    _button(app, "Build").click()
    app.locator(".trex-phase[data-state='running']").wait_for(timeout=30_000)
    cancel = _button(app, "Cancel")
    page.wait_for_function("(b) => !b.disabled", arg=cancel.element_handle())
    cancel.click()
    app.locator(".trex-phase[data-state='cancelled']").wait_for(timeout=60_000)
    app.locator(".trex-msg-warning", has_text="cancelled").wait_for()
    _shot(nb, "build_cancelled")

    # ---------------------------------------------------------------- hostile names render as text
    open_tab(page, "Model")
    path = app.locator(".widget-text:has(label:text-is('Path')) input")
    path.fill(str(root / "sample_models" / "hostile_names.onnx"))
    _button(app, "Load").click()
    page.wait_for_function(
        "() => document.querySelector('.trex-app .trex-model').textContent.includes('hostile_names.onnx')")
    # the literal text is visible (the summary shows the graph name, inputs and outputs)...
    page.wait_for_function("() => document.querySelector('.trex-app').innerText.includes('<script>')")
    assert app.locator("script").count() == 0  # ...and nothing was injected
    assert app.locator("img").count() == 0
    _shot(nb, "hostile_names_model")
    open_tab(page, "Partitions")
    app.locator(".trex-plot[data-trex-ready='1']:visible").first.wait_for()
    # click the node whose name is a <script> tag: its details show the name as text
    x, y = page.wait_for_function(GRAPH, arg="&lt;script&gt;").json_value()
    page.mouse.move(x, y)
    app.locator(".hoverlayer .hovertext").first.wait_for()
    page.mouse.click(x, y)
    page.wait_for_function("() => document.querySelector('.trex-details').innerText.includes('verdict source')")
    details = app.locator(".trex-details").inner_text()
    assert "<script>" in details
    assert app.locator("script").count() == 0 and app.locator("img").count() == 0
    assert not session["dialogs"], session["dialogs"]
    _shot(nb, "hostile_names_partitions")

    # ---------------------------------------------------------------- a corrupt file: an error in the app
    open_tab(page, "Model")
    corrupt = root / "corrupt.onnx"
    corrupt.write_bytes(os.urandom(4096))
    path.fill(str(corrupt))
    _button(app, "Load").click()
    app.locator(".trex-msg-error", has_text="could not load corrupt.onnx").wait_for()
    assert "hostile_names.onnx" in app.locator(".trex-model").inner_text()  # the previous model stays
    _shot(nb, "corrupt_file")

    # ---------------------------------------------------------------- the kernel is alive
    status = page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status")
    assert status in ("idle", "busy"), status
    out = nb.add_and_run("1+1")
    _shot(nb, "kernel_alive")
    assert out.strip().endswith("2"), out
    assert not session["dialogs"]
    nb.add_and_run("app.close()", expect_output=False)


def test_artifacts_are_gitignored():
    ignore = (REPO / ".gitignore").read_text()
    assert "tests/artifacts/" in ignore
