"""HTML fragments the app and the standalone report share (summary, tables, boxes): every model or artifact
string is escaped.

Plain functions of plain data, so they are testable without a browser; the app puts their output into
``ipywidgets.HTML``, :mod:`explorer.html.report` into one file. Nothing here imports the widgets.
"""

from __future__ import annotations

import html
from typing import Any, Iterable, Sequence

from ..plots.format import fmt_bytes, fmt_number


def e(value: Any, limit: int | None = 400) -> str:
    text = "" if value is None else str(value)
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return html.escape(text, quote=True)


STYLE = """
<style>
.trex-table {border-collapse: collapse; font-size: 12px; width: 100%;}
.trex-table th {background: #f3f3f3; text-align: left; padding: 3px 6px; position: sticky; top: 0;}
.trex-table td {border-top: 1px solid #e5e5e5; padding: 2px 6px; vertical-align: top; overflow-wrap: break-word;}
.trex-table td.trex-long {overflow-wrap: anywhere;}
.trex-scroll {max-height: 360px; overflow: auto; border: 1px solid #ddd;}
.trex-source {color: #555; font-size: 11px; font-style: italic;}
.trex-badge {display: inline-block; padding: 1px 6px; border-radius: 8px; font-size: 11px; color: white;}
.trex-msg-error {background: #fdecea; color: #8a1c1c; border-left: 4px solid #d62728; padding: 6px 10px;
                 margin: 4px 0; white-space: pre-wrap; overflow-wrap: anywhere;}
.trex-msg-info {background: #eef5fc; color: #1b4b7a; border-left: 4px solid #1f77b4; padding: 6px 10px;
                margin: 4px 0; white-space: pre-wrap; overflow-wrap: anywhere;}
.trex-msg-warning {background: #fff6e5; color: #7a4b00; border-left: 4px solid #ff9f1c; padding: 6px 10px;
                   margin: 4px 0; white-space: pre-wrap; overflow-wrap: anywhere;}
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
            elif isinstance(value, float):
                value = fmt_number(value)  # 3 significant digits, never a raw float
            cells.append(cell(value, 600))
        body.append("<tr>" + "".join(cells) + "</tr>")
    more = f"<div class='trex-source'>showing {len(rows)} of {total} rows</div>" if total > len(rows) else ""
    if not rows:
        inner = f"<div class='trex-source'>{e(empty)}</div>"
    else:
        inner = f"<table class='trex-table'><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
        if scroll:
            inner = f"<div class='trex-scroll'>{inner}</div>"
    return STYLE + (source_line(source) if source else "") + inner + more


#: a token (no spaces) this long is a name or a path: only such tokens may break anywhere
LONG_TOKEN = 24


def cell(value: Any, limit: int | None = 400) -> str:
    """One escaped table cell. Words wrap between words (``overflow-wrap: break-word`` keeps a column at least
    its longest word wide); a cell holding a long token (a layer name, a path, ``Conv_5 + Relu_7``'s parts
    joined without spaces) may break anywhere, so one name does not widen its column past the table."""
    text = "" if value is None else str(value)
    long = any(len(token) >= LONG_TOKEN for token in text.split())
    return f"<td class='trex-long'>{e(text, limit)}</td>" if long else f"<td>{e(text, limit)}</td>"


def _isnan(value: Any) -> bool:
    try:
        return value != value  # NaN
    except Exception:  # noqa: BLE001
        return False


def kv(pairs: Iterable[tuple[str, Any]], *, raw: Iterable[str] = ()) -> str:
    raw = set(raw)
    rows = "".join(f"<tr>{cell(k)}{f'<td>{v}</td>' if k in raw else cell(v, 2000)}</tr>" for k, v in pairs)
    return f"<table class='trex-table trex-kv'>{rows}</table>"


def shape_text(shape) -> str:
    if shape is None:
        return "?"
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


# ---------------------------------------------------------------------------------------------- model

def model_summary(model, *, label: str | None = None, path: str | None = None, support=None) -> str:
    """The Model tab / report section: name, producer, opsets, sizes, inputs and outputs, warnings, operators."""
    if model is None:
        return STYLE + message_box("No model loaded: type a path, upload a file or pick a sample.", "info")
    s = model.summary()
    parts = [STYLE, f"<div class='trex-big'>{e(label or s.get('name'))}</div>"]
    if path:
        parts.append(f"<div class='trex-source'>{e(path)}</div>")
    pairs = [("graph", model.graph.name or "n/a")]
    if model.doc_string:
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
    parts.append(_io_table(io_rows))
    warnings = list(s.get("warnings") or [])
    if support is not None and support.opset_issue:
        warnings.append(f"opset: {support.opset_issue}")
    if warnings:
        parts.append("<h4>Warnings</h4>")
        parts.extend(message_box(w, "warning") for w in warnings)
    counts = s.get("op_counts") or {}
    parts.append("<h4>Nodes by operator</h4>")
    parts.append(table([{"operator": op, "count": n} for op, n in counts.items()], ["operator", "count"],
                       max_rows=200))
    return "".join(parts)


def _io_table(rows: list[dict]) -> str:
    """The inputs/outputs table: a long symbolic shape (``floor((height - 1) / 2) + 1`` ...) stays on one line,
    cut with an ellipsis, the whole expression on hover."""
    body = "".join(
        f"<tr><td>{e(r[''])}</td><td>{e(r['name'], 600)}</td><td>{e(r['dtype'])}</td>"
        f"<td class='trex-shape' title='{e(r['shape'], 2000)}' style='white-space:nowrap;overflow:hidden;"
        f"text-overflow:ellipsis;max-width:420px'>{e(r['shape'], 2000)}</td></tr>" for r in rows)
    return (f"{STYLE}<table class='trex-table'><thead><tr><th></th><th>name</th><th>dtype</th><th>shape</th></tr>"
            f"</thead><tbody>{body}</tbody></table>")


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
    if report.body_nodes:  # If/Loop/Scan bodies: the top-level count alone can hide most of the model
        lines.append(message_box(
            f"{report.body_nodes} more nodes sit inside If/Loop/Scan bodies. Nodes in TensorRT: "
            f"{report.coverage_text()}; supported: {report.nodes_supported}/{report.nodes_total} top-level, "
            f"{report.nodes_supported_with_bodies}/{report.nodes_total_with_bodies} with bodies",
            "warning" if report.coverage_with_bodies < report.coverage else "info"))
    if report.folding is not None:
        f = report.folding
        lines.append(message_box(
            f"constant folding ({f.tool}): {f.nodes_before} → {f.nodes_after} nodes, engines "
            f"{f.engines_before} → {f.engines_after}, coverage {f.coverage_before:.1%} → {f.coverage_after:.1%}",
            "info"))
    for note in report.notes or []:  # (a note's own line breaks kept)
        lines.append(f"<div class='trex-source' style='white-space:pre-line'>note: {e(note, None)}</div>")
    if report.opset_issue:
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


def grouped_unsupported_table(report) -> str:
    """The nodes that do not run in TensorRT grouped as ``polygraphy inspect capability`` prints them:
    operator | count | reason | nodes (:meth:`SupportReport.unsupported_frame`, the library's own rows)."""
    if report is None:
        return ""
    frame = report.unsupported_frame()
    return table(frame, ["operator", "count", "reason", "nodes"], source=report.source,
                 empty="every node is supported").replace("<table class='trex-table'>",
                                                          "<table class='trex-table grouped-unsupported'>", 1)


__all__ = ["STYLE", "e", "grouped_unsupported_table", "kv", "message_box", "model_summary", "partitions_header",
           "shape_text", "source_line", "table", "unsupported_table"]
