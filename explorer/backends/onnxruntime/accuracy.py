"""The two child-process steps of :func:`explorer.backends.accuracy.compare_precision`.

:func:`convert_task`: the model in the low precision through the build's own converter chain
(:func:`.convert.convert_precision`, the block list included; int8 calibrated on random batches as builds
are). :func:`compare_task`: the fp32 and the converted model with every tensor marked as a graph output
(Polygraphy's ``ModifyOutputs(outputs=MARK_ALL)``), run once each on the same inputs by ONNX Runtime's CPU
EP with graph optimizations off (so every ONNX tensor exists as written; ONNX Runtime's own
``InsertCastTransformer`` still runs, and the saved optimized graph shows where it inserted Casts for ops
without an fp16 kernel), then each tensor compared with :func:`explorer.backends.accuracy.tensor_error` and
each node of the converted model given its precision and cause.
"""

from __future__ import annotations

import json
import os

import numpy as np
import onnx
from onnx import TensorProto

from ...errors import BuildError
from ...isolation import isolated_task
from ...model.quantization import has_qdq
from ..accuracy.metrics import (CAUSE_BLOCK_LIST, CAUSE_CAST, CAUSE_CONVERTED, CAUSE_DEFAULT_BLOCK, CAUSE_KEPT,
                        CAUSE_MODEL_TYPES, CAUSE_NO_KERNEL, CAUSE_NOT_FLOAT, CAUSE_QDQ, LayerPrecision, TensorError,
                        tensor_error)
from .convert import CALIBRATION_BATCHES, convert_precision
from .inputs import random_inputs
from .session import ort_message, version

#: the name ONNX Runtime's InsertCastTransformer gives the Casts it adds around ops without an fp16 kernel
ORT_INSERTED_CAST = "InsertedPrecisionFreeCast_"
_Q, _DQ = "QuantizeLinear", "DequantizeLinear"
_NAMES = {TensorProto.FLOAT: "FP32", TensorProto.FLOAT16: "FP16", TensorProto.BFLOAT16: "BF16",
          TensorProto.DOUBLE: "FP64", TensorProto.INT8: "INT8", TensorProto.UINT8: "UINT8"}


def _feeds(path: str) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


@isolated_task("convert_for_comparison")
def convert_task(_: bytes, model_path: str, inputs_path: str, workdir: str, options_json: str) -> bytes:
    """Convert the model at ``model_path``; writes ``converted.onnx`` in ``workdir``, returns the
    :class:`.convert.Conversion` as JSON with its ``path``."""
    options = json.loads(options_json)
    precision, block, seed = options["precision"], options.get("block") or [], int(options.get("seed", 0))
    proto = onnx.load(model_path)
    calibration = None
    if precision == "int8" and not has_qdq(proto):
        shapes = {k: v.shape for k, v in _feeds(inputs_path).items()}
        calibration = [random_inputs(proto, shapes, seed + 1 + i) for i in range(CALIBRATION_BATCHES)]
    converted, conversion = convert_precision(proto, precision, calibration=calibration, workdir=workdir, block=block)
    target = os.path.join(workdir, "converted.onnx")
    onnx.save_model(converted, target)
    answer = {**conversion.to_dict(), "path": target, "block": block}
    if precision == "int8" and not conversion.changed and has_qdq(proto):
        reference = os.path.join(workdir, "reference.onnx")
        onnx.save_model(without_activation_qdq(proto), reference)
        answer["reference_path"] = reference
        answer["notes"] = [*answer.get("notes", []), (
            "the model already has Q/DQ nodes: the fp32 reference is the same model with its activation "
            "QuantizeLinear -> DequantizeLinear pairs bypassed (its weights stay as the model stores them)")]
    return json.dumps(answer).encode()


def without_activation_qdq(proto: onnx.ModelProto) -> onnx.ModelProto:
    """``proto`` with every QuantizeLinear -> DequantizeLinear pair bypassed: consumers read the tensor the
    QuantizeLinear quantized (fp32 activations); weights stored as int8 keep their DequantizeLinear."""
    model = onnx.ModelProto()
    model.CopyFrom(proto)
    graph = model.graph
    producer = {o: n for n in graph.node for o in n.output}
    outputs = {o.name for o in graph.output}
    alias = {}
    for dq in graph.node:
        q = producer.get(dq.input[0]) if dq.op_type == _DQ and dq.input else None
        if q is None or q.op_type != _Q:
            continue
        if dq.output[0] in outputs:  # a graph output keeps its name: an Identity of the unquantized tensor
            dq.op_type, dq.domain = "Identity", ""
            del dq.input[:]
            dq.input.append(q.input[0])
            del dq.attribute[:]
        else:
            alias[dq.output[0]] = q.input[0]
    for node in graph.node:
        for k, name in enumerate(node.input):
            if name in alias:
                node.input[k] = alias[name]
    used = {i for n in graph.node for i in n.input} | outputs
    keep = [n for n in graph.node if any(o in used for o in n.output)]
    while len(keep) != len(graph.node):  # the bypassed pairs, then what only they read
        del graph.node[:]
        graph.node.extend(keep)
        used = {i for n in graph.node for i in n.input} | outputs
        keep = [n for n in graph.node if any(o in used for o in n.output)]
    return model


@isolated_task("compare_precision")
def compare_task(_: bytes, original_path: str, converted_path: str, inputs_path: str, conversion_json: str) -> bytes:
    """Run both models with every tensor marked; the per-tensor errors and per-node precisions as JSON."""
    import onnxruntime as ort
    from polygraphy import constants
    from polygraphy.backend.onnx import modify_outputs

    conversion = json.loads(conversion_json)
    precision = conversion["precision"]
    original = onnx.load(original_path)
    converted = onnx.load(converted_path)
    reference_model = onnx.load(conversion["reference_path"]) if conversion.get("reference_path") else original
    feeds = _feeds(inputs_path)
    optimized_path = os.path.join(os.path.dirname(converted_path), "ort_optimized.onnx")

    def run(proto, optimized: str | None):
        marked = modify_outputs(proto, outputs=constants.MARK_ALL)
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        so.log_severity_level = 3
        if optimized:
            so.optimized_model_filepath = optimized
        try:
            session = ort.InferenceSession(marked.SerializeToString(), so, providers=["CPUExecutionProvider"])
            names = [o.name for o in session.get_outputs()]
            return dict(zip(names, session.run(names, feeds)))
        except Exception as exc:
            message = ort_message(exc)
            hint = (f"ONNX Runtime's CPU EP has no {precision} kernel for an op of this model: compare {precision} "
                    "on a GPU (TensorRT debug tensors), or block that op") if "NOT_IMPLEMENTED" in message else None
            raise BuildError(f"ONNX Runtime could not run the {'converted' if optimized else 'fp32'} model with "
                             f"every tensor marked: {message}", hint=hint) from None

    reference = run(reference_model, None)
    low = run(converted, optimized_path)
    ort_fp32 = _ort_fp32_nodes(optimized_path)
    seen_as = _delivered_names(original, converted)

    rows, skipped = [], []
    index = 0
    for node in original.graph.node:
        for tensor in node.output:
            if not tensor or node.op_type == "Constant":  # a value, not a computation (Polygraphy marks none)
                continue
            if node.op_type in (_Q, _DQ) and reference_model is not original:
                continue  # the model's own Q/DQ: bypassed in the reference
            a = reference.get(tensor)
            b = low.get(seen_as.get(tensor, tensor))
            if a is None or b is None:
                skipped.append(f"{tensor}: not an output of both runs")
                continue
            a, b = np.asarray(a), np.asarray(b)
            if a.dtype.kind != "f":
                continue  # shapes, indices, masks: not a precision question
            if a.size == 0 or a.shape != b.shape:
                skipped.append(f"{tensor}: {'empty' if a.size == 0 else f'shapes {a.shape} vs {b.shape}'}")
                continue
            max_abs, rel, cosine, nonfinite = tensor_error(a, b)
            rows.append(TensorError(index=index, node=node.name, op_type=node.op_type, tensor=tensor,
                                    shape=tuple(int(d) for d in a.shape), dtype=_dtype_name(b.dtype),
                                    max_abs=max_abs, rel=rel, cosine=cosine, nonfinite=nonfinite).to_dict())
        index += 1
    layers = layer_precisions(original, converted, conversion, ort_fp32)
    source = f"onnxruntime {version()} CPU, {precision} vs fp32, all outputs marked"
    notes = ["graph optimizations off in both runs (ORT_DISABLE_ALL): every ONNX tensor exists as written"]
    if ort_fp32:
        notes.append(f"ONNX Runtime's CPU EP has no {precision} kernel for {len(ort_fp32)} node(s): it inserted Casts "
                     "and runs them in fp32 (source: its optimized graph)")
    return json.dumps({"rows": rows, "layers": [l.to_dict() for l in layers], "skipped": skipped, "source": source,
                       "notes": notes}).encode()


def _delivered_names(original: onnx.ModelProto, converted: onnx.ModelProto) -> dict[str, str]:
    """Original tensor -> the name it has in the converted model, where that differs: the same output of the
    same node (converters rename the outputs of nodes they keep fp32, e.g. onnxconverter-common's
    ``X_output_cast_0``); and a tensor quantized by a QuantizeLinear -> DequantizeLinear pair is delivered to
    its consumers as the DequantizeLinear's output."""
    by_name = {n.name: n for n in converted.graph.node if n.name}
    out = {}
    for node in original.graph.node:
        now = by_name.get(node.name)
        if now is None or now.op_type != node.op_type:
            continue
        for before, after in zip(node.output, now.output):
            if before and after and before != after:
                out[before] = after
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in converted.graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    for node in original.graph.node:
        for name in node.output:
            here = out.get(name, name)
            for q in consumers.get(here, []):
                if q.op_type != _Q:
                    continue
                dq = next((d for d in consumers.get(q.output[0], []) if d.op_type == _DQ), None)
                if dq is not None:
                    out[name] = dq.output[0]
    return out


def _ort_fp32_nodes(optimized_path: str) -> set[str]:
    """Nodes ONNX Runtime runs in fp32 behind its own Casts (InsertCastTransformer: no fp16 kernel on this EP)."""
    if not os.path.exists(optimized_path):
        return set()
    graph = onnx.load(optimized_path, load_external_data=False).graph
    to_fp32 = set()
    for node in graph.node:
        if node.op_type == "Cast" and node.name.startswith(ORT_INSERTED_CAST):
            target = next((a.i for a in node.attribute if a.name == "to"), None)
            if target == TensorProto.FLOAT:
                to_fp32.update(node.output)
    return {n.name for n in graph.node if n.op_type != "Cast" and any(i in to_fp32 for i in n.input)}


def _types(model: onnx.ModelProto) -> dict[str, int]:
    try:
        model = onnx.shape_inference.infer_shapes(model)
    except Exception:
        pass
    g = model.graph
    types = {t.name: t.data_type for t in g.initializer}
    for vi in list(g.input) + list(g.value_info) + list(g.output):
        if vi.type.HasField("tensor_type") and vi.type.tensor_type.elem_type:
            types[vi.name] = vi.type.tensor_type.elem_type
    return types


def layer_precisions(original: onnx.ModelProto, converted: onnx.ModelProto, conversion: dict,
                     ort_fp32: set[str]) -> list[LayerPrecision]:
    """Every node of the converted model with its precision and why (see :mod:`explorer.backends.accuracy`)."""
    from ..precision import DEFAULT_BLOCK_OPS

    precision = conversion["precision"]
    tool = conversion.get("tool") or "no conversion"
    block = set(conversion.get("block") or [])
    low = {"fp16": TensorProto.FLOAT16, "bf16": TensorProto.BFLOAT16}.get(precision)
    types = _types(converted)
    before = {n.name: n for n in original.graph.node}
    producer = {o: n for n in converted.graph.node for o in n.output}
    source = f"{tool}; onnxruntime {version()} CPU EP"
    rows = []
    for node in converted.graph.node:
        outs = [types.get(o) for o in node.output if o]
        ins = [types.get(i) for i in node.input if i]
        floats = [t for t in outs + ins if t in (TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.BFLOAT16)]
        compute = next((t for t in outs if t in (TensorProto.FLOAT16, TensorProto.BFLOAT16, TensorProto.FLOAT)),
                       outs[0] if outs else None)
        name = _NAMES.get(compute, onnx.TensorProto.DataType.Name(compute) if compute else "?")
        original_node = before.get(node.name)
        node_id = node.name if original_node is not None else None

        def add(precision_name: str, cause: str, detail: str = "") -> None:
            rows.append(LayerPrecision(layer=node.name, op_type=node.op_type, precision=precision_name, cause=cause,
                                       detail=detail, node=node_id, source=source))

        if original_node is None:
            if node.op_type == "Cast":
                add(name, CAUSE_CAST, f"inserted by {tool} where fp32 and {precision} parts meet")
            elif node.op_type in (_Q, _DQ):
                add("INT8", CAUSE_QDQ, f"{node.op_type} inserted by {tool}")
            else:
                add(name, CAUSE_CONVERTED, f"node added by {tool}")
            continue
        if node.op_type in (_Q, _DQ):
            add("INT8", CAUSE_QDQ, f"the model's own {node.op_type}")
            continue
        if not floats:
            add(name, CAUSE_NOT_FLOAT)
            continue
        blocked = node.op_type in block or node.name in block
        if precision == "int8":
            reads_dq = [i for i in node.input if i and producer.get(i) is not None and producer[i].op_type == _DQ]
            if blocked:
                add("FP32", CAUSE_BLOCK_LIST, "excluded from quantization (nodes_to_exclude)")
            elif reads_dq and node.op_type != "Cast":
                add("INT8", CAUSE_QDQ, f"DequantizeLinear on {len(reads_dq)} of its inputs: int8 between Q/DQ "
                                       "(ONNX Runtime fuses the pattern into an int8 kernel when it optimizes)")
            else:
                add(name, CAUSE_QDQ, "no Q/DQ around it: runs in " + name)
            continue
        if low is None:
            add(name, CAUSE_MODEL_TYPES, "fp32 build: the model's own types")
            continue
        if compute == low:
            if node.name in ort_fp32:
                add("FP32", CAUSE_NO_KERNEL, f"declared {precision}, but ONNX Runtime's CPU EP has no {precision} "
                                             f"{node.op_type} kernel: it inserted Casts and computes in fp32")
            else:
                add(name, CAUSE_CONVERTED, f"to {precision} by {tool}")
        elif blocked:
            add(name, CAUSE_BLOCK_LIST, "")
        elif node.op_type in DEFAULT_BLOCK_OPS:
            add(name, CAUSE_DEFAULT_BLOCK, "numerically risky or fixed-type inputs (explorer.backends.precision)")
        elif node.op_type == "Cast":
            add(name, CAUSE_MODEL_TYPES, "the model's own Cast")
        else:
            add(name, CAUSE_KEPT, f"{tool} kept it in {name} (its opset's schema, or fp32 on both sides)")
    return rows


def _dtype_name(dtype) -> str:
    return {"float32": "FLOAT", "float16": "FLOAT16", "float64": "DOUBLE"}.get(str(dtype), str(dtype).upper())


__all__ = ["ORT_INSERTED_CAST", "compare_task", "convert_task", "layer_precisions"]
