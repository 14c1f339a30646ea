"""Reformat and copy layers: where TensorRT moves data between formats, between which layers, why, and what
it costs.

Which layers count (TREx's reformat overview groups layers whose type is ``Reformat`` by their ``Origin``; this
list adds the reformats TensorRT marks ``NoOp`` and the copies other layer types make):

* ``Reformatting CopyNode for Input|Output Tensor N to <layer>`` (LayerType ``Reformat``, or ``NoOp`` when no
  kernel runs);
* any layer of type ``Reformat``: ``Origin: REFORMAT``, ``Origin: QDQ`` (a model's QuantizeLinear run as a
  type-changing reformat), ``<tensor> copy`` (TensorRT 10);
* ``__myl_Move*`` kernels of a Myelin region (TensorRT-RTX, TensorRT 10): Myelin's own layout changes;
* a ``Shuffle`` whose input and output have the same dimensions and different formats (a copy);
* ONNX Runtime's ``ReorderInput`` / ``ReorderOutput`` (its NCHWc transformer's layout changes between plain NCHW
  and the blocked-channel NCHWc layout its NCHWc kernels use), in ONNX Runtime builds.

The producer and consumer come from tensor names (the layer writing the reformat's input, the layers reading
its output; network inputs and outputs by name), the change from the two tensors' formats (TensorRT's own
words), the cause from those: a network input/output binding, a precision change at a boundary, a layout a
tactic needs, Q/DQ placement, or no kernel at all (NoOp). Time is the profile's per-layer figure
(:attr:`Layer.latency_ms`), its share of :attr:`EngineReport.latency_ms_total`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Protocol

from ..dtypes import canonical_dtype
from .mapping import reformat_target

Layer = TensorDesc = Any  # explorer.engine.report.Layer/TensorDesc (report.py calls in here: not imported)


class EngineReport(Protocol):
    """What finding reformats needs of an :class:`explorer.engine.report.EngineReport`."""

    layers: list
    io_tensors: list

    @property
    def latency_ms_total(self) -> float | None: ...

#: ONNX Runtime's layout changes (com.microsoft.nchwc domain): (from, to) layout
_ORT_REORDER = {"ReorderInput": ("NCHW", "NCHWc (blocked channels)"), "ReorderOutput": ("NCHWc (blocked channels)", "NCHW")}


#: causes, in the order the summary lists them
CAUSES = ("network input", "network output", "precision", "layout", "Q/DQ", "copy", "NoOp")


@dataclass(frozen=True)
class Reformat:
    """One reformat or copy layer, between the layers it joins."""

    layer: str
    kind: str  # "reformat" | "reformat (NoOp)" | "quantize (Q/DQ)" | "copy" | "Myelin move" | "copy (Shuffle)"
    producer: str | None  # engine layer writing its input; "network input <name>" for a binding
    consumers: tuple[str, ...]  # engine layers reading its output; ("network output <name>",) for a binding
    input_tensor: str | None
    output_tensor: str | None
    from_format: str | None  # TensorRT's words: "Row major linear FP32"
    to_format: str | None  # "Channel major FP16 format where channel % 4 == 0"
    from_dtype: str | None  # FP32, FP16, INT8, ...
    to_dtype: str | None
    cause: str  # one of CAUSES
    reason: str  # the cause in words
    latency_ms: float | None = None  # Layer.latency_ms (the profile's median, or mean without one)
    share: float | None = None  # % of EngineReport.latency_ms_total
    statistic: str | None = None
    source: str | None = None  # of latency_ms

    @property
    def consumer(self) -> str | None:
        return ", ".join(self.consumers) if self.consumers else None

    @property
    def change(self) -> str:
        """``FP32 -> FP16: Row major linear -> Channel major where channel % 4 == 0`` (type, then layout)."""
        parts = []
        if self.from_dtype and self.to_dtype and self.from_dtype != self.to_dtype:
            parts.append(f"{self.from_dtype} -> {self.to_dtype}")
        a, b = layout_of(self.from_format), layout_of(self.to_format)
        if a != b:
            parts.append(f"{a or '?'} -> {b or '?'}")
        return ": ".join(parts) if parts else "no change of format or type"

    def to_dict(self) -> dict:
        return {**asdict(self), "consumer": self.consumer, "change": self.change}


@dataclass(frozen=True)
class ReformatSummary:
    """Totals over :func:`find_reformats`: how many, and the time in them (when a profile gives it)."""

    count: int
    timed: int  # of them with a latency
    total_ms: float | None  # sum of their Layer.latency_ms
    share: float | None  # % of latency_ms_total
    latency_ms_total: float | None  # all layers, same statistic
    statistic: str | None
    source: str | None  # of the latencies
    by_cause: tuple[tuple[str, int, float | None], ...]  # (cause, count, ms)

    def line(self) -> str:
        """One sentence with the totals and their source, as the CLI and the app print it."""
        if not self.count:
            return "no reformat or copy layers"
        text = f"{self.count} reformat/copy layer(s)"
        if self.total_ms is not None:
            share = f"{self.share:.2f}% of {self.latency_ms_total:.4f} ms, " if self.share is not None else ""
            text += (f": {self.total_ms:.4f} ms ({share}sum of per-layer {self.statistic}s of {self.timed} timed; "
                     f"{self.source})")
        else:
            text += ": no per-layer times (give the engine's profile, e.g. trtexec --exportProfile)"
        return text

    def to_dict(self) -> dict:
        return {**asdict(self), "by_cause": [{"cause": c, "count": n, "ms": ms} for c, n, ms in self.by_cause]}


def layout_of(fmt: str | None) -> str | None:
    """A format without its element type: ``Channel major FP16 format where channel % 8 == 0`` ->
    ``Channel major where channel % 8 == 0``; ``Float (NHWC) Channel major format`` -> ``(NHWC) Channel major``."""
    if not fmt:
        return None
    dtype = canonical_dtype(fmt)
    words = [w for w in fmt.split() if w.lower() != "format" and not (dtype and canonical_dtype(w) == dtype
                                                                         and w.isalnum())]
    return " ".join(words) or None


def reformat_kind(layer: "Layer") -> str | None:
    """Whether ``layer`` is a reformat or copy, and which (None: it is not; see the module doc)."""
    kind = (layer.type or "").strip()
    if reformat_target(layer.name) is not None:
        return "reformat (NoOp)" if kind == "NoOp" else "reformat"
    if kind == "Reformat" or layer.parameter_type == "Reformat":
        if layer.origin == "QDQ":
            return "quantize (Q/DQ)"
        return "copy" if layer.name.endswith(" copy") else "reformat"
    if layer.name.startswith("__myl_Move"):
        return "Myelin move"
    if kind.rpartition("::")[2] in _ORT_REORDER:
        return "ONNX Runtime reorder"
    if kind == "Shuffle" and layer.inputs and layer.outputs:
        a, b = layer.inputs[0], layer.outputs[0]
        if a.shape is not None and a.shape == b.shape and a.format and b.format and a.format != b.format:
            return "copy (Shuffle)"
    return None


def find_reformats(report: "EngineReport") -> list[Reformat]:
    """Every reformat/copy layer of ``report`` in engine order, with producer, consumers, change and cause."""
    produced: dict[str, str] = {}
    consumed: dict[str, list[str]] = {}
    for layer in report.layers:
        for t in layer.outputs:
            produced.setdefault(t.name, layer.name)
        for t in layer.inputs:
            consumed.setdefault(t.name, []).append(layer.name)
    io_in = {t.name for t in report.io_tensors if t.io_mode == "INPUT"}
    io_out = {t.name for t in report.io_tensors if t.io_mode == "OUTPUT"}
    by_name = {layer.name: layer for layer in report.layers}
    total = report.latency_ms_total
    out = []
    for layer in report.layers:
        kind = reformat_kind(layer)
        if kind is None:
            continue
        src = layer.inputs[0] if layer.inputs else None
        dst = layer.outputs[0] if layer.outputs else None
        target = reformat_target(layer.name)  # "Reformatting CopyNode for Input|Output Tensor N to <target>"
        named = target is not None
        side = "Output" if layer.name.startswith("Reformatting CopyNode for Output ") else "Input"
        producer = produced.get(src.name) if src is not None else None
        if producer is None and src is not None and (src.name in io_in or (not io_in and not named)):
            producer = f"network input {src.name}"
        if producer is None and named and side == "Output":
            producer = target
        consumers = tuple(c for c in consumed.get(dst.name, []) if c != layer.name) if dst is not None else ()
        if dst is not None and dst.name in io_out:
            consumers += (f"network output {dst.name}",)
        if not consumers and named and side == "Input":
            consumers = (target,)
        if not consumers and dst is not None and not io_out and not consumed.get(dst.name):
            consumers = (f"network output {dst.name}",)
        from_format, to_format = (src.format if src else None), (dst.format if dst else None)
        if kind == "ONNX Runtime reorder":
            from_format, to_format = _ORT_REORDER[(layer.type or "").rpartition("::")[2]]
        cause, reason = _cause(layer, kind, src, dst, producer, consumers, by_name)
        share = (100.0 * layer.latency_ms / total) if layer.latency is not None and total else None
        out.append(Reformat(
            layer=layer.name, kind=kind, producer=producer, consumers=consumers,
            input_tensor=src.name if src else None, output_tensor=dst.name if dst else None,
            from_format=from_format, to_format=to_format,
            from_dtype=src.dtype if src else None, to_dtype=dst.dtype if dst else None,
            cause=cause, reason=reason, latency_ms=layer.latency_ms, share=share,
            statistic=layer.latency_statistic, source=layer.latency.source if layer.latency else None))
    return out


def summarize(report: "EngineReport", reformats: list[Reformat] | None = None) -> ReformatSummary:
    """Count and time of the reformat/copy layers, in total and per cause."""
    items = find_reformats(report) if reformats is None else reformats
    timed = [r for r in items if r.latency_ms is not None]
    total_ms = sum(r.latency_ms for r in timed) if timed else None
    overall = report.latency_ms_total
    sources = list(dict.fromkeys(r.source for r in timed if r.source))
    kinds = {r.statistic for r in timed}
    by_cause = []
    for cause in CAUSES:
        group = [r for r in items if r.cause == cause]
        if group:
            ms = [r.latency_ms for r in group if r.latency_ms is not None]
            by_cause.append((cause, len(group), sum(ms) if ms else None))
    return ReformatSummary(
        count=len(items), timed=len(timed), total_ms=total_ms,
        share=(100.0 * total_ms / overall) if total_ms is not None and overall else None,
        latency_ms_total=overall,
        statistic=(kinds.pop() if len(kinds) == 1 else "median (mean where the source has none)") if timed else None,
        source="; ".join(sources) or None, by_cause=tuple(by_cause))


def _cause(layer, kind: str, src: "TensorDesc | None", dst: "TensorDesc | None", producer: str | None,
           consumers: tuple[str, ...], by_name: dict) -> tuple[str, str]:
    a_type, b_type = (src.dtype if src else None), (dst.dtype if dst else None)
    a_fmt, b_fmt = (src.format if src else None), (dst.format if dst else None)
    type_change = bool(a_type and b_type and a_type != b_type)
    layout_change = layout_of(a_fmt) != layout_of(b_fmt)
    what = " and ".join(w for w, on in (("precision", type_change), ("layout", layout_change)) if on) or "no"
    reader = consumers[0] if consumers else "its consumer"
    writer = producer or "its producer"
    if kind == "quantize (Q/DQ)":
        return "Q/DQ", (f"Q/DQ placement: the model's {layer.name} runs as a type-changing reformat "
                        f"({a_type or '?'} -> {b_type or '?'}), where the model puts its QuantizeLinear")
    if kind == "ONNX Runtime reorder":
        op = (layer.type or "").rpartition("::")[2]
        a, b = _ORT_REORDER[op]
        return "layout", (f"layout change at the edge of ONNX Runtime's NCHWc kernels: {op} turns {writer}'s {a} output into "
                          f"{b} for {reader}")
    if kind == "reformat (NoOp)":
        return "NoOp", f"no kernel runs: the engine marks it NoOp ({a_fmt} -> {b_fmt} needs no copy here)"
    if producer and producer.startswith("network input "):
        return "network input", (f"network input binding: {src.name} arrives as {a_fmt}; {reader} reads {b_fmt} "
                                 f"({what} change)")
    if any(c.startswith("network output ") for c in consumers):
        return "network output", (f"network output binding: {writer} writes {a_fmt}; the output {dst.name} is "
                                  f"bound as {b_fmt} ({what} change)")
    if type_change:
        return "precision", f"precision change at a boundary: {writer} writes {a_type}, {reader} reads {b_type}"
    if layout_change:
        tactic = getattr(by_name.get(reader), "tactic_name", None) or getattr(by_name.get(reader), "tactic", None)
        using = f" (tactic {tactic})" if tactic else ""
        return "layout", (f"layout change for a tactic: {reader}{using} reads {layout_of(b_fmt)}, {writer} writes "
                          f"{layout_of(a_fmt)}")
    return "copy", f"a copy between {writer} and {reader} with no change of format or type"


__all__ = ["CAUSES", "Reformat", "ReformatSummary", "find_reformats", "layout_of", "reformat_kind", "summarize"]
