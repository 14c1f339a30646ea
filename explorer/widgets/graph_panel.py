"""One interactive graph figure: collapse/expand scopes on click, select nodes, ring the selection."""

from __future__ import annotations

from typing import Callable

from ..plots.graph import (GRAPH_CONFIG, TRACE_NODES, TRACE_SELECTION, Overlay, graph_layout_dict, graph_traces,
                           selected_items)
from ..plots.graph_layout import LEAF, GraphView, ScopeTree


class GraphPanel:
    """A :class:`PlotWidget` over a :class:`GraphView`; the overlay decides colours and hover text."""

    def __init__(self, tree: ScopeTree, *, on_select: Callable[[str], None] | None = None, height: int | None = None,
                 title: str | None = None) -> None:
        import ipywidgets as W

        self.tree = tree
        self.view = GraphView(tree)
        self.overlay: Overlay | None = None
        self.selected: list[str] = []
        self.on_select = on_select
        self.height = height
        self.title = title
        self.figure = None
        self.box = W.VBox(layout=W.Layout(width="100%"))
        buttons = []
        self.reset_button = W.Button(description="Reset view", icon="compress",
                                     layout=W.Layout(width="auto", flex="0 0 auto"),
                                     tooltip="collapse scopes back to the initial view")
        self.reset_button.on_click(lambda _: self._reset())
        buttons.append(self.reset_button)
        self.expand_button = W.Button(description="Expand all", icon="expand",
                                      layout=W.Layout(width="auto", flex="0 0 auto"),
                                      tooltip="draw every node (slow above ~20k nodes)")
        self.expand_button.on_click(lambda _: self._expand_all())
        self.expand_button.disabled = tree.n > 50000
        buttons.append(self.expand_button)
        self.hint = W.HTML("<span style='color:#666;font-size:12px'>click a box to expand a scope, a node for "
                           "its details; drag to pan, zoom with the + / - buttons (top right) or the box-zoom "
                           "tool, double-click to fit the whole graph; the mouse wheel scrolls the notebook"
                           "</span>")
        self.toolbar = W.HBox(buttons + [self.hint])
        self.widget = W.VBox([self.toolbar, self.box], layout=W.Layout(width="100%"))

    # ------------------------------------------------------------------ drawing
    def show(self, overlay: Overlay, selected: list[str] | None = None) -> None:
        self.overlay = overlay
        if selected is not None:
            self.selected = list(selected)
        self.redraw()

    def redraw(self) -> None:
        from .plot_widget import PlotWidget

        if self.overlay is None:
            return
        data = graph_traces(self.view, self.overlay, selected=self.selected, height=self.height)
        layout = graph_layout_dict(self.view, self.overlay, title=self.title, height=self.height)
        traces = ([dict(type="scattergl", **data["edges"]), dict(type="scattergl", **data["nodes"]),
                   dict(type="scatter", **data["labels"]), dict(type="scattergl", **data["selection"])]
                  + [dict(type="scatter", **leg) for leg in data["legend"]])
        figure = {"data": traces, "layout": layout, "config": dict(GRAPH_CONFIG)}  # the wheel is the page's
        if self.figure is None:
            self.figure = PlotWidget()
            self.figure.on_click(self._clicked)
            self.box.children = [self.figure]
        self.figure.set_figure(figure)

    def set_selection(self, node_ids: list[str]) -> None:
        self.selected = list(node_ids)
        if self.figure is None:
            return
        items = selected_items(self.view, self.selected)
        xs = self.view.x[items].tolist() if items else []
        ys = self.view.y[items].tolist() if items else []
        self.figure.restyle({"x": [xs], "y": [ys]}, [TRACE_SELECTION])

    # ------------------------------------------------------------------ interaction
    def _clicked(self, trace: int, point: int, _customdata) -> None:
        if trace == TRACE_NODES:
            self.click_item(point)

    def click_item(self, index: int) -> None:
        """What a click on point ``index`` does: expand/collapse a scope, or select a node."""
        if index < 0 or index >= len(self.view.items):
            return
        item = self.view.items[index]
        if item.kind == LEAF:
            node_id = self.tree.node_ids[item.ref]
            if self.on_select is not None:
                self.on_select(node_id)
            return
        self.view.toggle(item.ref)
        self.redraw()

    def click_key(self, key: str) -> None:
        """Like a click on the item with this key (``n:<node id>`` / ``g:<group id>``); for scripts and tests."""
        self.view.compute()
        index = self.view.item_of_key.get(key)
        if index is None:
            raise KeyError(key)
        self.click_item(index)

    def reveal(self, node_id: str) -> None:
        i = self.tree.index_of.get(node_id)
        if i is not None:
            self.view.reveal(i)
            self.redraw()

    def _reset(self) -> None:
        self.view.reset()
        self.redraw()

    def _expand_all(self) -> None:
        self.view.expand_all()
        self.redraw()

    def close(self) -> None:
        if self.figure is not None:
            self.figure.close()
            self.figure = None
