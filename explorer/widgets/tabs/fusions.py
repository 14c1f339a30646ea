"""The Fusions tab: the predicted fusion groups next to the layers a real engine fused."""

from __future__ import annotations

from ...engine.report import BuildReport
from ...html.fragments import STYLE, e, message_box, table
from ..state import describe_error
from .base import Tab, html_widget


class FusionsTab(Tab):
    title = "Fusions"

    def build(self) -> None:
        import ipywidgets as W

        self.header = html_widget()
        self.left = W.VBox(layout=W.Layout(width="50%"))
        self.right = W.VBox(layout=W.Layout(width="50%"))
        self.tables = html_widget()
        self.widget.children = [self.header, W.HBox([self.left, self.right], layout=W.Layout(width="100%")),
                                self.tables]
        self.panels: list = []

    def render(self) -> None:
        import ipywidgets as W

        from ...plots.graph import engine_overlay, fusion_overlay

        state = self.state
        if state.model is None:
            self.header.value = STYLE + message_box("Load a model first.", "info")
            return
        groups = state.fusions
        multi = [g for g in groups or [] if len(g.nodes) > 1]
        build = state.current_build
        parts = [STYLE]
        if groups is None:
            parts.append(message_box(state.fusions_error or "fusion prediction unavailable", "warning"))
        else:
            parts.append(f"<b>{len(multi)}</b> predicted fusions (groups of several nodes) "
                         f"<span class='trex-source'>(source: predicted from {e(state.fusions_source)})</span>")
            if state.fusion_target == "tensorrt-rtx":
                parts.append("<div class='trex-source'>the current build is TensorRT-RTX's: the prediction uses "
                             "the TensorRT-RTX target (rules fitted to real TensorRT-RTX builds)</div>")
        if build is None:
            parts.append("<div class='trex-source'>No build yet: run one in the Build tab or import trtexec "
                         "files to see the real fusions next to the prediction.</div>")
        else:
            fused = build.report.fused_layers()
            parts.append(f"<div><b>{len(fused)}</b> fused layers in <b>{e(build.name)}</b> "
                         f"<span class='trex-source'>(source: {e(build.source)})</span></div>")
            if groups:
                try:
                    from ...fusions import compare_with_engine

                    score = compare_with_engine(groups, build.report, state.model, predicted_by=state.fusions_source,
                                                engine=f"{build.name}: {build.source}")
                    parts.append(f"<div>{e(score.headline(), 1200)} "
                                 f"<span class='trex-source'>({e(score.rule)})</span></div>")
                    if isinstance(build.report, BuildReport) and build.report.backend == "onnxruntime":
                        parts.append("<div class='trex-source'>this build is ONNX Runtime's: its fusions are ONNX "
                                     "Runtime's, the prediction is TensorRT's</div>")
                except Exception as exc:  # noqa: BLE001
                    parts.append(f"<div class='trex-source'>comparison unavailable: {e(describe_error(exc))}</div>")
        self.header.value = "".join(parts)
        select = lambda nid: self.app.select(node=nid, origin="fusions")  # noqa: E731
        self.panels = []
        left = self.app.graph_panel("fusions-predicted", on_select=select)
        if groups is not None:
            left.title = ("Predicted fusions (TensorRT-RTX target)" if state.fusion_target == "tensorrt-rtx"
                          else "Predicted fusions")
            left.show(fusion_overlay(left.tree, groups), selected=state.selected_nodes())
            self.left.children = [left.widget]
            self.panels.append(left)
        else:
            self.left.children = [W.HTML(STYLE + message_box("no prediction", "info"))]
        if build is not None:
            right = self.app.graph_panel("fusions-engine", on_select=select)
            right.title = f"Engine layers: {build.name}"
            right.show(engine_overlay(right.tree, build.report, source=build.source), selected=state.selected_nodes())
            self.right.children = [right.widget]
            self.panels.append(right)
        else:
            self.right.children = [W.HTML(STYLE + message_box(
                "Actual fusions appear here after a build or an import of trtexec layer information.", "info"))]
        self.tables.value = self._tables(groups, build)

    def _tables(self, groups, build) -> str:
        parts = []
        source = f"predicted from {self.state.fusions_source}"
        if groups:
            layer_of: dict[str, set] = {}  # ONNX node -> the fused layers that run it
            if build is not None:
                for fused in build.report.fused_layers():
                    for nid in fused.onnx_nodes:
                        layer_of.setdefault(nid, set()).add(fused.layer)
            rows = []
            for g in groups:
                nodes = list(g.nodes)
                if len(nodes) < 2:
                    continue
                row = {"kind": g.kind, "rule": g.rule, "nodes": " + ".join(nodes)}
                if build is not None:
                    sets = [layer_of.get(n, set()) for n in nodes]
                    common = set.intersection(*sets) if sets and all(sets) else set()
                    row["in the engine"] = ("fused as predicted: " + next(iter(common))) if common else \
                        "not in one layer"
                rows.append(row)
            parts.append("<h4>Predicted fusion groups</h4>")
            parts.append(table(rows, source=source))
        if build is not None:
            rows = [{"layer": f.layer, "type": f.type, "precision": f.precision, "ONNX nodes": ", ".join(f.onnx_nodes)}
                    for f in build.report.fused_layers()]
            parts.append("<h4>Fused layers in the engine</h4>")
            parts.append(table(rows, source=build.source, empty="no layer fuses several ONNX nodes"))
        return "".join(parts)

    def on_selection(self) -> None:
        for panel in self.panels:
            panel.set_selection(self.state.selected_nodes())
