"""The Layers tab: per-layer latency of the current build, by layer, type and precision."""

from __future__ import annotations

from ...html.fragments import STYLE, e, source_line, table
from .base import EngineTab, figure_widget, highlight_layer, html_widget


class LayersTab(EngineTab):
    title = "Layers"

    def build(self) -> None:
        import ipywidgets as W

        self.sort = W.ToggleButtons(options=[("execution order", "execution"), ("slowest first", "latency")],
                                    value="execution", description="Sort")
        self.color = W.ToggleButtons(options=[("precision", "precision"), ("layer type", "type")],
                                     value="precision", description="Colour")
        self.sort.observe(lambda _: self.invalidate(), "value")
        self.color.observe(lambda _: self.invalidate(), "value")
        self.fig_box = W.VBox()
        self.table = html_widget()
        self.head = html_widget()
        self.bar = None
        self.controls = W.HBox([self.sort, self.color])
        self.table_title = W.HTML("<h4>Layers</h4>")
        self.extra = html_widget()  # reformat/copy layers and Myelin regions, when the engine has some

    def render(self) -> None:
        import ipywidgets as W

        from ...plots.layers import latency_bar, latency_treemap, precision_pie

        from ...plots.data import engine_source

        if self.no_build():  # (it closed the plot widgets)
            self.bar = None
            return
        build = self.state.current_build
        report = build.report

        figures = (latency_bar(report, sort=self.sort.value, color_by=self.color.value, title_width=80),
                   latency_treemap(report, title_width=68), precision_pie(report, title_width=48))
        if self.bar is None:  # first draw: three plot widgets, kept for the next builds
            bar = figure_widget(figures[0], on_click=self._clicked)
            tree = figure_widget(figures[1], on_click=self._clicked)  # side by side:
            pie = figure_widget(figures[2])  # narrower titles
            tree.layout.width, pie.layout.width = "58%", "42%"
            self.bar, self.plots = bar, (bar, tree, pie)
            self.replace_figures(self.fig_box, [bar, W.HBox([tree, pie])])
            self.figures += [tree, pie]
        else:  # a redraw in the widgets already on the page (Plotly.react): no new views, no layout pass
            for widget, fig in zip(self.plots, figures):
                widget.set_figure(fig)
        self.table.value = layers_table(report, build.source)
        self.extra.value = reformats_html(report) + myelin_html(report)
        # the head names the build last: once it does, the plots and the table below are this build's
        self.head.value = (STYLE + f"<b>{e(build.name)}</b>" + source_line(build.source)
                           + f"<div class='trex-source'>latency: {e(engine_source(report, 'latency'))}</div>"
                           + artifact_lines(report))
        self.widget.children = [self.head, self.controls, self.fig_box, self.table_title, self.table, self.extra]
        self.on_selection()

    def _clicked(self, layer: str) -> None:
        self.app.select(layer=layer, origin="layers")

    def on_selection(self) -> None:
        highlight_layer(self.bar, self.state.selection.layer)


def artifact_lines(report) -> str:
    """The per-inference total the table sums (with its statistic), the source's own Total row when it printed
    one (trtexec --dumpProfile), the optimization profile shown, and what the build metadata says; each with
    its file."""
    out = []
    total = report.latency_ms_total
    if total is not None:
        out.append(f"<div class='trex-layers-total' data-total-ms='{total:.6f}'>total: {total:.4f} ms per inference "
                   f"(sum of {e(report.latency_statistic or 'latency')}s per layer)</div>")
    reported = report.reported_total
    if reported is not None:
        median = f", median {reported.median_ms:.4f} ms" if reported.median_ms is not None else ""
        out.append(f"<div class='trex-source'>the source's Total row: mean {reported.average_ms:.4f} ms{median} "
                   f"per iteration over {reported.count} ({e(reported.source)})</div>")
    if report.profiles:
        out.append(f"<div class='trex-source'>optimization profile {report.profile_index} of "
                   f"{len(report.profiles)} (each profile is its own build in the list)</div>")
    for section in ("build_options", "device_information"):
        values = report.metadata.sections.get(section)
        if values:
            shown = "; ".join(f"{k}: {v}" for k, v in list(values.items())[:8])
            out.append(f"<div class='trex-source'>{e(section.replace('_', ' '))}: {e(shown)} "
                       f"({e(report.metadata.sources.get(section, ''))})</div>")
    return "".join(out)


def layers_table(report, source: str) -> str:
    """The Layers tab's table: the plotted statistic (named in the header), its spread and share, the
    engine's word for what ran the layer; the source once above the table, not in every row."""
    from ...plots.tactics import from_onnxruntime

    frame = report.layers_frame()
    stat = report.latency_statistic or "latency"
    ran = "provider" if from_onnxruntime(report) else "tactic"
    columns = {"name": "layer", "type": "type", "precision": "precision", "latency_ms": f"{stat} ms",
               "latency_p10_ms": "p10 ms", "latency_p90_ms": "p90 ms", "percentage": "share %", "tactic": ran,
               "onnx_nodes": "ONNX nodes"}
    if frame["latency_p10_ms"].isna().all():
        columns.pop("latency_p10_ms"), columns.pop("latency_p90_ms")
    frame = frame[list(columns)].rename(columns=columns)
    return table(frame, list(frame.columns), source=f"{source}; latency: {stat} per layer", max_rows=2000)


def reformats_html(report) -> str:
    """The reformat/copy layers (:meth:`EngineReport.reformats`): between which layers, the change, its cause,
    the time; the totals line (:meth:`EngineReport.reformat_summary`) above. Empty when there are none."""
    items = report.reformats()
    if not items:
        return ""
    summary = report.reformat_summary()
    stat = summary.statistic or "latency"
    rows = [{"layer": r.layer, "kind": r.kind, "producer": r.producer, "consumer": r.consumer, "change": r.change,
             "cause": r.cause, "why": r.reason,
             f"{stat} ms": f"{r.latency_ms:.4f}" if r.latency_ms is not None else "",
             "share %": f"{r.share:.2f}" if r.share is not None else ""} for r in items]
    causes = "; ".join(f"{cause}: {n}" + (f" ({ms:.4f} ms)" if ms is not None else "")
                       for cause, n, ms in summary.by_cause)
    return (STYLE + "<h4>Reformat and copy layers</h4><div class='trex-reformats'>"
            + f"<div class='trex-reformat-total'><b>{e(summary.line(), None)}</b></div>"
            + f"<div class='trex-source'>by cause: {e(causes, None)}</div>"
            + table(rows, list(rows[0]), max_rows=2000) + "</div>")


def myelin_html(report) -> str:
    """Each Myelin region (:meth:`EngineReport.myelin_regions`): its latency share, how its ONNX nodes were
    found, and the node list itself (names are model data: escaped text). Empty when there are none."""
    regions = report.myelin_regions()
    if not regions:
        return ""
    rows = [{"region": r.name, "ONNX nodes": len(r.onnx_nodes), "found by": r.via, "engine layers": len(r.layers),
             "latency ms": f"{r.latency_ms:.4f} ({r.statistic})" if r.latency_ms is not None else "no per-layer times",
             "share %": f"{r.share:.2f}" if r.share is not None else "", "source": r.source} for r in regions]
    lists = "".join(
        f"<details class='trex-myelin-nodes' open><summary>{e(r.name)}: {len(r.onnx_nodes)} ONNX nodes "
        f"({e(r.via)})</summary><div class='trex-log'>{e(chr(10).join(r.onnx_nodes), None)}</div></details>"
        for r in regions)
    return (STYLE + "<h4>Myelin regions</h4><div class='trex-myelin'>" + table(rows, list(rows[0]), scroll=False)
            + lists + "</div>")
