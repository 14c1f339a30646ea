"""HTML fragments for the app (summary, tables, details): every model or artifact string is escaped.

Plain functions of plain data, so they are testable without a browser; the app puts their output into
``ipywidgets.HTML``.
"""

from __future__ import annotations

import html
from typing import Any, Iterable, Sequence

from ..plots._util import fmt_bytes, fmt_ms


def e(value: Any, limit: int | None = 400) -> str:
    text = "" if value is None else str(value)
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return html.escape(text, quote=True)


STYLE = """
<style>
.trex-table {border-collapse: collapse; font-size: 12px; width: 100%;}
.trex-table th {background: #f3f3f3; text-align: left; padding: 3px 6px; position: sticky; top: 0;}
.trex-table td {border-top: 1px solid #e5e5e5; padding: 2px 6px; vertical-align: top; word-break: break-word;}
.trex-scroll {max-height: 360px; overflow: auto; border: 1px solid #ddd;}
.trex-source {color: #555; font-size: 11px; font-style: italic;}
.trex-badge {display: inline-block; padding: 1px 6px; border-radius: 8px; font-size: 11px; color: white;}
.trex-msg-error {background: #fdecea; color: #8a1c1c; border-left: 4px solid #d62728; padding: 6px 10px;
                 margin: 4px 0; white-space: pre-wrap; word-break: break-word;}
.trex-msg-info {background: #eef5fc; color: #1b4b7a; border-left: 4px solid #1f77b4; padding: 6px 10px;
                margin: 4px 0; white-space: pre-wrap; word-break: break-word;}
.trex-msg-warning {background: #fff6e5; color: #7a4b00; border-left: 4px solid #ff9f1c; padding: 6px 10px;
                   margin: 4px 0; white-space: pre-wrap; word-break: break-word;}
.trex-kv td:first-child {color: #555; padding-right: 8px; white-space: nowrap;}
.trex-big {font-size: 22px; font-weight: 600;}
.trex-log {font-family: monospace; font-size: 11px; white-space: pre-wrap; max-height: 240px; overflow: auto;
           background: #fafafa; border: 1px solid #ddd; padding: 4px;}
</style>
"""


def source_line(source: str | None) -> str:
    return f"<div class='trex-source'>source: {e(source or 'unknown', None)}</div>"


def message_box(text: str, level: str = "error") -> str:
    level = level if level in ("error", "info", "warning") else "info"
    return f"<div class='trex-msg-{level}'>{e(text, 4000)}</div>"


def table(rows: Sequence[dict] | Any, columns: Sequence[str] | None = None, *, max_rows: int = 500,
          source: str | None = None, scroll: bool = True, formats: dict | None = None,
          empty: str = "nothing to show") -> str:
    """An escaped HTML table from a list of dicts or a DataFrame (first ``max_rows`` rows)."""
    if hasattr(rows, "to_dict") and hasattr(rows, "columns"):
        columns = list(columns or rows.columns)
        total = len(rows)
        rows = rows.head(max_rows).to_dict("records")
    else:
        rows = list(rows)
        total = len(rows)
        columns = list(columns or (rows[0].keys() if rows else []))
        rows = rows[:max_rows]
    formats = formats or {}
    head = "".join(f"<th>{e(c)}</th>" for c in columns)
    body = []
    for row in rows:
        cells = []
        for c in columns:
            value = row.get(c)
            fmt = formats.get(c)
            if fmt is not None and value is not None and not _isnan(value):
                value = fmt(value)
            elif isinstance(value, (list, tuple)):
                value = ", ".join(str(v) for v in value)
            elif _isnan(value):
                value = ""
            cells.append(f"<td>{e(value, 600)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    more = f"<div class='trex-source'>showing {len(rows)} of {total} rows</div>" if total > len(rows) else ""
    if not rows:
        inner = f"<div class='trex-source'>{e(empty)}</div>"
    else:
        inner = f"<table class='trex-table'><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
        if scroll:
            inner = f"<div class='trex-scroll'>{inner}</div>"
    return STYLE + (source_line(source) if source else "") + inner + more


def _isnan(value: Any) -> bool:
    try:
        return value != value  # NaN
    except Exception:  # noqa: BLE001
        return False


def kv(pairs: Iterable[tuple[str, Any]], *, raw: Iterable[str] = ()) -> str:
    raw = set(raw)
    rows = "".join(f"<tr><td>{e(k)}</td><td>{v if k in raw else e(v, 2000)}</td></tr>" for k, v in pairs)
    return f"<table class='trex-table trex-kv'>{rows}</table>"


def shape_text(shape) -> str:
    if shape is None:
        return "?"
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


# ---------------------------------------------------------------------------------------------- model

def model_summary(state) -> str:
    model = state.model
    if model is None:
        return STYLE + message_box("No model loaded: type a path, upload a file or pick a sample.", "info")
    s = model.summary()
    parts = [STYLE, f"<div class='trex-big'>{e(state.model_label or s.get('name'))}</div>"]
    if state.model_path:
        parts.append(f"<div class='trex-source'>{e(state.model_path)}</div>")
    pairs = [("graph", model.graph.name or "n/a")]
    if getattr(model, "doc_string", ""):
        pairs.append(("doc", model.doc_string))
    parts.append(kv(pairs + [
        ("producer", s.get("producer") or "n/a"),
        ("IR version", s.get("ir_version")),
        ("opsets", ", ".join(f"{d or 'ai.onnx'} {v}" for d, v in (s.get("opsets") or {}).items())),
        ("nodes", f"{s.get('nodes')} (+{s.get('nodes_in_subgraphs', 0)} in If/Loop/Scan bodies)"
         if s.get("nodes_in_subgraphs") else s.get("nodes")),
        ("initializers", s.get("initializers")),
        ("parameters", fmt_bytes(s.get("parameter_bytes"))),
        ("functions", ", ".join(s.get("functions") or []) or "none"),
    ]))
    io_rows = [{"": "input", "name": t["name"], "dtype": t["dtype"], "shape": shape_text(t["shape"])}
               for t in s.get("inputs", [])]
    io_rows += [{"": "output", "name": t["name"], "dtype": t["dtype"], "shape": shape_text(t["shape"])}
                for t in s.get("outputs", [])]
    parts.append("<h4>Inputs and outputs</h4>")
    parts.append(table(io_rows, ["", "name", "dtype", "shape"], scroll=False))
    warnings = list(s.get("warnings") or [])
    report = state.support
    if report is not None and getattr(report, "opset_issue", None):
        warnings.append(f"opset: {report.opset_issue}")
    if warnings:
        parts.append("<h4>Warnings</h4>")
        parts.extend(message_box(w, "warning") for w in warnings)
    counts = s.get("op_counts") or {}
    parts.append("<h4>Nodes by operator</h4>")
    parts.append(table([{"operator": op, "count": n} for op, n in counts.items()], ["operator", "count"],
                       max_rows=200))
    return "".join(parts)


def partitions_header(report) -> str:
    if report is None:
        return STYLE + message_box("No analysis yet.", "info")
    prediction = "prediction" in (report.source or "")
    badge_color = "#ff9f1c" if prediction else "#2ca02c"
    lines = [STYLE,
             f"<div><span class='trex-badge' style='background:{badge_color};font-size:13px'>"
             f"{e(report.source)}</span></div>",
             f"<div style='margin:6px 0'><span class='trex-big'>{report.coverage:.1%}</span> of nodes run in "
             f"TensorRT &nbsp;·&nbsp; <span class='trex-big'>{report.engines}</span> TensorRT engine"
             f"{'s' if report.engines != 1 else ''} &nbsp;·&nbsp; {len(report.partitions)} partitions &nbsp;·&nbsp; "
             f"{report.nodes_supported}/{report.nodes_total} nodes supported</div>"]
    if report.folding is not None:
        f = report.folding
        lines.append(message_box(
            f"constant folding ({f.tool}): {f.nodes_before} → {f.nodes_after} nodes, engines "
            f"{f.engines_before} → {f.engines_after}, coverage {f.coverage_before:.1%} → {f.coverage_after:.1%}",
            "info"))
    for note in report.notes or []:
        lines.append(f"<div class='trex-source'>note: {e(note)}</div>")
    if getattr(report, "opset_issue", None):
        lines.append(message_box(f"opset: {report.opset_issue}", "warning"))
    return "".join(lines)


def unsupported_table(report) -> str:
    if report is None:
        return ""
    rows = [{"node": v.node, "name": v.name if v.name != v.node else "", "op": v.op, "reason": v.reason}
            for v in report.unsupported]
    fallback = [{"node": v.node, "name": v.name if v.name != v.node else "", "op": v.op,
                 "reason": f"supported, sent back: {v.fallback_reason}"}
                for v in report.verdicts if v.supported and not v.in_tensorrt]
    return table(rows + fallback, ["node", "name", "op", "reason"], source=report.source,
                 empty="every node runs in TensorRT")


# ---------------------------------------------------------------------------------------------- details

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
    group = state.fusion_for_node(node_id) if state._fusions is not None else None
    if group is not None:
        members = [getattr(n, "id", n) for n in getattr(group, "nodes", [])]
        pairs.append(("predicted fusion", f"{getattr(group, 'kind', '')}: {' + '.join(members)}"))
    build = state.current_build
    if build is not None:
        layers = state.layers_for_node(node_id)
        if not layers:
            pairs.append((f"engine ({build.name})", "no engine layer runs this node (folded, removed or unmapped)"))
        for layer in layers[:3]:
            pairs.append(("engine layer", layer.name))
            pairs.append(("  type / precision", f"{layer.type or 'n/a'} / {layer.precision or 'n/a'}"))
            if layer.tactic:
                pairs.append(("  tactic", layer.tactic))
            pairs.append(("  latency", fmt_ms(layer.latency_ms)))
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
    pairs: list[tuple[str, Any]] = [("type", layer.type or "n/a"), ("precision", layer.precision or "n/a"),
                                    ("latency", fmt_ms(layer.latency_ms))]
    lat = getattr(layer, "latency", None)
    if lat is not None:
        if lat.percentage is not None:
            pairs.append(("share", f"{lat.percentage:.2f}%"))
        pairs.append(("latency source", lat.source))
    if layer.tactic:
        pairs.append(("tactic", layer.tactic))
    if getattr(layer, "origin", None):
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
    pairs.append(("build", f"{build.name} ({build.source})"))
    return STYLE + f"<div style='font-weight:600'>{e(layer.name)}</div>" + kv(pairs)
