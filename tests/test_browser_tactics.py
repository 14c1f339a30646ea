"""The Tactics tab can be demoed from what ships (issue 11 item 12), in real JupyterLab + Chromium.

Import the real A100 fp32 exports in the Build tab: the Tactics tab draws the tactic TensorRT chose per layer
with a real kernel name from the fixture's layer information. Then import the bundled verbose-log format sample:
the timed-tactics plot draws and the tab says its values are illustrative. Generous waits, no timed assertion.
"""

from __future__ import annotations

import json

import pytest

from browser_util import (REPO, NotebookPage, chromium_available, lab_env, prepare_root, wait_plots_drawn,
                         lab_and_page, open_tab)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(420)]

FIXTURES = REPO / "tests" / "fixtures" / "trt"
SAMPLE = "trt8_tactics_format_sample"


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    ok, why = chromium_available()
    if not ok:
        pytest.skip(why)
    if not (FIXTURES / "a100_resnet_fp32.graph.json").is_file() or not (FIXTURES / f"{SAMPLE}.log").is_file():
        pytest.skip(f"the A100 fp32 fixture or {SAMPLE}.log is not in {FIXTURES}")

    root = prepare_root(tmp_path_factory.mktemp("lab"))
    env = lab_env()
    env["EXPLORER_FIXTURES"] = str(FIXTURES)
    with lab_and_page(root, env=env, width=1400) as (lab, page):
        yield NotebookPage(page, lab, "notebooks/explorer.ipynb").open(), page.explorer_errors



def _import_fixture(page, label: str) -> None:
    open_tab(page, "Build")
    app = page.locator(".trex-app")
    app.locator(".widget-dropdown:has(label:text-is('Fixture')) select").select_option(label=label)
    app.locator("button:text-is('Import fixture')").click()


def _visible_text(page, selector: str) -> str:
    return page.evaluate("""(sel) => [...document.querySelectorAll(sel)].filter(el => el.offsetParent !== null)
                                  .map(el => el.textContent).join('\\n')""", selector)


def test_tactics_tab_from_the_a100_exports_and_the_format_sample(page):
    nb, errors = page
    p = nb.page
    nb.run_all()
    p.locator(".trex-app").wait_for(state="visible", timeout=90_000)
    where = nb.add_and_run("import explorer; print(explorer.__file__)")
    assert str(REPO / "explorer") in where, where  # this tree's explorer

    layers = json.loads((FIXTURES / "a100_resnet_fp32.graph.json").read_text())["Layers"]
    kernel = next(layer["TacticName"] for layer in layers if layer["Name"] == "Conv_0 + Relu_1")

    # real exports: the chosen tactic per layer, a real kernel name on the drawn plot
    _import_fixture(p, "a100_resnet_fp32")
    open_tab(p, "Tactics")
    p.wait_for_function("""() => [...document.querySelectorAll('.trex-app .trex-plot')]
                              .some(el => el.offsetParent !== null && el.dataset.kind === 'chosen_tactics')""",
                        timeout=90_000)
    plots = wait_plots_drawn(p, ".trex-app", timeout=90_000)
    chosen = [x for x in plots if x["kind"] == "chosen_tactics"]
    assert chosen and all(x["height"] > 50 for x in chosen), plots
    p.wait_for_function("""(k) => [...document.querySelectorAll('.trex-app .trex-plot')]
                              .some(el => el.offsetParent !== null && el.dataset.kind === 'chosen_tactics'
                                          && el.querySelector('svg.main-svg') && el.textContent.includes(k))""",
                        arg=kernel, timeout=60_000)
    assert "only in a verbose build log" in _visible_text(p, ".trex-app .trex-msg-info")
    nb.screenshot("browser_tactics_a100_fp32")  # tests/artifacts/, for a person to look at

    # the format sample: the timed-tactics plot, labelled illustrative
    _import_fixture(p, f"{SAMPLE} (format sample: illustrative values, not measured)")  # its list entry says so
    open_tab(p, "Tactics")
    p.wait_for_function("""() => [...document.querySelectorAll('.trex-app .trex-plot')]
                              .some(el => el.offsetParent !== null && el.dataset.kind === 'tactics')""",
                        timeout=90_000)
    plots = wait_plots_drawn(p, ".trex-app", timeout=90_000)
    assert [x for x in plots if x["kind"] == "tactics" and x["height"] > 50], plots
    label = "format sample (illustrative values, not measured)"
    p.wait_for_function("""(label) => [...document.querySelectorAll('.trex-app .trex-plot')]
                              .some(el => el.offsetParent !== null && el.dataset.kind === 'tactics'
                                          && el.textContent.includes(label))""", arg=label, timeout=60_000)
    assert label in _visible_text(p, ".trex-app .trex-source")  # the tab's header and table say it too
    nb.screenshot("browser_tactics_format_sample")
    assert not errors, errors
    nb.add_and_run("app.close()", expect_output=False)
