"""One standalone HTML report of a model, its analysis and its builds, to share: works offline, no server.

:func:`write_report` writes one file: the model, the partitions graph (collapsed by scope), predicted and
real fusions, per-layer latency, tactics and memory of each build given, and the comparisons asked for.
Every string from the model or the artifacts is escaped: hostile node names show as text.

Why the file is built the way it is (a session's report was 9 MB, took 18 s to open and lost its graphs):

- plotly.js is inlined once, gzip-compressed (base64), and unpacked by the browser's own
  ``DecompressionStream``: nothing is fetched when the file opens, and the 4.8 MB library costs about 2 MB;
- figures are data, not HTML: one JSON block, floats rounded to 6 significant digits, no ``customdata``
  (it only serves clicks in the app), the layout template stored once; a small script draws them one
  after the other;
- graphs use SVG traces (``static=True``): a page gets only a few WebGL contexts, and the report has
  several graphs, so WebGL ones went blank.
"""
from __future__ import annotations

import datetime
import html
import os
from typing import Any, Iterable, Sequence


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _named_reports(engine_reports) -> list[tuple[str, Any]]:
    if not engine_reports:
        return []
    if isinstance(engine_reports, dict):
        return [(str(k), v) for k, v in engine_reports.items()]
    out = []
    for i, item in enumerate(engine_reports):
        if isinstance(item, tuple) and len(item) == 2:
            out.append((str(item[0]), item[1]))
        else:
            label = _report_name(item) or f"build {i + 1}"
            out.append((label, item))
    names: dict[str, int] = {}
    unique = []
    for name, report in out:
        n = names.get(name, 0)
        names[name] = n + 1
        unique.append((name if n == 0 else f"{name} ({n + 1})", report))
    return unique


def _report_name(report) -> str | None:
    for source in report.sources:
        text = str(source)
        for suffix in (".graph.json", ".profile.json", ".timing.json"):
            if suffix in text:
                return os.path.basename(text.split()[-1]).replace(suffix, "")
    return None


#: what the report's plots show in their toolbar: no plotly logo, no "edit / share in Chart Studio"
PLOT_CONFIG = {"displaylogo": False, "responsive": True, "showSendToCloud": False, "showEditInChartStudio": False,
               "showLink": False}

#: significant digits kept for every float in the figures (the hover texts are formatted before)
DIGITS = 6
#: traces whose ``values`` are sums of each other (rounding would break them)
HIERARCHIES = ("treemap", "sunburst", "icicle")

_LOADER = """
(function () {
  var body = document.body, status = document.getElementById('trex-status');
  function say(text, error) { status.textContent = text; status.className = error ? 'trex-msg-error' : 'src'; }
  var payload = JSON.parse(document.getElementById('trex-figures').textContent);
  function unpack() {
    var packed = document.getElementById('trex-plotlyjs');
    if (window.Plotly || !packed) { return Promise.resolve(); }
    if (typeof DecompressionStream === 'undefined') {
      return Promise.reject(new Error('this browser cannot unpack the inline plotly.js (it needs ' +
        'DecompressionStream: Chrome 80, Firefox 113, Safari 16.4 or newer)'));
    }
    var bin = atob(packed.textContent.trim()), bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) { bytes[i] = bin.charCodeAt(i); }
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
    return new Response(stream).text().then(function (code) {
      var script = document.createElement('script');
      script.textContent = code;
      document.head.appendChild(script);
    });
  }
  var t0 = Date.now();
  unpack().then(function () {
    body.setAttribute('data-plotlyjs-ms', Date.now() - t0);
    if (!window.Plotly) { throw new Error('plotly.js is not in this file'); }
    var divs = Array.prototype.slice.call(document.querySelectorAll('div[data-fig]'));
    var drawn = 0, failed = 0, chain = Promise.resolve();
    say('drawing ' + divs.length + ' plots...');
    divs.forEach(function (div) {
      chain = chain.then(function () {
        var fig = payload.figures[Number(div.getAttribute('data-fig'))], layout = fig.layout || {};
        var started = Date.now();
        if (typeof layout.template === 'number') { layout.template = payload.templates[layout.template]; }
        return Plotly.newPlot(div, fig.data || [], layout, payload.config).then(function () {
          drawn += 1; div.setAttribute('data-drawn', 'yes'); div.setAttribute('data-ms', Date.now() - started);
        }, function (err) {
          failed += 1; div.setAttribute('data-drawn', 'failed'); div.textContent = 'this plot failed: ' + err;
        });
      });
    });
    return chain.then(function () {
      body.setAttribute('data-plots', drawn + '/' + divs.length);
      if (failed) { say(failed + ' of ' + divs.length + ' plots failed', true); } else { say(''); }
    });
  }).catch(function (err) {
    body.setAttribute('data-plots', 'error');
    say('the plots cannot be drawn: ' + err.message, true);
  });
})();
"""


def _round(value: Any) -> Any:
    """Floats to :data:`DIGITS` significant digits, all the way down (lists, dicts)."""
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return None  # what plotly's own JSON writes for them
        return float(f"{value:.{DIGITS}g}")
    if isinstance(value, list):
        return [_round(v) for v in value]
    if isinstance(value, dict):
        return {k: _round(v) for k, v in value.items()}
    return value


def compact_figure(fig) -> dict:
    """A figure as the report stores it: plain JSON, rounded floats, no ``customdata`` (clicks only)."""
    import json

    data = json.loads(fig.to_json(validate=False) if hasattr(fig, "to_json") else json.dumps(fig))
    traces = []
    for trace in data.get("data", []):
        trace.pop("customdata", None)
        # a treemap's parents must add up to its children exactly ("branchvalues": "total"): keep them whole
        values = trace.pop("values", None) if trace.get("type") in HIERARCHIES else None
        trace = _round(trace)
        if values is not None:
            trace["values"] = values
        traces.append(trace)
    data["data"] = traces
    data["layout"] = _round(data.get("layout", {}))
    return data


def _json_script(element_id: str, payload: Any) -> str:
    import json

    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    text = text.replace("<", "\\u003c")  # no "</script>" inside: "<" only occurs in strings
    return f"<script type='application/json' id='{element_id}'>{text}</script>"


def _plotlyjs(include_plotlyjs: str | bool) -> str:
    """plotly.js for the file: gzip + base64 inline (default), the CDN, or nothing (the caller has it)."""
    if include_plotlyjs == "inline" or include_plotlyjs is True:
        import base64
        import gzip

        from plotly.offline import get_plotlyjs

        packed = base64.b64encode(gzip.compress(get_plotlyjs().encode("utf-8"), 9, mtime=0)).decode("ascii")
        return f"<script type='application/octet-stream' id='trex-plotlyjs'>{packed}</script>"
    if include_plotlyjs == "cdn":
        return "<script src='https://cdn.plot.ly/plotly-latest.min.js'></script>"
    return ""


def _comparisons(reports: list[tuple[str, Any]], compare) -> list[tuple[str, str]]:
    """The pairs of build names to compare: ``compare`` as given (names of ``reports``), else the first build
    with every other one."""
    names = [n for n, _ in reports]
    if compare is None:
        return [(names[0], n) for n in names[1:]]
    return [(a, b) for a, b in compare if a in names and b in names and a != b]


def report_html(model, support_report=None, engine_reports: Sequence | dict | None = None, *, fusions=None,
                fusions_source: str | None = None, title: str | None = None, include_plotlyjs: str | bool = "inline",
                compare: Sequence[tuple[str, str]] | None = None, notes: Sequence[str] = ()) -> str:
    """The report as one HTML string (see :func:`write_report`)."""
    from ..plots.compare import compare_frame, compare_latency_figure, compare_totals_figure
    from ..plots.graph import engine_overlay, fusion_overlay, graph_figure, partition_overlay
    from ..plots.graph_layout import GraphView, ScopeTree
    from ..plots.layers import latency_bar, latency_treemap, precision_pie
    from ..plots.memory import (activation_footprint_figure, memory_layers_figure, memory_rows,
                                memory_totals_figure, network_mismatch)
    from ..plots.tactics import (chosen_only_message, chosen_tactics, chosen_tactics_figure, tactics_figure,
                                 timed_tactics)
    from ..fusions.predict import TARGET_SOURCES
    from .fragments import STYLE, message_box, model_summary, partitions_header, table, unsupported_table

    reports = _named_reports(engine_reports)
    by_name = dict(reports)
    name = model.name if model is not None else "model"
    title = title or f"TensorRT Engine Explorer: {name}"
    sections: list[str] = []
    nav: list[tuple[str, str]] = []
    figures: list[dict] = []
    templates: list[str] = []

    def section(anchor: str, heading: str, body: str) -> None:
        nav.append((anchor, heading))
        sections.append(f"<section id='{_e(anchor)}'><h2>{_e(heading)}</h2>{body}</section>")

    def fig(f) -> str:
        import json

        data = compact_figure(f)
        layout = data.setdefault("layout", {})
        template = layout.pop("template", None)
        if template is not None:
            key = json.dumps(template, sort_keys=True, separators=(",", ":"))
            if key not in templates:
                templates.append(key)
            layout["template"] = templates.index(key)
        figures.append(data)
        return f"<div class='fig' id='fig{len(figures) - 1}' data-fig='{len(figures) - 1}'></div>"

    intro = "".join(message_box(n, "warning") for n in notes)
    section("model", "Model", intro + model_summary(model, label=name,
                                                    path=model.path if model is not None else None,
                                                    support=support_report))

    tree = ScopeTree(model) if model is not None else None
    if support_report is not None and tree is not None:
        body = partitions_header(support_report)
        body += fig(graph_figure(GraphView(tree), partition_overlay(tree, support_report), height=640,
                                 static=True))
        body += "<h3>Nodes that run in the framework</h3>" + unsupported_table(support_report)
        body += "<h3>Partitions</h3>" + table(support_report.partitions_frame(), source=support_report.source)
        section("partitions", "Partitions", body)

    if tree is not None and (fusions or reports):
        body = ""
        if fusions:
            body += fig(graph_figure(GraphView(tree), fusion_overlay(tree, fusions), height=560, static=True))
            rows = [{"kind": g.kind, "rule": g.rule, "nodes": " + ".join(g.nodes)} for g in fusions
                    if len(g.nodes) > 1]
            body += table(rows, source=f"predicted from {fusions_source or TARGET_SOURCES['tensorrt']}")
        for label, report in reports:
            if any(layer.onnx_nodes for layer in report.layers):
                body += f"<h3>Real fusions: {_e(label)}</h3>"
                body += fig(graph_figure(GraphView(tree), engine_overlay(tree, report), height=560,
                                         title=f"Engine layers: {label}", static=True))
        if body:
            section("fusions", "Fusions", body)

    for k, (label, report) in enumerate(reports):
        body = "<div class='src'>sources: " + _e("; ".join(report.sources)) + "</div>"
        mismatch = network_mismatch(model, report) if model is not None else None
        if mismatch:
            body += message_box(mismatch, "warning")
        for note in report.notes:
            body += f"<div class='src'>note: {_e(note)}</div>"
        e2e = report.end_to_end
        if e2e is not None:
            body += (f"<p>End to end: mean {e2e.latency.mean:.4f} ms, p99 {e2e.latency.p99:.4f} ms over "
                     f"{e2e.count} inferences" + (f", {e2e.throughput_qps:.1f} qps" if e2e.throughput_qps else "")
                     + f" <span class='src'>(source: {_e(e2e.source)})</span></p>")
        body += fig(latency_bar(report, title=f"Per-layer latency: {label}"))
        body += "<div class='row'>" + fig(latency_treemap(report)) + fig(precision_pie(report)) + "</div>"
        if not timed_tactics(report) and chosen_tactics(report):  # the A100 fixtures: the choice, not the timing
            body += message_box(chosen_only_message(report), "info")
            body += fig(chosen_tactics_figure(report, title=f"Tactic TensorRT chose per layer: {label}"))
        else:  # the timed tactics, or why there are none (ONNX Runtime, TensorRT-RTX ahead of time)
            body += fig(tactics_figure(report))
        body += "<h3>Memory</h3>" + table(memory_rows(report), ["kind", "bytes", "source"], scroll=False)
        body += fig(memory_totals_figure(report))
        body += fig(activation_footprint_figure(report))
        body += fig(memory_layers_figure(report))
        body += "<h3>Layers</h3>" + table(report.layers_frame(), ["name", "type", "precision", "latency_ms",
                                                                   "percentage", "tactic", "onnx_nodes"],
                                          max_rows=5000)
        section(f"build{k}", f"Build: {label}", body)

    pairs = _comparisons(reports, compare) if reports else []
    if pairs:
        body = ""
        for a, b in pairs:
            ra, rb = by_name[a], by_name[b]
            body += f"<h3>{_e(a)} vs {_e(b)}</h3>"
            body += fig(compare_totals_figure(ra, rb, label_a=a, label_b=b))
            body += fig(compare_latency_figure(ra, rb, label_a=a, label_b=b))
            frame = compare_frame(ra, rb, a, b)
            changed = frame[frame["precision_changed"] | frame["tactic_changed"] | (frame["in"] != "both")]
            body += table(changed, empty="no precision or tactic changes")
        section("compare", "Compare", body)

    import json

    payload = {"config": PLOT_CONFIG, "templates": [json.loads(t) for t in templates], "figures": figures}
    generated = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    try:
        from .. import __version__
    except Exception:  # noqa: BLE001
        __version__ = "?"
    nav_html = " · ".join(f"<a href='#{_e(a)}'>{_e(h)}</a>" for a, h in nav)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>
<style>
body {{font-family: -apple-system, 'Segoe UI', Roboto, sans-serif; margin: 0 auto; max-width: 1400px; padding: 16px;}}
h2 {{border-bottom: 2px solid #eee; padding-bottom: 4px; margin-top: 32px;}}
.src {{color: #555; font-size: 12px; font-style: italic;}}
.fig {{min-height: 120px;}}
.row {{display: flex; gap: 12px;}} .row > .fig {{flex: 1; min-width: 0;}}
nav {{position: sticky; top: 0; background: white; padding: 6px 0; border-bottom: 1px solid #ddd; z-index: 10;}}
</style>{STYLE}</head>
<body><h1>{_e(title)}</h1>
<div class="src">generated {generated} by trt-engine-explorer {_e(__version__)}</div>
<div id="trex-status" class="src">drawing the plots...</div>
<nav>{nav_html}</nav>
{''.join(sections)}
{_json_script('trex-figures', payload)}
{_plotlyjs(include_plotlyjs)}
<script type='text/javascript'>{_LOADER}</script>
</body></html>"""


def write_report(path: str | os.PathLike, model, support_report=None,
                 engine_reports: Sequence | dict | Iterable | None = None, *, fusions=None,
                 fusions_source: str | None = None, title: str | None = None, include_plotlyjs: str | bool = "inline",
                 compare: Sequence[tuple[str, str]] | None = None, notes: Sequence[str] = ()) -> str:
    """Write one standalone HTML report; returns the path written.

    ``engine_reports``: EngineReports, ``(name, report)`` pairs or a ``{name: report}`` dict: the builds of
    ``model`` (the report describes one model).
    ``fusions``: predicted fusion groups (``explorer.fusions.predict.predict_fusions(model)``), optional;
    ``fusions_source``: what predicted them (default: TensorRT's documented patterns, ``TARGET_SOURCES``).
    ``compare``: pairs of build names to compare (default: the first build with each other one).
    ``notes``: warnings to show at the top (e.g. what the report leaves out).
    ``include_plotlyjs``: ``"inline"`` (default, opens offline) or ``"cdn"`` (smaller file, needs network).
    """
    from ..errors import ExplorerError

    text = report_html(model, support_report, engine_reports, fusions=fusions, fusions_source=fusions_source,
                       title=title, include_plotlyjs=include_plotlyjs, compare=compare, notes=notes)
    path = os.fspath(path)
    try:
        folder = os.path.dirname(os.path.abspath(path))
        os.makedirs(folder, exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as exc:
        raise ExplorerError(f"cannot write the report: {exc.strerror or exc}", file=path) from exc
    return path
