"""The figures of a precision comparison and their definitions, one home for both: the per-tensor error
(:func:`tensor_error`, :data:`REL_DEFINITION`, :data:`COSINE_DEFINITION`), the first jump (:data:`JUMP_RULE`),
the per-layer precision causes, and the typed rows the backends fill (:class:`TensorError`,
:class:`LayerPrecision`, :class:`PrecisionComparison`). The ONNX Runtime and TensorRT halves import these from
here; :mod:`explorer.backends.accuracy` runs them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np


#: the relative error, exactly as computed (and named in every output)
REL_DEFINITION = "max|a-b| / max|a| (a = fp32 tensor, b = low-precision tensor as fp32)"
COSINE_DEFINITION = "sum(a*b) / (||a|| * ||b||), float64"
#: the first-jump rule's constants
JUMP_FLOOR = 1e-2
JUMP_FACTOR = 10.0
JUMP_RULE = (f"first node (topological order) whose relative error is > {JUMP_FLOOR:g} and > {JUMP_FACTOR:g}x "
             "the largest relative error of the tensors it reads (graph inputs and weights: 0)")
COMPARABLE = ("fp16", "bf16", "int8", "fp32")
BACKENDS = ("onnxruntime", "tensorrt", "tensorrt-rtx")

# causes of a layer's precision (the words shown in the "why" column)
CAUSE_CONVERTED = "converted"
CAUSE_BLOCK_LIST = "kept fp32: in block list"
CAUSE_DEFAULT_BLOCK = "kept fp32: in the converter's default block list"
CAUSE_KEPT = "kept fp32 by the converter"
CAUSE_CAST = "inserted cast"
CAUSE_NO_KERNEL = "no low-precision kernel"
CAUSE_QDQ = "Q/DQ placement"
CAUSE_STRONGLY_TYPED = "strongly typed inputs"
CAUSE_MODEL_TYPES = "the model's types"
CAUSE_NOT_FLOAT = "not a float computation"


@dataclass
class TensorError:
    """One compared tensor: the node that produced it and its error against fp32."""

    index: int  # topological position of the producing node
    node: str  # explorer node id (the node's name in the converted model too)
    op_type: str
    tensor: str
    shape: tuple[int, ...]
    dtype: str  # element type in the low-precision run (FLOAT16, FLOAT, ...)
    max_abs: float
    rel: float
    cosine: float
    nonfinite: int = 0
    input_rel: float = 0.0  # largest rel of the tensors the node reads
    jump: bool = False
    precision: str = ""  # the node's precision in the converted model (see LayerPrecision)
    why: str = ""

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["shape"] = list(self.shape)
        for key in ("max_abs", "rel", "cosine", "input_rel"):
            value = data[key]
            data[key] = value if value is not None and np.isfinite(value) else (None if value != value else str(value))
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "TensorError":
        values = {f.name: data[f.name] for f in dataclasses.fields(cls) if f.name in data}
        values["shape"] = tuple(int(d) for d in values.get("shape", ()))
        for key in ("max_abs", "rel", "cosine", "input_rel"):
            if key in values:
                values[key] = float(values[key]) if values[key] is not None else float("nan")
        return cls(**values)


@dataclass
class LayerPrecision:
    """Why one layer (an ONNX node of the converted model, or an engine layer) runs in its precision."""

    layer: str
    op_type: str
    precision: str  # FP32 / FP16 / BF16 / INT8 / INT64 ...
    cause: str  # one of the CAUSE_* words
    detail: str = ""
    node: str | None = None  # the original node's id (None for inserted casts and Q/DQ)
    source: str = ""

    @property
    def why(self) -> str:
        return f"{self.cause}: {self.detail}" if self.detail else self.cause

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "LayerPrecision":
        return cls(**{f.name: data[f.name] for f in dataclasses.fields(cls) if f.name in data})


@dataclass
class PrecisionComparison:
    """The result of :func:`compare_precision`: per-tensor errors in topological order, the first jump, and
    the per-layer precision with its cause. ``source`` names what ran (``"onnxruntime 1.32 CPU, fp16 vs fp32,
    all outputs marked"``); ``inputs`` what the runs were fed."""

    model: str
    precision: str
    source: str
    inputs: str
    seed: int
    rows: list[TensorError]
    layers: list[LayerPrecision]
    conversion_tool: str | None = None
    block: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # tensors not compared (not float, empty, not in both)
    rel_definition: str = REL_DEFINITION
    cosine_definition: str = COSINE_DEFINITION
    jump_rule: str = JUMP_RULE
    converted_model: bytes = field(default=b"", repr=False)  # the low-precision model that ran

    @property
    def first_jump(self) -> TensorError | None:
        return next((r for r in self.rows if r.jump), None)

    def by_node(self) -> dict[str, TensorError]:
        """Node id -> its worst output tensor (largest rel)."""
        out: dict[str, TensorError] = {}
        for row in self.rows:
            old = out.get(row.node)
            if old is None or _order(row.rel) > _order(old.rel):
                out[row.node] = row
        return out

    def frame(self):
        import pandas as pd

        return pd.DataFrame([dataclasses.asdict(r) for r in self.rows],
                            columns=[f.name for f in dataclasses.fields(TensorError)])

    def layers_frame(self):
        import pandas as pd

        return pd.DataFrame([{**dataclasses.asdict(l), "why": l.why} for l in self.layers],
                            columns=[*(f.name for f in dataclasses.fields(LayerPrecision)), "why"])

    def summary(self) -> str:
        lines = [f"{self.model}: {self.precision} vs fp32 ({self.source}; inputs: {self.inputs})",
                 f"{len(self.rows)} tensors compared; relative error = {self.rel_definition}"]
        if self.rows:
            worst = max(self.rows, key=lambda r: _order(r.rel))
            lines.append(f"worst: {worst.tensor} ({worst.op_type} {worst.node}) rel {worst.rel:.3g}, "
                         f"max abs {worst.max_abs:.3g}, cosine {worst.cosine:.6f}")
        jump = self.first_jump
        lines.append(f"first jump: {jump.node} ({jump.op_type}) rel {jump.rel:.3g} after inputs at "
                     f"{jump.input_rel:.3g}" if jump else "first jump: none")
        lines.append(f"rule: {self.jump_rule}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        jump = self.first_jump
        return {"model": self.model, "precision": self.precision, "source": self.source, "inputs": self.inputs,
                "seed": self.seed, "conversion_tool": self.conversion_tool, "block": list(self.block),
                "rel_definition": self.rel_definition, "cosine_definition": self.cosine_definition,
                "jump_rule": self.jump_rule, "first_jump": jump.to_dict() if jump else None,
                "rows": [r.to_dict() for r in self.rows], "layers": [l.to_dict() for l in self.layers],
                "notes": list(self.notes), "skipped": list(self.skipped)}


def _order(value: float) -> float:
    return -1.0 if value != value else value  # NaN sorts first


# --------------------------------------------------------------------------------------------------------
# The statistics (one home: the child computes them with these functions; tests recompute them with numpy)
# --------------------------------------------------------------------------------------------------------

def tensor_error(reference: np.ndarray, low: np.ndarray) -> tuple[float, float, float, int]:
    """(max_abs, rel, cosine, nonfinite) of ``low`` against ``reference`` (see the module docstring)."""
    a = np.asarray(reference, dtype=np.float64).ravel()
    b = np.asarray(low).astype(np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    finite = np.isfinite(a)
    nonfinite = int(np.count_nonzero(finite & ~np.isfinite(b)))
    a, b = a[finite], b[finite]
    if nonfinite:
        return float("inf"), float("inf"), float("nan"), nonfinite
    if a.size == 0:
        return 0.0, 0.0, 1.0, 0
    diff = np.abs(a - b)
    max_abs = float(diff.max())
    scale = float(np.abs(a).max())
    rel = max_abs / scale if scale > 0 else (0.0 if max_abs == 0 else float("inf"))
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na == 0 and nb == 0:
        cosine = 1.0
    elif na == 0 or nb == 0:
        cosine = 0.0
    else:
        cosine = float(np.dot(a, b) / (na * nb))
    return max_abs, rel, cosine, 0


def mark_jumps(rows: list[TensorError], reads: Mapping[str, Sequence[str]]) -> None:
    """Fill ``input_rel`` and ``jump`` (only the first row that passes :data:`JUMP_RULE`) in place;
    ``reads``: node id -> the tensors it reads."""
    rel_of = {r.tensor: r.rel for r in rows}
    found = False
    for row in rows:
        inputs = [rel_of[t] for t in reads.get(row.node, ()) if t in rel_of and rel_of[t] == rel_of[t]]
        row.input_rel = max(inputs, default=0.0)
        row.jump = False
        if not found and row.rel == row.rel and row.rel > JUMP_FLOOR and row.rel > JUMP_FACTOR * row.input_rel:
            row.jump = found = True


# --------------------------------------------------------------------------------------------------------
# TensorRT engines: the precision of each layer and why
# --------------------------------------------------------------------------------------------------------

def engine_layer_precisions(report, *, strongly_typed: bool | None = None,
                            source: str = "") -> list[LayerPrecision]:
    """Why each layer of an engine report runs in its precision: Q/DQ placement (int8 layers, or layers
    reading a DequantizeLinear), reformat/cast layers, and for strongly typed networks (TensorRT 11,
    TensorRT-RTX) the type follows the inputs; for weakly typed TensorRT 10 the builder chose among the
    precisions its flags allowed (the fastest tactic)."""
    out = []
    for layer in report.layers:
        precision = (layer.precision or "?").upper()
        ops = {n.split("/")[-1] for n in layer.onnx_nodes}
        kind = (layer.type or "").lower()
        dequant = any("dequantize" in o.lower() or "quantize" in o.lower() for o in ops) or "quantiz" in layer.name.lower()
        if precision.startswith("INT8") or precision.startswith("FP8") or dequant:
            cause, detail = CAUSE_QDQ, "int8 where Q/DQ nodes surround it (the model's quantization)"
        elif "reformat" in kind or layer.name.startswith("Reformatting CopyNode"):
            cause, detail = CAUSE_CAST, "a reformat/copy layer the builder inserted between formats or types"
        elif strongly_typed:
            cause, detail = CAUSE_STRONGLY_TYPED, (f"strongly typed network: {precision} because its inputs are "
                                                   f"(the ONNX model's types decide)")
        elif strongly_typed is False:
            cause, detail = "builder's choice", ("weakly typed build: the builder picked the fastest precision its "
                                                 "flags allow for this layer")
        else:
            cause, detail = "builder's choice", ("this source does not say whether the network was strongly typed "
                                                 "(the type follows the inputs) or built with precision flags")
        out.append(LayerPrecision(layer=layer.name, op_type=layer.type or "", precision=precision, cause=cause,
                                  detail=detail, node=layer.onnx_nodes[0] if len(layer.onnx_nodes) == 1 else None,
                                  source=source))
    return out


