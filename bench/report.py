"""The HTML report of a typical session: its size and how long it takes to open (all plots drawn).

The session, through the app's own API (``Explorer``): a transformer with an imported fixture, then
ResNet-18 with the A100 fp32 and fp16 fixtures and one ONNX Runtime fp32 build, then Export. The file
is opened from disk in headless Chromium (Debian's /usr/bin/chromium through Playwright); "open" is the
time from navigation to every plot on the page drawn (``.main-svg`` in each plot div).

    python bench/report.py [--keep report.html]

Prints figures only; no pass/fail (speed is not asserted in the tests).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

#: every plot div of the report drawn: the report's own marker, or (older reports) one svg per plot div
DRAWN_JS = """() => {
  const marker = document.body.getAttribute('data-plots');
  if (marker !== null) return marker;
  const divs = [...document.querySelectorAll('div.plotly-graph-div')];
  return divs.length && divs.every(d => d.querySelector('.main-svg')) ? divs.length + '/' + divs.length : null;
}"""


def session_report(path: str) -> tuple[str, float]:
    os.environ.setdefault("EXPLORER_FIXTURES", str(REPO / "tests" / "fixtures" / "trt"))
    from explorer.widgets import Explorer

    samples = REPO / "sample_models"
    app = Explorer()
    try:
        app.load(str(samples / "transformer_encoder.onnx"))
        app.import_fixture("a100_resnet_qat")
        app.load(str(samples / "resnet18.onnx"))
        app.import_fixture("a100_resnet_fp32")
        app.import_fixture("a100_resnet_fp16")
        app.build(backend="onnxruntime", precision="fp32", runs=20, wait=True, timeout=600)
        started = time.perf_counter()
        written = app.export(path)
        return written, time.perf_counter() - started
    finally:
        app.close()


def open_time(path: str) -> tuple[float, str, int, list[str]]:
    from browser_util import launch_chromium
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            console: list[str] = []
            page.on("console", lambda m: console.append(m.text))
            started = time.perf_counter()
            page.goto(Path(path).resolve().as_uri())
            drawn = page.wait_for_function(DRAWN_JS, timeout=180_000, polling=50).json_value()
            took = time.perf_counter() - started
            gl = page.evaluate("document.querySelectorAll('canvas.gl-canvas, .gl-container canvas').length")
            errors = [m for m in console if "WebGL" in m or "error" in m.lower()]
            return took, drawn, gl, errors
        finally:
            browser.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", default=None, help="write the report here (default: a temporary file)")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="bench-report-")
    path = args.keep or os.path.join(folder, "session.report.html")
    written, write_s = session_report(path)
    size = os.path.getsize(written)
    took, drawn, gl, errors = open_time(written)
    print(f"report of a typical session: {size / 2**20:.2f} MiB ({size} bytes), written in {write_s:.1f} s")
    print(f"open in headless Chromium: {took:.2f} s to {drawn} plots drawn; {gl} WebGL canvases; "
          f"{len(errors)} WebGL/error console messages" + (f" (first: {errors[0][:120]})" if errors else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
