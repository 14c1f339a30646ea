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

    def render(self) -> None:
        import ipywidgets as W

        from ...plots.layers import latency_bar, latency_treemap, precision_pie

        if self.no_build():
            return
        build = self.state.current_build
        report = build.report
        from ...plots.data import engine_source

        self.head.value = (STYLE + f"<b>{e(build.name)}</b>" + source_line(build.source)
                           + f"<div class='trex-source'>latency: {e(engine_source(report, 'latency'))}</div>")
        bar = figure_widget(latency_bar(report, sort=self.sort.value, color_by=self.color.value), on_click=self._clicked)
        tree = figure_widget(latency_treemap(report, title_width=68), on_click=self._clicked)  # side by side:
        pie = figure_widget(precision_pie(report, title_width=48))  # narrower titles
        tree.layout.width, pie.layout.width = "58%", "42%"
        self.bar = bar
        self.replace_figures(self.fig_box, [bar, W.HBox([tree, pie])])
        self.figures += [tree, pie]
        frame = report.layers_frame()
        self.table.value = table(frame, ["name", "type", "precision", "latency_ms", "percentage", "tactic",
                                         "onnx_nodes", "source"], source=build.source, max_rows=2000)
        self.widget.children = [self.head, W.HBox([self.sort, self.color]), self.fig_box,
                                W.HTML("<h4>Layers</h4>"), self.table]
        self.on_selection()

    def _clicked(self, layer: str) -> None:
        self.app.select(layer=layer, origin="layers")

    def on_selection(self) -> None:
        highlight_layer(self.bar, self.state.selection.layer)
