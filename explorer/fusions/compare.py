"""How well predicted fusions match the layers of a real engine.

Actual groups are the engine's layers, each reduced to the set of ONNX *nodes* it covers (weights such as
``conv1.weight`` and TensorRT's own parts such as ``(Unnamed Layer* 306) [Shuffle]`` are dropped); layers
TensorRT inserted to reformat tensors (Origin REFORMAT, ``Reformatting CopyNode ...``) and layers covering
no ONNX node are not groups.

The fairness rule: **compare over the nodes the engine names.** TensorRT leaves many nodes out of layer
names (constants folded to weights, Flatten turned into a no-op, DequantizeLinear and BatchNorm absorbed,
an output QuantizeLinear folded into the convolution). A predicted group is therefore first restricted
to the nodes that appear in some engine layer; groups left empty (e.g. a Constant, a Flatten) take no part
in the score. A prediction matches when its restricted node set equals an engine layer's node set.

**Only fusions are scored**: groups of two or more nodes, predicted and actual. A single node is trivially
its own layer in any build: counting those made a build that fused nothing the prediction had score 98%.
Every prediction left out is listed with its reason (:class:`Exclusion`).
precision = matches / multi-node predictions compared; recall = matches / multi-node engine layers; either
is None (not a number) when there is nothing to divide by.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Iterable

#: why a prediction takes no part in the score
SINGLE = "a single node (any build runs a node alone as its own layer: it says nothing about fusions)"
UNNAMED = "none of its nodes is in any engine layer (folded to weights, removed or absorbed)"
ONE_NAMED = "only one of its nodes is in an engine layer (the others were folded, removed or absorbed)"


@dataclass(frozen=True)
class Exclusion:
    """A predicted group left out of the score, and why (one of :data:`SINGLE`, :data:`UNNAMED`,
    :data:`ONE_NAMED`)."""

    nodes: list[str]
    reason: str
    kind: str = ""


@dataclass
class FusionComparison:
    precision: float | None  # None: no multi-node prediction to score
    recall: float | None  # None: the engine has no multi-node layer
    exact_matches: list[list[str]]  # node sets (ids, topological order) predicted and found
    predicted_only: list[dict]  # {"nodes", "restricted", "kind", "rule"} with no identical engine layer
    actual_only: list[dict]  # {"layer", "nodes"} multi-node engine layers no prediction matched
    predicted_groups: int = 0  # multi-node predictions compared (two or more nodes after restriction)
    actual_groups: int = 0  # multi-node engine layers
    excluded_predictions: list[list[str]] = field(default_factory=list)  # nodes in no engine layer
    excluded: list[Exclusion] = field(default_factory=list)  # every prediction left out, with its reason
    single_node_layers: int = 0  # engine layers running one node: not scored
    rule: str = ("multi-node groups only, compared over nodes that appear in some engine layer")
    predicted_by: str = ""  # what made the prediction (e.g. "TensorRT's documented fusion patterns")
    engine: str = ""  # which engine it was compared with (e.g. "resnet18 (TensorRT-RTX 1.7.1 AOT (SM86))")

    def excluded_counts(self) -> dict[str, int]:
        """reason -> how many predictions were left out for it."""
        counts: dict[str, int] = {}
        for item in self.excluded:
            counts[item.reason] = counts.get(item.reason, 0) + 1
        return counts

    def headline(self) -> str:
        """The score in one sentence that says what was counted and what was left out."""
        def pct(value: float | None, what: str) -> str:
            return f"{value:.0%}" if value is not None else f"not defined ({what})"

        sides = ""
        if self.predicted_by or self.engine:  # name both sides of the comparison
            sides = (f"prediction ({self.predicted_by or 'unnamed rules'}) vs engine "
                     f"({self.engine or 'unnamed engine'}): ")
        text = sides + (f"{len(self.exact_matches)} of {self.predicted_groups} predicted fusions (groups of 2+ nodes) are "
                f"engine layers, {len(self.exact_matches)} of {self.actual_groups} fused engine layers were "
                f"predicted: precision {pct(self.precision, 'no multi-node prediction')}, recall "
                f"{pct(self.recall, 'the engine fused no nodes')}")
        counts = self.excluded_counts()
        left_out = []
        if counts.get(SINGLE):
            left_out.append(f"{counts[SINGLE]} single-node predictions")
        if counts.get(ONE_NAMED):
            left_out.append(f"{counts[ONE_NAMED]} predictions with only one node in an engine layer")
        if counts.get(UNNAMED):
            left_out.append(f"{counts[UNNAMED]} predictions with no node in any engine layer")
        if self.single_node_layers:
            left_out.append(f"{self.single_node_layers} single-node engine layers")
        if left_out:
            text += "; not scored: " + ", ".join(left_out)
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "precision": self.precision, "recall": self.recall,
            "predicted_groups": self.predicted_groups, "actual_groups": self.actual_groups,
            "exact_matches": len(self.exact_matches),
            "predicted_only": self.predicted_only, "actual_only": self.actual_only,
            "excluded_predictions": self.excluded_predictions,
            "excluded": [asdict(x) for x in self.excluded], "excluded_counts": self.excluded_counts(),
            "single_node_layers": self.single_node_layers, "rule": self.rule, "headline": self.headline(),
            "predicted_by": self.predicted_by, "engine": self.engine,
        }


def engine_groups(report_or_layers: Any, model) -> list[tuple[str, list[str]]]:
    """(layer name, ONNX node ids) for every engine layer that runs a model node: the actual groups
    (:meth:`EngineReport.fused_layers` with ``min_nodes=1``, over the model's node ids)."""
    from ..engine.mapping import map_layers
    from ..engine.readers import read_layer_info
    from ..engine.report import EngineReport, Layer

    layers = report_or_layers
    if isinstance(layers, (str, dict)) or hasattr(layers, "__fspath__"):
        layers = read_layer_info(layers).layers
    elif hasattr(layers, "layers") and not isinstance(layers, (list, tuple)):
        layers = layers.layers
    layers = [Layer(name=item) if isinstance(item, str) else item for item in layers]
    mapping = map_layers(layers, model)  # the model's node ids, whatever mapping the report was read with
    mapped = EngineReport(layers=[replace(layer, onnx_nodes=[] if m.via == "reformat" else list(m.nodes))
                                  for layer, m in zip(layers, mapping.layers)])
    return [(group.layer, list(group.onnx_nodes)) for group in mapped.fused_layers(min_nodes=1)]


def compare_with_engine(groups: Iterable[Any], report_or_layers: Any, model, *, predicted_by: str = "",
                        engine: str = "") -> FusionComparison:
    """Compare predicted :class:`FusionGroup` s with an engine's layers (report, layers, names or graph JSON):
    multi-node groups only (see the module's rule). ``predicted_by`` and ``engine`` name the two sides in
    :meth:`FusionComparison.headline`."""
    from ..model import Model, load_model

    model = model if isinstance(model, Model) else load_model(model)
    actual = engine_groups(report_or_layers, model)
    named = {node for _, nodes in actual for node in nodes}
    order = {node.id: i for i, node in enumerate(model.graph.nodes)}
    fused_actual = [(name, nodes) for name, nodes in actual if len(nodes) >= 2]
    actual_sets = {frozenset(nodes): name for name, nodes in fused_actual}

    matches, predicted_only, excluded, exclusions = [], [], [], []
    compared = 0
    matched_actual = set()
    for group in groups:
        restricted = frozenset(n for n in group.nodes if n in named)
        if not restricted:
            excluded.append(list(group.nodes))
        if len(group.nodes) < 2:
            exclusions.append(Exclusion(list(group.nodes), SINGLE, group.kind))
            continue
        if len(restricted) < 2:
            exclusions.append(Exclusion(list(group.nodes), ONE_NAMED if restricted else UNNAMED, group.kind))
            continue
        compared += 1
        ordered = sorted(restricted, key=lambda n: order.get(n, 0))
        if restricted in actual_sets:
            matches.append(ordered)
            matched_actual.add(restricted)
        else:
            predicted_only.append({"nodes": list(group.nodes), "restricted": ordered, "kind": group.kind,
                                   "rule": group.rule})
    actual_only = [{"layer": name, "nodes": nodes} for name, nodes in fused_actual
                   if frozenset(nodes) not in matched_actual]
    return FusionComparison(
        precision=len(matches) / compared if compared else None,
        recall=len(matched_actual) / len(fused_actual) if fused_actual else None,
        exact_matches=matches,
        predicted_only=predicted_only,
        actual_only=actual_only,
        predicted_groups=compared,
        actual_groups=len(fused_actual),
        excluded_predictions=excluded,
        excluded=exclusions,
        single_node_layers=len(actual) - len(fused_actual),
        predicted_by=predicted_by,
        engine=engine,
    )


__all__ = ["ONE_NAMED", "SINGLE", "UNNAMED", "Exclusion", "FusionComparison", "compare_with_engine", "engine_groups"]
