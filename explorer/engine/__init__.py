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
from .readers import (artifact_kind, list_engines, read_artifact, read_build_log, read_dump_profile,
                      read_layer_info, read_log, read_profile, read_rtx_trace, read_times, read_trex_folder)
from .report import (BuildReport, EngineMetadata, EngineReport, FusedLayer, LatencyStats, LatencySummary, Layer,
                     LayerMemory, MemoryReport, OptimizationProfile, Percentiles, ProfiledLatency, TacticRecord,
                     TensorDesc, tactic_key)


def load_report(graph: Any = None, profile: Any = None, times: Any = None, log: Any = None,
                model: Any = None, *, artifact: Any = None, engine: str | None = None,
                opt_profile: int | None = None) -> EngineReport:
    """Read whichever artifacts are given and join them into one :class:`EngineReport`.

    ``graph``: ``--exportLayerInfo`` / engine inspector JSON (path, text or dict), or a TREx-layout folder;
    ``profile``: ``--exportProfile``; ``times``: ``--exportTimes``; ``log``: a trtexec / TensorRT log (path,
    text or lines): its build records and its ``--dumpProfile`` table; ``artifact``: one path of any kind,
    told apart by content (a folder, a JSON export, a log, the TensorRT-RTX EP's trace: see
    :func:`~explorer.engine.readers.artifact_kind`); ``engine``: which engine of a folder holding several
    (:func:`list_engines`); ``opt_profile``: which optimization profile of a multi-profile engine the layers
    are (default 0; :meth:`EngineReport.for_profile`); ``model``: the ONNX model (path, bytes, ModelProto or a
    loaded :class:`explorer.Model`) to map layers back to its nodes.
    """
    if graph is not None and artifact is None and (_is_folder(graph) or (_is_path(graph) and not _is_json(graph))):
        graph, artifact = None, graph  # load_report("run/"), load_report("trtexec.log"): not layer information
    if graph is None and profile is None and times is None and log is None and artifact is None:
        raise ArtifactError("nothing to read: give at least one of a layer-information JSON, a profile, "
                            "a times JSON, a log, a TREx folder or a TensorRT-RTX EP trace")
    if engine is not None and artifact is None:
        raise ArtifactError(f"engine={engine!r} picks an engine of a folder: give the folder too")
    parts = []
    if artifact is not None:
        parts.append(read_artifact(artifact, engine=engine))
    if graph is not None:
        try:
            parts.append(read_layer_info(graph))
        except ArtifactError:  # load_report("trace.json"), load_report("trtexec.log"): one artifact of another kind
            if not _is_path(graph) or artifact_kind(graph) not in ("rtx-trace", "log"):
                raise
            parts.append(read_artifact(graph))
    if profile is not None:
        parts.append(read_profile(profile))
    if log is not None:
        parts.append(read_log(log))
    if times is not None:
        parts.append(read_times(times))
    report = EngineReport.merge(*parts) if len(parts) > 1 else parts[0]
    if opt_profile:
        try:
            report = report.for_profile(int(opt_profile))
        except KeyError as exc:
            raise ArtifactError(str(exc.args[0]), file=report.provenance.get("layers") or "the engine") from None
    attach_mapping(report, model)
    return report


def _is_path(value: Any) -> bool:
    import os

    return isinstance(value, (str, os.PathLike)) and not (isinstance(value, str) and ("\n" in value or
                                                                                       value.lstrip()[:1] in "{["))


def _is_json(value: Any) -> bool:
    from .readers.artifact import looks_like_json

    return looks_like_json(value)


def _is_folder(value: Any) -> bool:
    import os

    return _is_path(value) and os.path.isdir(os.fspath(value))


def attach_mapping(report: EngineReport, model: Any = None) -> EngineMapping:
    """Fill every layer's ``onnx_nodes`` (ONNX node ids when a model is given, parsed names otherwise), the
    layers of every optimization profile too (their names without the `` [profile N]`` suffix)."""
    from dataclasses import replace

    from .myelin import region_names
    from .readers.layer_info import profile_of

    loaded = _as_model(model)
    regions = [(name, report.region_metadata.get(name)) for name in region_names(report)]
    for profile in report.profiles:
        plain = [replace(layer, name=profile_of(layer.name)[1]) for layer in profile.layers]
        for layer, mapped in zip(profile.layers, map_layers(plain, loaded, regions=regions).layers):
            layer.onnx_nodes = list(mapped.nodes)
    plain = [replace(layer, name=profile_of(layer.name)[1]) for layer in report.layers]
    mapping = map_layers(plain, loaded, regions=regions)
    renamed = False
    for layer, mapped in zip(report.layers, mapping.layers):
        layer.onnx_nodes = list(mapped.nodes)
        if mapped.layer != layer.name:  # a later profile's layer: the mapping names it as the engine does
            mapped.layer, renamed = layer.name, True
    if renamed:
        mapping.node_to_layers = {}
        for mapped in mapping.layers:
            for node in mapped.nodes:
                mapping.node_to_layers.setdefault(node, []).append(mapped.layer)
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


__all__ = ["BuildReport", "EngineMapping", "EngineMetadata", "EngineReport", "FusedLayer", "LatencyStats",
           "LatencySummary", "Layer", "LayerMapping", "LayerMemory", "MemoryReport", "OptimizationProfile",
           "Percentiles", "ProfiledLatency", "TacticRecord", "TensorDesc", "artifact_kind", "attach_mapping",
           "list_engines", "load_report", "map_layers", "parse_metadata", "read_artifact", "read_build_log",
           "read_dump_profile", "read_layer_info", "read_log", "read_profile", "read_rtx_trace", "read_times",
           "read_trex_folder", "split_fused_name"]
