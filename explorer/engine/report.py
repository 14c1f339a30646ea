"""One report of a built engine, whatever wrote it.

trtexec's JSON exports, a verbose build log, TensorRT's engine inspector and (later) ONNX Runtime's
profiler all describe the same things: layers, the tactics timed for them, memory and latency. Each reader
fills the sections it knows into an :class:`EngineReport`; :meth:`EngineReport.merge` joins them. The
classes are plain dataclasses with public constructors so any backend can build one directly.

Every figure carries its source: latency, tactic and per-layer memory records have a ``source`` field,
and :attr:`EngineReport.provenance` / :attr:`MemoryReport.provenance` say which file or reader each
section and total came from (``"trtexec --exportProfile resnet.profile.json"``, ``"TensorRT build log
build.log"``, ``"computed: shape x dtype from ..."``).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Iterable

from ..dtypes import nbytes, volume
from .stats import sorted_quantiles

_MASK64 = 2**64 - 1


def tactic_key(value: str | int | None) -> int | str | None:
    """A comparable tactic id: ``"0x5deb..."``, ``"6767..."`` and ``-1234`` (signed 64-bit) all become ints."""
    if value is None:
        return None
    if isinstance(value, int):
        return value & _MASK64
    text = value.strip().rstrip(",.;")
    try:
        return int(text, 16) if text.lower().startswith("0x") else int(text) & _MASK64
    except ValueError:
        return text


_REFORMAT_NAME = re.compile(r"^Reformatting CopyNode for (Input|Output) Tensor \d+ to ")


@dataclass
class TensorDesc:
    """A tensor as the engine holds it: its shape, memory format and element type."""

    name: str
    shape: tuple | None = None
    format: str | None = None  # TensorRT's own words, e.g. "Channel major FP16 format where channel % 8 == 0"
    dtype: str | None = None  # canonical: FP32, FP16, INT8, ...
    location: str | None = None  # Device / Host
    io_mode: str | None = None  # INPUT / OUTPUT for engine I/O tensors

    @property
    def nbytes(self) -> int | None:
        """Bytes as shape x dtype (vectorized formats pad channels; that padding is not counted)."""
        return nbytes(volume(self.shape), self.dtype)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["shape"] = list(self.shape) if self.shape is not None else None
        d["bytes"] = self.nbytes
        return d


@dataclass
class LatencyStats:
    """One layer's row of trtexec --exportProfile (or a profiler): ``time_ms`` is over ``count`` runs.

    ``percentage`` is what the source wrote (trtexec: of the summed ``timeMs``, i.e. a share of means); the
    views show :meth:`EngineReport.latency_share` instead, the share of the statistic they plot."""

    time_ms: float
    average_ms: float
    median_ms: float | None = None
    percentage: float | None = None
    count: int = 1
    source: str = ""

    @property
    def value_ms(self) -> float:
        """The one figure every view shows: the median when the source has one, else the mean."""
        return self.median_ms if self.median_ms is not None else self.average_ms

    @property
    def statistic(self) -> str:
        """``"median"`` or ``"mean"``: which statistic :attr:`value_ms` is (views say so)."""
        return "median" if self.median_ms is not None else "mean"

    @property
    def spread_ms(self) -> tuple[float, float] | None:
        """(p10, p90) over the runs when the source kept them (a trtexec profile does not)."""
        return None


@dataclass
class Layer:
    """One engine layer; ``onnx_nodes`` are the ONNX node ids it covers (see :mod:`explorer.engine.mapping`)."""

    name: str
    type: str | None = None  # engine LayerType: CaskConvolution, Reformat, Myelin, ...
    precision: str | None = None  # of the outputs: FP32 / FP16 / INT8 / "mixed"
    inputs: list[TensorDesc] = field(default_factory=list)
    outputs: list[TensorDesc] = field(default_factory=list)
    tactic_name: str | None = None
    tactic_value: str | None = None
    origin: str | None = None  # REFORMAT, QDQ, ... (why TensorRT added the layer)
    parameter_type: str | None = None  # Convolution, Pooling, ...
    latency: LatencyStats | None = None
    onnx_nodes: list[str] = field(default_factory=list)
    metadata: str | None = None  # 10.x: ONNX node names ("[ONNX Layer: ...]")
    weights_bytes: int | None = None  # Weights + Bias as stored in the engine
    raw: dict = field(default_factory=dict, repr=False)

    @property
    def is_reformat(self) -> bool:
        """A layer TensorRT inserted to change a tensor's format (not one of the model's operations).

        Narrower than :func:`explorer.engine.reformats.reformat_kind`, which also counts format changes that
        run a model node (a QuantizeLinear as a reformat) or a backend's own kernels (Myelin moves, ONNX
        Runtime reorders)."""
        return self.origin == "REFORMAT" or bool(_REFORMAT_NAME.match(self.name))

    @property
    def tactic(self) -> str | None:
        return self.tactic_name or self.tactic_value

    @property
    def latency_ms(self) -> float | None:
        """Per-inference time: the median over the profiled runs, or the mean when the source has no median
        (older trtexec profiles, hand-written rows); :attr:`latency_statistic` says which."""
        return self.latency.value_ms if self.latency else None

    @property
    def latency_statistic(self) -> str | None:
        return self.latency.statistic if self.latency else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "precision": self.precision,
            "latency_ms": self.latency_ms,
            "latency_statistic": self.latency_statistic,
            "latency": asdict(self.latency) if self.latency else None,
            "tactic": self.tactic,
            "tactic_name": self.tactic_name,
            "tactic_value": self.tactic_value,
            "origin": self.origin,
            "parameter_type": self.parameter_type,
            "onnx_nodes": list(self.onnx_nodes),
            "weights_bytes": self.weights_bytes,
            "inputs": [t.to_dict() for t in self.inputs],
            "outputs": [t.to_dict() for t in self.outputs],
            "metadata": self.metadata,
        }


@dataclass(frozen=True)
class FusedLayer:
    """One fusion group as the engine built it: an engine layer and the ONNX nodes it runs."""

    layer: str
    onnx_nodes: tuple[str, ...]  # ONNX node ids (or parsed names, without a model), in the layer's order
    type: str | None = None
    precision: str | None = None


@dataclass(slots=True)
class TacticRecord:
    """One tactic TensorRT considered for a layer: its time, or why it was skipped, and whether it won."""

    layer: str
    tactic: str | None  # as TensorRT printed it: "0x1673e3594ce11cea" or "1062367460111450758"; None = whole runner
    time_ms: float | None = None
    chosen: bool = False
    skipped_reason: str | None = None
    runner: str | None = None  # CaskConvolution, Myelin, ...
    source: str = ""
    tactic_name: str | None = None  # kernel name when the log gives it
    formats: str | None = None  # the format combination it was timed for
    fastest: bool = False  # fastest of its runner block (the log's "Fastest Tactic")


@dataclass(slots=True)
class LayerMemory:
    """Per-layer memory as the build log reports it (``Layer: X Host Persistent: ...``)."""

    layer: str
    host_persistent: int | None = None
    device_persistent: int | None = None
    scratch: int | None = None
    source: str = ""


#: engine-wide totals a build log may print, by the key used in :meth:`MemoryReport.to_dict`
ENGINE_TOTALS = ("host_persistent_bytes", "device_persistent_bytes", "scratch_bytes", "activation_bytes",
                 "weights_bytes", "engine_size_bytes", "peak_cpu_bytes", "peak_gpu_bytes")


@dataclass
class MemoryReport:
    """Where memory goes: weights per layer, activations per tensor, persistent and scratch memory."""

    weights: dict[str, int] = field(default_factory=dict)  # layer -> bytes (Weights + Bias)
    activations: dict[str, int] = field(default_factory=dict)  # tensor -> bytes (shape x dtype)
    layers: list[LayerMemory] = field(default_factory=list)  # from a build log
    engine_totals: dict[str, int] = field(default_factory=dict)  # as the engine/log reported them
    provenance: dict[str, str] = field(default_factory=dict)  # figure -> source

    @property
    def weights_bytes(self) -> int | None:
        """Sum of the layers' weights when layer info is known, else the log's ``Total Weights Memory``."""
        if self.weights:
            return sum(self.weights.values())
        return self.engine_totals.get("weights_bytes")

    @property
    def activation_tensors_bytes(self) -> int | None:
        """All activation tensors side by side (no reuse): an upper bound of activation memory."""
        return sum(self.activations.values()) if self.activations else None

    @property
    def total_activation_bytes(self) -> int | None:
        """The engine's activation memory when a log reports it, else the no-reuse sum of tensors."""
        reported = self.engine_totals.get("activation_bytes")
        return reported if reported is not None else self.activation_tensors_bytes

    @property
    def scratch_bytes(self) -> int | None:
        reported = self.engine_totals.get("scratch_bytes")
        if reported is not None:
            return reported
        values = [m.scratch for m in self.layers if m.scratch is not None]
        return max(values) if values else None  # scratch is shared between layers: the largest need

    def _sum_layers(self, attr: str) -> int | None:
        values = [getattr(m, attr) for m in self.layers if getattr(m, attr) is not None]
        return sum(values) if values else None

    @property
    def host_persistent_bytes(self) -> int | None:
        reported = self.engine_totals.get("host_persistent_bytes")
        return reported if reported is not None else self._sum_layers("host_persistent")

    @property
    def device_persistent_bytes(self) -> int | None:
        reported = self.engine_totals.get("device_persistent_bytes")
        return reported if reported is not None else self._sum_layers("device_persistent")

    def figure_sources(self) -> dict[str, str]:
        """Which source each total in :meth:`to_dict` comes from."""
        prov = self.provenance
        out: dict[str, str] = {}
        if self.weights:
            out["weights_bytes"] = prov.get("weights", "")
        elif "weights_bytes" in self.engine_totals:
            out["weights_bytes"] = prov.get("weights_bytes", "")
        if "activation_bytes" in self.engine_totals:
            out["total_activation_bytes"] = prov.get("activation_bytes", "")
        elif self.activations:
            out["total_activation_bytes"] = prov.get("activations", "")
        if self.activations:
            out["activation_tensors_bytes"] = prov.get("activations", "")
        for key, attr in (("scratch_bytes", "scratch_bytes"), ("host_persistent_bytes", "host_persistent_bytes"),
                          ("device_persistent_bytes", "device_persistent_bytes")):
            if key in self.engine_totals:
                out[key] = prov.get(key, "")
            elif getattr(self, attr) is not None:
                out[key] = prov.get("layers", "") + " (from per-layer lines)"
        for key in ("engine_size_bytes", "peak_cpu_bytes", "peak_gpu_bytes"):
            if key in self.engine_totals:
                out[key] = prov.get(key, "")
        if self.layers:
            out["layers"] = prov.get("layers", "")
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "total_activation_bytes": self.total_activation_bytes,
            "activation_tensors_bytes": self.activation_tensors_bytes,
            "weights_bytes": self.weights_bytes,
            "scratch_bytes": self.scratch_bytes,
            "host_persistent_bytes": self.host_persistent_bytes,
            "device_persistent_bytes": self.device_persistent_bytes,
            "engine_size_bytes": self.engine_totals.get("engine_size_bytes"),
            "peak_cpu_bytes": self.engine_totals.get("peak_cpu_bytes"),
            "peak_gpu_bytes": self.engine_totals.get("peak_gpu_bytes"),
            "engine_totals": dict(self.engine_totals),
            "layers": [{"layer": m.layer, "host_persistent": m.host_persistent,
                        "device_persistent": m.device_persistent, "scratch": m.scratch} for m in self.layers],
            "weights_per_layer": dict(self.weights),
            "activations": dict(self.activations),
            "provenance": self.figure_sources(),
        }

    @classmethod
    def from_layers(cls, layers: Iterable[Layer], source: str) -> "MemoryReport":
        """Weights per layer (Weights/Bias counts x type) and activations per tensor (shape x dtype)."""
        report = cls()
        for layer in layers:
            if layer.weights_bytes:
                report.weights[layer.name] = layer.weights_bytes
            for tensor in (*layer.inputs, *layer.outputs):
                size = tensor.nbytes
                if size is not None and tensor.name not in report.activations:
                    report.activations[tensor.name] = size
        if report.weights:
            report.provenance["weights"] = f"computed: Weights/Bias Count x Type from {source}"
        if report.activations:
            report.provenance["activations"] = f"computed: shape x dtype of every tensor in {source} (no reuse)"
        return report

    def merged(self, other: "MemoryReport") -> "MemoryReport":
        """Sections the other report has replace ours (later sources win)."""
        layers = {m.layer: m for m in self.layers}
        for m in other.layers:
            layers.pop(m.layer, None)
            layers[m.layer] = m
        return MemoryReport(
            weights=other.weights or self.weights,
            activations=other.activations or self.activations,
            layers=list(layers.values()),
            engine_totals={**self.engine_totals, **other.engine_totals},
            provenance={**self.provenance, **other.provenance},
        )


@dataclass
class Percentiles:
    """Summary statistics of one series of times, in ms (quantiles as :mod:`explorer.engine.stats` defines them)."""

    mean: float
    min: float
    max: float
    p50: float
    p90: float
    p95: float
    p99: float
    p10: float | None = None  # the low end of the run-to-run spread (Compare judges noise with p10-p90)

    @classmethod
    def of(cls, values) -> "Percentiles":
        import numpy as np

        a = np.sort(np.asarray(values, dtype=float))
        p10, p50, p90, p95, p99 = sorted_quantiles(a, (0.1, 0.5, 0.9, 0.95, 0.99)).tolist()
        return cls(mean=float(a.mean()), min=float(a[0]), max=float(a[-1]), p50=p50, p90=p90, p95=p95, p99=p99,
                   p10=p10)


@dataclass
class LatencySummary:
    """End-to-end timing over many inferences (trtexec --exportTimes)."""

    count: int
    latency: Percentiles  # host-to-host: H2D + compute + D2H per inference
    compute: Percentiles  # GPU compute only
    enqueue: Percentiles | None = None
    throughput_qps: float | None = None  # inferences per second over the whole run
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class OptimizationProfile:
    """One optimization profile of an engine built with several: its own layers, I/O tensors and memory.

    TensorRT lists the layers of every profile in one layer-information JSON; profile 0's names are plain,
    profile N's end in `` [profile N]`` (as TREx's ``engine_plan``/``parser.import_graph_file`` reads them)."""

    index: int
    layers: list[Layer] = field(default_factory=list)
    io_tensors: list[TensorDesc] = field(default_factory=list)
    memory: "MemoryReport" = field(default_factory=lambda: MemoryReport())
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "layers": [layer.name for layer in self.layers],
                "io_tensors": [t.to_dict() for t in self.io_tensors], "memory": self.memory.to_dict(),
                "source": self.source}


@dataclass
class EngineMetadata:
    """What a tool wrote about how an engine was built and profiled, by section, each with its file.

    TREx's ``process_engine.py`` writes ``*.build.metadata.json`` (``model_options``, ``build_options``) and
    ``*.profile.metadata.json`` (``performance_summary``, ``inference_options``, ``device_information``):
    trtexec's own log lines, as text."""

    sections: dict[str, dict[str, str]] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)  # section -> source

    def merged(self, other: "EngineMetadata") -> "EngineMetadata":
        return EngineMetadata(sections={**self.sections, **other.sections}, sources={**self.sources, **other.sources})

    def get(self, section: str, key: str) -> str | None:
        return self.sections.get(section, {}).get(key)

    def to_dict(self) -> dict[str, Any]:
        return {"sections": {k: dict(v) for k, v in self.sections.items()}, "sources": dict(self.sources)}


def _detail_rank(report: "EngineReport") -> int:
    """0: full layer information (raw JSON), 1: typed layers (a log's layer list), 2: names or nothing."""
    if any(layer.raw for layer in report.layers):
        return 0
    if any(layer.type for layer in report.layers):
        return 1
    return 2


@dataclass
class EngineReport:
    """Everything known about one engine: layers, tactics, memory, latency, and where each part came from."""

    layers: list[Layer] = field(default_factory=list)
    tactics: list[TacticRecord] = field(default_factory=list)
    memory: MemoryReport = field(default_factory=MemoryReport)
    end_to_end: LatencySummary | None = None
    io_tensors: list[TensorDesc] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    provenance: dict[str, str] = field(default_factory=dict)  # section -> source
    notes: list[str] = field(default_factory=list)  # what is missing and how to get it
    mapping: Any = None  # explorer.engine.mapping.EngineMapping when an ONNX model was given
    #: ``{ForeignNode[...]}`` -> its ``[ONNX Layer: ...]`` metadata, for Myelin regions a build log describes
    #: beside the engine's layer list (TensorRT-RTX prints it while costing the region)
    region_metadata: dict[str, str] = field(default_factory=dict)
    #: every optimization profile of a multi-profile engine (empty: one profile); ``layers`` are profile
    #: ``profile_index``'s (:meth:`for_profile` picks another)
    profiles: list[OptimizationProfile] = field(default_factory=list)
    profile_index: int = 0
    metadata: EngineMetadata = field(default_factory=EngineMetadata)
    #: the total a source printed itself (trtexec --dumpProfile's "Total" row: its median is the median of
    #: the per-iteration totals, not the sum of the layer medians that :attr:`latency_ms_total` is)
    reported_total: LatencyStats | None = None

    # -- figures ---------------------------------------------------------------------------------------
    @property
    def latency_ms_total(self) -> float | None:
        """Per-inference engine time: the sum of the per-layer figures the views show (:attr:`Layer.latency_ms`:
        medians, or means where a source has none; :attr:`latency_statistic` says which)."""
        rows = [layer.latency_ms for layer in self.layers if layer.latency is not None]
        return sum(rows) if rows else None

    @property
    def latency_statistic(self) -> str | None:
        """Which statistic the per-layer latencies are: ``"median"``, ``"mean"``, or both (merged sources)."""
        found = {layer.latency.statistic for layer in self.layers if layer.latency is not None}
        if not found:
            return None
        if len(found) == 1:
            return found.pop()
        return "median (mean where the source has no median)"

    def latency_share(self, layer: Layer) -> float | None:
        """The layer's share (%) of :attr:`latency_ms_total`: of the same statistic the views plot."""
        total = self.latency_ms_total
        if layer.latency is None or not total:
            return None
        return 100.0 * layer.latency_ms / total

    def layer(self, name: str) -> Layer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)

    def chosen_tactics(self) -> list[TacticRecord]:
        return [t for t in self.tactics if t.chosen]

    # -- joining readers --------------------------------------------------------------------------------
    @classmethod
    def merge(cls, *reports: "EngineReport") -> "EngineReport":
        """Join partial reports (layer info, profile, log, times) into one.

        Layers are matched by name (the i-th duplicate with the i-th duplicate); the first report that has
        layer details fixes the order. Latency joins the matching layer; a profile row with no matching
        layer is kept as its own layer and noted. The engine's own tactic choice (the layer info's
        ``TacticValue``) marks the chosen tactic among the log's records.
        """
        parts = [part for part in reports if part is not None]
        result = cls()
        for part in parts:  # sources in the order given
            result.sources.extend(src for src in part.sources if src not in result.sources)
        parts.sort(key=_detail_rank)  # stable: the most detailed layer list first
        for part in parts:
            result._absorb(part)
        result._mark_engine_tactics()
        return result

    def _absorb(self, part: "EngineReport") -> None:
        for src in part.sources:
            if src not in self.sources:
                self.sources.append(src)
        for note in part.notes:
            if note not in self.notes:
                self.notes.append(note)
        for key, value in part.provenance.items():
            if key == "layers" and key in self.provenance:
                continue  # the layer list is the first (most detailed) reader's
            self.provenance[key] = value
        self._absorb_layers(part.layers)
        self.tactics.extend(part.tactics)
        self.memory = self.memory.merged(part.memory)
        if part.end_to_end is not None:
            self.end_to_end = part.end_to_end
        if part.io_tensors and not self.io_tensors:
            self.io_tensors = list(part.io_tensors)
        if part.mapping is not None:
            self.mapping = part.mapping
        self.region_metadata.update(part.region_metadata)
        if part.profiles and not self.profiles:
            self.profiles = list(part.profiles)
            self.profile_index = part.profile_index
        self.metadata = self.metadata.merged(part.metadata)
        if part.reported_total is not None:
            self.reported_total = part.reported_total

    def _absorb_layers(self, incoming: list[Layer]) -> None:
        if not incoming:
            return
        if not self.layers:
            self.layers = [replace(layer) for layer in incoming]
            return
        slots: dict[str, list[int]] = {}
        for i, layer in enumerate(self.layers):
            slots.setdefault(layer.name, []).append(i)
        unmatched = []
        for layer in incoming:
            free = slots.get(layer.name)
            if not free:
                unmatched.append(layer)
                continue
            mine = self.layers[free.pop(0)]
            if layer.latency is not None:
                mine.latency = layer.latency
        for layer in unmatched:
            if layer.latency is not None:  # a timed layer must not disappear from the totals
                self.layers.append(replace(layer))
        if unmatched:
            names = ", ".join(layer.name for layer in unmatched[:3])
            more = f" and {len(unmatched) - 3} more" if len(unmatched) > 3 else ""
            self.notes.append(f"{len(unmatched)} layer(s) of one source are not in the layer list of another "
                              f"({names}{more}): were the files written for the same engine?")

    def _mark_engine_tactics(self) -> None:
        """The engine's TacticValue per layer is the final word on which timed tactic was chosen."""

        if not self.tactics:
            return
        engine_choice = {layer.name: tactic_key(layer.tactic_value) for layer in self.layers
                         if layer.tactic_value is not None and not layer.is_reformat}
        by_layer: dict[str, list[TacticRecord]] = {}
        for record in self.tactics:
            by_layer.setdefault(record.layer, []).append(record)
        for name, records in by_layer.items():
            choice = engine_choice.get(name)
            if choice is None or not any(tactic_key(r.tactic) == choice for r in records):
                continue
            chosen_runner = next((r.runner for r in records if r.chosen), None)
            for r in records:
                r.chosen = tactic_key(r.tactic) == choice and (chosen_runner is None or r.runner == chosen_runner)
            if not any(r.chosen for r in records):
                for r in records:
                    r.chosen = tactic_key(r.tactic) == choice

    def for_profile(self, index: int) -> "EngineReport":
        """The same engine seen through optimization profile ``index``: its layers, I/O tensors and memory
        (latency joins by layer name, as a profiler run of that profile reports it)."""
        if not self.profiles:
            if index == 0:
                return self
            raise KeyError(f"the engine has one optimization profile (0), not {index}")
        chosen = next((p for p in self.profiles if p.index == index), None)
        if chosen is None:
            raise KeyError(f"no optimization profile {index}: the engine has "
                           f"{', '.join(str(p.index) for p in self.profiles)}")
        timed = {layer.name: layer.latency for layer in self.layers if layer.latency is not None}
        layers = [replace(layer, latency=timed.get(layer.name, layer.latency)) for layer in chosen.layers]
        memory = chosen.memory.merged(MemoryReport(engine_totals=dict(self.memory.engine_totals),
                                                   provenance={k: v for k, v in self.memory.provenance.items()
                                                               if k not in ("weights", "activations")}))
        view = replace(self, layers=layers, io_tensors=list(chosen.io_tensors), memory=memory, profile_index=index,
                       notes=list(self.notes), sources=list(self.sources), tactics=list(self.tactics), mapping=None,
                       provenance={**self.provenance, "profile": f"optimization profile {index} of "
                                                                 f"{len(self.profiles)} ({chosen.source})"})
        return view

    # -- views ------------------------------------------------------------------------------------------
    def fused_layers(self, *, min_nodes: int = 2) -> list[FusedLayer]:
        """The engine's fusion groups: the layers that run at least ``min_nodes`` ONNX nodes.

        The one definition the app, the plots, the report and the prediction score share. Layers TensorRT
        inserted to reformat tensors are not groups, and a layer listed again with the same nodes (e.g. once
        per optimization profile) is one group. ``min_nodes=1``: every layer that runs a model node, which is
        what a fusion prediction is scored against.
        """
        groups: list[FusedLayer] = []
        seen: set[frozenset] = set()
        for layer in self.layers:
            nodes = tuple(layer.onnx_nodes)
            if len(nodes) < min_nodes or layer.is_reformat:
                continue
            key = frozenset(nodes)
            if key in seen:
                continue
            seen.add(key)
            groups.append(FusedLayer(layer=layer.name, onnx_nodes=nodes, type=layer.type,
                                     precision=layer.precision))
        return groups

    def reformats(self):
        """The reformat and copy layers, each between its producer and consumers, with the format or type
        change, its cause and time (:mod:`explorer.engine.reformats`)."""
        from .reformats import find_reformats

        return find_reformats(self)

    def reformat_summary(self):
        """How many reformat/copy layers and the time in them, of the total (:class:`ReformatSummary`)."""
        from .reformats import summarize

        return summarize(self)

    def myelin_regions(self):
        """Every ``{ForeignNode[...]}`` Myelin region: its ONNX nodes, engine layers, latency and share
        (:mod:`explorer.engine.myelin`)."""
        from .myelin import myelin_regions

        return myelin_regions(self)

    # -- views ------------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The JSON of ``python -m explorer inspect --json``."""
        return {
            "layers": [layer.to_dict() for layer in self.layers],
            "latency_ms_total": self.latency_ms_total,
            "reformats": [r.to_dict() for r in self.reformats()],
            "reformat_summary": self.reformat_summary().to_dict(),
            "myelin_regions": [r.to_dict() for r in self.myelin_regions()],
            "tactics": [asdict(t) for t in self.tactics],
            "memory": self.memory.to_dict(),
            "end_to_end": self.end_to_end.to_dict() if self.end_to_end else None,
            "io_tensors": [t.to_dict() for t in self.io_tensors],
            "mapping": self.mapping.to_dict() if self.mapping is not None else None,
            "profiles": [p.to_dict() for p in self.profiles],
            "profile_index": self.profile_index,
            "metadata": self.metadata.to_dict(),
            "reported_total": asdict(self.reported_total) if self.reported_total else None,
            "sources": list(self.sources),
            "provenance": dict(self.provenance),
            "notes": list(self.notes),
        }

    def layers_frame(self):
        """One row per layer: type, precision, latency (:attr:`Layer.latency_ms`, its p10/p90 when known, its
        share of the total), tactic, ONNX nodes."""
        import pandas as pd

        rows = [{
            "name": layer.name, "type": layer.type, "precision": layer.precision,
            "latency_ms": layer.latency_ms,
            "latency_p10_ms": layer.latency.spread_ms[0] if layer.latency and layer.latency.spread_ms else None,
            "latency_p90_ms": layer.latency.spread_ms[1] if layer.latency and layer.latency.spread_ms else None,
            "percentage": self.latency_share(layer),
            "tactic": layer.tactic, "origin": layer.origin, "weights_bytes": layer.weights_bytes,
            "onnx_nodes": list(layer.onnx_nodes), "is_reformat": layer.is_reformat,
            "source": (layer.latency.source if layer.latency else self.provenance.get("layers")),
        } for layer in self.layers]
        return pd.DataFrame(rows, columns=["name", "type", "precision", "latency_ms", "latency_p10_ms",
                                           "latency_p90_ms", "percentage", "tactic", "origin", "weights_bytes",
                                           "onnx_nodes", "is_reformat", "source"])

    def tactics_frame(self):
        """One row per timed (or skipped) tactic."""
        import pandas as pd

        columns = list(TacticRecord.__dataclass_fields__)
        return pd.DataFrame([asdict(t) for t in self.tactics], columns=columns)

    def memory_frame(self):
        """One row per layer: weights, output activations, persistent and scratch memory."""
        import pandas as pd

        per_log = {m.layer: m for m in self.memory.layers}
        names = [layer.name for layer in self.layers] or list(per_log)
        seen = set(names)
        names += [name for name in per_log if name not in seen]
        by_name = {layer.name: layer for layer in self.layers}
        rows = []
        for name in names:
            layer = by_name.get(name)
            log = per_log.get(name)
            outputs = None
            if layer is not None:
                sizes = [t.nbytes for t in layer.outputs]
                outputs = sum(s for s in sizes if s is not None) if any(s is not None for s in sizes) else None
            rows.append({
                "layer": name,
                "weights_bytes": self.memory.weights.get(name),
                "output_activation_bytes": outputs,
                "host_persistent": log.host_persistent if log else None,
                "device_persistent": log.device_persistent if log else None,
                "scratch": log.scratch if log else None,
            })
        return pd.DataFrame(rows, columns=["layer", "weights_bytes", "output_activation_bytes",
                                           "host_persistent", "device_persistent", "scratch"])


@dataclass
class ProfiledLatency(LatencyStats):
    """A layer's latency over many runs, with its spread (``average_ms`` is the mean)."""

    p10_ms: float | None = None
    p90_ms: float | None = None
    min_ms: float | None = None
    max_ms: float | None = None
    #: what the profiler recorded, before its calibrated overhead per node was subtracted (None: no correction)
    raw_median_ms: float | None = None
    raw_average_ms: float | None = None
    profiler_overhead_ms: float | None = None

    @property
    def spread_ms(self) -> tuple[float, float] | None:
        if self.p10_ms is None or self.p90_ms is None:
            return None
        return (self.p10_ms, self.p90_ms)


@dataclass
class BuildReport(EngineReport):
    """An :class:`EngineReport` from :func:`build`, plus how it was built.

    ``backend``: "tensorrt" or "onnxruntime"; ``backend_reason``: why (auto's choice); ``settings``: the
    resolved settings (precision and the tool that converted the model, optimization level and what it
    means for the backend, providers, runs, warm-up, input shapes); ``fusions``: layers that cover several
    ONNX nodes (kind "fusion"), one node split into several layers ("expansion") or run by another kernel
    ("substitution"); ``vanished``: ONNX nodes in no layer, with why (constant-folded, Constant nodes,
    removed); ``timings``: where the build's wall time went (seconds).
    """

    backend: str = ""
    backend_reason: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    fusions: list[dict[str, Any]] = field(default_factory=list)
    vanished: list[dict[str, Any]] = field(default_factory=list)  # ONNX nodes in no layer, grouped, with why
    timings: dict[str, Any] = field(default_factory=dict)
    artifacts: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def end_to_end_median_ms(self) -> float | None:
        return self.end_to_end.latency.p50 if self.end_to_end is not None else None

    @property
    def sum_of_layer_medians_ms(self) -> float | None:
        values = [l.latency.median_ms for l in self.layers if l.latency is not None and l.latency.median_ms is not None]
        return sum(values) if values else None

    @property
    def raw_sum_of_layer_medians_ms(self) -> float | None:
        """The sum of the per-layer medians as the profiler recorded them (its own overhead included)."""
        values = [(l.latency.raw_median_ms if getattr(l.latency, "raw_median_ms", None) is not None
                   else l.latency.median_ms) for l in self.layers
                  if l.latency is not None and l.latency.median_ms is not None]
        return sum(values) if values else None

    def fusions_frame(self):
        import pandas as pd

        return pd.DataFrame([{**f, "onnx_nodes": list(f.get("onnx_nodes", []))} for f in self.fusions],
                            columns=["layer", "type", "kind", "pattern", "onnx_nodes", "onnx_ops"])

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data["backend"] = self.backend
        data["backend_reason"] = self.backend_reason
        data["settings"] = dict(self.settings)
        data["fusions"] = [dict(f) for f in self.fusions]
        data["vanished"] = [dict(v) for v in self.vanished]
        data["timings"] = dict(self.timings)
        data["artifacts"] = dict(self.artifacts)
        return data
