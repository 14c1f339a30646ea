"""The Partitions tab: which nodes TensorRT runs and which go back to the framework, on the graph."""

from __future__ import annotations

from html import escape as _e

from ...html.fragments import STYLE, grouped_unsupported_table, message_box, partitions_header, unsupported_table
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


def ort_label() -> str:
    """``ONNX Runtime 1.32``: the installed version from its package metadata (the kernel never imports it)."""
    from importlib import metadata

    for dist in ("onnxruntime", "onnxruntime-gpu"):
        try:
            return f"ONNX Runtime {'.'.join(metadata.version(dist).split('.')[:2])}"
        except metadata.PackageNotFoundError:
            continue
    return "ONNX Runtime"


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
                                                 ("TensorRT (GPU)", "tensorrt"),
                                                 (f"{ort_label()} assignment", "onnxruntime"), ("off", "off")],
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
        self.grouped = html_widget()
        self.export_folder = W.Text(placeholder="folder for the .onnx files (default: beside the model)",
                                    description="subgraphs to", layout=W.Layout(width="420px"),
                                    style={"description_width": "initial"})
        self.export_button = W.Button(description="export subgraphs", icon="download",
                                      tooltip="write each partition as supported_subgraph-N.onnx / "
                                              "unsupported_subgraph-N.onnx (polygraphy inspect capability "
                                              "--with-partitioning)", layout=W.Layout(width="170px"))
        self.export_button.on_click(lambda _b: self.export_subgraphs())
        self.export_status = html_widget()
        self.widget.children = [W.HBox([self.version, self.min_block, self.fold]),
                                W.HBox([self.source, self.parser_choice, self.cancel]), self.status, self.message,
                                self.header, self.graph_box, self.disagreements,
                                W.HTML("<h4>Unsupported nodes, by operator and reason</h4>"),
                                self.grouped, W.HTML("<h4>Nodes that run in the framework</h4>"), self.table,
                                W.HBox([self.export_folder, self.export_button]), self.export_status]
        self.panel = None

    def _changed(self, _change) -> None:
        version = None if self.version.value == "auto" else self.version.value
        self.app.analyze(trt_version=version, min_block_size=self.min_block.value,
                         fold_constants=self.fold.value)

    def _parser_changed(self, change) -> None:
        self.state.options["parser"] = change["new"]
        self.state.start_parser()
        if change["new"] == "onnxruntime":
            self.source.value = "parser"  # asked for ONNX Runtime's answer: show it when it comes
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
        self.grouped.value = grouped_unsupported_table(report)
        self.table.value = unsupported_table(report)
        self.shown = report
        if state.model is None or report is None:
            self.graph_box.children = []
            return
        panel = self.app.graph_panel("partitions", on_select=lambda nid: self.app.select(node=nid, origin="partitions"))
        panel.show(partition_overlay(panel.tree, report, other), selected=state.selected_nodes())
        self.panel = panel
        self.graph_box.children = [panel.widget]

    def export_subgraphs(self) -> None:
        """The partitions shown, one .onnx file each, on a thread (the notebook goes on); says where."""
        import os
        import tempfile
        import threading

        from ...support.subgraphs import export_subgraphs

        report, model = getattr(self, "shown", None), self.state.model
        if report is None or model is None:
            return
        folder = os.path.expanduser(self.export_folder.value.strip())
        if not folder:
            base = os.path.splitext(model.path)[0] if model.path else os.path.join(tempfile.mkdtemp(), "model")
            folder = base + "_subgraphs"
        self.export_button.disabled = True
        self.export_status.value = f"<div class='export-status'>writing {len(report.partitions)} subgraphs ...</div>"

        def run() -> None:
            try:
                written = export_subgraphs(model, report, folder)
                names = ", ".join(os.path.basename(s.path) for s in written)
                self.export_status.value = (f"<div class='export-status'>wrote {len(written)} files to "
                                            f"{_e(folder)} ({_e(report.source)}): {_e(names)}</div>")
            except Exception as exc:  # noqa: BLE001 - shown, never raised into the kernel
                self.export_status.value = STYLE + message_box(f"could not export the subgraphs: {exc}")
            finally:
                self.export_button.disabled = False

        threading.Thread(target=run, daemon=True, name="explorer-export-subgraphs").start()

    def on_selection(self) -> None:
        if self.panel is not None:
            self.panel.set_selection(self.state.selected_nodes())
