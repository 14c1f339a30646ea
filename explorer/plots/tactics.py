"""Autotuning as a picture: for each layer, every tactic TensorRT timed, and the one it chose."""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

import numpy as np

from .data import engine_source, layer_records, unique_labels
from ._util import fit_title, PALETTE, empty_figure, esc, shorten, titled
from .format import fmt_ms

if TYPE_CHECKING:
    from ..engine.report import EngineReport, TacticRecord


def from_onnxruntime(report: EngineReport) -> bool:
    """ONNX Runtime builds have no autotuning: their "tactics" are the execution provider of each node."""
    from ..engine.report import BuildReport

    if isinstance(report, BuildReport) and report.backend.lower() == "onnxruntime":
        return True
    sources = [str(s).lower() for s in report.sources]
    return bool(sources) and all("onnx runtime" in s for s in sources)


def no_tactics_message(report: EngineReport) -> str:
    sources = "; ".join(report.sources) or "this source"
    if from_onnxruntime(report):
        return ("No tactic timings exist for this source: ONNX Runtime does not autotune kernels "
                f"({sources}).")
    said = report.provenance.get("tactics", "")
    if said.startswith("none: "):  # the backend says why there are none (TensorRT-RTX times no tactics)
        return f"No tactic timings exist for this source: {said[6:]} ({sources})."
    return ("No tactic timings exist for this source: tactic timings come from a verbose TensorRT build log "
            f"(trtexec --verbose) or a timing cache, and none was loaded ({sources}).")


def timed_tactics(report: EngineReport) -> dict[str, list[TacticRecord]]:
    """Layer name -> its tactic records that have a time (skipped ones are listed separately).

    Empty for ONNX Runtime builds: their records are node placements (execution provider per node), not
    autotuning candidates.
    """
    out: dict[str, list[TacticRecord]] = defaultdict(list)
    if from_onnxruntime(report):
        return {}
    for t in report.tactics:
        if t.time_ms is not None:
            out[t.layer].append(t)
    return dict(out)


def _order_layers(report: EngineReport, by_layer: dict[str, list]) -> list[str]:
    latency = {layer.name: layer.latency_ms for layer in layer_records(report) if layer.latency_ms is not None}

    def key(name: str) -> float:
        if name in latency:
            return -latency[name]
        chosen = [t.time_ms for t in by_layer[name] if t.chosen]
        return -(chosen[0] if chosen else min(t.time_ms for t in by_layer[name]))

    return sorted(by_layer, key=key)


def _hover(t) -> str:
    lines = [f"<b>{esc(shorten(t.layer, 160))}</b>",
             f"tactic: {esc(t.tactic_name or t.tactic or 'n/a', 160)}"]
    if t.tactic_name and t.tactic:
        lines.append(f"id: {esc(t.tactic)}")
    lines.append(f"autotuning time: {esc(fmt_ms(t.time_ms))}")
    if t.runner:
        lines.append(f"runner: {esc(t.runner)}")
    if t.formats:
        lines.append(f"formats: {esc(shorten(t.formats, 100))}")
    if t.chosen:
        lines.append("<b>CHOSEN</b>")
    return "<br>".join(lines)


def tactics_figure(report: EngineReport, *,
                   kind: str = "strip", max_layers: int = 60, title: str = "Tactics timed per layer",
                   height: int = 520):
    """Strip (``kind="strip"``) or box plot of tactic times per layer, sorted by layer latency.

    The chosen tactic is a star; hovering any point shows the tactic's name and time. Layers whose times
    span orders of magnitude read well on the log axis used here.
    """
    import plotly.graph_objects as go

    source = engine_source(report, "tactics")
    by_layer = timed_tactics(report)
    if not by_layer:
        return empty_figure(no_tactics_message(report), title=title, source=engine_source(report))
    names = _order_layers(report, by_layer)[:max_layers]
    labels = unique_labels(names, 40)
    xs, ys, hov, custom, colors = [], [], [], [], []
    cx, cy, chov, ccustom = [], [], [], []
    runners = sorted({t.runner or "n/a" for name in names for t in by_layer[name]})
    runner_color = {r: PALETTE[i % len(PALETTE)] for i, r in enumerate(runners)}
    rng = np.random.default_rng(0)
    for pos, name in enumerate(names):
        for t in by_layer[name]:
            jitter = float(rng.uniform(-0.28, 0.28)) if kind == "strip" else 0.0
            target = (cx, cy, chov, ccustom) if t.chosen else (xs, ys, hov, custom)
            target[0].append(pos + jitter if kind == "strip" else esc(labels[pos]))
            target[1].append(t.time_ms)
            target[2].append(_hover(t))
            target[3].append(name)
            if not t.chosen:
                colors.append(runner_color[t.runner or "n/a"])
    fig = go.Figure()
    if kind == "box":
        fig.add_box(x=[esc(labels[names.index(c)]) for c in custom], y=ys, name="timed tactics",
                    boxpoints="all", jitter=0.4, pointpos=0, marker=dict(size=4, color="#4c78a8"),
                    hovertext=hov, hoverinfo="text", customdata=custom, line=dict(width=1))
        fig.add_scatter(x=[esc(labels[names.index(c)]) for c in ccustom], y=cy, mode="markers", name="chosen",
                        marker=dict(symbol="star", size=13, color="#d62728", line=dict(color="#000", width=0.5)),
                        hovertext=chov, hoverinfo="text", customdata=ccustom)
        xaxis = dict(categoryorder="array", categoryarray=[esc(lab) for lab in labels], tickangle=-60,
                     tickfont=dict(size=9))
    else:
        fig.add_scatter(x=xs, y=ys, mode="markers", name="timed tactics (colour = runner)",
                        marker=dict(size=6, color=colors, opacity=0.75), hovertext=hov, hoverinfo="text",
                        customdata=custom)
        fig.add_scatter(x=cx, y=cy, mode="markers", name="chosen",
                        marker=dict(symbol="star", size=13, color="#d62728", line=dict(color="#000", width=0.5)),
                        hovertext=chov, hoverinfo="text", customdata=ccustom)
        for r, c in runner_color.items():
            fig.add_scatter(x=[None], y=[None], mode="markers", name=f"runner: {esc(r)}",
                            marker=dict(size=8, color=c), hoverinfo="skip")
        xaxis = dict(tickmode="array", tickvals=list(range(len(names))), ticktext=[esc(lab) for lab in labels],
                     tickangle=-60, tickfont=dict(size=9), range=[-0.7, len(names) - 0.3])
    total = sum(len(by_layer[n]) for n in names)
    more = f", first {len(names)} of {len(by_layer)} layers" if len(by_layer) > len(names) else ""
    fig.update_layout(
        title=titled(f"{title}: {total} timings{more}, sorted by layer {report.latency_statistic or 'latency'}",
                     source), height=height,
        template="plotly_white", yaxis=dict(title="time (ms, log)", type="log"), xaxis=xaxis,
        margin=dict(l=60, r=20, t=70, b=150), meta={"kind": "tactics", "source": source})
    return fit_title(fig)


def tactics_table(report: EngineReport, max_rows: int = 2000):
    """The tactics as a DataFrame (one row per timed or skipped tactic), layers by latency."""
    frame = report.tactics_frame()
    if frame.empty:
        return frame
    latency = {layer.name: layer.latency_ms for layer in layer_records(report)}
    frame = frame.assign(layer_latency_ms=frame["layer"].map(latency))
    frame = frame.sort_values(["layer_latency_ms", "layer", "time_ms"], ascending=[False, True, True],
                              na_position="last")
    return frame.head(max_rows).reset_index(drop=True)
