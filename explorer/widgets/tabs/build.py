"""The Build tab: build an engine (TensorRT or ONNX Runtime) or import what trtexec exported,
and pick the current build the engine tabs show.
"""

from __future__ import annotations

import os
import re
from typing import Any

from ...backends.settings import COMPUTE_CAPABILITIES
from ...dtypes import PRECISIONS
from ...html.fragments import STYLE, e, message_box
from .base import Tab, figure_widget, html_widget

#: the Build tab's one-click pair: a TensorRT-RTX engine, then ONNX Runtime's CPU timings of the model
RTX_AND_ORT = "tensorrt-rtx+onnxruntime"


class BuildTab(Tab):
    title = "Build"

    def build(self) -> None:
        import ipywidgets as W

        from ...backends import MAX_DURATION_S
        from ...backends.settings import BuildSettings

        defaults = BuildSettings()  # one set of defaults: the app's fields start where the CLI's do

        trt_ok, trt_why = self.app.tensorrt_status()
        self.trt_ok, self.trt_why = trt_ok, trt_why
        self.rtx_ok = rtx_installed()  # a cheap look: the kernel never loads TensorRT-RTX itself
        self.state.prepare_builds()  # the worker starts while the user picks the settings
        self.backend = W.Dropdown(
            options=[("auto (TensorRT if available, else ONNX Runtime)", "auto"),
                     ("ONNX Runtime (CPU)", "onnxruntime"),
                     ("TensorRT" if trt_ok else "TensorRT (unavailable here)", "tensorrt"),
                     ("TensorRT-RTX engine (built ahead of time, no GPU needed)", "tensorrt-rtx"),
                     ("TensorRT-RTX engine + ONNX Runtime CPU timings", RTX_AND_ORT)],
            value="auto", description="Backend", layout=W.Layout(width="420px"))
        self.compute_capability = W.Dropdown(options=list(COMPUTE_CAPABILITIES), value="auto",
                                             description="Compute cap.", layout=W.Layout(width="220px"),
                                             tooltip="TensorRT-RTX: the GPU to build for (auto: the RTX GPU "
                                                     "here, else SM86)")
        self.per_partition = W.Checkbox(value=False, description="one engine per supported partition",
                                        indent=False, layout=W.Layout(width="300px"),
                                        tooltip="TensorRT / TensorRT-RTX: build each partition the ONNX parser "
                                                "supports (after the Partitions tab's min_block_size) as its own "
                                                "engine, as ONNX Runtime's TensorRT provider and Torch-TensorRT do")
        self.backend.observe(self._backend_changed, "value")
        self.trt_note = html_widget(
            "" if trt_ok else f"<span style='color:#888'>TensorRT: unavailable — {e(trt_why)}</span>")
        self.precision = W.Dropdown(options=list(PRECISIONS), value="fp32", description="Precision",
                                    layout=W.Layout(width="240px"))
        self.opt_level = W.IntSlider(value=defaults.opt_level, min=0, max=5, description="Opt level", continuous_update=False)
        self.workspace = W.BoundedIntText(value=0, min=0, max=1 << 20, description="Workspace MiB",
                                          tooltip="0 = TensorRT's default (all device memory)",
                                          layout=W.Layout(width="220px"), style={"description_width": "initial"})
        self.timing_cache = W.Text(placeholder="optional: path to a timing cache file", description="Timing cache",
                                   layout=W.Layout(width="420px"), style={"description_width": "initial"})
        self.runs = W.BoundedIntText(value=defaults.runs, min=1, max=100000, description="Runs", layout=W.Layout(width="160px"))
        self.duration = W.BoundedFloatText(value=0.0, min=0.0, max=MAX_DURATION_S, step=0.5, description="Min s",
                                           tooltip="time runs for at least this many seconds too (trtexec "
                                                   "--duration); 0: just the runs",
                                           layout=W.Layout(width="150px"))
        self.warmup = W.BoundedIntText(value=defaults.warmup, min=0, max=10000, description="Warm-up",
                                       layout=W.Layout(width="160px"))
        self.precision_block = W.Text(placeholder="op types or node names kept fp32 (e.g. Softmax, /layer1/Conv)",
                                      description="Block list", layout=W.Layout(width="520px"),
                                      tooltip="fp16/bf16: kept fp32 by the conversion (with the default block list); "
                                              "int8: not quantized")
        self.precision_block.add_class("trex-precision-block")
        self.shapes_box = W.VBox()
        self.shape_fields: dict[str, tuple] = {}
        self.value_fields: dict[str, Any] = {}  # control inputs (0-d or one element): a value instead of random
        self.build_button = W.Button(description="Build", button_style="success", icon="play")
        self.build_button.on_click(lambda _: self.start())
        self.cancel_button = W.Button(description="Cancel", button_style="danger", icon="stop", disabled=True)
        self.cancel_button.on_click(lambda _: self.app.cancel())
        self.progress = W.IntProgress(value=0, min=0, max=1, description="", layout=W.Layout(width="420px"))
        self.phase = html_widget()
        self.message = html_widget()
        self.log = W.Textarea(value="", layout=W.Layout(width="100%", height="180px"), disabled=True)
        self.log_box = W.Accordion(children=[self.log], titles=("Build log",))
        self.log_box.selected_index = None
        self.result_box = W.VBox()
        self.commands = html_widget()
        self.partitions_summary = html_widget()
        # imports
        self.graph_path = W.Text(placeholder="*.graph.json (--exportLayerInfo)", description="Layer info",
                                 layout=W.Layout(width="480px"), style={"description_width": "90px"})
        self.profile_path = W.Text(placeholder="*.profile.json (--exportProfile)", description="Profile",
                                   layout=W.Layout(width="480px"), style={"description_width": "90px"})
        self.times_path = W.Text(placeholder="*.timing.json (--exportTimes)", description="Times",
                                 layout=W.Layout(width="480px"), style={"description_width": "90px"})
        self.log_path = W.Text(placeholder="verbose build log (trtexec --verbose)", description="Build log",
                               layout=W.Layout(width="480px"), style={"description_width": "90px"})
        self.artifact_path = W.Text(placeholder="a TREx folder (E.graph.json, E.profile.json, ...), a trtexec "
                                                "--dumpProfile log or a TensorRT-RTX EP trace",
                                    description="Folder / file", layout=W.Layout(width="480px"),
                                    style={"description_width": "90px"})
        self.import_upload = W.FileUpload(accept=".json,.log,.txt,.trace", multiple=True, description="Upload files")
        self.import_name = W.Text(placeholder="name (optional)", description="Name", layout=W.Layout(width="300px"))
        self.import_button = W.Button(description="Import", icon="upload")
        self.import_button.on_click(lambda _: self.import_files())
        fixtures = sorted(self.state.fixture_sets())
        self.fixture = W.Dropdown(options=[("TensorRT fixtures…", "")] + [(self.state.fixture_label(f), f) for f in fixtures], value="",
                                  description="Fixture", layout=W.Layout(width="340px"), disabled=not fixtures)
        self.fixture_button = W.Button(description="Import fixture", icon="download", disabled=not fixtures)
        self.fixture_button.on_click(lambda _: self.fixture.value and self.app.import_fixture(self.fixture.value))
        self.import_message = html_widget()
        self._syncing = False
        self.current = W.Dropdown(options=[], description="Current", layout=W.Layout(width="420px"))
        self.current.observe(self._current_changed, "value")
        self.remove_button = W.Button(description="Remove", icon="trash")
        self.remove_button.on_click(lambda _: self.current.value and self.state.remove_build(self.current.value))
        build_form = W.VBox([
            W.HTML("<h4>Build an engine</h4>"), W.HBox([self.backend, self.compute_capability, self.trt_note]),
            W.HBox([self.precision, self.opt_level, self.workspace]), self.precision_block, self.shapes_box,
            self.timing_cache,
            W.HBox([self.runs, self.duration, self.warmup]), self.per_partition,
            W.HBox([self.build_button, self.cancel_button]), self.commands,
            W.HBox([self.progress, self.phase]), self.message, self.log_box, self.partitions_summary,
            self.result_box])
        import_form = W.VBox([
            W.HTML("<h4>Import what trtexec exported (paths or upload)</h4>"),
            self.graph_path, self.profile_path, self.times_path, self.log_path, self.artifact_path,
            W.HBox([self.import_upload, self.import_name, self.import_button]),
            W.HBox([self.fixture, self.fixture_button]), self.import_message])
        builds = W.VBox([W.HTML("<h4>Builds and imports</h4>"), W.HBox([self.current, self.remove_button])])
        self.widget.children = [build_form, import_form, builds]
        for w in (self.precision, self.opt_level, self.workspace, self.timing_cache, self.runs, self.duration,
                  self.warmup):
            w.observe(lambda _change: self.render_commands(), "value")
        self._backend_changed(None)

    def _backend_changed(self, _change) -> None:
        backend = self.backend.value
        if backend in ("tensorrt-rtx", RTX_AND_ORT) and not self.rtx_ok:
            self.build_button.disabled = True
            self.message.value = STYLE + message_box("TensorRT-RTX is not installed: pip install "
                                                     "tensorrt-rtx-cu13-bindings tensorrt-rtx-cu13-libs", "warning")
            return
        blocked = backend == "tensorrt" and not self.trt_ok
        self.build_button.disabled = blocked or self.state.building
        self.build_button.tooltip = f"TensorRT unavailable: {self.trt_why}" if blocked else None
        self.trt_note.value = (f"<span style='color:#888'>TensorRT: unavailable — {e(self.trt_why)}</span>"
                               if not self.trt_ok else "")
        if blocked:
            self.message.value = STYLE + message_box(f"TensorRT cannot be used here: {self.trt_why}", "warning")
        elif self.message.value and "TensorRT cannot be used here" in self.message.value:
            self.message.value = ""
        rtx = backend in ("tensorrt-rtx", RTX_AND_ORT)
        trt_only = backend == "tensorrt" or (backend == "auto" and self.trt_ok) or rtx
        self.opt_level.disabled = not trt_only
        self.workspace.disabled = not trt_only
        self.timing_cache.disabled = not trt_only or rtx  # TensorRT-RTX keeps no timing cache
        self.compute_capability.disabled = not rtx
        self.per_partition.disabled = backend not in ("tensorrt", "tensorrt-rtx")

    def _current_changed(self, change) -> None:
        # only the user's pick: reassigning the options resets the index to 0, which must not reach the state
        if self._syncing:
            return
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

    def values(self) -> dict[str, str] | None:
        """Values typed for control inputs (``sr`` = 16000): checked by the build settings and the model."""
        out = {name: field.value.strip() for name, field in self.value_fields.items() if field.value.strip()}
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
        if not self.compute_capability.disabled:
            opts["compute_capability"] = self.compute_capability.value
        values = self.values()
        if values:
            opts["values"] = values
        if self.precision_block.value.strip():
            opts["precision_block"] = self.precision_block.value.strip()
        opts["backend"] = backend
        return opts

    def start(self) -> None:
        try:
            opts = self.options()
        except ValueError as exc:
            self.message.value = STYLE + message_box(f"shape profile: {exc}")
            return
        backend = opts.pop("backend")
        if self.per_partition.value and not self.per_partition.disabled:
            self.state.start_partitioned_build(backend=backend, **opts)
            return
        if backend != RTX_AND_ORT:
            self.app.build(backend=backend, **opts)
            return
        # one click, two reports labelled apart: TensorRT-RTX's engine (fusions, precision, memory), then
        # ONNX Runtime's measured CPU timings of the same model
        ort_opts = {k: v for k, v in opts.items() if k not in ("opt_level", "workspace", "compute_capability")}
        if self.app.build(backend="tensorrt-rtx", **opts) and self.state.job is not None:
            first = self.state.job
            first.add_done_callback(lambda job: job.exception() is None and not job.cancelled and
                                    self.app.build(backend="onnxruntime", **ort_opts))

    def import_files(self) -> None:
        given: dict[str, Any] = {}
        for kind, field in (("graph", self.graph_path), ("profile", self.profile_path), ("times", self.times_path),
                            ("log", self.log_path)):
            if field.value.strip():
                given[kind] = os.path.expanduser(field.value.strip())
        if self.artifact_path.value.strip():
            given["artifact"] = os.path.expanduser(self.artifact_path.value.strip())
        for item in self.import_upload.value or ():
            name = item["name"] if isinstance(item, dict) else item.name
            content = bytes(item["content"] if isinstance(item, dict) else item.content)
            kind = artifact_kind(name)
            if kind is None and name.lower().endswith((".json", ".trace")) and "artifact" not in given:
                kind = "artifact"  # told apart by content (a TensorRT-RTX EP trace, ...)
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
        self.render_commands()

    def render_commands(self) -> None:
        """These settings as trtexec / polygraphy lines to rebuild on a GPU machine (:mod:`...backends.commands`)."""
        model = self.state.model
        if model is None:
            self.commands.value = ""
            return
        try:
            opts = self.options()
        except ValueError:
            return  # a half-typed shape: the lines come back when it parses
        self.commands.value = commands_html(opts, model.path or f"{model.name}")



    def _render_shapes(self) -> None:
        """One row of min / opt / max fields per dynamic input, pre-filled with the sizes a build would choose
        (the model's metadata, its dimension names, else batch 1, image 640x640, sequence 128) and saying why:
        an empty field never means 1."""
        import ipywidgets as W

        from ...backends.inputs import choose_dims
        from ...errors import ExplorerError

        model = self.state.model
        rows, fields, value_fields = [], {}, {}
        if model is not None:
            g = model.graph
            proto = getattr(model, "proto", None)
            metadata = {p.key: p.value for p in proto.metadata_props} if proto is not None else {}
            elem_types = ({vi.name: vi.type.tensor_type.elem_type for vi in proto.graph.input}
                          if proto is not None else {})
            for t in g.inputs:
                if t.name in g.initializers:
                    continue
                if t.shape is not None and all(isinstance(d, int) and d > 0 for d in t.shape):
                    if all(d == 1 for d in t.shape):  # a control input (a scalar such as silero-vad's sr)
                        field = W.Text(placeholder="empty: random", layout=W.Layout(width="170px"))
                        value_fields[t.name] = field
                        rows.append(W.HBox([W.HTML(f"<code>{e(t.name)}</code> {e(t.dtype.lower())} "
                                                   f"[{e('x'.join(str(d) for d in t.shape) or 'scalar')}] value",
                                                   layout=W.Layout(width="240px")), field]))
                    continue
                declared = list(t.shape or ())
                dims = "x".join(str(d) if isinstance(d, int) and d > 0 else (str(d) if d else "?")
                                for d in declared)
                try:
                    chosen = choose_dims(t.name, elem_types.get(t.name, 1), declared, metadata)
                    why = "; ".join(f"{repr(c.param) if c.param else f'dim {c.index}'} {c.value}: {c.reason}"
                                    for c in chosen)
                except ExplorerError as exc:
                    chosen, why = [], str(exc)
                by_index = {c.index: c.value for c in chosen}
                default = "x".join(str(by_index.get(i, d)) for i, d in enumerate(declared))
                mn, opt, mx = (W.Text(value=default if chosen and label == "opt" else "",
                                      placeholder=f"{label} (empty: = opt)" if label != "opt" else f"e.g. {default}",
                                      layout=W.Layout(width="170px")) for label in ("min", "opt", "max"))
                fields[t.name] = (mn, opt, mx)
                for f in (mn, opt, mx):
                    f.observe(lambda _change: self.render_commands(), "value")
                rows.append(W.HBox([W.HTML(f"<code>{e(t.name)}</code> [{e(dims)}]", layout=W.Layout(width="240px")),
                                    mn, opt, mx,
                                    W.HTML(f"<span class='trex-source' title='{e(why)}'>pre-filled: {e(why)}</span>")]))
        self.shape_fields = fields
        self.value_fields = value_fields
        if rows:
            self.shapes_box.children = [W.HTML(
                "<b>Dynamic-shape profile</b> (min / opt / max per dynamic input, e.g. 1x3x640x640; opt is pre-filled "
                "with the sizes the build would choose, and why; an empty min or max is the opt shape; ONNX Runtime "
                "runs the opt shape; a control input's value replaces its random one)")] + rows
        else:
            self.shapes_box.children = []

    def render_job(self) -> None:
        if not self.built:
            return
        st = self.state.job_status
        running = st.state == "running"
        self.cancel_button.disabled = not running
        blocked = (self.backend.value == "tensorrt" and not self.trt_ok) or (
            self.backend.value in ("tensorrt-rtx", RTX_AND_ORT) and not self.rtx_ok)
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
        self.log.value = st.log[-20000:]  # a new build starts with an empty log, not the previous one's

    def render_builds(self) -> None:
        if not self.built:
            return
        names = list(self.state.builds)
        self._syncing = True  # the dropdown follows the state here, never the other way round
        try:
            options = [(n, n) for n in names]
            if tuple(self.current.options) != tuple(options):
                self.current.options = options
            self.current.value = self.state.current if self.state.current in names else None
        finally:
            self._syncing = False
        err = self.state.error("import")
        self.import_message.value = STYLE + message_box(err) if err else ""
        session = self.state.partitioned
        self.partitions_summary.value = partitions_summary(session) if session is not None else ""
        build = self.state.current_build
        if build is not None:
            from ...plots.layers import latency_bar

            fig = figure_widget(latency_bar(build.report, title="Per-layer latency", height=360,
                                                title_width=80))
            self.replace_figures(self.result_box, [html_widget(build_summary(build)), fig])
        else:
            self.replace_figures(self.result_box, [])


_COPY = ("<button class='copy-command' title='copy to the clipboard' onclick=\"navigator.clipboard.writeText("
         "this.parentElement.querySelector('pre').textContent)\">copy</button>")


def commands_html(opts: dict[str, Any], model_path: str) -> str:
    """The Build tab's settings as copyable command lines (escaped), or the settings' error."""
    from ...backends.commands import command_lines
    from ...backends.settings import BuildSettings
    from ...errors import ExplorerError

    settings_opts = {k: v for k, v in opts.items() if k not in ("backend", "compute_capability")}
    try:
        lines = command_lines(BuildSettings.make(**settings_opts), model_path)
    except ExplorerError as exc:
        return STYLE + message_box(f"command lines: {exc}", "warning")
    titles = (("trtexec-10", "trtexec, TensorRT 10.x"), ("trtexec-11", "trtexec, TensorRT 11.x"),
              ("polygraphy-convert", "polygraphy convert"), ("polygraphy-run", "polygraphy run"))
    parts = ["<details class='build-commands' open><summary>Repeat it elsewhere: the same build as command "
             "lines</summary>"]
    for (key, title), command in zip(titles, lines):
        notes = "".join(f"<div class='command-note'>{e(n)}</div>" for n in command.notes)
        parts.append(f"<div class='command' data-command='{key}'><b>{e(title)}</b> {_COPY}{notes}"
                     f"<pre class='command-line' style='white-space:pre-wrap'>{e(command.text, None)}</pre></div>")
    parts.append("</details>")
    return STYLE + "".join(parts)


def rtx_installed() -> bool:
    """Whether TensorRT-RTX's bindings and libraries are installed (found, not imported)."""
    import importlib.util

    return all(importlib.util.find_spec(name) is not None for name in ("tensorrt_rtx_bindings", "tensorrt_rtx_libs"))


def build_summary(build) -> str:
    """The current build in words: its name and model, the end-to-end figures (median, p90, throughput, how
    many runs) and what the backend noted about it (e.g. ONNX Runtime's fp16 computing mostly in fp32)."""
    from ...html.fragments import kv
    from ...plots.format import fmt_ms, fmt_number

    report = build.report
    pairs: list[tuple[str, Any]] = [("build", build.name), ("model", build.model or "n/a"),
                                    ("source", build.source)]
    e2e = report.end_to_end
    if e2e is not None:
        lat = e2e.latency
        qps = f"; {fmt_number(e2e.throughput_qps)} inferences/s" if e2e.throughput_qps else ""
        spread = f", p10 {fmt_ms(lat.p10)}" if lat.p10 is not None else ""
        pairs.append(("end to end", f"median {fmt_ms(lat.p50)}, p90 {fmt_ms(lat.p90)}{spread} over "
                                    f"{e2e.count} runs{qps}"))
        pairs.append(("end-to-end source", e2e.source))
    total = report.latency_ms_total
    if total is not None:
        pairs.append(("sum of layers", f"{fmt_ms(total)} ({report.latency_statistic}s per layer)"))
    notes = "".join(f"<li>{e(note, 2000)}</li>" for note in build.notes)
    return (STYLE + "<div class='trex-build-summary'>" + kv(pairs)
            + (f"<div><b>Build notes</b><ul class='trex-notes'>{notes}</ul></div>" if notes else "") + "</div>")


def partitions_summary(session) -> str:
    """A partitioned build in one view: per engine its nodes, layers, fused groups, memory and source (each
    engine is also a build of its own in the list), then the nodes left to the framework with the parser's
    reasons (or the partitioner's min_block_size). Every name is escaped text."""
    from ...html.fragments import kv, table
    from ...plots.format import fmt_bytes

    result = session.result
    total = result.nodes_in_engines + len(result.framework)
    head = kv([("model", result.model_path), ("engines", f"{len(result.engines)} engine(s) holding "
                                                       f"{result.nodes_in_engines} of {total} nodes, built by "
                                                       f"{result.backend}"
                                                       + (" (cancelled before the rest)" if session.cancelled else "")),
               ("verdicts", f"{result.verdict_source} (min_block_size={result.min_block_size})")])
    rows = []
    for k, engine in enumerate(result.engines, 1):
        report, part = engine.report, engine.partition
        row = {"engine": f"partition {k}/{len(result.engines)}", "build": session.names.get(part.index, ""),
               "nodes": len(part.nodes), "ONNX nodes": ", ".join(part.nodes)}
        if report is None:
            row.update({"layers": "", "fused groups": "", "memory": "", "source": "",
                        "error": engine.error or "no report"})
        else:
            totals = report.memory.engine_totals
            memory = ", ".join(f"{word} {fmt_bytes(totals[key])}" for word, key in
                               (("weights", "weights_bytes"), ("activations", "activation_bytes"),
                                ("engine", "engine_size_bytes")) if totals.get(key) is not None)
            where = report.memory.provenance.get("activation_bytes") or report.backend
            row.update({"layers": len(report.layers), "fused groups": len(report.fusions),
                        "memory": f"{memory} (source: {where})" if memory else "not reported",
                        "source": report.backend or "", "error": ""})
        rows.append(row)
    columns = ["engine", "build", "nodes", "layers", "fused groups", "memory", "source", "ONNX nodes"]
    if any(r["error"] for r in rows):
        columns.append("error")
    left = [{"node": f.node, "op": f.op, "reasons": "; ".join(f.reasons) or "no reason given"}
            for f in result.framework]
    notes = "".join(f"<li>{e(note, 2000)}</li>" for note in result.notes)
    return (STYLE + "<div class='trex-partitions'><h4>One engine per supported partition</h4>" + head
            + table(rows, columns, source=f"each engine: its builder ({result.backend}) and its build log")
            + f"<h4>Left to the framework ({len(left)} node(s))</h4>"
            + table(left, ["node", "op", "reasons"], empty="nothing: every node is in an engine",
                    source=f"reasons: {result.verdict_source}, or the partitioner's min_block_size")
            + (f"<ul class='trex-notes'>{notes}</ul>" if notes else "") + "</div>")


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
