"""What an ONNX Runtime build found, typed (:class:`OrtBuildResult`), and the explorer's report made of it.

The worker makes an :class:`OrtBuildResult` (:func:`assemble`) and sends ``to_dict()`` as JSON through its
pipe; the caller's process rebuilds it with :meth:`OrtBuildResult.from_dict` and turns it into a
:class:`explorer.engine.BuildReport` with :func:`report_from_onnxruntime`.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import types
import typing
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any, Union

import numpy as np
from onnx import helper

from ...dtypes import canonical_dtype
from ...engine.report import (BuildReport, LatencySummary, Layer, MemoryReport, Percentiles, ProfiledLatency,
                              TacticRecord, TensorDesc)
from ...model.quantization import has_qdq
from .convert import Conversion
from .mapping import GraphMapping, VanishedGroup, map_optimized_graph
from .profiler import (CORRECTED_FLOOR_US, DurationStats, ProfilerCalibration, calibration_summary,
                       corrected_stats, node_overhead_us, stats_ms)
from .trace import NodeProfile, Profile


# --------------------------------------------------------------------------------------------------------
# The result: what crosses the worker's pipe
# --------------------------------------------------------------------------------------------------------

@dataclass
class OrtTensor:
    name: str
    dtype: str | None  # as the profiler writes it: "float", "float16", "int8"...
    shape: list | None


@dataclass
class OrtLayer:
    """One node of ONNX Runtime's optimized graph (or, without one, of its profile)."""

    name: str
    type: str | None  # op type, ``domain::op`` outside the default and com.microsoft domains
    domain: str
    provider: str | None
    onnx_nodes: list[str]  # the original (top-level) nodes it covers
    origin: str | None  # "onnx", "conversion", "inserted"
    inserted_by: str | None
    inputs: list[OrtTensor]  # activations only: weights are in weights_bytes
    outputs: list[OrtTensor]
    weights_bytes: int | None = None
    parameter_bytes: int | None = None
    activation_bytes: int | None = None
    output_bytes: int | None = None
    latency: DurationStats | None = None


@dataclass
class OrtFusion:
    """A layer that covers several nodes ("fusion"), one of several for one node ("expansion"), or the
    same work by another kernel ("substitution")."""

    layer: str
    type: str | None
    domain: str
    kind: str
    onnx_nodes: list[str]
    onnx_ops: list[str]
    pattern: str


@dataclass
class OrtLatency:
    end_to_end: DurationStats | None  # session.run, profiler off
    profiled_runs: DurationStats | None  # ONNX Runtime's model_run span, profiler on
    sum_of_node_medians_ms: float | None
    raw_sum_of_node_medians_ms: float | None
    profiler_calibration: ProfilerCalibration | None
    runs: int  # profiled runs measured
    end_to_end_ms: list[float] = field(default_factory=list)


@dataclass
class OrtMemory:
    weights_bytes: int | None
    weights_source: str
    model_weights_bytes: int | None
    arena_peak_bytes: int | None = None
    arena_held_bytes: int | None = None


@dataclass
class OrtSettings:
    """The settings a build really used (after defaults, duration and the profiler's limits)."""

    precision: str
    conversion_tool: str | None
    opt_level: int
    ort_graph_optimization_level: str
    providers: list[str]
    runs: int
    duration: float
    profiled_runs: int
    warmup: int
    input_shapes: dict[str, list[int]]
    inputs: str
    threads: str


@dataclass
class OrtBuildResult:
    """Everything an ONNX Runtime build measured and found; JSON-safe through :meth:`to_dict`."""

    layers: list[OrtLayer]
    fusions: list[OrtFusion]
    vanished: list[VanishedGroup]
    latency: OrtLatency
    memory: OrtMemory
    notes: list[str]
    onnxruntime_version: str = "?"
    model_path: str | None = None
    conversion: Conversion | None = None
    settings: OrtSettings | None = None
    timings_s: dict[str, float] = field(default_factory=dict)
    backend: str = "onnxruntime"
    backend_reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "OrtBuildResult":
        return _from_json(cls, data)


@functools.lru_cache(maxsize=None)
def _fields_of(tp: type) -> tuple[dict[str, Any], tuple[str, ...]]:
    """A dataclass's resolved field types and names, once per class (a report rebuilds thousands of nodes)."""
    return typing.get_type_hints(tp), tuple(f.name for f in dataclasses.fields(tp))


def _from_json(tp: Any, data: Any) -> Any:
    """``data`` (from ``dataclasses.asdict`` and JSON) as the type ``tp``: dataclasses, their lists, dicts
    and optionals rebuilt, anything else as it is."""
    if data is None:
        return None
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        kinds = [a for a in typing.get_args(tp) if a is not type(None)]
        return _from_json(kinds[0], data) if len(kinds) == 1 else data
    if origin is list:
        (item,) = typing.get_args(tp)
        return [_from_json(item, x) for x in data]
    if origin is dict:
        _, item = typing.get_args(tp)
        return {k: _from_json(item, v) for k, v in data.items()}
    if dataclasses.is_dataclass(tp):
        hints, fields = _fields_of(tp)
        return tp(**{name: _from_json(hints[name], data[name]) for name in fields if name in data})
    return data


# --------------------------------------------------------------------------------------------------------
# Putting the result together (in the worker)
# --------------------------------------------------------------------------------------------------------

def _type_shapes(entries: list) -> list[tuple[str | None, list | None]]:
    """The profiler's ``[{"float": [1, 3, 224, 224]}, ...]`` -> [(dtype, shape), ...]."""
    out = []
    for entry in entries or []:
        if isinstance(entry, dict) and entry:
            dtype, shape = next(iter(entry.items()))
            out.append((str(dtype), list(shape) if isinstance(shape, list) else None))
        else:
            out.append((None, None))
    return out


def _unique_names(items: list[tuple[str, str]]) -> list[str]:
    """Layer names: the node's own when unique, else ``<name or op type>_<position>`` (ONNX Runtime leaves
    some of the nodes it makes unnamed)."""
    counts: dict[str, int] = defaultdict(int)
    for name, _ in items:
        counts[name] += 1
    taken = {name for name, _ in items if name and counts[name] == 1}
    out = []
    for position, (name, op_type) in enumerate(items):
        if name and counts[name] == 1:
            out.append(name)
            continue
        candidate = f"{name or op_type}_{position}"
        while candidate in taken:
            candidate += "_"
        taken.add(candidate)
        out.append(candidate)
    return out


def _qualified(op_type: str | None, domain: str | None) -> str | None:
    """``FusedConv`` (com.microsoft ops read well alone), ``com.microsoft.nchwc::Conv`` (other domains)."""
    if op_type is None or not domain or domain in ("ai.onnx", "com.microsoft"):
        return op_type
    return f"{domain}::{op_type}"


def _initializer_sizes(graph_proto) -> dict[str, int]:
    """Initializer name -> bytes (shape x dtype; the data itself is not read)."""
    sizes: dict[str, int] = {}
    for t in graph_proto.initializer:
        count = 1
        for d in t.dims:
            count *= d
        if t.data_type in (22, 23):  # UINT4 / INT4
            sizes[t.name] = (count + 1) // 2
            continue
        try:
            itemsize = np.dtype(helper.tensor_dtype_to_np_dtype(t.data_type)).itemsize
        except Exception:
            itemsize = 4
        sizes[t.name] = count * itemsize
    return sizes


def _initializer_bytes(graph_proto) -> int:
    return sum(_initializer_sizes(graph_proto).values())



def assemble(model, original, converted, optimized, profile: Profile, e2e_ms: list[float], notes: list[str],
             precision: str = "fp32", calibration: ProfilerCalibration | None = None) -> OrtBuildResult:
    """The layers, fusions, vanished nodes, latency and memory of a build, with notes on what to trust.

    ``model``: the explorer's IR of the original; ``original``/``converted``/``optimized``: the ModelProtos
    given, after precision conversion (None if unchanged) and as ONNX Runtime saved its optimized graph
    (None when it could not: compiled nodes). The caller fills in version, settings and timings."""
    nodes: dict[str, NodeProfile] = profile.nodes
    graph_nodes = list(optimized.graph.node) if optimized is not None else []
    if optimized is not None:
        mapping = map_optimized_graph(original.graph, optimized.graph,
                                      converted.graph if converted is not None else None)
    else:
        mapping = GraphMapping()
    initializers = {t.name for t in optimized.graph.initializer} if optimized is not None else set()

    # One layer per node of the optimized graph, in its order; with no optimized graph (compiled nodes),
    # one per profiled node. With the graph, profiler events of nodes it does not list are If/Loop/Scan
    # body nodes, whose time is already inside their parent node's.
    entries: list[tuple[Any, NodeProfile | None, Any]] = []  # (node proto, profile, MappedNode or None)
    if optimized is not None:
        named = {n.name for n in graph_nodes if n.name}
        # the profiler calls an unnamed node "<OpType>_<its index in ONNX Runtime's graph>": those go, in
        # execution order, to the unnamed nodes of that op type
        unnamed_events: dict[str, deque] = defaultdict(deque)
        for prof in sorted(nodes.values(), key=lambda n: n.first_seen):
            op = prof.op_type or ""
            if prof.name not in named and re.fullmatch(re.escape(op) + r"_\d+", prof.name):
                unnamed_events[op].append(prof)
        for index, node_proto in enumerate(graph_nodes):
            prof = nodes.get(node_proto.name) if node_proto.name else None
            if prof is None and not node_proto.name and unnamed_events[node_proto.op_type]:
                prof = unnamed_events[node_proto.op_type].popleft()
            entries.append((node_proto, prof, mapping.nodes.get(index)))
    else:
        entries = [(None, prof, None) for prof in sorted(nodes.values(), key=lambda n: n.first_seen)]
    top_level_ids = {n.id for n in model.graph.nodes}
    display_names = _unique_names([(proto.name if proto is not None else prof.name,
                                    (proto.op_type if proto is not None else prof.op_type) or "node")
                                   for proto, prof, _ in entries])

    layers: list[OrtLayer] = []
    protos = []
    for (node_proto, prof, mapped), name in zip(entries, display_names):
        protos.append(node_proto)
        op_type = (node_proto.op_type if node_proto is not None else None) or (prof.op_type if prof else None)
        domain = node_proto.domain if node_proto is not None else None
        outputs_types = _type_shapes(prof.output_types) if prof else []
        out_names = [o for o in (node_proto.output if node_proto is not None else []) if o]
        in_names = [i for i in (node_proto.input if node_proto is not None else []) if i]
        in_types = _type_shapes(prof.input_types) if prof else []
        outputs = []
        for k, tname in enumerate(out_names or [f"{name}:out{k}" for k in range(len(outputs_types))]):
            dtype, shape = outputs_types[k] if k < len(outputs_types) else (None, None)
            outputs.append(OrtTensor(tname, dtype, shape))
        inputs = []
        for k, tname in enumerate(in_names):
            if tname in initializers:
                continue  # weights are in weights_bytes, as TensorRT's layer info does it
            dtype, shape = in_types[k] if k < len(in_types) else (None, None)
            inputs.append(OrtTensor(tname, dtype, shape))
        onnx_nodes = [n for n in (mapped.onnx_nodes if mapped else []) if n in top_level_ids]
        latency = None
        if prof and calibration is not None:
            latency = corrected_stats(prof.durations_us, node_overhead_us(calibration, prof.parallel_sections),
                                      events=prof.events_per_run, nested=prof.nested_per_run,
                                      nested_overhead_us=calibration.overhead_us + calibration.outside_us)
        elif prof:
            latency = stats_ms(prof.durations_us)
        layers.append(OrtLayer(
            name=name, type=_qualified(op_type, domain), domain=domain or "",
            provider=prof.provider if prof else None, onnx_nodes=onnx_nodes,
            origin=mapped.origin if mapped else ("onnx" if onnx_nodes else ("inserted" if node_proto is not None
                                                                          else None)),
            inserted_by=mapped.inserted_by if mapped else None, inputs=inputs, outputs=outputs,
            parameter_bytes=prof.parameter_size if prof else None,
            activation_bytes=prof.activation_size if prof else None,
            output_bytes=prof.output_size if prof else None, latency=latency))

    # weights per layer: bytes of the initializers it reads in the optimized graph, each counted once
    # (at its first reader), so the layers add up to the graph's weights
    if optimized is not None:
        sizes = _initializer_sizes(optimized.graph)
        counted: set[str] = set()
        for layer, node_proto in zip(layers, protos):
            if node_proto is None:
                continue
            total = 0
            for name in node_proto.input:
                if name in sizes and name not in counted:
                    counted.add(name)
                    total += sizes[name]
            layer.weights_bytes = total

    fusions = _fusions(model, layers)
    measured = [n for n in layers if n.latency]
    sum_medians = sum(n.latency.median_ms for n in measured) if measured else None
    raw_sum = (sum(n.latency.raw_median_ms if n.latency.raw_median_ms is not None else n.latency.median_ms
                   for n in measured) if measured else None)
    e2e = stats_ms([v * 1000.0 for v in e2e_ms]) if e2e_ms else None
    profiled_runs = stats_ms([v * 1000.0 for v in profile.profiled_run_ms]) if profile.profiled_run_ms else None
    unprofiled = [n for n in layers if not n.latency]
    if measured and unprofiled:
        notes.append(f"{len(unprofiled)} node(s) of the optimized graph have no profiler events "
                     "(not executed, or executed inside a compiled subgraph)")

    memory = OrtMemory(
        weights_bytes=_initializer_bytes(optimized.graph) if optimized is not None else None,
        weights_source="initializers of ONNX Runtime's optimized graph (shape x dtype)",
        model_weights_bytes=_initializer_bytes((converted or original).graph),
        arena_peak_bytes=profile.arena_peak_bytes, arena_held_bytes=profile.arena_held_bytes)
    _notes_on_trust(notes, layers, measured, calibration, sum_medians, e2e, precision, converted, original)
    return OrtBuildResult(
        layers=layers, fusions=fusions, vanished=mapping.vanished,
        latency=OrtLatency(end_to_end=e2e, profiled_runs=profiled_runs, sum_of_node_medians_ms=sum_medians,
                           raw_sum_of_node_medians_ms=raw_sum, profiler_calibration=calibration,
                           runs=profile.runs, end_to_end_ms=[round(v, 6) for v in e2e_ms]),
        memory=memory, notes=notes)


def _fusions(model, layers: list[OrtLayer]) -> list[OrtFusion]:
    fusions = []
    original_ops = {n.id: n.op_type if n.is_default_domain else f"{n.domain}::{n.op_type}" for n in model.graph.nodes}
    layers_of: dict[str, int] = defaultdict(int)
    for layer in layers:
        for node_id in layer.onnx_nodes:
            layers_of[node_id] += 1
    for layer in layers:
        covered = layer.onnx_nodes
        ops = [original_ops.get(n, "?") for n in covered]
        if len(covered) > 1:
            kind = "fusion"
        elif len(covered) == 1 and layers_of[covered[0]] > 1:
            kind = "expansion"  # one node became several (an inlined function, a decomposed op)
        elif len(covered) == 1 and ops[0] != layer.type:
            kind = "substitution"  # the same work by another kernel (Conv -> com.microsoft.nchwc::Conv)
        else:
            continue
        fusions.append(OrtFusion(layer=layer.name, type=layer.type, domain=layer.domain, kind=kind,
                                 onnx_nodes=list(covered), onnx_ops=ops,
                                 pattern=f"{' + '.join(ops)} -> {layer.type}"))
    return fusions


def _notes_on_trust(notes: list[str], layers: list[OrtLayer], measured: list[OrtLayer],
                    calibration: ProfilerCalibration | None, sum_medians: float | None,
                    e2e: DurationStats | None, precision: str, converted, original) -> None:
    """What the figures can and cannot say: the correction, nodes the profiler cannot resolve, a per-layer
    sum far from the end-to-end time, layers that did not run in the precision asked for."""
    if calibration is not None and measured:
        at_floor = [n for n in measured if n.latency.at_floor]
        notes.append(f"ONNX Runtime profiler overhead subtracted from every node's recorded time (raw figures kept "
                     f"as raw_*): {calibration_summary(calibration)}: {calibration.method}")
        if 2 * len(at_floor) > len(measured):
            notes.append(f"{len(at_floor)} of {len(measured)} nodes took no longer than the profiler's overhead "
                         f"({calibration.overhead_us:.2f} us): their corrected times sit at the floor "
                         f"({CORRECTED_FLOOR_US} us or less) - the profiler cannot resolve them; the per-layer "
                         "times of this model are not trustworthy, only the end-to-end median is")
    if sum_medians and e2e and sum_medians > 1.2 * e2e.median_ms:
        extra_us = 1000.0 * (sum_medians - e2e.median_ms) / max(len(measured), 1)
        notes.append(f"the per-layer times add up to {sum_medians / e2e.median_ms:.1f}x the end-to-end median "
                     f"({sum_medians:.3f} vs {e2e.median_ms:.3f} ms): "
                     + ("after the calibrated correction, " if calibration is not None else "ONNX Runtime's profiler "
                        f"costs about {extra_us:.1f} us per node, which matters when nodes take microseconds; ")
                     + "compare layers with each other; the end-to-end median is the model's latency")
    if precision == "int8" or (converted is None and has_qdq(original)):
        heavy = [l for l in layers if l.origin == "onnx" and
                 any(k in (l.type or "") for k in ("Conv", "MatMul", "Gemm", "Attention"))]
        low = [l for l in heavy if "QLinear" in (l.type or "") or "Integer" in (l.type or "")]
        if heavy and len(low) < len(heavy):
            notes.append(f"{len(low)} of {len(heavy)} Conv/MatMul/Gemm layers run in int8 (QLinear*/*Integer kernels); "
                         "the others compute in fp32 between DequantizeLinear and QuantizeLinear nodes: the execution "
                         "provider did not fuse their Q/DQ")
    if precision in ("fp16", "bf16"):
        mapped_layers = [l for l in layers if l.origin == "onnx" and l.outputs]
        in_fp32 = [l for l in mapped_layers if all((o.dtype or "") in ("float", "float32") for o in l.outputs)]
        if in_fp32:
            notes.append(f"{len(in_fp32)} of {len(mapped_layers)} layers still compute in fp32: the execution "
                         f"provider has no {precision} kernel for them, so ONNX Runtime inserted casts around them "
                         "(the precision column shows what each layer really wrote)")


# --------------------------------------------------------------------------------------------------------
# The explorer's report (in the caller's process)
# --------------------------------------------------------------------------------------------------------

def _dtype(text: str | None) -> str | None:
    """The explorer's dtype name for ONNX Runtime's word (``"float16"`` -> ``"FP16"``); an unknown word as
    it is, upper-cased."""
    if not text:
        return None
    return canonical_dtype(str(text)) or str(text).upper()


def _precision_of(tensors: list[TensorDesc]) -> str | None:
    kinds = {t.dtype for t in tensors if t.dtype}
    if not kinds:
        return None
    return kinds.pop() if len(kinds) == 1 else "mixed"


def _tensor(tensor: OrtTensor, location: str | None = None) -> TensorDesc:
    return TensorDesc(name=tensor.name, shape=tuple(tensor.shape) if tensor.shape is not None else None,
                      dtype=_dtype(tensor.dtype), location=location)


def report_from_onnxruntime(result: OrtBuildResult) -> BuildReport:
    """A :class:`BuildReport` from what the ONNX Runtime worker measured."""
    version = result.onnxruntime_version
    settings = result.settings
    runs = settings.runs if settings else None
    providers = settings.providers if settings else []
    profiled = (settings.profiled_runs if settings else None) or runs
    source = (f"ONNX Runtime {version} profiler ({', '.join(providers)}), median of {profiled} profiled runs "
              f"(of the {runs} timed ones) after warm-up")
    calibration = result.latency.profiler_calibration
    if calibration:
        source += f", less the profiler's overhead of {calibration_summary(calibration)}"
    layers: list[Layer] = []
    tactics: list[TacticRecord] = []
    activations: dict[str, int] = {}
    weights: dict[str, int] = {}
    total_median = sum(l.latency.median_ms for l in result.layers if l.latency) or None
    for item in result.layers:
        on_host = (item.provider or "CPUExecutionProvider") == "CPUExecutionProvider"
        outputs = [_tensor(o, "Host" if on_host else "Device") for o in item.outputs]
        inputs = [_tensor(i) for i in item.inputs]
        stats = item.latency
        latency = None
        if stats:
            latency = ProfiledLatency(
                time_ms=stats.total_ms, average_ms=stats.mean_ms, median_ms=stats.median_ms,
                percentage=(100.0 * stats.median_ms / total_median) if total_median else None,
                count=stats.count, source=source, p10_ms=stats.p10_ms, p90_ms=stats.p90_ms,
                min_ms=stats.min_ms, max_ms=stats.max_ms, raw_median_ms=stats.raw_median_ms,
                raw_average_ms=stats.raw_mean_ms, profiler_overhead_ms=stats.profiler_overhead_ms)
        layer_origin = None
        if item.type in ("QuantizeLinear", "DequantizeLinear"):
            layer_origin = "QDQ"
        elif item.origin in ("inserted", "conversion"):
            layer_origin = "REFORMAT"  # layout / precision glue the model did not have (ONNX Runtime's or the converter's)
        layer = Layer(name=item.name, type=item.type, precision=_precision_of(outputs), inputs=inputs,
                      outputs=outputs, tactic_name=item.provider, origin=layer_origin, latency=latency,
                      onnx_nodes=list(item.onnx_nodes), weights_bytes=item.weights_bytes,
                      raw={"domain": item.domain, "origin": item.origin, "inserted_by": item.inserted_by,
                           "parameter_bytes": item.parameter_bytes, "activation_bytes": item.activation_bytes,
                           "output_bytes": item.output_bytes})
        layers.append(layer)
        if item.provider:
            tactics.append(TacticRecord(layer=item.name, tactic=item.provider,
                                        time_ms=stats.median_ms if stats else None, chosen=True,
                                        runner=item.type, source=f"ONNX Runtime {version} node placement"))
        if item.weights_bytes:
            weights[item.name] = int(item.weights_bytes)
        for tensor in outputs:
            size = tensor.nbytes
            if size is not None and tensor.name not in activations:
                activations[tensor.name] = size

    mem = result.memory
    totals: dict[str, int] = {}
    provenance = {"weights": "computed: initializers each layer reads in ONNX Runtime's optimized graph "
                             "(shape x dtype, each counted once)",
                  "activations": f"computed: each node's output shape x type in the ONNX Runtime {version} profiler "
                                 "trace (all tensors side by side, no reuse: an upper bound)"}
    if mem.weights_bytes is not None:
        totals["weights_bytes"] = int(mem.weights_bytes)
        provenance["weights_bytes"] = "initializers of ONNX Runtime's optimized graph (shape x dtype)"
    if mem.arena_peak_bytes is not None:
        totals["peak_cpu_bytes"] = int(mem.arena_peak_bytes)
        provenance["peak_cpu_bytes"] = (f"ONNX Runtime {version} profiler: peak bytes in use in the CPU arena "
                                        "during a run (activations with reuse, plus inputs and outputs)")
    if mem.model_weights_bytes is not None:
        totals["model_weights_bytes"] = int(mem.model_weights_bytes)
        provenance["model_weights_bytes"] = "initializers of the model given to ONNX Runtime (after conversion)"
    memory = MemoryReport(weights=weights, activations=activations, engine_totals=totals, provenance=provenance)

    end_to_end = None
    e2e_values = result.latency.end_to_end_ms
    if e2e_values:
        pct = Percentiles.of(e2e_values)
        end_to_end = LatencySummary(
            count=len(e2e_values), latency=pct, compute=pct,
            throughput_qps=1000.0 * len(e2e_values) / sum(e2e_values) if sum(e2e_values) > 0 else None,
            source=f"ONNX Runtime {version} session.run wall time, profiler off, {len(e2e_values)} runs after "
                   f"{settings.warmup if settings else None} warm-up (host compute: latency = compute)")

    notes = list(result.notes)
    reason = result.backend_reason
    if reason:
        notes.insert(0, f"backend: ONNX Runtime ({reason})")
    level = settings.ort_graph_optimization_level if settings else None
    if level == "ORT_ENABLE_ALL" and any((l.raw.get("domain") or "").endswith("nchwc") for l in layers):
        notes.append("ORT_ENABLE_ALL made NCHWc layout nodes (com.microsoft.nchwc): they are specific to this "
                     "CPU's vector width")

    from ...engine.mapping import EngineMapping, LayerMapping

    node_to_layers: dict[str, list[str]] = {}
    layer_maps = []
    for layer in layers:
        for node in layer.onnx_nodes:
            node_to_layers.setdefault(node, []).append(layer.name)
        layer_maps.append(LayerMapping(layer=layer.name, nodes=list(layer.onnx_nodes),
                                       internal=[] if layer.onnx_nodes else [layer.name],
                                       via="onnxruntime graph"))
    vanished = []
    for group in result.vanished:
        vanished.extend(n for n in group.onnx_nodes if n not in node_to_layers)
    mapping = EngineMapping(layers=layer_maps, node_to_layers=node_to_layers, vanished=vanished, verified=True,
                            source="ONNX Runtime's optimized graph compared with the ONNX model (names and "
                                   "tensor connectivity)")
    settings_dict = dataclasses.asdict(settings) if settings else {}
    return BuildReport(
        layers=layers, tactics=tactics, memory=memory, end_to_end=end_to_end,
        sources=[source, f"ONNX Runtime {version} optimized graph ({level})"],
        provenance={"backend": f"ONNX Runtime ({reason})" if reason else "ONNX Runtime",
                    "layers": f"ONNX Runtime {version} optimized graph ({level})", "latency": source,
                    "tactics": f"ONNX Runtime {version} node placement (execution provider per node)",
                    "onnx_nodes": mapping.source,
                    **({"latency_correction": f"ONNX Runtime profiler overhead subtracted: "
                                              f"{calibration_summary(calibration)} ({calibration.method}); raw "
                                              "figures in latency.raw_median_ms"} if calibration else {})},
        notes=notes, mapping=mapping, backend="onnxruntime", backend_reason=reason,
        settings={**settings_dict, "backend": "onnxruntime", "backend_reason": reason},
        fusions=[dataclasses.asdict(f) for f in result.fusions],
        vanished=[{"onnx_nodes": [n for n in g.onnx_nodes if n not in node_to_layers], "reason": g.reason}
                  for g in result.vanished if any(n not in node_to_layers for n in g.onnx_nodes)],
        timings={"worker_s": dict(result.timings_s)},
        raw=result.to_dict())


__all__ = ["OrtBuildResult", "OrtFusion", "OrtLatency", "OrtLayer", "OrtMemory", "OrtSettings", "OrtTensor",
           "assemble", "report_from_onnxruntime"]
