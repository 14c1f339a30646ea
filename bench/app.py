"""How long a click takes in the app, in a real JupyterLab in headless Chromium.

The notebook's cell opens ``Explorer(resnet18)`` and imports the three bundled TensorRT fixtures (fp32, fp16,
qat) as builds. Then, several rounds of what a user does:

- ``select``: pick another build in the Build tab's Current dropdown, until the header names it;
- ``tab <name>``: click an engine tab (which has that new build to draw) until it shows the build and every
  visible plot is drawn (svg, traces, a height);
- ``back <name>``: click the tab again after another tab, nothing changed (the drawn view is kept).

Times are from ``performance.now()`` in the page (click to drawn), medians over the rounds. Goal: 0.3 s per
click (walk through the tabs measured 0.7 s before the redraws were trimmed).

``--scale`` (also run by default, after the clicks) measures the app on the 100k-node models of
bench/graphs.py ``FAMILIES`` at library level, in fresh processes, against ``python -m explorer analyze
MODEL --json`` on the same model in the same run (turns taken in alternation, best of ``--repeat``):
from ``app.load(path)`` in an app already on screen (imports done, as when a user presses Load) until the
Partitions view's graph figure is built and the call has returned (the kernel is free again). It also
prints how many points that figure draws (the view collapses scopes: never a point per node) and the
longest a second Python thread of the kernel was held off meanwhile (a 5 ms ticker's largest gap: how late a
background thread's work, e.g. a progress update, could run). Load itself runs on the calling thread, so
the kernel is busy for the whole "app s". Goal: app <= 1.5x the CLI.

Usage: python bench/app.py [--rounds 4] [--scale-only | --no-scale] [--nodes 100000] [--repeat 2]
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
SCALE_GOAL = 1.5

# One fresh process: an empty app (imports done), then Load and the Partitions view, timed.
APP_DRIVER = r"""
import json, sys, threading, time, warnings
warnings.simplefilter("ignore")
from explorer import Explorer
app = Explorer(tab="Partitions")
gaps, stop = [0.0], threading.Event()

def tick():
    last = time.perf_counter()
    while not stop.wait(0.005):
        now = time.perf_counter()
        gaps[0] = max(gaps[0], now - last)
        last = now

ticker = threading.Thread(target=tick, daemon=True)
ticker.start()
start = time.perf_counter()
app.load(sys.argv[1])
app.show("Partitions")
took = time.perf_counter() - start
stop.set()
panel = app.tabs["Partitions"].panel
figure = json.loads(panel.figure.figure_json)
points = sum(len(t.get("x") or ()) for t in figure["data"])
parser = app.state.parser_job is not None
print(json.dumps({"seconds": took, "points": points, "nodes": len(app.state.model.nodes),
                  "partitions": len(app.state.support.partitions), "gil_gap": gaps[0], "parser_job": parser}))
app.close()
"""
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


def _measure_cli(path: str) -> float:
    import subprocess
    import time

    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "explorer", "analyze", path, "--json"], stdout=subprocess.DEVNULL,
                   check=True, env=_env())
    return time.perf_counter() - start


def _measure_app(path: str) -> dict:
    import subprocess

    out = subprocess.run([sys.executable, "-c", APP_DRIVER, path], capture_output=True, text=True, env=_env())
    if out.returncode != 0:
        raise SystemExit(f"app run failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _env() -> dict:
    import os

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    return env


def scale(nodes: int, repeat: int) -> None:
    """The app on big generated models against the CLI, same run (module docstring)."""
    import os

    import onnx

    sys.path.insert(0, str(HERE))
    from graphs import FAMILIES

    print(f"\napp at scale: Load -> Partitions view built, vs `analyze --json`, ~{nodes} nodes "
          f"(best of {repeat}, load {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores)")
    print(f"{'family':<22} {'nodes':>7} {'cli s':>7} {'app s':>7} {'ratio':>6} {'points':>7} {'partitions':>10} "
          f"{'GIL held s':>10}")
    ratios = []
    with tempfile.TemporaryDirectory(prefix="bench-app-scale-") as tmp:
        for family, make in FAMILIES.items():
            path = os.path.join(tmp, f"{family}.onnx")
            onnx.save(make(nodes), path)
            clis, apps = [], []
            for _ in range(repeat):  # in turn: a burst of load hits both alike
                clis.append(_measure_cli(path))
                apps.append(_measure_app(path))
            app = min(apps, key=lambda r: r["seconds"])
            cli = min(clis)
            ratios.append((family, app["seconds"] / cli))
            print(f"{family:<22} {app['nodes']:>7} {cli:>7.2f} {app['seconds']:>7.2f} {app['seconds'] / cli:>6.2f} "
                  f"{app['points']:>7} {app['partitions']:>10} {max(r['gil_gap'] for r in apps):>10.3f}")
    print("app / cli: " + ", ".join(f"{f} {r:.2f}x" for f, r in ratios) + f"  (goal <= {SCALE_GOAL}x; "
          f"the real-parser job {'runs' if app['parser_job'] else 'does not run'} in the background meanwhile)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--scale-only", action="store_true", help="only the big-model measurement")
    parser.add_argument("--no-scale", action="store_true", help="only the clicks in the browser")
    parser.add_argument("--nodes", type=int, default=100000)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    if args.scale_only:
        scale(args.nodes, args.repeat)
        return 0
    code = clicks(args)
    if not args.no_scale:
        scale(args.nodes, args.repeat)
    return code


def clicks(args) -> int:
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
