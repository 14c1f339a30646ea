"""Plotly figure builders over the explorer's plain data (SupportReport, fusion groups, EngineReport).

Every builder returns a ``plotly.graph_objects.Figure`` whose title carries its source label, and escapes
every string that comes from a model or an artifact. plotly is imported when a builder runs, not when
``explorer`` (or this package) is imported.

Graph: :func:`graph_figure`, :func:`partitions_figure`, :func:`fusions_figure`, :func:`engine_fusions_figure`
(collapsed by name scope via :class:`ScopeTree` / :class:`GraphView`).
Layers: :func:`latency_bar`, :func:`latency_treemap`, :func:`precision_pie`.
Tactics: :func:`tactics_figure`, :func:`tactics_table`; where only the choice is recorded (trtexec layer
information without a verbose log): :func:`chosen_tactics`, :func:`chosen_tactics_figure`,
:func:`chosen_tactics_table`.
Memory: :func:`memory_totals_figure`, :func:`memory_layers_figure`, :func:`activation_footprint_figure`.
Compare: :func:`compare_latency_figure`, :func:`compare_totals_figure`, :func:`compare_frame`.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "ScopeTree": "graph_layout", "GraphView": "graph_layout",
    "Overlay": "graph", "graph_figure": "graph", "partitions_figure": "graph", "fusions_figure": "graph",
    "engine_fusions_figure": "graph", "partition_overlay": "graph", "fusion_overlay": "graph",
    "engine_overlay": "graph", "plain_overlay": "graph",
    "latency_bar": "layers", "latency_treemap": "layers", "precision_pie": "layers",
    "tactics_figure": "tactics", "tactics_table": "tactics", "chosen_tactics": "tactics",
    "chosen_tactics_figure": "tactics", "chosen_tactics_table": "tactics", "ChosenTactic": "tactics",
    "memory_totals_figure": "memory", "memory_layers_figure": "memory", "activation_footprint_figure": "memory",
    "compare_latency_figure": "compare", "compare_totals_figure": "compare", "compare_frame": "compare",
    "compare_totals": "compare",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'explorer.plots' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))
