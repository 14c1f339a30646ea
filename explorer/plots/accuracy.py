"""Where a low-precision conversion loses accuracy: the per-tensor error in topological order (log y, the first
jump marked), and the same errors as a graph overlay (nodes coloured by their relative error)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ._util import DEMOTED_AMBER, FALLBACK_RED, NEUTRAL_GREY, PRECISION_COLORS, TRT_GREEN, esc, fit_title, titled
from .graph import Overlay

if TYPE_CHECKING:
    from ..backends.accuracy import PrecisionComparison
    from .graph_layout import ScopeTree

#: the overlay's error bands: (upper bound of rel, label, colour)
ERROR_BANDS = ((1e-3, "rel < 1e-3", TRT_GREEN), (1e-2, "1e-3 <= rel < 1e-2", "#bcbd22"),
               (1e-1, "1e-2 <= rel < 0.1", DEMOTED_AMBER), (float("inf"), "rel >= 0.1 (or NaN/inf)", FALLBACK_RED))
#: where a zero error is drawn on the log axis (and said so in the hover)
LOG_FLOOR = 1e-9


def _band(rel: float) -> int:
    if rel != rel:
        return len(ERROR_BANDS) - 1
    return next(i for i, (upper, _, _) in enumerate(ERROR_BANDS) if rel < upper)


def accuracy_figure(result: PrecisionComparison, *, metric: str = "rel", height: int = 420, title_width: int = 110):
    """``metric`` ("rel" or "max_abs") of every compared tensor by its node's topological position, log y,
    coloured by the node's precision in the converted model; the first jump gets a marker and a line.
    Point ``k`` carries the node id in ``customdata`` (clicks select the node)."""
    import plotly.graph_objects as go

    rows = result.rows
    words = {"rel": f"relative error ({result.rel_definition})", "max_abs": "max |a-b|"}[metric]
    title = titled(f"{result.precision} vs fp32: {words.split(' (')[0]} per tensor, topological order",
                   f"{result.source}; inputs: {result.inputs}", title_width)
    fig = go.Figure()
    values = np.array([getattr(r, metric) for r in rows], dtype=float)
    finite = values[np.isfinite(values)]
    all_zero = bool(len(finite)) and not np.any(finite > 0)
    drawn = np.where(np.isfinite(values), np.maximum(values, LOG_FLOOR), np.nan)
    if len(finite) and not all_zero:
        top = float(finite.max()) * 10
        drawn = np.where(np.isnan(drawn) & ~np.isnan(values), top, drawn)  # inf: drawn at the top
    groups: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        groups.setdefault((r.precision or r.dtype or "?").upper(), []).append(i)
    for precision, members in sorted(groups.items()):
        hover = []
        for i in members:
            r = rows[i]
            lines = [f"<b>{esc(r.node, 200)}</b> ({esc(r.op_type)})", f"tensor: {esc(r.tensor, 200)}",
                     f"max abs: {r.max_abs:.4g}", f"rel: {r.rel:.4g}", f"cosine: {r.cosine:.6f}",
                     f"inputs' rel: {r.input_rel:.4g}", f"precision: {esc(r.precision or r.dtype)}"]
            if r.why:
                lines.append(f"why: {esc(r.why, 200)}")
            if r.nonfinite:
                lines.append(f"{r.nonfinite} NaN/inf elements")
            if getattr(r, metric) == 0:
                lines.append(f"(0: drawn at {LOG_FLOOR:g})")
            hover.append("<br>".join(lines))
        fig.add_trace(go.Scatter(
            x=[rows[i].index for i in members], y=[0.0 if all_zero else drawn[i] for i in members],
            mode="markers", name=esc(precision), customdata=[rows[i].node for i in members],
            marker=dict(size=7, color=PRECISION_COLORS.get(precision, NEUTRAL_GREY)),
            hovertext=hover, hoverinfo="text"))
    jump = result.first_jump
    shapes, annotations = [], []
    if jump is not None and not all_zero:
        fig.add_trace(go.Scatter(
            x=[jump.index], y=[max(getattr(jump, metric), LOG_FLOOR)], mode="markers", name="first jump",
            customdata=[jump.node], marker=dict(size=16, color="rgba(0,0,0,0)", line=dict(color="#d62728", width=3)),
            hovertext=[f"first jump: {esc(jump.node, 200)} ({esc(jump.op_type)})<br>rel {jump.rel:.4g} after inputs "
                       f"at {jump.input_rel:.4g}<br>{esc(result.jump_rule, None)}"], hoverinfo="text"))
        shapes.append(dict(type="line", xref="x", yref="paper", x0=jump.index, x1=jump.index, y0=0, y1=1,
                           line=dict(color="#d62728", dash="dot", width=1)))
        annotations.append(dict(x=jump.index, y=1, xref="x", yref="paper", yanchor="bottom", showarrow=False,
                                text=f"first jump: {esc(jump.node, 60)}", font=dict(color="#d62728", size=11)))
    elif all_zero:
        annotations.append(dict(x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False,
                                text="every error is 0 (the same computation)", font=dict(size=14, color="#666")))
    fig.update_layout(
        title=title, height=height, template="plotly_white", shapes=shapes, annotations=annotations,
        xaxis=dict(title="node (topological position)"),
        yaxis=dict(title=esc(words.split(" (")[0]), type="linear" if all_zero or not len(finite) else "log"),
        legend=dict(title="precision"), margin=dict(l=60, r=20, b=50))
    fig.layout.meta = {"kind": "accuracy", "source": result.source, "metric": metric, "points": len(rows),
                       "first_jump": jump.node if jump is not None else None}
    return fit_title(fig)


def accuracy_overlay(tree: ScopeTree, result: PrecisionComparison) -> Overlay:
    """Nodes coloured by their worst output's relative error (:data:`ERROR_BANDS`); the first jump outlined."""
    cats = np.full(tree.n, -1, dtype=np.int64)
    marked = np.zeros(tree.n, dtype=bool)
    worst = result.by_node()
    jump = result.first_jump
    for node, row in worst.items():
        i = tree.index_of.get(node)
        if i is None:
            continue
        cats[i] = _band(row.rel)
        if jump is not None and node == jump.node:
            marked[i] = True

    def describe(node_id: str) -> list[str]:
        row = worst.get(node_id)
        if row is None:
            return ["not compared (no float output)"]
        lines = [f"{result.precision} vs fp32: rel {row.rel:.4g}, max abs {row.max_abs:.4g}, cosine {row.cosine:.6f}",
                 f"inputs' rel: {row.input_rel:.4g}"]
        if row.why:
            lines.append(f"precision {row.precision}: {row.why}")
        if row.jump:
            lines.append("the first jump")
        return lines

    return Overlay(title=f"Accuracy: {result.precision} vs fp32", source=result.source,
                   categories=[(label, color) for _, label, color in ERROR_BANDS], node_category=cats,
                   describe=describe, none_label="not compared", mixed_label="scope with several error bands",
                   marked=marked, marked_label=f"outlined: the first jump ({result.jump_rule})")


__all__ = ["ERROR_BANDS", "LOG_FLOOR", "accuracy_figure", "accuracy_overlay"]
