"""Per-layer latency of one engine: bars in execution order, a treemap by layer type, the precision split."""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from .data import engine_source, has_latency, layer_records, unique_labels
from ._util import fit_title, PALETTE, PRECISION_COLORS, empty_figure, esc, shorten, titled
from .format import fmt_ms, fmt_number, fmt_spread

if TYPE_CHECKING:
    from ..engine.report import EngineReport, Layer

NO_LATENCY = ("No per-layer latency in this source (layer information only): import a trtexec --exportProfile "
              "JSON or run a build to see where time goes.")


def _precision_key(p: str | None) -> str:
    return (p or "UNKNOWN").upper()


def latency_words(report: EngineReport) -> str:
    """What the per-layer figure is, for titles and axes: "median" / "mean" (see ``Layer.latency_ms``)."""
    return report.latency_statistic or "latency"


def _layer_hover(layer: Layer, extra: list[str] | None = None, report: EngineReport | None = None) -> str:
    lat = layer.latency
    what = f"latency ({lat.statistic})" if lat is not None else "latency"
    lines = [f"<b>{esc(layer.name, 240)}</b>", f"type: {esc(layer.type or 'n/a')}",
             f"precision: {esc(layer.precision or 'n/a')}", f"{what}: {esc(fmt_ms(layer.latency_ms))}"]
    if lat is not None and lat.spread_ms:
        lines.append(esc(fmt_spread(lat.spread_ms)))
    share = report.latency_share(layer) if report is not None else None
    if share is not None:
        lines.append(f"share: {fmt_number(share)}% of the sum")
    if layer.tactic:
        from .tactics import from_onnxruntime

        word = "execution provider" if report is not None and from_onnxruntime(report) else "tactic"
        lines.append(f"{word}: {esc(shorten(layer.tactic, 100))}")
    nodes = list(layer.onnx_nodes)
    if nodes:
        lines.append(f"ONNX nodes: {esc(shorten(', '.join(nodes), 160))}")
    lines.extend(extra or [])
    return "<br>".join(lines)


def latency_bar(report: EngineReport, *,
                title: str = "Per-layer latency", sort: str = "execution", color_by: str = "precision",
                top: int | None = None, height: int = 460, selected: str | None = None, title_width: int = 120):
    """Latency per engine layer as bars (execution order, or ``sort="latency"``), coloured by precision/type.
    ``title_width``: characters per title line (the app's plots, beside the details panel, want ~70).

    Point ``k`` of every trace carries the layer name in ``customdata`` so a widget can map clicks.
    """
    import plotly.graph_objects as go

    source = engine_source(report, "latency")
    layers = [layer for layer in layer_records(report)]
    if not layers:
        return empty_figure("This report has no layers.", title=title, source=source)
    if not has_latency(report):
        return empty_figure(NO_LATENCY, title=title, source=engine_source(report, "layers"))
    order = list(range(len(layers)))
    if sort == "latency":
        order.sort(key=lambda i: -(layers[i].latency_ms or 0.0))
    if top:
        order = order[:top]
    labels = unique_labels([layers[i].name for i in order], 40)
    groups: dict[str, list[int]] = defaultdict(list)
    for pos, i in enumerate(order):
        key = _precision_key(layers[i].precision) if color_by == "precision" else (layers[i].type or "n/a")
        groups[key].append(pos)
    fig = go.Figure()
    spread = any(layer.latency is not None and layer.latency.spread_ms for layer in layers)
    for g_index, (key, positions) in enumerate(sorted(groups.items())):
        color = PRECISION_COLORS.get(key) if color_by == "precision" else None
        members = [layers[order[p]] for p in positions]
        error_y = None
        if spread:  # p10-p90 of the runs around the median (the bar)
            lows = [m.latency_ms - m.latency.spread_ms[0] if m.latency and m.latency.spread_ms else 0.0
                    for m in members]
            highs = [m.latency.spread_ms[1] - m.latency_ms if m.latency and m.latency.spread_ms else 0.0
                     for m in members]
            error_y = dict(type="data", symmetric=False, array=highs, arrayminus=lows, thickness=1, width=2,
                           color="#444")
        fig.add_bar(
            x=[esc(labels[p]) for p in positions], y=[m.latency_ms or 0.0 for m in members],
            name=esc(key), marker_color=color or PALETTE[g_index % len(PALETTE)], error_y=error_y,
            hovertext=[_layer_hover(m, report=report) for m in members], hoverinfo="text",
            customdata=[m.name for m in members])
    total = report.latency_ms_total or 0.0
    stat = latency_words(report)
    bars = f"{stat} per layer" + (", whiskers p10–p90 of the runs" if spread else "")
    fig.update_layout(
        title=titled(f"{title} ({bars}; sum {fmt_ms(total)} per inference)", source, title_width), height=height,
        template="plotly_white", barmode="overlay", bargap=0.15,
        xaxis=dict(categoryorder="array", categoryarray=[esc(lab) for lab in labels], tickangle=-60,
                   tickfont=dict(size=9), showticklabels=len(labels) <= 80),
        yaxis=dict(title=f"ms per inference ({stat})"), legend=dict(title=color_by),
        margin=dict(l=60, r=20, t=70, b=140), meta={"kind": "latency_bar", "source": source})
    if selected:
        for pos, i in enumerate(order):
            if layers[i].name == selected:
                fig.add_annotation(x=esc(labels[pos]), y=layers[i].latency_ms or 0.0, text="selected",
                                   showarrow=True, arrowhead=2, ax=0, ay=-30, font=dict(color="#1f77ff"))
    return fit_title(fig)


def latency_treemap(report: EngineReport, *,
                    title: str = "Latency by layer type", height: int = 460, title_width: int = 120):
    """Treemap: engine time by layer type, then by layer. ``title_width``: characters per title line (a
    narrower figure, side by side with another, wants fewer)."""
    import plotly.graph_objects as go

    source = engine_source(report, "latency")
    layers = layer_records(report)
    if not has_latency(report):
        return empty_figure(NO_LATENCY, title=title, source=engine_source(report, "layers"))
    ids, labels, parents, values, hover, custom = [], [], [], [], [], []
    by_type: dict[str, list] = defaultdict(list)
    for k, layer in enumerate(layers):
        by_type[layer.type or "n/a"].append((k, layer))
    for t, members in sorted(by_type.items(), key=lambda kv: -sum(m[1].latency_ms or 0 for m in kv[1])):
        tid = f"type:{t}"
        total = sum(layer.latency_ms or 0.0 for _, layer in members)
        ids.append(tid)
        labels.append(esc(t))
        parents.append("")
        values.append(total)
        hover.append(f"<b>{esc(t)}</b><br>{len(members)} layers<br>{esc(fmt_ms(total))} "
                     f"(sum of {esc(latency_words(report))}s)")
        custom.append("")
        for k, layer in members:
            ids.append(f"layer:{k}")
            labels.append(esc(shorten(layer.name, 40)))
            parents.append(tid)
            values.append(layer.latency_ms or 0.0)
            hover.append(_layer_hover(layer, report=report))
            custom.append(layer.name)
    fig = go.Figure(go.Treemap(ids=ids, labels=labels, parents=parents, values=values, branchvalues="total",
                               hovertext=hover, hoverinfo="text", customdata=custom, textinfo="label+percent root"))
    fig.update_layout(title=titled(f"{title} ({latency_words(report)} per layer)", source, title_width),
                      height=height, margin=dict(l=10, r=10, t=70, b=10),
                      meta={"kind": "latency_treemap", "source": source})
    return fit_title(fig)


def precision_pie(report: EngineReport, *, title: str = "Precision split", height: int = 360, title_width: int = 120):
    """Share of engine time (or of layers, without latency) by output precision (``title_width`` as for
    :func:`latency_treemap`)."""
    import plotly.graph_objects as go

    layers = layer_records(report)
    timed = has_latency(report)
    source = engine_source(report, "latency" if timed else "layers")
    if not layers:
        return empty_figure("This report has no layers.", title=title, source=source)
    totals: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    for layer in layers:
        key = _precision_key(layer.precision)
        totals[key] += (layer.latency_ms or 0.0) if timed else 1.0
        counts[key] += 1
    keys = sorted(totals, key=lambda k: -totals[k])
    fig = go.Figure(go.Pie(
        labels=[esc(k) for k in keys], values=[totals[k] for k in keys], sort=False, hole=0.35,
        marker=dict(colors=[PRECISION_COLORS.get(k, "#999") for k in keys]),
        hovertext=[f"{esc(k)}: {counts[k]} layers" + (f", {esc(fmt_ms(totals[k]))}" if timed else "")
                   for k in keys], hoverinfo="text+percent"))
    what = f"engine time ({latency_words(report)}s)" if timed else "layers (no latency in this source)"
    fig.update_layout(title=titled(f"{title}: share of {what}", source, title_width), height=height,
                      margin=dict(l=10, r=10, t=70, b=10), meta={"kind": "precision_pie", "source": source})
    return fit_title(fig)
