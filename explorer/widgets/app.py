"""The Explorer app: one ipywidgets + plotly widget with a tab per question.

``Explorer("model.onnx")`` in a notebook shows it. The logic lives in :class:`~explorer.widgets.state.ExplorerState`
(plain Python, testable without a browser); each tab is a class of its own under :mod:`explorer.widgets.tabs`;
this module assembles them and keeps them in step with the state. Tabs are drawn when first shown and redrawn
only when shown again after a change, so opening a big model costs only what the visible tab needs.
"""

from __future__ import annotations

from typing import Any

from ..html.fragments import STYLE, e, message_box
from .render import layer_details, node_details
from .state import ExplorerState, describe_error
from .tabs.accuracy import AccuracyTab
from .tabs.base import Tab, html_widget
from .tabs.build import BuildTab
from .tabs.compare import CompareTab
from .tabs.export import ExportTab
from .tabs.fusions import FusionsTab
from .tabs.layers import LayersTab
from .tabs.memory import MemoryTab
from .tabs.model import ModelTab
from .tabs.netron import NetronTab
from .tabs.partitions import PartitionsTab
from .tabs.tactics import TacticsTab

#: the tabs in the order they show
TAB_CLASSES = (ModelTab, PartitionsTab, FusionsTab, BuildTab, TacticsTab, MemoryTab, LayersTab, CompareTab,
               AccuracyTab, NetronTab, ExportTab)
TABS = tuple(cls.title for cls in TAB_CLASSES)


class Explorer:
    """The TensorRT Engine Explorer app for one notebook cell.

    >>> app = Explorer("model.onnx")      # doctest: +SKIP
    >>> app                                # shows the widget

    Methods mirror what the buttons do (``load``, ``analyze``, ``build``, ``cancel``, ``import_trtexec``,
    ``select``, ``export``, ``close``); ``app.state`` holds the data (model, support report, builds).
    """

    def __init__(self, model=None, *, trt_version: str | None = None, min_block_size: int = 1,
                 fold_constants: bool = False, tab: str = "Model", fixtures_dir: str | None = None) -> None:
        import ipywidgets as W

        self.state = ExplorerState(fixtures_dir=fixtures_dir)  # fixtures: this folder, else $EXPLORER_FIXTURES
        self.state.options.update(trt_version=trt_version, min_block_size=min_block_size,
                                  fold_constants=fold_constants)
        self.state.default_options = dict(self.state.options)
        self._trt_status: tuple[bool, str] | None = None
        self._trees: dict[int, Any] = {}
        self._panels: dict[str, Any] = {}
        self.tabs: dict[str, Tab] = {}
        for cls in TAB_CLASSES:
            self.tabs[cls.title] = cls(self)
        self.header = html_widget()
        self.messages = html_widget()
        self.details = html_widget(STYLE + "<div class='trex-source'>Click a node or a layer in any view to see its "
                                     "details here.</div>")
        self.details.add_class("trex-details")
        clear = W.Button(description="clear", layout=W.Layout(width="70px"))
        clear.on_click(lambda _: self.select(None))
        self.details_box = W.VBox([W.HBox([W.HTML("<b>Details</b>"), clear]), self.details],
                                  layout=W.Layout(width="330px", min_width="330px", max_width="330px",
                                                  flex="0 0 330px", border="1px solid #ddd", padding="4px",
                                                  overflow="auto", max_height="900px"))  # one width on every tab
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
    def visible_tab(self) -> Tab | None:
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

    def import_trtexec(self, *, graph=None, profile=None, times=None, log=None, name: str | None = None,
                       artifact=None, engine: str | None = None):
        """Import trtexec exports (paths or bytes) as a build: layer info, profile, times, verbose log (its
        --dumpProfile table too); ``artifact``: a TREx-layout folder (each engine, or ``engine``) or any one
        file, told apart by content (a TensorRT-RTX EP trace, ...)."""
        return self.state.import_artifacts(graph=graph, profile=profile, times=times, log=log, name=name,
                                           artifact=artifact, engine=engine)

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
        tab.pick(a, b)

    def export(self, path: str | None = None) -> str:
        """Write the standalone HTML report of the current model (its analysis, its builds, the comparison
        chosen in Compare); returns its path (default ``explorer-reports/<model>.report.html``)."""
        from .tabs.export import write_session_report

        compare = self.tabs["Compare"]
        chosen = (compare.a.value, compare.b.value) if compare.built else None
        return write_session_report(self.state, path, chosen)

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
                from ..trt import available

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
        current = st.current_build
        build = ""
        if current is not None:  # the build is named with its model; say it if it is not the loaded one
            other = (f" <span style='color:#a05a00'>(a build of {e(current.model or 'another model')}, not of "
                     f"{model})</span>") if current.model != st.model_label else ""
            build = (f" &nbsp;·&nbsp; current build: <b class='trex-current' data-model='{e(current.model)}'>"
                     f"{e(current.name)}</b>{other}")
        elif st.model_label:
            build = " &nbsp;·&nbsp; <span class='trex-current'>no build of this model yet</span>"
        self.header.value = (f"<div style='font-size:15px'><b>TensorRT Engine Explorer</b> &nbsp;·&nbsp; "
                             f"model: <b class='trex-model'>{model}</b>{source}{build}</div>")

    def _on_model(self, _state) -> None:
        for name in ("Model", "Partitions", "Fusions", "Build", "Netron", "Compare", "Accuracy"):
            self.tabs[name].stale = True  # Compare pairs the builds of the loaded model
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
        for name in ("Fusions", "Tactics", "Memory", "Layers", "Compare"):
            self.tabs[name].invalidate()
        build_tab: BuildTab = self.tabs["Build"]  # type: ignore[assignment]
        build_tab.render_builds()

    def _on_job(self, _state) -> None:
        build_tab: BuildTab = self.tabs["Build"]  # type: ignore[assignment]
        build_tab.render_job()

    #: the tab where each message area is shown in place
    HOME = {"model": "Model", "loading": "Model", "analysis": "Partitions", "build": "Build", "import": "Build",
            "builds": "Build", "accuracy": "Accuracy"}

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
                loading = st.messages.get("loading") if name == "Model" else None
                t.message.value = (STYLE + message_box(err) if err else
                                   STYLE + message_box(loading[1], "info") if loading else "")
        if self.tabs["Model"].built:
            self.tabs["Model"].load_button.disabled = st.loading is not None
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
