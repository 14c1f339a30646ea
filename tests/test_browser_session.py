"""A whole session in a real JupyterLab (headless Chromium), as a user works: not components, the sequence.

Two models, several small ONNX Runtime builds, the current build switched between them, every engine tab
opened after each step; the assertions read what the page shows (the header's model and current build, the
plots drawn with a height, the Layers table's numbers) and compare them with the library's figures for that
build, read from the kernel. Waits have generous timeouts; nothing is timed (speed is ``bench/app.py``).
"""

from __future__ import annotations

import json

import pytest

from browser_util import (NotebookPage, chromium_available, prepare_root, wait_plots_drawn, lab_and_page,
                         open_tab)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

NOTEBOOK = {
    "cells": [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
               "source": 'from explorer import Explorer\n\napp = Explorer("../sample_models/resnet18.onnx")\napp'}],
    "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
    "nbformat": 4, "nbformat_minor": 5,
}
ENGINE_TABS = ("Tactics", "Memory", "Layers", "Compare")
# the Layers table's first latency cell (columns: layer, type, precision, latency) equals ``want``
FIRST_LATENCY_IS = """(want) => {
  const table = [...document.querySelectorAll('.trex-app .trex-scroll .trex-table')].find(t => t.offsetParent);
  const cell = table && table.querySelector('tbody tr td:nth-child(4)');
  return cell && cell.innerText.trim() === want;
}"""
# whether the visible tab's text contains one of the "|"-separated strings (plot titles count: svg text)
VISIBLE_TEXT_HAS = """(want) => {
  const panel = [...document.querySelectorAll('.trex-app .widget-tab-contents > *')]
      .find(p => !p.classList.contains('lm-mod-hidden') && p.offsetParent !== null)
      || document.querySelector('.trex-app .widget-tab');
  if (!panel) return false;
  const text = panel.innerText + ' ' + [...panel.querySelectorAll('svg text')].map(t => t.textContent).join(' ');
  return want.split('|').some(w => text.includes(w));
}"""


@pytest.fixture(scope="module")
def lab_page(tmp_path_factory):
    ok, why = chromium_available()
    if not ok:
        pytest.skip(why)

    root = prepare_root(tmp_path_factory.mktemp("lab"), notebooks=False)
    (root / "work").mkdir()
    (root / "work" / "session.ipynb").write_text(json.dumps(NOTEBOOK))
    with lab_and_page(root, timeout_ms=90_000) as (lab, page):
        yield root, lab, page


def _shot(nb: NotebookPage, name: str) -> None:
    """A screenshot of the app to tests/artifacts/ (gitignored), for a person to look at."""
    nb.page.evaluate("() => document.querySelector('.trex-app').scrollIntoView()")
    nb.screenshot(f"session_{name}")



def _select(page, label: str):
    return page.locator(f".trex-app .widget-dropdown:has(label:text-is('{label}')) select").first


def _header(page) -> str:
    return page.locator(".trex-app .trex-model").first.evaluate("(m) => m.parentElement.innerText")


def _wait_header(page, text: str) -> None:
    page.wait_for_function(
        "(t) => { const m = document.querySelector('.trex-app .trex-model');"
        " return m && m.parentElement.innerText.includes(t); }", arg=text, timeout=90_000)


def _library(nb: NotebookPage, expr: str):
    """A value from the kernel's app, as JSON (the library's figure for what the page shows)."""
    out = nb.add_and_run(f"import json as _j\nprint(_j.dumps({expr}))")
    return json.loads(out.strip().splitlines()[-1])


def _build(page, precision: str, expect: str) -> None:
    open_tab(page, "Build")
    _select(page, "Precision").select_option(precision)
    page.locator(".trex-app button:text-is('Build')").first.click()
    page.wait_for_function(
        """(name) => { const p = document.querySelector('.trex-app .trex-phase');
                       return p && p.dataset.state === 'done' && p.innerText.includes(name); }""",
        arg=expect, timeout=180_000)
    _wait_header(page, expect)  # the newest build is the current one


def _every_engine_tab(page, nb: NotebookPage, build: str, model: str) -> None:
    """Open each engine tab: the header names model and build, plots are drawn, the Layers table's first
    latency is the library's figure for this build."""
    for name in ENGINE_TABS:
        open_tab(page, name)
        header = _header(page)
        assert build in header and model in header, header
        # the tab has drawn this build (not the last one it showed): its visible text names it
        want = build if name != "Compare" else "Compare needs|Totals"
        try:
            page.wait_for_function(VISIBLE_TEXT_HAS, arg=want, timeout=90_000)
        except Exception as exc:  # say what the tab showed instead
            shown = page.evaluate(VISIBLE_TEXT_HAS.replace("return want.split('|').some(w => text.includes(w));",
                                                           "return text.slice(0, 600);"), want)
            raise AssertionError(f"{name} tab does not show {want!r}: {shown!r}") from exc
        if name == "Compare" and page.locator(".trex-app .trex-msg-info:visible",
                                              has_text="needs two builds").count():
            continue
        if name == "Tactics":  # ONNX Runtime does not autotune: a table of providers per node, no plot
            page.locator(".trex-app .trex-msg-info:visible", has_text="does not autotune").first.wait_for()
            head = page.locator(".trex-app .trex-table:visible thead").first.inner_text()
            assert "execution provider" in head and "tactic" not in head, head
            continue
        plots = wait_plots_drawn(page, timeout=90_000)
        assert plots and all(p["height"] > 0 for p in plots), plots
        if name == "Layers":
            expected = _library(nb, "__import__('explorer.plots.format', fromlist=['x']).fmt_number("
                                    "app.state.current_build.report.layers[0].latency_ms)")
            try:  # the table is filled after the head and the plots: wait for this build's first row
                page.wait_for_function(FIRST_LATENCY_IS, arg=expected, timeout=90_000)
            except Exception as exc:
                shown = page.evaluate(FIRST_LATENCY_IS.replace("return cell && cell.innerText.trim() === want;",
                                                               "return cell && cell.innerText;"), expected)
                known = _library(nb, "[app.state.current, {n: b.report.layers[0].latency_ms for n, b in "
                                     "app.builds.items()}]")
                raise AssertionError(f"Layers table shows {shown!r}, the library {expected!r}: {known}") from exc
            stat = _library(nb, "app.state.current_build.report.latency_statistic")
            head = page.locator(".trex-app .trex-scroll:visible .trex-table thead").first.inner_text()
            assert f"{stat} ms" in head, head


def test_a_session_with_two_models_and_several_builds(lab_page):
    root, lab, page = lab_page
    nb = NotebookPage(page, lab, "work/session.ipynb").open()
    nb.run_all()
    page.locator(".trex-app").wait_for(state="visible", timeout=120_000)
    _wait_header(page, "resnet18.onnx")

    open_tab(page, "Build")
    _select(page, "Backend").select_option(label="ONNX Runtime (CPU)")
    runs = page.locator(".trex-app .widget-inline-hbox:has(label:text-is('Runs')) input").first
    runs.fill("3")
    runs.press("Enter")
    warmup = page.locator(".trex-app .widget-inline-hbox:has(label:text-is('Warm-up')) input").first
    warmup.fill("1")
    warmup.press("Enter")

    names = ["resnet18 · build 1: onnxruntime fp32", "resnet18 · build 2: onnxruntime fp16",
             "resnet18 · build 3: onnxruntime fp32"]
    _build(page, "fp32", names[0])
    _every_engine_tab(page, nb, names[0], "resnet18.onnx")
    _build(page, "fp16", names[1])
    # the build's notes show in the Build tab (ONNX Runtime's fp16 on CPU computes mostly in fp32)
    page.locator(".trex-app .trex-notes:visible", has_text="compute in fp32").first.wait_for()
    _every_engine_tab(page, nb, names[1], "resnet18.onnx")

    # the user picks build 1: header and every tab show it; the next build becomes current
    open_tab(page, "Build")
    _select(page, "Current").select_option(names[0])
    _wait_header(page, names[0])
    _every_engine_tab(page, nb, names[0], "resnet18.onnx")
    _build(page, "fp32", names[2])
    _every_engine_tab(page, nb, names[2], "resnet18.onnx")
    assert _library(nb, "app.state.current") == names[2]

    # a second model: no build of it is current until one finishes; its build is named with it
    open_tab(page, "Model")
    path = page.locator(".trex-app .widget-text:has(label:text-is('Path')) input").first
    path.fill(str(root / "sample_models" / "transformer_encoder.onnx"))
    page.locator(".trex-app button:text-is('Load')").first.click()
    _wait_header(page, "transformer_encoder.onnx")
    assert "no build of this model yet" in _header(page)
    other = "transformer_encoder · build 1: onnxruntime fp32"
    _build(page, "fp32", other)
    _every_engine_tab(page, nb, other, "transformer_encoder.onnx")
    # Compare offers builds of this model only: one build, so nothing to pair (and it says so)
    open_tab(page, "Compare")
    page.locator(".trex-app .trex-msg-info:visible", has_text="same model").first.wait_for()
    options = _select(page, "B").evaluate("(s) => [...s.options].map(o => o.value)")
    assert all(o.startswith("transformer_encoder") for o in options), options

    # back to resnet18: its newest build is current, Compare pairs two of its builds and judges the noise
    open_tab(page, "Model")
    path.fill(str(root / "sample_models" / "resnet18.onnx"))
    page.locator(".trex-app button:text-is('Load')").first.click()
    _wait_header(page, names[2])
    open_tab(page, "Compare")
    page.locator(".trex-app .trex-noise").first.wait_for(state="attached")
    text = page.locator(".trex-app .trex-msg-warning:visible, .trex-app .trex-msg-info:visible",
                        has_text="run-to-run noise").first.inner_text()
    assert "p10–p90" in text
    plots = wait_plots_drawn(page, timeout=90_000)
    assert [p["kind"] for p in plots] == ["compare_totals", "compare_latency"]
    _shot(nb, "compare")
    open_tab(page, "Layers")
    page.wait_for_function(VISIBLE_TEXT_HAS, arg=names[2], timeout=90_000)
    wait_plots_drawn(page, timeout=90_000)
    _shot(nb, "layers")
    open_tab(page, "Build")
    wait_plots_drawn(page, timeout=90_000)
    _shot(nb, "build")
    nb.add_and_run("app.close()", expect_output=False)
