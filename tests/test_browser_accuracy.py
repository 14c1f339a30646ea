"""The Accuracy tab in real JupyterLab + Chromium: compare ResNet-18's int8 conversion with fp32 from the app (real
ONNX Runtime runs in a child process), and check that the table, the plot and the graph show what the library
computed (the kernel's own ``app.state.comparison``). Generous waits on states that persist, no timed assertion.
"""

from __future__ import annotations

import json

import pytest

from browser_util import NotebookPage, chromium_available, lab_and_page, lab_env, open_tab, prepare_root, wait_plots_drawn

pytestmark = [pytest.mark.browser, pytest.mark.timeout(480)]


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    ok, why = chromium_available()
    if not ok:
        pytest.skip(why)
    root = prepare_root(tmp_path_factory.mktemp("lab"))
    with lab_and_page(root, env=lab_env(), width=1500) as (lab, page):
        yield NotebookPage(page, lab, "notebooks/explorer.ipynb").open(), page.explorer_errors


def test_accuracy_tab_runs_the_comparison_and_shows_the_librarys_figures(page):
    nb, errors = page
    p = nb.page
    nb.run_all()
    app = p.locator(".trex-app")
    app.wait_for(state="visible", timeout=90_000)
    open_tab(p, "Accuracy")
    form = app.locator(".widget-vbox:has(> .trex-accuracy-block)")
    form.locator(".widget-dropdown:has(label:text-is('Precision')) select").select_option("int8")
    app.locator(".trex-accuracy-block input").fill("MaxPool")
    app.locator(".trex-accuracy-run").click()
    # the result persists: the header's first-jump line and the accuracy plot
    p.wait_for_function("""() => [...document.querySelectorAll('.trex-app .trex-accuracy-jump')]
                              .some(el => el.offsetParent !== null && el.textContent.includes('first jump'))""",
                        timeout=180_000)
    p.wait_for_function("""() => [...document.querySelectorAll('.trex-app .trex-plot')]
                              .some(el => el.offsetParent !== null && el.dataset.kind === 'accuracy')""",
                        timeout=120_000)
    plots = wait_plots_drawn(p, ".trex-app", timeout=120_000)
    accuracy = [x for x in plots if x["kind"] == "accuracy"]
    assert accuracy and all(x["height"] > 50 for x in accuracy), plots
    assert any(x["kind"] == "graph" for x in plots), plots  # the graph coloured by error

    library = json.loads(nb.add_and_run(
        "import json; c = app.state.comparison\n"
        "print(json.dumps({'jump': c.first_jump.node, 'rows': [[r.index, r.rel, r.node] for r in c.rows], "
        "'why': {l.layer: l.why for l in c.layers}, 'source': c.source}))").strip().splitlines()[-1])
    drawn = p.evaluate("""() => {
        const el = [...document.querySelectorAll('.trex-app .trex-plot')]
            .find(e => e.offsetParent !== null && e.dataset.kind === 'accuracy');
        const gd = el.querySelector('.js-plotly-plot');
        const points = [], jump = [];
        for (const t of gd.data) {
            if (t.name === 'first jump') { jump.push(...t.customdata); continue; }
            t.x.forEach((x, i) => points.push([x, t.y[i], t.customdata[i]]));
        }
        return {points, jump, yaxis: gd.layout.yaxis.type, title: gd.layout.title.text};
    }""")
    assert drawn["yaxis"] == "log"
    assert sorted(map(tuple, drawn["points"])) == sorted(map(tuple, library["rows"]))
    assert drawn["jump"] == [library["jump"]]
    assert "onnxruntime" in drawn["title"]

    header = app.locator(".trex-accuracy-jump").inner_text()
    assert library["jump"] in header
    table = app.locator(".trex-accuracy-table").inner_text()
    for _, _, node in library["rows"]:
        assert node in table
    # the block list reached the conversion: MaxPool kept fp32, and the why says so in the page
    assert library["why"]["MaxPool_2"] == "kept fp32: in block list: excluded from quantization (nodes_to_exclude)"
    assert "kept fp32: in block list" in table
    assert library["source"] in app.locator(".trex-accuracy-header").inner_text()
    nb.screenshot("browser_accuracy_int8")
    assert not errors, errors
