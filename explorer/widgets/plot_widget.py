"""A light plotly widget: plotly.js reaches the browser once per page, not once per figure.

plotly's own ``FigureWidget`` ships its 5 MB bundle with every instance (an anywidget ESM per model), so
a tab with three figures moved 15 MB over the websocket and parsed it three times. Here the per-figure
ESM is a few lines, and plotly.js travels once, as the binary state of one :class:`PlotlyLibrary` model
per kernel that every figure references (anywidget's ``WidgetTrait``). The library model injects it as
a script when it reaches the page; a figure awaits that one page-level promise, or starts it from the
library model itself. There is no request/answer round trip: an earlier design let the first figure ask
the kernel for plotly.js, and when that figure was replaced before the answer came (the Build tab redraws
its plot twice per build), the answer went to a closed widget and every plot waited two minutes (issue 16).

Python -> browser: ``figure_json`` (the whole figure, drawn with ``Plotly.react``) and ``patches_json``
(small restyles applied on top, e.g. the selection ring). Browser -> Python: clicks, delivered to the
callbacks registered with :meth:`PlotWidget.on_click` as ``(trace_index, point_index, customdata)``.

Sizing is the widget's own (plotly's ``responsive`` is off): the plot div gets the figure's
``layout.height`` in pixels, the width follows the widget's element through a ResizeObserver, and nothing
is re-laid out while the element is hidden (a tab not shown), so a plot never ends up 0 px high (issue 11).
"""

from __future__ import annotations

import json
from typing import Any, Callable

import anywidget
import traitlets

# Shared by both ESMs: the one page-level promise for window.Plotly, started by whichever model has the source.
_LOADER = r"""
const KEY = "__trexPlotly";

function plotlyReady() {
  return window.Plotly && window.Plotly.react ? window.Plotly : null;
}

function injectPlotly(source) {
  window.__trexPlotlyInjected = (window.__trexPlotlyInjected || 0) + 1;  // once per page (tests read it)
  return new Promise((resolve, reject) => {
    const url = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
    const script = document.createElement("script");
    script.src = url;
    script.onload = () => {
      URL.revokeObjectURL(url);
      if (plotlyReady()) resolve(window.Plotly);
      else reject(new Error("plotly.js ran but did not define window.Plotly"));
    };
    script.onerror = () => { URL.revokeObjectURL(url); reject(new Error("plotly.js failed to run")); };
    document.head.appendChild(script);
  });
}

// ``library``: the PlotlyLibrary model (its ``source`` is plotly.js as bytes).
function loadPlotly(library) {
  if (plotlyReady()) return Promise.resolve(window.Plotly);
  if (!window[KEY]) {
    const source = library && library.get("source");
    if (!source || !source.byteLength) return Promise.reject(new Error("the plotly.js model holds no source"));
    window[KEY] = injectPlotly(source).catch((e) => { window[KEY] = null; throw e; });
  }
  return window[KEY];
}
"""

_LIBRARY_ESM = _LOADER + r"""
// start at once when the model reaches the page, before any figure renders
function initialize({ model }) {
  loadPlotly(model).catch((e) => console.error("[explorer] " + e));
}

export default { initialize };
"""

_ESM = _LOADER + r"""
async function ensurePlotly(model, host) {
  if (plotlyReady()) return window.Plotly;
  if (window[KEY]) return window[KEY];
  const ref = model.get("plotly");
  if (!ref) throw new Error("no plotly.js model is attached to this figure");
  const library = host ? await host.getModel(ref)
                       : await model.widget_manager.get_model(String(ref).replace(/^anywidget:/, ""));
  return loadPlotly(library);
}

function parse(text, fallback) {
  try { return JSON.parse(text); } catch (e) { return fallback; }
}

async function render({ model, el, host }) {
  el.classList.add("trex-plot");
  const div = document.createElement("div");
  div.className = "trex-plot-div";
  div.style.width = "100%";
  el.appendChild(div);
  let Plotly;
  try {
    Plotly = await ensurePlotly(model, host);
  } catch (e) {
    div.textContent = "plotly.js could not be loaded: " + e;
    el.dataset.error = String(e);
    return;
  }
  let listening = false;
  let fixedWidth = false;  // the figure sets layout.width itself
  let height = 450;
  // hidden (a tab not shown, display: none somewhere above): no size to lay out against
  const shown = () => el.getClientRects().length > 0 && el.clientWidth > 0;
  const draw = async () => {
    const fig = parse(model.get("figure_json"), {});
    const layout = Object.assign({}, fig.layout || {});
    height = typeof layout.height === "number" && layout.height > 0 ? layout.height : 450;
    fixedWidth = typeof layout.width === "number" && layout.width > 0;
    layout.height = height;
    div.style.height = height + "px";
    if (!fixedWidth && shown()) layout.width = el.clientWidth;
    const config = Object.assign({ displaylogo: false, scrollZoom: true }, fig.config || {},
                                 { responsive: false, showSendToCloud: false, showEditInChartStudio: false,
                                   modeBarButtonsToRemove: ["sendDataToCloud", "editInChartStudio"] });
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
  // re-lay out to the element's width once it is shown / resized; the height stays the figure's
  let pending = false;
  const fit = () => {
    pending = false;
    const full = div._fullLayout;
    if (!full || !shown()) return;
    const update = {};
    if (!fixedWidth && Math.abs(full.width - el.clientWidth) > 1) update.width = el.clientWidth;
    if (Math.abs(full.height - height) > 1) update.height = height;
    if (Object.keys(update).length) Plotly.relayout(div, update).catch((e) => { el.dataset.error = String(e); });
  };
  const observer = new ResizeObserver(() => {
    if (!pending) { pending = true; requestAnimationFrame(fit); }
  });
  observer.observe(el);
  model.on("change:figure_json", redraw);
  model.on("change:patches_json", redraw);
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


class PlotlyLibrary(anywidget.AnyWidget):
    """plotly.js for the page, never displayed: its state (one binary buffer) is sent once per kernel."""

    _esm = _LIBRARY_ESM
    source = traitlets.Bytes(b"").tag(sync=True)


_LIBRARY: PlotlyLibrary | None = None


def plotly_library() -> PlotlyLibrary:
    """The kernel's one :class:`PlotlyLibrary`; a new one if it was closed (``Widget.close_all()``)."""
    global _LIBRARY
    if _LIBRARY is None or getattr(_LIBRARY, "comm", None) is None:
        _LIBRARY = PlotlyLibrary(source=_plotly_js().encode("utf-8"))
    return _LIBRARY


class PlotWidget(anywidget.AnyWidget):
    """Shows one plotly figure; ``set_figure`` replaces it, ``restyle`` patches it, clicks call back."""

    _esm = _ESM
    # min-width 0: in an HBox the plot may shrink below the width it was drawn at, then re-lays out
    _css = ".trex-plot { width: 100%; min-width: 0; min-height: 40px; overflow: hidden; }"
    figure_json = traitlets.Unicode("{}").tag(sync=True)
    patches_json = traitlets.Unicode("[]").tag(sync=True)
    plotly = anywidget.WidgetTrait().tag(sync=True)

    def __init__(self, figure=None, **kwargs) -> None:
        kwargs.setdefault("plotly", plotly_library())  # in the first state sent, so the browser never asks
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
        if kind == "click":
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
