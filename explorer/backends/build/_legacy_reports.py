"""REMOVED AT MERGE: the two report adapters, verbatim from the old ``explorer/backends/build.py``.

``report_from_onnxruntime`` moves beside the ONNX Runtime backend (``explorer.backends.onnxruntime``) and
``report_from_tensorrt`` beside the TensorRT builder (``explorer.backends.tensorrt``); then
``explorer.backends.build`` imports them from there (``from ..onnxruntime import report_from_onnxruntime``,
``from ..tensorrt import report_from_tensorrt``) and this file is deleted.
"""

from __future__ import annotations

import os
from typing import Any, Mapping

from ...engine.report import (BuildReport, EngineReport, LatencySummary, Layer, MemoryReport, Percentiles,
                              ProfiledLatency, TacticRecord, TensorDesc)
from ...errors import ExplorerError

_DTYPE_WORDS = {"float": "FP32", "float32": "FP32", "float16": "FP16", "bfloat16": "BF16", "double": "FP64",
                "int8": "INT8", "uint8": "UINT8", "int16": "INT16", "uint16": "UINT16", "int32": "INT32",
                "uint32": "UINT32", "int64": "INT64", "uint64": "UINT64", "bool": "BOOL",
                "float8e4m3fn": "FP8", "int4": "INT4", "uint4": "UINT4"}


def _dtype(text: str | None) -> str | None:
    if not text:
        return None
    return _DTYPE_WORDS.get(str(text).lower(), str(text).upper())


def _precision_of(tensors: list[TensorDesc]) -> str | None:
    kinds = {t.dtype for t in tensors if t.dtype}
    if not kinds:
        return None
    return kinds.pop() if len(kinds) == 1 else "mixed"


def report_from_onnxruntime(result: Mapping[str, Any]) -> BuildReport:
    """A :class:`BuildReport` from what the ONNX Runtime worker returned (plain dicts)."""
    version = result.get("onnxruntime_version", "?")
    settings = dict(result.get("settings") or {})
    runs = settings.get("runs")
    providers = settings.get("providers") or []
    from ..onnxruntime import calibration_summary

    profiled = settings.get("profiled_runs") or runs
    source = (f"ONNX Runtime {version} profiler ({', '.join(providers)}), median of {profiled} profiled runs "
              f"(of the {runs} timed ones) after warm-up")
    calibration = (result.get("latency") or {}).get("profiler_calibration")
    if calibration:
        source += f", less the profiler's overhead of {calibration_summary(calibration)}"
    layers: list[Layer] = []
    tactics: list[TacticRecord] = []
    activations: dict[str, int] = {}
    weights: dict[str, int] = {}
    total_median = sum((l["latency"] or {}).get("median_ms", 0.0) for l in result.get("layers", [])) or None
    for item in result.get("layers", []):
        outputs = [TensorDesc(name=o["name"], shape=tuple(o["shape"]) if o.get("shape") is not None else None,
                              dtype=_dtype(o.get("dtype")), location="Host" if _on_host(item) else "Device")
                   for o in item.get("outputs", [])]
        inputs = [TensorDesc(name=i["name"], shape=tuple(i["shape"]) if i.get("shape") is not None else None,
                             dtype=_dtype(i.get("dtype"))) for i in item.get("inputs", [])]
        stats = item.get("latency")
        latency = None
        if stats:
            latency = ProfiledLatency(
                time_ms=stats["total_ms"], average_ms=stats["mean_ms"], median_ms=stats["median_ms"],
                percentage=(100.0 * stats["median_ms"] / total_median) if total_median else None,
                count=stats["count"], source=source, p10_ms=stats["p10_ms"], p90_ms=stats["p90_ms"],
                min_ms=stats["min_ms"], max_ms=stats["max_ms"], raw_median_ms=stats.get("raw_median_ms"),
                raw_average_ms=stats.get("raw_mean_ms"), profiler_overhead_ms=stats.get("profiler_overhead_ms"))
        origin = item.get("origin")
        layer_origin = None
        if item.get("type") in ("QuantizeLinear", "DequantizeLinear"):
            layer_origin = "QDQ"
        elif origin in ("inserted", "conversion"):
            layer_origin = "REFORMAT"  # layout / precision glue the model did not have (ONNX Runtime's or the converter's)
        layer = Layer(name=item["name"], type=item.get("type"), precision=_precision_of(outputs), inputs=inputs,
                      outputs=outputs, tactic_name=item.get("provider"), origin=layer_origin, latency=latency,
                      onnx_nodes=list(item.get("onnx_nodes") or []), weights_bytes=item.get("weights_bytes"),
                      raw={k: item.get(k) for k in ("domain", "origin", "inserted_by", "parameter_bytes",
                                                     "activation_bytes", "output_bytes")})
        layers.append(layer)
        if item.get("provider"):
            tactics.append(TacticRecord(layer=item["name"], tactic=item["provider"],
                                        time_ms=stats["median_ms"] if stats else None, chosen=True,
                                        runner=item.get("type"), source=f"ONNX Runtime {version} node placement"))
        if item.get("weights_bytes"):
            weights[item["name"]] = int(item["weights_bytes"])
        for tensor in outputs:
            size = tensor.nbytes
            if size is not None and tensor.name not in activations:
                activations[tensor.name] = size

    mem = result.get("memory") or {}
    totals: dict[str, int] = {}
    provenance = {"weights": "computed: initializers each layer reads in ONNX Runtime's optimized graph "
                             "(shape x dtype, each counted once)",
                  "activations": f"computed: output shapes x types from {source} (no reuse: an upper bound)"}
    if mem.get("weights_bytes") is not None:
        totals["weights_bytes"] = int(mem["weights_bytes"])
        provenance["weights_bytes"] = "initializers of ONNX Runtime's optimized graph (shape x dtype)"
    if mem.get("arena_peak_bytes") is not None:
        totals["peak_cpu_bytes"] = int(mem["arena_peak_bytes"])
        provenance["peak_cpu_bytes"] = (f"ONNX Runtime {version} profiler: peak bytes in use in the CPU arena "
                                        "during a run (activations with reuse, plus inputs and outputs)")
    if mem.get("model_weights_bytes") is not None:
        totals["model_weights_bytes"] = int(mem["model_weights_bytes"])
        provenance["model_weights_bytes"] = "initializers of the model given to ONNX Runtime (after conversion)"
    memory = MemoryReport(weights=weights, activations=activations, engine_totals=totals, provenance=provenance)

    latency = result.get("latency") or {}
    end_to_end = None
    e2e_values = latency.get("end_to_end_ms") or []
    if e2e_values:
        pct = Percentiles.of(e2e_values)
        end_to_end = LatencySummary(
            count=len(e2e_values), latency=pct, compute=pct,
            throughput_qps=1000.0 * len(e2e_values) / sum(e2e_values) if sum(e2e_values) > 0 else None,
            source=f"ONNX Runtime {version} session.run wall time, profiler off, {len(e2e_values)} runs after "
                   f"{settings.get('warmup')} warm-up (host compute: latency = compute)")

    notes = list(result.get("notes") or [])
    reason = result.get("backend_reason", "")
    if reason:
        notes.insert(0, f"backend: ONNX Runtime ({reason})")
    level = settings.get("ort_graph_optimization_level")
    if level == "ORT_ENABLE_ALL" and any((l.raw.get("domain") or "").endswith("nchwc") for l in layers):
        notes.append("ORT_ENABLE_ALL made NCHWc layout nodes (com.microsoft.nchwc): they are specific to this "
                     "CPU's vector width")

    from ...engine.mapping import EngineMapping, LayerMapping

    node_to_layers: dict[str, list[str]] = {}
    layer_maps = []
    for layer, item in zip(layers, result.get("layers", [])):
        for node in layer.onnx_nodes:
            node_to_layers.setdefault(node, []).append(layer.name)
        layer_maps.append(LayerMapping(layer=layer.name, nodes=list(layer.onnx_nodes),
                                       internal=[] if layer.onnx_nodes else [layer.name],
                                       via="onnxruntime graph"))
    vanished = []
    for group in result.get("vanished", []):
        vanished.extend(n for n in group["onnx_nodes"] if n not in node_to_layers)
    mapping = EngineMapping(layers=layer_maps, node_to_layers=node_to_layers, vanished=vanished, verified=True,
                            source="ONNX Runtime's optimized graph compared with the ONNX model (names and "
                                   "tensor connectivity)")
    report = BuildReport(
        layers=layers, tactics=tactics, memory=memory, end_to_end=end_to_end,
        sources=[source, f"ONNX Runtime {version} optimized graph ({level})"],
        provenance={"backend": f"ONNX Runtime ({reason})" if reason else "ONNX Runtime",
                    "layers": f"ONNX Runtime {version} optimized graph ({level})", "latency": source,
                    "tactics": f"ONNX Runtime {version} node placement (execution provider per node)",
                    "onnx_nodes": mapping.source,
                    **({"latency_correction": f"ONNX Runtime profiler overhead subtracted: "
                                              f"{calibration_summary(calibration)} ({calibration['method']}); raw "
                                              "figures in latency.raw_median_ms"} if calibration else {})},
        notes=notes, mapping=mapping, backend="onnxruntime", backend_reason=reason,
        settings={**settings, "backend": "onnxruntime", "backend_reason": reason},
        fusions=list(result.get("fusions") or []),
        vanished=[{"onnx_nodes": [n for n in g["onnx_nodes"] if n not in node_to_layers], "reason": g["reason"]}
                  for g in result.get("vanished", []) if any(n not in node_to_layers for n in g["onnx_nodes"])],
        timings={"worker_s": result.get("timings_s", {})},
        raw=dict(result))
    return report


def _on_host(item: Mapping[str, Any]) -> bool:
    return (item.get("provider") or "CPUExecutionProvider") == "CPUExecutionProvider"


def report_from_tensorrt(result: Mapping[str, Any], model_path: str | None = None) -> BuildReport:
    """A :class:`BuildReport` from what :func:`explorer.backends.tensorrt.build_engine` returned: the
    engine inspector's layer JSON, the per-layer profile and the verbose build log, read by the
    :mod:`explorer.engine.readers` and mapped back to the ONNX model."""
    from ...engine import attach_mapping
    from ...engine.readers import read_build_log, read_layer_info, read_profile

    version = result.get("tensorrt_version", "?")
    parts = []
    if result.get("layer_info") is not None:
        parts.append(read_layer_info(result["layer_info"], origin_label=f"TensorRT {version} engine inspector"))
    if result.get("profile"):
        parts.append(read_profile(result["profile"], origin_label=f"TensorRT {version} IProfiler "
                                                                   f"({result.get('settings', {}).get('runs')} runs)"))
    log_path = result.get("log_path")
    if log_path and os.path.isfile(log_path) and os.path.getsize(log_path) > 0:
        try:
            parts.append(read_build_log(log_path, origin_label=f"TensorRT {version} verbose build log"))
        except ExplorerError as exc:
            parts.append(EngineReport(notes=[f"the build log could not be read: {exc}"]))
    merged = EngineReport.merge(*parts) if parts else EngineReport()
    if model_path:
        try:  # the user's model: converters and quantizers keep its node names, which layer names carry
            attach_mapping(merged, model_path)
        except ExplorerError as exc:
            merged.notes.append(f"layers not mapped to ONNX nodes: {exc}")

    mem = result.get("memory") or {}
    totals = dict(merged.memory.engine_totals)
    if mem.get("engine_size") is not None:
        totals["engine_size_bytes"] = int(mem["engine_size"])
    if mem.get("device_memory") is not None:
        totals.setdefault("activation_bytes", int(mem["device_memory"]))
        merged.memory.provenance.setdefault("activation_bytes", f"TensorRT {version} engine.device_memory_size_v2 "
                                                                "(activations + scratch)")
    if mem.get("total_weights") is not None:
        totals["weights_bytes"] = int(mem["total_weights"])
        merged.memory.provenance["weights_bytes"] = f"TensorRT {version} EngineStat.TOTAL_WEIGHTS_SIZE"
    merged.memory.engine_totals = totals

    latency = result.get("latency_ms")
    if latency and merged.end_to_end is None:
        stats = Percentiles(mean=latency["mean"], min=latency["min"], max=latency["max"], p50=latency["median"],
                            p90=latency.get("p90", latency["max"]), p95=latency.get("p95", latency["max"]),
                            p99=latency.get("p99", latency["max"]))
        merged.end_to_end = LatencySummary(count=int(latency["runs"]), latency=stats, compute=stats,
                                           source=f"TensorRT {version} via Polygraphy TrtRunner "
                                                  f"({latency.get('includes', '')})")
    settings = dict(result.get("settings") or {})
    reason = result.get("backend_reason", "")
    notes = list(merged.notes)
    if reason:
        notes.insert(0, f"backend: TensorRT ({reason})")
    notes.extend(n for n in result.get("notes") or [] if n not in notes)
    fusions = []
    for layer in merged.layers:
        if len(layer.onnx_nodes) > 1:
            fusions.append({"layer": layer.name, "type": layer.type, "kind": "fusion",
                            "onnx_nodes": list(layer.onnx_nodes), "onnx_ops": [], "pattern": layer.name})
    return BuildReport(
        layers=merged.layers, tactics=merged.tactics, memory=merged.memory, end_to_end=merged.end_to_end,
        io_tensors=merged.io_tensors, sources=merged.sources, provenance=merged.provenance, notes=notes,
        mapping=merged.mapping, backend="tensorrt", backend_reason=reason,
        settings={**settings, "backend": "tensorrt", "backend_reason": reason,
                  "tensorrt_version": version, "strongly_typed": result.get("strongly_typed"),
                  "conversion": result.get("conversion")},
        fusions=fusions, timings={"worker_s": {"build": result.get("build_seconds"),
                                               "total": result.get("total_seconds")}},
        artifacts={k: result.get(k) for k in ("engine_path", "layer_info_path", "profile_path", "log_path",
                                              "built_model_path") if result.get(k)},
        raw=dict(result))

