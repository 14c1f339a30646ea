"""The Memory tab: where the engine's memory goes (weights, activations, scratch) and per layer."""

from __future__ import annotations

from ...html.fragments import STYLE, e, table
from .base import EngineTab, figure_widget, highlight_layer, html_widget


class MemoryTab(EngineTab):
    title = "Memory"

    def build(self) -> None:
        import ipywidgets as W

        self.fig_box = W.VBox()
        self.totals = html_widget()

    def render(self) -> None:
        from ...plots.data import memory_totals
        from ...plots.format import fmt_bytes
        from ...plots.memory import activation_footprint_figure, memory_layers_figure, memory_totals_figure

        if self.no_build():
            return
        build = self.state.current_build
        workspace = build.options.get("workspace")
        rows = [{"kind": r["category"], "bytes": fmt_bytes(r["bytes"]) if r["bytes"] is not None else "n/a",
                 "source": r["source"] or "not in this source"} for r in memory_totals(build.report, workspace)]
        self.totals.value = STYLE + f"<b>{e(build.name)}</b>" + table(rows, scroll=False)
        figs = [figure_widget(memory_totals_figure(build.report, workspace_bytes=workspace)),
                figure_widget(activation_footprint_figure(build.report), on_click=self._clicked),
                figure_widget(memory_layers_figure(build.report), on_click=self._clicked)]
        self.replace_figures(self.fig_box, figs)
        self.plots = figs[1:]  # the per-layer views (the totals bar has no layers)
        self.widget.children = [self.totals, self.fig_box]
        self.on_selection()

    def _clicked(self, layer: str) -> None:
        self.app.select(layer=layer, origin="memory")

    def on_selection(self) -> None:
        for fig in getattr(self, "plots", ()):
            highlight_layer(fig, self.state.selection.layer)
