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

import json
import os
import shutil
import signal
import tempfile
import threading
import time
from concurrent import futures
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ...errors import BuildError

from .metrics import (BACKENDS, CAUSE_BLOCK_LIST, CAUSE_CAST, CAUSE_CONVERTED, CAUSE_DEFAULT_BLOCK, CAUSE_KEPT,
                      CAUSE_MODEL_TYPES, CAUSE_NO_KERNEL, CAUSE_NOT_FLOAT, CAUSE_QDQ, CAUSE_STRONGLY_TYPED, COMPARABLE,
                      COSINE_DEFINITION, JUMP_FACTOR, JUMP_FLOOR, JUMP_RULE, REL_DEFINITION, LayerPrecision,
                      PrecisionComparison, TensorError, engine_layer_precisions, mark_jumps, tensor_error)


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
        from ...isolation import TaskCrashed, TaskFailed, TaskProcess

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
    from ...model import Model, load_model
    from ..settings import normalize_block, normalize_shapes, normalize_values

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

    from ...model.transforms import name_nodes_by_id
    from ..onnxruntime.accuracy import compare_task, convert_task
    from ..onnxruntime.inputs import plan_inputs, random_inputs

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
            from ..tensorrt.debug_tensors import debug_compare_task

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

    from ..inputs import graph_input_specs

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


__all__ = ["BACKENDS", "CAUSE_BLOCK_LIST", "CAUSE_CAST", "CAUSE_CONVERTED", "CAUSE_DEFAULT_BLOCK", "CAUSE_KEPT",
           "CAUSE_MODEL_TYPES", "CAUSE_NO_KERNEL", "CAUSE_NOT_FLOAT", "CAUSE_QDQ", "CAUSE_STRONGLY_TYPED",
           "COMPARABLE", "COSINE_DEFINITION", "ComparisonCancelled", "ComparisonJob", "JUMP_FACTOR", "JUMP_FLOOR",
           "JUMP_RULE", "LayerPrecision", "PrecisionComparison", "REL_DEFINITION", "TensorError", "compare_precision",
           "engine_layer_precisions", "mark_jumps", "start_precision_comparison", "tensor_error"]
