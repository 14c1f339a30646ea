"""Autotuning as a picture: for each layer, every tactic TensorRT timed, and the one it chose."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass
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


# -- the tactic TensorRT chose, when the alternatives it timed are not in the files --------------------------

#: words of a kernel name that name the library it comes from (the end of its family prefix)
_LIBRARY_WORDS = ("xmma", "cudnn", "cutlass", "cublas", "gemm", "myelin")


def kernel_family(kernel: str | None, layer_type: str | None = None) -> str:
    """The family of a kernel name: its words up to the library that wrote it.

    ``ampere_scudnn_128x64_relu_...`` -> ``ampere_scudnn``, ``sm80_xmma_fprop_...`` -> ``sm80_xmma``,
    ``trt_turing_cutlass_...`` -> ``trt_turing_cutlass``; no library word in the first three: the first two
    words. A layer with only a tactic id (no kernel name) is grouped by its layer type.
    """
    if not kernel:
        return f"{layer_type or 'layer'} (tactic id only)"
    words = kernel.split("_")
    for i, word in enumerate(words[:3]):
        if any(lib in word.lower() for lib in _LIBRARY_WORDS):
            return "_".join(words[: i + 1])
    return "_".join(words[:2])


@dataclass(frozen=True)
class ChosenTactic:
    """One layer's tactic as the engine records it (layer info), with that layer's profiled time."""

    layer: str
    layer_type: str | None
    kernel: str | None  # TacticName
    tactic_id: str | None  # TacticValue
    family: str
    precision: str | None
    median_ms: float | None
    average_ms: float | None
    percentage: float | None
    runs: int | None  # how many inferences the profile's times are over
    tactic_source: str
    time_source: str | None


def chosen_tactics(report: EngineReport) -> list[ChosenTactic]:
    """Every layer's chosen tactic from the engine's layer information, in execution order.

    Reformatting and no-op layers are left out (no kernel of their own to choose); ONNX Runtime builds
    have none (no autotuning), nor has a build whose backend says it chose none (TensorRT-RTX ahead of time:
    its layer names such as ``__myelin_CASK_STUB`` are placeholders for kernels picked on the device).
    """
    if from_onnxruntime(report) or str(report.provenance.get("tactics", "")).startswith("none: "):
        return []
    tactic_source = engine_source(report, "layers")
    out = []
    for layer in layer_records(report):
        if layer.is_reformat or (layer.type or "").lower() == "noop":
            continue
        if not (layer.tactic_name or layer.tactic_value):
            continue
        lat = layer.latency
        out.append(ChosenTactic(
            layer=layer.name, layer_type=layer.type, kernel=layer.tactic_name, tactic_id=layer.tactic_value,
            family=kernel_family(layer.tactic_name, layer.type), precision=layer.precision,
            median_ms=lat.median_ms if lat else None, average_ms=lat.average_ms if lat else None,
            percentage=lat.percentage if lat else None, runs=lat.count if lat else None,
            tactic_source=tactic_source, time_source=lat.source if lat else None))
    return out


def chosen_only_message(report: EngineReport) -> str:
    """Why the Tactics tab shows one tactic per layer: only the choice is in these files."""
    sources = "; ".join(report.sources) or "this source"
    return (f"No tactic timings exist for this source ({sources}): it records only the tactic TensorRT chose for "
            "each layer, shown below from the engine's layer information. The alternatives it timed, and their "
            "times, are only in a verbose build log (trtexec --verbose) or a timing cache.")


def _chosen_time(row: ChosenTactic) -> float | None:
    return row.median_ms if row.median_ms is not None else row.average_ms


def chosen_tactics_figure(report: EngineReport, *, title: str = "Tactic TensorRT chose per layer",
                          max_layers: int = 80):
    """One bar per layer: its profiled time, coloured by the chosen kernel's family, labelled with the kernel.

    Times are the profile's per-layer median (average where a profile gives no median); the source of the
    choice (layer information) and of the times (profile) are both in the title.
    """
    import plotly.graph_objects as go

    rows = chosen_tactics(report)
    tactic_source = engine_source(report, "layers")
    if not rows:
        return empty_figure("No layer of this engine records a chosen tactic.", title=title,
                            source=engine_source(report))
    timed = [r for r in rows if _chosen_time(r) is not None]
    if not timed:
        return empty_figure("These files record the chosen tactic of each layer (see the table) but no per-layer "
                            "time: import the profile (trtexec --exportProfile) to plot them.", title=title,
                            source=tactic_source)
    timed = sorted(timed, key=lambda r: -_chosen_time(r))[:max_layers]
    median = all(r.median_ms is not None for r in timed)
    what = "median" if median else "average"
    time_source = engine_source(report, "latency")
    runs = sorted({r.runs for r in timed if r.runs})
    over = f", over {runs[0]} profiled run{'s' if runs[0] != 1 else ''}" if len(runs) == 1 else ""
    labels = unique_labels([r.layer for r in timed], 36)
    families = sorted({r.family for r in timed})
    fig = go.Figure()
    for i, family in enumerate(families):
        mine = [(lab, r) for lab, r in zip(labels, timed) if r.family == family]
        total = sum(_chosen_time(r) for _, r in mine)
        hover = [("<br>".join([f"<b>{esc(shorten(r.layer, 160))}</b>",
                               f"kernel: {esc(r.kernel or 'n/a (tactic id only)', 200)}",
                               f"tactic id: {esc(r.tactic_id or 'n/a')}",
                               f"type: {esc(r.layer_type or 'n/a')}, precision: {esc(r.precision or 'n/a')}",
                               f"{what} time: {esc(fmt_ms(_chosen_time(r)))}",
                               f"tactic: {esc(r.tactic_source)}", f"time: {esc(r.time_source or 'n/a')}"]))
                 for _, r in mine]
        fig.add_bar(y=[esc(lab) for lab, _ in mine], x=[_chosen_time(r) for _, r in mine], orientation="h",
                    name=esc(f"{family} ({len(mine)} layer{'s' if len(mine) != 1 else ''}, {fmt_ms(total)})"),
                    marker_color=PALETTE[i % len(PALETTE)],
                    text=[esc(shorten(r.kernel or r.tactic_id or "", 56)) for _, r in mine],
                    textposition="outside", cliponaxis=False, textfont=dict(size=10),
                    hovertext=hover, hoverinfo="text", customdata=[r.layer for _, r in mine])
    longest = max(_chosen_time(r) for r in timed)
    more = f", {len(timed)} slowest of {len(rows)} layers" if len(rows) > len(timed) else f", {len(timed)} layers"
    source = f"chosen tactics: {tactic_source}; times: {time_source}"
    fig.update_layout(
        title=titled(f"{title}: {len(families)} kernel families{more}, by time", source, width=90),
        height=max(260, 130 + 22 * len(timed)), template="plotly_white", barmode="overlay",
        xaxis=dict(title=f"{what} time per layer (ms{over})", range=[0, longest * 2.2], zeroline=True),
        yaxis=dict(categoryorder="array", categoryarray=[esc(lab) for lab in labels], autorange="reversed",
                   tickfont=dict(size=10)),
        legend=dict(title=dict(text="kernel family (layers, total time)"), orientation="h", y=-0.12),
        margin=dict(l=200, r=30, t=70, b=90),
        meta={"kind": "chosen_tactics", "source": source})
    return fit_title(fig, base=80)


def chosen_tactics_table(report: EngineReport):
    """The chosen tactics as a DataFrame (one row per layer, execution order), times from the profile."""
    import pandas as pd

    rows = chosen_tactics(report)
    columns = list(ChosenTactic.__dataclass_fields__)
    return pd.DataFrame([asdict(r) for r in rows], columns=columns)
