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
precision = matches / predicted groups compared; recall = matches / actual groups.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Iterable


@dataclass
class FusionComparison:
    precision: float
    recall: float
    exact_matches: list[list[str]]  # node sets (ids, topological order) predicted and found
    predicted_only: list[dict]  # {"nodes", "restricted", "kind", "rule"} with no identical engine layer
    actual_only: list[dict]  # {"layer", "nodes"} engine layers no prediction matched
    predicted_groups: int = 0  # predicted groups compared (non-empty after restriction)
    actual_groups: int = 0
    excluded_predictions: list[list[str]] = field(default_factory=list)  # nodes in no engine layer
    rule: str = "compared over nodes that appear in some engine layer"

    def to_dict(self) -> dict[str, Any]:
        return {
            "precision": self.precision, "recall": self.recall,
            "predicted_groups": self.predicted_groups, "actual_groups": self.actual_groups,
            "exact_matches": len(self.exact_matches),
            "predicted_only": self.predicted_only, "actual_only": self.actual_only,
            "excluded_predictions": self.excluded_predictions, "rule": self.rule,
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


def compare_with_engine(groups: Iterable[Any], report_or_layers: Any, model) -> FusionComparison:
    """Compare predicted :class:`FusionGroup` s with an engine's layers (report, layers, names or graph JSON)."""
    from ..model import Model, load_model

    model = model if isinstance(model, Model) else load_model(model)
    actual = engine_groups(report_or_layers, model)
    named = {node for _, nodes in actual for node in nodes}
    order = {node.id: i for i, node in enumerate(model.graph.nodes)}
    actual_sets = {frozenset(nodes): name for name, nodes in actual}

    matches, predicted_only, excluded = [], [], []
    compared = 0
    matched_actual = set()
    for group in groups:
        restricted = frozenset(n for n in group.nodes if n in named)
        if not restricted:
            excluded.append(list(group.nodes))
            continue
        compared += 1
        ordered = sorted(restricted, key=lambda n: order.get(n, 0))
        if restricted in actual_sets:
            matches.append(ordered)
            matched_actual.add(restricted)
        else:
            predicted_only.append({"nodes": list(group.nodes), "restricted": ordered, "kind": group.kind,
                                   "rule": group.rule})
    actual_only = [{"layer": name, "nodes": nodes} for name, nodes in actual if frozenset(nodes) not in matched_actual]
    return FusionComparison(
        precision=len(matches) / compared if compared else 0.0,
        recall=len(matched_actual) / len(actual) if actual else 0.0,
        exact_matches=matches,
        predicted_only=predicted_only,
        actual_only=actual_only,
        predicted_groups=compared,
        actual_groups=len(actual),
        excluded_predictions=excluded,
    )


__all__ = ["FusionComparison", "compare_with_engine", "engine_groups"]
