"""``python -m explorer fusions MODEL``: the layer fusions TensorRT is expected to make, before any build.

With ``--graph E.graph.json`` (an engine built from the same model) it also scores the prediction against
the fusions the engine really made.
"""

from __future__ import annotations

import argparse

SOURCE = "fusion-rules (prediction)"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("fusions", help="predict TensorRT's layer fusions from the ONNX model",
                       description="Group the model's nodes the way TensorRT's documented fusion patterns would "
                                   "(conv+BN+bias+activation, residual add, Q/DQ folding, attention, LayerNorm, "
                                   "GELU, pointwise and shuffle chains...). A prediction: no engine is built.")
    p.add_argument("model", help="path to an .onnx file")
    p.add_argument("--graph", metavar="G.json",
                   help="trtexec --exportLayerInfo of an engine built from this model: compare with it")
    p.add_argument("--all", action="store_true", help="also list constant-folded nodes and single-node layers")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")


def run(args: argparse.Namespace) -> int:
    import warnings

    from ..fusions import compare_with_engine, predict_fusions
    from ..fusions.predict import TARGET_SOURCES
    from ..model import load_model
    from . import print_json

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = load_model(args.model)
    groups = predict_fusions(model)
    comparison = compare_with_engine(groups, args.graph, model, predicted_by=TARGET_SOURCES["tensorrt"],
                                     engine=args.graph) if args.graph else None
    if args.json:
        out = {"source": SOURCE, "model": args.model, "fusions": [g.to_dict() for g in groups]}
        if comparison is not None:
            out["comparison"] = {**comparison.to_dict(), "engine": args.graph}
        print_json(out)
        return 0
    print(render(groups, comparison, show_all=args.all, model_name=model.name))
    return 0


def render(groups, comparison=None, *, show_all: bool = False, model_name: str = "model") -> str:
    from ..errors import printable
    from .inspect import align_columns, cell

    fused = [g for g in groups if len(g.nodes) > 1 and g.kind != "constant"]
    kinds: dict[str, int] = {}
    for g in groups:
        kinds[g.kind] = kinds.get(g.kind, 0) + 1
    nodes = sum(len(g.nodes) for g in groups)
    lines = [f"{cell(model_name, 200)}: {nodes} nodes -> {len(groups)} predicted groups ({SOURCE})",
             "  " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items(), key=lambda kv: -kv[1])), ""]
    shown = groups if show_all else fused
    rows = [[g.kind, cell(" + ".join(g.nodes), 70), cell(g.rule, 80)] for g in shown]
    if rows:
        lines.extend(align_columns(["Kind", "Nodes", "Rule"], rows, right=set()))
    else:
        lines.append("no multi-node fusions predicted")
    if not show_all:
        lines.append("")
        lines.append("(multi-node groups only; --all lists every group)")
    if comparison is not None:
        c = comparison
        lines += ["", f"Against the engine: {c.headline()} ({c.rule})"]
        for item in c.predicted_only:
            lines.append(f"  predicted only: {cell(' + '.join(item['restricted']), 100)}")
        for item in c.actual_only:
            lines.append(f"  engine only:    {cell(item['layer'], 100)}")
    return "\n".join(printable(line) for line in lines)
