"""What a TensorRT build gives back (:class:`TensorRTBuildResult`), and the report made from it.

The result crosses from the build worker to the caller as JSON (:meth:`TensorRTBuildResult.to_dict` /
:meth:`~TensorRTBuildResult.from_dict`); :func:`report_from_tensorrt` then reads the engine inspector's
layer JSON, the per-layer profile and the verbose build log with :mod:`explorer.engine.readers` and maps
the layers back to the ONNX model, in the caller's process. ``layer_info`` and ``profile`` stay in
trtexec's own JSON formats (``--exportLayerInfo`` / ``--exportProfile``): they are files the readers read.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from ...engine.report import BuildReport, EngineReport, LatencySummary, Percentiles
from ...errors import ExplorerError
from ..settings import BuildSettings


@dataclass
class EngineMemory:
    """Sizes in bytes, from the engine itself (``total_weights`` needs 11.x's ``EngineStat``)."""

    engine_size: int
    device_memory: int | None = None  # activations + scratch (device_memory_size_v2 from 10.1)
    device_memory_per_profile: list[int] = field(default_factory=list)
    streamable_weights: int | None = None
    weight_streaming_scratch: int | None = None
    total_weights: int | None = None


@dataclass
class TimingCacheEntry:
    """One entry of an editable timing cache (TensorRT >= 10.8): the layer key, its tactic, its time."""

    key: str
    tactic: str  # "0x%016x"
    time_ms: float


@dataclass
class TimingCacheInfo:
    path: str | None
    entries: list[TimingCacheEntry] | None = None  # None: TensorRT could not list them


@dataclass
class EndToEndLatency:
    """Milliseconds per inference over the profiled runs (Polygraphy ``TrtRunner``, profiler on)."""

    runs: int
    warmup: int
    mean: float
    median: float
    min: float
    max: float
    p90: float
    p95: float
    p99: float
    includes: str = ""


@dataclass
class TensorRTBuildResult:
    """Everything :func:`~explorer.backends.tensorrt.build_engine` found out, JSON-safe through
    :meth:`to_dict`. ``conversion``: how the model was converted for TensorRT 11's strongly typed build
    (:func:`explorer.backends.precision.convert_precision`'s info), None when it was not. ``backend_reason``
    and ``output_dir`` are filled in by the build worker."""

    tensorrt_version: str
    strongly_typed: bool
    model_path: str
    built_model_path: str
    settings: BuildSettings
    engine_path: str
    engine_size: int
    build_seconds: float
    total_seconds: float
    memory: EngineMemory
    timing_cache: TimingCacheInfo
    layer_info: Any = None  # the engine inspector's JSON (trtexec --exportLayerInfo format)
    layer_info_path: str | None = None
    profile: list[dict[str, Any]] | None = None  # per-layer times (trtexec --exportProfile format)
    profile_path: str | None = None
    latency_ms: EndToEndLatency | None = None
    log_path: str | None = None
    conversion: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    backend: str = "tensorrt"
    backend_reason: str = ""
    output_dir: str | None = None
    library: str = "tensorrt"  # a key of explorer.trt.LIBRARIES: "tensorrt" or "tensorrt-rtx"
    compute_capability: str | None = None  # TensorRT-RTX: what it was built for ("SM86", "CURRENT")
    ahead_of_time: bool = False  # built for a GPU this machine does not have: not loaded, not profiled

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["settings"] = self.settings.to_dict()
        data["memory"] = asdict(self.memory)
        data["timing_cache"] = asdict(self.timing_cache)
        data["latency_ms"] = asdict(self.latency_ms) if self.latency_ms is not None else None
        data["warnings"], data["notes"] = list(self.warnings), list(self.notes)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TensorRTBuildResult":
        """Back from :meth:`to_dict`; keys it does not know are ignored (a newer worker may send more)."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        try:
            values["settings"] = BuildSettings.from_dict(data["settings"])
            values["memory"] = EngineMemory(**data["memory"])
            cache = data["timing_cache"]
            entries = cache.get("entries")
            values["timing_cache"] = TimingCacheInfo(
                path=cache.get("path"),
                entries=[TimingCacheEntry(**e) for e in entries] if entries is not None else None)
            latency = data.get("latency_ms")
            values["latency_ms"] = EndToEndLatency(**latency) if latency else None
            return cls(**values)
        except (KeyError, TypeError) as exc:
            raise ExplorerError(f"not a TensorRT build result: {type(exc).__name__}: {exc}") from None


def report_from_tensorrt(result: TensorRTBuildResult, model_path: str | None = None) -> BuildReport:
    """A :class:`BuildReport` from what :func:`explorer.backends.tensorrt.build_engine` returned: the
    engine inspector's layer JSON, the per-layer profile and the verbose build log, read by the
    :mod:`explorer.engine.readers` and mapped back to the ONNX model."""
    from ...engine import attach_mapping
    from ...engine.readers import LogParser, read_build_log, read_layer_info, read_profile
    from ...trt import LIBRARIES

    version = result.tensorrt_version
    library = LIBRARIES.get(result.library)
    title = library.title if library is not None else "TensorRT"
    # "TensorRT-RTX 1.7.1 AOT (SM86)": every figure of the report names this source
    short = ".".join(version.split(".")[:3])
    source = f"{title} {short if result.library != 'tensorrt' else version}"
    if result.compute_capability:
        source += f" AOT ({result.compute_capability})" if result.ahead_of_time else f" ({result.compute_capability})"
    parts = []
    if result.layer_info is not None:
        parts.append(read_layer_info(result.layer_info, origin_label=f"{source} engine inspector"))
    if result.profile:
        parts.append(read_profile(result.profile, origin_label=f"{source} IProfiler "
                                                               f"({result.settings.runs} runs)"))
    log_path = result.log_path
    phases: list[tuple[str, float]] = []
    log_label = f"{source} verbose build log"
    if log_path and os.path.isfile(log_path) and os.path.getsize(log_path) > 0:
        parser = LogParser(log_label)
        try:
            from_log = read_build_log(log_path, origin_label=log_label, parser=parser)
            phases = parser.phases
            if result.layer_info is not None:
                from_log.layers = []  # the engine inspector's layers are the authority when there are some
            parts.append(from_log)
        except ExplorerError as exc:
            parts.append(EngineReport(notes=[f"the build log could not be read: {exc}"]))
    merged = EngineReport.merge(*parts) if parts else EngineReport()
    no_tactics = result.library != "tensorrt" and not result.timing_cache.entries
    if no_tactics:  # TensorRT-RTX times no tactics: say so instead of an empty plot
        merged.tactics = []
        merged.notes = [n for n in merged.notes if not n.startswith("no tactic timing lines")]
        merged.notes.append(f"{title} times no tactics ahead of time (no timing cache, no tactic timings): "
                            "there are no tactics to show")
        merged.provenance["tactics"] = f"none: {source} times no tactics"
    if model_path:
        try:  # the user's model: converters and quantizers keep its node names, which layer names carry
            attach_mapping(merged, model_path)
        except ExplorerError as exc:
            merged.notes.append(f"layers not mapped to ONNX nodes: {exc}")

    mem = result.memory
    totals = dict(merged.memory.engine_totals)
    totals["engine_size_bytes"] = int(mem.engine_size)
    if mem.device_memory is not None:
        totals.setdefault("activation_bytes", int(mem.device_memory))
        merged.memory.provenance.setdefault("activation_bytes", f"{source} engine.device_memory_size_v2 "
                                                                "(activations + scratch)")
    if mem.total_weights is not None:
        totals["weights_bytes"] = int(mem.total_weights)
        merged.memory.provenance["weights_bytes"] = f"{source} EngineStat.TOTAL_WEIGHTS_SIZE"
    merged.memory.provenance["engine_size_bytes"] = f"{source} serialized plan ({result.engine_path})"
    merged.memory.engine_totals = totals

    latency = result.latency_ms
    if latency is not None and merged.end_to_end is None:
        stats = Percentiles(mean=latency.mean, min=latency.min, max=latency.max, p50=latency.median,
                            p90=latency.p90, p95=latency.p95, p99=latency.p99)
        merged.end_to_end = LatencySummary(count=int(latency.runs), latency=stats, compute=stats,
                                           source=f"{source} ({latency.includes})")
    settings = result.settings.to_dict()
    reason = result.backend_reason
    notes = list(merged.notes)
    if reason:
        notes.insert(0, f"backend: {title} ({reason})")
    notes.extend(n for n in result.notes if n not in notes)
    fusions = []
    for layer in merged.layers:
        if len(layer.onnx_nodes) > 1:
            fusions.append({"layer": layer.name, "type": layer.type, "kind": "fusion",
                            "onnx_nodes": list(layer.onnx_nodes), "onnx_ops": [], "pattern": layer.name,
                            "source": merged.provenance.get("layers", source)})
    vanished = []
    mapping = merged.mapping
    if mapping is not None and mapping.verified and mapping.vanished:
        vanished.append({"onnx_nodes": list(mapping.vanished),
                         "reason": f"in no engine layer of {source} (constant-folded, a no-op such as Flatten, or "
                                   "absorbed: Q/DQ, BatchNorm)"})
    raw = result.to_dict()
    backend = "tensorrt" if result.library == "tensorrt" else source
    timings = {"worker_s": {"build": result.build_seconds, "total": result.total_seconds}}
    if phases:
        timings["build_phases_s"] = [{"phase": name, "seconds": seconds, "source": log_label}
                                     for name, seconds in phases]
    return BuildReport(
        layers=merged.layers, tactics=merged.tactics, memory=merged.memory, end_to_end=merged.end_to_end,
        io_tensors=merged.io_tensors, sources=merged.sources, provenance=merged.provenance, notes=notes,
        mapping=merged.mapping, region_metadata=merged.region_metadata, backend=backend, backend_reason=reason,
        settings={**settings, "backend": result.library if result.library != "tensorrt" else "tensorrt",
                  "backend_reason": reason, "tensorrt_version": version, "strongly_typed": result.strongly_typed,
                  "conversion": result.conversion, "library": result.library,
                  "compute_capability": result.compute_capability, "ahead_of_time": result.ahead_of_time},
        fusions=fusions, vanished=vanished, timings=timings,
        artifacts={k: raw[k] for k in ("engine_path", "layer_info_path", "profile_path", "log_path",
                                       "built_model_path") if raw.get(k)},
        raw=raw)


__all__ = ["EndToEndLatency", "EngineMemory", "TensorRTBuildResult", "TimingCacheEntry", "TimingCacheInfo",
           "report_from_tensorrt"]
