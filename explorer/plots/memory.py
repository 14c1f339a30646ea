"""Where memory goes: totals by kind, per layer, and the activation footprint along the network."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .data import activation_footprint, engine_source, layer_records, memory_totals, unique_labels
from ._util import fit_title, PALETTE, empty_figure, esc, shorten, titled
from .format import fmt_bytes

if TYPE_CHECKING:
    from ..engine.report import EngineReport


def memory_totals_figure(report: EngineReport, *, workspace_bytes: int | None = None, title: str = "Memory by kind",
                         height: int = 380):
    """One bar per kind (weights, activations, persistent, scratch, workspace); unknown ones say n/a."""
    import plotly.graph_objects as go

    rows = memory_totals(report, workspace_bytes)
    source = engine_source(report, "memory")
    if not rows:
        return empty_figure("This report has no memory information.", title=title, source=source)
    cats = [esc(r["category"]) for r in rows]
    values = [float(r["bytes"]) / 2**20 if r["bytes"] is not None else 0.0 for r in rows]
    text = [fmt_bytes(r["bytes"]) if r["bytes"] is not None else "n/a (not in this source)" for r in rows]
    hover = [f"<b>{esc(r['category'])}</b><br>{esc(t)}<br>source: {esc(r['source'] or 'not reported', 200)}"
             for r, t in zip(rows, text)]
    fig = go.Figure(go.Bar(x=cats, y=values, text=[esc(t) for t in text], textposition="outside",
                           marker_color=[PALETTE[i % len(PALETTE)] for i in range(len(rows))],
                           hovertext=hover, hoverinfo="text"))
    fig.update_layout(title=titled(title, source), height=height, template="plotly_white",
                      yaxis=dict(title="MiB"), margin=dict(l=60, r=20, t=80, b=80),
                      meta={"kind": "memory_totals", "source": source})
    return fit_title(fig)


def memory_layers_figure(report: EngineReport, *,
                         title: str = "Memory per layer", height: int = 420, top: int | None = 80):
    """Stacked bars per layer: weights, output activations, device persistent, scratch."""
    import plotly.graph_objects as go

    frame = report.memory_frame()
    source = engine_source(report, "memory")
    if frame is None or frame.empty:
        return empty_figure("No per-layer memory in this source.", title=title, source=source)
    frame = frame.fillna(0)
    series = [("weights_bytes", "weights"), ("output_activation_bytes", "output activations"),
              ("device_persistent", "device persistent"), ("scratch", "scratch")]
    series = [(col, label) for col, label in series if col in frame and float(frame[col].astype(float).sum()) > 0]
    if not series:
        return empty_figure("No per-layer memory figures in this source.", title=title, source=source)
    frame = frame.assign(_total=sum(frame[col].astype(float) for col, _ in series))
    shown = frame
    if top and len(frame) > top:
        shown = frame.sort_values("_total", ascending=False).head(top).sort_index()
    names = shown["layer"].astype(str).tolist()
    labels = [esc(lab) for lab in unique_labels(names, 40)]
    fig = go.Figure()
    for k, (col, label) in enumerate(series):
        vals = shown[col].astype(float).tolist()
        fig.add_bar(x=labels, y=[v / 2**20 for v in vals], name=esc(label), marker_color=PALETTE[k],
                    hovertext=[f"<b>{esc(shorten(n, 200))}</b><br>{esc(label)}: {esc(fmt_bytes(v))}"
                               for n, v in zip(names, vals)], hoverinfo="text", customdata=names)
    more = f" (top {len(shown)} of {len(frame)} layers)" if len(shown) < len(frame) else ""
    fig.update_layout(title=titled(title + more, source), barmode="stack", height=height, template="plotly_white",
                      yaxis=dict(title="MiB"), xaxis=dict(tickangle=-60, tickfont=dict(size=9),
                                                          showticklabels=len(labels) <= 80),
                      margin=dict(l=60, r=20, t=70, b=140), meta={"kind": "memory_layers", "source": source})
    return fit_title(fig)


def activation_footprint_figure(report: EngineReport, *,
                                title: str = "Activation footprint along the network", height: int = 380):
    """Bytes of activations alive at each layer (line) and each layer's output bytes (bars)."""
    import plotly.graph_objects as go

    foot = activation_footprint(report)
    source = "computed: shape x dtype of the engine's tensors from " + engine_source(report, "layers")
    if not foot["names"] or not foot["known"]:
        return empty_figure("No tensor shapes in this source, so no activation footprint.", title=title,
                            source=engine_source(report))
    labels = [esc(lab) for lab in unique_labels(foot["names"], 40)]
    names = foot["names"]
    fig = go.Figure()
    fig.add_bar(x=labels, y=[b / 2**20 for b in foot["output_bytes"]], name="layer output", marker_color="#9ecae1",
                hovertext=[f"<b>{esc(shorten(n, 200))}</b><br>output: {esc(fmt_bytes(b))}"
                           for n, b in zip(names, foot["output_bytes"])], hoverinfo="text", customdata=names)
    fig.add_scatter(x=labels, y=[b / 2**20 for b in foot["live_bytes"]], mode="lines+markers", name="alive",
                    line=dict(color="#d62728"),
                    hovertext=[f"<b>{esc(shorten(n, 200))}</b><br>alive: {esc(fmt_bytes(b))}"
                               for n, b in zip(names, foot["live_bytes"])], hoverinfo="text", customdata=names)
    fig.update_layout(
        title=titled(f"{title} (peak {fmt_bytes(foot['peak_bytes'])} at {shorten(foot['peak_layer'] or '', 50)})",
                     source),
        height=height, template="plotly_white", yaxis=dict(title="MiB"),
        xaxis=dict(tickangle=-60, tickfont=dict(size=9), showticklabels=len(labels) <= 80),
        margin=dict(l=60, r=20, t=70, b=140), meta={"kind": "activation_footprint", "source": source})
    return fit_title(fig)


def layer_count(report: EngineReport) -> int:
    return len(layer_records(report))
