"""The Partitions tab: which nodes TensorRT runs and which go back to the framework, on the graph."""

from __future__ import annotations

from html import escape as _e

from ...html.fragments import STYLE, message_box, partitions_header, unsupported_table
from .base import Tab, html_widget


def disagreement_table(prediction, parser) -> str:
    """Every node where the prediction and the real parser disagree, with both sources' reasons."""
    from ...support import disagreements

    if prediction is None or parser is None:
        return ""
    rows = disagreements(prediction, parser)
    if not rows:
        return f"<p class='disagreements'>The prediction and the {_e(parser.source)} agree on every node.</p>"
    body = "".join(
        f"<tr data-node='{_e(d.node)}'><td>{_e(d.node)}</td><td>{_e(d.op)}</td>"
        f"<td>{_e(d.first_reason) if d.first_supported else 'unsupported: ' + _e(d.first_reason)}</td>"
        f"<td>{_e(d.second_reason) if d.second_supported else 'unsupported: ' + _e(d.second_reason)}</td></tr>"
        for d in rows)
    return (f"<h4>Prediction and parser disagree on {len(rows)} node{'s' if len(rows) != 1 else ''}</h4>"
            f"<table class='disagreements'><tr><th>node</th><th>op</th><th>{_e(prediction.source)}</th>"
            f"<th>{_e(parser.source)}</th></tr>{body}</table>")


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
        self.source = W.ToggleButtons(options=[("prediction", "prediction"), ("real parser", "parser")],
                                      value="prediction", description="verdicts",
                                      tooltip="the support-matrix prediction, or a real ONNX parser's verdicts")
        self.source.observe(lambda _change: self.render(), "value")
        self.parser_choice = W.Dropdown(options=[("best parser here", "auto"), ("TensorRT-RTX", "tensorrt-rtx"),
                                                 ("TensorRT (GPU)", "tensorrt"), ("off", "off")],
                                        value=opts.get("parser", "auto"), description="parser",
                                        layout=W.Layout(width="260px"))
        self.parser_choice.observe(self._parser_changed, "value")
        self.cancel = W.Button(description="cancel parser", layout=W.Layout(width="130px"))
        self.cancel.on_click(lambda _b: self.state.cancel_parser())
        self.status = html_widget()
        self.disagreements = html_widget()
        for w in (self.version, self.min_block, self.fold):
            w.observe(self._changed, "value")
        self.message = html_widget()
        self.header = html_widget()
        self.graph_box = W.VBox(layout=W.Layout(width="100%"))
        self.table = html_widget()
        self.widget.children = [W.HBox([self.version, self.min_block, self.fold]),
                                W.HBox([self.source, self.parser_choice, self.cancel]), self.status, self.message,
                                self.header, self.graph_box, self.disagreements,
                                W.HTML("<h4>Nodes that run in the framework</h4>"), self.table]
        self.panel = None

    def _changed(self, _change) -> None:
        version = None if self.version.value == "auto" else self.version.value
        self.app.analyze(trt_version=version, min_block_size=self.min_block.value,
                         fold_constants=self.fold.value)

    def _parser_changed(self, change) -> None:
        self.state.options["parser"] = change["new"]
        self.state.start_parser()
        self.render()

    def render(self) -> None:
        from ...plots.graph import partition_overlay

        state = self.state
        err = state.error("analysis") or state.error("parser")
        self.message.value = STYLE + message_box(err) if err else ""
        job = state.parser_job
        running = job is not None and not job.done()
        self.cancel.disabled = not running
        real = state.parser_support
        self.status.value = (f"<div class='parser-status'>{_e(job.progress)}</div>" if running else
                             f"<div class='parser-status'>real verdicts: {_e(real.source)}</div>" if real else "")
        self.disagreements.value = disagreement_table(state.support, real)
        report = real if self.source.value == "parser" and real is not None else state.support
        other = state.support if report is real else real  # the graph outlines where the two disagree
        self.header.value = partitions_header(report)
        self.table.value = unsupported_table(report)
        if state.model is None or report is None:
            self.graph_box.children = []
            return
        panel = self.app.graph_panel("partitions", on_select=lambda nid: self.app.select(node=nid, origin="partitions"))
        panel.show(partition_overlay(panel.tree, report, other), selected=state.selected_nodes())
        self.panel = panel
        self.graph_box.children = [panel.widget]

    def on_selection(self) -> None:
        if self.panel is not None:
            self.panel.set_selection(self.state.selected_nodes())
