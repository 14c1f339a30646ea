"""The app's details panel: what the selected ONNX node or engine layer is, escaped.

It reads the app's state (selection, current build, predicted fusions), so it lives with the widgets; the
pieces it is made of are :mod:`explorer.html.fragments`, shared with the standalone report.
"""

from __future__ import annotations

from typing import Any

from ..html.fragments import STYLE, e, kv, message_box, shape_text
from ..plots.format import fmt_ms, fmt_number, fmt_spread


def tactic_word(report) -> str:
    """The engine's own word for what ran a layer: ONNX Runtime places nodes on an execution provider, it
    does not pick TensorRT tactics."""
    from ..plots.tactics import from_onnxruntime

    return "execution provider" if from_onnxruntime(report) else "tactic"


def _attr_text(value: Any) -> str:
    try:
        import onnx

        if isinstance(value, onnx.TensorProto):
            return f"tensor {onnx.TensorProto.DataType.Name(value.data_type)} {list(value.dims)}"
        if isinstance(value, onnx.GraphProto):
            return f"graph '{value.name}' ({len(value.node)} nodes)"
    except Exception:  # noqa: BLE001
        pass
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= 200 else text[:199] + "…"


def node_details(state, node_id: str) -> str:
    model = state.model
    if model is None:
        return ""
    node = model.graph.by_id.get(node_id)
    if node is None:
        return STYLE + message_box(f"node {node_id} is not in the current model", "info")
    g = model.graph
    parts = [STYLE, f"<div style='font-weight:600'>{e(node.name or node.id)}</div>"]
    pairs: list[tuple[str, Any]] = [("op", node.op_type if node.is_default_domain else f"{node.domain}::{node.op_type}"),
                                    ("id", node.id)]
    if node.doc_string:
        pairs.append(("doc", node.doc_string))
    for k, v in list(node.attributes.items())[:30]:
        pairs.append((f"attr {k}", _attr_text(v)))
    for name in node.inputs:
        if name:
            t = g.tensor(name)
            kind = " (initializer)" if name in g.initializers else ""
            pairs.append(("input", f"{name}: {t.dtype or '?'} {shape_text(t.shape)}{kind}"))
    for name in node.outputs:
        if name:
            t = g.tensor(name)
            pairs.append(("output", f"{name}: {t.dtype or '?'} {shape_text(t.shape)}"))
    report = state.support
    if report is not None:
        try:
            v = report.verdict(node_id)
        except KeyError:
            v = None
        if v is not None:
            if v.in_tensorrt:
                verdict = f"supported; runs in TensorRT (partition #{v.partition})"
            elif v.supported:
                verdict = f"supported, sent back to the framework: {v.fallback_reason} (partition #{v.partition})"
            else:
                verdict = f"UNSUPPORTED: {v.reason} (partition #{v.partition})"
            pairs.append(("TensorRT", verdict))
            for c in v.caveats[:4]:
                pairs.append(("caveat", c))
            pairs.append(("verdict source", report.source))
    group = state.fusion_for_node(node_id) if state.fusions_predicted else None
    if group is not None:
        pairs.append(("predicted fusion", f"{group.kind}: {' + '.join(group.nodes)}"))
    build = state.current_build
    if build is not None:
        layers = state.layers_for_node(node_id)
        if not layers:
            pairs.append((f"engine ({build.name})", "no engine layer runs this node (folded, removed or unmapped)"))
        for layer in layers[:3]:
            pairs.append(("engine layer", layer.name))
            pairs.append(("  type / precision", f"{layer.type or 'n/a'} / {layer.precision or 'n/a'}"))
            if layer.tactic:
                pairs.append((f"  {tactic_word(build.report)}", layer.tactic))
            pairs.append((f"  latency ({layer.latency_statistic or 'n/a'})", fmt_ms(layer.latency_ms)))
        pairs.append(("engine source", build.source))
    parts.append(kv(pairs))
    return "".join(parts)


def layer_details(state, layer_name: str) -> str:
    build = state.current_build
    if build is None:
        return ""
    layer = next((layer for layer in build.report.layers if layer.name == layer_name), None)
    if layer is None:
        return STYLE + message_box(f"layer {layer_name} is not in {build.name}", "info")
    lat = layer.latency
    pairs: list[tuple[str, Any]] = [("type", layer.type or "n/a"), ("precision", layer.precision or "n/a"),
                                    (f"latency ({lat.statistic})" if lat else "latency", fmt_ms(layer.latency_ms))]
    if lat is not None:
        if lat.spread_ms:
            pairs.append(("spread", fmt_spread(lat.spread_ms)))
        share = build.report.latency_share(layer)  # of the same statistic's total, as the plots
        if share is not None:
            pairs.append(("share", f"{fmt_number(share)}% of {fmt_ms(build.report.latency_ms_total)}"))
        pairs.append(("latency source", lat.source))
    if layer.tactic:
        pairs.append((tactic_word(build.report), layer.tactic))
    if layer.origin:
        pairs.append(("origin", layer.origin))
    pairs.append(("ONNX nodes", ", ".join(layer.onnx_nodes) or "none (added by TensorRT or unmapped)"))
    for t in layer.inputs[:8]:
        pairs.append(("input", f"{t.name}: {t.dtype or '?'} {shape_text(t.shape)} {t.format or ''}"))
    for t in layer.outputs[:8]:
        pairs.append(("output", f"{t.name}: {t.dtype or '?'} {shape_text(t.shape)} {t.format or ''}"))
    timed = [t for t in build.report.tactics if t.layer == layer.name and t.time_ms is not None]
    if timed:
        best = min(timed, key=lambda t: t.time_ms)
        chosen = next((t for t in timed if t.chosen), None)
        pairs.append(("tactics timed", f"{len(timed)}; fastest {best.tactic_name or best.tactic} "
                                       f"{fmt_ms(best.time_ms)}"))
        if chosen is not None:
            pairs.append(("chosen", f"{chosen.tactic_name or chosen.tactic} {fmt_ms(chosen.time_ms)}"))
    pairs.append(("build", f"{build.name} (model {build.model or 'n/a'}; {build.source})"))
    return STYLE + f"<div style='font-weight:600'>{e(layer.name)}</div>" + kv(pairs)
