"""The Accuracy tab: where an fp16 / bf16 / int8 conversion loses accuracy against fp32 (per-node error table,
error by node in topological order, the graph coloured by error, the first jump), and why each layer runs
in its precision (the converted model's nodes; the current TensorRT build's layers)."""

from __future__ import annotations

from ...html.fragments import STYLE, e, message_box, table
from .base import Tab, figure_widget, html_widget


def _g(value: float) -> str:
    return f"{value:.4g}" if value == value else "NaN"


class AccuracyTab(Tab):
    title = "Accuracy"

    def build(self) -> None:
        import ipywidgets as W

        from ...backends.accuracy import COMPARABLE

        self.precision = W.Dropdown(options=list(COMPARABLE), value="fp16", description="Precision",
                                    layout=W.Layout(width="200px"))
        self.seed = W.IntText(value=0, description="Seed", layout=W.Layout(width="150px"),
                              tooltip="seed of the random inputs (explorer.backends.inputs.random_feeds)")
        self.inputs = W.Text(placeholder="optional: .npz of input arrays (else random)", description="Inputs",
                             layout=W.Layout(width="380px"))
        self.block = W.Text(placeholder="op types or node names kept fp32 (e.g. Softmax)", description="Block list",
                            layout=W.Layout(width="420px"))
        self.block.add_class("trex-accuracy-block")
        self.run_button = W.Button(description="Compare with fp32", button_style="success", icon="play",
                                   layout=W.Layout(width="auto"))
        self.run_button.add_class("trex-accuracy-run")
        self.run_button.on_click(lambda _: self.start())
        self.cancel_button = W.Button(description="Cancel", button_style="danger", icon="stop", disabled=True)
        self.cancel_button.on_click(lambda _: self.state.cancel_comparison())
        self.progress = html_widget()
        self.progress.add_class("trex-accuracy-progress")
        self.message = html_widget()
        self.header = html_widget()
        self.header.add_class("trex-accuracy-header")
        self.plot_box = W.VBox()
        self.graph_box = W.VBox()
        self.tables = html_widget()
        self.tables.add_class("trex-accuracy-table")
        self.plot = None
        self.panel = None
        form = W.VBox([W.HTML("<h4>Compare a low-precision conversion with fp32 (every intermediate tensor)</h4>"),
                       W.HBox([self.precision, self.seed, self.inputs]), self.block,
                       W.HBox([self.run_button, self.cancel_button, self.progress]), self.message])
        self.widget.children = [form, self.header, self.plot_box, self.graph_box, self.tables]
        self.state.on("accuracy", self._changed)

    def start(self) -> bool:
        options = {"precision": self.precision.value, "seed": int(self.seed.value),
                   "inputs": self.inputs.value.strip() or None, "block": self.block.value.strip()}
        started = self.state.start_comparison(**options)
        self._changed(self.state)
        return started

    def _changed(self, _state) -> None:
        """Called from the comparison's watcher thread while it runs and when it ends."""
        if not self.built:
            return
        job = self.state.comparison_job
        running = job is not None and not job.done()
        self.run_button.disabled = running
        self.cancel_button.disabled = not running
        self.progress.value = (f"<span class='trex-source'>{e(job.progress)}</span>" if job is not None else "")
        found = self.state.messages.get("accuracy")  # (level, text): errors, and "cancelled" as info
        self.message.value = STYLE + message_box(found[1], found[0]) if found else ""
        if not running:
            self.invalidate()

    def render(self) -> None:
        from ...plots.accuracy import accuracy_figure, accuracy_overlay

        st = self.state
        result = st.comparison if st.comparison_model is st.model and st.model is not None else None
        if result is None:
            self.header.value = STYLE + message_box(
                "No comparison yet: pick a precision and press Compare. Both models run once on the CPU "
                "(ONNX Runtime, every intermediate tensor marked as an output) in a child process.", "info")
            self.replace_figures(self.plot_box, [])
            self.graph_box.children = []
            self.tables.value = self._engine_why()
            return
        jump = result.first_jump
        jump_text = (f"first jump: <b>{e(jump.node)}</b> ({e(jump.op_type)}), rel {_g(jump.rel)} after inputs at "
                     f"{_g(jump.input_rel)}" if jump else "first jump: <b>none</b>")
        self.header.value = (STYLE + f"<div><b>{len(result.rows)}</b> tensors of <b>{e(result.model)}</b> compared, "
                             f"{e(result.precision)} vs fp32 <span class='trex-source'>(source: {e(result.source)}; "
                             f"inputs: {e(result.inputs)}; converter: {e(result.conversion_tool or 'none')})</span></div>"
                             f"<div class='trex-accuracy-jump'>{jump_text}</div>"
                             f"<div class='trex-source'>relative error = {e(result.rel_definition)}; cosine = "
                             f"{e(result.cosine_definition)}; jump rule: {e(result.jump_rule)}</div>"
                             + "".join(f"<div class='trex-source'>{e(n)}</div>" for n in result.notes))
        figure = accuracy_figure(result, title_width=90)
        if self.plot is None:
            self.plot = figure_widget(figure, on_click=lambda node: self.app.select(node=node, origin="accuracy"))
            self.replace_figures(self.plot_box, [self.plot])
        else:
            self.plot.set_figure(figure)
        self.panel = self.app.graph_panel("accuracy", on_select=lambda nid: self.app.select(node=nid, origin="accuracy"))
        self.panel.title = f"Accuracy: {result.precision} vs fp32 (nodes coloured by relative error)"
        self.panel.show(accuracy_overlay(self.panel.tree, result), selected=st.selected_nodes())
        self.graph_box.children = [self.panel.widget]
        self.tables.value = self._tables(result) + self._engine_why()

    def _tables(self, result) -> str:
        rows = [{"#": r.index, "node": r.node, "op": r.op_type, "tensor": r.tensor, "max abs": _g(r.max_abs),
                 "rel": _g(r.rel), "cosine": f"{r.cosine:.6f}" if r.cosine == r.cosine else "NaN",
                 "inputs' rel": _g(r.input_rel), "precision": r.precision or r.dtype,
                 "why": r.why.split(": ")[0],  # the cause; the table below has the detail
                 "first jump": "yes" if r.jump else ""} for r in result.rows]
        layers = [{"layer": l.layer, "op": l.op_type, "precision": l.precision, "why": l.why} for l in result.layers]
        return (STYLE + "<h4>Per-node error (topological order)</h4>"
                + table(rows, source=f"{result.source}; rel = {result.rel_definition}", max_rows=2000)
                + "<h4>Why each node of the converted model runs in its precision</h4>"
                + table(layers, source=result.layers[0].source if result.layers else result.source, max_rows=2000,
                        empty="no per-node precision from this source"))

    def _engine_why(self) -> str:
        build = self.state.current_build
        if build is None or getattr(build.report, "backend", "") == "onnxruntime" or not build.report.layers:
            return ""
        from ...backends.accuracy import engine_layer_precisions

        settings = getattr(build.report, "settings", {}) or {}
        typed = settings.get("strongly_typed")
        rows = [{"layer": l.layer, "type": l.op_type, "precision": l.precision, "why": l.why}
                for l in engine_layer_precisions(build.report, strongly_typed=typed, source=build.source)]
        return (STYLE + f"<h4>Why each layer of {e(build.name)} runs in its precision</h4>"
                + table(rows, source=build.source, max_rows=2000))

    def on_selection(self) -> None:
        if self.panel is not None:
            self.panel.set_selection(self.state.selected_nodes())
