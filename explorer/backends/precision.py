"""Convert an fp32 ONNX model to fp16 or bf16, for TensorRT 11's strongly typed builds.

TensorRT 11 removed the builder's precision flags: a network runs in the types its ONNX model declares.
To build "in fp16" the model itself has to say fp16 (NVIDIA's route is Model Optimizer's AutoCast). This
module picks the best converter available:

1. NVIDIA Model Optimizer's AutoCast (``modelopt.onnx.autocast.convert_to_f16``) when ``modelopt`` imports
   (it is heavy: torch, a pinned onnx; never a dependency of the explorer);
2. fp16: onnxconverter-common's ``float16.convert_float_to_float16``, with the explorer's fixes around it
   (unique node names first, ``Cast(to=FLOAT)`` nodes retargeted after) and a validity check (ONNX checker
   and strict type inference); if its output is not a valid model, or for bf16 (which onnxconverter-common
   cannot do), the explorer's own converter:
3. a cast-based converter driven by the ONNX operator schemas of the model's opset: a node computes in the
   low precision when every float type variable of its schema allows it (so ``Resize``'s fp32 ``scales``
   stay fp32, and bf16 ``Conv`` before opset 22 stays fp32: that opset's Conv has no bfloat16), Cast nodes
   are inserted where fp32 and low-precision parts meet, weights are converted once (copied when fp32
   consumers need them too), and a low-precision node stuck between fp32 nodes goes back to fp32 rather
   than paying two casts.

Ops in ``block_ops`` and nodes named in ``block_nodes`` stay fp32 (the retry after an accuracy loss, as
Model Optimizer AutoCast's ``op_block_list`` / ``node_block_list`` and onnxconverter-common's). The default list (:data:`DEFAULT_BLOCK_OPS`) keeps the numerically risky
parts in fp32: normalizations (TensorRT itself warns that LayerNorm in fp16 may overflow and recommends
fp32), the reductions and powers of a decomposed LayerNorm/RMSNorm (``x**2`` overflows fp16 above 256),
``Exp``/``Log`` (overflow, loss near 0), cumulative sums; plus ops whose extra inputs have fixed float
types (Resize, RoiAlign, ...) and random generators. Softmax, Erf/GELU, MatMul, Conv and attention stay in
the low precision: TensorRT accumulates those in fp32 internally. The I/O stays fp32 by default
(``keep_io_types``), so callers feed the same arrays.
"""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass, field
from typing import Iterable

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from ..errors import ExplorerError

#: Ops kept in fp32 by default (see the module docstring for why).
DEFAULT_BLOCK_OPS: tuple[str, ...] = (
    # normalizations and the pieces of a decomposed LayerNorm / RMSNorm
    "LayerNormalization", "GroupNormalization", "InstanceNormalization", "RMSNormalization",
    "LpNormalization", "MeanVarianceNormalization",
    "ReduceMean", "ReduceSum", "ReduceSumSquare", "ReduceL2", "ReduceLogSumExp", "ReduceProd", "Pow", "Sqrt",
    # range: overflow or precision loss near zero
    "Exp", "Log", "CumSum",
    # fixed-type extra inputs, index-producing or random ops
    "Resize", "Upsample", "RoiAlign", "Range", "TopK", "NonMaxSuppression",
    "RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike", "Multinomial", "Bernoulli",
)

_LOW = {"fp16": TensorProto.FLOAT16, "bf16": TensorProto.BFLOAT16}
_LOW_TYPE_STR = {"fp16": "tensor(float16)", "bf16": "tensor(bfloat16)"}
_FLOAT = TensorProto.FLOAT
_FP16_MAX = 65504.0


@dataclass
class ConversionInfo:
    """What converted the model and what stayed fp32 (node names of the converted model)."""

    tool: str
    precision: str
    kept_fp32: list[str]
    keep_io_types: bool = True
    block_ops: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    block_nodes: list[str] = field(default_factory=list)


def convert_precision(model_proto: onnx.ModelProto, precision: str, keep_io_types: bool = True,
                      block_ops: Iterable[str] = DEFAULT_BLOCK_OPS, *,
                      tool: str = "auto", block_nodes: Iterable[str] = ()) -> tuple[onnx.ModelProto, ConversionInfo]:
    """Convert ``model_proto`` (not modified) to ``precision`` ("fp16" or "bf16").

    ``tool``: "auto" (Model Optimizer, else onnxconverter-common for fp16, else the explorer's converter),
    or force one of "modelopt", "onnxconverter-common", "explorer". Raises :class:`ExplorerError` when the
    model cannot be converted (external weights not loaded, a forced tool missing...).
    """
    if precision not in _LOW:
        raise ExplorerError(f"cannot convert to {precision!r}: choose fp16 or bf16 "
                            "(int8/fp8 come from Q/DQ nodes, e.g. Model Optimizer's ONNX quantization)")
    if tool not in ("auto", "modelopt", "onnxconverter-common", "explorer"):
        raise ExplorerError(f"unknown conversion tool {tool!r}")
    blocked = list(dict.fromkeys(block_ops))
    nodes = list(dict.fromkeys(str(n) for n in block_nodes))
    _require_loaded_weights(model_proto)
    notes: list[str] = []

    if tool in ("auto", "modelopt"):
        converted = _try_modelopt(model_proto, precision, keep_io_types, blocked, notes, required=tool == "modelopt",
                                  nodes=nodes)
        if converted is not None:
            model, name = converted
            return model, _info(name, precision, model_proto, model, keep_io_types, blocked, notes, nodes)

    if precision == "fp16" and tool in ("auto", "onnxconverter-common"):
        converted = _try_onnxconverter_common(model_proto, keep_io_types, blocked, notes,
                                              required=tool == "onnxconverter-common", nodes=nodes)
        if converted is not None:
            model, name = converted
            return model, _info(name, precision, model_proto, model, keep_io_types, blocked, notes, nodes)
    elif precision == "bf16" and tool == "onnxconverter-common":
        raise ExplorerError("onnxconverter-common converts to fp16 only; bf16 needs NVIDIA Model Optimizer "
                            "(pip install nvidia-modelopt[onnx]) or the explorer's converter (tool='explorer')")

    model, kept, more_notes = _cast_convert(model_proto, precision, keep_io_types, set(blocked), set(nodes))
    _validate(model, "the explorer's converter")
    notes.extend(more_notes)
    info = ConversionInfo(tool="explorer cast-based converter", precision=precision, kept_fp32=kept,
                          keep_io_types=keep_io_types, block_ops=blocked, notes=notes, block_nodes=nodes)
    return model, info


# --------------------------------------------------------------------------------------------------------
# Model Optimizer and onnxconverter-common
# --------------------------------------------------------------------------------------------------------

def _try_modelopt(model, precision, keep_io_types, blocked, notes, required: bool, nodes=()):
    try:
        from modelopt.onnx.autocast import convert_to_f16
        import modelopt
    except Exception as exc:  # ImportError, or a broken torch/onnx pin inside modelopt
        if required:
            raise ExplorerError(f"NVIDIA Model Optimizer is not usable here: {exc}",
                                hint="pip install nvidia-modelopt[onnx]") from exc
        return None
    import inspect

    wanted = {"low_precision_type": precision, "keep_io_types": keep_io_types, "op_block_list": blocked}
    if nodes:
        wanted["node_block_list"] = list(nodes)
    try:
        accepted = inspect.signature(convert_to_f16).parameters
        kwargs = {k: v for k, v in wanted.items() if k in accepted}
    except (TypeError, ValueError):
        kwargs = wanted
    if nodes and "node_block_list" not in kwargs:
        if required:
            raise ExplorerError("this Model Optimizer's convert_to_f16 takes no node_block_list")
        notes.append("Model Optimizer's convert_to_f16 here takes no node_block_list: used another converter")
        return None
    try:
        converted = convert_to_f16(copy.deepcopy(model), **kwargs)
    except Exception as exc:
        if required:
            raise ExplorerError(f"Model Optimizer's AutoCast failed: {exc}") from exc
        notes.append(f"Model Optimizer's AutoCast failed ({type(exc).__name__}: {exc}); used another converter")
        return None
    return converted, f"modelopt-autocast {getattr(modelopt, '__version__', '?')}"


def _try_onnxconverter_common(model, keep_io_types, blocked, notes, required: bool, nodes=()):
    try:
        import onnxconverter_common
        from onnxconverter_common import float16
    except Exception as exc:
        if required:
            raise ExplorerError(f"onnxconverter-common is not usable here: {exc}") from exc
        return None
    prepared = copy.deepcopy(model)
    _name_nodes(prepared.graph)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # it warns for every clamped weight
            converted = float16.convert_float_to_float16(
                prepared, keep_io_types=keep_io_types, op_block_list=blocked, max_finite_val=_FP16_MAX,
                check_fp16_ready=False, node_block_list=list(nodes) or None)
        _retarget_casts(converted.graph)
        _validate(converted, "onnxconverter-common")
    except Exception as exc:
        if required:
            raise ExplorerError(f"onnxconverter-common could not convert this model: {exc}") from exc
        notes.append(f"onnxconverter-common's result was not a valid model ({_first_line(exc)}); "
                     "used the explorer's converter instead")
        return None
    return converted, f"onnxconverter-common {getattr(onnxconverter_common, '__version__', '?')}"


def _retarget_casts(graph: onnx.GraphProto) -> None:
    """onnxconverter-common retypes value infos but leaves ``Cast(to=FLOAT)``: point those at fp16."""
    declared = {vi.name: vi.type.tensor_type.elem_type for vi in list(graph.value_info) + list(graph.output)}
    for node in graph.node:
        if node.op_type != "Cast" or not node.output:
            continue
        for attr in node.attribute:
            if attr.name == "to" and attr.i == _FLOAT and declared.get(node.output[0]) == TensorProto.FLOAT16:
                attr.i = TensorProto.FLOAT16


def _info(tool, precision, original, converted, keep_io_types, blocked, notes, nodes=()) -> ConversionInfo:
    return ConversionInfo(tool=tool, precision=precision, kept_fp32=_fp32_nodes(original, converted),
                          keep_io_types=keep_io_types, block_ops=blocked, notes=notes, block_nodes=list(nodes))


def _fp32_nodes(original: onnx.ModelProto, converted: onnx.ModelProto) -> list[str]:
    """Names of the original's float-computing nodes that still compute in fp32 after conversion."""
    types = _dtypes(converted)
    before = _dtypes(original)
    kept = []
    by_name = {n.name: n for n in converted.graph.node if n.name}
    for node in original.graph.node:
        if node.op_type == "Cast" or not any(before.get(o) == _FLOAT for o in node.output if o):
            continue
        now = by_name.get(node.name)
        if now is None:
            continue
        if any(types.get(o) == _FLOAT for o in now.output if o):
            kept.append(node.name)
    return kept


# --------------------------------------------------------------------------------------------------------
# The explorer's converter
# --------------------------------------------------------------------------------------------------------

#: Ops whose math is worth low precision; groups of low nodes without any of them stay fp32.
_HEAVY = {"Conv", "ConvTranspose", "MatMul", "Gemm", "Einsum", "Attention", "LSTM", "GRU", "RNN"}

_ATTR_TYPED = {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "EyeLike", "Multinomial",
               "Bernoulli"}


def _cast_convert(model: onnx.ModelProto, precision: str, keep_io_types: bool,
                  blocked: set[str], blocked_nodes: set[str] = frozenset()
                  ) -> tuple[onnx.ModelProto, list[str], list[str]]:
    low = _LOW[precision]
    low_str = _LOW_TYPE_STR[precision]
    model = copy.deepcopy(model)
    graph = model.graph
    _name_nodes(graph)
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 1)
    dtype = _dtypes(model)
    notes: list[str] = []

    initializers = {t.name: t for t in graph.initializer}
    graph_inputs = {vi.name for vi in graph.input if vi.name not in initializers}
    graph_outputs = [vi.name for vi in graph.output]
    producer: dict[str, int] = {}
    consumers: dict[str, list[int]] = {}
    for i, node in enumerate(graph.node):
        for name in node.output:
            if name:
                producer[name] = i
        for name in node.input:
            if name:
                consumers.setdefault(name, []).append(i)

    # Values read by If/Loop/Scan bodies from the outer scope keep their type (bodies are not converted).
    pinned = _outer_scope_reads(graph)
    original_float_nodes = [n for n in graph.node
                            if n.op_type != "Cast" and any(dtype.get(o) == _FLOAT for o in n.output if o)]
    used: set[str] = set(dtype) | set(producer) | set(initializers) | set(graph_inputs) | {n.name for n in graph.node}

    def unique(base: str) -> str:
        name, bump = base, 1
        while name in used:
            name, bump = f"{base}_{bump}", bump + 1
        used.add(name)
        return name

    # 1. Which nodes can compute in the low precision, and which of their inputs/outputs become low.
    plans: dict[int, tuple[set[int], set[int]]] = {}  # node -> (input slots, output slots) that become low
    schema_kept: dict[str, int] = {}
    for i, node in enumerate(graph.node):
        if node.op_type in blocked or node.name in blocked_nodes or node.domain not in ("", "ai.onnx") \
                or node.op_type in _ATTR_TYPED:
            continue
        if any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for a in node.attribute):
            continue
        if any(o in pinned for o in node.output):
            continue
        plan = _plan(node, opset, dtype, low_str)
        if plan == "schema":
            schema_kept[node.op_type] = schema_kept.get(node.op_type, 0) + 1
        elif plan is not None:
            plans[i] = plan

    # 2. Low precision pays where the heavy math is (Conv, MatMul, ...). A connected group of low nodes
    #    without any, fenced in by fp32 (e.g. an Add + Relu between two Convs that must stay fp32), would
    #    only add casts: it goes back to fp32. (Models without heavy ops are converted as planned.)
    if any(graph.node[i].op_type in _HEAVY for i in plans):
        parent = {i: i for i in plans}

        def find(i: int) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        for c, (ins, _) in plans.items():
            for slot in ins:
                p = producer.get(graph.node[c].input[slot])
                if p in plans and list(graph.node[p].output).index(graph.node[c].input[slot]) in plans[p][1]:
                    parent[find(p)] = find(c)
        heavy_groups = {find(i) for i in plans if graph.node[i].op_type in _HEAVY}
        for i in [i for i in plans if find(i) not in heavy_groups]:
            del plans[i]

    # 3. Rewrite: node attributes, casts where types meet, weights, graph I/O.
    produced_low: set[str] = set()
    for i, (_, outs) in plans.items():
        node = graph.node[i]
        for s in outs:
            produced_low.add(node.output[s])
        if node.op_type == "Cast":
            for attr in node.attribute:
                if attr.name == "to":
                    attr.i = low
        elif node.op_type in ("Constant", "ConstantOfShape"):
            for attr in node.attribute:
                if attr.name == "value" and attr.t.data_type == _FLOAT:
                    attr.t.CopyFrom(_convert_tensor(attr.t, precision))
    if not keep_io_types:
        for vi in graph.input:
            if vi.name in graph_inputs and vi.type.tensor_type.elem_type == _FLOAT:
                vi.type.tensor_type.elem_type = low
                produced_low.add(vi.name)

    casts_after: dict[str, list[onnx.NodeProto]] = {}  # source tensor -> casts to emit after its producer
    cast_cache: dict[tuple[str, int], str] = {}
    new_value_info: list[onnx.ValueInfoProto] = []
    value_infos = {vi.name: vi for vi in graph.value_info}
    low_weight_copies: dict[str, str] = {}
    init_low_users: dict[str, int] = {}
    init_fp32_users: dict[str, int] = {}

    def cast_of(name: str, to: int) -> str:
        key = (name, to)
        if key not in cast_cache:
            out = unique(f"{name}_to_{'fp32' if to == _FLOAT else precision}")
            casts_after.setdefault(name, []).append(helper.make_node("Cast", [name], [out], name=unique(f"{out}_cast"),
                                                                     to=to))
            cast_cache[key] = out
            new_value_info.append(_value_info_like(value_infos.get(name), out, to))
        return cast_cache[key]

    for i, node in enumerate(graph.node):
        low_slots = plans.get(i, (set(), set()))[0]
        for s, name in enumerate(node.input):
            if not name:
                continue
            wants_low = s in low_slots
            if name in initializers and initializers[name].data_type == _FLOAT and name not in pinned \
                    and name not in graph_inputs:
                counter = init_low_users if wants_low else init_fp32_users
                counter[name] = counter.get(name, 0) + 1
                continue
            if dtype.get(name) != _FLOAT and name not in produced_low:
                continue
            is_low = name in produced_low
            if wants_low and not is_low:
                node.input[s] = cast_of(name, low)
            elif not wants_low and is_low:
                node.input[s] = cast_of(name, _FLOAT)

    # weights: convert in place when only low consumers use them, else add a low copy
    for name, count in init_low_users.items():
        tensor = initializers[name]
        if init_fp32_users.get(name) or name in graph_outputs:
            copy_name = unique(f"{name}_{precision}")
            low_tensor = _convert_tensor(tensor, precision)
            low_tensor.name = copy_name
            graph.initializer.append(low_tensor)
            low_weight_copies[name] = copy_name
        else:
            tensor.CopyFrom(_convert_tensor(tensor, precision))
    if low_weight_copies:
        for i, node in enumerate(graph.node):
            low_slots = plans.get(i, (set(), set()))[0]
            for s, name in enumerate(node.input):
                if s in low_slots and name in low_weight_copies:
                    node.input[s] = low_weight_copies[name]

    # graph outputs keep their declared type (fp32 with keep_io_types), else become low
    output_casts: dict[str, onnx.NodeProto] = {}
    for vi in graph.output:
        name = vi.name
        is_low = name in produced_low
        if vi.type.tensor_type.elem_type != _FLOAT and not is_low:
            continue
        want_low = not keep_io_types
        if want_low == is_low:
            if want_low:
                vi.type.tensor_type.elem_type = low
            continue
        p = producer.get(name)
        if p is None:
            continue  # an input or initializer passed straight through: leave it
        inner = unique(f"{name}_{precision if is_low else 'fp32'}_out")
        node = graph.node[p]
        for k, out in enumerate(node.output):
            if out == name:
                node.output[k] = inner
        for c in consumers.get(name, []):
            for k, inp in enumerate(graph.node[c].input):
                if inp == name:
                    graph.node[c].input[k] = inner
        for casts in casts_after.pop(name, []):
            casts.input[0] = inner
            casts_after.setdefault(inner, []).append(casts)
        output_casts[inner] = helper.make_node("Cast", [inner], [name], to=low if want_low else _FLOAT,
                                               name=unique(f"{name}_output_cast"))
        new_value_info.append(_value_info_like(value_infos.get(name) or vi, inner, low if is_low else _FLOAT))
        if name in produced_low:
            produced_low.discard(name)
            produced_low.add(inner)
        if want_low:
            vi.type.tensor_type.elem_type = low

    # value infos follow the new types
    for vi in graph.value_info:
        if vi.name in produced_low and vi.type.tensor_type.elem_type == _FLOAT:
            vi.type.tensor_type.elem_type = low
    graph.value_info.extend(new_value_info)

    # node order: casts right after what they read (graph inputs and weights: first)
    converted_names = {graph.node[i].name for i in plans}
    ordered: list[onnx.NodeProto] = []
    for name in [n for n in casts_after if n in initializers or n in graph_inputs]:
        ordered.extend(casts_after.pop(name))
    for node in graph.node:
        ordered.append(node)
        for out in node.output:
            if out in output_casts:
                ordered.append(output_casts[out])
            ordered.extend(casts_after.pop(out, []))
    for leftover in casts_after.values():  # sources without a producer (outer scope): keep them anyway
        ordered.extend(leftover)
    nodes = [copy.deepcopy(n) for n in ordered]
    del graph.node[:]
    graph.node.extend(nodes)

    kept = [n.name for n in original_float_nodes if n.name not in converted_names]
    if schema_kept:
        shown = ", ".join(f"{op} x{n}" for op, n in sorted(schema_kept.items()))
        notes.append(f"kept fp32 because opset {opset}'s schema does not allow {precision} for them: {shown}")
    return model, kept, notes


def _plan(node: onnx.NodeProto, opset: int, dtype: dict[str, int], low_str: str):
    """(input slots, output slots) of ``node`` that become low precision; None when nothing is float (or
    unsure); "schema" when float type variables do not allow the low type at this opset."""
    if node.op_type == "Constant" and not any(a.name == "value" for a in node.attribute):
        return None  # value_float(s): always fp32
    if node.op_type == "ConstantOfShape" and not any(a.name == "value" for a in node.attribute):
        return None  # no value attribute means a float32 zero
    try:
        schema = onnx.defs.get_schema(node.op_type, opset, node.domain or "")
    except Exception:
        return None
    constraints = {c.type_param_str: set(c.allowed_type_strs) for c in schema.type_constraints}
    variadic = onnx.defs.OpSchema.FormalParameterOption.Variadic
    float_vars: set[str] = set()
    unknown_vars: set[str] = set()
    slots: list[tuple[str, int, str]] = []
    for kind, names, params in (("in", node.input, schema.inputs), ("out", node.output, schema.outputs)):
        for k, name in enumerate(names):
            if not name:
                continue
            if k < len(params):
                param = params[k]
            elif params and params[-1].option == variadic:
                param = params[-1]
            else:
                return None
            if param.type_str not in constraints:
                continue  # a fixed type such as Resize's tensor(float) scales: stays as it is
            t = dtype.get(name)
            if t is None:
                unknown_vars.add(param.type_str)
            elif t == _FLOAT:
                float_vars.add(param.type_str)
                slots.append((kind, k, param.type_str))
    if not float_vars or float_vars & unknown_vars:
        return None
    if any(low_str not in constraints[v] for v in float_vars):
        return "schema"
    return ({k for kind, k, _ in slots if kind == "in"}, {k for kind, k, _ in slots if kind == "out"})


def _dtypes(model: onnx.ModelProto) -> dict[str, int]:
    """Element type of every value ONNX shape inference can type (declared ones when it cannot run)."""
    try:
        inferred = onnx.shape_inference.infer_shapes(model)
    except Exception:
        inferred = model
    g = inferred.graph
    types = {t.name: t.data_type for t in g.initializer}
    for vi in list(g.input) + list(g.value_info) + list(g.output):
        if vi.type.HasField("tensor_type") and vi.type.tensor_type.elem_type:
            types[vi.name] = vi.type.tensor_type.elem_type
    return types


def _outer_scope_reads(graph: onnx.GraphProto) -> set[str]:
    names: set[str] = set()

    def visit(body: onnx.GraphProto) -> None:
        local = {t.name for t in body.initializer} | {vi.name for vi in body.input}
        for node in body.node:
            local.update(node.output)
        for node in body.node:
            names.update(n for n in node.input if n and n not in local)
            for attr in node.attribute:
                for sub in ([attr.g] if attr.type == onnx.AttributeProto.GRAPH else list(attr.graphs)):
                    visit(sub)

    for node in graph.node:
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                visit(attr.g)
            elif attr.type == onnx.AttributeProto.GRAPHS:
                for sub in attr.graphs:
                    visit(sub)
    return names


def _name_nodes(graph: onnx.GraphProto) -> None:
    """Give unnamed and duplicate-named nodes unique names (converters name casts after nodes)."""
    seen: set[str] = set()
    taken = {n.name for n in graph.node if n.name}
    for i, node in enumerate(graph.node):
        if node.name and node.name not in seen:
            seen.add(node.name)
            continue
        base = f"{node.name or node.op_type}_{i}"
        name, bump = base, 1
        while name in taken or name in seen:
            name, bump = f"{base}_{bump}", bump + 1
        node.name = name
        seen.add(name)
        taken.add(name)


def _convert_tensor(tensor: onnx.TensorProto, precision: str) -> onnx.TensorProto:
    array = numpy_helper.to_array(tensor).astype(np.float32)
    if precision == "fp16":
        finite = np.isfinite(array)
        array = np.where(finite, np.clip(array, -_FP16_MAX, _FP16_MAX), array).astype(np.float16)
    else:
        import ml_dtypes

        array = array.astype(ml_dtypes.bfloat16)  # round to nearest even
    return numpy_helper.from_array(array, tensor.name)


def _value_info_like(template: onnx.ValueInfoProto | None, name: str, elem_type: int) -> onnx.ValueInfoProto:
    if template is not None and template.type.HasField("tensor_type"):
        vi = copy.deepcopy(template)
        vi.name = name
        vi.type.tensor_type.elem_type = elem_type
        return vi
    return helper.make_tensor_value_info(name, elem_type, None)


def _require_loaded_weights(model: onnx.ModelProto) -> None:
    for tensor in model.graph.initializer:
        if tensor.data_location == TensorProto.EXTERNAL:
            raise ExplorerError(f"initializer {tensor.name!r} lives in external data that is not loaded",
                                hint="load the model with its weights first (onnx.load(path)) to convert it")


def _validate(model: onnx.ModelProto, who: str) -> None:
    """ONNX's checker and strict type inference: a converted model must be a valid model."""
    if model.ByteSize() > 2_000_000_000:
        return  # too big for the checker in memory; TensorRT's parser will judge it
    try:
        onnx.checker.check_model(model)
        onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    except Exception as exc:
        raise ExplorerError(f"{who} produced an invalid model: {_first_line(exc)}") from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


__all__ = ["ConversionInfo", "DEFAULT_BLOCK_OPS", "convert_precision"]
