"""Mutations: raw bytes, ONNX protobuf (through the onnx API), JSON documents and build-log text.

Every function takes a ``random.Random`` and returns what it made plus a short label saying how, so a
failing case reads like "model-graph: rewire-cycle + huge-name on transformer_encoder.onnx".
"""

from __future__ import annotations

import gzip
import io
import json
import random
import struct
import zipfile
from typing import Any, Callable

import onnx
from onnx import AttributeProto, TensorProto, helper

# ------------------------------------------------------------------------------------------ strings

HOSTILE_STRINGS = (
    "<script>alert('x')</script>",
    "<img src=x onerror=alert(1)>",
    "\"'><svg/onload=alert(2)>",
    "{{7*7}} ${7*7} <%= 7*7 %>",
    "\x1b[31mRED\x1b[0m\x1b]0;pwned\x07",  # ANSI colour and a terminal title change
    "\x1b[2J\x1b[H",  # clear screen
    "line1\nline2\r\nline3\rX",
    "\u202eevil\u202c",  # right-to-left override
    "zero\u200bwidth\ufeff",
    "tab\there\x00nul",
    "\ud7ff\ue000\uffff",
    "名前/ノード/😀",
    "../../../../etc/passwd",
    "a + b || c",  # TensorRT's fusion separators
    "{ForeignNode[x...y]}",
    "[ONNX Layer: x]\x1f[ONNX Layer: y]",
    "",
    " ",
    "%s%n%x%d",
)


def hostile_string(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.08:
        return "N" * rng.choice((4096, 65536, 1024 * 1024))  # up to 1 MB
    if kind < 0.16:
        return "".join(chr(rng.randrange(1, 0x2FFFF)) for _ in range(rng.randint(1, 40))
                       ).encode("utf-8", "replace").decode("utf-8", "replace")
    return rng.choice(HOSTILE_STRINGS)


def _safe_text(text: str) -> str:
    """Lone surrogates cannot be stored in a protobuf string: replace them."""
    return text.encode("utf-8", "replace").decode("utf-8")


# --------------------------------------------------------------------------------------------- bytes

def flip_bytes(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    buf = bytearray(data)
    count = rng.choice((1, 2, 8, 64))
    for _ in range(count):
        if not buf:
            break
        buf[rng.randrange(len(buf))] ^= 1 << rng.randrange(8)
    return bytes(buf), f"flip-{count}-bits"


def truncate(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    if not data:
        return data, "truncate-empty"
    cut = rng.choice((0, 1, 2, rng.randrange(len(data)), len(data) // 2, len(data) - 1))
    return data[:cut], f"truncate-at-{cut}"


def random_bytes(rng: random.Random, size: int | None = None) -> tuple[bytes, str]:
    size = size if size is not None else rng.choice((1, 7, 100, 4096, 100_000))
    return rng.randbytes(size), f"random-{size}-bytes"


def splice(rng: random.Random, data: bytes, other: bytes) -> tuple[bytes, str]:
    a = rng.randrange(len(data) + 1)
    b = rng.randrange(len(other) + 1)
    return data[:a] + other[b:], "splice"


def overwrite_span(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    if not data:
        return data, "overwrite-empty"
    start = rng.randrange(len(data))
    length = rng.choice((4, 16, 256))
    fill = rng.choice((b"\x00", b"\xff", None))
    chunk = rng.randbytes(length) if fill is None else fill * length
    return data[:start] + chunk + data[start + length:], "overwrite-span"


def varint_bomb(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    """Length prefixes that claim far more bytes than follow (protobuf field 7 = graph)."""
    claim = rng.choice((2**31 - 1, 2**32 + 5, 2**62))
    out = bytearray()
    value = claim
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            break
    return data[:rng.randrange(len(data) + 1)] + b"\x3a" + bytes(out) + b"\x00" * 16, "length-prefix-bomb"


BYTE_MUTATIONS: tuple[Callable, ...] = (flip_bytes, truncate, overwrite_span, varint_bomb)


# ------------------------------------------------------------------------------------ foreign formats

def foreign_file(rng: random.Random) -> tuple[bytes, str]:
    """Files people mistake for ONNX models."""
    kind = rng.choice(("plan", "zip", "pickle2", "pickle4", "pickle5", "json", "json-ws", "hdf5", "gzip",
                       "text", "log", "empty", "whitespace", "utf16-bom", "torchscript", "tflite", "other-proto",
                       "html"))
    if kind == "plan":
        return b"ftrt" + struct.pack("<I", 0x2B) + rng.randbytes(rng.choice((16, 4096))), "tensorrt-plan"
    if kind in ("zip", "torchscript"):
        buf = io.BytesIO()
        fixed = (2020, 1, 1, 0, 0, 0)  # a fixed timestamp: the same seed gives the same bytes
        with zipfile.ZipFile(buf, "w") as archive:
            archive.writestr(zipfile.ZipInfo("archive/data.pkl", fixed),
                             b"\x80\x02cos\nsystem\nq\x00X\x02\x00\x00\x00idq\x01\x85q\x02Rq\x03.")
            archive.writestr(zipfile.ZipInfo("archive/version", fixed), b"3\n")
            if kind == "torchscript":
                archive.writestr(zipfile.ZipInfo("archive/code/__torch__.py", fixed), b"def forward(self): pass\n")
        return buf.getvalue(), f"{kind}-archive"
    if kind.startswith("pickle"):
        protocol = int(kind[-1])
        # os.system("id") as a pickle: must never be unpickled
        payload = b"cos\nsystem\n(S'id'\ntR."
        return bytes([0x80, protocol]) + payload, f"pickle-protocol-{protocol}"
    if kind == "json":
        return json.dumps({"Layers": ["a", "b"], "Bindings": []}).encode(), "json"
    if kind == "json-ws":
        return b"\n\t  [{\"count\": 1}]", "json-leading-whitespace"
    if kind == "hdf5":
        return b"\x89HDF\r\n\x1a\n" + rng.randbytes(64), "hdf5"
    if kind == "gzip":
        return gzip.compress(b"not an onnx model" * 10, mtime=0), "gzip"
    if kind == "text":
        return b"import torch\nmodel = torch.load('x.pt')\n", "python-source"
    if kind == "log":
        return b"[01/15/2025-10:20:01] [I] [TRT] Loaded engine size: 45 MiB\n", "trt-log"
    if kind == "empty":
        return b"", "empty"
    if kind == "whitespace":
        return b"   \n\n", "whitespace"
    if kind == "utf16-bom":
        return "\ufeff{\"a\": 1}".encode("utf-16"), "utf16-json"
    if kind == "tflite":
        return b"\x1c\x00\x00\x00TFL3" + rng.randbytes(64), "tflite"
    if kind == "html":
        return b"<!DOCTYPE html><html><script>alert(1)</script></html>", "html"
    # a valid protobuf of another schema: a TensorProto or GraphProto on its own
    other = helper.make_tensor("t", TensorProto.FLOAT, [2], [1.0, 2.0]).SerializeToString()
    return other, "tensor-proto-not-model"


# ---------------------------------------------------------------------------------- protobuf (graph)

def _graph_tensors(graph: onnx.GraphProto) -> list[str]:
    names = [vi.name for vi in graph.input] + [t.name for t in graph.initializer]
    for node in graph.node:
        names.extend(o for o in node.output if o)
    return names


def _pick_node(rng: random.Random, graph: onnx.GraphProto):
    if not graph.node:
        return None
    return graph.node[rng.randrange(len(graph.node))]


def m_remove_node(rng, model):
    g = model.graph
    if g.node:
        del g.node[rng.randrange(len(g.node))]
    return "remove-node"


def m_duplicate_node(rng, model):
    g = model.graph
    node = _pick_node(rng, g)
    if node is None:
        return "duplicate-node-none"
    copy = g.node.add()
    copy.CopyFrom(node)
    if rng.random() < 0.5:
        return "duplicate-node-same-outputs"
    for i, out in enumerate(copy.output):
        copy.output[i] = f"{out}__dup"
    return "duplicate-node-new-outputs"


def m_rewire_cycle(rng, model):
    g = model.graph
    if len(g.node) < 2:
        return "rewire-cycle-too-small"
    i = rng.randrange(len(g.node) - 1)
    j = rng.randrange(i + 1, len(g.node))
    later = [o for o in g.node[j].output if o]
    if not later or not g.node[i].input:
        return "rewire-cycle-skip"
    g.node[i].input[rng.randrange(len(g.node[i].input))] = rng.choice(later)
    return "rewire-cycle"


def m_rewire_random(rng, model):
    g = model.graph
    node = _pick_node(rng, g)
    names = _graph_tensors(g)
    if node is None or not node.input or not names:
        return "rewire-skip"
    node.input[rng.randrange(len(node.input))] = rng.choice(names)
    return "rewire-random"


def m_dangling(rng, model):
    node = _pick_node(rng, model.graph)
    if node is None:
        return "dangling-skip"
    ghost = _safe_text(rng.choice(("ghost", "", " ", hostile_string(rng)[:200])))
    if node.input and rng.random() < 0.7:
        node.input[rng.randrange(len(node.input))] = ghost
    else:
        node.input.append(ghost)
    return "dangling-input"


def m_duplicate_output(rng, model):
    g = model.graph
    node = _pick_node(rng, g)
    names = _graph_tensors(g)
    if node is None or not node.output or not names:
        return "dup-output-skip"
    node.output[rng.randrange(len(node.output))] = rng.choice(names)
    return "duplicate-output"


def m_shuffle_nodes(rng, model):
    g = model.graph
    nodes = list(g.node)
    rng.shuffle(nodes)
    copies = [onnx.NodeProto() for _ in nodes]
    for c, n in zip(copies, nodes):
        c.CopyFrom(n)
    del g.node[:]
    g.node.extend(copies)
    return "shuffle-node-order"


def m_zero_nodes(rng, model):
    g = model.graph
    del g.node[:]
    if rng.random() < 0.5:
        del g.output[:]
        return "zero-nodes-no-outputs"
    return "zero-nodes"


def m_drop_io(rng, model):
    g = model.graph
    if rng.random() < 0.5 and g.input:
        del g.input[rng.randrange(len(g.input))]
        return "drop-graph-input"
    if g.output:
        del g.output[rng.randrange(len(g.output))]
    return "drop-graph-output"


def m_no_graph(rng, model):
    model.ClearField("graph")
    return "no-graph"


def m_arity(rng, model):
    """A real operator with zero / absurdly many inputs or outputs."""
    g = model.graph
    op = rng.choice(("Softmax", "Conv", "MatMul", "Relu", "QuantizeLinear", "DequantizeLinear", "ReduceMean",
                     "Add", "Pad", "Shape", "Reshape", "Transpose", "Gemm", "If", "Loop", "Sigmoid", "Mul", "Pow",
                     "Constant", "Identity", "Cast", "Erf", "Div", "Sqrt", "LayerNormalization", "Resize", "TopK"))
    names = _graph_tensors(g) or ["x"]
    n_in = rng.choice((0, 0, 1, 5, 50))
    n_out = rng.choice((0, 1, 1, 3))
    inputs = [rng.choice(names + [""]) for _ in range(n_in)]
    outputs = [f"arity_{len(g.node)}_{k}" for k in range(n_out)]
    node = helper.make_node(op, inputs, outputs, name=f"arity_{op}")
    position = rng.randrange(len(g.node) + 1)
    g.node.insert(position, node)
    if outputs and rng.random() < 0.5:
        g.output.append(helper.make_tensor_value_info(outputs[0], TensorProto.FLOAT, None))
    return f"arity-{op}-{n_in}in-{n_out}out"


ALL_OPS = sorted({schema.name for schema in onnx.defs.get_all_schemas()})


def m_random_op(rng, model):
    node = _pick_node(rng, model.graph)
    if node is None:
        return "random-op-skip"
    choice = rng.random()
    if choice < 0.6:
        node.op_type = rng.choice(ALL_OPS)
    elif choice < 0.8:
        node.op_type = _safe_text(hostile_string(rng))
    else:
        node.op_type = rng.choice(("", "MyPlugin_TRT", "relu", "RELU", "Conv2D", "ScatterND"))
    return "random-op-type"


def m_random_domain(rng, model):
    node = _pick_node(rng, model.graph)
    if node is None:
        return "random-domain-skip"
    domain = rng.choice(("com.microsoft", "ai.onnx.ml", "ai.onnx", "trt", "com.nvidia", "org.pytorch.aten",
                         "ai.onnx.preview.training", "", _safe_text(hostile_string(rng)[:300])))
    node.domain = domain
    if rng.random() < 0.5:
        model.opset_import.append(helper.make_opsetid(domain, rng.choice((1, 0, -1, 2**40))))
    return "random-domain"


def _random_attribute(rng: random.Random, name: str) -> AttributeProto:
    kind = rng.choice(("int", "float", "string", "ints", "floats", "strings", "tensor", "graph", "undefined",
                       "huge-ints", "inconsistent", "huge-int", "nan", "empty-tensor", "bad-tensor"))
    if kind == "int":
        return helper.make_attribute(name, rng.choice((0, -1, 1, 2**63 - 1, -(2**63))))
    if kind == "huge-int":
        return helper.make_attribute(name, rng.choice((2**62, -(2**62))))
    if kind == "float":
        return helper.make_attribute(name, rng.choice((0.0, -1.5, 1e38, float("inf"))))
    if kind == "nan":
        return helper.make_attribute(name, float("nan"))
    if kind == "string":
        return helper.make_attribute(name, _safe_text(hostile_string(rng)[:5000]))
    if kind == "ints":
        return helper.make_attribute(name, [rng.randint(-5, 5) for _ in range(rng.randint(1, 6))])
    if kind == "huge-ints":
        return helper.make_attribute(name, list(range(rng.choice((1000, 100_000)))))
    if kind == "floats":
        return helper.make_attribute(name, [rng.uniform(-1e6, 1e6) for _ in range(rng.randint(1, 6))])
    if kind == "strings":
        return helper.make_attribute(name, ["a", _safe_text(hostile_string(rng)[:100])])
    if kind == "tensor":
        dims = [rng.choice((0, 1, 3, -2, 2**31))]
        tensor = TensorProto(name="t", data_type=rng.choice((1, 7, 0, 999)), dims=dims)
        return helper.make_attribute(name, tensor)
    if kind == "empty-tensor":
        return helper.make_attribute(name, TensorProto(name="t", data_type=TensorProto.FLOAT))
    if kind == "bad-tensor":
        tensor = TensorProto(name="t", data_type=TensorProto.FLOAT, dims=[4], raw_data=b"\x00\x01\x02")
        return helper.make_attribute(name, tensor)
    if kind == "graph":
        body = helper.make_graph([helper.make_node("Relu", ["q"], ["r"])], "body",
                                 [helper.make_tensor_value_info("q", TensorProto.FLOAT, [1])],
                                 [helper.make_tensor_value_info("r", TensorProto.FLOAT, [1])])
        return helper.make_attribute(name, body)
    if kind == "inconsistent":  # the declared type says INTS, the payload is a float
        attr = AttributeProto(name=name, type=AttributeProto.INTS, f=3.5)
        return attr
    return AttributeProto(name=name, type=AttributeProto.UNDEFINED)


ATTRIBUTE_NAMES = ("perm", "axis", "axes", "kernel_shape", "pads", "strides", "dilations", "group", "mode", "to",
                   "value", "epsilon", "keepdims", "sorted", "antialias", "alpha", "transA", "transB", "then_branch",
                   "body", "k", "coordinate_transformation_mode", "auto_pad", "saturate", "block_size",
                   "output_dtype", "value_float", "value_ints", "ceil_mode", "largest", "noop_with_empty_axes")


def m_attribute(rng, model):
    node = _pick_node(rng, model.graph)
    if node is None:
        return "attribute-skip"
    if node.attribute and rng.random() < 0.6:
        index = rng.randrange(len(node.attribute))
        name = node.attribute[index].name
        node.attribute[index].CopyFrom(_random_attribute(rng, name))
        return "attribute-wrong-type"
    name = rng.choice(ATTRIBUTE_NAMES + (_safe_text(hostile_string(rng)[:100]),))
    node.attribute.append(_random_attribute(rng, name))
    if rng.random() < 0.2:
        node.attribute.append(_random_attribute(rng, name))  # the same attribute twice
        return "attribute-duplicated"
    return "attribute-added"


# ------------------------------------------------------------------------------ protobuf (strings)

def _rename_tensor(graph: onnx.GraphProto, old: str, new: str) -> None:
    for collection in (graph.input, graph.output, graph.value_info):
        for vi in collection:
            if vi.name == old:
                vi.name = new
    for t in graph.initializer:
        if t.name == old:
            t.name = new
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name == old:
                node.input[i] = new
        for i, name in enumerate(node.output):
            if name == old:
                node.output[i] = new


def m_hostile_node_name(rng, model):
    g = model.graph
    count = rng.choice((1, 3, len(g.node)))
    for _ in range(count):
        node = _pick_node(rng, g)
        if node is None:
            break
        node.name = _safe_text(hostile_string(rng))
    return "hostile-node-names"


def m_hostile_tensor_name(rng, model):
    g = model.graph
    names = _graph_tensors(g)
    if not names:
        return "hostile-tensor-skip"
    old = rng.choice(names)
    new = _safe_text(hostile_string(rng))
    if new == "":
        new = "\x1b[0m"
    if rng.random() < 0.8:
        _rename_tensor(g, old, new)
        return "hostile-tensor-name"
    node = _pick_node(rng, g)  # only one side renamed: a dangling edge with a hostile name
    if node is not None and node.input:
        node.input[0] = new
    return "hostile-tensor-name-one-side"


def m_hostile_strings(rng, model):
    text = _safe_text(hostile_string(rng))
    which = rng.choice(("doc", "graph", "producer", "metadata", "node-doc", "domain-doc"))
    if which == "doc":
        model.doc_string = text
    elif which == "graph":
        model.graph.name = text
    elif which == "producer":
        model.producer_name = text
        model.producer_version = _safe_text(hostile_string(rng)[:1000])
    elif which == "metadata":
        entry = model.metadata_props.add()
        entry.key, entry.value = text[:1000], _safe_text(hostile_string(rng))
    else:
        node = _pick_node(rng, model.graph)
        if node is not None:
            node.doc_string = text
    return f"hostile-{which}-string"


def non_utf8_names(rng: random.Random, data: bytes, model: onnx.ModelProto) -> tuple[bytes, str]:
    """Replace the bytes of some node/tensor names in the serialized model with invalid UTF-8 of the same
    length (the protobuf stays well-formed; only the strings are not UTF-8)."""
    names = [n.name for n in model.graph.node if len(n.name) >= 3]
    names += [o for n in model.graph.node for o in n.output if len(o) >= 3]
    names += [n.doc_string for n in model.graph.node if len(n.doc_string) >= 3]
    if not names:
        return data, "non-utf8-skip"
    out = data
    for name in rng.sample(names, min(len(names), rng.choice((1, 3, 10)))):
        raw = name.encode("utf-8")
        bad = bytes([0xFF, 0xFE]) + raw[2:-1] + b"\xc3"
        out = out.replace(raw, bad[:len(raw)].ljust(len(raw), b"\x80"))
    return out, "non-utf8-strings"


# ---------------------------------------------------------------------------- protobuf (types/shapes)

_ELEM_TYPES = [v for _, v in TensorProto.DataType.items()] + [999, -1]


def _set_dims(rng: random.Random, vi: onnx.ValueInfoProto) -> str:
    tt = vi.type.tensor_type
    kind = rng.choice(("negative", "huge", "zero", "million-rank", "symbolic", "no-shape", "rank-1000", "mixed"))
    del tt.shape.dim[:]
    if kind == "no-shape":
        tt.ClearField("shape")
        return kind
    if kind in ("million-rank", "rank-1000"):  # built from bytes: no Python object per dimension
        count, value = (1_000_000, 1) if kind == "million-rank" else (1000, 2)
        shape = onnx.TensorShapeProto()
        shape.ParseFromString((b"\x0a\x02\x08" + bytes([value])) * count)
        tt.shape.CopyFrom(shape)
        return kind
    elif kind == "negative":
        dims = [-1, -5, 3]
    elif kind == "huge":
        dims = [2**62, 2**40, 7]
    elif kind == "zero":
        dims = [0, 3, 0]
    elif kind == "symbolic":
        dims = [_safe_text(hostile_string(rng)[:300]), "batch", ""]
    else:
        dims = [1, -1, "n", 2**31, 0]
    for d in dims:
        dim = tt.shape.dim.add()
        if isinstance(d, str):
            dim.dim_param = d
        else:
            dim.dim_value = d
    return kind


def m_absurd_dims(rng, model):
    g = model.graph
    candidates = list(g.input) + list(g.output) + list(g.value_info)
    if not candidates:
        return "dims-skip"
    vi = rng.choice(candidates)
    if not vi.type.HasField("tensor_type"):
        vi.type.tensor_type.elem_type = TensorProto.FLOAT
    return f"dims-{_set_dims(rng, vi)}"


def m_wrong_dtype(rng, model):
    g = model.graph
    which = rng.random()
    if which < 0.5 and (g.input or g.output):
        vi = rng.choice(list(g.input) + list(g.output))
        vi.type.tensor_type.elem_type = rng.choice(_ELEM_TYPES) & 0x7FFFFFFF if rng.random() < 0.9 else 0
        return "wrong-io-dtype"
    if g.initializer:
        t = g.initializer[rng.randrange(len(g.initializer))]
        kind = rng.choice(("dtype", "dims", "raw-short", "negative-dims", "huge-dims", "string"))
        if kind == "dtype":
            t.data_type = rng.choice(_ELEM_TYPES) & 0x7FFFFFFF
        elif kind == "dims":
            del t.dims[:]
            t.dims.extend([rng.randint(1, 9) for _ in range(rng.randint(0, 4))])
        elif kind == "raw-short":
            t.raw_data = t.raw_data[: len(t.raw_data) // 3]
        elif kind == "negative-dims":
            del t.dims[:]
            t.dims.extend([-3, 2])
        elif kind == "huge-dims":
            del t.dims[:]
            t.dims.extend([2**31, 2**31, 2**31])
        else:
            t.data_type = TensorProto.STRING
        return f"initializer-{kind}"
    return "wrong-dtype-skip"


def m_operator_zoo(rng, model):
    """Nodes of random real operators, wired to existing values and fresh constants of random types, with
    the operator's own attribute names set to values of random (often wrong) types: aims at the rules."""
    from onnx import numpy_helper

    g = model.graph
    names = _graph_tensors(g) or ["x"]
    count = rng.choice((1, 3, 8))
    for k in range(count):
        op = rng.choice(ALL_OPS)
        try:
            schema = onnx.defs.get_schema(op)
            attr_names = list(schema.attributes)
            n_in = max(len(schema.inputs), 1) + rng.choice((0, 0, 1, -1))
            n_out = max(len(schema.outputs), 1)
        except Exception:
            attr_names, n_in, n_out = [], 2, 1
        inputs = []
        for i in range(max(n_in, 0)):
            roll = rng.random()
            if roll < 0.5:
                inputs.append(rng.choice(names))
            elif roll < 0.9:
                const = f"zoo_{len(g.node)}_{k}_c{i}"
                g.initializer.append(numpy_helper.from_array(_random_array(rng), const))
                inputs.append(const)
            else:
                inputs.append("")
        outputs = [f"zoo_{len(g.node)}_{k}_o{j}" for j in range(n_out)]
        node = helper.make_node(op, inputs, outputs, name=f"zoo_{op}_{k}")
        for attr in rng.sample(attr_names, min(len(attr_names), rng.randint(0, 3))):
            node.attribute.append(_random_attribute(rng, attr))
        g.node.append(node)
        names.extend(outputs)
        if rng.random() < 0.3:
            g.output.append(helper.make_tensor_value_info(outputs[0], rng.choice(_ELEM_TYPES[:16]) & 0x7FFFFFFF, None))
    return f"operator-zoo-{count}"


def _random_array(rng: random.Random):
    import numpy as np

    dtype = rng.choice((np.float32, np.float16, np.float64, np.int8, np.uint8, np.int32, np.int64, np.bool_,
                        np.complex64, np.uint64, object))
    shape = rng.choice(((), (0,), (1,), (3,), (2, 2), (1, 0, 3), (4, 1, 1, 1), (17,), (2, 3, 4, 5, 6)))
    count = int(np.prod(shape)) if shape else 1
    if dtype is object:
        values = np.array([_safe_text(hostile_string(rng)[:50]).encode() for _ in range(count)], dtype=object)
    else:
        pool = [0, 1, -1, 127, -128, 255, 2**31 - 1, 3]
        if np.dtype(dtype).kind in "fc":
            pool += [float("nan"), float("inf"), -float("inf"), 1e-30, 0.5]
        with np.errstate(all="ignore"):
            values = np.array([rng.choice(pool) for _ in range(count)]).astype(dtype)
    return values.reshape(shape)


def m_random_constants(rng, model):
    """Valid tensors of the wrong dtype/shape/value where rules read constants (scales, zero points, axes,
    pads, shapes, k...): initializers and Constant nodes."""
    from onnx import numpy_helper

    g = model.graph
    targets = [t for t in g.initializer if len(t.raw_data) + len(t.float_data) + len(t.int64_data) < 4096 * 8]
    constants = [n for n in g.node if n.op_type == "Constant"]
    if constants and (not targets or rng.random() < 0.4):
        node = rng.choice(constants)
        del node.attribute[:]
        kind = rng.choice(("value", "value_float", "value_ints", "value_floats", "value_int", "sparse", "none"))
        if kind == "value":
            node.attribute.append(helper.make_attribute("value", numpy_helper.from_array(_random_array(rng), "v")))
        elif kind == "value_float":
            node.attribute.append(helper.make_attribute("value_float", rng.choice((0.0, float("nan"), 1e38))))
        elif kind == "value_ints":
            node.attribute.append(helper.make_attribute("value_ints", [rng.randint(-9, 9) for _ in range(3)]))
        elif kind == "value_floats":
            node.attribute.append(helper.make_attribute("value_floats", [0.5, -1.0]))
        elif kind == "value_int":
            node.attribute.append(helper.make_attribute("value_int", rng.choice((0, -1, 2**62))))
        elif kind == "sparse":
            node.attribute.append(AttributeProto(name="sparse_value", type=AttributeProto.SPARSE_TENSOR))
        return f"constant-node-{kind}"
    if not targets:
        return "random-constants-skip"
    for t in rng.sample(targets, min(len(targets), rng.choice((1, 3, 10)))):
        name = t.name
        try:
            t.CopyFrom(numpy_helper.from_array(_random_array(rng), name))
        except Exception:  # numpy cannot express it: an inconsistent tensor instead
            t.Clear()
            t.name, t.data_type, t.raw_data = name, TensorProto.FLOAT, b"\x01\x02\x03"
    return "random-constant-tensors"


def m_non_tensor_types(rng, model):
    g = model.graph
    if not g.input:
        return "non-tensor-skip"
    vi = g.input[rng.randrange(len(g.input))]
    kind = rng.choice(("sequence", "map", "optional", "sparse", "empty"))
    vi.type.Clear()
    if kind == "sequence":
        vi.type.sequence_type.elem_type.tensor_type.elem_type = TensorProto.FLOAT
    elif kind == "map":
        vi.type.map_type.key_type = TensorProto.INT64
        vi.type.map_type.value_type.tensor_type.elem_type = TensorProto.FLOAT
    elif kind == "optional":
        vi.type.optional_type.elem_type.tensor_type.elem_type = TensorProto.FLOAT
    elif kind == "sparse":
        vi.type.sparse_tensor_type.elem_type = TensorProto.FLOAT
    return f"input-type-{kind}"


def m_opsets(rng, model):
    kind = rng.choice(("drop", "zero", "huge", "negative", "duplicate", "unknown-domain", "ir"))
    if kind == "drop":
        del model.opset_import[:]
    elif kind == "zero":
        for imp in model.opset_import:
            imp.version = 0
    elif kind == "huge":
        for imp in model.opset_import:
            imp.version = 10_000
    elif kind == "negative":
        for imp in model.opset_import:
            imp.version = -3
    elif kind == "duplicate":
        model.opset_import.append(helper.make_opsetid("", 7))
    elif kind == "unknown-domain":
        model.opset_import.append(helper.make_opsetid(_safe_text(hostile_string(rng)[:200]), 1))
    else:
        model.ir_version = rng.choice((0, 1, 99, -1, 2**40))
    return f"opset-{kind}"


# ----------------------------------------------------------------------- protobuf (nesting, size)

def nested_model(rng: random.Random, depth: int, op: str = "If") -> onnx.ModelProto:
    """If/Loop bodies nested ``depth`` levels (built bottom-up; each level reads outer-scope ``x``)."""
    body = onnx.GraphProto(name="innermost")
    body.node.append(helper.make_node("Relu", ["x"], ["y0"], name="leaf"))
    body.output.append(helper.make_tensor_value_info("y0", TensorProto.FLOAT, [1]))
    for level in range(1, depth + 1):
        outer = onnx.GraphProto(name=f"level{level}")
        out = f"y{level}"
        if op == "If":
            other = helper.make_graph([helper.make_node("Neg", ["x"], [f"e{level}"])], "else", [],
                                      [helper.make_tensor_value_info(f"e{level}", TensorProto.FLOAT, [1])])
            node = outer.node.add()
            node.op_type, node.name = "If", f"if_{level}"
            node.input.append("c")
            node.output.append(out)
            then_attr = node.attribute.add()
            then_attr.name, then_attr.type = "then_branch", AttributeProto.GRAPH
            _move_graph(then_attr.g, body)
            else_attr = node.attribute.add()
            else_attr.name, else_attr.type = "else_branch", AttributeProto.GRAPH
            else_attr.g.CopyFrom(other)
        else:
            node = outer.node.add()
            node.op_type, node.name = "Loop", f"loop_{level}"
            node.input.extend(["", "c"])
            node.output.append(out)
            attr = node.attribute.add()
            attr.name, attr.type = "body", AttributeProto.GRAPH
            _move_graph(attr.g, body)
            # a Loop body needs (iter, cond) inputs and a cond output
            attr.g.input.insert(0, helper.make_tensor_value_info(f"i{level}", TensorProto.INT64, []))
            attr.g.input.insert(1, helper.make_tensor_value_info(f"ci{level}", TensorProto.BOOL, []))
            attr.g.node.append(helper.make_node("Identity", [f"ci{level}"], [f"co{level}"]))
            attr.g.output.insert(0, helper.make_tensor_value_info(f"co{level}", TensorProto.BOOL, []))
        outer.output.append(helper.make_tensor_value_info(out, TensorProto.FLOAT, [1]))
        body = outer
    body.name = "nested"
    body.input.extend([helper.make_tensor_value_info("x", TensorProto.FLOAT, [1]),
                       helper.make_tensor_value_info("c", TensorProto.BOOL, [])])
    model = onnx.ModelProto(ir_version=9, opset_import=[helper.make_opsetid("", 17)])
    _move_graph(model.graph, body)
    return model


def _move_graph(target: onnx.GraphProto, source: onnx.GraphProto) -> None:
    """Copy field by field: CopyFrom/serialization of very deep messages hits protobuf's depth limit."""
    target.name = source.name
    for field in ("input", "output", "value_info", "initializer"):
        getattr(target, field).extend(getattr(source, field))
    for node in source.node:
        new = target.node.add()
        new.op_type, new.name, new.domain = node.op_type, node.name, node.domain
        new.input.extend(node.input)
        new.output.extend(node.output)
        for attr in node.attribute:
            a = new.attribute.add()
            a.name, a.type = attr.name, attr.type
            if attr.type == AttributeProto.GRAPH:
                _move_graph(a.g, attr.g)
            else:
                a.CopyFrom(attr)


def long_chain(rng: random.Random, length: int) -> onnx.ModelProto:
    nodes = []
    prev = "x"
    ops = ("Relu", "Sigmoid", "Neg", "Abs", "Tanh")
    for i in range(length):
        out = f"t{i}"
        nodes.append(helper.make_node(ops[i % len(ops)], [prev], [out], name=f"n{i}"))
        prev = out
    graph = helper.make_graph(nodes, "chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 8])],
                              [helper.make_tensor_value_info(prev, TensorProto.FLOAT, None)])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)


def m_graph_attr_on_plain_op(rng, model):
    node = _pick_node(rng, model.graph)
    if node is None:
        return "graph-attr-skip"
    body = helper.make_graph([helper.make_node("Relu", ["ghost_outer"], ["r"])], "b", [],
                             [helper.make_tensor_value_info("r", TensorProto.FLOAT, [1])])
    node.attribute.append(helper.make_attribute("body", body))
    if rng.random() < 0.5:
        node.domain = "custom.domain"
    return "graph-attribute-on-plain-op"


def m_body_reads_later_value(rng, model):
    """An If whose branch reads a value the main graph produces only after the If."""
    g = model.graph
    if not g.node or not g.node[-1].output:
        return "body-later-skip"
    late = g.node[-1].output[0]
    then_g = helper.make_graph([helper.make_node("Identity", [late], ["then_out"])], "then", [],
                               [helper.make_tensor_value_info("then_out", TensorProto.FLOAT, None)])
    else_g = helper.make_graph([helper.make_node("Identity", [late], ["else_out"])], "else", [],
                               [helper.make_tensor_value_info("else_out", TensorProto.FLOAT, None)])
    cond = helper.make_node("Constant", [], ["cond_c"], value=helper.make_tensor("v", TensorProto.BOOL, [], [True]))
    node = helper.make_node("If", ["cond_c"], ["if_out"], name="early_if", then_branch=then_g, else_branch=else_g)
    g.node.insert(0, node)
    g.node.insert(0, cond)
    g.output.append(helper.make_tensor_value_info("if_out", TensorProto.FLOAT, None))
    return "body-reads-later-value"


def m_recursive_function(rng, model):
    fn = helper.make_function("local.rec", "Rec", ["a"], ["b"],
                              [helper.make_node("Rec", ["a"], ["b"], domain="local.rec")],
                              [helper.make_opsetid("", 17), helper.make_opsetid("local.rec", 1)])
    model.functions.append(fn)
    model.opset_import.append(helper.make_opsetid("local.rec", 1))
    g = model.graph
    if g.input:
        g.node.append(helper.make_node("Rec", [g.input[0].name], ["rec_out"], name="recursive_call",
                                       domain="local.rec"))
        g.output.append(helper.make_tensor_value_info("rec_out", TensorProto.FLOAT, None))
    return "recursive-function"


# ---------------------------------------------------------------------------------- external data

def m_external(rng: random.Random, model: onnx.ModelProto) -> tuple[str, dict[str, bytes]]:
    """Move initializers to external data that is missing, short, hostile or fine; returns extra files."""
    g = model.graph
    inits = [t for t in g.initializer if t.raw_data or t.float_data or t.int64_data or t.int32_data]
    if not inits:
        t = helper.make_tensor("ext_w", TensorProto.FLOAT, [4], [1.0, 2.0, 3.0, 4.0])
        g.initializer.append(t)
        inits = [g.initializer[-1]]
    files: dict[str, bytes] = {}
    kind = rng.choice(("missing", "short", "ok", "offset-huge", "length-garbage", "offset-garbage", "absolute",
                       "traversal", "nul", "empty-location", "directory", "negative", "no-location",
                       "duplicate-keys", "hostile-location"))
    for t in rng.sample(inits, min(len(inits), rng.choice((1, 2, 5)))):
        size = len(t.raw_data) or 16
        t.ClearField("raw_data")
        for field in ("float_data", "int64_data", "int32_data", "double_data"):
            t.ClearField(field)
        t.data_location = TensorProto.EXTERNAL
        info = {"location": "weights.bin", "offset": "0", "length": str(size)}
        if kind == "missing":
            info["location"] = "no_such_file.bin"
        elif kind == "short":
            files["weights.bin"] = b"\x00" * (size // 2)
        elif kind == "ok":
            files["weights.bin"] = b"\x00" * (size * 8)
        elif kind == "offset-huge":
            files["weights.bin"] = b"\x00" * 64
            info["offset"] = str(2**62)
        elif kind == "length-garbage":
            info["length"] = rng.choice(("abc", "1e9", "", "0x10", "-5", "99999999999999999999999"))
        elif kind == "offset-garbage":
            info["offset"] = rng.choice(("abc", "1.5", " ", "-1"))
        elif kind == "absolute":
            info["location"] = "/etc/passwd"
        elif kind == "traversal":
            info["location"] = "../../../../../../etc/hostname"
        elif kind == "nul":
            info["location"] = "weights\x00.bin"
        elif kind == "empty-location":
            info["location"] = ""
        elif kind == "directory":
            info["location"] = "."
        elif kind == "negative":
            files["weights.bin"] = b"\x00" * 64
            info["offset"], info["length"] = "-100", "-4"
        elif kind == "no-location":
            del info["location"]
        elif kind == "hostile-location":
            info["location"] = _safe_text(hostile_string(rng)[:300]) or "x"
        del t.external_data[:]
        for key, value in info.items():
            entry = t.external_data.add()
            entry.key, entry.value = key, value
        if kind == "duplicate-keys":
            entry = t.external_data.add()
            entry.key, entry.value = "location", "other.bin"
    return f"external-{kind}", files


# --------------------------------------------------------------------------------------------- JSON

def _paths(obj: Any, prefix: tuple = (), out: list | None = None, limit: int = 4000) -> list[tuple]:
    """Every container path in a JSON tree (bounded)."""
    out = [] if out is None else out
    if len(out) >= limit:
        return out
    out.append(prefix)
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(v, (dict, list)):
                _paths(v, prefix + (k,), out, limit)
    elif isinstance(obj, list):
        for i, v in enumerate(obj[:200]):
            if isinstance(v, (dict, list)):
                _paths(v, prefix + (i,), out, limit)
    return out


def _get(obj: Any, path: tuple) -> Any:
    for key in path:
        obj = obj[key]
    return obj


def _weird_value(rng: random.Random) -> Any:
    return rng.choice((None, True, False, 0, -1, 1e308, -1e308, 2**64, 10**30, "", "x", [], {}, [[[]]],
                       {"nested": {"garbage": [1, "a", None]}}, "NaN", "0xdeadbeef",
                       _safe_text(hostile_string(rng)[:2000]), list(range(50)), 3.5, "Infinity"))


def mutate_json_tree(rng: random.Random, obj: Any) -> tuple[Any, str]:
    paths = _paths(obj)
    container = _get(obj, rng.choice(paths))
    kind = rng.choice(("drop-key", "rename-key", "wrong-type", "wrong-type", "append-garbage", "duplicate",
                       "empty-container", "swap-type"))
    if isinstance(container, dict) and container:
        key = rng.choice(list(container))
        if kind == "drop-key":
            del container[key]
        elif kind == "rename-key":
            container[key.lower() + "_x" if rng.random() < 0.5 else key.upper()] = container.pop(key)
        elif kind in ("wrong-type", "swap-type"):
            container[key] = _weird_value(rng)
        elif kind == "append-garbage":
            container[_safe_text(hostile_string(rng)[:100])] = _weird_value(rng)
        elif kind == "duplicate":
            container[key + "2"] = container[key]
        else:
            container.clear()
        return obj, f"json-{kind}"
    if isinstance(container, list) and container:
        index = rng.randrange(len(container))
        if kind == "drop-key":
            del container[index]
        elif kind in ("wrong-type", "swap-type", "rename-key"):
            container[index] = _weird_value(rng)
        elif kind == "append-garbage":
            container.append(_weird_value(rng))
        elif kind == "duplicate":
            container.insert(index, json.loads(json.dumps(container[index])))
        else:
            container.clear()
        return obj, f"json-{kind}"
    return _weird_value(rng), "json-replaced"


def json_text_mutation(rng: random.Random, text: str) -> tuple[str | bytes, str]:
    kind = rng.choice(("truncate", "deep-nesting", "huge-number", "nan-literal", "bom", "utf16", "binary",
                       "trailing-garbage", "control-chars", "wide-nesting", "huge-string", "duplicate-keys"))
    if kind == "truncate":
        return text[: rng.randrange(max(1, len(text)))], "json-truncated"
    if kind == "deep-nesting":
        depth = rng.choice((1000, 100_000))
        return "[" * depth + "]" * depth if rng.random() < 0.5 else "[" * depth, f"json-nesting-{depth}"
    if kind == "huge-number":
        return text.replace("0.", "1" * rng.choice((400, 5000)) + "0.", 3), "json-huge-numbers"
    if kind == "nan-literal":
        return text.replace("0.", "NaN, \"x\": Infinity, \"y\": -Infinity, \"z\": 0.", 1) if "0." in text else \
            "[NaN, Infinity]", "json-nan-literals"
    if kind == "bom":
        return "\ufeff" + text, "json-bom"
    if kind == "utf16":
        return text.encode("utf-16"), "json-utf16"
    if kind == "binary":
        data = text.encode()
        cut = rng.randrange(len(data) + 1)
        return data[:cut] + rng.randbytes(64) + data[cut:], "json-binary-junk"
    if kind == "trailing-garbage":
        return text + "}}]]\x00garbage", "json-trailing-garbage"
    if kind == "control-chars":
        return text.replace('"Name": "', '"Name": "\\u001b[31m\\u0007', 5), "json-control-chars"
    if kind == "wide-nesting":
        return json.dumps([{"a": [1] * 10} for _ in range(50_000)]), "json-wide"
    if kind == "huge-string":
        return json.dumps({"Layers": ["L" * (8 * 1024 * 1024)]}), "json-huge-string"
    return text.replace("{", '{"Name": "dup", "Name": 5, ', 3), "json-duplicate-keys"


def json_wrong_tool(rng: random.Random, expected: str) -> tuple[str, str]:
    """A valid document from another tool (or of another shape) where ``expected`` is wanted."""
    from . import corpus

    options = {
        "graph": corpus.fixtures("graph"), "profile": corpus.fixtures("profile"),
        "timing": corpus.fixtures("timing"), "build.metadata": corpus.fixtures("build.metadata")}
    others = [name for kind, names in options.items() if kind != expected for name in names]
    choice = rng.random()
    if choice < 0.6 and others:
        return corpus.fixture_text(rng.choice(others)), "json-wrong-tool"
    if choice < 0.8:
        trace = [{"ph": "X", "name": "Conv", "ts": 1, "dur": 5, "args": {}}]
        return json.dumps(rng.choice((trace, {"traceEvents": trace}))), "json-chrome-trace"
    return json.dumps(rng.choice(({}, [], None, "text", 5, [1, 2], {"Layers": None}, [{}], [None]))), "json-trivial"


# ---------------------------------------------------------------------------------------------- logs

UNKNOWN_LINES = (
    "2025-01-15 10:20:04.123 INFO  [main] Starting application",
    "Epoch 3/10 - loss: 0.2345 - accuracy: 0.91",
    "W0115 10:20:04.123456 12345 onnxruntime.cc:42] Some warning",
    "{\"level\": \"info\", \"msg\": \"json log line\"}",
    "Tactic",
    "Tactic: ",
    "Tactic: 0x Time: ",
    "Tactic: 0xZZZZ Time: NaN",
    "Tactic: 5 Time: 1e999",
    "Tactic: -0x5 Time: -3",
    "Tactic Name: Tactic: Time:",
    "--------------- Timing Runner:  ()",
    "--------------- Timing Runner: x (y) (z)",
    "=============== Computing costs for ",
    ">>>>>>>>>>>>>>> Chose Runner Type:  Tactic: ",
    "Layer(): , Tactic: , ",
    "Layer(Foo): a, Tactic: 0x1, in (Float[1,2,3]) -> out (Half[a:b:c,,-1])",
    "Layer: x Host Persistent: 99999999999999999999999 Device Persistent: 0 Scratch Memory: 0",
    "Total Host Persistent Memory: 1e400 MiB",
    "Total Weights Memory: 1e308 GiB",
    "Total Activation Memory: nan",
    "Created engine with size: 1e999 GiB",
    "[MemUsageStats] Peak memory usage of TRT CPU/GPU memory allocators: CPU 1e400 MiB, GPU 1e308 GiB",
    "Skipping tactic 0x0000 due to " + "x" * 500,
    "Fastest Tactic: inf Time: inf",
    "Set Tactic Name:  Tactic: ",
    "Autotuning format combination: " + "Float(1,2,3) " * 200,
    "\x1b[31m[V] [TRT] Tactic: 0x1 Time: 0.1\x1b[0m",
    "<script>alert(1)</script> Tactic: 0x2 Time: 0.2",
)


def mutate_log(rng: random.Random, text: str, other: str) -> tuple[str | bytes, str]:
    lines = text.splitlines(keepends=True)
    kind = rng.choice(("truncate-lines", "cut", "random-bytes", "unknown-format", "interleave", "long-line",
                       "crlf", "latin1", "repeat", "nul", "shuffle", "strip-prefix", "garbage-numbers",
                       "hostile-names", "only-unknown", "gzip", "fake-gzip", "long-spaces"))
    if kind == "truncate-lines":
        lines = [line[: rng.randrange(len(line) + 1)] + "\n" if rng.random() < 0.3 else line for line in lines]
        return "".join(lines), "log-truncated-lines"
    if kind == "cut":
        return text[: rng.randrange(len(text) + 1)], "log-cut"
    if kind == "random-bytes":
        data = text.encode()
        for _ in range(rng.choice((1, 10, 100))):
            pos = rng.randrange(len(data) + 1)
            data = data[:pos] + bytes(rng.randrange(1, 256) for _ in range(rng.randint(1, 8))) + data[pos:]
        return data, "log-random-bytes"
    if kind == "unknown-format":
        for _ in range(rng.randint(1, 30)):
            lines.insert(rng.randrange(len(lines) + 1), rng.choice(UNKNOWN_LINES) + "\n")
        return "".join(lines), "log-unknown-lines"
    if kind == "interleave":
        others = other.splitlines(keepends=True)
        mixed = []
        while lines or others:
            source = lines if (lines and (not others or rng.random() < 0.5)) else others
            mixed.append(source.pop(0))
        return "".join(mixed), "log-interleaved"
    if kind == "long-line":
        size = rng.choice((100_000, 2_000_000))
        filler = rng.choice(("Tactic: 0x1 Time: 0.5 ", "Layer(", "a + b || ", "(", "x" * 10, "Timing Runner: ("))
        lines.insert(rng.randrange(len(lines) + 1), filler * (size // len(filler)) + "\n")
        return "".join(lines), f"log-long-line-{size}"
    if kind == "long-spaces":
        pos = rng.randrange(len(lines) + 1)
        lines.insert(pos, rng.choice(("Computing costs for", "Layer(X): a", "Autotuning format combination:",
                                      "Timing Runner: a"))
                     + " " * 200_000 + "x\n")
        return "".join(lines), "log-long-whitespace"
    if kind == "crlf":
        return text.replace("\n", "\r\n"), "log-crlf"
    if kind == "latin1":
        return text.replace("Tactic", "Tàctic", 3).encode("latin-1", "replace"), "log-latin1"
    if kind == "repeat":  # a few MB at most: the generator itself must stay small
        times = max(1, min(rng.choice((50, 400)), (4 * 1024**2) // max(len(text), 1)))
        return text * times, "log-repeated"
    if kind == "nul":
        return text.encode()[:100] + b"\x00\x00" + text.encode()[100:], "log-nul"
    if kind == "shuffle":
        rng.shuffle(lines)
        return "".join(lines), "log-shuffled"
    if kind == "strip-prefix":
        return "".join(line.split("] ", 1)[-1] for line in lines), "log-no-prefix"
    if kind == "garbage-numbers":
        import re

        return re.sub(r"\d+\.\d+", lambda m: rng.choice(("nan", "inf", "-1", "1e999", "", "0x1p3", "1_0")), text), \
            "log-garbage-numbers"
    if kind == "hostile-names":
        return text.replace("Conv", _safe_text(hostile_string(rng)[:200]).replace("\n", " ") or "X"), \
            "log-hostile-names"
    if kind == "only-unknown":
        return "".join(rng.choice(UNKNOWN_LINES[:4]) + "\n" for _ in range(200)), "log-unknown-only"
    if kind == "gzip":
        return gzip.compress(text.encode(), mtime=0), "log-gzip"
    return b"\x1f\x8b" + rng.randbytes(100), "log-fake-gzip"


PROTO_GRAPH_MUTATIONS = (m_remove_node, m_duplicate_node, m_rewire_cycle, m_rewire_random, m_dangling,
                         m_duplicate_output, m_shuffle_nodes, m_zero_nodes, m_drop_io, m_no_graph, m_arity,
                         m_random_op, m_random_domain, m_attribute, m_graph_attr_on_plain_op,
                         m_body_reads_later_value, m_recursive_function, m_operator_zoo, m_operator_zoo)
PROTO_NAME_MUTATIONS = (m_hostile_node_name, m_hostile_tensor_name, m_hostile_strings)
PROTO_TYPE_MUTATIONS = (m_absurd_dims, m_wrong_dtype, m_non_tensor_types, m_opsets, m_random_constants,
                        m_random_constants)
