"""Load an ONNX model into the explorer's IR without ever reading its weights.

The path is: bytes -> one protobuf parse -> ONNX shape inference (C++, on the bytes we already hold) ->
one pass over nodes and value infos. External weights are only ``stat``-ed, so a model with gigabytes of
external data loads in the time its graph takes.
"""

from __future__ import annotations

import gc
import os
import stat
import warnings
from collections.abc import Mapping, Set as AbstractSet
from contextlib import contextmanager
from itertools import chain
from operator import attrgetter
from types import MappingProxyType
from dataclasses import replace
from typing import Union

import onnx
from google.protobuf.message import DecodeError

from ..dtypes import onnx_itemsize, onnx_nbytes
from ..errors import ExplorerWarning, ModelError, check_memory_for, regular_file_size
from ..isolation import TaskCrashed, TaskFailed
from . import shapes
from .shapes import infer_shapes_task  # noqa: F401  (where tests and older code look for it)
from .ir import ExternalData, FunctionInfo, Graph, InitializerInfo, Model, Node, TensorInfo

ModelSource = Union[str, os.PathLike, bytes, bytearray, onnx.ModelProto]

#: Protobuf refuses messages over 2 GiB; anything bigger cannot be an ONNX file with embedded data.
MAX_MODEL_BYTES = 2 * 1024**3
#: Loading holds the file's bytes, the parsed protobuf and the copy sent to shape inference: about 3x.
MEMORY_PER_FILE_BYTE = 3
#: Shapes of higher rank are treated as unknown, and graph inputs/outputs of higher rank skip shape inference
#: (TensorRT's own limit is 8 dimensions).
MAX_RANK = 64
#: If/Loop/Scan bodies nested deeper than this are refused (protobuf's own parser stops near 33 levels).
MAX_NESTING = 64

_DTYPE_NAMES = {value: name for name, value in onnx.TensorProto.DataType.items()}

# Magic numbers of files people mistake for ONNX models, so the error can say what the file really is.
_PICKLE = "a Python pickle (a PyTorch checkpoint?), not an ONNX model; pickles are never loaded"
_OTHER_FORMATS = (
    (b"PK\x03\x04", "a ZIP archive (a PyTorch checkpoint or a saved archive?), not an ONNX model; "
                     "its contents are not opened"),
    (b"\x80\x02", _PICKLE),
    (b"\x80\x03", _PICKLE),
    (b"\x80\x04", _PICKLE),
    (b"\x80\x05", _PICKLE),
    (b"ftrt", "a serialized TensorRT engine (plan), not an ONNX model; engines are never deserialized here "
              "(plugins in them would run code)"),
    (b"\x89HDF", "an HDF5 file (Keras?), not an ONNX model"),
    (b"\x1f\x8b", "a gzip-compressed file, not an ONNX model (decompress it first)"),
    (b"{", "a JSON document, not an ONNX model"),
    (b"[", "a JSON document, not an ONNX model"),
    (b"\xef\xbb\xbf", "a text file (UTF-8 byte order mark), not an ONNX model"),
    (b"\xff\xfe", "a UTF-16 text file, not an ONNX model"),
    (b"\xfe\xff", "a UTF-16 text file, not an ONNX model"),
    (b"<", "an HTML/XML document, not an ONNX model"),
)


def dtype_name(elem_type: int) -> str | None:
    return _DTYPE_NAMES.get(elem_type) if elem_type else None


def load_model(source: ModelSource, *, infer_shapes: bool = True) -> Model:
    """Read an ONNX model from a path, raw bytes or a ``ModelProto``.

    Raises :class:`~explorer.ModelError` naming the file and the problem. Missing external data only warns
    (:class:`~explorer.errors.ExplorerWarning`): the structure is still analysed.
    """
    path: str | None = None
    early = None  # (pending, stamp): shape inference of the file, started before reading it
    try:
        if isinstance(source, onnx.ModelProto):
            proto, data = source, None
            label = "<ModelProto>"
        elif isinstance(source, (bytes, bytearray, memoryview)):
            data = bytes(source)
            label = "<bytes>"
            proto = _parse(data, label)
        elif isinstance(source, (str, os.PathLike)):
            path = os.fspath(source)
            label = path
            if infer_shapes:
                early = shapes.submit_file(path)  # the child reads the file while this process does
            data, stamp = _read_file(path)
            if early is not None and early[1] != stamp:  # changed in between: send what was read
                early[0].abandon()
                early = None
            proto = _parse(data, label)
        else:
            raise ModelError(f"cannot load a model from {type(source).__name__}; give a path, bytes or "
                             "onnx.ModelProto")
        _check_basic_structure(proto, label)
    except BaseException:
        if early is not None:
            early[0].abandon()
        raise
    model_warnings: list[str] = []
    base_dir = os.path.dirname(os.path.abspath(path)) if path else None

    # Shape inference runs in a child process (it can crash on malformed models) while we build the IR.
    pending = early[0] if early is not None else None
    try:
        if infer_shapes and _absurd_rank(proto.graph, model_warnings):
            infer_shapes = False
            if pending is not None:
                pending.abandon()
                pending = None
        if infer_shapes and pending is None:
            payload = data if data is not None else _serialize(proto, label, model_warnings)
            if payload is not None:
                pending = shapes.submit_bytes(payload)
        with gc_paused():
            try:
                graph = _build_graph(proto.graph, label, base_dir, model_warnings, frozenset(), parent_id=None)
            except RecursionError:
                raise ModelError("the graph is nested too deeply to read (If/Loop/Scan bodies inside bodies)",
                                 file=label) from None
            except MemoryError:
                raise ModelError("not enough memory to build the graph of this model", file=label,
                                 hint="close other programs, or use a machine with more memory") from None
            if pending is not None:
                answer, pending = pending, None
                inferred = _collect(answer, label, model_warnings, data)
                if inferred is not None:
                    _attach_types(graph, inferred.graph)
                    proto = inferred
    finally:
        if pending is not None:
            pending.abandon()

    opsets = {_text(imp.domain) if imp.domain != "ai.onnx" else "": imp.version for imp in proto.opset_import}
    functions = {}
    for f in proto.functions:
        domain, name = _text(f.domain), _text(f.name)
        functions[(domain, name)] = FunctionInfo(
            domain=domain, name=name, inputs=tuple(map(_text, f.input)), outputs=tuple(map(_text, f.output)),
            op_types=tuple((_text(n.domain), _text(n.op_type)) for n in f.node), proto=f)
    producer = " ".join(_text(p) for p in (proto.producer_name, proto.producer_version) if p)
    model = Model(graph=graph, opsets=opsets, ir_version=proto.ir_version, producer=producer,
                  path=path, functions=functions, doc_string=_text(proto.doc_string),
                  warnings=model_warnings, proto=proto)
    for message in model_warnings:
        warnings.warn(f"{label}: {message}", ExplorerWarning, stacklevel=2)
    return model


def _absurd_rank(graph: onnx.GraphProto, notes: list[str]) -> bool:
    """A graph input or output of absurd rank (a million dimensions) would make shape inference write that
    shape for every tensor it flows into: hundreds of MB from a few MB of file. Such models skip it."""
    for vi in chain(graph.input, graph.output):
        rank = len(vi.type.tensor_type.shape.dim)
        if rank > MAX_RANK:
            notes.append(f"{_q(vi.name)} has rank {rank} (TensorRT supports at most 8 dimensions): its shape "
                         "is treated as unknown and shape inference is skipped (declared types only)")
            return True
    return False


def _serialize(proto: onnx.ModelProto, label: str, notes: list[str]) -> bytes | None:
    """The bytes shape inference needs, for a model given as a ModelProto (None, with a note, if impossible)."""
    try:
        return proto.SerializeToString()
    except Exception as exc:  # over 2 GiB, or fields protobuf cannot encode
        notes.append(f"shape inference skipped: the ModelProto cannot be serialized ({_first_line(exc)})")
        return None


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:300] if lines else type(exc).__name__


# --------------------------------------------------------------------------------------------- strings

def _text(value) -> str:
    """A protobuf string as text: ONNX strings are UTF-8, but a hostile file's may not be (protobuf then
    hands out bytes); those are shown with backslash escapes, the same bytes always giving the same text."""
    return value if type(value) is str else bytes(value).decode("utf-8", "backslashreplace")


def _all_text(values) -> bool:
    """True when no value is bytes (one C-level pass; no per-value Python code on 100k-node graphs)."""
    return bytes not in set(map(type, values))


_NON_UTF8_NOTE = "some names or strings are not valid UTF-8 (ONNX requires UTF-8); they are shown with \\x escapes"


def _note_non_utf8(notes: list[str]) -> None:
    if _NON_UTF8_NOTE not in notes:
        notes.append(_NON_UTF8_NOTE)


def _q(name) -> str:
    """A name quoted for a message: repr (so control characters show as escapes), at most ~100 characters."""
    text = repr(_text(name))
    return text if len(text) <= 100 else f"{text[:80]}...' ({len(name)} characters)"


@contextmanager
def gc_paused():
    """Building 100k-node IRs makes the cyclic GC rescan everything again and again: pause it meanwhile."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# --------------------------------------------------------------------------------------------- reading

def _read_file(path: str) -> tuple[bytes, str]:
    """The file's bytes and the :func:`~explorer.model.shapes.file_stamp` of the file read."""
    size = regular_file_size(path, ModelError, "an ONNX file")
    if size > MAX_MODEL_BYTES:
        raise ModelError(
            f"file is {_gib(size)}; an ONNX protobuf cannot exceed 2 GiB",
            file=path, hint="store the weights as external data (onnx.save(..., save_as_external_data=True))")
    check_memory_for(size * MEMORY_PER_FILE_BYTE, f"loading this {_gib(size)} model", path)
    try:
        with open(path, "rb") as handle:
            stamp = shapes.stamp_of(os.fstat(handle.fileno()))
            return handle.read(), stamp
    except MemoryError:
        raise ModelError(f"not enough memory to read this {_gib(size)} file", file=path) from None
    except OSError as exc:
        raise ModelError(f"cannot read file: {exc.strerror or exc}", file=path) from None


def _gib(size: int) -> str:
    return f"{size / 1024**3:.1f} GiB" if size >= 1024**3 else f"{size / 1024**2:.1f} MiB"


def _parse(data: bytes, label: str) -> onnx.ModelProto:
    if not data:
        raise ModelError("empty file, not an ONNX model", file=label)
    for magic, what in _OTHER_FORMATS:
        if data.startswith(magic):
            raise ModelError(f"this is {what}", file=label)
    if data[4:8] == b"TFL3":
        raise ModelError("this is a TensorFlow Lite model, not an ONNX model", file=label)
    if not data.strip():
        raise ModelError("only whitespace, not an ONNX model", file=label)
    proto = onnx.ModelProto()
    try:
        proto.ParseFromString(data)
    except MemoryError:
        raise ModelError(f"not enough memory to parse this {_gib(len(data))} model", file=label) from None
    except (DecodeError, RuntimeError, ValueError) as exc:
        if "MaxDepth" in str(exc) or "recursion" in str(exc).lower():
            raise ModelError("the protobuf nests messages deeper than protobuf's parser allows (100 levels: "
                             "If/Loop/Scan bodies nested about 33 deep)", file=label,
                             hint="ONNX tools cannot read it either; flatten the nested control flow") from None
        raise ModelError(
            f"not a valid ONNX protobuf ({exc}); the file is truncated or not an ONNX model", file=label,
            hint="re-export or re-download the model") from None
    return proto


def _check_basic_structure(proto: onnx.ModelProto, label: str) -> None:
    if not proto.HasField("graph"):
        raise ModelError("no graph in the protobuf: not an ONNX model, or truncated", file=label)
    if not proto.opset_import:
        raise ModelError("no opset_import: the model does not say which ONNX opset it uses", file=label,
                         hint="add an opset import (onnx.helper.make_opsetid('', 17))")


def _collect(pending, label: str, notes: list[str], data: bytes | None = None) -> onnx.ModelProto | None:
    """The inferred model, or None (with a note) when ONNX could not infer it; a crash is an error."""
    try:
        try:
            raw = pending.result()
        except TaskFailed as exc:
            if not (shapes.changed_file(exc) and data is not None):
                raise
            raw = shapes.submit_bytes(data).result()  # the file changed after we read it: infer what we read
    except TaskCrashed as exc:
        raise ModelError(f"ONNX shape inference {exc}; the model is malformed in a way ONNX's C++ code does not survive",
                         file=label, hint="run onnx.checker.check_model(path, full_check=True) to locate it") from None
    except TaskFailed as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else "unknown error"
        notes.append(f"shape inference failed, using declared types only: {first_line[:300]}")
        return None
    inferred = onnx.ModelProto()
    try:
        inferred.ParseFromString(raw)
    except (DecodeError, RuntimeError, ValueError, MemoryError) as exc:
        notes.append(f"shape inference returned a model that cannot be read, using declared types only: "
                     f"{_first_line(exc)}")
        return None
    return inferred


def _attach_types(graph: Graph, inferred: onnx.GraphProto) -> None:
    """Give a graph (and its bodies) the value types shape inference found."""
    graph.tensors.attach(inferred.value_info)
    outputs = [_tensor_info(vi) for vi in inferred.output]
    if [o.name for o in outputs] == [o.name for o in graph.outputs]:
        graph.outputs = outputs
        graph.tensors.add(outputs)
    for node in graph.nodes:
        if not node.subgraphs:
            continue
        if node.file_index >= len(inferred.node):
            continue
        for attr in inferred.node[node.file_index].attribute:
            attr_name = _text(attr.name)
            if attr.type == onnx.AttributeProto.GRAPH and attr_name in node.subgraphs:
                _attach_types(node.subgraphs[attr_name], attr.g)
            elif attr.type == onnx.AttributeProto.GRAPHS:
                for k, body in enumerate(attr.graphs):
                    key = f"{attr_name}[{k}]"
                    if key in node.subgraphs:
                        _attach_types(node.subgraphs[key], body)


# ------------------------------------------------------------------------------------------- the graph

def _tensor_info(value_info: onnx.ValueInfoProto) -> TensorInfo:
    tt = value_info.type.tensor_type if value_info.type.HasField("tensor_type") else None
    if tt is None:
        return TensorInfo(value_info.name)
    shape = None
    if tt.HasField("shape"):
        dims = tt.shape.dim
        if len(dims) <= MAX_RANK:  # an absurd rank (a million dimensions) is no shape anyone can use
            shape = tuple([_dim(d) for d in dims])
    return TensorInfo(value_info.name, _DTYPE_NAMES.get(tt.elem_type) if tt.elem_type else None, shape)


def _dim(d) -> int | str | None:
    value = d.dim_value
    if value:
        return value
    which = d.WhichOneof("value")
    if which == "dim_value":
        return 0
    return _text(d.dim_param) or None


def _initializer_info(t: onnx.TensorProto, base_dir: str | None, label: str,
                      notes: list[str]) -> InitializerInfo:
    dtype = dtype_name(t.data_type) or "UNDEFINED"
    count = 1
    for d in t.dims:
        count *= d
    if count < 0:
        notes.append(f"initializer {_q(t.name)} has negative dimensions {list(t.dims)[:8]}: its size is unknown")
        count = 0
    nbytes = onnx_nbytes(count, dtype)  # an UNDEFINED type counts 4 bytes an element
    external = None
    if t.data_location == onnx.TensorProto.EXTERNAL:
        external = _external_data(t, nbytes, base_dir, notes)
        if external.length is not None:
            nbytes = external.length
    return InitializerInfo(name=t.name, dtype=dtype, shape=tuple(t.dims), nbytes=nbytes, external=external,
                           proto=t if external is None and count <= 4096 else None)


def _initializers(tensors, base_dir: str | None, label: str, notes: list[str]) -> dict[str, InitializerInfo]:
    """Name -> :class:`InitializerInfo`; embedded tensors with ordinary dimensions take a short path (a
    decoder has tens of thousands of small per-layer constants)."""
    out: dict[str, InitializerInfo] = {}
    external = onnx.TensorProto.EXTERNAL
    names = _DTYPE_NAMES
    sizes = _ITEMSIZES
    make = InitializerInfo
    for t in tensors:
        dims = tuple(t.dims)
        size = sizes.get(t.data_type)
        if size is None or t.data_location == external or (dims and min(dims) < 0):
            out[t.name] = _initializer_info(t, base_dir, label, notes)
            continue
        count = 1
        for d in dims:
            count *= d
        out[t.name] = make(t.name, names[t.data_type], dims, count * size, None, t if count <= 4096 else None)
    return out


#: element type number -> bytes an element, for whole-byte types (sub-byte ones take the general path)
_ITEMSIZES = {number: int(size) for number, name in _DTYPE_NAMES.items()
              if (size := onnx_itemsize(name)) is not None and size == int(size) and size >= 1}


def _external_data(t: onnx.TensorProto, nbytes: int, base_dir: str | None, notes: list[str]) -> ExternalData:
    """Where an initializer's bytes are said to live: checked with ``stat`` only (never read, never opened).

    Locations must be relative paths inside the model's directory (ONNX's own rule since 1.16: a model
    must not point at /etc/passwd or ../../secrets); anything else is reported and marked not present."""
    info = {_text(e.key): _text(e.value) for e in t.external_data}
    name = _q(t.name)
    location = info.get("location", "")
    problems = []
    offset = _non_negative_int(info.get("offset"), 0)
    if offset is None:
        problems.append(f"offset {_q(info['offset'])} is not a non-negative integer")
        offset = 0
    length = _non_negative_int(info.get("length"), None) if info.get("length") not in (None, "") else None
    if length is None and info.get("length") not in (None, ""):
        problems.append(f"length {_q(info['length'])} is not a non-negative integer")
    if not location:
        problems.append("has no location")
    elif "\x00" in location:
        problems.append(f"location {_q(location)} contains a NUL character")
    elif os.path.isabs(location) or ".." in location.replace("\\", "/").split("/"):
        problems.append(f"location {_q(location)} points outside the model's directory (ONNX refuses such paths)")
    present = not problems
    if problems:
        notes.append(f"initializer {name}: external data " + "; ".join(problems))
    elif base_dir is None:
        present = False
        notes.append(f"initializer {name}: external data {_q(location)} cannot be located for a model "
                     "given as bytes")
    else:
        full = os.path.join(base_dir, location)
        try:
            info_stat = os.stat(full)
        except (OSError, ValueError):
            present = False
            notes.append(f"initializer {name}: external data file {_q(location)} is missing")
        else:
            needed = offset + (length if length is not None else nbytes)
            if not stat.S_ISREG(info_stat.st_mode):
                present = False
                notes.append(f"initializer {name}: external data {_q(location)} is not a regular file")
            elif info_stat.st_size < needed:
                present = False
                notes.append(f"initializer {name}: external data file {_q(location)} is {info_stat.st_size} "
                             f"bytes, needs {needed}")
    return ExternalData(location=location, offset=offset, length=length, present=present)


def _non_negative_int(text: str | None, default: int | None) -> int | None:
    """``text`` as a non-negative integer; ``default`` when absent; None when it is not one."""
    if text is None:
        return default
    try:
        value = int(text.strip(), 10)
    except ValueError:
        return None
    return value if value >= 0 else None


def _build_graph(g: onnx.GraphProto, label: str, base_dir: str | None, notes: list[str],
                 outer_scope: AbstractSet[str], parent_id: str | None, depth: int = 0) -> Graph:
    """Column-wise passes over the nodes at C speed where possible (names, ops, edges, SSA and
    dangling-input checks), one Python loop to make the nodes; a topological sort only when the file is
    not already in topological order. Nothing here is proportional to the outer scope (a body is judged
    against it by membership, never copied), so many bodies in a big graph stay linear."""
    where = f"subgraph of {_q(parent_id)}" if parent_id else "graph"
    if depth > MAX_NESTING:
        raise ModelError(f"If/Loop/Scan bodies are nested more than {MAX_NESTING} levels deep", file=label,
                         where=where, hint="flatten the nested control flow")
    initializers = _initializers(g.initializer, base_dir, label, notes)
    inputs = [_tensor_info(vi) for vi in g.input]
    outputs = [_tensor_info(vi) for vi in g.output]
    if not (_all_text(initializers) and _all_text(map(attrgetter("name"), chain(inputs, outputs)))):
        _note_non_utf8(notes)
        initializers = {_text(k): replace(v, name=_text(k)) for k, v in initializers.items()}
        inputs = [replace(t, name=_text(t.name)) for t in inputs]
        outputs = [replace(t, name=_text(t.name)) for t in outputs]
    tensors = TensorTable(g.value_info, inputs, outputs, initializers, notes)

    available = set(initializers)
    available.update(t.name for t in inputs)
    prefix = f"{parent_id}/" if parent_id else ""

    protos = list(g.node)
    count = len(protos)
    names = list(map(_NAME, protos))
    ops = list(map(_OP_TYPE, protos))
    domains = list(map(_DOMAIN_OF, protos))
    inputs_of = list(map(tuple, map(_INPUT, protos)))
    outputs_of = list(map(tuple, map(_OUTPUT, protos)))
    docs = list(map(_DOC, protos))
    # Non-UTF-8 strings come out of protobuf as bytes: one C-level type check per column.
    if not (_all_text(names) and _all_text(ops) and _all_text(domains) and _all_text(docs)
            and _all_text(chain.from_iterable(inputs_of)) and _all_text(chain.from_iterable(outputs_of))):
        _note_non_utf8(notes)
        names, ops, domains, docs = (list(map(_text, c)) for c in (names, ops, domains, docs))
        inputs_of = [tuple(map(_text, ins)) for ins in inputs_of]
        outputs_of = [tuple(map(_text, outs)) for outs in outputs_of]
    ids = _unique_ids(names, ops, prefix)

    # SSA: every value written once, and never one of this graph's inputs/initializers or an outer value.
    producer = {out: index for index, outs in enumerate(outputs_of) for out in outs}
    written = sum(map(len, outputs_of))
    empty = sum(outs.count("") for outs in outputs_of) if "" in producer else 0
    producer.pop("", None)
    if (len(producer) != written - empty or not producer.keys().isdisjoint(available)
            or (depth and any(out in outer_scope for out in producer))):
        _raise_written_twice(outputs_of, available, outer_scope, ids, label, where)

    # In file order when every input is an earlier node's output, this graph's input or an outer value.
    in_order = _reads_only_earlier(inputs_of, producer)
    if in_order:
        unknown = set(chain.from_iterable(inputs_of))
        unknown.difference_update(producer)
        unknown.difference_update(available)
        unknown.discard("")
        in_order = all(name in outer_scope for name in unknown)
    rows = None
    if not in_order:
        rows = list(zip(names, ops, domains, inputs_of, outputs_of))
        order = _topological_order(rows, producer, available, outer_scope, label, where, ids)
    else:
        order = range(count)

    graph_ops = ("If", "Loop", "Scan", "SequenceMap")
    scope: _Scope | None = None
    nodes: list[Node] = []
    append = nodes.append
    implicit: dict[int, set[str]] = {}  # file index -> values its bodies read from this graph
    for position, original in enumerate(order):
        op_type, domain = ops[original], domains[original]
        proto = protos[original]
        node_id = ids[original]
        subgraphs = _NO_SUBGRAPHS
        if op_type in graph_ops or (domain and domain != "ai.onnx"):
            found: dict[str, Graph] = {}
            for attr in proto.attribute:
                if attr.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS):
                    if scope is None:
                        scope = _Scope(outer_scope, available, producer)
                    bodies = [attr.g] if attr.type == onnx.AttributeProto.GRAPH else list(attr.graphs)
                    for k, body in enumerate(bodies):
                        attr_name = _text(attr.name)
                        key = attr_name if attr.type == onnx.AttributeProto.GRAPH else f"{attr_name}[{k}]"
                        found[key] = _build_graph(body, label, base_dir, notes, scope, node_id, depth + 1)
            if found:
                subgraphs = found
                reads = set().union(*(_outer_reads(body) for body in found.values()))
                implicit[original] = {n for n in reads if n in producer}
        append(Node(node_id, names[original], op_type, domain, inputs_of[original], outputs_of[original], position,
                    docs[original], subgraphs, proto, parent_id, original))

    if implicit and _reads_ahead(implicit, order, producer):
        # A body reads a value its graph computes later in the file: order by implicit inputs too.
        rows = rows or list(zip(names, ops, domains, inputs_of, outputs_of))
        augmented = [row if i not in implicit else row[:3] + (row[3] + tuple(sorted(implicit[i])),) + row[4:]
                     for i, row in enumerate(rows)]
        order = _topological_order(augmented, producer, available, outer_scope, label, where, ids)
        by_original = {node.file_index: node for node in nodes}
        nodes = [by_original[i] for i in order]
        for position, node in enumerate(nodes):
            node.index = position

    for out in outputs:
        if out.name and out.name not in producer and out.name not in available:
            raise ModelError(f"graph output {_q(out.name)} is not produced by any node, input or initializer",
                             file=label, where=where)
    graph = Graph(name=_text(g.name), nodes=nodes, inputs=inputs, outputs=outputs, initializers=initializers,
                  tensors=tensors, outer_scope=outer_scope)
    if isinstance(order, range):
        graph.__dict__["producer"] = {out: nodes[index] for out, index in producer.items()}
    else:
        position_of = [0] * count
        for position, original in enumerate(order):
            position_of[original] = position
        graph.__dict__["producer"] = {out: nodes[position_of[index]] for out, index in producer.items()}
    return graph


_NAME, _OP_TYPE, _DOMAIN_OF = attrgetter("name"), attrgetter("op_type"), attrgetter("domain")
_ELEM_TYPE = attrgetter("type.tensor_type.elem_type")
_INPUT, _OUTPUT, _DOC = attrgetter("input"), attrgetter("output"), attrgetter("doc_string")
#: what a node without If/Loop/Scan bodies has (one shared read-only mapping, not a dict per node)
_NO_SUBGRAPHS: Mapping[str, Graph] = MappingProxyType({})


class _Scope(AbstractSet):
    """The names a body may read from its enclosing graphs, without copying them: membership is looked up
    in the enclosing graph's own tables (a frozenset copy per body made many-bodied graphs quadratic)."""

    __slots__ = ("_parts",)

    def __init__(self, outer, available, producer) -> None:
        self._parts = (available, producer, outer)

    def __contains__(self, name) -> bool:
        return any(name in part for part in self._parts)

    def __iter__(self):
        seen: set[str] = set()
        for part in self._parts:
            for name in part:
                if name not in seen:
                    seen.add(name)
                    yield name

    def __len__(self) -> int:
        return sum(1 for _ in self)


def _reads_only_earlier(inputs_of: list[tuple[str, ...]], producer: dict[str, int]) -> bool:
    """No node reads a value written by itself or a later node (values nobody writes are checked apart)."""
    get = producer.get
    for index, names in enumerate(inputs_of):
        for name in names:
            if get(name, -1) >= index:
                return False
    return True


def _raise_written_twice(outputs_of, available, outer_scope, ids, label, where) -> None:
    """The first value (in file order) that is written twice, as an error naming both writers."""
    seen: dict[str, int] = {}
    for index, outs in enumerate(outputs_of):
        for out in outs:
            if not out:
                continue
            if out in seen or out in available or out in outer_scope:
                first = ids[seen[out]] if out in seen else "a graph input or initializer"
                raise ModelError(f"tensor {_q(out)} is written twice (by {_q(first)} and {_q(ids[index])}); "
                                 "ONNX graphs are in SSA form", file=label, where=where)
            seen[out] = index
    raise AssertionError("no value is written twice")  # pragma: no cover


def _outer_reads(body: Graph) -> set[str]:
    """Values a body (and the bodies nested in it) reads from enclosing graphs."""
    local = set(body.initializers)
    local.update(t.name for t in body.inputs)
    reads: set[str] = set()
    for node in body.nodes:
        local.update(node.outputs)
    for node in body.nodes:
        reads.update(n for n in node.inputs if n and n not in local)
        for inner in node.subgraphs.values():
            reads.update(n for n in _outer_reads(inner) if n not in local)
    return reads


def _reads_ahead(implicit: dict[int, set[str]], order, producer: dict[str, int]) -> bool:
    position = {original: p for p, original in enumerate(order)}
    return any(position[producer[name]] >= position[reader]
               for reader, names in implicit.items() for name in names)


def _unique_ids(names: list[str], ops: list[str], prefix: str) -> list[str]:
    """Stable unique ids: the exporter's name when it is unique, else ``<op>_<index>`` (or ``<name>_<index>``)."""
    if "" not in names and len(set(names)) == len(names):  # the usual case, at C speed
        return [prefix + name for name in names] if prefix else list(names)
    counts: dict[str, int] = {}
    for name in names:
        if name:
            counts[name] = counts.get(name, 0) + 1
    ids = []
    taken: set[str] | None = None
    used: set[str] = set()
    for index, name in enumerate(names):
        if name and (counts[name] == 1 or name not in used):
            used.add(name)
            ids.append(prefix + name)
            continue
        if taken is None:
            taken = set(counts)
        base = name or ops[index] or "node"
        candidate = f"{base}_{index}"
        bump = 1
        while candidate in taken:
            candidate = f"{base}_{index}_{bump}"
            bump += 1
        taken.add(candidate)
        ids.append(prefix + candidate)
    return ids


def _topological_order(rows: list[tuple], producer: dict[str, int], available: set[str], outer_scope,
                       label: str, where: str, ids: list[str]) -> list[int]:
    """Kahn's algorithm, stable with respect to file order; raises on dangling inputs and cycles."""
    import heapq

    count = len(rows)
    indegree = [0] * count
    dependents: list[list[int]] = [[] for _ in range(count)]
    for index, row in enumerate(rows):
        for name in row[3]:
            if not name or name in available or name in outer_scope:
                continue
            source = producer.get(name)
            if source is None:
                raise ModelError(f"node {_q(ids[index])} ({_q(row[1])}) reads {_q(name)}, which no node, graph "
                                 "input or initializer provides (dangling input)", file=label, where=where)
            indegree[index] += 1
            dependents[source].append(index)
    ready = [i for i in range(count) if indegree[i] == 0]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        index = heapq.heappop(ready)
        order.append(index)
        for dep in dependents[index]:
            indegree[dep] -= 1
            if indegree[dep] == 0:
                heapq.heappush(ready, dep)
    if len(order) < count:
        stuck = [ids[i] for i in range(count) if indegree[i] > 0]
        shown = ", ".join(_q(s) for s in stuck[:5]) + (" ..." if len(stuck) > 5 else "")
        raise ModelError(f"the graph has a cycle: {len(stuck)} nodes wait on each other ({shown})",
                         file=label, where=where)
    return order


class TensorTable(Mapping):
    """Tensor name -> :class:`TensorInfo`. Element types are indexed eagerly (rules read them for every
    node); shapes are decoded on first access (big graphs have hundreds of thousands of values)."""

    def __init__(self, value_info, inputs: list[TensorInfo], outputs: list[TensorInfo],
                 initializers: dict[str, InitializerInfo], notes: list[str] | None = None) -> None:
        self._raw: dict[str, onnx.ValueInfoProto] = {}
        self._types: dict[str, str | None] = {}
        self._done: dict[str, TensorInfo] = {}
        self.attach(value_info, notes)
        for init in initializers.values():
            self._done[init.name] = TensorInfo(init.name, init.dtype, init.shape)
            self._types[init.name] = init.dtype
        self.add(inputs + outputs)

    def attach(self, value_info, notes: list[str] | None = None) -> None:
        """Take (more) value infos, e.g. those shape inference produced (column-wise, at C speed)."""
        infos = list(value_info)
        names = list(map(_NAME, infos))
        if self._done:
            for name in self._done.keys() & set(names):
                del self._done[name]
        self._raw.update(zip(names, infos))
        self._types.update(zip(names, map(_DTYPE_NAMES.get, map(_ELEM_TYPE, infos))))
        if not _all_text(names):  # non-UTF-8 names: re-key them as text
            if notes is not None:
                _note_non_utf8(notes)
            raw, types = self._raw, self._types
            for name in names:
                if type(name) is not str:
                    raw[_text(name)] = raw.pop(name)
                    types[_text(name)] = types.pop(name)

    def add(self, infos: list[TensorInfo]) -> None:
        for info in infos:
            if info.dtype is None and info.name in self._types and self._types[info.name]:
                continue  # a declared-untyped I/O does not hide what inference found
            self._done[info.name] = info
            self._types[info.name] = info.dtype

    def __getitem__(self, name: str) -> TensorInfo:
        info = self._done.get(name)
        if info is None:
            raw = self._raw[name]  # KeyError for unknown names, as a Mapping should
            info = _tensor_info(raw)
            if info.name != name:  # a non-UTF-8 name, decoded
                info = replace(info, name=name)
            self._done[name] = info
        return info

    def get(self, name, default=None):
        try:
            return self[name]
        except KeyError:
            return default

    def dtype(self, name: str) -> str | None:
        """Just the element type: a dict lookup."""
        return self._types.get(name)

    def dtype_table(self) -> Mapping[str, str | None]:
        """Every known name -> its element type (read-only: the table itself, not a copy)."""
        return self._types

    def __iter__(self):
        return iter(self._types)

    def __len__(self) -> int:
        return len(self._types)

    def __contains__(self, name) -> bool:
        return name in self._types
