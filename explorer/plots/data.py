"""Plain-data views of an :class:`~explorer.engine.report.EngineReport` that the figures share.

Kept separate from the figure code so the numbers can be tested (and reused by the HTML report) without
plotly, and so the figures only depend on a few documented fields of the engine report. The report types are
named for the type checker only: importing the plots does not import :mod:`explorer.engine`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from ..engine.report import EngineReport, Layer, TensorDesc


def engine_source(report: EngineReport, section: str | None = None) -> str:
    """Where a section of an engine report came from (``latency``, ``tactics``, ``layers``, ``memory``)."""
    prov = report.provenance
    if section and prov.get(section):
        return str(prov[section])
    if section == "latency":
        for layer in report.layers:
            if layer.latency is not None and layer.latency.source:
                return str(layer.latency.source)
    if section == "tactics":
        for t in report.tactics:
            if t.source:
                return str(t.source)
    if section == "memory" and report.memory.provenance:
        return "; ".join(sorted(set(str(v) for v in report.memory.provenance.values() if v)))
    if report.sources:
        return "; ".join(str(s) for s in report.sources)
    return "engine report"


def layer_records(report: EngineReport) -> list[Layer]:
    return list(report.layers)


def has_latency(report: EngineReport) -> bool:
    return any(layer.latency is not None for layer in report.layers)


def unique_labels(names: list[str], limit: int = 48) -> list[str]:
    """Short, unique axis labels for (possibly long or duplicate) layer names."""
    from ._util import shorten

    out = []
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        short = shorten(name, limit)
        n = seen.get(short, 0)
        seen[short] = n + 1
        out.append(short if n == 0 else f"{short} #{n + 1}")
    return out


def tensor_bytes(tensor: TensorDesc) -> int | None:
    size = tensor.nbytes
    return int(size) if size is not None else None


def activation_footprint(report: EngineReport) -> dict[str, Any]:
    """Bytes of activation tensors alive at each layer (execution order), from shapes and dtypes.

    A tensor is alive from the layer that writes it (engine inputs: from the start) to the last layer that
    reads it (engine outputs: to the end). TensorRT's allocator reuses memory between tensors that are not
    alive at the same time, so the peak of this curve approximates the activation memory a build needs.
    """
    layers = layer_records(report)
    n = len(layers)
    produced: dict[str, int] = {}
    last_use: dict[str, int] = {}
    size: dict[str, int] = {}
    for i, layer in enumerate(layers):
        for t in layer.inputs:
            last_use[t.name] = i
            if t.name not in produced:
                produced[t.name] = -1  # an engine input (or produced by nobody we know)
            b = tensor_bytes(t)
            if b is not None:
                size.setdefault(t.name, b)
        for t in layer.outputs:
            produced.setdefault(t.name, i)
            b = tensor_bytes(t)
            if b is not None:
                size.setdefault(t.name, b)
    consumed_later = set(last_use)
    live = np.zeros(n + 1, dtype=np.float64)
    for name, start in produced.items():
        b = size.get(name)
        if not b:
            continue
        end = last_use.get(name, n - 1)
        if name not in consumed_later:
            end = n - 1  # nobody reads it: an engine output, alive to the end
        start = max(0, start)
        end = max(start, end)
        live[start] += b
        live[end + 1] -= b
    live_bytes = np.cumsum(live)[:n]
    outputs = []
    for layer in layers:
        sizes = [tensor_bytes(t) for t in layer.outputs]
        outputs.append(sum(s for s in sizes if s is not None))
    return {
        "names": [layer.name for layer in layers],
        "live_bytes": live_bytes.tolist(),
        "output_bytes": outputs,
        "peak_bytes": float(live_bytes.max()) if n else 0.0,
        "peak_layer": layers[int(live_bytes.argmax())].name if n else None,
        "known": bool(size),
    }


def memory_totals(report: EngineReport, workspace_bytes: int | None = None) -> list[dict[str, Any]]:
    """The memory categories the Memory tab shows: label, bytes (None = not known), source."""
    mem = report.memory
    rows: list[dict[str, Any]] = []
    if mem is None:
        return rows
    sources = mem.figure_sources()
    foot = activation_footprint(report)
    rows.append({"category": "weights", "bytes": mem.weights_bytes, "source": sources.get("weights_bytes", "")})
    reported = mem.engine_totals.get("activation_bytes")
    if reported is not None:
        rows.append({"category": "activations", "bytes": reported,
                     "source": sources.get("total_activation_bytes", "")})
    else:
        rows.append({"category": "activations (peak of live tensors)",
                     "bytes": foot["peak_bytes"] if foot["known"] else None,
                     "source": "computed: shape x dtype of live tensors along the layers"})
        rows.append({"category": "activations (all tensors, no reuse)", "bytes": mem.activation_tensors_bytes,
                     "source": sources.get("activation_tensors_bytes", "")})
    rows.append({"category": "device persistent", "bytes": mem.device_persistent_bytes,
                 "source": sources.get("device_persistent_bytes", "")})
    rows.append({"category": "host persistent", "bytes": mem.host_persistent_bytes,
                 "source": sources.get("host_persistent_bytes", "")})
    rows.append({"category": "scratch", "bytes": mem.scratch_bytes, "source": sources.get("scratch_bytes", "")})
    rows.append({"category": "workspace limit", "bytes": workspace_bytes,
                 "source": "build options" if workspace_bytes is not None else ""})
    return rows


def match_layers(a: EngineReport, b: EngineReport) -> list[tuple[Layer | None, Layer | None]]:
    """Pairs (layer of a or None, layer of b or None): same name first, then the same ONNX nodes."""
    la, lb = layer_records(a), layer_records(b)
    slots: dict[str, list[int]] = {}
    for j, layer in enumerate(lb):
        slots.setdefault(layer.name, []).append(j)
    used = set()
    pairs: list[tuple[Layer | None, Layer | None]] = []
    pending_a = []
    for layer in la:
        free = slots.get(layer.name)
        if free:
            j = free.pop(0)
            used.add(j)
            pairs.append((layer, lb[j]))
        else:
            pairs.append((layer, None))
            pending_a.append(len(pairs) - 1)
    by_nodes: dict[frozenset, list[int]] = {}
    for j, layer in enumerate(lb):
        if j not in used and layer.onnx_nodes:
            by_nodes.setdefault(frozenset(layer.onnx_nodes), []).append(j)
    for k in pending_a:
        layer = pairs[k][0]
        key = frozenset(layer.onnx_nodes)
        free = by_nodes.get(key) if key else None
        if free:
            j = free.pop(0)
            used.add(j)
            pairs[k] = (layer, lb[j])
    for j, layer in enumerate(lb):
        if j not in used:
            pairs.append((None, layer))
    return pairs


def compare_rows(a: EngineReport, b: EngineReport) -> list[dict[str, Any]]:
    rows = []
    for la, lb in match_layers(a, b):
        lat_a = la.latency_ms if la is not None else None
        lat_b = lb.latency_ms if lb is not None else None
        rows.append({
            "layer": (la or lb).name,
            "layer_b": lb.name if lb is not None else None,
            "type": (la or lb).type,
            "latency_a_ms": lat_a,
            "latency_b_ms": lat_b,
            "diff_ms": (lat_b - lat_a) if lat_a is not None and lat_b is not None else None,
            "precision_a": la.precision if la is not None else None,
            "precision_b": lb.precision if lb is not None else None,
            "tactic_a": la.tactic if la is not None else None,
            "tactic_b": lb.tactic if lb is not None else None,
            "in": "both" if la is not None and lb is not None else ("a only" if la is not None else "b only"),
        })
    for row in rows:
        row["precision_changed"] = row["in"] == "both" and row["precision_a"] != row["precision_b"]
        row["tactic_changed"] = row["in"] == "both" and row["tactic_a"] != row["tactic_b"]
    return rows


def noise_judgement(a: EngineReport, b: EngineReport, label_a: str = "a", label_b: str = "b") -> dict[str, Any]:
    """Is the end-to-end difference of two builds more than run-to-run noise? Judged by the runs' own spread:
    when the p10-p90 ranges of the two builds' end-to-end times overlap, the medians' difference is within
    the noise of these runs. ``noisy`` is None when a build has no end-to-end runs; ``text`` says how it was
    judged, with the figures."""
    ea, eb = a.end_to_end, b.end_to_end
    if ea is None or eb is None or ea.latency.p10 is None or eb.latency.p10 is None:
        missing = label_a if ea is None or ea.latency.p10 is None else label_b
        return {"noisy": None, "text": f"{missing} has no end-to-end runs with a spread, so whether the difference "
                                       "exceeds run-to-run noise cannot be judged"}
    from .format import fmt_ms

    la, lb = ea.latency, eb.latency
    overlap = la.p10 <= lb.p90 and lb.p10 <= la.p90
    diff = (lb.p50 - la.p50) / la.p50 * 100 if la.p50 else 0.0
    figures = (f"end-to-end median {fmt_ms(la.p50)} ({ea.count} runs, p10–p90 {fmt_ms(la.p10)}–{fmt_ms(la.p90)}) "
               f"vs {fmt_ms(lb.p50)} ({eb.count} runs, p10–p90 {fmt_ms(lb.p10)}–{fmt_ms(lb.p90)})")
    if overlap:
        text = (f"The end-to-end difference ({diff:+.1f}%) is within run-to-run noise: the p10–p90 ranges of "
                f"the runs overlap; {figures}. Run more (or longer) to tell the builds apart.")
    else:
        text = (f"The end-to-end difference ({diff:+.1f}%) exceeds run-to-run noise: the p10–p90 ranges of the "
                f"runs do not overlap; {figures}.")
    return {"noisy": overlap, "text": text, "diff_percent": diff}
