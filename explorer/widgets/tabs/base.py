"""What every tab shares: draw on first show, redraw only when shown again after a change, and never take
the app down (a tab that fails says so in place).

Plus the small widget helpers the tabs use: an HTML widget, a plot widget with click-to-select, highlighting
the selected layer in a plot.
"""

from __future__ import annotations

from typing import Any, Protocol

from ...html.fragments import STYLE, message_box
from ..state import ExplorerState, describe_error


class App(Protocol):
    """What a tab reads from the app that holds it (:class:`explorer.widgets.app.Explorer`)."""

    state: ExplorerState

    @property
    def visible_tab(self) -> "Tab | None": ...
    def load(self, source, *, label: str | None = None) -> bool: ...
    def analyze(self, **options) -> Any: ...
    def build(self, *, backend: str = "auto", wait: bool = False, timeout: float | None = None,
              **options) -> bool: ...
    def cancel(self) -> bool: ...
    def import_trtexec(self, *, graph=None, profile=None, times=None, log=None, name: str | None = None,
                       artifact=None, engine: str | None = None) -> Any: ...
    def import_fixture(self, name: str) -> Any: ...
    def select(self, node: str | None = None, *, layer: str | None = None, origin: str = "api") -> None: ...
    def export(self, path: str | None = None) -> str: ...
    def tensorrt_status(self) -> tuple[bool, str]: ...
    def graph_panel(self, name: str, *, on_select=None, height: int | None = None) -> Any: ...


def html_widget(value: str = "", **layout):
    """An ``ipywidgets.HTML`` (its value is trusted markup: build it from :mod:`explorer.html.fragments`)."""
    import ipywidgets as W

    return W.HTML(value=value, layout=W.Layout(**layout) if layout else W.Layout())


def figure_widget(fig, on_click=None):
    """A :class:`PlotWidget` showing a go.Figure; ``on_click(customdata)`` gets the clicked point's customdata."""
    from ..plot_widget import PlotWidget

    widget = PlotWidget(fig)
    if on_click is not None:
        def clicked(trace: int, point: int, customdata) -> None:
            value = point_customdata(widget, trace, point) if customdata is None else customdata
            if value:
                on_click(value)

        widget.on_click(clicked)
    return widget


def highlight_layer(widget, layer: str | None) -> None:
    """Select the points whose customdata is ``layer`` (every view keys its points by layer name)."""
    if widget is None or widget.figure is None:
        return
    traces = list(range(len(widget.figure.data)))
    if not traces:
        return
    hits = [[i for i, name in enumerate(t.customdata if t.customdata is not None else ()) if name == layer]
            if layer else None for t in widget.figure.data]
    widget.restyle({"selectedpoints": hits}, traces)


def point_customdata(widget, trace: int, point: int):
    """The customdata of one point of a plot widget (None when it has none)."""
    try:
        values = widget.figure.data[trace].customdata
        return values[point] if values is not None else None
    except Exception:  # noqa: BLE001
        return None


class Tab:
    """One tab: ``build()`` creates its widgets (first show), ``render()`` fills them from the state."""

    title = ""

    def __init__(self, app: App) -> None:
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
                self.widget.children = [html_widget(STYLE + message_box(f"this view failed: {describe_error(exc)}"))]
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


class EngineTab(Tab):
    """A tab that shows the current build."""

    def build(self) -> None:
        self.message = html_widget()
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


__all__ = ["EngineTab", "Tab", "figure_widget", "highlight_layer", "html_widget", "point_customdata"]
