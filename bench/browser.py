"""How fast is the Partitions graph in a real browser, for big models?

For decoder-style models of 10k and 100k nodes (``bench/graphs.py``) this opens a notebook in JupyterLab in
headless Chromium whose one cell is ``Explorer(model, tab="Partitions")``, runs it, and measures in the
page (``performance.now()``):

- ``cell``: kernel time of the cell (load, analysis, scope tree and the first figure), printed by the cell;
- ``drawn``: from the cell finishing to the graph drawn (``.trex-plot[data-trex-ready]``);
- ``interactive``: from the cell finishing to the first hover label answering a mouse move on a node;
- ``expand``: a click on a collapsed scope until the redrawn graph is there.

Targets: interactive within 3 s at 10k nodes and 10 s at 100k (Netron: ~16 s at 10k in the same browser;
``--netron`` measures it here too). Needs /usr/bin/chromium (``make browser``) and the playwright package.

Usage: python bench/browser.py [--sizes 10000 100000] [--netron] [--screenshots DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO / "tests"))

from graphs import decoder_model  # noqa: E402

from browser_util import JupyterLab, NotebookPage, chromium_available, lab_env, launch_chromium  # noqa: E402

TARGETS = {10_000: 3.0, 100_000: 10.0}

CELL = """import time
_t = time.perf_counter()
from explorer import Explorer
app = Explorer({path!r}, tab="Partitions")
print(f"cell {{time.perf_counter() - _t:.3f}} s")
app"""

READY = """() => {
  const el = document.querySelector('.trex-app .trex-plot[data-trex-ready="1"]');
  return el && el.offsetParent !== null ? performance.now() : false;
}"""

POINT = """(k) => {
  const gd = document.querySelector('.trex-app .trex-plot[data-trex-ready="1"] .js-plotly-plot');
  const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, tr = gd._fullData[1];
  const box = gd.getBoundingClientRect();
  return [box.left + xa._offset + xa.l2p(tr.x[k]), box.top + ya._offset + ya.l2p(tr.y[k])];
}"""

HOVER = """() => {
  const h = document.querySelector('.trex-app .trex-plot .hoverlayer .hovertext');
  return h ? performance.now() : false;
}"""


def write_notebook(path: Path, model_path: Path) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(CELL.format(path=str(model_path)))]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def measure(page, lab: JupyterLab, notebook: str, shots: Path | None, size: int) -> dict:
    nb = NotebookPage(page, lab, notebook).open()
    nb.command("notebook:run-all-cells")
    finished = page.wait_for_function(
        """() => {
            const w = window.jupyterapp.shell.currentWidget;
            const c = w && w.content && w.content.widgets[0];
            if (!c || c.model.executionCount === null) return false;
            const outs = c.model.outputs.toJSON();
            if (outs.some(o => o.output_type === 'error')) return -1;
            return outs.length > 1 ? performance.now() : false;
        }""", timeout=float(os.environ.get("BENCH_CELL_TIMEOUT", 300)) * 1000, polling=20).json_value()
    if finished == -1:
        error = page.evaluate("""() => window.jupyterapp.shell.currentWidget.content.widgets[0].model.outputs.toJSON()
                                 .filter(o => o.output_type === 'error').map(o => o.ename + ': ' + o.evalue).join('; ')""")
        raise RuntimeError(f"the benchmark cell failed: {error}")
    drawn = page.wait_for_function(READY, timeout=120_000, polling=20).json_value()
    # interactive: hover the first node and wait for plotly's hover label
    x, y = page.evaluate(POINT, 0)
    page.mouse.move(x + 40, y + 40)
    page.mouse.move(x, y)
    hovered = page.wait_for_function(HOVER, timeout=60_000, polling=10).json_value()
    out_text = page.evaluate("() => window.jupyterapp.shell.currentWidget.content.widgets[0].model.outputs.get(0).toJSON().text")
    cell_s = float(str(out_text).split()[1])
    # expand a collapsed scope (first item) by clicking it
    revision = page.evaluate("() => document.querySelector('.trex-app .trex-plot').dataset.revision")
    t0 = page.evaluate("() => performance.now()")
    page.mouse.click(x, y)
    page.wait_for_function("(r) => document.querySelector('.trex-app .trex-plot').dataset.revision !== r",
                           arg=revision, timeout=120_000, polling=20)
    expanded = page.evaluate("() => performance.now()")
    items = page.evaluate("() => document.querySelector('.trex-app .trex-plot .js-plotly-plot')._fullData[1].x.length")
    if shots:
        shots.mkdir(parents=True, exist_ok=True)
        nb.screenshot(f"bench_partitions_{size}", shots)
    return {"cell_s": cell_s, "drawn_s": (drawn - finished) / 1000, "interactive_s": (hovered - finished) / 1000,
            "expand_s": (expanded - t0) / 1000, "items_after_expand": items}


def measure_netron(page, model_path: Path) -> float:
    import netron

    from explorer.widgets.netron_view import free_port

    port = free_port()
    address = netron.serve(str(model_path), address=("127.0.0.1", port), browse=False)
    try:  # Netron's page forbids eval, so this is timed with the Python clock, page load included
        t0 = time.perf_counter()
        page.goto(f"http://127.0.0.1:{port}/")
        try:  # the cookie-consent button, once per browser profile
            page.locator("#message-button").click(timeout=20_000)
        except Exception:  # noqa: BLE001
            pass
        page.wait_for_selector("#canvas g.node", timeout=300_000)
        return time.perf_counter() - t0
    finally:
        netron.stop(address)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--netron", action="store_true", help="also time Netron on the smallest model")
    parser.add_argument("--screenshots", default=None, help="folder for a screenshot per size")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = parser.parse_args()
    ok, why = chromium_available()
    if not ok:
        print(f"cannot run: {why}", file=sys.stderr)
        return 2
    import onnx
    from playwright.sync_api import sync_playwright

    shots = Path(args.screenshots) if args.screenshots else None
    results = {}
    with tempfile.TemporaryDirectory(prefix="explorer-bench-") as tmp:
        root = Path(tmp)
        for size in args.sizes:
            model_path = root / f"decoder_{size}.onnx"
            onnx.save(decoder_model(size), str(model_path))
            write_notebook(root / f"bench_{size}.ipynb", model_path)
        with JupyterLab(root, env=lab_env()) as lab, sync_playwright() as pw:
            browser = launch_chromium(pw)
            try:
                for size in args.sizes:
                    page = browser.new_page(viewport={"width": 1500, "height": 1000})
                    try:
                        results[size] = measure(page, lab, f"bench_{size}.ipynb", shots, size)
                    except Exception:
                        page.screenshot(path=str((shots or Path(tmp)) / f"bench_failed_{size}.png"))
                        print(lab.log()[-2000:], file=sys.stderr)
                        raise
                    page.evaluate("() => window.jupyterapp.commands.execute('kernelmenu:shutdown')")
                    page.close()
                if args.netron:
                    page = browser.new_page(viewport={"width": 1500, "height": 1000})
                    results["netron"] = {"size": min(args.sizes),
                                         "drawn_s": measure_netron(page, root / f"decoder_{min(args.sizes)}.onnx")}
                    page.close()
            finally:
                browser.close()
    print(f"{'nodes':>8} {'cell s':>8} {'drawn s':>8} {'interactive s':>14} {'target s':>9} {'expand s':>9}")
    for size in args.sizes:
        r = results[size]
        target = TARGETS.get(size)
        verdict = "" if target is None else ("  ok" if r["interactive_s"] <= target else "  MISSED")
        print(f"{size:>8} {r['cell_s']:>8.2f} {r['drawn_s']:>8.2f} {r['interactive_s']:>14.2f} "
              f"{target if target else '-':>9} {r['expand_s']:>9.2f}{verdict}")
    if "netron" in results:
        print(f"Netron on {results['netron']['size']} nodes: graph drawn {results['netron']['drawn_s']:.2f} s after "
              "opening its page")
    for size in args.sizes:
        print(f"  {size} nodes: {results[size]['items_after_expand']} items drawn after expanding the first scope")
    print("drawn / interactive: from the cell finishing to the graph drawn / answering a hover, in the page's clock")
    if args.json:
        print(json.dumps({str(k): v for k, v in results.items()}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
