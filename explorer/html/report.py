"""One standalone HTML report of an analysis and its builds, to share: works offline, no server.

:func:`write_report` puts plotly.js inline once (so the file opens without network) and then every
figure of the app in static form: the partitions graph (collapsed by scope), predicted and real fusions,
per-layer latency, tactics, memory, and a comparison of the first build with each other one. Every string
from the model or the artifacts is escaped: hostile node names show as text.
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


def _fig_html(fig, div_id: str) -> str:
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id,
                       config={"displaylogo": False, "responsive": True})


def report_html(model, support_report=None, engine_reports: Sequence | dict | None = None, *, fusions=None,
                title: str | None = None, include_plotlyjs: str | bool = "inline") -> str:
    """The report as one HTML string (see :func:`write_report`)."""
    from ..plots.compare import compare_frame, compare_latency_figure, compare_totals_figure
    from ..plots.graph import engine_overlay, fusion_overlay, graph_figure, partition_overlay
    from ..plots.graph_layout import GraphView, ScopeTree
    from ..plots.layers import latency_bar, latency_treemap, precision_pie
    from ..plots.memory import activation_footprint_figure, memory_layers_figure, memory_totals_figure
    from ..plots.tactics import tactics_figure
    from .fragments import STYLE, model_summary, partitions_header, table, unsupported_table

    reports = _named_reports(engine_reports)
    name = model.name if model is not None else "model"
    title = title or f"TensorRT Engine Explorer: {name}"
    counter = iter(range(10_000))
    sections: list[str] = []
    nav: list[tuple[str, str]] = []

    def section(anchor: str, heading: str, body: str) -> None:
        nav.append((anchor, heading))
        sections.append(f"<section id='{_e(anchor)}'><h2>{_e(heading)}</h2>{body}</section>")

    def fig(f) -> str:
        return f"<div class='fig'>{_fig_html(f, f'fig{next(counter)}')}</div>"

    section("model", "Model", model_summary(model, label=name, path=model.path if model is not None else None,
                                            support=support_report))

    tree = ScopeTree(model) if model is not None else None
    if support_report is not None and tree is not None:
        body = partitions_header(support_report)
        body += fig(graph_figure(GraphView(tree), partition_overlay(tree, support_report), height=640))
        body += "<h3>Nodes that run in the framework</h3>" + unsupported_table(support_report)
        body += "<h3>Partitions</h3>" + table(support_report.partitions_frame(), source=support_report.source)
        section("partitions", "Partitions", body)

    if tree is not None and (fusions or reports):
        body = ""
        if fusions:
            body += fig(graph_figure(GraphView(tree), fusion_overlay(tree, fusions), height=560))
            rows = [{"kind": g.kind, "rule": g.rule, "nodes": " + ".join(g.nodes)} for g in fusions
                    if len(g.nodes) > 1]
            body += table(rows, source="predicted from TensorRT's documented fusion patterns")
        for name, report in reports:
            if any(layer.onnx_nodes for layer in report.layers):
                body += f"<h3>Real fusions: {_e(name)}</h3>"
                body += fig(graph_figure(GraphView(tree), engine_overlay(tree, report), height=560,
                                         title=f"Engine layers: {name}"))
        if body:
            section("fusions", "Fusions", body)

    for k, (name, report) in enumerate(reports):
        body = "<div class='src'>sources: " + _e("; ".join(report.sources)) + "</div>"
        for note in report.notes:
            body += f"<div class='src'>note: {_e(note)}</div>"
        e2e = report.end_to_end
        if e2e is not None:
            body += (f"<p>End to end: mean {e2e.latency.mean:.4f} ms, p99 {e2e.latency.p99:.4f} ms over "
                     f"{e2e.count} inferences" + (f", {e2e.throughput_qps:.1f} qps" if e2e.throughput_qps else "")
                     + f" <span class='src'>(source: {_e(e2e.source)})</span></p>")
        body += fig(latency_bar(report, title=f"Per-layer latency: {name}"))
        body += "<div class='row'>" + fig(latency_treemap(report)) + fig(precision_pie(report)) + "</div>"
        body += fig(tactics_figure(report))
        body += fig(memory_totals_figure(report))
        body += fig(activation_footprint_figure(report))
        body += fig(memory_layers_figure(report))
        body += "<h3>Layers</h3>" + table(report.layers_frame(), ["name", "type", "precision", "latency_ms",
                                                                   "percentage", "tactic", "onnx_nodes"],
                                          max_rows=5000)
        section(f"build{k}", f"Build: {name}", body)

    if len(reports) >= 2:
        body = ""
        base_name, base = reports[0]
        for name, report in reports[1:]:
            body += f"<h3>{_e(base_name)} vs {_e(name)}</h3>"
            body += fig(compare_totals_figure(base, report, label_a=base_name, label_b=name))
            body += fig(compare_latency_figure(base, report, label_a=base_name, label_b=name))
            frame = compare_frame(base, report, base_name, name)
            changed = frame[frame["precision_changed"] | frame["tactic_changed"] | (frame["in"] != "both")]
            body += table(changed, empty="no precision or tactic changes")
        section("compare", "Compare", body)

    if include_plotlyjs == "inline" or include_plotlyjs is True:
        from plotly.offline import get_plotlyjs

        js = f"<script type='text/javascript'>{get_plotlyjs()}</script>"
    elif include_plotlyjs == "cdn":
        js = "<script src='https://cdn.plot.ly/plotly-latest.min.js'></script>"
    else:
        js = ""
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
.row {{display: flex; gap: 12px;}} .row > .fig {{flex: 1; min-width: 0;}}
nav {{position: sticky; top: 0; background: white; padding: 6px 0; border-bottom: 1px solid #ddd; z-index: 10;}}
</style>{STYLE}{js}</head>
<body><h1>{_e(title)}</h1>
<div class="src">generated {generated} by trt-engine-explorer {_e(__version__)}</div>
<nav>{nav_html}</nav>
{''.join(sections)}
</body></html>"""


def write_report(path: str | os.PathLike, model, support_report=None,
                 engine_reports: Sequence | dict | Iterable | None = None, *, fusions=None,
                 title: str | None = None, include_plotlyjs: str | bool = "inline") -> str:
    """Write one standalone HTML report; returns the path written.

    ``engine_reports``: EngineReports, ``(name, report)`` pairs or a ``{name: report}`` dict.
    ``fusions``: predicted fusion groups (``explorer.fusions.predict.predict_fusions(model)``), optional.
    ``include_plotlyjs``: ``"inline"`` (default, opens offline) or ``"cdn"`` (smaller file, needs network).
    """
    from ..errors import ExplorerError

    text = report_html(model, support_report, engine_reports, fusions=fusions, title=title,
                       include_plotlyjs=include_plotlyjs)
    path = os.fspath(path)
    try:
        folder = os.path.dirname(os.path.abspath(path))
        os.makedirs(folder, exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as exc:
        raise ExplorerError(f"cannot write the report: {exc.strerror or exc}", file=path) from exc
    return path
