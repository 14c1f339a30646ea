"""The Explorer app: one ipywidgets + plotly widget with a tab per question.

``Explorer("model.onnx")`` in a notebook shows it. The logic lives in :class:`~explorer.widgets.state.ExplorerState`
(plain Python, testable without a browser); this module lays widgets out and keeps them in step with the
state. Tabs are drawn when first shown and redrawn only when shown again after a change, so opening a big
model costs only what the visible tab needs.
"""

from __future__ import annotations

import os
import re
from typing import Any

from .render import (STYLE, e, layer_details, message_box, model_summary, node_details, partitions_header,
                     source_line, table, unsupported_table)
from .state import ExplorerState, describe_error, fixture_sets, sample_models, samples_dir

TABS = ("Model", "Partitions", "Fusions", "Build", "Tactics", "Memory", "Layers", "Compare", "Netron", "Export")


def _html(value: str = "", **layout):
    import ipywidgets as W

    return W.HTML(value=value, layout=W.Layout(**layout) if layout else W.Layout())


def _figure(fig, on_click=None):
    """A :class:`PlotWidget` showing a go.Figure; ``on_click(customdata)`` gets the clicked point's customdata."""
    from .plot_widget import PlotWidget

    widget = PlotWidget(fig)
    if on_click is not None:
        def clicked(trace: int, point: int, customdata) -> None:
            value = _customdata(widget, trace, point) if customdata is None else customdata
            if value:
                on_click(value)

        widget.on_click(clicked)
    return widget


def _highlight_layer(widget, layer: str | None) -> None:
    """Select the points whose customdata is ``layer`` (every view keys its points by layer name)."""
    if widget is None or widget.figure is None:
        return
    traces = list(range(len(widget.figure.data)))
    if not traces:
        return
    hits = [[i for i, name in enumerate(t.customdata if t.customdata is not None else ()) if name == layer]
            if layer else None for t in widget.figure.data]
    widget.restyle({"selectedpoints": hits}, traces)


def _customdata(widget, trace: int, point: int):
    try:
        values = widget.figure.data[trace].customdata
        return values[point] if values is not None else None
    except Exception:  # noqa: BLE001
        return None


class _Tab:
    title = ""

    def __init__(self, app: "Explorer") -> None:
        import ipywidgets as W

        self.app = app
        self.state = app.state
        self.widget = W.VBox(layout=W.Layout(width="100%", padding="6px"))
        self.built = False
        self.stale = True
        self.figures: list = []

    def ensure(self) -> None:
        if not self.built:
            self.build()
            self.built = True
            self.stale = True
        if self.stale:
            self.stale = False
            try:
                self.render()
            except Exception as exc:  # noqa: BLE001 - a tab must never take the app down
                self.widget.children = [_html(STYLE + message_box(f"this view failed: {describe_error(exc)}"))]
                self.built = False

    def invalidate(self) -> None:
        self.stale = True
        if self.app.visible_tab is self:
            self.ensure()

    def build(self) -> None:  # create the tab's widgets
        pass

    def render(self) -> None:  # fill them from the state
        pass

    def on_selection(self) -> None:
        pass

    def replace_figures(self, box, figures) -> None:
        for old in self.figures:
            try:
                old.close()
            except Exception:  # noqa: BLE001
                pass
        self.figures = [f for f in figures if f is not None and hasattr(f, "close")]
        box.children = list(figures)


# ---------------------------------------------------------------------------------------------- Model

class ModelTab(_Tab):
    title = "Model"

    def build(self) -> None:
        import ipywidgets as W

        self.path = W.Text(placeholder="path/to/model.onnx", description="Path", layout=W.Layout(width="420px"))
        self.load_button = W.Button(description="Load", button_style="primary", icon="folder-open")
        self.load_button.on_click(lambda _: self.app.load(self.path.value))
        self.upload = W.FileUpload(accept=".onnx", multiple=False, description="Upload .onnx")
        self.upload.observe(self._uploaded, "value")
        samples = sample_models()
        self.samples = W.Dropdown(options=[("bundled samples…", "")] + [(s, s) for s in samples],
                                  value="", description="Sample", layout=W.Layout(width="340px"),
                                  disabled=not samples)
        self.samples.observe(self._sample, "value")
        self.message = _html()
        self.summary = _html()
        self.widget.children = [W.HBox([self.path, self.load_button]), W.HBox([self.samples, self.upload]),
                                self.message, self.summary]

    def _uploaded(self, change) -> None:
        value = change["new"]
        if not value:
            return
        item = value[0] if isinstance(value, (list, tuple)) else next(iter(value.values()))
        content = item["content"] if isinstance(item, dict) else item.content
        name = item["name"] if isinstance(item, dict) else item.name
        self.app.load(bytes(content), label=name)

    def _sample(self, change) -> None:
        name = change["new"]
        if name:
            folder = samples_dir()
            if folder:
                self.path.value = os.path.join(folder, name)
                self.app.load(self.path.value)

    def render(self) -> None:
        err = self.state.error("model")
        self.message.value = STYLE + message_box(err) if err else ""
        if self.state.model_path and not self.path.value:
            self.path.value = self.state.model_path
        self.summary.value = model_summary(self.state)


# ---------------------------------------------------------------------------------------------- Partitions

class PartitionsTab(_Tab):
    title = "Partitions"

    def build(self) -> None:
        import ipywidgets as W

        try:
            from ..support.matrix import available_versions

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
        self.message = _html()
        self.header = _html()
        self.graph_box = W.VBox(layout=W.Layout(width="100%"))
        self.table = _html()
        self.widget.children = [W.HBox([self.version, self.min_block, self.fold]), self.message, self.header,
                                self.graph_box, W.HTML("<h4>Nodes that run in the framework</h4>"), self.table]
        self.panel = None

    def _changed(self, _change) -> None:
        version = None if self.version.value == "auto" else self.version.value
        self.app.analyze(trt_version=version, min_block_size=self.min_block.value,
                         fold_constants=self.fold.value)

    def render(self) -> None:
        from ..plots.graph import partition_overlay

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


# ---------------------------------------------------------------------------------------------- Fusions

class FusionsTab(_Tab):
    title = "Fusions"

    def build(self) -> None:
        import ipywidgets as W

        self.header = _html()
        self.left = W.VBox(layout=W.Layout(width="50%"))
        self.right = W.VBox(layout=W.Layout(width="50%"))
        self.tables = _html()
        self.widget.children = [self.header, W.HBox([self.left, self.right], layout=W.Layout(width="100%")),
                                self.tables]
        self.panels: list = []

    def render(self) -> None:
        import ipywidgets as W

        from ..plots.graph import engine_overlay, fusion_overlay

        state = self.state
        if state.model is None:
            self.header.value = STYLE + message_box("Load a model first.", "info")
            return
        groups = state.fusions
        multi = [g for g in groups or [] if len(getattr(g, "nodes", []) or []) > 1]
        build = state.current_build
        parts = [STYLE]
        if groups is None:
            parts.append(message_box(state.fusions_error or "fusion prediction unavailable", "warning"))
        else:
            parts.append(f"<b>{len(multi)}</b> predicted fusions (groups of several nodes) "
                         "<span class='trex-source'>(source: predicted from TensorRT's documented fusion "
                         "patterns)</span>")
        if build is None:
            parts.append("<div class='trex-source'>No build yet: run one in the Build tab or import trtexec "
                         "files to see the real fusions next to the prediction.</div>")
        else:
            fused = [layer for layer in build.report.layers if len(layer.onnx_nodes or []) > 1]
            parts.append(f"<div><b>{len(fused)}</b> fused layers in <b>{e(build.name)}</b> "
                         f"<span class='trex-source'>(source: {e(build.source)})</span></div>")
            if groups:
                try:
                    from ..fusions import compare_with_engine

                    score = compare_with_engine(groups, build.report, state.model)
                    parts.append(f"<div>prediction vs engine: precision <b>{score.precision:.0%}</b>, recall "
                                 f"<b>{score.recall:.0%}</b> ({score.predicted_groups} predicted, "
                                 f"{score.actual_groups} actual groups; {e(score.rule)})</div>")
                except Exception as exc:  # noqa: BLE001
                    parts.append(f"<div class='trex-source'>comparison unavailable: {e(describe_error(exc))}</div>")
        self.header.value = "".join(parts)
        select = lambda nid: self.app.select(node=nid, origin="fusions")  # noqa: E731
        self.panels = []
        left = self.app.graph_panel("fusions-predicted", on_select=select)
        if groups is not None:
            left.title = "Predicted fusions"
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
        if groups:
            layer_of: dict[str, set] = {}
            if build is not None:
                for layer in build.report.layers:
                    for nid in layer.onnx_nodes or []:
                        layer_of.setdefault(nid, set()).add(layer.name)
            rows = []
            for g in groups:
                nodes = [getattr(n, "id", n) for n in getattr(g, "nodes", [])]
                if len(nodes) < 2:
                    continue
                row = {"kind": getattr(g, "kind", ""), "rule": getattr(g, "rule", ""), "nodes": " + ".join(nodes)}
                if build is not None:
                    sets = [layer_of.get(n, set()) for n in nodes]
                    common = set.intersection(*sets) if sets and all(sets) else set()
                    row["in the engine"] = ("fused as predicted: " + next(iter(common))) if common else \
                        "not in one layer"
                rows.append(row)
            parts.append("<h4>Predicted fusion groups</h4>")
            parts.append(table(rows, source="predicted from TensorRT's documented fusion patterns"))
        if build is not None:
            rows = [{"layer": layer.name, "type": layer.type, "precision": layer.precision,
                     "ONNX nodes": ", ".join(layer.onnx_nodes)} for layer in build.report.layers
                    if len(layer.onnx_nodes or []) > 1]
            parts.append("<h4>Fused layers in the engine</h4>")
            parts.append(table(rows, source=build.source, empty="no layer fuses several ONNX nodes"))
        return "".join(parts)

    def on_selection(self) -> None:
        for panel in self.panels:
            panel.set_selection(self.state.selected_nodes())


# ---------------------------------------------------------------------------------------------- Build

class BuildTab(_Tab):
    title = "Build"

    def build(self) -> None:
        import ipywidgets as W

        from ..backends import MAX_DURATION_S

        trt_ok, trt_why = self.app.tensorrt_status()
        self.trt_ok, self.trt_why = trt_ok, trt_why
        self.state.prepare_builds()  # the worker starts while the user picks the settings
        self.backend = W.Dropdown(
            options=[("auto (TensorRT if available, else ONNX Runtime)", "auto"),
                     ("ONNX Runtime (CPU)", "onnxruntime"),
                     ("TensorRT" if trt_ok else "TensorRT (unavailable here)", "tensorrt")],
            value="auto", description="Backend", layout=W.Layout(width="420px"))
        self.backend.observe(self._backend_changed, "value")
        self.trt_note = _html(
            "" if trt_ok else f"<span style='color:#888'>TensorRT: unavailable — {e(trt_why)}</span>")
        self.precision = W.Dropdown(options=self._precisions("auto"), value="fp32", description="Precision",
                                    layout=W.Layout(width="240px"))
        self.opt_level = W.IntSlider(value=3, min=0, max=5, description="Opt level", continuous_update=False)
        self.workspace = W.BoundedIntText(value=0, min=0, max=1 << 20, description="Workspace MiB",
                                          tooltip="0 = TensorRT's default (all device memory)",
                                          layout=W.Layout(width="220px"), style={"description_width": "initial"})
        self.timing_cache = W.Text(placeholder="optional: path to a timing cache file", description="Timing cache",
                                   layout=W.Layout(width="420px"), style={"description_width": "initial"})
        self.runs = W.BoundedIntText(value=20, min=1, max=100000, description="Runs", layout=W.Layout(width="160px"))
        self.duration = W.BoundedFloatText(value=0.0, min=0.0, max=MAX_DURATION_S, step=0.5, description="Min s",
                                           tooltip="time runs for at least this many seconds too (trtexec "
                                                   "--duration); 0: just the runs",
                                           layout=W.Layout(width="150px"))
        self.warmup = W.BoundedIntText(value=3, min=0, max=10000, description="Warm-up",
                                       layout=W.Layout(width="160px"))
        self.shapes_box = W.VBox()
        self.shape_fields: dict[str, tuple] = {}
        self.build_button = W.Button(description="Build", button_style="success", icon="play")
        self.build_button.on_click(lambda _: self.start())
        self.cancel_button = W.Button(description="Cancel", button_style="danger", icon="stop", disabled=True)
        self.cancel_button.on_click(lambda _: self.app.cancel())
        self.progress = W.IntProgress(value=0, min=0, max=1, description="", layout=W.Layout(width="420px"))
        self.phase = _html()
        self.message = _html()
        self.log = W.Textarea(value="", layout=W.Layout(width="100%", height="180px"), disabled=True)
        self.log_box = W.Accordion(children=[self.log], titles=("Build log",))
        self.log_box.selected_index = None
        self.result_box = W.VBox()
        # imports
        self.graph_path = W.Text(placeholder="*.graph.json (--exportLayerInfo)", description="Layer info",
                                 layout=W.Layout(width="480px"), style={"description_width": "90px"})
        self.profile_path = W.Text(placeholder="*.profile.json (--exportProfile)", description="Profile",
                                   layout=W.Layout(width="480px"), style={"description_width": "90px"})
        self.times_path = W.Text(placeholder="*.timing.json (--exportTimes)", description="Times",
                                 layout=W.Layout(width="480px"), style={"description_width": "90px"})
        self.log_path = W.Text(placeholder="verbose build log (trtexec --verbose)", description="Build log",
                               layout=W.Layout(width="480px"), style={"description_width": "90px"})
        self.import_upload = W.FileUpload(accept=".json,.log,.txt", multiple=True, description="Upload files")
        self.import_name = W.Text(placeholder="name (optional)", description="Name", layout=W.Layout(width="300px"))
        self.import_button = W.Button(description="Import", icon="upload")
        self.import_button.on_click(lambda _: self.import_files())
        fixtures = sorted(fixture_sets())
        self.fixture = W.Dropdown(options=[("TensorRT fixtures…", "")] + [(f, f) for f in fixtures], value="",
                                  description="Fixture", layout=W.Layout(width="340px"), disabled=not fixtures)
        self.fixture_button = W.Button(description="Import fixture", icon="download", disabled=not fixtures)
        self.fixture_button.on_click(lambda _: self.fixture.value and self.app.import_fixture(self.fixture.value))
        self.import_message = _html()
        self.current = W.Dropdown(options=[], description="Current", layout=W.Layout(width="420px"))
        self.current.observe(self._current_changed, "value")
        self.remove_button = W.Button(description="Remove", icon="trash")
        self.remove_button.on_click(lambda _: self.current.value and self.state.remove_build(self.current.value))
        build_form = W.VBox([
            W.HTML("<h4>Build an engine</h4>"), W.HBox([self.backend, self.trt_note]),
            W.HBox([self.precision, self.opt_level, self.workspace]), self.shapes_box, self.timing_cache,
            W.HBox([self.runs, self.duration, self.warmup]), W.HBox([self.build_button, self.cancel_button]),
            W.HBox([self.progress, self.phase]), self.message, self.log_box, self.result_box])
        import_form = W.VBox([
            W.HTML("<h4>Import what trtexec exported (paths or upload)</h4>"),
            self.graph_path, self.profile_path, self.times_path, self.log_path,
            W.HBox([self.import_upload, self.import_name, self.import_button]),
            W.HBox([self.fixture, self.fixture_button]), self.import_message])
        builds = W.VBox([W.HTML("<h4>Builds and imports</h4>"), W.HBox([self.current, self.remove_button])])
        self.widget.children = [build_form, import_form, builds]
        self._backend_changed(None)

    def _precisions(self, backend: str) -> list[str]:
        try:
            from ..backends.build import PRECISIONS

            return list(PRECISIONS)
        except Exception:  # noqa: BLE001
            return ["fp32", "fp16"]

    def _backend_changed(self, _change) -> None:
        backend = self.backend.value
        options = self._precisions(backend)
        current = self.precision.value
        self.precision.options = options
        self.precision.value = current if current in options else options[0]
        blocked = backend == "tensorrt" and not self.trt_ok
        self.build_button.disabled = blocked or self.state.building
        self.build_button.tooltip = f"TensorRT unavailable: {self.trt_why}" if blocked else None
        self.trt_note.value = (f"<span style='color:#888'>TensorRT: unavailable — {e(self.trt_why)}</span>"
                               if not self.trt_ok else "")
        if blocked:
            self.message.value = STYLE + message_box(f"TensorRT cannot be used here: {self.trt_why}", "warning")
        elif self.message.value and "TensorRT cannot be used here" in self.message.value:
            self.message.value = ""
        trt_only = backend == "tensorrt" or (backend == "auto" and self.trt_ok)
        self.opt_level.disabled = not trt_only
        self.workspace.disabled = not trt_only
        self.timing_cache.disabled = not trt_only

    def _current_changed(self, change) -> None:
        if change["new"] and change["new"] != self.state.current:
            self.state.set_current(change["new"])

    def shapes(self) -> dict[str, tuple] | None:
        out = {}
        for name, fields in self.shape_fields.items():
            texts = [f.value.strip() for f in fields]
            if not any(texts):
                continue
            dims = [parse_dims(t) if t else None for t in texts]
            filled = [d for d in dims if d is not None]
            mn, opt, mx = (d if d is not None else filled[0] for d in dims)
            out[name] = (mn, opt, mx)
        return out or None

    def options(self) -> dict[str, Any]:
        opts: dict[str, Any] = {"precision": self.precision.value, "runs": self.runs.value,
                                "warmup": self.warmup.value}
        if self.duration.value:
            opts["duration"] = float(self.duration.value)
        backend = self.backend.value
        if not self.opt_level.disabled:
            opts["opt_level"] = self.opt_level.value
        if not self.workspace.disabled and self.workspace.value:
            opts["workspace"] = int(self.workspace.value) << 20
        if not self.timing_cache.disabled and self.timing_cache.value.strip():
            opts["timing_cache"] = self.timing_cache.value.strip()
        shapes = self.shapes()
        if shapes:
            opts["shapes"] = shapes
        opts["backend"] = backend
        return opts

    def start(self) -> None:
        try:
            opts = self.options()
        except ValueError as exc:
            self.message.value = STYLE + message_box(f"shape profile: {exc}")
            return
        backend = opts.pop("backend")
        self.app.build(backend=backend, **opts)

    def import_files(self) -> None:
        given: dict[str, Any] = {}
        for kind, field in (("graph", self.graph_path), ("profile", self.profile_path), ("times", self.times_path),
                            ("log", self.log_path)):
            if field.value.strip():
                given[kind] = os.path.expanduser(field.value.strip())
        for item in self.import_upload.value or ():
            name = item["name"] if isinstance(item, dict) else item.name
            content = bytes(item["content"] if isinstance(item, dict) else item.content)
            kind = artifact_kind(name)
            if kind is None:
                self.import_message.value = STYLE + message_box(
                    f"cannot tell what {name} is: name files *.graph.json, *.profile.json, *.timing.json or *.log")
                return
            given[kind] = content
        self.app.import_trtexec(name=self.import_name.value.strip() or None, **given)

    def render(self) -> None:
        self._render_shapes()
        self.render_job()
        self.render_builds()

    def _render_shapes(self) -> None:
        import ipywidgets as W

        model = self.state.model
        rows, fields = [], {}
        if model is not None:
            g = model.graph
            for t in g.inputs:
                if t.name in g.initializers:
                    continue
                if t.shape is not None and all(isinstance(d, int) and d > 0 for d in t.shape):
                    continue
                dims = "x".join(str(d) if isinstance(d, int) and d > 0 else (str(d) if d else "?")
                                for d in (t.shape or ()))
                example = "x".join(str(d) if isinstance(d, int) and d > 0 else "1" for d in (t.shape or ()))
                mn = W.Text(placeholder=f"min e.g. {example}", layout=W.Layout(width="170px"))
                opt = W.Text(placeholder=f"opt e.g. {example}", layout=W.Layout(width="170px"))
                mx = W.Text(placeholder=f"max e.g. {example}", layout=W.Layout(width="170px"))
                fields[t.name] = (mn, opt, mx)
                rows.append(W.HBox([W.HTML(f"<code>{e(t.name)}</code> [{e(dims)}]",
                                           layout=W.Layout(width="240px")), mn, opt, mx]))
        self.shape_fields = fields
        if rows:
            self.shapes_box.children = [W.HTML("<b>Dynamic-shape profile</b> (min / opt / max per dynamic input, "
                                               "e.g. 1x3x224x224; empty = 1 for every dynamic dimension)")] + rows
        else:
            self.shapes_box.children = []

    def render_job(self) -> None:
        if not self.built:
            return
        st = self.state.job_status
        running = st.state == "running"
        self.cancel_button.disabled = not running
        blocked = self.backend.value == "tensorrt" and not self.trt_ok
        self.build_button.disabled = running or blocked
        total = max(1, st.total)
        self.progress.max = total
        self.progress.value = min(st.step, total) if st.state != "done" else total
        self.progress.bar_style = {"done": "success", "failed": "danger", "cancelled": "warning"}.get(st.state, "info")
        phase = st.phase or st.state
        label = f"{phase} ({st.step}/{st.total})" if running and st.total else phase
        if st.state in ("done", "failed", "cancelled"):
            label = st.message
        self.phase.value = f"<span class='trex-phase' data-state='{e(st.state)}'>{e(label)}</span>"
        if st.state == "failed":
            self.message.value = STYLE + message_box(st.message)
        elif st.state == "cancelled":
            self.message.value = STYLE + message_box(st.message or "build cancelled", "warning")
        elif st.state == "done":
            self.message.value = STYLE + message_box(st.message, "info")
        elif running:
            err = self.state.error("build")
            self.message.value = STYLE + message_box(err) if err else ""
        else:
            err = self.state.error("build")
            self.message.value = STYLE + message_box(err) if err else ""
        if st.log:
            self.log.value = st.log[-20000:]

    def render_builds(self) -> None:
        if not self.built:
            return
        names = list(self.state.builds)
        self.current.options = [(n, n) for n in names]
        self.current.value = self.state.current if self.state.current in names else None
        err = self.state.error("import")
        self.import_message.value = STYLE + message_box(err) if err else ""
        build = self.state.current_build
        if build is not None:
            from ..plots.layers import latency_bar

            fig = _figure(latency_bar(build.report, title=f"Per-layer latency: {build.name}", height=360))
            self.replace_figures(self.result_box, [fig])
        else:
            self.replace_figures(self.result_box, [])


_DIMS = re.compile(r"^\s*\d+(\s*[x,×*]\s*\d+)*\s*$")


def parse_dims(text: str) -> tuple[int, ...]:
    """``"1x3x224x224"`` / ``"1,3,224,224"`` -> (1, 3, 224, 224)."""
    text = text.strip().strip("[]()")
    if not _DIMS.match(text):
        raise ValueError(f"cannot read {text!r} as a shape: write it like 1x3x224x224")
    return tuple(int(p) for p in re.split(r"\s*[x,×*]\s*", text.strip()))


def artifact_kind(filename: str) -> str | None:
    name = filename.lower()
    if name.endswith(".graph.json") or name.endswith(".layers.json") or "layerinfo" in name:
        return "graph"
    if name.endswith(".profile.json"):
        return "profile"
    if name.endswith(".timing.json") or name.endswith(".times.json"):
        return "times"
    if name.endswith(".log") or name.endswith(".txt"):
        return "log"
    return None


# ---------------------------------------------------------------------------------------------- engine views

class _EngineTab(_Tab):
    """A tab that shows the current build."""

    def build(self) -> None:
        self.message = _html()
        self.body = None

    def no_build(self) -> bool:
        import ipywidgets as W

        if self.state.current_build is None:
            self.widget.children = [W.HTML(STYLE + message_box(
                "No build yet: run one in the Build tab, or import trtexec files (or a bundled fixture) there.",
                "info"))]
            self.replace_figures(W.VBox(), [])
            return True
        return False


class TacticsTab(_EngineTab):
    title = "Tactics"

    def build(self) -> None:
        import ipywidgets as W

        self.kind = W.ToggleButtons(options=[("strip", "strip"), ("box", "box")], value="strip",
                                    description="Plot")
        self.kind.observe(lambda _: self.invalidate(), "value")
        self.fig_box = W.VBox()
        self.table = _html()
        self.head = _html()

    def render(self) -> None:
        import ipywidgets as W

        from ..plots.data import engine_source
        from ..plots.tactics import from_onnxruntime, no_tactics_message, tactics_figure, tactics_table, timed_tactics

        if self.no_build():
            return
        build = self.state.current_build
        report = build.report
        if not timed_tactics(report):
            self.head.value = STYLE + f"<b>{e(build.name)}</b>" + message_box(no_tactics_message(report), "info")
            self.replace_figures(self.fig_box, [])
            self.plots = []
            frame = report.tactics_frame()
            if len(frame):
                cols = [c for c in ("layer", "tactic", "runner", "time_ms", "source") if c in frame.columns]
                title = ("<h4>Execution provider per node (no autotuning)</h4>" if from_onnxruntime(report)
                         else "<h4>Tactic records</h4>")
                self.table.value = title + table(frame, cols, source=engine_source(report, "tactics"))
                self.widget.children = [self.head, self.table]
            else:
                self.widget.children = [self.head]
            return
        self.head.value = STYLE + f"<b>{e(build.name)}</b>" + source_line(build.source)
        fig = _figure(tactics_figure(report, kind=self.kind.value), on_click=self._clicked)
        self.replace_figures(self.fig_box, [fig])
        self.plots = [fig]
        frame = tactics_table(report)
        cols = [c for c in ("layer", "tactic", "tactic_name", "time_ms", "chosen", "skipped_reason", "runner",
                            "layer_latency_ms") if c in frame.columns]
        self.table.value = table(frame, cols, source=build.source, max_rows=1000)
        self.widget.children = [self.head, self.kind, self.fig_box, W.HTML("<h4>Table</h4>"), self.table]
        self.on_selection()

    def _clicked(self, layer: str) -> None:
        self.app.select(layer=layer, origin="tactics")

    def on_selection(self) -> None:
        for fig in getattr(self, "plots", ()):
            _highlight_layer(fig, self.state.selection.layer)


class MemoryTab(_EngineTab):
    title = "Memory"

    def build(self) -> None:
        import ipywidgets as W

        self.fig_box = W.VBox()
        self.totals = _html()

    def render(self) -> None:
        from ..plots.data import memory_totals
        from ..plots.format import fmt_bytes
        from ..plots.memory import activation_footprint_figure, memory_layers_figure, memory_totals_figure

        if self.no_build():
            return
        build = self.state.current_build
        workspace = build.options.get("workspace")
        rows = [{"kind": r["category"], "bytes": fmt_bytes(r["bytes"]) if r["bytes"] is not None else "n/a",
                 "source": r["source"] or "not in this source"} for r in memory_totals(build.report, workspace)]
        self.totals.value = STYLE + f"<b>{e(build.name)}</b>" + table(rows, scroll=False)
        figs = [_figure(memory_totals_figure(build.report, workspace_bytes=workspace)),
                _figure(activation_footprint_figure(build.report), on_click=self._clicked),
                _figure(memory_layers_figure(build.report), on_click=self._clicked)]
        self.replace_figures(self.fig_box, figs)
        self.plots = figs[1:]  # the per-layer views (the totals bar has no layers)
        self.widget.children = [self.totals, self.fig_box]
        self.on_selection()

    def _clicked(self, layer: str) -> None:
        self.app.select(layer=layer, origin="memory")

    def on_selection(self) -> None:
        for fig in getattr(self, "plots", ()):
            _highlight_layer(fig, self.state.selection.layer)


class LayersTab(_EngineTab):
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
        self.table = _html()
        self.head = _html()
        self.bar = None

    def render(self) -> None:
        import ipywidgets as W

        from ..plots.layers import latency_bar, latency_treemap, precision_pie

        if self.no_build():
            return
        build = self.state.current_build
        report = build.report
        from ..plots.data import engine_source

        self.head.value = (STYLE + f"<b>{e(build.name)}</b>" + source_line(build.source)
                           + f"<div class='trex-source'>latency: {e(engine_source(report, 'latency'))}</div>")
        bar = _figure(latency_bar(report, sort=self.sort.value, color_by=self.color.value), on_click=self._clicked)
        tree = _figure(latency_treemap(report, title_width=68), on_click=self._clicked)  # side by side:
        pie = _figure(precision_pie(report, title_width=48))  # narrower titles
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
        _highlight_layer(self.bar, self.state.selection.layer)


class CompareTab(_Tab):
    title = "Compare"

    def build(self) -> None:
        import ipywidgets as W

        self.a = W.Dropdown(options=[], description="A", layout=W.Layout(width="380px"))
        self.b = W.Dropdown(options=[], description="B", layout=W.Layout(width="380px"))
        self.a.observe(self._picked, "value")
        self.b.observe(self._picked, "value")
        self.fig_box = W.VBox()
        self.table = _html()
        self.message = _html()
        self.widget.children = [W.HBox([self.a, self.b]), self.message, self.fig_box, self.table]
        self._updating = False

    def _picked(self, _change) -> None:
        if not self._updating:
            self.invalidate()

    def render(self) -> None:
        from ..plots.compare import compare_frame, compare_latency_figure, compare_totals_figure

        names = list(self.state.builds)
        self._updating = True
        try:
            a, b = self.a.value, self.b.value
            self.a.options = [(n, n) for n in names]
            self.b.options = [(n, n) for n in names]
            if a not in names:
                a = names[0] if names else None
            if b not in names or b == a:
                b = next((n for n in reversed(names) if n != a), None)
            self.a.value, self.b.value = a, b
        finally:
            self._updating = False
        if len(names) < 2 or a is None or b is None:
            self.message.value = STYLE + message_box(
                "Compare needs two builds or imports: e.g. import the fp32 and fp16 fixtures in the Build tab, or "
                "run two ONNX Runtime builds.", "info")
            self.replace_figures(self.fig_box, [])
            self.table.value = ""
            return
        self.message.value = ""
        ra, rb = self.state.builds[a].report, self.state.builds[b].report
        figs = [_figure(compare_totals_figure(ra, rb, label_a=a, label_b=b)),
                _figure(compare_latency_figure(ra, rb, label_a=a, label_b=b))]
        self.replace_figures(self.fig_box, figs)
        frame = compare_frame(ra, rb, a, b)
        changed = frame[(frame["precision_changed"]) | (frame["tactic_changed"]) | (frame["in"] != "both")]
        self.table.value = ("<h4>Layers whose precision or tactic changed, or that exist in one build only</h4>"
                            + table(changed, source=f"{a}: {self.state.builds[a].source} | "
                                                    f"{b}: {self.state.builds[b].source}",
                                    empty="no precision or tactic changes"))


class NetronTab(_Tab):
    title = "Netron"

    def build(self) -> None:
        import ipywidgets as W

        from .netron_view import NetronServer

        self.server = NetronServer()
        self.frame = _html()
        self.message = _html()
        self.stop_button = W.Button(description="Stop Netron", icon="stop")
        self.stop_button.on_click(lambda _: self.stop())
        self.start_button = W.Button(description="Start Netron", icon="play")
        self.start_button.on_click(lambda _: self.invalidate())
        self.widget.children = [W.HBox([self.start_button, self.stop_button]), self.message, self.frame]

    def render(self) -> None:
        path = self.state.model_path
        if self.state.model is None or not path:
            self.message.value = STYLE + message_box("Load a model (from a file or an upload) to view it in Netron.",
                                                     "info")
            self.frame.value = ""
            return
        try:
            url = self.server.start(path)
        except Exception as exc:  # noqa: BLE001
            self.message.value = STYLE + message_box(f"Netron could not start: {describe_error(exc)}")
            self.frame.value = ""
            return
        self.message.value = (STYLE + f"<div class='trex-source'>Netron {e(os.path.basename(path))} at "
                              f"<a href='{e(url)}' target='_blank'>{e(url)}</a> (stops when the app closes)</div>")
        self.frame.value = self.server.iframe_html()

    def stop(self) -> None:
        self.server.stop()
        self.frame.value = ""
        self.message.value = STYLE + message_box("Netron stopped.", "info")


class ExportTab(_Tab):
    title = "Export"

    def build(self) -> None:
        import ipywidgets as W

        self.path = W.Text(value="explorer_report.html", description="File", layout=W.Layout(width="420px"))
        self.button = W.Button(description="Write HTML report", icon="file", button_style="primary")
        self.button.on_click(lambda _: self.export())
        self.message = _html()
        self.widget.children = [W.HTML("<h4>One standalone HTML file (works offline): the analysis, the "
                                       "fusions and every build</h4>"), W.HBox([self.path, self.button]), self.message]

    def export(self) -> None:
        try:
            path = self.app.export(self.path.value.strip() or "explorer_report.html")
        except Exception as exc:  # noqa: BLE001
            self.message.value = STYLE + message_box(f"export failed: {describe_error(exc)}")
            return
        size = os.path.getsize(path)
        self.message.value = STYLE + message_box(f"wrote {path} ({size / 1024:.0f} KiB)", "info")


# ---------------------------------------------------------------------------------------------- the app

class Explorer:
    """The TensorRT Engine Explorer app for one notebook cell.

    >>> app = Explorer("model.onnx")      # doctest: +SKIP
    >>> app                                # shows the widget

    Methods mirror what the buttons do (``load``, ``analyze``, ``build``, ``cancel``, ``import_trtexec``,
    ``select``, ``export``, ``close``); ``app.state`` holds the data (model, support report, builds).
    """

    def __init__(self, model=None, *, trt_version: str | None = None, min_block_size: int = 1,
                 fold_constants: bool = False, tab: str = "Model") -> None:
        import ipywidgets as W

        self.state = ExplorerState()
        self.state.options.update(trt_version=trt_version, min_block_size=min_block_size,
                                  fold_constants=fold_constants)
        self._trt_status: tuple[bool, str] | None = None
        self._trees: dict[int, Any] = {}
        self._panels: dict[str, Any] = {}
        self.tabs: dict[str, _Tab] = {}
        for cls in (ModelTab, PartitionsTab, FusionsTab, BuildTab, TacticsTab, MemoryTab, LayersTab, CompareTab,
                    NetronTab, ExportTab):
            self.tabs[cls.title] = cls(self)
        self.header = _html()
        self.messages = _html()
        self.details = _html(STYLE + "<div class='trex-source'>Click a node or a layer in any view to see its "
                                     "details here.</div>")
        self.details.add_class("trex-details")
        clear = W.Button(description="clear", layout=W.Layout(width="70px"))
        clear.on_click(lambda _: self.select(None))
        self.details_box = W.VBox([W.HBox([W.HTML("<b>Details</b>"), clear]), self.details],
                                  layout=W.Layout(width="330px", min_width="260px", border="1px solid #ddd",
                                                  padding="4px", overflow="auto", max_height="900px"))
        self.tab = W.Tab(children=[t.widget for t in self.tabs.values()], titles=tuple(self.tabs),
                         layout=W.Layout(flex="1 1 auto", width="auto", min_width="0"))
        self.tab.observe(self._tab_changed, "selected_index")
        self.widget = W.VBox([self.header, self.messages,
                              W.HBox([self.tab, self.details_box], layout=W.Layout(width="100%"))],
                             layout=W.Layout(width="100%"))
        self.widget.add_class("trex-app")
        self._closed = False
        st = self.state
        st.on("model", self._on_model)
        st.on("analysis", self._on_analysis)
        st.on("builds", self._on_builds)
        st.on("current", self._on_current)
        st.on("job", self._on_job)
        st.on("selection", self._on_selection)
        st.on("message", self._on_message)
        if model is not None:
            self.load(model)
        self.show(tab)
        self._render_header()

    # ------------------------------------------------------------------ display
    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)

    @property
    def visible_tab(self) -> _Tab | None:
        index = self.tab.selected_index
        if index is None:
            return None
        return list(self.tabs.values())[index]

    def show(self, tab: str) -> None:
        """Switch to a tab by title (``"Partitions"``, ``"Build"``, ...)."""
        titles = [t.lower() for t in self.tabs]
        if tab.lower() not in titles:
            raise ValueError(f"no tab {tab!r}; tabs: {', '.join(self.tabs)}")
        index = titles.index(tab.lower())
        if self.tab.selected_index == index:
            self._tab_changed({"new": index})
        self.tab.selected_index = index

    def _tab_changed(self, change) -> None:
        index = change["new"]
        if index is None:
            return
        list(self.tabs.values())[index].ensure()
        self._on_message(self.state)

    # ------------------------------------------------------------------ actions (what the buttons do)
    @property
    def model(self):
        return self.state.model

    @property
    def support(self):
        return self.state.support

    @property
    def builds(self):
        return self.state.builds

    def load(self, source, *, label: str | None = None) -> bool:
        """Load a model (path, bytes or ModelProto). On failure the error shows and the old model stays."""
        return self.state.load(source, label=label)

    def analyze(self, **options):
        """Re-run the support analysis with new options (trt_version, min_block_size, fold_constants)."""
        self.state.set_options(**options)
        return self.state.support

    def build(self, *, backend: str = "auto", wait: bool = False, timeout: float | None = None, **options) -> bool:
        """Start a build (precision, opt_level, workspace, shapes, timing_cache, runs, warmup, duration).

        The notebook stays responsive: the build runs in a worker process and progress arrives on a
        background thread. ``wait=True`` blocks until it ends (scripts and tests).
        """
        started = self.state.start_build(backend=backend, **options)
        if started and wait:
            self.state.wait_build(timeout)
        return started

    def cancel(self) -> bool:
        return self.state.cancel_build()

    def wait(self, timeout: float | None = None):
        return self.state.wait_build(timeout)

    def import_trtexec(self, *, graph=None, profile=None, times=None, log=None, name: str | None = None):
        """Import trtexec exports (paths or bytes) as a build: layer info, profile, times, verbose log."""
        return self.state.import_artifacts(graph=graph, profile=profile, times=times, log=log, name=name)

    def import_fixture(self, name: str):
        """Import one of the bundled real TensorRT artifacts (``a100_resnet_fp32``, ``..._fp16``, ``..._qat``)."""
        return self.state.import_fixture(name)

    def add_report(self, report, *, name: str | None = None, source: str = ""):
        """Add an EngineReport made elsewhere (e.g. ``explorer.engine.load_report``)."""
        return self.state.add_report(report, name=name, kind="import", source=source)

    def select(self, node: str | None = None, *, layer: str | None = None, origin: str = "api") -> None:
        """Select an ONNX node (by id) or an engine layer (by name): details show, views highlight it."""
        if layer is not None:
            self.state.select_layer(layer, origin=origin)
        else:
            self.state.select_node(node, origin=origin)

    def compare(self, a: str, b: str) -> None:
        """Show the Compare tab for two builds (by name)."""
        tab: CompareTab = self.tabs["Compare"]  # type: ignore[assignment]
        self.show("Compare")
        tab._updating = True
        tab.a.value, tab.b.value = a, b
        tab._updating = False
        tab.invalidate()

    def export(self, path: str = "explorer_report.html") -> str:
        """Write the standalone HTML report of the current analysis and every build; returns its path."""
        from ..html import write_report

        if self.state.model is None:
            from ..errors import ExplorerError

            raise ExplorerError("load a model before exporting a report")
        reports = [(b.name, b.report) for b in self.state.builds.values()]
        return write_report(path, self.state.model, self.state.support, engine_reports=reports,
                            fusions=self.state.fusions, title=f"TensorRT Engine Explorer: {self.state.model_label}")

    def close(self) -> None:
        """Stop Netron, cancel a running build, close every widget."""
        if self._closed:
            return
        self._closed = True
        netron_tab = self.tabs.get("Netron")
        if netron_tab is not None and getattr(netron_tab, "server", None) is not None:
            netron_tab.server.stop()
        self.state.close()
        for panel in self._panels.values():
            panel.close()
        for tab in self.tabs.values():
            for fig in tab.figures:
                try:
                    fig.close()
                except Exception:  # noqa: BLE001
                    pass
        try:
            self.widget.close_all() if hasattr(self.widget, "close_all") else self.widget.close()
        except Exception:  # noqa: BLE001
            self.widget.close()

    def __del__(self):  # pragma: no cover - best effort
        try:
            netron_tab = self.tabs.get("Netron")
            if netron_tab is not None and getattr(netron_tab, "server", None) is not None:
                netron_tab.server.stop()
        except Exception:  # noqa: BLE001
            pass

    # ------------------------------------------------------------------ shared pieces
    def tensorrt_status(self) -> tuple[bool, str]:
        if self._trt_status is None:
            try:
                from ..backends.tensorrt import available

                self._trt_status = tuple(available())  # type: ignore[assignment]
            except Exception as exc:  # noqa: BLE001
                self._trt_status = (False, f"TensorRT backend unavailable: {describe_error(exc)}")
        return self._trt_status  # type: ignore[return-value]

    def scope_tree(self):
        from ..plots.graph_layout import ScopeTree

        model = self.state.model
        key = id(model)
        tree = self._trees.get(key)
        if tree is None or tree.model is not model:
            self._trees = {key: ScopeTree(model)}
            tree = self._trees[key]
        return tree

    def graph_panel(self, name: str, *, on_select=None, height: int | None = None):
        from .graph_panel import GraphPanel

        tree = self.scope_tree()
        panel = self._panels.get(name)
        if panel is None or panel.tree is not tree:
            if panel is not None:
                panel.close()
            panel = GraphPanel(tree, on_select=on_select, height=height)
            self._panels[name] = panel
        return panel

    # ------------------------------------------------------------------ state events
    def _render_header(self) -> None:
        st = self.state
        model = e(st.model_label) if st.model_label else "no model"
        source = f" &nbsp;·&nbsp; support: <b>{e(st.support.source)}</b>" if st.support is not None else ""
        build = f" &nbsp;·&nbsp; current build: <b>{e(st.current)}</b>" if st.current else ""
        self.header.value = (f"<div style='font-size:15px'><b>TensorRT Engine Explorer</b> &nbsp;·&nbsp; "
                             f"model: <b class='trex-model'>{model}</b>{source}{build}</div>")

    def _on_model(self, _state) -> None:
        for name in ("Model", "Partitions", "Fusions", "Build", "Netron"):
            self.tabs[name].stale = True
        self._render_header()
        self._on_selection(_state)
        tab = self.visible_tab
        if tab is not None:
            tab.invalidate()

    def _on_analysis(self, _state) -> None:
        self._render_header()
        for name in ("Model", "Partitions"):
            self.tabs[name].invalidate()

    def _on_builds(self, _state) -> None:
        build_tab: BuildTab = self.tabs["Build"]  # type: ignore[assignment]
        build_tab.render_builds()
        self.tabs["Compare"].invalidate()

    def _on_current(self, _state) -> None:
        self._render_header()
        for name in ("Fusions", "Tactics", "Memory", "Layers"):
            self.tabs[name].invalidate()
        build_tab: BuildTab = self.tabs["Build"]  # type: ignore[assignment]
        build_tab.render_builds()

    def _on_job(self, _state) -> None:
        build_tab: BuildTab = self.tabs["Build"]  # type: ignore[assignment]
        build_tab.render_job()

    #: the tab where each message area is shown in place
    HOME = {"model": "Model", "analysis": "Partitions", "build": "Build", "import": "Build", "builds": "Build"}

    def _on_message(self, _state) -> None:
        st = self.state
        tab = self.visible_tab
        # errors show in place (in the tab that caused them); above the tabs only when that tab is not visible
        shown = []
        for area, (level, text) in st.messages.items():
            home = self.HOME.get(area)
            if home is None or tab is None or tab.title != home:
                shown.append(message_box(f"{home or area}: {text}" if home else text, level))
        self.messages.value = STYLE + "".join(shown) if shown else ""
        for name, area in (("Model", "model"), ("Partitions", "analysis")):
            t = self.tabs[name]
            if t.built and hasattr(t, "message"):
                err = st.error(area)
                t.message.value = STYLE + message_box(err) if err else ""
        build_tab: BuildTab = self.tabs["Build"]  # type: ignore[assignment]
        if build_tab.built:
            err = st.error("import")
            build_tab.import_message.value = STYLE + message_box(err) if err else ""

    def _on_selection(self, _state) -> None:
        st = self.state
        sel = st.selection
        parts = []
        if sel.layer and st.current_build is not None:
            parts.append(layer_details(st, sel.layer))
        if sel.node:
            parts.append(node_details(st, sel.node))
        if not parts:
            parts.append(STYLE + "<div class='trex-source'>Click a node or a layer in any view to see its details "
                                 "here.</div>")
        self.details.value = "".join(parts)
        for tab in self.tabs.values():
            if tab.built:
                try:
                    tab.on_selection()
                except Exception:  # noqa: BLE001
                    pass
