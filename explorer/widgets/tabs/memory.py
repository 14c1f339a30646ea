"""The Memory tab: where the engine's memory goes (weights, activations, scratch) and per layer."""

from __future__ import annotations

from ...html.fragments import STYLE, e, message_box, table
from .base import EngineTab, figure_widget, highlight_layer, html_widget


class MemoryTab(EngineTab):
    title = "Memory"

    def build(self) -> None:
        import ipywidgets as W

        self.fig_box = W.VBox()
        self.totals = html_widget()
        self.widgets: tuple = ()  # the three plot widgets, made on the first draw and kept for the next builds
        self.plots: tuple = ()  # the per-layer ones (the totals bar has no layers)

    def render(self) -> None:
        from ...plots.memory import (activation_footprint_figure, memory_layers_figure, memory_rows,
                                     memory_totals_figure, network_mismatch)

        if self.no_build():  # (it closed the plot widgets)
            self.widgets = self.plots = ()
            return
        build = self.state.current_build
        workspace = build.options.get("workspace")
        mismatch = network_mismatch(self.state.model, build.report)
        self.totals.value = (STYLE + f"<b>{e(build.name)}</b>" + (message_box(mismatch, "warning") if mismatch else "")
                             + table(memory_rows(build.report, workspace), scroll=False))
        figures = (memory_totals_figure(build.report, workspace_bytes=workspace),
                   activation_footprint_figure(build.report), memory_layers_figure(build.report))
        if not self.widgets:  # first draw: three plot widgets
            self.widgets = (figure_widget(figures[0]), figure_widget(figures[1], on_click=self._clicked),
                            figure_widget(figures[2], on_click=self._clicked))
            self.plots = self.widgets[1:]
            self.replace_figures(self.fig_box, list(self.widgets))
        else:  # a redraw in the widgets already on the page (Plotly.react): no new views
            for widget, fig in zip(self.widgets, figures):
                widget.set_figure(fig)
        self.widget.children = [self.totals, self.fig_box]
        self.on_selection()

    def _clicked(self, layer: str) -> None:
        self.app.select(layer=layer, origin="memory")

    def on_selection(self) -> None:
        for fig in self.plots:
            highlight_layer(fig, self.state.selection.layer)
