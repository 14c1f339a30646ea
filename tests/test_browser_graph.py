"""The Partitions graph in real JupyterLab + Chromium (issue 11): the first view shows the whole 49-layer
ResNet-18 with labels, and the mouse wheel over the graph scrolls the notebook instead of zooming the graph.

Waits are generous and nothing is timed: what is checked is what a user sees.
"""

from __future__ import annotations

import pytest

from browser_util import NotebookPage, chromium_available, prepare_root, wait_plots_drawn, lab_and_page

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

GRAPH = ".trex-app .trex-plot[data-kind='graph']"

# the visible graph's figure: axis ranges, the points of the nodes trace, labels, the config plotly runs with
FIGURE_JS = """(sel) => {
  const el = [...document.querySelectorAll(sel)].find(p => p.offsetParent !== null);
  const gd = el && el.querySelector('.js-plotly-plot');
  if (!gd || !gd._fullLayout || !gd.data || gd.data.length < 3) return null;
  const nodes = gd.data[1], labels = gd.data[2];
  return {x: gd._fullLayout.xaxis.range.slice(), y: gd._fullLayout.yaxis.range.slice(),
          nx: [Math.min(...nodes.x), Math.max(...nodes.x)], ny: [Math.min(...nodes.y), Math.max(...nodes.y)],
          points: nodes.x.length, labels: (labels.text || []).length,
          firstLabels: (labels.text || []).slice(0, 3),
          scrollZoom: gd._context.scrollZoom, doubleClick: gd._context.doubleClick,
          drawnLabels: gd.querySelectorAll('.scatterlayer .textpoint text').length};
}"""

# the element that scrolls the notebook (JupyterLab scrolls a panel, not the window) and where it is
SCROLLER_JS = """(sel) => {
  const el = [...document.querySelectorAll(sel)].find(p => p.offsetParent !== null);
  let s = el.parentElement;
  while (s && !(s.scrollHeight > s.clientHeight + 4 && /(auto|scroll)/.test(getComputedStyle(s).overflowY))) {
    s = s.parentElement;
  }
  window.__trexScroller = s || document.scrollingElement;
  return {top: window.__trexScroller.scrollTop, max: window.__trexScroller.scrollHeight
          - window.__trexScroller.clientHeight, windowY: window.scrollY};
}"""


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    ok, why = chromium_available()
    if not ok:
        pytest.skip(why)

    root = prepare_root(tmp_path_factory.mktemp("lab"))
    with lab_and_page(root, height=900) as (lab, page):
        yield NotebookPage(page, lab, "notebooks/explorer.ipynb").open(), page.explorer_errors


def test_partitions_graph_shows_everything_first_and_leaves_the_wheel_to_the_page(page):
    nb, errors = page
    p = nb.page
    nb.run_all()
    p.locator(".trex-app").wait_for(state="visible", timeout=90_000)
    p.locator(".trex-app .lm-TabBar-tab", has_text="Partitions").first.click()
    p.locator(GRAPH).first.wait_for(state="visible", timeout=60_000)
    wait_plots_drawn(p, ".trex-app")
    fig = p.wait_for_function(FIGURE_JS, arg=GRAPH, polling=200).json_value()

    # ResNet-18: 49 nodes, all drawn and all inside the first view's ranges (it showed 32 of 49 layers)
    assert fig["points"] == 49, fig
    assert fig["y"][0] <= fig["ny"][0] and fig["y"][1] >= fig["ny"][1], fig
    assert fig["x"][0] <= fig["nx"][0] and fig["x"][1] >= fig["nx"][1], fig
    # labels: one per item (op names), and drawn as text in the svg
    assert fig["labels"] == 49 and "Conv" in fig["firstLabels"][0], fig
    assert fig["drawnLabels"] >= 49, fig
    assert fig["scrollZoom"] is False and fig["doubleClick"] == "reset", fig

    # the wheel over the graph scrolls the notebook; the graph's ranges stay as they were
    p.evaluate("(sel) => [...document.querySelectorAll(sel)].find(e => e.offsetParent !== null)"
               ".scrollIntoView({block: 'center'})", GRAPH)
    before = p.evaluate(SCROLLER_JS, GRAPH)
    box = p.locator(GRAPH).first.bounding_box()
    p.mouse.move(box["x"] + box["width"] / 2, box["y"] + min(box["height"] / 2, 300))
    down = before["top"] < before["max"] - 50
    p.mouse.wheel(0, 250 if down else -250)
    p.wait_for_function("([top, down]) => down ? window.__trexScroller.scrollTop > top + 20 "
                        ": window.__trexScroller.scrollTop < top - 20", arg=[before["top"], down], polling=100)
    after = p.wait_for_function(FIGURE_JS, arg=GRAPH).json_value()
    assert (after["x"], after["y"]) == (fig["x"], fig["y"]), "the wheel zoomed the graph"
    assert not errors, (errors, [c for c in p.explorer_console if c.startswith("pageerror")])
