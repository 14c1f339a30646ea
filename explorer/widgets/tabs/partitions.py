"""The Partitions tab: which nodes TensorRT runs and which go back to the framework, on the graph."""

from __future__ import annotations

from ...html.fragments import STYLE, message_box, partitions_header, unsupported_table
from .base import Tab, html_widget


class PartitionsTab(Tab):
    title = "Partitions"

    def build(self) -> None:
        import ipywidgets as W

        try:
            from ...support.matrix import available_versions

            versions = list(available_versions())
        except Exception:  # noqa: BLE001
            versions = []
        opts = self.state.options
        self.version = W.Dropdown(options=[("auto: installed parser, else newest matrix", "auto")]
                                  + [(f"TensorRT {v} support matrix", v) for v in versions],
                                  value=opts.get("trt_version") if opts.get("trt_version") in versions else "auto",
                                  description="TensorRT", layout=W.Layout(width="380px"))
        self.min_block = W.IntSlider(value=int(opts.get("min_block_size") or 1), min=1, max=30,
                                     description="min block", continuous_update=False,
                                     tooltip="TensorRT partitions smaller than this go back to the framework")
        self.fold = W.Checkbox(value=bool(opts.get("fold_constants")), description="fold constants first",
                               indent=False)
        for w in (self.version, self.min_block, self.fold):
            w.observe(self._changed, "value")
        self.message = html_widget()
        self.header = html_widget()
        self.graph_box = W.VBox(layout=W.Layout(width="100%"))
        self.table = html_widget()
        self.widget.children = [W.HBox([self.version, self.min_block, self.fold]), self.message, self.header,
                                self.graph_box, W.HTML("<h4>Nodes that run in the framework</h4>"), self.table]
        self.panel = None

    def _changed(self, _change) -> None:
        version = None if self.version.value == "auto" else self.version.value
        self.app.analyze(trt_version=version, min_block_size=self.min_block.value,
                         fold_constants=self.fold.value)

    def render(self) -> None:
        from ...plots.graph import partition_overlay

        state = self.state
        err = state.error("analysis")
        self.message.value = STYLE + message_box(err) if err else ""
        report = state.support
        self.header.value = partitions_header(report)
        self.table.value = unsupported_table(report)
        if state.model is None or report is None:
            self.graph_box.children = []
            return
        panel = self.app.graph_panel("partitions", on_select=lambda nid: self.app.select(node=nid, origin="partitions"))
        panel.show(partition_overlay(panel.tree, report), selected=state.selected_nodes())
        self.panel = panel
        self.graph_box.children = [panel.widget]

    def on_selection(self) -> None:
        if self.panel is not None:
            self.panel.set_selection(self.state.selected_nodes())
