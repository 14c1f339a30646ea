"""Per-node support verdicts predicted from a published operator support matrix.

:func:`judge` checks one node against a :class:`~explorer.support.matrix.SupportMatrix`: is the operator
there and supported, are its data tensors of a listed type, and does it meet every restriction of the matrix
that can be checked without running the model (attributes, ranks, constant inputs, zero points, ...).
Restrictions that cannot be checked statically become *caveats* on a supported verdict, quoting the matrix.

The verdict is a prediction, never a replacement for TensorRT's parser: when in doubt a node stays
supported with a caveat, because a false "unsupported" sends people chasing problems that do not exist.

Speed matters (100k-node graphs): everything that depends only on the matrix is compiled once per matrix
into a dict of :class:`_OpRule`, and nodes whose operator has no attribute rules never decode attributes.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Callable, Iterable

from ..model.ir import DEFAULT_DOMAINS, Graph, InitializerInfo, Model, Node, TensorInfo
from ..dtypes import canonical_dtype
from .matrix import FP8_TYPES, QUANTIZED_TYPES, SupportMatrix, data_dir

__all__ = ["Judgement", "judge", "judge_graph", "check_opset", "is_build_time_constant", "constness",
           "const_value", "WEIGHTS", "FOLDABLE", "RUNTIME", "UNKNOWN"]


@dataclass(slots=True)
class Judgement:
    """The verdict on one node.

    ``reasons`` explain an unsupported verdict (never empty then); ``caveats`` are matrix restrictions that
    could not be checked statically; ``warnings`` are supported-but-lossy facts (DOUBLE cast down to FLOAT).
    ``children`` holds the verdicts on every node of the If/Loop/Scan bodies (nested bodies included, so it
    matches ``body.walk()``), keyed by body node id.
    """

    supported: bool
    reasons: list[str] = field(default_factory=list)
    caveats: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    children: dict[str, "Judgement"] = field(default_factory=dict)


# ------------------------------------------------------------------------------------------ constants

#: :func:`constness` levels.
WEIGHTS = 2  # an initializer or a Constant node output (what the parser sees as weights)
FOLDABLE = 1  # computed only from constants and static shapes: known at build time
RUNTIME = 0  # depends on network inputs or on dynamic shapes
UNKNOWN = -1  # could not tell (search depth, unknown shapes, custom operators)

_MAX_DEPTH = 48
_RANDOM_OPS = frozenset({"RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike",
                         "Multinomial", "Bernoulli"})
_CACHE_KEY = "_explorer_support_cache"


def _cache(graph: Graph) -> dict:
    # Stored on the graph like its cached_property values, so it lives and dies with the graph.
    cache = graph.__dict__.get(_CACHE_KEY)
    if cache is None:
        cache = {"const": {}, "value": {}, "dtype": {}, "zero": {}, "scale": {}}
        graph.__dict__[_CACHE_KEY] = cache
    return cache


def _lookup_dtype(name: str, graph: Graph, parents: tuple[Graph, ...]) -> str | None:
    """Element type without decoding shapes (the loader's lazy tensor table has a cheap ``dtype``)."""
    for g in (graph, *reversed(parents)):
        tensors = g.tensors
        fast = getattr(tensors, "dtype", None)
        if fast is not None:
            dt = fast(name)
        else:
            t = tensors.get(name)
            dt = t.dtype if t is not None else None
        if dt is not None or name in tensors:
            return dt
    return None


def _outer(name: str, parents: tuple[Graph, ...]) -> tuple[Graph, tuple[Graph, ...]] | None:
    """The enclosing graph that defines ``name`` (for If/Loop/Scan bodies), with its own parents."""
    for level in range(len(parents) - 1, -1, -1):
        g = parents[level]
        if name in g.initializers or name in g.producer or name in g.input_names or name in g.tensors:
            return g, parents[:level]
    return None


def _tensor(name: str, graph: Graph, parents: tuple[Graph, ...]) -> TensorInfo | None:
    t = graph.tensors.get(name)
    if t is None and parents:
        for level in range(len(parents) - 1, -1, -1):
            t = parents[level].tensors.get(name)
            if t is not None:
                break
    return t


_MISSING = object()


def _dtype(name: str, graph: Graph, parents: tuple[Graph, ...]) -> str | None:
    cache = _cache(graph)["dtype"]
    dt = cache.get(name, _MISSING)
    if dt is _MISSING:
        dt = cache[name] = _lookup_dtype(name, graph, parents)
    return dt  # type: ignore[return-value]


def _shape(name: str, graph: Graph, parents: tuple[Graph, ...]):
    t = _tensor(name, graph, parents)
    return t.shape if t is not None else None


def _rank(name: str, graph: Graph, parents: tuple[Graph, ...]) -> int | None:
    shape = _shape(name, graph, parents)
    return None if shape is None else len(shape)


def constness(name: str, graph: Graph, parents: tuple[Graph, ...] = (), _depth: int = 0) -> int:
    """How constant a value is: :data:`WEIGHTS`, :data:`FOLDABLE`, :data:`RUNTIME` or :data:`UNKNOWN`.

    Walks back through producers whose inputs are all constant (Constant, initializers, Shape/Size of
    static tensors, and any deterministic default-domain operator of those), bounded in depth, memoised
    per graph. ``parents`` are the enclosing graphs of an If/Loop/Scan body, outermost first.
    """
    cache = _cache(graph)["const"]
    hit = cache.get(name)
    if hit is not None:
        return hit
    if name in graph.initializers:
        result = WEIGHTS
    else:
        producer = graph.producer.get(name)
        if producer is not None:
            if _depth > _MAX_DEPTH:
                return UNKNOWN  # not cached: a shallower walk may still decide
            result = _node_constness(producer, graph, parents, _depth + 1)
        elif name in graph.input_names:
            result = RUNTIME
        else:
            found = _outer(name, parents) if parents else None
            result = constness(name, found[0], found[1], _depth) if found else UNKNOWN
    cache[name] = result
    return result


def is_build_time_constant(name: str, graph: Graph, parents: tuple[Graph, ...] = ()) -> bool:
    """True when ``name`` is known when TensorRT builds the engine (weights, or folded from constants)."""
    return constness(name, graph, parents) >= FOLDABLE


def _node_constness(node: Node, graph: Graph, parents: tuple[Graph, ...], depth: int) -> int:
    op = node.op_type
    if not node.is_default_domain or node.subgraphs:
        return UNKNOWN
    if op == "Constant":
        return WEIGHTS
    if op in _RANDOM_OPS:
        return RUNTIME
    if op in ("Shape", "Size"):
        shape = _shape(node.inputs[0], graph, parents) if node.inputs else None
        if shape is None:
            return UNKNOWN
        dims = shape
        if op == "Shape":
            start, end = node.attr("start", 0), node.attr("end", None)
            dims = shape[start:end] if (start or end is not None) else shape
        return FOLDABLE if all(isinstance(d, int) for d in dims) else RUNTIME
    if op == "Identity" and node.inputs:
        return constness(node.inputs[0], graph, parents, depth)
    result = FOLDABLE
    for name in node.inputs:
        if not name:
            continue
        level = constness(name, graph, parents, depth)
        if level == RUNTIME:
            return RUNTIME
        if level == UNKNOWN:
            result = UNKNOWN
    return result


def _constant_node_value(node: Node):
    import numpy as np
    from onnx import numpy_helper

    for attr in (node.proto.attribute if node.proto is not None else ()):
        if attr.name == "value":
            if attr.t.data_location == 1:  # external data: not read
                return None
            count = 1
            for d in attr.t.dims:
                count *= d
            return numpy_helper.to_array(attr.t) if count <= 4096 else None
        if attr.name == "value_float":
            return np.array(attr.f, dtype=np.float32)
        if attr.name == "value_floats":
            return np.array(list(attr.floats), dtype=np.float32)
        if attr.name == "value_int":
            return np.array(attr.i, dtype=np.int64)
        if attr.name == "value_ints":
            return np.array(list(attr.ints), dtype=np.int64)
    return None


def const_value(name: str, graph: Graph, parents: tuple[Graph, ...] = ()):
    """The value of a small initializer or Constant output (through Identity) as numpy, else None."""
    cache = _cache(graph)["value"]
    if name in cache:
        return cache[name]
    value = None
    init: InitializerInfo | None = graph.initializers.get(name)
    try:
        if init is not None:
            value = init.value()
        else:
            producer = graph.producer.get(name)
            if producer is not None:
                if producer.op_type == "Constant" and producer.is_default_domain:
                    value = _constant_node_value(producer)
                elif producer.op_type == "Identity" and producer.is_default_domain and producer.inputs:
                    value = const_value(producer.inputs[0], graph, parents)
                elif producer.op_type == "Cast" and producer.is_default_domain and producer.inputs:
                    # pytorch-quantization writes per-channel zero points as Cast(Constant)
                    source = const_value(producer.inputs[0], graph, parents)
                    if source is not None:
                        import onnx

                        value = source.astype(onnx.helper.tensor_dtype_to_np_dtype(producer.attr("to")))
            elif parents and name not in graph.input_names:
                found = _outer(name, parents)
                if found:
                    value = const_value(name, found[0], found[1])
    except Exception:  # malformed tensors: unknown value
        value = None
    cache[name] = value
    return value


# ------------------------------------------------------------------------------------ the op tables

_ALL = None  # every input / output carries the data type
_FROM2 = range(2, 1 << 30)

#: Which input / output positions carry the "data" type the matrix lists (None = all). Index, shape,
#: axes, condition and type-only positions are left out, so INT64 shapes or BOOL conditions never count.
_DATA_POSITIONS: dict[str, tuple] = {
    **{op: (_ALL, ()) for op in ("Equal", "Greater", "GreaterOrEqual", "Less", "LessOrEqual")},
    **{op: ((0,), ()) for op in ("IsInf", "IsNaN", "ArgMax", "ArgMin", "NonZero")},
    "Shape": ((), ()), "Size": ((), ()),  # any element type: only the shape is read
    **{op: ((0,), (0,)) for op in (
        "Reshape", "Expand", "Tile", "Slice", "Gather", "GatherElements", "GatherND", "Squeeze", "Unsqueeze",
        "Resize", "Upsample", "TopK", "CumSum", "Trilu", "ReverseSequence", "Dropout", "MaxPool", "EyeLike",
        "Compress", "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceMax", "ReduceMean",
        "ReduceMin", "ReduceProd", "ReduceSum", "ReduceSumSquare", "Pow", "Hardmax", "CenterCropPad")},
    "Split": ((0,), _ALL),
    "Pad": ((0, 2), (0,)),
    "ScatterND": ((0, 2), (0,)), "ScatterElements": ((0, 2), (0,)), "Scatter": ((0, 2), (0,)),
    "OneHot": ((2,), (0,)),
    **{op: ((), (0,)) for op in ("Constant", "ConstantOfShape", "RandomNormal", "RandomUniform",
                                 "RandomNormalLike", "RandomUniformLike", "BlackmanWindow", "HannWindow",
                                 "HammingWindow")},
    "Where": ((1, 2), (0,)),
    "LayerNormalization": ((0, 1, 2), (0,)),
    "BatchNormalization": (_ALL, (0,)),
    "GroupNormalization": (_ALL, (0,)), "InstanceNormalization": (_ALL, (0,)),
    "RMSNormalization": (_ALL, (0,)),
    **{op: ((0, 1, 2, 3, 5, 6, 7), _ALL) for op in ("LSTM", "GRU", "RNN")},
    "NonMaxSuppression": ((0, 1), ()),
    "RoiAlign": ((0, 1), (0,)),
    "GridSample": ((0, 1), (0,)),
    "Attention": ((0, 1, 2), (0,)),
    "RotaryEmbedding": ((0, 1, 2), (0,)),
    "TensorScatter": ((0, 1), (0,)),
    "STFT": ((0, 2), (0,)),
    "DeformConv": (_ALL, (0,)),
    "If": ((), _ALL),
    "Loop": (_FROM2, _ALL),
    "QuantizeLinear": ((), ()), "DequantizeLinear": ((), ()),  # checked by their own rules
}

#: Operators that only move data: a quantized tensor between Q and DQ passing through them is fine.
_DATA_MOVEMENT = frozenset({"Reshape", "Transpose", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Concat",
                            "Slice", "Gather", "GatherElements", "GatherND", "Split", "Expand", "Tile",
                            "DepthToSpace", "SpaceToDepth", "Pad", "Constant"})


def _load_extensions() -> dict[str, tuple[frozenset[str], str]]:
    try:
        data = json.loads(data_dir().joinpath("parser-type-extensions.json").read_text(encoding="utf-8"))
        source = data.get("_source", "the onnx-tensorrt parser source")
        return {op: (frozenset(entry.get("types", ())), f"{entry.get('why', '')} ({source})")
                for op, entry in data.get("operators", {}).items()}
    except Exception:  # a missing data file only loses the leniency
        return {}


def _load_narrowing() -> dict[str, tuple[frozenset[str], str]]:
    try:
        data = json.loads(data_dir().joinpath("parser-type-extensions.json").read_text(encoding="utf-8"))
        return {op: (frozenset(entry.get("reject", ())), entry.get("why", ""))
                for op, entry in data.get("narrowing", {}).items()}
    except Exception:  # a missing data file only loses these rejections
        return {}


def _narrowing_rule(types: frozenset[str], why: str) -> Callable[["_Ctx"], None]:
    def check(c: "_Ctx") -> None:
        name = c.input(0)
        dtype = c.dtype(name)
        if dtype in types:
            c.reject(f"input '{name}' is {dtype}: the support matrix lists it, but the onnx-tensorrt parser "
                     f"rejects it ({why})")
    return check


# ------------------------------------------------------------------------------------- compiled rules

class _OpRule:
    __slots__ = ("op", "spec", "supported", "reason", "in_pos", "out_pos", "allowed", "fast", "checks",
                 "static_caveats", "sentences", "extra_types", "extra_why", "type_list")

    def sentence(self, *keywords: str) -> str:
        for s in self.sentences:
            if all(k in s for k in keywords):
                return s
        return self.spec.restrictions if self.spec is not None else ""


class _Ctx:
    """Everything a rule needs while judging one node; reasons/caveats/warnings collect the findings."""

    __slots__ = ("node", "graph", "parents", "model", "matrix", "rule", "reasons", "caveats", "warnings")

    def __init__(self, node, graph, parents, model, matrix, rule):
        self.node, self.graph, self.parents, self.model, self.matrix, self.rule = (
            node, graph, parents, model, matrix, rule)
        self.reasons: list[str] = []
        self.caveats: list[str] = []
        self.warnings: list[str] = []

    # helpers used by the rules
    def input(self, i: int) -> str:
        ins = self.node.inputs
        return ins[i] if i < len(ins) else ""

    def output(self, i: int) -> str:
        outs = self.node.outputs
        return outs[i] if i < len(outs) else ""

    def dtype(self, name: str) -> str | None:
        return _dtype(name, self.graph, self.parents) if name else None

    def shape(self, name: str):
        return _shape(name, self.graph, self.parents) if name else None

    def rank(self, name: str) -> int | None:
        return _rank(name, self.graph, self.parents) if name else None

    def value(self, name: str):
        return const_value(name, self.graph, self.parents) if name else None

    def constness(self, name: str) -> int:
        return constness(name, self.graph, self.parents)

    def attr(self, name: str, default=None):
        return self.node.attr(name, default)

    def has_attr(self, name: str) -> bool:
        proto = self.node.proto
        if proto is not None:
            return any(a.name == name for a in proto.attribute)
        return name in self.node.attributes

    @property
    def op(self) -> str:
        return self.node.op_type

    def reject(self, problem: str, sentence: str | None = None) -> None:
        text = f"{self.op}: {problem}"
        if sentence:
            text += f' (support matrix: "{sentence}")'
        if text not in self.reasons:
            self.reasons.append(text)

    def caveat(self, text: str) -> None:
        if text and text not in self.caveats:
            self.caveats.append(text)

    def warn(self, text: str) -> None:
        if text not in self.warnings:
            self.warnings.append(text)


def _names(values) -> list[str]:
    return [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in (values or ())]


def _fmt_types(types: Iterable[str]) -> str:
    out: list[str] = []
    for t in sorted(types):
        if t in FP8_TYPES:
            t = "FP8"
        elif t == "FLOAT4E2M1":
            t = "FP4"
        elif t != "DOUBLE":  # the matrices say DOUBLE, not FP64
            t = canonical_dtype(t) or t
        if t not in out:
            out.append(t)
    return ", ".join(out) if out else "none"


def _trt_label(matrix: SupportMatrix) -> str:
    if " based on " in matrix.version:
        major, base = matrix.version.split(" based on ", 1)
        return f"TensorRT {major} (support matrix {base})"
    return f"TensorRT {matrix.version}"


def _fmt_values(values) -> str:
    import numpy as np

    flat = np.asarray(values).reshape(-1)
    shown = ", ".join(str(v.item() if hasattr(v, "item") else v) for v in flat[:4])
    return shown + (", ..." if flat.size > 4 else "")


# ------------------------------------------------------------------------------------------- the rules

def _r_constant_inputs(positions: list[tuple[int, str, str, str]]) -> Callable[[_Ctx], None]:
    """Inputs the matrix wants as initializers / build-time constants / resolvable to constants."""

    def check(c: _Ctx) -> None:
        for index, input_name, policy, sentence in positions:
            name = c.input(index)
            if not name:
                continue
            level = c.constness(name)
            if level == WEIGHTS:
                continue
            if policy == "initializer":
                if level == FOLDABLE:
                    c.caveat(f"{c.op}: `{input_name}` is computed from constants, not an initializer: fold "
                             f"constants first (polygraphy surgeon sanitize --fold-constants). {sentence}")
                elif level == RUNTIME:
                    c.reject(f"`{input_name}` ('{name}') is computed at run time, not an initializer", sentence)
                else:
                    c.caveat(f"{c.op}: could not tell whether `{input_name}` is constant. {sentence}")
            elif policy == "build-time":
                if level == RUNTIME:
                    c.reject(f"`{input_name}` ('{name}') is computed at run time, not a build-time constant",
                             sentence)
                elif level == UNKNOWN:
                    c.caveat(f"{c.op}: could not tell whether `{input_name}` is a build-time constant. {sentence}")
            else:  # resolvable: never rejected
                if level < FOLDABLE:
                    c.caveat(f"{c.op}: `{input_name}` ('{name}') is not a constant in the ONNX graph. {sentence}")

    return check


def _r_pool_dims(c: _Ctx) -> None:
    kernel = c.attr("kernel_shape")
    sentence = c.rule.sentence("2D or 3D")
    if kernel is None:
        rank = c.rank(c.input(0))
        spatial = rank - 2 if rank is not None else None
    else:
        spatial = len(kernel)
    if spatial is None or spatial in (2, 3):
        return
    if spatial == 1:
        c.caveat(f'{c.op}: 1D pooling: the support matrix says "{sentence}", but the onnx-tensorrt parser '
                 "expands 1D pooling to 2D.")
    else:
        c.reject(f"{spatial}D pooling (kernel_shape has {spatial} dimensions)", sentence)


def _r_lppool_p(c: _Ctx) -> None:
    p = c.attr("p", 2)
    if p not in (1, 2):
        c.reject(f"p={p}: the onnx-tensorrt parser takes only p = 1 or 2 (onnxOpCheckers.cpp checkLpPool: "
                 "\"Only L1 and L2 normalization are supported.\")")


def _r_mod(c: _Ctx) -> None:
    if c.attr("fmod", 0):
        return
    dtype = c.dtype(c.input(0))
    if dtype in ("FLOAT", "FLOAT16", "BFLOAT16", "DOUBLE"):
        c.reject(f"fmod=0 with {dtype} inputs: the onnx-tensorrt importer takes fmod=0 only for INT32/INT64 "
                 "(onnxOpImporters.cpp importMod: \"The fmod attribute is set to 0. Inputs cannot be of floating "
                 "point types.\")")


def _r_unsqueeze_axes(c: _Ctx) -> None:
    name = c.input(1)
    if name and c.model.opset >= 13 and c.constness(name) == RUNTIME:
        c.reject(f"`axes` ('{name}') is computed at run time: TensorRT needs constant axes (seen with the real "
                 "parser: \"unsqueeze axis is not a constant\")")


def _r_dilations(c: _Ctx) -> None:
    dilations = c.attr("dilations")
    if dilations and any(d != 1 for d in dilations):
        c.reject(f"dilations {list(dilations)} are not all ones", c.rule.sentence("dilations"))


def _r_maxpool_indices(c: _Ctx) -> None:
    if c.output(1):
        c.reject(f"the Indices output ('{c.output(1)}') is used", c.rule.sentence("Indices"))


def _r_layernorm_outputs(c: _Ctx) -> None:
    extra = [o for o in c.node.outputs[1:] if o]
    if extra:
        c.reject("outputs other than Y are used (" + ", ".join(f"'{o}'" for o in extra) + ")",
                 c.rule.sentence("first output"))


def _r_constant_attrs(c: _Ctx) -> None:
    sentence = c.rule.sentence("sparse_value")
    for name in ("sparse_value", "value_string", "value_strings"):
        if c.has_attr(name):
            c.reject(f"attribute `{name}` is used", sentence)


def _r_seed(c: _Ctx) -> None:
    if c.has_attr("seed"):
        c.caveat(f"{c.op}: {c.rule.sentence('seed')}")


def _r_topk(c: _Ctx) -> None:
    sorted_ = c.attr("sorted", 1)
    if sorted_ != 1:
        # onnx-tensorrt's importTopK never reads `sorted` (onnxOpImporters.cpp, 10.1 and 10.15): accepted.
        c.caveat(f"TopK: sorted={sorted_}: the support matrix says \"{c.rule.sentence('sorted')}\", but the "
                 "onnx-tensorrt parser does not read the attribute and accepts the node; TensorRT returns the "
                 "K values sorted anyway (ONNX leaves the order undefined for sorted=0, so the meaning holds).")
    sentence = c.rule.sentence("3840") or c.rule.sentence("`K`")
    if c.model.opset < 10 or len(c.node.inputs) < 2:
        k = c.attr("k")
        values = None if k is None else [k]
    else:
        values = c.value(c.input(1))
    if values is not None:
        import numpy as np

        flat = np.asarray(values).reshape(-1)
        if flat.size and int(flat.max()) >= 3840:
            c.reject(f"K is {int(flat.max())}", sentence)
    elif c.input(1) and c.constness(c.input(1)) < WEIGHTS:
        c.caveat(f"TopK: K is not a constant here, so its value cannot be checked. {sentence}")


def _r_rnn_common(defaults: tuple[str, ...]) -> Callable[[_Ctx], None]:
    def check(c: _Ctx) -> None:
        if _names([c.attr("direction", "forward")])[0].lower() != "bidirectional":
            return
        sentence = c.rule.sentence("bidirectional")
        acts = [a.lower() for a in _names(c.attr("activations"))]
        if len(acts) == 2 * len(defaults):
            half = len(defaults)
            if acts[:half] != acts[half:]:
                c.reject(f"forward activations {acts[:half]} differ from reverse {acts[half:]}", sentence)
        for key in ("activation_alpha", "activation_beta"):
            vals = list(c.attr(key) or ())
            if vals and len(vals) % 2 == 0 and vals[:len(vals) // 2] != vals[len(vals) // 2:]:
                c.reject(f"{key} differs between the forward and reverse pass", sentence)
    return check


def _r_lstm_attrs(c: _Ctx) -> None:
    value = c.attr("input_forget", 0)
    if value not in (0, None):
        c.reject(f"attribute input_forget={value}", c.rule.sentence("input_forget"))
    layout = c.attr("layout", 0)
    if layout not in (0, None):
        # the real parser (TensorRT-RTX 1.7, onnx-tensorrt importLSTM) accepts layout=1 though the matrix says no
        c.caveat(f"LSTM: layout={layout}: the support matrix says \"{c.rule.sentence('layout')}\", but the "
                 "onnx-tensorrt parser accepts it (measured with TensorRT-RTX 1.7); check that the batch-major "
                 "outputs mean what the model expects.")


def _r_scatternd(c: _Ctx) -> None:
    reduction = _names([c.attr("reduction", "none")])[0]
    if reduction != "none":
        c.reject(f"reduction '{reduction}'", c.rule.sentence("reduction"))


def _r_scatter_elements(c: _Ctx) -> None:
    reduction = _names([c.attr("reduction", "none")])[0]
    if reduction != "none":
        c.caveat(f"{c.op}: reduction '{reduction}' is implemented with a TensorRT plugin "
                 "(onnx-tensorrt scatterPluginHelper).")


def _backticked(sentence: str) -> set[str]:
    return set(re.findall(r"`([^`]+)`", sentence))


def _r_resize(c: _Ctx) -> None:
    rule = c.rule
    checks = (
        ("mode", "nearest", "resize modes"),
        ("coordinate_transformation_mode", "half_pixel", "transformation modes"),
        ("keep_aspect_ratio_policy", "stretch", "aspect ratio"),
    )
    mode = None
    for attr, default, key in checks:
        sentence = rule.sentence(key)
        allowed = _backticked(sentence)
        value = _names([c.attr(attr, default)])[0]
        if attr == "mode":
            mode = value
            if value == "cubic":
                # importResize maps cubic to InterpolationMode::kCUBIC (onnxOpImporters.cpp); the parser accepts it
                c.caveat(f"Resize: mode 'cubic': the support matrix says \"{sentence}\", but the onnx-tensorrt "
                         "parser accepts cubic (TensorRT's cubic coefficient is -0.75 by default, like ONNX's "
                         "cubic_coeff_a).")
                continue
        if allowed and value not in allowed:
            c.reject(f"{attr} '{value}'", sentence)
    if mode == "nearest":
        sentence = rule.sentence("nearest modes")
        allowed = _backticked(sentence)
        value = _names([c.attr("nearest_mode", "round_prefer_floor")])[0]
        if allowed and value not in allowed:
            c.reject(f"nearest_mode '{value}'", sentence)
    scales_in = c.input(2)
    if scales_in and c.graph is c.model.graph and scales_in in c.graph.input_names and \
            c.dtype(scales_in) not in (None, "INT32", "INT64"):
        c.reject(f"`scales` ('{scales_in}') is a network input: TensorRT makes it a shape tensor, which must be "
                 "INT32 or INT64 (seen with the real parser: \"Network input scales is a shape tensor and must "
                 "have type Int32 or Int64\"); make it an initializer")
    antialias = c.attr("antialias", 0)
    if antialias:
        c.reject(f"antialias={antialias}", rule.sentence("ntialias"))
    axes = c.attr("axes")
    scales = c.input(2)
    if axes and scales and c.constness(scales) < WEIGHTS:
        sentence = rule.sentence("iota")
        rank = c.rank(c.input(0))
        if rank is None:
            c.caveat(f"Resize: scales is a tensor input and axes={list(axes)}. {sentence}")
        elif [a % rank for a in axes] != list(range(rank)):
            c.reject(f"scales is a tensor input and axes={list(axes)} is not 0..{rank - 1}", sentence)


def _r_dropout(c: _Ctx) -> None:
    name = c.input(2)
    if not name:
        return
    sentence = c.rule.sentence("initializer")
    value = c.value(name)
    if value is not None:
        import numpy as np

        if bool(np.any(np.asarray(value))):
            c.reject(f"training_mode ('{name}') is True", sentence)
        return
    level = c.constness(name)
    if level == RUNTIME:
        c.reject(f"training_mode ('{name}') is computed at run time, not an initializer", sentence)
    else:
        c.caveat(f"Dropout: the value of training_mode ('{name}') could not be read. {sentence}")


def _static_dims_rule(keyword: str, what: Callable[[_Ctx], tuple[str, list | None]]) -> Callable[[_Ctx], None]:
    def check(c: _Ctx) -> None:
        label, dims = what(c)
        sentence = c.rule.sentence(keyword)
        if dims is None:
            c.caveat(f"{c.op}: the shape of the input is unknown. {sentence}")
            return
        named = [d for d in dims if isinstance(d, str)]
        if named:
            c.reject(f"{label} has dynamic dimension(s) {', '.join(map(str, named))}", sentence)
        elif any(d is None for d in dims):
            c.caveat(f"{c.op}: {label} has dimensions of unknown size. {sentence}")
    return check


def _eyelike_dims(c: _Ctx):
    shape = c.shape(c.input(0))
    return "the input", (list(shape) if shape is not None else None)


def _hardmax_dims(c: _Ctx):
    shape = c.shape(c.input(0))
    if shape is None:
        return "the axis dimension", None
    axis = c.attr("axis", -1 if c.model.opset >= 13 else 1)
    if not shape or not -len(shape) <= axis < len(shape):
        return "the axis dimension", []
    return f"the axis dimension (axis {axis})", [shape[axis]]


def _r_rank(inputs: tuple[int, ...], allowed: tuple[int, ...], keyword: str, label: str) -> Callable[[_Ctx], None]:
    def check(c: _Ctx) -> None:
        sentence = c.rule.sentence(keyword)
        unknown = False
        for i in inputs:
            name = c.input(i)
            if not name:
                continue
            rank = c.rank(name)
            if rank is None:
                unknown = True
            elif rank not in allowed:
                c.reject(f"{label} input {i} ('{name}') is {rank}D", sentence)
        if unknown:
            c.caveat(f"{c.op}: input rank unknown. {sentence}")
    return check


def _r_attention(c: _Ctx) -> None:
    rule = c.rule
    _r_rank((0, 1, 2, 3), (4,), "4D", "Attention")(c)
    names = ("Q", "K", "V", "attn_mask", "past_key", "past_value", "nonpad_kv_seqlen")
    for i in (4, 5, 6):
        if c.input(i):
            c.reject(f"input `{names[i]}` is used", rule.sentence("inputs are unsupported"))
    out_names = ("Y", "present_key", "present_value", "qk_matmul_output")
    for i in (1, 2, 3):
        if c.output(i):
            c.reject(f"output `{out_names[i]}` is used", rule.sentence("outputs are unsupported"))
    if c.attr("qk_matmul_output_mode", 0):
        c.reject(f"qk_matmul_output_mode={c.attr('qk_matmul_output_mode')}",
                 rule.sentence("attributes are unsupported"))
    k_shape, v_shape = c.shape(c.input(1)), c.shape(c.input(2))
    if k_shape is not None and v_shape is not None and all(isinstance(d, int) for d in (*k_shape, *v_shape)) \
            and tuple(k_shape) != tuple(v_shape):
        c.reject(f"K {list(k_shape)} and V {list(v_shape)} differ in shape: TensorRT's attention layer needs them "
                 "equal (seen with the real parser: \"Key and Value must have the same shape\")")
    if c.attr("softcap", 0.0):
        c.reject(f"softcap={c.attr('softcap')}", rule.sentence("attributes are unsupported"))


def _r_deformconv(c: _Ctx) -> None:
    sentence = c.rule.sentence("spatial")
    rank = c.rank(c.input(0))
    kernel = c.attr("kernel_shape")
    spatial = rank - 2 if rank is not None else (len(kernel) if kernel else None)
    if spatial is None:
        c.caveat(f"DeformConv: input rank unknown. {sentence}")
    elif spatial not in (1, 2):
        c.reject(f"the input has {spatial} spatial dimensions", sentence)
    pads = list(c.attr("pads") or ())
    if pads and len(pads) % 2 == 0 and pads[:len(pads) // 2] != pads[len(pads) // 2:]:
        c.reject(f"pads {pads} differ between the beginning and the end", c.rule.sentence("pads"))


def _r_tensor_scatter(c: _Ctx) -> None:
    _r_rank((0, 1), (4,), "4D", "TensorScatter")(c)
    axis = c.attr("axis", -2)
    if axis != -2:
        rank = c.rank(c.input(0))
        if rank is None or axis != rank - 2:
            c.reject(f"axis={axis}", c.rule.sentence("axis"))


def _r_rotary(c: _Ctx) -> None:
    name = c.input(3)
    dtype = c.dtype(name) if name else None
    if dtype is not None and dtype != "INT64":
        c.reject(f"position_ids ('{name}') is {dtype}", c.rule.sentence("position_ids"))


def _r_stft(c: _Ctx) -> None:
    shape = c.shape(c.input(0))
    sentence = c.rule.sentence("real-valued")
    if shape is None or not shape or not isinstance(shape[-1], int):
        c.caveat(f"STFT: cannot tell whether the signal is real-valued. {sentence}")
    elif shape[-1] == 2:
        c.reject("the signal is complex (last dimension 2)", sentence)


_EINSUM_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz->., ")


def _r_einsum(c: _Ctx) -> None:
    equation = c.attr("equation", "")
    bad = sorted({ch for ch in str(equation) if ch not in _EINSUM_CHARS})
    if bad:
        c.reject(f"equation '{equation}' uses {', '.join(bad)}: the onnx-tensorrt parser takes lowercase letters "
                 "a-z only (onnxOpCheckers.cpp checkEinsum: \"Invalid character(s) in Einsum equation\")")


def _r_batchnorm(c: _Ctx) -> None:
    if c.attr("training_mode", 0):
        c.reject("training_mode=1: the onnx-tensorrt parser imports inference BatchNormalization only "
                 "(onnxOpCheckers.cpp checkBatchNormalization: \"This version of TensorRT does not support "
                 "training_mode == 1 in BatchNormalization.\")")


def _r_loop(c: _Ctx) -> None:
    carried = max(0, len(c.node.inputs) - 2)
    scans = [o for o in c.node.outputs[carried:] if o]
    if scans and not c.input(0):
        c.reject(f"scan output(s) {', '.join(repr(o) for o in scans)} and no trip count `M`: their length is "
                 "not known when the network is built (seen with the real parser, importLoop: \"TensorRT cannot "
                 "infer the shape of scan output ... since no trip limit was set\")",
                 c.rule.sentence("Scan output"))


def _r_nonzero(c: _Ctx) -> None:
    c.caveat("NonZero: TensorRT imports it through its NonZero plugin (onnx-tensorrt importNonZero); "
             "TensorRT-RTX has no such plugin, so its parser rejects NonZero (measured with TensorRT-RTX 1.7.1). "
             "This prediction is TensorRT's.")


def _if_taken_branch(node: Node, graph: Graph, parents: tuple[Graph, ...]) -> str | None:
    """The branch of an If whose condition is weights (an initializer or a Constant): the parser imports
    only that one (onnx-tensorrt importIf). None when the condition is not a readable constant."""
    cond = node.inputs[0] if node.inputs else ""
    if not cond or constness(cond, graph, parents) != WEIGHTS:
        return None
    value = const_value(cond, graph, parents)
    if value is None:
        return None
    import numpy as np

    flat = np.asarray(value).reshape(-1)
    return None if flat.size != 1 else ("then_branch" if bool(flat[0]) else "else_branch")


def _r_if(c: _Ctx) -> None:
    cond = c.input(0)
    if cond and c.constness(cond) >= FOLDABLE:
        return  # a constant condition: only one branch becomes part of the network, ranks need not match
    then_g = c.node.subgraphs.get("then_branch")
    else_g = c.node.subgraphs.get("else_branch")
    if then_g is None or else_g is None:
        return
    sentence = c.rule.sentence("same rank")
    unknown = False
    for i, (a, b) in enumerate(zip(then_g.outputs, else_g.outputs)):
        if a.name == b.name:
            c.reject(f"output {i} of both branches is named '{a.name}'", sentence)
        if a.shape is None or b.shape is None:
            unknown = True
        elif len(a.shape) != len(b.shape):
            c.reject(f"output {i} has rank {len(a.shape)} in then_branch and {len(b.shape)} in else_branch",
                     sentence)
    if unknown:
        c.caveat(f"If: branch output ranks unknown. {sentence}")


_UINT8_AS_INT8 = ("the onnx-tensorrt parser takes it but uses INT8 instead (QuantDequantLinearHelper: \"TensorRT "
                  "doesn't support QuantizeLinear/DequantizeLinear with UINT8 zero_point. TensorRT will use INT8 "
                  "instead.\"), so quantized values above 127 change meaning")
_UINT8_QDQ_HINT = ("TensorRT has no UINT8 quantization and needs INT8 with zero point 0 (asymmetric uint8 Q/DQ is "
                   "what ONNX Runtime's quantizer writes by default): re-quantize with symmetric INT8 activations "
                   "and weights (activation_type=QInt8, weight_type=QInt8, ActivationSymmetric=True)")


def _tensor_source(name: str, graph: Graph, parents: tuple[Graph, ...], depth: int = 0):
    """The TensorProto (or a list, for value_ints/value_floats) behind a small constant, through
    Identity/Cast; None when it is not a readable constant. Reads nothing into numpy."""
    init = graph.initializers.get(name)
    if init is not None:
        return init.proto if init.external is None else None
    producer = graph.producer.get(name)
    if producer is None:
        if parents and name not in graph.input_names:
            found = _outer(name, parents)
            if found:
                return _tensor_source(name, found[0], found[1], depth)
        return None
    if not producer.is_default_domain or depth > 8:
        return None
    if producer.op_type in ("Identity", "Cast") and producer.inputs:
        return _tensor_source(producer.inputs[0], graph, parents, depth + 1)
    if producer.op_type == "Constant" and producer.proto is not None:
        for attr in producer.proto.attribute:
            if attr.name == "value":
                return attr.t if attr.t.data_location != 1 else None
            if attr.name in ("value_int", "value_float"):
                return [attr.i if attr.name == "value_int" else attr.f]
            if attr.name in ("value_ints", "value_floats"):
                return list(attr.ints if attr.name == "value_ints" else attr.floats)
    return None


_FIELDS = ("float_data", "int32_data", "int64_data", "double_data", "uint64_data")


def _all_zero(source) -> bool | None:
    """True when every element is certainly 0, False when some byte/field is not 0, None when unknown."""
    if source is None:
        return None
    if isinstance(source, list):
        return not any(source)
    raw = source.raw_data
    if raw:
        return raw.count(0) == len(raw)
    for name in _FIELDS:
        values = getattr(source, name)
        if values:
            return not any(values)
    return True if not source.dims or 0 in source.dims else None


def _min_float(source) -> float | None:
    """The smallest value of a FLOAT/FLOAT16/DOUBLE constant without numpy, or None."""
    import struct

    if source is None:
        return None
    if isinstance(source, list):
        return float(min(source)) if source else None
    fmt = {1: "<f", 10: "<e", 11: "<d"}.get(source.data_type)
    if fmt is None:
        return None
    raw = source.raw_data
    if raw:
        size = struct.calcsize(fmt)
        if len(raw) % size or len(raw) > 4096 * size:
            return None
        return min(v[0] for v in struct.iter_unpack(fmt, raw)) if raw else None
    if source.data_type == 1 and source.float_data:
        return min(source.float_data)
    if source.data_type == 11 and source.double_data:
        return min(source.double_data)
    if source.data_type == 10 and source.int32_data:  # FLOAT16 bit patterns
        return min(struct.unpack("<e", struct.pack("<H", v & 0xFFFF))[0] for v in source.int32_data)
    return None


def _cached_constant(c: _Ctx, kind: str, name: str, reduce):
    """``reduce`` of a constant input's value, memoised per graph (shared scales and zero points are
    checked once); None when the value cannot be read."""
    cache = _cache(c.graph)[kind]
    value = cache.get(name, _MISSING)
    if value is _MISSING:
        try:
            value = reduce(_tensor_source(name, c.graph, c.parents))
        except Exception:  # unreadable or malformed constant: the caller reports "cannot check"
            value = None
        cache[name] = value
    return value


def _check_scale(c: _Ctx) -> None:
    name = c.input(1)
    if not name:
        return
    smallest = _cached_constant(c, "scale", name, _min_float)
    if smallest is not None and smallest <= 0:
        c.reject("scale has values <= 0 (the onnx-tensorrt parser requires positive scales)")


def _check_zero_point(c: _Ctx, index: int, label: str, uint8: bool = False) -> None:
    name = c.input(index)
    if not name:
        return
    zero = _cached_constant(c, "zero", name, _all_zero)
    if zero:
        return
    sentence = c.rule.sentence("zero")
    value = c.value(name)  # slow path: numpy, only for zero points that are not plainly zero
    if value is None:
        c.caveat(f"{c.op}: {label} ('{name}') could not be read. {sentence}")
        return
    import numpy as np

    arr = np.asarray(value)
    if arr.size and bool(np.any(arr.astype(np.float64) != 0)):
        if uint8:
            c.reject(f"{label} is {_fmt_values(arr)}, not 0: asymmetric UINT8 quantization. {_UINT8_QDQ_HINT}",
                     sentence)
        else:
            c.reject(f"{label} is {_fmt_values(arr)}, not 0 (asymmetric quantization)", sentence)


def _quantize_targets(c: _Ctx) -> frozenset[str]:
    dq = c.matrix.operators.get("DequantizeLinear")
    types = dq.types if dq is not None and dq.types else c.matrix.quantized_types
    return frozenset(types) & (c.matrix.quantized_types | QUANTIZED_TYPES)


def _fp8_caveat(c: _Ctx, dtype: str) -> None:
    if dtype in FP8_TYPES and dtype != "FLOAT8E4M3FN":
        c.caveat(f"{c.op}: {dtype}: TensorRT's FP8 is E4M3 (FLOAT8E4M3FN); other FP8 formats may be rejected.")


def _r_quantize(c: _Ctx) -> None:
    rule = c.rule
    x = c.input(0)
    dtype = c.dtype(x)
    if dtype is not None and dtype not in rule.allowed:
        if dtype == "DOUBLE":
            c.warn(f"QuantizeLinear input '{x}' is DOUBLE: TensorRT casts DOUBLE down to FLOAT.")
        else:
            c.reject(f"input '{x}' is {dtype}; TensorRT quantizes {rule.type_list} only")
    zp = c.input(2)
    qtype = c.dtype(c.output(0)) or (c.dtype(zp) if zp else None)
    if qtype is None and not zp:
        out_attr = c.attr("output_dtype", 0)
        if out_attr:
            import onnx

            qtype = onnx.TensorProto.DataType.Name(out_attr)
        else:
            qtype = "UINT8"
    targets = _quantize_targets(c)
    if qtype == "UINT8":
        why = " (no zero point is given, so ONNX quantizes to UINT8)" if not zp else ""
        c.warn(f"QuantizeLinear quantizes to UINT8{why}: {_UINT8_AS_INT8}. {_UINT8_QDQ_HINT}")
        _check_zero_point(c, 2, "y_zero_point", uint8=True)
        _check_scale(c)
        return
    if qtype is not None and qtype not in targets:
        c.reject(f"quantizes to {qtype}; TensorRT quantizes to {_fmt_types(targets)} only")
        return
    if qtype is not None:
        _fp8_caveat(c, qtype)
    _check_zero_point(c, 2, "y_zero_point")
    _check_scale(c)


def _r_dequantize(c: _Ctx) -> None:
    rule = c.rule
    x = c.input(0)
    dtype = c.dtype(x)
    if dtype == "UINT8":
        producer = c.graph.producer.get(x)
        if producer is None or producer.op_type != "QuantizeLinear":
            # a UINT8 network input or initializer: the importer's type check refuses it (seen with the real
            # parser: "checkNotInvalidType: Found unsupported input type of UINT8"); only a QuantizeLinear's
            # UINT8 output is taken (as INT8)
            c.reject(f"input '{x}' is UINT8 and not a QuantizeLinear output: the onnx-tensorrt parser refuses "
                     f"UINT8 tensors here. {_UINT8_QDQ_HINT}")
            return
        c.warn(f"DequantizeLinear input '{x}' is UINT8: {_UINT8_AS_INT8}. {_UINT8_QDQ_HINT}")
        _check_zero_point(c, 2, "x_zero_point", uint8=True)
        _check_scale(c)
        return
    if dtype == "INT32":
        c.reject(f"input '{x}' is INT32 (a quantized bias, as ONNX Runtime's quantizer writes by default); "
                 f"TensorRT dequantizes {rule.type_list} only: keep biases in float (QuantizeBias=False)")
        return
    if dtype is not None and dtype not in rule.allowed:
        c.reject(f"input '{x}' is {dtype}; TensorRT dequantizes {rule.type_list} only")
        return
    if dtype is not None:
        _fp8_caveat(c, dtype)
    _check_zero_point(c, 2, "x_zero_point")
    _check_scale(c)


# Per-op rules and the restriction sentences each one checks (the rest become caveats).
_ATTR_RULES: dict[str, tuple[tuple[Callable[[_Ctx], None], ...], tuple[str, ...]]] = {
    "AveragePool": ((_r_pool_dims, _r_dilations), ("2D or 3D", "dilations")),
    "MaxPool": ((_r_pool_dims, _r_dilations, _r_maxpool_indices), ("2D or 3D", "dilations", "Indices")),
    "LpPool": ((_r_dilations, _r_lppool_p), ("dilations",)),
    "Mod": ((_r_mod,), ()),
    "Unsqueeze": ((_r_unsqueeze_axes,), ()),
    "LayerNormalization": ((_r_layernorm_outputs,), ("first output",)),
    "Constant": ((_r_constant_attrs,), ("sparse_value",)),
    **{op: ((_r_seed,), ("seed",)) for op in ("RandomNormal", "RandomNormalLike", "RandomUniform",
                                              "RandomUniformLike")},
    "TopK": ((_r_topk,), ("sorted", "K")),
    "LSTM": ((_r_rnn_common(("sigmoid", "tanh", "tanh")), _r_lstm_attrs),
             ("bidirectional", "input_forget", "layout")),
    "GRU": ((_r_rnn_common(("sigmoid", "tanh")),), ("bidirectional",)),
    "RNN": ((_r_rnn_common(("tanh",)),), ("bidirectional",)),
    "ScatterND": ((_r_scatternd,), ("reduction",)),
    "ScatterElements": ((_r_scatter_elements,), ()),
    "Resize": ((_r_resize,), ("Supported", "iota", "ntialias")),
    "Dropout": ((_r_dropout,), ("initializer",)),
    "EyeLike": ((_static_dims_rule("static", _eyelike_dims),), ("static",)),
    "Hardmax": ((_static_dims_rule("dimension", _hardmax_dims),), ("dimension",)),
    "GridSample": ((_r_rank((0,), (4,), "4D", "GridSample"),), ("4D",)),
    "Attention": ((_r_attention,), ("4D", "unsupported", "supported via")),
    "DeformConv": ((_r_deformconv,), ("spatial", "pads")),
    "TensorScatter": ((_r_tensor_scatter,), ("4D", "axis")),
    "RotaryEmbedding": ((_r_rotary,), ("position_ids",)),
    "STFT": ((_r_stft,), ("real-valued",)),
    "If": ((_r_if,), ("same rank",)),
    "Einsum": ((_r_einsum,), ()),
    "BatchNormalization": ((_r_batchnorm,), ()),
    "Loop": ((_r_loop,), ("Scan output",)),
    "NonZero": ((_r_nonzero,), ()),
    "QuantizeLinear": ((_r_quantize,), ("zero_point",)),
    "DequantizeLinear": ((_r_dequantize,), ("zero_point",)),
}

_CONST_RE = re.compile(
    r"^((?:`[^`]+`\s*(?:,\s*|\s+and\s+)?)+)\s*(?:input\s+)?must be "
    r"(an initializer|a build-time constant|resolvable to a constant|a constant tensor)")
_CONST_POLICY = {"an initializer": "initializer", "a constant tensor": "initializer",
                 "a build-time constant": "build-time", "resolvable to a constant": "resolvable"}
_NEVER_REJECT_CONST = frozenset({"Squeeze", "Unsqueeze"})  # axes: caveat only


def _sentences(text: str) -> tuple[str, ...]:
    parts = re.split(r"(?<=\.)\s+(?=[A-Z`])", text.strip())
    return tuple(p.strip() for p in parts if p.strip())


def _schema_inputs(op: str) -> list[str]:
    try:
        import onnx.defs

        return [i.name for i in onnx.defs.get_schema(op).inputs]
    except Exception:
        return []


def _compile_rule(op: str, spec, matrix: SupportMatrix, extensions) -> _OpRule:
    rule = _OpRule()
    rule.op, rule.spec = op, spec
    rule.supported = spec.supported
    label = _trt_label(matrix)
    if not spec.supported:
        reason = f"{op} is not supported by {label}"
        if spec.restrictions:
            reason += f": {spec.restrictions}"
        rule.reason = reason
    else:
        rule.reason = ""
    # An operator listed without types (none today) gets no type check rather than rejecting everything.
    rule.in_pos, rule.out_pos = _DATA_POSITIONS.get(op, (_ALL, _ALL)) if spec.types else ((), ())
    rule.allowed = spec.types
    rule.type_list = _fmt_types(spec.types)
    extra = extensions.get(op)
    rule.extra_types, rule.extra_why = (extra if extra else (frozenset(), ""))
    rule.fast = frozenset(t for t in spec.types
                          if t not in matrix.io_only_types and (t not in FP8_TYPES or t == "FLOAT8E4M3FN"))
    rule.sentences = _sentences(spec.restrictions)
    checks, covered = _ATTR_RULES.get(op, ((), ()))
    checks = list(checks)
    narrow = _NARROWING.get(op)
    if narrow is not None and spec.supported:
        checks.append(_narrowing_rule(*narrow))
    covered = list(covered)
    const_inputs = []
    schema = None
    for sentence in rule.sentences:
        m = _CONST_RE.match(sentence)
        if not m or op == "Dropout":
            continue
        policy = _CONST_POLICY[m.group(2)]
        if op in _NEVER_REJECT_CONST:
            policy = "resolvable"
        schema = schema if schema is not None else _schema_inputs(op)
        names = re.findall(r"`([^`]+)`", m.group(1))
        positions = [(schema.index(n), n, policy, sentence) for n in names if n in schema]
        if positions:
            const_inputs.extend(positions)
            covered.append(sentence)
    if const_inputs:
        checks.append(_r_constant_inputs(const_inputs))
    rule.checks = tuple(checks)
    rule.static_caveats = tuple(f"{op}: {s}" for s in rule.sentences
                                if spec.supported and not any(k in s for k in covered))
    return rule


_COMPILED: dict[SupportMatrix, dict[str, _OpRule]] = {}
_NARROWING = _load_narrowing()


def _rules(matrix: SupportMatrix) -> dict[str, _OpRule]:
    rules = _COMPILED.get(matrix)
    if rules is None:
        extensions = _load_extensions()
        rules = {op: _compile_rule(op, spec, matrix, extensions) for op, spec in matrix.operators.items()}
        _COMPILED[matrix] = rules
    return rules


# ------------------------------------------------------------------------------------------ judging

def judge(node: Node, graph: Graph, model: Model, matrix: SupportMatrix) -> Judgement:
    """Predict whether TensorRT's ONNX parser takes ``node`` (of ``graph``, in ``model``) per ``matrix``.

    For a node of an If/Loop/Scan body pass the body graph; its outer-scope tensors are looked up in
    ``model.graph`` (use :func:`judge_graph` on the main graph to get bodies judged with full context).
    """
    parents: tuple[Graph, ...] = () if graph is model.graph else (model.graph,)
    return _judge(node, graph, parents, model, matrix, _rules(matrix))


def judge_graph(model: Model, matrix: SupportMatrix) -> dict[str, Judgement]:
    """Verdicts for every node of the main graph, keyed by node id (bodies are in ``children``)."""
    import gc

    rules = _rules(matrix)
    graph = model.graph
    # Each verdict is a handful of small containers; on 100k-node graphs the cyclic GC would otherwise spend
    # a third of the time re-scanning them (they hold no cycles).
    table = getattr(graph.tensors, "dtype_table", None)
    if table is not None:  # the main graph's element types, as the loader indexed them: no lookup per name
        _cache(graph)["dtype"].update(table())
    enabled = gc.isenabled()
    gc.disable()
    try:
        return {node.id: _judge(node, graph, (), model, matrix, rules) for node in graph.nodes}
    finally:
        if enabled:
            gc.enable()


def _pick(names: tuple[str, ...], positions) -> list[str]:
    """The names at ``positions`` (ascending) that the node has."""
    n = len(names)
    picked = []
    for i in positions:
        if i >= n:
            break
        picked.append(names[i])
    return picked


_PLAIN_SUPPORTED: dict[tuple[int, str], Judgement] = {}  # matrices are cached for the process's lifetime
_NO_CHILDREN: Mapping[str, Judgement] = MappingProxyType({})


def _judge(node: Node, graph: Graph, parents: tuple[Graph, ...], model: Model, matrix: SupportMatrix,
           rules: dict[str, _OpRule], as_builtin: bool = False) -> Judgement:
    op = node.op_type
    rule = rules.get(op)
    if rule is None:
        return _judge_other(node, graph, parents, model, matrix, rules)
    if not as_builtin and node.domain not in DEFAULT_DOMAINS:
        return _judge_elsewhere(node, graph, parents, model, matrix, rules, rule)
    if not rule.supported:
        return Judgement(False, [rule.reason], [])

    # Data types: the fast path is a dict lookup and a set test per tensor.
    cache = graph.__dict__.get(_CACHE_KEY) or _cache(graph)
    dtypes = cache["dtype"]
    lookup = dtypes.get
    fast = rule.fast
    odd: list | None = None
    positions = rule.in_pos
    for name in (node.inputs if positions is None else _pick(node.inputs, positions)):
        if name:
            dt = lookup(name, _MISSING)
            if dt is _MISSING:
                dt = dtypes[name] = _lookup_dtype(name, graph, parents)
            if dt is not None and dt not in fast:
                if odd is None:
                    odd = []
                odd.append((name, dt, True))
    positions = rule.out_pos
    for name in (node.outputs if positions is None else _pick(node.outputs, positions)):
        if name:
            dt = lookup(name, _MISSING)
            if dt is _MISSING:
                dt = dtypes[name] = _lookup_dtype(name, graph, parents)
            if dt is not None and dt not in fast:
                if odd is None:
                    odd = []
                odd.append((name, dt, False))

    if odd is None and not rule.checks and not node.subgraphs:
        # Most nodes of a big graph end here: share one verdict per (matrix, op). Callers treat verdicts as
        # read-only (the analysis copies what it keeps).
        key = (id(matrix), op)
        plain = _PLAIN_SUPPORTED.get(key)
        if plain is None:
            plain = _PLAIN_SUPPORTED[key] = Judgement(True, [], list(rule.static_caveats), [], _NO_CHILDREN)
        return plain

    c = _Ctx(node, graph, parents, model, matrix, rule)
    if odd is not None:
        for name, dt, is_input in odd:
            _type_finding(c, name, dt, is_input)
    for check in rule.checks:
        try:
            check(c)
        except Exception as exc:  # malformed attributes must not stop the analysis
            c.caveat(f"{op}: a restriction could not be checked ({type(exc).__name__}: {exc}). "
                     f"{rule.spec.restrictions}".strip())
    children: dict[str, Judgement] = {}
    if node.subgraphs:
        inner = parents + (graph,)
        taken = _if_taken_branch(node, graph, parents) if op == "If" else None
        for attr_name, body in node.subgraphs.items():
            if taken is not None and attr_name != taken:
                continue  # the parser never imports the branch a constant condition does not take
            for body_node in body.nodes:
                verdict = _judge(body_node, body, inner, model, matrix, rules)
                children[body_node.id] = verdict
                if verdict.children:
                    children.update(verdict.children)  # flat: every descendant, keyed by its id
                if not verdict.supported:
                    first = verdict.reasons[0] if verdict.reasons else "unsupported"
                    c.reasons.append(f"{op} body node '{body_node.id}' ({body_node.op_type}): {first}")
    for text in rule.static_caveats:
        c.caveat(text)
    return Judgement(not c.reasons, c.reasons, c.caveats, c.warnings, children)


#: attributes a builtin importer reads without a default, beyond the ONNX schema's required ones (ScaledTanh has
#: no schema left in onnx): onnx-tensorrt importScaledTanh reads ``alpha`` and ``beta``
_IMPORTER_READS = {"ScaledTanh": ("alpha", "beta")}


@functools.lru_cache(maxsize=None)
def _required_attributes(op: str, opset: int) -> tuple[str, ...]:
    """Attributes the builtin importer of ``op`` reads without a default: its own list, then the ONNX schema's
    required ones (looked up once per op and opset: a model can hold thousands of such nodes)."""
    required = list(_IMPORTER_READS.get(op, ()))
    try:
        import onnx.defs

        schema = onnx.defs.get_schema(op, opset)
        required += [a for a, spec in schema.attributes.items() if spec.required and a not in required]
    except Exception:  # no schema for this op: only the importer's own list
        pass
    return tuple(required)


def _judge_elsewhere(node: Node, graph: Graph, parents: tuple[Graph, ...], model: Model, matrix: SupportMatrix,
                     rules: dict[str, _OpRule], rule: _OpRule) -> Judgement:
    """A node of another domain whose op_type has a builtin importer: the parser dispatches by op_type whatever
    the domain (onnx-tensorrt ModelImporter parseNode; a local function or plugin of that name is never
    reached), so it is judged as the builtin op, and its attributes are those the importer reads."""
    qualified = f"{node.domain}::{node.op_type}"
    note = (f"{qualified}: TensorRT's parser imports it with its builtin {node.op_type} importer, whatever the "
            "domain (a model-local function or plugin of that name is not used)")
    names = {a.name for a in node.proto.attribute} if node.proto is not None else set()
    missing = [a for a in _required_attributes(node.op_type, max(model.opset or 1, 1)) if a not in names]
    base = _judge(node, graph, parents, model, matrix, rules, as_builtin=True)
    reasons = list(base.reasons)
    if missing:
        reasons.append(f"{qualified}: the builtin {node.op_type} importer reads attribute(s) "
                       f"{', '.join(missing)}, which this node lacks (seen with the real parser: "
                       "\"parseNode: Invalid Node\")")
    return Judgement(not reasons, reasons, [note] + list(base.caveats), list(base.warnings), base.children)


def _type_finding(c: _Ctx, name: str, dt: str, is_input: bool) -> None:
    if dt == "UNDEFINED":
        return
    rule = c.rule
    op = c.op
    direction = "input" if is_input else "output"
    main = c.graph is c.model.graph
    if dt in rule.allowed:
        if dt in c.matrix.io_only_types:
            graph = c.graph
            if main and ((is_input and name in graph.input_names) or (not is_input and name in graph.output_names)):
                return
            if is_input and name in graph.initializers:
                c.caveat(f"{op}: UINT8 initializer '{name}': TensorRT supports UINT8 only as network input or "
                         "output.")
                return
            c.reject(f"{direction} '{name}' is an intermediate UINT8 tensor; TensorRT supports UINT8 only as a "
                     "network input or output")
            return
        _fp8_caveat(c, dt)
        return
    if dt == "DOUBLE" and "FLOAT" in rule.allowed:
        c.warn(f"{op} {direction} '{name}' is DOUBLE: TensorRT casts DOUBLE down to FLOAT, clamping values to "
               "+-FLT_MAX.")
        return
    if dt in rule.extra_types:  # the importer takes it (parser-type-extensions.json): before the generic rules
        c.caveat(f"{op}: {direction} '{name}' is {dt}: the support matrix lists {rule.type_list}, but "
                 f"{rule.extra_why}.")
        return
    if dt in c.matrix.io_only_types:
        graph = c.graph
        if main and is_input and name in graph.input_names:
            c.reject(f"UINT8 network input '{name}' is used directly; TensorRT needs a Cast to a supported type "
                     f"first ({op} takes {rule.type_list})")
        elif main and not is_input and name in graph.output_names:
            c.reject(f"produces the UINT8 network output '{name}' directly; TensorRT needs a Cast to UINT8 at "
                     f"the end ({op} takes {rule.type_list})")
        else:
            c.reject(f"{direction} '{name}' is UINT8; TensorRT supports UINT8 only as a network input or output")
        return
    if op in ("Cast", "CastLike") and dt in _CAST_LOW_PRECISION:
        c.caveat(f"{op}: {direction} '{name}' is {dt}: the support matrix does not list it for {op}, but the "
                 "onnx-tensorrt parser casts it (measured with TensorRT-RTX 1.7; TensorRT 10.x builds need a "
                 "GPU with FP8/FP4 support).")
        return
    if dt in c.matrix.quantized_types or dt in QUANTIZED_TYPES:
        if _feeds_qdq_only(c):
            if op in _DATA_MOVEMENT or all(c.constness(o) >= FOLDABLE for o in c.node.outputs if o):
                # Q -> (reshape/transpose/...) -> DQ, quantized weights -> DQ, Cast(Constant) zero points
                return
        if op in _DATA_MOVEMENT:
            c.caveat(f"{op}: {direction} '{name}' is {dt}: TensorRT handles quantized types only between "
                     "QuantizeLinear and DequantizeLinear.")
            return
        c.reject(f"{direction} '{name}' is {dt}; quantized types (INT8, INT4, FP8, FP4) are supported only "
                 f"through QuantizeLinear/DequantizeLinear ({op} takes {rule.type_list})")
        return
    c.reject(f"{direction} '{name}' is {dt}; supported types are {rule.type_list}")


_CAST_LOW_PRECISION = frozenset({"FLOAT8E4M3FN", "INT4", "FLOAT4E2M1"})
_QDQ_OPS = frozenset({"QuantizeLinear", "DequantizeLinear"})


def _feeds_qdq_only(c: _Ctx) -> bool:
    """Every output of the node is read only by Q/DQ nodes, possibly through data-movement nodes."""
    consumers_of = c.graph.consumers
    outputs = [o for o in c.node.outputs if o]
    if not outputs:
        return False
    seen = 0
    stack = list(outputs)
    while stack:
        readers = consumers_of.get(stack.pop(), ())
        if not readers:
            return False
        for reader in readers:
            seen += 1
            if seen > 64:
                return False
            if reader.op_type in _QDQ_OPS and reader.is_default_domain:
                continue
            if (reader.op_type in _DATA_MOVEMENT or reader.op_type == "Cast") and reader.is_default_domain:
                stack.extend(o for o in reader.outputs if o)
                continue
            return False
    return True


def _judge_other(node: Node, graph: Graph, parents: tuple[Graph, ...], model: Model, matrix: SupportMatrix,
                 rules: dict[str, _OpRule]) -> Judgement:
    """Operators the matrix does not list: model-local functions, TensorRT plugins, custom domains."""
    op, domain = node.op_type, node.domain
    default = domain in DEFAULT_DOMAINS
    key = (domain, op)
    if key not in model.functions and default:
        key = ("", op) if ("", op) in model.functions else ("ai.onnx", op)
    if key in model.functions:
        return _judge_function(key, model, matrix, rules, node, graph, parents)
    qualified = op if default else f"{domain}::{op}"
    if op.endswith("_TRT"):
        return Judgement(True, [], [f"{qualified} is a TensorRT plugin (libnvinfer_plugin): it must be "
                                    "registered when the model is parsed (trtexec does this)."])
    if default:
        return Judgement(False, [f"{op} is not in the {_trt_label(matrix)} operator support matrix"], [])
    reason = f"custom operator {qualified} needs a TensorRT plugin"
    if domain == "com.microsoft":
        reason += (" (an ONNX Runtime contrib operator, e.g. from ONNX Runtime's graph optimizations or "
                   "quantizer: export the model without them, or provide a plugin)")
    elif domain == "ai.onnx.ml":
        reason += " (a classical-ML operator of the ai.onnx.ml domain)"
    return Judgement(False, [reason], [])


def _judge_function(key: tuple[str, str], model: Model, matrix: SupportMatrix, rules: dict[str, _OpRule],
                    node: Node | None = None, graph: Graph | None = None,
                    parents: tuple[Graph, ...] = ()) -> Judgement:
    """A call of a model-local function: the parser inlines it, so every body node is judged as a node of its
    own (with this call's attributes and input types, :func:`explorer.model.functions.instantiate`); operators
    nested functions use are checked by name too."""
    domain, name = key
    label = f"{domain}::{name}" if domain else name
    cache = model.__dict__.setdefault("_function_verdicts", {})
    by_op = cache.get(("ops", id(matrix), key))
    if by_op is None:
        by_op = cache[("ops", id(matrix), key)] = _function_op_reasons(key, model, matrix, rules, label)
    reasons, count = list(by_op[0]), by_op[1]
    by_node = _function_body_reasons(key, model, matrix, rules, node, graph, parents, label)
    if by_node is None:
        caveat = (f"{label} is a model-local function: TensorRT's parser inlines it; its {count} body node(s) are "
                  "checked by operator only, not by type or attribute.")
    else:
        reasons += [r for r in by_node if r not in reasons]
        caveat = (f"{label} is a model-local function: TensorRT's parser inlines it; its body nodes are judged "
                  "one by one with this call's attributes and input types (types inside the body are not "
                  "inferred).")
    return Judgement(not reasons, reasons, [caveat])


def _function_op_reasons(key, model: Model, matrix: SupportMatrix, rules: dict[str, _OpRule],
                         label: str) -> tuple[tuple[str, ...], int]:
    """Reasons from the operators a function (and the functions it calls) uses, and its body node count."""
    reasons: list[str] = []
    seen_funcs = {key}
    stack = [key]
    seen_ops: set[tuple[str, str]] = set()
    count = 0
    while stack:
        function = model.functions[stack.pop()]
        for op_domain, op in function.op_types:
            count += 1
            if (op_domain, op) in seen_ops:
                continue
            seen_ops.add((op_domain, op))
            inner = (op_domain, op)
            if inner in model.functions and not (op in rules and op_domain not in DEFAULT_DOMAINS):
                if inner not in seen_funcs:
                    seen_funcs.add(inner)
                    stack.append(inner)
                continue
            if op in rules:
                rule = rules[op]
                if not rule.supported:
                    reasons.append(f"model-local function {label} uses {op}: {rule.reason}")
            elif op_domain in DEFAULT_DOMAINS:
                reasons.append(f"model-local function {label} uses {op}, which is not in the "
                               f"{_trt_label(matrix)} operator support matrix")
            elif not op.endswith("_TRT"):
                reasons.append(f"model-local function {label} uses custom operator {op_domain}::{op}, which "
                               "needs a TensorRT plugin")
    return tuple(reasons), count


def _function_reads_shapes(key, model: Model, rules: dict[str, _OpRule], depth: int = 0) -> bool:
    """Whether judging the body of function ``key`` (and the functions it calls) can depend on input shapes:
    some body op has attribute/shape rules."""
    info = model.functions.get(key)
    if info is None or depth > 8:
        return True
    for op_domain, op in info.op_types:
        if (op_domain, op) in model.functions and not (op in rules and op_domain not in DEFAULT_DOMAINS):
            if _function_reads_shapes((op_domain, op), model, rules, depth + 1):
                return True
        elif op in rules and (rules[op].checks or rules[op].static_caveats):
            return True
    return False


_FUNCTION_DEPTH = [0]  # nesting of instantiated bodies being judged (a function calling itself stops here)


def _function_body_reasons(key, model, matrix, rules, node, graph, parents, label) -> list[str] | None:
    """Reasons from judging the instantiated body node by node; None when it cannot be instantiated. Cached on
    the model per (function, input types, attributes): a big model calls one function many times."""
    if node is None or graph is None or _FUNCTION_DEPTH[0] > 4:
        return None
    from ..model.functions import instantiate

    dtypes = _cache(graph)["dtype"]

    def dtype_of(name: str) -> str | None:
        dt = dtypes.get(name, _MISSING)
        if dt is _MISSING:
            dt = dtypes[name] = _lookup_dtype(name, graph, parents)
        return dt

    shape_of = lambda n: _shape(n, graph, parents)  # noqa: E731
    cache = model.__dict__.setdefault("_function_verdicts", {})
    # shapes are part of the signature only when a body op has a rule that reads them (decoding shapes is the
    # expensive part of a big model's many calls)
    ranked = cache.get(("ranked", id(matrix), key))
    if ranked is None:
        ranked = cache[("ranked", id(matrix), key)] = _function_reads_shapes(key, model, rules)
    attrs = tuple(a.SerializeToString() for a in node.proto.attribute) if node.proto is not None else ()
    types = tuple(dtype_of(i) if i else None for i in node.inputs)
    shapes = tuple(tuple(shape_of(i) or ()) if i else None for i in node.inputs) if ranked else None
    sig = (id(matrix), key, types, shapes, attrs)
    if sig in cache:
        return cache[sig]
    _FUNCTION_DEPTH[0] += 1
    try:
        body = instantiate(model, node, graph, dtype_of, shape_of)
        if body is None:
            result = None
        else:
            result = []
            verdicts = judge_graph(body, matrix)
            for body_node in body.graph.nodes:
                v = verdicts[body_node.id]
                if not v.supported:
                    first = v.reasons[0] if v.reasons else "unsupported"
                    result.append(f"model-local function {label}: body node '{body_node.name or body_node.id}' "
                                  f"({body_node.op_type}): {first}")
    except Exception:  # a body that cannot be built: fall back to the operator check
        result = None
    finally:
        _FUNCTION_DEPTH[0] -= 1
    cache[sig] = result
    return result


# ------------------------------------------------------------------------------------------ model level

def check_opset(model: Model, matrix: SupportMatrix) -> str | None:
    """A message when the model's ai.onnx opset is outside the matrix's range, else None."""
    opset = model.opset
    if not opset or matrix.opset_min <= opset <= matrix.opset_max:
        return None
    target = matrix.opset_min if opset < matrix.opset_min else matrix.opset_max
    side = "older" if opset < matrix.opset_min else "newer"
    return (f"The model uses ONNX opset {opset}, {side} than the opsets {_trt_label(matrix)} supports "
            f"({matrix.opset_min} to {matrix.opset_max}). Convert it first: "
            f"onnx.version_converter.convert_version(model, {target}).")
