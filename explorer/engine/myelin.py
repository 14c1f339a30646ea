"""Myelin regions: which ONNX nodes a ``{ForeignNode[A...B]}`` runs, and how much time it takes.

TensorRT hands subgraphs it does not build layer by layer to Myelin, and names each region after the first
and last TensorRT network layers it took: ``{ForeignNode[/classifier/classifier.0/Flatten.../classifier.6/
Gemm]}``. Engines show a region in one of two ways:

* as one engine layer of that name (TensorRT 8.x-10.x layer information, ``LayerType: "Myelin"``);
* as the region's kernels, ``<name>_myl<N>_<k>`` sub-layers (TensorRT-RTX; TensorRT 10 for some regions),
  with the region's name only in the build log (``Computing costs for {ForeignNode[...]}``, its memory line)
  or in the name of a reformat layer feeding it.

The nodes of a region come from its ``[ONNX Layer: ...]`` metadata when a source has it (the authority), else
from the topological range between A and B (:meth:`explorer.engine.mapping.NameResolver.region_range`: the
nodes on paths from A to B, not the node-list slice). Latency is the region layer's own, or the sum of its
sub-layers'; its share is of :attr:`EngineReport.latency_ms_total`, the same statistic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from .mapping import foreign_ends, is_myelin_region, myelin_graph, parse_metadata, reformat_target


class EngineReport(Protocol):
    """What reading Myelin regions needs of an :class:`explorer.engine.report.EngineReport` (which calls in
    here, so it is described, not imported)."""

    layers: list
    region_metadata: dict
    provenance: dict
    memory: Any
    tactics: list
    mapping: Any

    @property
    def latency_ms_total(self) -> float | None: ...


@dataclass(frozen=True)
class MyelinRegion:
    """One Myelin region and the ONNX nodes it runs."""

    name: str  # {ForeignNode[A...B]}
    first: str  # A and B as written in the name
    last: str
    onnx_nodes: tuple[str, ...]  # node ids (names without a model): the metadata's, else the range's
    via: str  # "metadata" | "topological range" | "layer names only (no ONNX model)" | "unresolved"
    range_nodes: tuple[str, ...]  # by topological range alone (compare with onnx_nodes)
    layers: tuple[str, ...]  # the engine layers that run it: the region layer itself, or its _myl sub-layers
    latency_ms: float | None = None  # the region layer's, or the sum over its sub-layers
    share: float | None = None  # % of EngineReport.latency_ms_total
    statistic: str | None = None  # median / mean (of latency_ms)
    source: str = ""  # where the region and its nodes were read

    def to_dict(self) -> dict:
        return {"name": self.name, "first": self.first, "last": self.last, "onnx_nodes": list(self.onnx_nodes),
                "via": self.via, "range_nodes": list(self.range_nodes), "layers": list(self.layers),
                "latency_ms": self.latency_ms, "share": self.share, "statistic": self.statistic,
                "source": self.source}


def region_names(report: "EngineReport") -> list[str]:
    """``{ForeignNode[...]}`` names a report mentions outside its layer list: build-log metadata, memory and
    tactic lines, and the layers reformat layers serve (in that order, each once)."""
    layer_names = {layer.name for layer in report.layers}
    found: dict[str, None] = {}
    candidates = [*report.region_metadata, *(m.layer for m in report.memory.layers),
                  *(t.layer for t in report.tactics), *(reformat_target(layer.name) for layer in report.layers)]
    for name in candidates:
        if name and is_myelin_region(name) and name not in layer_names:
            found.setdefault(name.strip())
    return list(found)


def myelin_regions(report: "EngineReport") -> list[MyelinRegion]:
    """Every Myelin region of ``report`` with its ONNX nodes, engine layers and latency (see the module doc)."""
    mapping = report.mapping
    maps = {}
    if mapping is not None:
        maps.update({m.layer: m for m in mapping.regions})
        maps.update({m.layer: m for m in mapping.layers if is_myelin_region(m.layer)})
    verified = bool(mapping is not None and mapping.verified)
    total = report.latency_ms_total
    regions: list[MyelinRegion] = []
    by_layer = {layer.name: layer for layer in report.layers}
    names = [layer.name for layer in report.layers if is_myelin_region(layer.name)]
    names += [n for n in region_names(report) if n not in names]
    sublayers = _sublayers(report, names, maps)
    for name in names:
        ends = foreign_ends(name) or (name, name)
        mapped = maps.get(name)
        layer = by_layer.get(name)
        metadata = (layer.metadata if layer is not None else None) or report.region_metadata.get(name)
        if mapped is not None:
            nodes, range_nodes = tuple(mapped.nodes), tuple(mapped.range_nodes)
            via = ("metadata" if mapped.via == "metadata" else "topological range") if nodes else "unresolved"
            if not verified:
                via = "layer names only (no ONNX model)"
        else:  # no mapping attached: the metadata's names as written
            nodes, range_nodes = tuple(parse_metadata(metadata)), ()
            via = "metadata" if nodes else "unresolved"
        runs = (name,) if layer is not None else tuple(sublayers.get(name, ()))
        timed = [by_layer[n] for n in runs if n in by_layer and by_layer[n].latency is not None]
        latency = sum(l.latency_ms for l in timed) if timed else None
        statistic = None
        if timed:
            kinds = {l.latency_statistic for l in timed}
            statistic = kinds.pop() if len(kinds) == 1 else "median (mean where the source has none)"
        source = report.provenance.get("layers", "") if layer is not None else \
            report.provenance.get("region_metadata") or report.memory.provenance.get("layers", "") or \
            report.provenance.get("tactics", "")
        regions.append(MyelinRegion(
            name=name, first=ends[0], last=ends[1], onnx_nodes=nodes, via=via, range_nodes=range_nodes,
            layers=runs, latency_ms=latency, share=(100.0 * latency / total) if latency is not None and total else None,
            statistic=statistic, source=source))
    return regions


def _sublayers(report: "EngineReport", regions: list[str], maps: dict) -> dict[str, list[str]]:
    """Region name -> its ``_myl<N>_<k>`` sub-layers (regions listed only by name).

    All sub-layers of one Myelin graph N go to one region: the one sharing most ONNX nodes with them, or the
    only region when there is one."""
    named_only = [r for r in regions if r not in {layer.name for layer in report.layers}]
    if not named_only:
        return {}
    graphs: dict[int, list] = {}
    for layer in report.layers:
        n = myelin_graph(layer.name)
        if n is not None:
            graphs.setdefault(n, []).append(layer)
    out: dict[str, list[str]] = {}
    for members in graphs.values():
        nodes = {node for layer in members for node in layer.onnx_nodes}
        best, best_overlap = (named_only[0] if len(named_only) == 1 else None), 0
        for region in named_only:
            mapped = maps.get(region)
            overlap = len(nodes & set(mapped.nodes)) if mapped is not None else 0
            if overlap > best_overlap:
                best, best_overlap = region, overlap
        if best is not None:
            out.setdefault(best, []).extend(layer.name for layer in members)
    return out


__all__ = ["MyelinRegion", "myelin_regions", "region_names"]
