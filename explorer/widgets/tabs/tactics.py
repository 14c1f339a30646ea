"""The Tactics tab: the tactics TensorRT timed per layer and the one it chose (or, with only the engine's layer
information, the chosen one per layer and its measured time)."""

from __future__ import annotations

from ...html.fragments import STYLE, e, message_box, source_line, table
from .base import EngineTab, figure_widget, highlight_layer, html_widget


class TacticsTab(EngineTab):
    title = "Tactics"

    def build(self) -> None:
        import ipywidgets as W

        self.kind = W.ToggleButtons(options=[("strip", "strip"), ("box", "box")], value="strip",
                                    description="Plot")
        self.kind.observe(lambda _: self.invalidate(), "value")
        self.fig_box = W.VBox()
        self.table = html_widget()
        self.head = html_widget()

    def render(self) -> None:
        import ipywidgets as W

        from ...plots.data import engine_source
        from ...plots.tactics import (chosen_tactics, from_onnxruntime, no_tactics_message, tactics_figure,
                                      tactics_table, timed_tactics)

        if self.no_build():
            return
        build = self.state.current_build
        report = build.report
        if not timed_tactics(report) and chosen_tactics(report):
            self._render_chosen(build)
            return
        if not timed_tactics(report):
            self.head.value = STYLE + f"<b>{e(build.name)}</b>" + message_box(no_tactics_message(report), "info")
            self.replace_figures(self.fig_box, [])
            self.plots = []
            frame = report.tactics_frame()
            if len(frame):
                if from_onnxruntime(report):  # ONNX Runtime's own words: nodes placed on execution providers
                    names = {"layer": "node", "runner": "op type", "tactic": "execution provider",
                             "time_ms": f"{report.latency_statistic or 'latency'} ms"}
                    title = "<h4>Execution provider per node (no autotuning)</h4>"
                else:
                    names = {"layer": "layer", "tactic": "tactic", "runner": "runner", "time_ms": "time ms"}
                    title = "<h4>Tactic records</h4>"
                frame = frame[[c for c in names if c in frame.columns]].rename(columns=names)
                self.table.value = title + table(frame, list(frame.columns), source=engine_source(report, "tactics"))
                self.widget.children = [self.head, self.table]
            else:
                self.widget.children = [self.head]
            return
        self.head.value = STYLE + f"<b>{e(build.name)}</b>" + source_line(build.source)
        fig = figure_widget(tactics_figure(report, kind=self.kind.value), on_click=self._clicked)
        self.replace_figures(self.fig_box, [fig])
        self.plots = [fig]
        frame = tactics_table(report)
        cols = [c for c in ("layer", "tactic", "tactic_name", "time_ms", "chosen", "skipped_reason", "runner",
                            "layer_latency_ms") if c in frame.columns]
        # the layer's latency is the statistic the Layers tab plots; a tactic's time is TensorRT's autotuning
        frame = frame[cols].rename(columns={"time_ms": "autotuning time ms",
                                            "layer_latency_ms": f"layer {report.latency_statistic or 'latency'} ms"})
        self.table.value = table(frame, list(frame.columns), source=build.source, max_rows=1000)
        self.widget.children = [self.head, self.kind, self.fig_box, W.HTML("<h4>Table</h4>"), self.table]
        self.on_selection()

    def _render_chosen(self, build) -> None:
        """Layer information without a build log: the tactic TensorRT chose per layer, with measured times."""
        import ipywidgets as W

        from ...plots.tactics import chosen_only_message, chosen_tactics_figure, chosen_tactics_table

        report = build.report
        self.head.value = (STYLE + f"<b>{e(build.name)}</b>" + source_line(build.source)
                           + message_box(chosen_only_message(report), "info"))
        fig = figure_widget(chosen_tactics_figure(report), on_click=self._clicked)
        self.replace_figures(self.fig_box, [fig])
        self.plots = [fig]
        frame = chosen_tactics_table(report)
        cols = ["layer", "family", "kernel", "tactic_id", "layer_type", "precision", "median_ms", "average_ms",
                "percentage", "runs", "tactic_source", "time_source"]
        times = "; ".join(sorted({str(s) for s in frame["time_source"] if s})) or "none (no profile imported)"
        self.table.value = table(frame, cols, max_rows=1000,
                                 source=f"chosen tactics: {frame['tactic_source'].iloc[0]}; times: {times}")
        self.widget.children = [self.head, self.fig_box,
                                W.HTML("<h4>Chosen tactic per layer (execution order)</h4>"), self.table]
        self.on_selection()

    def _clicked(self, layer: str) -> None:
        self.app.select(layer=layer, origin="tactics")

    def on_selection(self) -> None:
        for fig in getattr(self, "plots", ()):
            highlight_layer(fig, self.state.selection.layer)
