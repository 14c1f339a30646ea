"""Small helpers shared by the figure builders: escaping, source labels, colours, sizes.

Every string that comes from a model or an artifact (node names, layer names, tactic names, doc strings)
goes through :func:`esc` before it reaches plotly: plotly renders a subset of HTML in hover text, titles
and annotations, and entities such as ``&lt;`` are turned back into the literal characters, so escaping
shows hostile names exactly as they are written, as text.
"""

from __future__ import annotations

import html
from typing import Any, Iterable

#: colours used across the app (colour-blind friendly where it matters: TensorRT vs framework)
TRT_GREEN = "#2ca02c"
FALLBACK_RED = "#d62728"
DEMOTED_AMBER = "#ff9f1c"
MIXED_PURPLE = "#9467bd"
NEUTRAL_GREY = "#9e9e9e"
EDGE_GREY = "rgba(120,120,120,0.45)"
HIGHLIGHT = "#1f77ff"

PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd",
           "#e6550d", "#31a354", "#756bb1", "#636363"]

PRECISION_COLORS = {"FP32": "#1f77b4", "FP16": "#ff7f0e", "BF16": "#e377c2", "INT8": "#2ca02c",
                    "FP8": "#9467bd", "INT4": "#8c564b", "FP4": "#17becf", "INT32": "#7f7f7f",
                    "INT64": "#bcbd22", "BOOL": "#c7c7c7", "MIXED": MIXED_PURPLE, "UNKNOWN": NEUTRAL_GREY}


def esc(value: Any, limit: int | None = 300) -> str:
    """``value`` as text that plotly (or HTML element content) shows literally; long strings are shortened.

    Quotes are left alone: plotly does not decode &quot; and they are harmless outside attributes.
    """
    text = "" if value is None else str(value)
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return html.escape(text, quote=False)


def source_annotation(source: str | None, *, y: float = 1.0, prefix: str = "source: ") -> dict:
    """A layout annotation in the top-right corner that says where the numbers come from."""
    return dict(text=f"<i>{esc(prefix + (source or 'unknown'), None)}</i>", xref="paper", yref="paper",
                x=1.0, y=y, xanchor="right", yanchor="bottom", showarrow=False,
                font=dict(size=11, color="#555"))


def wrap(text: str, width: int = 120, max_lines: int = 4) -> list[str]:
    """Split a long label into lines at spaces (a word longer than a line stays whole)."""
    words = str(text).replace(" ", " \0").split("\0")
    lines, line = [], ""
    for w in words:
        if line and len(line) + len(w) > width:
            lines.append(line.rstrip())
            line = ""
        line += w
    if line:
        lines.append(line.rstrip())
    if len(lines) > max_lines:
        lines = lines[: max_lines - 1] + [lines[max_lines - 1][: width - 1] + "…"]
    return lines


def titled(title: str, source: str | None, width: int = 120) -> str:
    """A figure title with its source label on the next line(s) (escaped, wrapped)."""
    head = "<br>".join(esc(line, None) for line in wrap(title, width, 2))
    if source:
        # the smaller font of <sup> fits about as many characters as the title's width in the app's plots
        src = "<br>".join(esc(line, None) for line in wrap("source: " + source, width, 3))
        return f"{head}<br><sup>{src}</sup>"
    return head


def fit_title(fig, base: int = 40, per_line: int = 17):
    """Make the top margin tall enough for a (multi-line) title; returns the figure."""
    text = fig.layout.title.text or ""
    lines = text.count("<br>") + 1 if text else 0
    margin = fig.layout.margin
    fig.update_layout(margin=dict(t=base + per_line * lines, l=margin.l, r=margin.r, b=margin.b))
    return fig


def empty_figure(message: str, *, title: str | None = None, source: str | None = None, height: int = 300):
    """A figure with no data that says why (e.g. "no tactic timings exist for this source")."""
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.update_layout(
        height=height, template="plotly_white", xaxis=dict(visible=False), yaxis=dict(visible=False),
        title=titled(title, source) if title else None, margin=dict(l=20, r=20, t=60 if title else 20, b=20),
        annotations=[dict(text=esc(message, None), xref="paper", yref="paper", x=0.5, y=0.5, showarrow=False,
                          font=dict(size=14, color="#666"))])
    fig.layout.meta = {"kind": "empty", "empty": True, "message": message, "source": source}
    return fig


def shorten(text: str, limit: int = 60) -> str:
    text = str(text)
    return text if len(text) <= limit else text[: limit // 2 - 1] + "…" + text[-(limit // 2) + 1:]


def op_summary(counts: dict[str, int], limit: int = 6) -> str:
    items = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    parts = [f"{op}×{n}" if n > 1 else op for op, n in items[:limit]]
    if len(items) > limit:
        parts.append(f"+{len(items) - limit} more")
    return ", ".join(parts)


def unique(seq: Iterable[Any]) -> list[Any]:
    seen: set = set()
    out = []
    for item in seq:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out
