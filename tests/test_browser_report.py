"""The exported HTML report, opened from disk in headless Chromium, draws every plot (issue 11).

A session's report used to lose its Partitions/Fusions graphs ("Too many active WebGL contexts"): every
graph now is SVG, so a page with several graphs draws them all. The file opens offline: the page is
loaded from a file:// URL with every network request refused. The wait is generous (no timed assertion).
"""

from __future__ import annotations

import pytest

from browser_util import REPO, chromium_available, launch_chromium
from conftest import FIXTURES

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300),
              pytest.mark.filterwarnings("ignore::explorer.ExplorerWarning")]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """resnet18 with the A100 fp32 and fp16 fixtures, the QAT sample with its fixture loaded before."""
    if not (FIXTURES / "a100_resnet_fp32.graph.json").is_file():
        pytest.skip(f"TensorRT fixtures not found at {FIXTURES}")
    from explorer.widgets.state import ExplorerState
    from explorer.widgets.tabs.export import write_session_report

    st = ExplorerState(fixtures_dir=FIXTURES)
    assert st.load(str(REPO / "sample_models" / "resnet18_qat.onnx"))
    assert st.import_fixture("a100_resnet_qat") is not None
    assert st.load(str(REPO / "sample_models" / "resnet18.onnx"))
    assert st.import_fixture("a100_resnet_fp32") is not None
    assert st.import_fixture("a100_resnet_fp16") is not None
    path = write_session_report(st, str(tmp_path_factory.mktemp("report") / "session.report.html"))
    st.close()
    return path


def test_every_plot_of_the_report_draws_offline(report):
    ok, why = chromium_available()
    if not ok:
        pytest.skip(why)
    from pathlib import Path

    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            fetched: list[str] = []

            def refuse(route):  # the file must not need the network (or any other file)
                fetched.append(route.request.url)
                route.abort()

            page.route(lambda url: not url.startswith("file://") or not url.endswith(".report.html"), refuse)
            console: list[str] = []
            page.on("console", lambda m: console.append(m.text[:300]))
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(Path(report).resolve().as_uri())
            page.wait_for_function("document.body.getAttribute('data-plots') !== null", timeout=180_000)
            marker = page.evaluate("document.body.getAttribute('data-plots')")
            plots = page.evaluate("""() => [...document.querySelectorAll('div[data-fig]')].map(d => {
                const gd = d.querySelector('.main-svg') ? d : null;
                return {drawn: d.getAttribute('data-drawn'), height: Math.round(d.getBoundingClientRect().height),
                        traces: gd && d._fullData ? d._fullData.length : 0,
                        notes: gd && d._fullLayout ? (d._fullLayout.annotations || []).length : 0,
                        points: d.querySelectorAll('.scatterlayer .point, .barlayer .point, .trace path').length,
                        kind: (d.layout && d.layout.meta && d.layout.meta.kind) || ''};
            })""")
            status = page.evaluate("document.getElementById('trex-status').textContent")
            canvases = page.evaluate("document.querySelectorAll('canvas').length")
            modebar = page.evaluate("""() => [...document.querySelectorAll('.modebar-btn')]
                .map(b => b.getAttribute('data-title') || '')""")
            logo = page.evaluate("document.querySelectorAll('.modebar-btn--logo').length")
        finally:
            browser.close()
    assert not errors, errors
    assert not fetched, f"the report fetched {fetched[:5]}"
    assert marker == f"{len(plots)}/{len(plots)}", (marker, status)
    assert status == ""
    assert len(plots) >= 20
    # drawn, with traces -- or, for a source without that data, the annotation that says so
    assert all(p["drawn"] == "yes" and p["height"] > 50 and (p["traces"] > 0 or p["notes"] > 0) for p in plots), plots
    assert sum(p["traces"] > 0 for p in plots) >= 15
    graphs = [p for p in plots if p["kind"] == "graph"]
    assert len(graphs) == 4 and all(p["points"] > 20 for p in graphs), graphs  # partitions, predicted, 2 real
    assert canvases == 0  # SVG only: no WebGL context to run out of
    assert not [m for m in console if "WebGL" in m], console
    assert modebar and not [t for t in modebar if "Share" in t or "Chart Studio" in t], modebar
    assert logo == 0
