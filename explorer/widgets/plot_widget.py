"""A light plotly widget: plotly.js is sent to the browser once per page, not once per figure.

plotly's own ``FigureWidget`` ships its 5 MB bundle with every instance (an anywidget ESM per model), so
a tab with three figures moved 15 MB over the websocket and parsed it three times. Here the per-figure
ESM is a few lines; the first figure on a page asks the kernel for plotly.js (one custom message),
injects it as a script, and every later figure reuses ``window.Plotly``.

Python -> browser: ``figure_json`` (the whole figure, drawn with ``Plotly.react``) and ``patches_json``
(small restyles applied on top, e.g. the selection ring). Browser -> Python: clicks, delivered to the
callbacks registered with :meth:`PlotWidget.on_click` as ``(trace_index, point_index, customdata)``.
"""

from __future__ import annotations

import json
from typing import Any, Callable

import anywidget
import traitlets

_ESM = r"""
function injectPlotly(source) {
  return new Promise((resolve, reject) => {
    const url = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
    const script = document.createElement("script");
    script.src = url;
    script.onload = () => { URL.revokeObjectURL(url); resolve(window.Plotly); };
    script.onerror = (e) => { URL.revokeObjectURL(url); reject(e); };
    document.head.appendChild(script);
  });
}

function ensurePlotly(model) {
  if (window.Plotly && window.Plotly.react) return Promise.resolve(window.Plotly);
  if (!window.__trexPlotly) {
    window.__trexPlotly = new Promise((resolve, reject) => {
      const onMsg = (msg) => {
        if (msg && msg.type === "plotly-js") {
          model.off("msg:custom", onMsg);
          injectPlotly(msg.source).then(resolve, reject);
        }
      };
      model.on("msg:custom", onMsg);
      model.send({ type: "need-plotly" });
      setTimeout(() => reject(new Error("plotly.js did not arrive")), 120000);
    }).catch((e) => { window.__trexPlotly = null; throw e; });
  }
  return window.__trexPlotly;
}

function parse(text, fallback) {
  try { return JSON.parse(text); } catch (e) { return fallback; }
}

async function render({ model, el }) {
  el.classList.add("trex-plot");
  const div = document.createElement("div");
  div.className = "trex-plot-div";
  div.style.width = "100%";
  el.appendChild(div);
  let Plotly;
  try {
    Plotly = await ensurePlotly(model);
  } catch (e) {
    div.textContent = "plotly.js could not be loaded: " + e;
    return;
  }
  let listening = false;
  const draw = async () => {
    const fig = parse(model.get("figure_json"), {});
    const layout = fig.layout || {};
    const config = Object.assign({ responsive: true, displaylogo: false, scrollZoom: true }, fig.config || {});
    await Plotly.react(div, fig.data || [], layout, config);
    for (const patch of parse(model.get("patches_json"), [])) {
      await Plotly.restyle(div, patch.update, patch.traces);
    }
    const meta = layout.meta || {};
    el.dataset.kind = meta.kind || "";
    el.dataset.trexReady = "1";
    el.dataset.revision = String((parseInt(el.dataset.revision || "0", 10) + 1));
    if (!listening && div.on) {
      listening = true;
      div.on("plotly_click", (data) => {
        const p = data && data.points && data.points[0];
        if (!p) return;
        const point = p.pointNumber !== undefined ? p.pointNumber : p.pointIndex;
        model.send({ type: "click", trace: p.curveNumber, point: Array.isArray(point) ? point[0] : point,
                     customdata: p.customdata === undefined ? null : p.customdata });
      });
    }
  };
  const redraw = () => { draw().catch((e) => { el.dataset.error = String(e); }); };
  model.on("change:figure_json", redraw);
  model.on("change:patches_json", redraw);
  const observer = new ResizeObserver(() => { if (div.data) Plotly.Plots.resize(div); });
  observer.observe(el);
  await draw().catch((e) => { el.dataset.error = String(e); });
  return () => {
    observer.disconnect();
    model.off("change:figure_json", redraw);
    model.off("change:patches_json", redraw);
    try { Plotly.purge(div); } catch (e) { /* already gone */ }
  };
}

export default { render };
"""

_PLOTLY_JS: str | None = None


def _plotly_js() -> str:
    global _PLOTLY_JS
    if _PLOTLY_JS is None:
        from plotly.offline import get_plotlyjs

        _PLOTLY_JS = get_plotlyjs()
    return _PLOTLY_JS


class PlotWidget(anywidget.AnyWidget):
    """Shows one plotly figure; ``set_figure`` replaces it, ``restyle`` patches it, clicks call back."""

    _esm = _ESM
    _css = ".trex-plot { width: 100%; min-height: 40px; }"
    figure_json = traitlets.Unicode("{}").tag(sync=True)
    patches_json = traitlets.Unicode("[]").tag(sync=True)

    def __init__(self, figure=None, **kwargs) -> None:
        super().__init__(**kwargs)
        self._click_callbacks: list[Callable[[int, int, Any], None]] = []
        self.figure = None
        self.patches: list[dict] = []
        self.on_msg(self._handle_message)
        if figure is not None:
            self.set_figure(figure)

    # ------------------------------------------------------------------ python -> browser
    def set_figure(self, figure) -> None:
        """Draw ``figure`` (a go.Figure or a figure dict); clears patches."""
        from plotly.io.json import to_json_plotly

        self.figure = figure
        self.patches = []
        if isinstance(figure, str):
            text = figure
        elif isinstance(figure, dict):
            text = to_json_plotly(figure)
        else:
            text = to_json_plotly(figure.to_plotly_json())
        with self.hold_sync():
            self.patches_json = "[]"
            self.figure_json = text

    def restyle(self, update: dict, traces: list[int]) -> None:
        """Apply ``Plotly.restyle(update, traces)`` on top of the figure (kept across redraws)."""
        from plotly.io.json import to_json_plotly

        patch = {"update": update, "traces": list(traces)}
        # one patch per trace set: a newer restyle of the same traces replaces the older one
        self.patches = [p for p in self.patches if p["traces"] != patch["traces"]] + [patch]
        self.patches_json = to_json_plotly(self.patches)

    # ------------------------------------------------------------------ browser -> python
    def on_click(self, callback: Callable[[int, int, Any], None]) -> None:
        self._click_callbacks.append(callback)

    def click(self, trace: int, point: int, customdata: Any = None) -> None:
        """What a click in the browser does (also for scripts and tests)."""
        for callback in list(self._click_callbacks):
            callback(int(trace), int(point), customdata)

    def _handle_message(self, _widget, content, _buffers) -> None:
        if not isinstance(content, dict):
            return
        kind = content.get("type")
        if kind == "need-plotly":
            self.send({"type": "plotly-js", "source": _plotly_js()})
        elif kind == "click":
            try:
                self.click(content.get("trace", -1), content.get("point", -1), content.get("customdata"))
            except Exception:  # noqa: BLE001 - a click must never raise into the comm handler
                pass

    # ------------------------------------------------------------------ helpers for tests
    @property
    def data(self):
        return self.figure.data if self.figure is not None else ()

    def figure_dict(self) -> dict:
        return json.loads(self.figure_json)
