"""Two builds side by side: per-layer latency and its difference, precision and tactic changes, totals."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .data import compare_rows, engine_source, has_latency, memory_totals
from ._util import fit_title, empty_figure, esc, shorten, titled, wrap
from .format import fmt_bytes, fmt_ms

if TYPE_CHECKING:
    from ..engine.report import EngineReport


def compare_frame(a: EngineReport, b: EngineReport, label_a: str = "a", label_b: str = "b"):
    """One row per layer (matched by name, then by ONNX nodes): latency (``Layer.latency_ms``: the median, or
    the mean where a source has none), precision and tactic of both."""
    import pandas as pd

    rows = compare_rows(a, b)
    names = {"latency_a_ms": f"latency_ms [{label_a}]", "latency_b_ms": f"latency_ms [{label_b}]",
             "precision_a": f"precision [{label_a}]", "precision_b": f"precision [{label_b}]",
             "tactic_a": f"tactic [{label_a}]", "tactic_b": f"tactic [{label_b}]",
             "layer_b": f"layer [{label_b}]"}
    columns = ["layer", "layer_b", "type", "latency_a_ms", "latency_b_ms", "diff_ms", "precision_a",
               "precision_b", "tactic_a", "tactic_b", "in", "precision_changed", "tactic_changed"]
    return pd.DataFrame(rows, columns=columns).rename(columns=names)


def _room_for_title(fig, per_line: int = 22):
    """fit_title's margin, with room for the source's smaller lines too (they sat on the axes and subplots)."""
    fit_title(fig)
    text = fig.layout.title.text or ""
    lines = text.count("<br>") + 1 if text else 0
    fig.update_layout(margin=dict(t=44 + per_line * lines))
    return fig


def compare_latency_figure(a: EngineReport, b: EngineReport, *,
                           label_a: str = "a", label_b: str = "b", height: int = 620, top: int = 80,
                           title_width: int = 90):
    """Top: latency per layer of both builds; bottom: the difference (b - a), red where b is slower."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    stat = a.latency_statistic if a.latency_statistic == b.latency_statistic else \
        f"{a.latency_statistic or 'n/a'} vs {b.latency_statistic or 'n/a'}"
    title = f"Per-layer latency ({stat})"
    if not has_latency(a) or not has_latency(b):
        missing = label_a if not has_latency(a) else label_b
        return empty_figure(f"{missing} has no per-layer latency (layer information only), so there is nothing "
                            "to compare per layer.", title=title)
    rows = compare_rows(a, b)
    rows = [r for r in rows if r["latency_a_ms"] is not None or r["latency_b_ms"] is not None]
    if len(rows) > top:
        rows = sorted(rows, key=lambda r: -max(r["latency_a_ms"] or 0, r["latency_b_ms"] or 0))[:top]
    labels = []
    seen: dict[str, int] = {}
    for r in rows:
        short = shorten(r["layer"], 38)
        n = seen.get(short, 0)
        seen[short] = n + 1
        labels.append(esc(short if n == 0 else f"{short} #{n + 1}"))

    def hover(r) -> str:
        lines = [f"<b>{esc(shorten(r['layer'], 200))}</b>",
                 f"{esc(label_a)}: {esc(fmt_ms(r['latency_a_ms']))} {esc(r['precision_a'] or '')}",
                 f"{esc(label_b)}: {esc(fmt_ms(r['latency_b_ms']))} {esc(r['precision_b'] or '')}"]
        if r["diff_ms"] is not None:
            lines.append(f"difference: {r['diff_ms'] * 1000:+.2f} µs")
        if r["precision_changed"]:
            lines.append("precision changed")
        if r["tactic_changed"]:
            lines.append(f"tactic changed: {esc(shorten(r['tactic_a'] or '', 60))} → "
                         f"{esc(shorten(r['tactic_b'] or '', 60))}")
        if r["in"] != "both":
            lines.append(f"only in {esc(label_a if r['in'] == 'a only' else label_b)}")
        return "<br>".join(lines)

    hov = [hover(r) for r in rows]
    names = [r["layer"] for r in rows]
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.04, row_heights=[0.6, 0.4])
    fig.add_bar(x=labels, y=[r["latency_a_ms"] for r in rows], name=esc(label_a), marker_color="#1f77b4",
                hovertext=hov, hoverinfo="text", customdata=names, row=1, col=1)
    fig.add_bar(x=labels, y=[r["latency_b_ms"] for r in rows], name=esc(label_b), marker_color="#ff7f0e",
                hovertext=hov, hoverinfo="text", customdata=names, row=1, col=1)
    diffs = [r["diff_ms"] if r["diff_ms"] is not None else 0.0 for r in rows]
    fig.add_bar(x=labels, y=diffs, name=f"{esc(label_b)} − {esc(label_a)}",
                marker_color=["#d62728" if d > 0 else "#2ca02c" for d in diffs],
                marker_line=dict(color=["#000" if (r["precision_changed"] or r["tactic_changed"]) else "rgba(0,0,0,0)"
                                        for r in rows], width=1.5),
                hovertext=hov, hoverinfo="text", customdata=names, row=2, col=1)
    total_a = sum(r["latency_a_ms"] or 0 for r in compare_rows(a, b))
    total_b = sum(r["latency_b_ms"] or 0 for r in compare_rows(a, b))
    changed_p = sum(1 for r in rows if r["precision_changed"])
    changed_t = sum(1 for r in rows if r["tactic_changed"])
    source = f"{label_a}: {engine_source(a, 'latency')} | {label_b}: {engine_source(b, 'latency')}"
    # the build names are in the legend (below the plot), so the title stays short enough to show whole
    fig.update_layout(
        title=titled(f"{title}: sum {fmt_ms(total_a)} → {fmt_ms(total_b)} "
                     f"({(total_b - total_a) / total_a * 100 if total_a else 0:+.1f}%); {changed_p} precision and "
                     f"{changed_t} tactic changes (outlined)", source, title_width),
        barmode="group", height=height, template="plotly_white", margin=dict(l=60, r=20, t=80, b=230),
        legend=dict(orientation="h", x=0, y=-0.42, yanchor="top"),
        meta={"kind": "compare_latency", "source": source})
    fig.update_yaxes(title_text="ms", row=1, col=1)
    fig.update_yaxes(title_text="Δ ms", row=2, col=1)
    fig.update_xaxes(tickangle=-60, tickfont=dict(size=9), row=2, col=1)
    return _room_for_title(fig)


def compare_totals(a: EngineReport, b: EngineReport, label_a: str = "a", label_b: str = "b") -> list[dict]:
    """Totals side by side: latency (sum of layers, end to end), memory by kind, layer counts."""
    def e2e(r):
        s = r.end_to_end
        return s.latency.p50 if s is not None else None

    stat = a.latency_statistic if a.latency_statistic == b.latency_statistic else "per-layer figures"
    out = [
        {"what": "layers", label_a: len(a.layers), label_b: len(b.layers), "unit": ""},
        {"what": f"sum of layer {stat}s" if stat != "per-layer figures" else "sum of layers", label_a:
         a.latency_ms_total, label_b: b.latency_ms_total, "unit": "ms"},
        {"what": "end to end (median)", label_a: e2e(a), label_b: e2e(b), "unit": "ms"},
    ]
    ma = {r["category"]: r["bytes"] for r in memory_totals(a)}
    mb = {r["category"]: r["bytes"] for r in memory_totals(b)}
    for cat in list(dict.fromkeys([*ma, *mb])):
        if cat == "workspace limit":
            continue
        if ma.get(cat) is None and mb.get(cat) is None:
            continue
        out.append({"what": cat, label_a: ma.get(cat), label_b: mb.get(cat), "unit": "bytes"})
    return out


def compare_totals_figure(a: EngineReport, b: EngineReport, *,
                          label_a: str = "a", label_b: str = "b", height: int = 400, title_width: int = 90):
    """Grouped bars of the totals (latency in ms on the left, memory in MiB on the right panel)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    rows = compare_totals(a, b, label_a, label_b)
    lat = [r for r in rows if r["unit"] == "ms"]
    mem = [r for r in rows if r["unit"] == "bytes"]
    # units on the axes, not as subplot titles (those sat on the title's source lines)
    fig = make_subplots(rows=1, cols=2, column_widths=[0.4, 0.6], horizontal_spacing=0.12)
    def tick(what: str) -> str:  # short lines under the bars, not rotated into the legend
        return "<br>".join(esc(line, None) for line in wrap(what, 14, 3))

    for label, color in ((label_a, "#1f77b4"), (label_b, "#ff7f0e")):
        fig.add_bar(x=[tick(r["what"]) for r in lat], y=[r[label] for r in lat], name=esc(label), marker_color=color,
                    hovertext=[f"{esc(label)}: {esc(fmt_ms(r[label]))}" for r in lat], hoverinfo="text",
                    legendgroup=label, row=1, col=1)
        fig.add_bar(x=[tick(r["what"]) for r in mem], y=[(r[label] or 0) / 2**20 for r in mem], name=esc(label),
                    marker_color=color, showlegend=False, legendgroup=label,
                    hovertext=[f"{esc(label)}: {esc(fmt_bytes(r[label]))}" for r in mem], hoverinfo="text",
                    row=1, col=2)
    source = f"{label_a}: {engine_source(a)} | {label_b}: {engine_source(b)}"
    fig.update_layout(title=titled("Totals (latency: medians where the sources have them)", source, title_width),
                      barmode="group", height=height, template="plotly_white", margin=dict(l=50, r=20, t=90, b=110),
                      legend=dict(orientation="h", x=0, y=-0.32, yanchor="top"),
                      meta={"kind": "compare_totals", "source": source})
    fig.update_xaxes(tickangle=0, tickfont=dict(size=10))
    fig.update_yaxes(title_text="ms", row=1, col=1)
    fig.update_yaxes(title_text="MiB", row=1, col=2)
    return _room_for_title(fig)
