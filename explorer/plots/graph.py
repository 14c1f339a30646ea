"""The model graph as a plotly figure, with an overlay: partitions, predicted fusions or engine layers.

Big graphs are drawn collapsed by name scope (:mod:`explorer.plots.graph_layout`), with WebGL traces, so
the figure holds a few hundred points whatever the model size; clicking a scope box expands it (the
widget does that, :class:`GraphView` keeps the state). ``static=True`` draws SVG traces and says nothing
about clicking: the HTML report shows many graphs at once (a browser gives a page only a few WebGL
contexts) and nothing there expands.

The figure always has the same traces, in this order, so a widget can update it in place:
``edges``, ``nodes`` (one point per visible item), ``labels`` (text, only for small views), ``selection``
(rings around selected items), then one legend-only trace per overlay category.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterable, Sequence

import numpy as np

from ._util import (DEMOTED_AMBER, EDGE_GREY, FALLBACK_RED, HIGHLIGHT, MIXED_PURPLE, NEUTRAL_GREY, TRT_GREEN,
                    esc, op_summary, shorten, wrap)
from .format import fmt_ms
from .graph_layout import GROUP, LEAF, GraphView, ScopeTree

if TYPE_CHECKING:
    from ..engine.report import EngineReport
    from ..fusions.predict import FusionGroup
    from ..support.report import SupportReport

#: hover lines are wrapped at this many characters (a wide box is cut at the figure's edge)
HOVER_CHARS = 72
#: the figure's plotly config: the mouse wheel scrolls the notebook (zoom with the modebar's +/- or a box
#: drag), double-click fits the whole graph again
GRAPH_CONFIG = {"scrollZoom": False, "doubleClick": "reset", "displaylogo": False}

TRACE_EDGES, TRACE_NODES, TRACE_LABELS, TRACE_SELECTION = 0, 1, 2, 3

#: fusion groups' colours: no green or red (Partitions' "TensorRT" / "unsupported"), no grey ("not fused")
FUSION_PALETTE = ["#1f77b4", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#393b79", "#7b4173", "#e6550d",
                  "#3182bd", "#8c6d31", "#6baed6", "#fdae6b", "#c49c94", "#f7b6d2", "#9edae5", "#bd9e39"]
#: nodes outside any fusion: a light grey no group colour comes near
NOT_FUSED = "#e3e3e3"
#: engine layers of a single ONNX node: a mid grey, between the group colours and "not in the engine"
OWN_LAYER = "#a6a6a6"


@dataclass
class Overlay:
    """Per-node data drawn on the graph: a category (colour and legend entry) and hover lines."""

    title: str
    source: str | None
    categories: list[tuple[str, str]]  # (label, colour); index = category number
    node_category: np.ndarray  # per node position in the ScopeTree; -1 = no category
    node_color: list[str] | None = None  # optional per-node colour (e.g. one colour per fusion group)
    describe: Callable[[str], list[str]] | None = None  # node id -> extra hover lines (plain text)
    mixed_label: str = "scope with mixed nodes"
    mixed_color: str = MIXED_PURPLE
    none_label: str = "no data"
    none_color: str = NEUTRAL_GREY
    notes: list[str] = field(default_factory=list)
    #: nodes drawn with an outlined marker on top of their colour (e.g. where two sources disagree); its legend
    marked: np.ndarray | None = None  # bool per node position in the ScopeTree
    marked_label: str = ""


def _tree_of(model_or_tree) -> ScopeTree:
    if isinstance(model_or_tree, ScopeTree):
        return model_or_tree
    if isinstance(model_or_tree, GraphView):
        return model_or_tree.tree
    return ScopeTree(model_or_tree)


# ---------------------------------------------------------------------------------------------- overlays

def plain_overlay(tree: ScopeTree) -> Overlay:
    return Overlay(title="Graph", source=f"ONNX model {tree.model.name}", categories=[("node", "#4c78a8")],
                   node_category=np.zeros(tree.n, dtype=np.int64))


def partition_overlay(tree: ScopeTree, report: SupportReport, other: SupportReport | None = None) -> Overlay:
    """Nodes coloured by where they run: TensorRT engines (alternating greens per engine), framework.

    ``other``: a second report of the same model (the prediction beside a real parser's verdicts, or the
    reverse): the nodes on which the two disagree get an outlined marker, and their hover gives both
    verdicts with both reasons and sources."""
    from ..support.report import disagreements

    differ = {d.node: d for d in disagreements(report, other)} if other is not None else {}
    marked = np.zeros(tree.n, dtype=bool)
    for nid in differ:
        i = tree.index_of.get(nid)
        if i is not None:
            marked[i] = True
    cats = np.full(tree.n, -1, dtype=np.int64)
    colors = [NEUTRAL_GREY] * tree.n
    verdicts = {}
    index_of = tree.index_of
    trt_shades = (TRT_GREEN, "#74c476")
    for v in report.verdicts:
        i = index_of.get(v.node)
        if i is None:
            continue
        verdicts[v.node] = v
        if v.in_tensorrt:
            cats[i] = 0
            colors[i] = trt_shades[(v.partition or 0) % 2]
        elif not v.supported:
            cats[i] = 1
            colors[i] = FALLBACK_RED
        else:
            cats[i] = 2
            colors[i] = DEMOTED_AMBER
    partitions = {p.index: p for p in report.partitions}

    def describe(node_id: str) -> list[str]:
        v = verdicts.get(node_id)
        if v is None:
            return ["not analysed"]
        lines = []
        if v.in_tensorrt:
            lines.append(f"runs in TensorRT engine (partition #{v.partition})")
        elif not v.supported:
            lines.append(f"UNSUPPORTED: {v.reason or 'no reason given'}")
            lines.append(f"runs in the framework (partition #{v.partition})")
        else:
            lines.append(f"supported, but sent back to the framework: {v.fallback_reason or ''}")
            lines.append(f"partition #{v.partition}")
        p = partitions.get(v.partition)
        if p is not None:
            lines.append(f"partition size: {p.size} nodes")
        for c in v.caveats[:3]:
            lines.append(f"caveat: {c}")
        d = differ.get(node_id)
        if d is not None:
            lines.append("the two sources disagree on this node:")
            for source, ok, reason in ((d.first_source, d.first_supported, d.first_reason),
                                       (d.second_source, d.second_supported, d.second_reason)):
                lines.append(f"  {source}: " + (reason if ok else f"unsupported: {reason}"))
        return lines

    label = (f"outlined: {report.source} and {other.source} disagree ({len(differ)} node"
             f"{'s' if len(differ) != 1 else ''})") if other is not None else ""
    return Overlay(
        marked=marked if other is not None else None, marked_label=label,
        title="Partitions", source=report.source,
        categories=[("TensorRT engine (shades alternate per engine)", TRT_GREEN),
                    ("framework: unsupported", FALLBACK_RED),
                    (f"framework: supported, sent back (min_block_size={report.min_block_size})", DEMOTED_AMBER)],
        node_category=cats, node_color=colors, describe=describe,
        mixed_label="scope with TensorRT and framework nodes")


def fusion_overlay(tree: ScopeTree, groups: Sequence[FusionGroup], *,
                   source: str = "predicted from TensorRT's documented fusion patterns") -> Overlay:
    """Predicted fusion groups: every group its own colour (:data:`FUSION_PALETTE`); unfused nodes light grey."""
    cats = np.full(tree.n, 1, dtype=np.int64)
    colors = [NOT_FUSED] * tree.n
    member: dict[str, tuple[int, object]] = {}
    groups = [g for g in groups if len(g.nodes) > 1]  # single-node "groups" are not fusions
    for g_index, group in enumerate(groups):
        color = FUSION_PALETTE[g_index % len(FUSION_PALETTE)]
        for nid in group.nodes:
            i = tree.index_of.get(nid)
            if i is None:
                continue
            cats[i] = 0
            colors[i] = color
            member[nid] = (g_index, group)

    def describe(node_id: str) -> list[str]:
        found = member.get(node_id)
        if found is None:
            return ["no predicted fusion: a layer of its own"]
        g_index, group = found
        nodes = group.nodes
        kind = group.kind or ""
        rule = group.rule or ""
        lines = [f"predicted fusion #{g_index}: {kind}"]
        if rule and rule != kind:
            lines.append(f"rule: {rule}")
        lines.append(f"with: {shorten(' + '.join(nodes), 160)}")
        return lines

    return Overlay(title="Predicted fusions", source=source,
                   categories=[(f"in a predicted fusion ({len(groups)} groups, one colour each)", FUSION_PALETTE[0]),
                               ("not fused", NOT_FUSED)],
                   node_category=cats, node_color=colors, describe=describe,
                   mixed_label="scope with fused and unfused nodes", none_color=NOT_FUSED)


def engine_overlay(tree: ScopeTree, engine_report: EngineReport, *, source: str | None = None) -> Overlay:
    """ONNX nodes coloured by the engine layer they ended up in (fused layers share a colour)."""
    from .data import engine_source, layer_records

    layers = layer_records(engine_report)
    fused = {group.layer for group in engine_report.fused_layers()}
    cats = np.full(tree.n, 2, dtype=np.int64)
    colors = [NOT_FUSED] * tree.n
    owner: dict[str, list] = {}
    fused_index = 0
    for layer in layers:
        nodes = [n for n in layer.onnx_nodes if n in tree.index_of]
        if not nodes:
            continue
        if layer.name in fused and len(nodes) > 1:  # (a fused layer with one node of this model: its own colour)
            color = FUSION_PALETTE[fused_index % len(FUSION_PALETTE)]
            fused_index += 1
            cat = 0
        else:
            color = OWN_LAYER
            cat = 1
        for nid in nodes:
            i = tree.index_of[nid]
            if cats[i] == 2 or cat == 0:
                cats[i] = cat
                colors[i] = color
            owner.setdefault(nid, []).append(layer)

    def describe(node_id: str) -> list[str]:
        found = owner.get(node_id)
        if not found:
            return ["not in any engine layer (folded, removed or not mapped)"]
        lines = []
        for layer in found[:3]:
            lines.append(f"engine layer: {shorten(layer.name, 120)}")
            detail = [layer.type or "", layer.precision or ""]
            if layer.latency_ms is not None:
                detail.append(f"{fmt_ms(layer.latency_ms)} {layer.latency_statistic}")
            if layer.tactic:
                detail.append(f"tactic {shorten(layer.tactic, 60)}")
            lines.append("  " + ", ".join(d for d in detail if d))
            if layer.name in fused:
                lines.append(f"  fused with {len(layer.onnx_nodes) - 1} other node(s)")
        return lines

    return Overlay(title="Engine layers", source=source or engine_source(engine_report),
                   categories=[(f"fused into one engine layer ({fused_index} fused layers)", FUSION_PALETTE[0]),
                               ("an engine layer of its own", OWN_LAYER),
                               ("not in the engine (folded or removed)", NOT_FUSED)],
                   node_category=cats, node_color=colors, describe=describe,
                   mixed_label="scope with fused and unfused nodes", none_color=NOT_FUSED)


# ---------------------------------------------------------------------------------------------- figure

def graph_figure(model_or_view, overlay: Overlay | None = None, *, selected: Iterable[str] = (),
                 title: str | None = None, height: int | None = None, budget: int | None = None,
                 static: bool = False):
    """The graph (collapsed by scope) with an overlay, as a ``go.Figure``.

    ``model_or_view``: a Model, a :class:`ScopeTree` or a :class:`GraphView` (keeps expanded scopes).
    ``selected``: node ids to ring. Point ``k`` of the ``nodes`` trace is ``view.items[k]``
    (``view.key(k)`` is ``n:<node id>`` or ``g:<group id>``), so clicks can be mapped back.
    ``static``: SVG traces (``go.Scatter``) and no "click to expand" (the HTML report).
    """
    import plotly.graph_objects as go

    view = model_or_view if isinstance(model_or_view, GraphView) else \
        GraphView(_tree_of(model_or_view), **({"budget": budget} if budget else {}))
    view.compute()
    tree = view.tree
    overlay = overlay or plain_overlay(tree)
    data = graph_traces(view, overlay, selected=selected, static=static, height=height)
    points = go.Scatter if static else go.Scattergl
    fig = go.Figure(data=[points(**data["edges"]), points(**data["nodes"]),
                          go.Scatter(**data["labels"]), points(**data["selection"])]
                    + [go.Scatter(**leg) for leg in data["legend"]])
    fig.update_layout(graph_layout_dict(view, overlay, title=title, height=height, static=static))
    return fig


def graph_traces(view: GraphView, overlay: Overlay, *, selected: Iterable[str] = (), static: bool = False,
                 height: int | None = None) -> dict:
    """The trace dictionaries of :func:`graph_figure` (a widget uses them to update in place); labels
    (op of a node, scope of a box) on the items they fit beside at ``height`` (:meth:`GraphView.label_mask`)."""
    view.compute()
    tree = view.tree
    n_items = len(view.items)
    ex, ey = view.edge_coordinates()
    colors: list[str] = []
    symbols: list[str] = []
    sizes: list[float] = []
    hover: list[str] = []
    labels: list[str] = []
    cat_labels = [c[0] for c in overlay.categories]
    mixed_seen = False
    for k, item in enumerate(view.items):
        if item.kind == LEAF:
            i = item.ref
            c = int(overlay.node_category[i])
            color = overlay.node_color[i] if overlay.node_color else (
                overlay.categories[c][1] if c >= 0 else overlay.none_color)
            colors.append(color)
            mark = overlay.marked is not None and bool(overlay.marked[i])
            symbols.append("diamond-open" if mark else "circle")
            sizes.append(15 if mark else 11)
            hover.append(_leaf_hover(tree, i, overlay))
            labels.append("\u2002" + esc(shorten(tree.ops[i], 24)))  # the op: what the node is
        else:
            g = tree.groups[item.ref]
            members = tree.members(item.ref)
            cats = overlay.node_category[members]
            valid = cats[cats >= 0]
            counts = np.bincount(valid, minlength=len(overlay.categories)) if len(valid) else np.zeros(
                len(overlay.categories), dtype=np.int64)
            present = np.flatnonzero(counts)
            if len(present) == 1:
                color = overlay.categories[int(present[0])][1]
            elif len(present) == 0:
                color = overlay.none_color
            else:
                color = overlay.mixed_color
                mixed_seen = True
            colors.append(color)
            n_marked = int(overlay.marked[members].sum()) if overlay.marked is not None else 0
            symbols.append("square-open" if n_marked else "square")
            sizes.append(float(min(22, 13 + 1.5 * np.log2(max(1, len(members))))))
            ops = Counter(tree.ops[j] for j in members.tolist())
            lines = [f"<b>{esc(g.path, 200)}</b>",
                     f"scope: {len(members)} nodes" + ("" if static else " (click to expand)"),
                     f"ops: {esc(op_summary(ops), 300)}"]
            for ci in present.tolist():
                lines.append(f"{esc(cat_labels[ci], 120)}: {int(counts[ci])}")
            if n_marked:
                lines.append(f"{esc(overlay.marked_label, 200)}: {n_marked} here")
            hover.append("<br>".join(_wrapped(lines)))
            labels.append("\u2003" + esc(shorten(g.label, 26)) + f" ({len(members)})")
    sel_items = selected_items(view, selected)
    shown = view.label_mask(height) if n_items else np.zeros(0, dtype=bool)
    present_cats = set(np.unique(overlay.node_category[overlay.node_category >= 0]).tolist())
    data = {
        "edges": dict(x=ex, y=ey, mode="lines", line=dict(color=EDGE_GREY, width=1), hoverinfo="skip",
                      showlegend=False, name="edges"),
        "nodes": dict(x=view.x, y=view.y, mode="markers", name="nodes", showlegend=False,
                      marker=dict(color=colors, symbol=symbols, size=sizes, line=dict(color="#333", width=0.6)),
                      hovertext=hover, hoverinfo="text"),
        "labels": dict(x=view.x[shown], y=view.y[shown], text=[labels[k] for k in np.flatnonzero(shown).tolist()],
                       mode="text", textposition="middle right", textfont=dict(size=10, color="#333"),
                       hoverinfo="skip", showlegend=False, name="labels"),
        "selection": dict(x=view.x[sel_items] if sel_items else [], y=view.y[sel_items] if sel_items else [],
                          mode="markers", name="selected", showlegend=False, hoverinfo="skip",
                          marker=dict(symbol="circle-open", size=26, color=HIGHLIGHT, line=dict(width=3))),
        "legend": [dict(x=[None], y=[None], mode="markers", name=esc(label, 120),
                        marker=dict(color=color, size=10, symbol="circle"), showlegend=ci in present_cats,
                        hoverinfo="skip")
                   for ci, (label, color) in enumerate(overlay.categories)]  # (a legend entry only for what is drawn)
        + [dict(x=[None], y=[None], mode="markers", name=esc(overlay.mixed_label, 120),
                marker=dict(color=overlay.mixed_color, size=10, symbol="square"), showlegend=mixed_seen,
                hoverinfo="skip"),
           dict(x=[None], y=[None], mode="markers",
                name="collapsed scope" + ("" if static else " (click to expand)"),
                marker=dict(color="#ffffff", size=12, symbol="square", line=dict(color="#333", width=1)),
                showlegend=any(it.kind == GROUP for it in view.items), hoverinfo="skip")]
        + ([dict(x=[None], y=[None], mode="markers", name=esc(overlay.marked_label, 200),
                 marker=dict(color="#333", size=12, symbol="diamond-open"), showlegend=True, hoverinfo="skip")]
           if overlay.marked is not None else []),
    }
    return data


def selected_items(view: GraphView, selected: Iterable[str]) -> list[int]:
    """The view items (nodes or collapsed scopes) that show the selected node ids, each once."""
    out = []
    for nid in selected or ():
        k = view.item_for_node(nid)
        if k is not None and k >= 0 and k not in out:
            out.append(k)
    return out


def _leaf_hover(tree: ScopeTree, i: int, overlay: Overlay) -> str:
    nid = tree.node_ids[i]
    name = tree.names[i]
    lines = [f"<b>{esc(name, 200)}</b>", f"op: {esc(tree.ops[i], 80)}"]
    if nid != name:
        lines.append(f"id: {esc(nid, 200)}")
    if overlay.describe is not None:
        try:
            lines.extend(esc(line, 300) for line in overlay.describe(nid))
        except Exception as exc:  # an overlay must never break the figure
            lines.append(esc(f"(details unavailable: {exc})"))
    return "<br>".join(_wrapped(lines))


def _wrapped(lines: list[str]) -> list[str]:
    """Hover lines (already escaped) wrapped at :data:`HOVER_CHARS`: a box wider than the figure is cut."""
    out = []
    for line in lines:
        if len(line) <= HOVER_CHARS or "<" in line:
            out.append(line)
        else:
            out.extend(wrap(line, HOVER_CHARS, 4))
    return out


def graph_layout_dict(view: GraphView, overlay: Overlay, *, title: str | None = None, height: int | None = None,
                      static: bool = False) -> dict:
    view.compute()
    n_layers = max(1, view.num_layers)
    yrange = [-(n_layers - 1) - 0.8, 0.8]  # the whole graph in the first view (double-click comes back here)
    height = view.figure_height(height)
    width_extent = max(1, view.max_width)
    shown = len(view.items)
    subtitle = f"{view.tree.n} nodes, {shown} items shown"
    collapsed = sum(1 for it in view.items if it.kind == GROUP)
    if collapsed:
        subtitle += f" ({collapsed} collapsed scopes" + (")" if static else "; click a box to expand)")
    labelled = int(view.label_mask(height).sum()) if shown else 0
    if labelled < shown:
        subtitle += f"; labels on {labelled} items where they fit, hover for every item"
    head = title or overlay.title
    source_lines = wrap("source: " + (overlay.source or "unknown"), 110, 3)
    return dict(
        title=dict(text=f"{esc(head, None)} <span style='font-size:12px;color:#666'>{esc(subtitle, None)}</span>"
                   "<br><sup>" + "<br>".join(esc(line, None) for line in source_lines) + "</sup>",
                   x=0.01, xanchor="left"),
        height=height, template="plotly_white", hovermode="closest", dragmode="pan",
        hoverlabel=dict(align="left", font=dict(size=11), namelength=-1),
        clickmode="event", uirevision=None,
        margin=dict(l=10, r=10, t=50 + 16 * len(source_lines), b=10),
        xaxis=dict(visible=False, range=[-(width_extent / 2) - 1.5, width_extent / 2 + 3.5]),
        yaxis=dict(visible=False, range=yrange, autorange=False),
        legend=dict(orientation="h", yanchor="top", y=-0.01, x=0, font=dict(size=11)),
        meta={"kind": "graph", "overlay": overlay.title, "source": overlay.source, "items": shown,
              "nodes": view.tree.n},
    )


def partitions_figure(model, report: SupportReport, *, view: GraphView | None = None,
                      selected: Iterable[str] = (), **kw):
    """The partition view: supported / unsupported partitions on the (collapsed) graph."""
    view = view or GraphView(ScopeTree(model))
    return graph_figure(view, partition_overlay(view.tree, report), selected=selected, **kw)


def fusions_figure(model, groups: Sequence[FusionGroup], *, view: GraphView | None = None,
                   selected: Iterable[str] = (), **kw):
    """Predicted fusion groups on the graph (before any build)."""
    view = view or GraphView(ScopeTree(model))
    return graph_figure(view, fusion_overlay(view.tree, groups), selected=selected, **kw)


def engine_fusions_figure(model, engine_report: EngineReport, *, view: GraphView | None = None,
                          selected: Iterable[str] = (), **kw):
    """Real fusions on the graph: ONNX nodes coloured by the engine layer that runs them."""
    view = view or GraphView(ScopeTree(model))
    return graph_figure(view, engine_overlay(view.tree, engine_report), selected=selected, **kw)
