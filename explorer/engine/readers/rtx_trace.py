"""The per-layer profile ONNX Runtime's TensorRT-RTX execution provider writes (``nv_enable_profiling``).

Layout, from the provider's ``TrtRtxProfiler::FlushToFile`` (NVIDIA/TensorRT-RTX-EP-ABI,
``src/tensorrt_rtx_profiler.h``): a top-level JSON array of Chrome trace events,

* ``{"name": "process_name", "ph": "M", "pid": P, "args": {"name": "<EP context node>"}}`` per engine
  (``pid`` = the subgraph's index, stable for the session),
* ``{"name": "<layer>", "ph": "X", "cat": "nv::trt::layer", "ts": T, "dur": D, "pid": P, "tid": R,
  "args": {"onnx_nodes": "a,b,c"}}`` per layer per run: ``tid`` counts the runs of that engine, ``dur`` is the
  layer's ``IProfiler`` time in whole microseconds (the provider truncates), ``ts`` is cumulative within the
  run, ``args.onnx_nodes`` the ONNX nodes the engine inspector's metadata names for the layer (absent when
  it names none).

The file is rewritten after every run with the whole history, so it holds every run. Per layer this reader
gives the median, mean, p10/p90, min and max over the runs, and its ONNX nodes (the fusion), one file
alone.
"""

from __future__ import annotations

from ...errors import ArtifactError
from ..report import EngineReport, Layer, Percentiles, ProfiledLatency
from .common import Source, describe, load_json, short_repr, wrong_tool

LAYER_CATEGORY = "nv::trt::layer"


def is_rtx_trace(obj) -> bool:
    """Whether parsed JSON is the TensorRT-RTX provider's trace (a list with ``nv::trt::layer`` events)."""
    return isinstance(obj, list) and any(isinstance(e, dict) and e.get("cat") == LAYER_CATEGORY
                                         for e in obj[:64])


def read_rtx_trace(source: Source, *, origin_label: str | None = None) -> EngineReport:
    """Layers with their latency over the profiled runs and their ONNX nodes, from the provider's trace."""
    obj, path = load_json(source)
    label = origin_label or f"TensorRT-RTX EP profile {describe(source)}"
    file = path or label
    if isinstance(obj, dict) and isinstance(obj.get("traceEvents"), list):
        obj = obj["traceEvents"]  # the object form of a Chrome trace
    if not isinstance(obj, list):
        raise wrong_tool(obj, "chrome-trace", file)
    engines: dict[int, str] = {}
    order: list[tuple[int, str]] = []  # (pid, layer) in order of first appearance
    runs: dict[tuple[int, str], dict[int, float]] = {}  # -> run (tid) -> µs (summed within a run)
    nodes: dict[tuple[int, str], list[str]] = {}
    for index, event in enumerate(obj):
        if not isinstance(event, dict):
            raise ArtifactError(f"an event is a {type(event).__name__}, expected an object", file=file,
                                where=f"[{index}]")
        if event.get("ph") == "M" and event.get("name") == "process_name":
            args = event.get("args") if isinstance(event.get("args"), dict) else {}
            engines[_int(event.get("pid"), file, index, "pid")] = str(args.get("name", ""))
            continue
        if event.get("cat") != LAYER_CATEGORY:
            continue
        name = event.get("name")
        if not isinstance(name, str):
            raise ArtifactError("a layer event without a 'name' string", file=file, where=f"[{index}].name")
        pid = _int(event.get("pid", 0), file, index, "pid")
        run = _int(event.get("tid", 0), file, index, "tid")
        dur = event.get("dur")
        if isinstance(dur, bool) or not isinstance(dur, (int, float)) or dur != dur or dur < 0:
            raise ArtifactError(f"'dur' is {short_repr(dur)}, expected microseconds", file=file,
                                where=f"[{index}].dur ({name[:60]})")
        key = (pid, name)
        if key not in runs:
            order.append(key)
            runs[key] = {}
            nodes[key] = []
        runs[key][run] = runs[key].get(run, 0.0) + float(dur)
        args = event.get("args")
        listed = args.get("onnx_nodes") if isinstance(args, dict) else None
        if isinstance(listed, str) and not nodes[key]:
            nodes[key] = [n.strip() for n in listed.split(",") if n.strip()]
    if not order:
        raise ArtifactError(f"no '{LAYER_CATEGORY}' layer events: not a TensorRT-RTX execution provider "
                            "profile", file=file,
                            hint="ONNX Runtime's own session profile (cat 'Node') is read by the onnxruntime "
                                 "build backend, not here")
    several = len({pid for pid, _ in order}) > 1
    layers = []
    for key in order:
        pid, name = key
        per_run_ms = [us / 1000.0 for _, us in sorted(runs[key].items())]
        stats = Percentiles.of(per_run_ms)
        latency = ProfiledLatency(time_ms=sum(per_run_ms), average_ms=stats.mean, median_ms=stats.p50,
                                  count=len(per_run_ms), source=label, p10_ms=stats.p10, p90_ms=stats.p90,
                                  min_ms=stats.min, max_ms=stats.max)
        onnx = nodes[key]
        layers.append(Layer(name=name, latency=latency,
                            metadata="".join(f"[ONNX Layer: {n}]" for n in onnx) or None,
                            raw={"engine": engines.get(pid, f"subgraph {pid}"), "pid": pid,
                                 "onnx_nodes": list(onnx)} if several else {}))
    runs_seen = sorted({len(r) for r in runs.values()})
    notes = [f"per-layer times from the TensorRT-RTX execution provider's IProfiler over "
             f"{runs_seen[-1]} run(s), in whole microseconds as the provider writes them ({label})"]
    if several:
        notes.append(f"{len(engines) or len({p for p, _ in order})} TensorRT-RTX engines (EP context nodes: "
                     + ", ".join(engines.get(p, str(p)) for p in sorted({p for p, _ in order})) + ") in one trace")
    provenance = {"latency": label, "layers": label}
    if any(nodes.values()):
        provenance["fusions"] = f"args.onnx_nodes of {label}"
    return EngineReport(layers=layers, sources=[label], provenance=provenance, notes=notes)


def _int(value, file: str, index: int, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ArtifactError(f"'{key}' is {short_repr(value)}, expected an integer", file=file, where=f"[{index}].{key}")
    return value


__all__ = ["LAYER_CATEGORY", "is_rtx_trace", "read_rtx_trace"]
