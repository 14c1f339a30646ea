"""How long a click takes in the app, in a real JupyterLab in headless Chromium.

The notebook's cell opens ``Explorer(resnet18)`` and imports the three bundled TensorRT fixtures (fp32, fp16,
qat) as builds. Then, several rounds of what a user does:

- ``select``: pick another build in the Build tab's Current dropdown, until the header names it;
- ``tab <name>``: click an engine tab (which has that new build to draw) until it shows the build and every
  visible plot is drawn (svg, traces, a height);
- ``back <name>``: click the tab again after another tab, nothing changed (the drawn view is kept).

Times are from ``performance.now()`` in the page (click to drawn), medians over the rounds. Goal: 0.3 s per
click (walk through the tabs measured 0.7 s before the redraws were trimmed).

Usage: python bench/app.py [--rounds 4]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "tests"))

from browser_util import (PLOTS_DRAWN_JS, JupyterLab, NotebookPage, chromium_available, lab_env,  # noqa: E402
                          launch_chromium, prepare_root)

GOAL_S = 0.3
TABS = ("Layers", "Memory", "Tactics", "Compare")
FIXTURES = ("a100_resnet_fp32", "a100_resnet_fp16", "a100_resnet_qat")

CELL = ("from explorer import Explorer\n"
        "app = Explorer('../sample_models/resnet18.onnx')\n"
        + "".join(f"app.import_fixture({name!r})\n" for name in FIXTURES)
        + "app")

# performance.now() once the visible tab names ``want`` and all its visible plots are drawn, else false
DRAWN = """(want) => {
  const panel = [...document.querySelectorAll('.trex-app .widget-tab-contents > *')]
      .find(p => !p.classList.contains('lm-mod-hidden') && p.offsetParent !== null);
  if (!panel) return false;
  const text = panel.innerText + ' ' + [...panel.querySelectorAll('svg text')].map(t => t.textContent).join(' ');
  if (want && !text.includes(want)) return false;
  if (panel.querySelector('.trex-plot')) {
    const r = (%s)('.trex-app');
    if (!r || !r.ok) return false;
  }
  return performance.now();
}""" % PLOTS_DRAWN_JS

HEADER_IS = """(want) => {
  const m = document.querySelector('.trex-app .trex-current');
  return m && m.innerText.includes(want) ? performance.now() : false;
}"""


def click_tab(page, name: str, want: str | None) -> float:
    t0 = page.evaluate("() => performance.now()")
    page.locator(".trex-app .lm-TabBar-tab", has_text=name).first.click()
    t1 = page.wait_for_function(DRAWN, arg=want, timeout=120_000, polling="raf").json_value()
    return (t1 - t0) / 1000


def select_build(page, name: str) -> float:
    select = page.locator(".trex-app .widget-dropdown:has(label:text-is('Current')) select").first
    t0 = page.evaluate("() => performance.now()")
    select.select_option(name)
    t1 = page.wait_for_function(HEADER_IS, arg=name, timeout=120_000, polling="raf").json_value()
    return (t1 - t0) / 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    ok, why = chromium_available()
    if not ok:
        print(f"skipped: {why}")
        return 0
    from playwright.sync_api import sync_playwright

    times: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-app-") as tmp:
        root = prepare_root(Path(tmp), notebooks=False)
        (root / "work").mkdir()
        (root / "work" / "app.ipynb").write_text(json.dumps({
            "cells": [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": CELL}],
            "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
            "nbformat": 4, "nbformat_minor": 5}))
        with JupyterLab(root, env=lab_env()) as lab, sync_playwright() as pw:
            browser = launch_chromium(pw)
            page = browser.new_page(viewport={"width": 1500, "height": 1000})
            nb = NotebookPage(page, lab, "work/app.ipynb").open()
            nb.run_all()
            page.locator(".trex-app").wait_for(state="visible", timeout=120_000)
            for name in TABS:  # first draws (widget views created): not what a click costs later
                click_tab(page, name, None)
            for r in range(args.rounds):
                build = FIXTURES[r % len(FIXTURES)]
                click_tab(page, "Build", None)
                times.setdefault("select", []).append(select_build(page, build))
                for name in TABS:
                    times.setdefault(f"tab {name}", []).append(click_tab(page, name, build))
                for name in TABS:
                    times.setdefault(f"back {name}", []).append(click_tab(page, name, build))
            browser.close()
    print(f"app clicks in headless Chromium, medians of {args.rounds} rounds (click to drawn):")
    for key, values in times.items():
        print(f"  {key:<16} {statistics.median(values):6.3f} s   (min {min(values):.3f}, max {max(values):.3f})")
    redraws = [statistics.median(v) for k, v in times.items() if k.startswith("tab ")]
    walk = statistics.median([x for k, v in times.items() if k.startswith("tab ") for x in v])
    print(f"tab switch with a new build to draw: median {walk:.3f} s (goal {GOAL_S} s); "
          f"slowest tab {max(redraws):.3f} s; build select {statistics.median(times['select']):.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
