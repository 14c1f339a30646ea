"""Built engines, read from what TensorRT wrote: layers, fusions, tactics, memory and latency.

    from explorer.engine import load_report
    report = load_report(graph="m.graph.json", profile="m.profile.json", times="m.timing.json",
                         log="build.log", model="m.onnx")
    report.layers_frame(); report.tactics_frame(); report.memory_frame(); report.to_dict()

Each reader works alone too (:mod:`explorer.engine.readers`); a build backend constructs the same
:class:`EngineReport` directly.
"""

from __future__ import annotations

from typing import Any

from ..errors import ArtifactError
from .mapping import EngineMapping, LayerMapping, map_layers, parse_metadata, split_fused_name
from .readers import read_build_log, read_layer_info, read_profile, read_times
from .report import (BuildReport, EngineReport, FusedLayer, LatencyStats, LatencySummary, Layer, LayerMemory,
                     MemoryReport, Percentiles, ProfiledLatency, TacticRecord, TensorDesc, tactic_key)


def load_report(graph: Any = None, profile: Any = None, times: Any = None, log: Any = None,
                model: Any = None) -> EngineReport:
    """Read whichever artifacts are given and join them into one :class:`EngineReport`.

    ``graph``: ``--exportLayerInfo`` / engine inspector JSON (path, text or dict); ``profile``:
    ``--exportProfile``; ``times``: ``--exportTimes``; ``log``: a verbose build log (path, text or lines);
    ``model``: the ONNX model (path, bytes, ModelProto or a loaded :class:`explorer.Model`) to map layers
    back to its nodes.
    """
    if graph is None and profile is None and times is None and log is None:
        raise ArtifactError("nothing to read: give at least one of a layer-information JSON, a profile, "
                            "a times JSON or a build log")
    parts = []
    if graph is not None:
        parts.append(read_layer_info(graph))
    if profile is not None:
        parts.append(read_profile(profile))
    if log is not None:
        parts.append(read_build_log(log))
    if times is not None:
        parts.append(read_times(times))
    report = EngineReport.merge(*parts)
    attach_mapping(report, model)
    return report


def attach_mapping(report: EngineReport, model: Any = None) -> EngineMapping:
    """Fill every layer's ``onnx_nodes`` (ONNX node ids when a model is given, parsed names otherwise)."""
    from .myelin import region_names

    loaded = _as_model(model)
    regions = [(name, report.region_metadata.get(name)) for name in region_names(report)]
    mapping = map_layers(report.layers, loaded, regions=regions)
    for layer, mapped in zip(report.layers, mapping.layers):
        layer.onnx_nodes = list(mapped.nodes)
    report.mapping = mapping
    if report.layers:
        report.provenance["onnx_nodes"] = mapping.source
    if loaded is not None and mapping.unknown_names:
        shown = ", ".join(mapping.unknown_names[:3])
        report.notes.append(f"{len(mapping.unknown_names)} name(s) in layer names match no node or weight of "
                            f"the model ({shown}): was the engine built from this model?")
    return mapping


def _as_model(model: Any):
    if model is None:
        return None
    from ..model import Model, load_model

    return model if isinstance(model, Model) else load_model(model)


__all__ = ["BuildReport", "EngineMapping", "EngineReport", "FusedLayer", "LatencyStats", "LatencySummary", "Layer", "LayerMapping", "LayerMemory",
           "MemoryReport", "Percentiles", "ProfiledLatency", "TacticRecord", "TensorDesc", "attach_mapping", "load_report",
           "map_layers", "parse_metadata", "read_build_log", "read_layer_info", "read_profile", "read_times",
           "split_fused_name"]
