"""Where a low-precision build loses accuracy, and why each layer runs in the precision it does.

:func:`compare_precision` runs the fp32 model and its fp16 / bf16 / int8 conversion (the build's own
converter chain, :func:`explorer.backends.onnxruntime.convert_precision`, block list included) on the same
inputs with ONNX Runtime on the CPU, every intermediate tensor marked as a graph output, in a child process
(:mod:`explorer.isolation`), and compares each tensor with its fp32 value:

- ``max_abs``: max |a - b| (a = fp32, b = low precision cast back to fp32, in float64);
- ``rel``: :data:`REL_DEFINITION`, max |a - b| / max |a| (0 when both are all zeros, inf when only a is);
- ``cosine``: :data:`COSINE_DEFINITION`, sum(a*b) / (||a|| ||b||) (1 when both are all zeros);
- ``nonfinite``: elements of b that are NaN/inf where a is finite (max_abs and rel are then inf).

The first jump (:data:`JUMP_RULE`): the first node in topological order whose ``rel`` is above
:data:`JUMP_FLOOR` and more than :data:`JUMP_FACTOR` times the largest ``rel`` of the tensors it reads
(graph inputs and weights count as 0): where the error is made, not where it is carried.

Tensors are compared under their original names: a converter's Cast keeps the name of the value it casts
to its output (graph outputs) or reads it under its own (``X_to_fp16``), so the original name is what the
two runs share; for Q/DQ models the value a consumer sees is the DequantizeLinear after the
QuantizeLinear of the tensor (so the quantizing node shows the int8 rounding), mapped back to the tensor.

Per layer (:class:`LayerPrecision`): its precision and the cause, from the converted model and from ONNX
Runtime's own optimized graph (nodes its CPU EP has no fp16 kernel for get ``InsertedPrecisionFreeCast``
nodes: they compute in fp32 whatever the model says); for TensorRT engines :func:`engine_layer_precisions`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import tempfile
import threading
import time
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from ..errors import BuildError

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


# --------------------------------------------------------------------------------------------------------
# The comparison, in the background
# --------------------------------------------------------------------------------------------------------

class ComparisonCancelled(BuildError):
    """The comparison was cancelled."""


class ComparisonJob:
    """:func:`compare_precision` on a background thread, ONNX Runtime in child processes: returns at once.

    ``job.progress`` says what it does (step of 3, seconds so far); ``job.cancel()`` kills the child;
    ``job.result(timeout)`` returns the :class:`PrecisionComparison` or raises; ``add_done_callback(fn)``."""

    STEPS = 3

    def __init__(self, model, precision: str, inputs, seed: int, block: Sequence[str],
                 shapes: Mapping[str, Any] | None, values: Mapping[str, Any] | None,
                 backend: str = "onnxruntime") -> None:
        self.future: futures.Future[PrecisionComparison] = futures.Future()
        self.started = time.monotonic()
        self.step = 0
        self._phase = "starting"
        self._cancel = threading.Event()
        self._pid: int | None = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True, name="explorer-precision",
                                        args=(model, precision, inputs, seed, block, shapes, values, backend))
        self._thread.start()

    @property
    def progress(self) -> str:
        return f"{self._phase} ({time.monotonic() - self.started:.1f} s)"

    def done(self) -> bool:
        return self.future.done()

    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> bool:
        """Stop the comparison (its ONNX Runtime child is killed); False when it had already ended."""
        self._cancel.set()
        with self._lock:
            pid = self._pid
        if pid is not None:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        return not self.future.done()

    def result(self, timeout: float | None = None) -> PrecisionComparison:
        try:
            return self.future.result(timeout)
        except futures.TimeoutError:
            if self.future.done():
                raise
            raise TimeoutError(f"the comparison is still running after {timeout} s") from None

    def add_done_callback(self, fn: Callable[["ComparisonJob"], None]) -> None:
        self.future.add_done_callback(lambda _: fn(self))

    def _call(self, phase: str, task, data: bytes, *args: str) -> bytes:
        from ..isolation import TaskCrashed, TaskFailed, TaskProcess

        if self._cancel.is_set():
            raise ComparisonCancelled("the comparison was cancelled")
        self.step += 1
        self._phase = f"{phase} (step {self.step} of {self.STEPS})"
        worker = TaskProcess(task)
        try:
            pending = worker.submit(data, *args)
            with self._lock:
                self._pid = worker.pid
            if self._cancel.is_set():
                self.cancel()
            return pending.result()
        except TaskFailed as exc:
            raise BuildError(exc.message) from None
        except TaskCrashed as exc:
            if self._cancel.is_set():
                raise ComparisonCancelled("the comparison was cancelled") from None
            raise BuildError(f"ONNX Runtime's comparison run {exc}") from None
        finally:
            with self._lock:
                self._pid = None
            worker.close()

    def _run(self, model, precision, inputs, seed, block, shapes, values, backend) -> None:
        try:
            result = _compare(self, model, precision, inputs, seed, block, shapes, values, backend)
        except BaseException as exc:  # delivered through the future
            if self._cancel.is_set():
                exc = ComparisonCancelled("the comparison was cancelled")
            self._phase = "cancelled" if self._cancel.is_set() else f"failed: {exc}"
            self.future.set_exception(exc)
            return
        if self._cancel.is_set():
            self._phase = "cancelled"
            self.future.set_exception(ComparisonCancelled("the comparison was cancelled"))
            return
        self._phase = f"done: {len(result.rows)} tensors compared"
        self.future.set_result(result)


def start_precision_comparison(model, precision: str = "fp16", inputs=None, seed: int = 0, *,
                               block: Sequence[str] | str = (), shapes: Mapping[str, Any] | None = None,
                               values: Mapping[str, Any] | None = None,
                               backend: str = "onnxruntime") -> ComparisonJob:
    """:func:`compare_precision` in the background: returns a :class:`ComparisonJob` at once. Bad arguments
    raise :class:`BuildError` here."""
    from ..model import Model, load_model
    from .settings import normalize_block, normalize_shapes, normalize_values

    precision = str(precision).lower()
    if precision not in COMPARABLE:
        raise BuildError(f"cannot compare {precision!r} with fp32: choose one of {', '.join(COMPARABLE)}")
    if not isinstance(model, Model):
        model = load_model(model)
    if isinstance(inputs, (str, os.PathLike)) and not os.path.isfile(inputs):
        raise BuildError("no such inputs file", file=os.fspath(inputs), hint="give an .npz file of input arrays")
    if inputs is not None and not isinstance(inputs, (str, os.PathLike, Mapping)):
        raise BuildError(f"inputs must be a dict of numpy arrays or an .npz path, got {type(inputs).__name__}")
    if backend not in BACKENDS:
        raise BuildError(f"unknown comparison backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    return ComparisonJob(model, precision, inputs, int(seed), normalize_block(block),
                         {k: v[1] for k, v in normalize_shapes(shapes).items()}, normalize_values(values), backend)


def compare_precision(model, precision: str = "fp16", inputs=None, seed: int = 0, *,
                      block: Sequence[str] | str = (), shapes: Mapping[str, Any] | None = None,
                      values: Mapping[str, Any] | None = None, backend: str = "onnxruntime",
                      timeout: float | None = None) -> PrecisionComparison:
    """Every intermediate tensor of ``model`` converted to ``precision`` ("fp16", "bf16", "int8"; "fp32"
    compares the model with itself) against fp32, on the same inputs: ``inputs`` a dict of numpy arrays or
    an ``.npz`` path, else random (:func:`explorer.backends.inputs.random_feeds`, ``seed``); ``block``: op
    types and node names the conversion keeps fp32 (as :class:`BuildSettings` ``precision_block``).
    ``backend``: "onnxruntime" (the CPU, every tensor marked as an output) or "tensorrt" / "tensorrt-rtx"
    (a GPU: the engines' debug tensors, which keep fusions; :mod:`explorer.backends.tensorrt.debug_tensors`).
    Runs in child processes. Raises :class:`BuildError`."""
    return start_precision_comparison(model, precision, inputs, seed, block=block, shapes=shapes,
                                      values=values, backend=backend).result(timeout)


def _compare(job: ComparisonJob, model, precision, inputs, seed, block, shapes, values,
             backend: str = "onnxruntime") -> PrecisionComparison:
    import onnx

    from ..model.transforms import name_nodes_by_id
    from .onnxruntime.accuracy import compare_task, convert_task
    from .onnxruntime.inputs import plan_inputs, random_inputs

    label = model.path or model.name
    workdir = tempfile.mkdtemp(prefix="explorer-precision-")
    try:
        job._phase = "preparing inputs"
        if model.path and os.path.isfile(model.path):
            try:
                proto = onnx.load(model.path)  # with its external data, from the model's folder
            except Exception as exc:
                raise BuildError(f"cannot read the model with its weights: {exc}", file=model.path) from None
        elif model.proto is not None:
            proto = onnx.ModelProto()
            proto.CopyFrom(model.proto)
        else:
            raise BuildError("the model has no ONNX graph to run", file=label)
        name_nodes_by_id(proto, model)
        if inputs is None:
            plan = plan_inputs(proto, {k: (v, v, v) for k, v in (shapes or {}).items()}, values)
            feeds = random_inputs(proto, plan.shapes, seed, plan.values)
            described = (f"random (explorer.backends.inputs.random_feeds), seed {seed}" +
                         "".join(f"; {n}" for n in plan.notes()))
        else:
            feeds, described = _given_inputs(proto, inputs)
        inputs_path = os.path.join(workdir, "inputs.npz")
        np.savez(inputs_path, **feeds)
        original_path = os.path.join(workdir, "original.onnx")
        onnx.save_model(proto, original_path)
        options = json.dumps({"precision": precision, "block": list(block), "seed": seed})
        conversion = json.loads(job._call(f"converting to {precision}", convert_task, b"", original_path,
                                          inputs_path, workdir, options))
        if backend == "onnxruntime":
            answer = json.loads(job._call(f"running fp32 and {precision} with every tensor marked", compare_task,
                                          b"", original_path, conversion["path"], inputs_path, json.dumps(conversion)))
        else:
            from .tensorrt.debug_tensors import debug_compare_task

            answer = _debug_rows(model, json.loads(job._call(
                f"building and running fp32 and {precision} engines with debug tensors", debug_compare_task, b"",
                original_path, conversion["path"], inputs_path,
                json.dumps({"library": backend, "precision": precision}))))
        job.step = ComparisonJob.STEPS
        job._phase = "finding the first jump (step 3 of 3)"
        with open(conversion["path"], "rb") as f:
            converted = f.read()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    rows = [TensorError.from_dict(r) for r in answer["rows"]]
    producer = {o: n for n in model.nodes for o in n.outputs}
    through_qdq = {}  # a DequantizeLinear's output -> the tensor its QuantizeLinear read (a model's own Q/DQ)
    for node in model.nodes:
        q = producer.get(node.inputs[0]) if node.op_type == "DequantizeLinear" and node.inputs else None
        if q is not None and q.op_type == "QuantizeLinear" and q.inputs:
            through_qdq[node.outputs[0]] = q.inputs[0]
    layers = [LayerPrecision.from_dict(l) for l in answer["layers"]]
    why = {l.node: l for l in layers if l.node}
    for row in rows:
        layer = why.get(row.node)
        if layer is not None:
            row.precision, row.why = layer.precision, layer.why
    mark_jumps(rows, {n.id: [through_qdq.get(i, i) for i in n.inputs] for n in model.nodes})
    notes = list(conversion.get("notes", []))
    if conversion.get("note"):
        notes.insert(0, conversion["note"])
    notes.extend(answer.get("notes", []))
    return PrecisionComparison(
        model=model.name, precision=precision, source=answer["source"], inputs=described, seed=seed,
        rows=rows, layers=layers, conversion_tool=conversion.get("tool"), block=list(block), notes=notes,
        skipped=answer.get("skipped", []), converted_model=converted)


def _debug_rows(model, answer: dict) -> dict:
    """TensorRT's debug tensors (by ONNX tensor name) as rows of the nodes that produce them."""
    producer = {}
    for index, node in enumerate(model.nodes):
        for name in node.outputs:
            producer[name] = (index, node)
    rows, skipped = [], []
    for t in answer["tensors"]:
        found = producer.get(t["tensor"])
        if found is None:
            skipped.append(f"{t['tensor']}: a TensorRT tensor no ONNX node produces")
            continue
        index, node = found
        rows.append(TensorError(index=index, node=node.id, op_type=node.op_type, tensor=t["tensor"],
                                shape=tuple(t["shape"]), dtype=t["dtype"], max_abs=t["max_abs"], rel=t["rel"],
                                cosine=t["cosine"], nonfinite=t["nonfinite"]).to_dict())
    rows.sort(key=lambda r: r["index"])
    return {"rows": rows, "layers": [], "skipped": skipped, "source": answer["source"],
            "notes": ["per-layer precision of a TensorRT engine: engine_layer_precisions(build.report)"]}


def _given_inputs(proto, inputs) -> tuple[dict[str, np.ndarray], str]:
    """The user's arrays, checked against the model's inputs (names, then cast to the declared types)."""
    from onnx import helper

    from .inputs import graph_input_specs

    if isinstance(inputs, (str, os.PathLike)):
        path = os.fspath(inputs)
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: np.asarray(data[k]) for k in data.files}
        except Exception as exc:
            raise BuildError(f"cannot read the input arrays: {exc}", file=path,
                             hint="give an .npz written by numpy.savez with one array per model input") from None
        described = f"given: {os.path.basename(path)}"
    else:
        arrays = {str(k): np.asarray(v) for k, v in inputs.items()}
        described = "given arrays"
    specs = graph_input_specs(proto)
    names = [n for n, _, _ in specs]
    missing = [n for n in names if n not in arrays]
    extra = [n for n in arrays if n not in names]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"no array for {', '.join(repr(n) for n in missing)}")
        if extra:
            parts.append(f"the model has no input {', '.join(repr(n) for n in extra)}")
        raise BuildError(f"the input arrays do not match the model's inputs: {'; '.join(parts)}",
                         hint=f"its inputs are {', '.join(repr(n) for n in names)}")
    feeds = {}
    for name, elem_type, _ in specs:
        dtype = np.dtype(helper.tensor_dtype_to_np_dtype(elem_type))
        array = arrays[name]
        if array.dtype.kind not in "biuf":
            raise BuildError(f"input {name!r}: an array of {array.dtype} cannot feed the model")
        feeds[name] = array.astype(dtype, copy=False)
    return feeds, described + " (" + ", ".join(f"{n} {'x'.join(map(str, feeds[n].shape)) or 'scalar'}"
                                               for n in names) + ")"


__all__ = ["COMPARABLE", "COSINE_DEFINITION", "ComparisonCancelled", "ComparisonJob", "JUMP_FACTOR", "JUMP_FLOOR",
           "JUMP_RULE", "LayerPrecision", "PrecisionComparison", "REL_DEFINITION", "TensorError", "compare_precision",
           "engine_layer_precisions", "mark_jumps", "start_precision_comparison", "tensor_error"]
