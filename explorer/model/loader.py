"""Load an ONNX model into the explorer's IR without ever reading its weights.

The path is: bytes -> one protobuf parse -> ONNX shape inference (C++, on the bytes we already hold) ->
one pass over nodes and value infos. External weights are only ``stat``-ed, so a model with gigabytes of
external data loads in the time its graph takes.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
import gc
from collections.abc import Mapping
from contextlib import contextmanager
from typing import Union

import onnx
from google.protobuf.message import DecodeError

from ..errors import ExplorerWarning, ModelError
from .isolation import ShapeInferenceCrashed, ShapeInferenceFailed, shape_inference_worker
from .ir import ExternalData, FunctionInfo, Graph, InitializerInfo, Model, Node, TensorInfo

ModelSource = Union[str, os.PathLike, bytes, bytearray, onnx.ModelProto]

#: Protobuf refuses messages over 2 GiB; anything bigger cannot be an ONNX file with embedded data.
MAX_MODEL_BYTES = 2 * 1024**3

_DTYPE_NAMES = {value: name for name, value in onnx.TensorProto.DataType.items()}

# Magic numbers of files people mistake for ONNX models, so the error can say what the file really is.
_OTHER_FORMATS = (
    (b"PK\x03\x04", "a ZIP archive (a PyTorch checkpoint or a saved archive?), not an ONNX model"),
    (b"\x80\x02", "a Python pickle (a PyTorch checkpoint?), not an ONNX model; pickles are never loaded"),
    (b"\x80\x04", "a Python pickle (a PyTorch checkpoint?), not an ONNX model; pickles are never loaded"),
    (b"ftrt", "a serialized TensorRT engine (plan), not an ONNX model"),
    (b"\x89HDF", "an HDF5 file (Keras?), not an ONNX model"),
    (b"{", "a JSON document, not an ONNX model"),
    (b"[", "a JSON document, not an ONNX model"),
)


def dtype_name(elem_type: int) -> str | None:
    return _DTYPE_NAMES.get(elem_type) if elem_type else None


def load_model(source: ModelSource, *, infer_shapes: bool = True) -> Model:
    """Read an ONNX model from a path, raw bytes or a ``ModelProto``.

    Raises :class:`~explorer.ModelError` naming the file and the problem. Missing external data only warns
    (:class:`~explorer.errors.ExplorerWarning`): the structure is still analysed.
    """
    path: str | None = None
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
        data = _read_file(path)
        proto = _parse(data, label)
    else:
        raise ModelError(f"cannot load a model from {type(source).__name__}; give a path, bytes or onnx.ModelProto")

    _check_basic_structure(proto, label)
    model_warnings: list[str] = []
    base_dir = os.path.dirname(os.path.abspath(path)) if path else None

    # Shape inference runs in a child process (it can crash on malformed models) while we build the IR.
    pending = None
    if infer_shapes:
        pending = shape_inference_worker().submit(data if data is not None else proto.SerializeToString())
    try:
        with _gc_paused():
            graph = _build_graph(proto.graph, label, base_dir, model_warnings, frozenset(), parent_id=None)
            if pending is not None:
                inferred, pending = _collect(pending, label, model_warnings), None
                if inferred is not None:
                    _attach_types(graph, inferred.graph)
                    proto = inferred
    finally:
        if pending is not None:
            pending.abandon()

    opsets = {imp.domain if imp.domain != "ai.onnx" else "": imp.version for imp in proto.opset_import}
    functions = {
        (f.domain, f.name): FunctionInfo(
            domain=f.domain, name=f.name, inputs=tuple(f.input), outputs=tuple(f.output),
            op_types=tuple((n.domain, n.op_type) for n in f.node))
        for f in proto.functions
    }
    model = Model(graph=graph, opsets=opsets, ir_version=proto.ir_version,
                  producer=" ".join(p for p in (proto.producer_name, proto.producer_version) if p),
                  path=path, functions=functions, doc_string=proto.doc_string,
                  warnings=model_warnings, proto=proto)
    for message in model_warnings:
        warnings.warn(f"{label}: {message}", ExplorerWarning, stacklevel=2)
    return model


@contextmanager
def _gc_paused():
    """Building 100k-node IRs makes the cyclic GC rescan everything again and again: pause it meanwhile."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# --------------------------------------------------------------------------------------------- reading

def _read_file(path: str) -> bytes:
    try:
        size = os.path.getsize(path)
    except FileNotFoundError:
        raise ModelError("file not found", file=path) from None
    except OSError as exc:
        raise ModelError(f"cannot read file: {exc.strerror or exc}", file=path) from None
    if os.path.isdir(path):
        raise ModelError("is a directory, not an ONNX file", file=path)
    if size > MAX_MODEL_BYTES:
        raise ModelError(
            f"file is {size / 1024**3:.1f} GiB; an ONNX protobuf cannot exceed 2 GiB",
            file=path, hint="store the weights as external data (onnx.save(..., save_as_external_data=True))")
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ModelError(f"cannot read file: {exc.strerror or exc}", file=path) from None


def _parse(data: bytes, label: str) -> onnx.ModelProto:
    if not data:
        raise ModelError("empty file, not an ONNX model", file=label)
    for magic, what in _OTHER_FORMATS:
        if data.startswith(magic):
            raise ModelError(f"this is {what}", file=label)
    proto = onnx.ModelProto()
    try:
        proto.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as exc:
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


def _collect(pending, label: str, notes: list[str]) -> onnx.ModelProto | None:
    """The inferred model, or None (with a note) when ONNX could not infer it; a crash is an error."""
    try:
        raw = pending.result()
    except ShapeInferenceCrashed as exc:
        raise ModelError(f"{exc}; the model is malformed in a way ONNX's C++ code does not survive",
                         file=label, hint="run onnx.checker.check_model(path, full_check=True) to locate it") from None
    except ShapeInferenceFailed as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else "unknown error"
        notes.append(f"shape inference failed, using declared types only: {first_line[:300]}")
        return None
    inferred = onnx.ModelProto()
    inferred.ParseFromString(raw)
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
            if attr.type == onnx.AttributeProto.GRAPH and attr.name in node.subgraphs:
                _attach_types(node.subgraphs[attr.name], attr.g)
            elif attr.type == onnx.AttributeProto.GRAPHS:
                for k, body in enumerate(attr.graphs):
                    key = f"{attr.name}[{k}]"
                    if key in node.subgraphs:
                        _attach_types(node.subgraphs[key], body)


# ------------------------------------------------------------------------------------------- the graph

def _tensor_info(value_info: onnx.ValueInfoProto) -> TensorInfo:
    tt = value_info.type.tensor_type if value_info.type.HasField("tensor_type") else None
    if tt is None:
        return TensorInfo(value_info.name)
    shape = None
    if tt.HasField("shape"):
        shape = tuple([_dim(d) for d in tt.shape.dim])
    return TensorInfo(value_info.name, _DTYPE_NAMES.get(tt.elem_type) if tt.elem_type else None, shape)


def _dim(d) -> int | str | None:
    value = d.dim_value
    if value:
        return value
    which = d.WhichOneof("value")
    if which == "dim_value":
        return 0
    return d.dim_param or None


def _initializer_info(t: onnx.TensorProto, base_dir: str | None, label: str,
                      notes: list[str]) -> InitializerInfo:
    dtype = dtype_name(t.data_type) or "UNDEFINED"
    count = 1
    for d in t.dims:
        count *= d
    itemsize = _ITEMSIZE.get(dtype, 4)
    nbytes = (count * itemsize) if itemsize >= 1 else (count + 1) // 2
    external = None
    if t.data_location == onnx.TensorProto.EXTERNAL:
        info = {e.key: e.value for e in t.external_data}
        location = info.get("location", "")
        offset = int(info.get("offset", 0) or 0)
        length = int(info["length"]) if info.get("length") else None
        present = True
        if base_dir is None:
            present = False
            notes.append(f"initializer {t.name!r}: external data {location!r} cannot be located for a model "
                         "given as bytes")
        else:
            full = os.path.normpath(os.path.join(base_dir, location))
            try:
                size = os.path.getsize(full)
                needed = offset + (length if length is not None else nbytes)
                if size < needed:
                    present = False
                    notes.append(f"initializer {t.name!r}: external data file {location!r} is {size} bytes, "
                                 f"needs {needed}")
            except OSError:
                present = False
                notes.append(f"initializer {t.name!r}: external data file {location!r} is missing")
        external = ExternalData(location=location, offset=offset, length=length, present=present)
        if length is not None:
            nbytes = length
    return InitializerInfo(name=t.name, dtype=dtype, shape=tuple(t.dims), nbytes=nbytes, external=external,
                           proto=t if external is None and count <= 4096 else None)


_ITEMSIZE = {"FLOAT": 4, "UINT8": 1, "INT8": 1, "UINT16": 2, "INT16": 2, "INT32": 4, "INT64": 8, "STRING": 8,
             "BOOL": 1, "FLOAT16": 2, "DOUBLE": 8, "UINT32": 4, "UINT64": 8, "COMPLEX64": 8, "COMPLEX128": 16,
             "BFLOAT16": 2, "FLOAT8E4M3FN": 1, "FLOAT8E4M3FNUZ": 1, "FLOAT8E5M2": 1, "FLOAT8E5M2FNUZ": 1,
             "UINT4": 0.5, "INT4": 0.5, "FLOAT4E2M1": 0.5, "FLOAT8E8M0": 1, "UINT2": 0.25, "INT2": 0.25}


def itemsize(dtype: str | None) -> float | None:
    """Bytes per element of an ONNX dtype name (fractional for 4-bit types)."""
    return _ITEMSIZE.get(dtype) if dtype else None


def _build_graph(g: onnx.GraphProto, label: str, base_dir: str | None, notes: list[str],
                 outer_scope: frozenset[str], parent_id: str | None) -> Graph:
    """One pass over the nodes (ids, edges, SSA and dangling-input checks); a second only when the file
    is not already in topological order."""
    where = f"subgraph of {parent_id!r}" if parent_id else "graph"
    initializers = {t.name: _initializer_info(t, base_dir, label, notes) for t in g.initializer}
    inputs = [_tensor_info(vi) for vi in g.input]
    outputs = [_tensor_info(vi) for vi in g.output]
    tensors = TensorTable(g.value_info, inputs, outputs, initializers)

    available = set(initializers)
    available.update(vi.name for vi in g.input)
    available.update(outer_scope)
    prefix = f"{parent_id}/" if parent_id else ""

    protos = g.node
    rows = [(n.name, n.op_type, n.domain, tuple(n.input), tuple(n.output)) for n in protos]
    ids = _unique_ids(rows, prefix)

    producer: dict[str, int] = {}
    in_order = True
    for index, row in enumerate(rows):
        for name in row[3]:
            if name and name not in available and name not in producer:
                in_order = False
        for out in row[4]:
            if not out:
                continue
            if out in producer or out in available:
                first = ids[producer[out]] if out in producer else "a graph input or initializer"
                raise ModelError(f"tensor {out!r} is written twice (by {first!r} and {ids[index]!r}); ONNX "
                                 "graphs are in SSA form", file=label, where=where)
            producer[out] = index
    order = range(len(rows)) if in_order else _topological_order(rows, producer, available, label, where, ids)

    graph_ops = ("If", "Loop", "Scan", "SequenceMap")
    scope: frozenset[str] | None = None
    nodes: list[Node] = []
    append = nodes.append
    for position, original in enumerate(order):
        name, op_type, domain, node_inputs, node_outputs = rows[original]
        proto = protos[original]
        node_id = ids[original]
        subgraphs: dict[str, Graph] = {}
        if op_type in graph_ops or (domain and domain != "ai.onnx"):
            for attr in proto.attribute:
                if attr.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS):
                    if scope is None:
                        scope = outer_scope | available | frozenset(producer)
                    bodies = [attr.g] if attr.type == onnx.AttributeProto.GRAPH else list(attr.graphs)
                    for k, body in enumerate(bodies):
                        key = attr.name if attr.type == onnx.AttributeProto.GRAPH else f"{attr.name}[{k}]"
                        subgraphs[key] = _build_graph(body, label, base_dir, notes, scope, node_id)
        append(Node(node_id, name, op_type, domain, node_inputs, node_outputs, position, proto.doc_string,
                    subgraphs, proto, parent_id, original))

    for out in outputs:
        if out.name and out.name not in producer and out.name not in available:
            raise ModelError(f"graph output {out.name!r} is not produced by any node, input or initializer",
                             file=label, where=where)
    graph = Graph(name=g.name, nodes=nodes, inputs=inputs, outputs=outputs, initializers=initializers,
                  tensors=tensors, outer_scope=outer_scope)
    position_of = [0] * len(rows)
    for position, original in enumerate(order):
        position_of[original] = position
    graph.__dict__["producer"] = {out: nodes[position_of[index]] for out, index in producer.items()}
    return graph


def _unique_ids(rows: list[tuple], prefix: str) -> list[str]:
    """Stable unique ids: the exporter's name when it is unique, else ``<op>_<index>`` (or ``<name>_<index>``)."""
    counts: dict[str, int] = {}
    for row in rows:
        name = row[0]
        if name:
            counts[name] = counts.get(name, 0) + 1
    ids = []
    taken: set[str] | None = None
    used: set[str] = set()
    for index, row in enumerate(rows):
        name = row[0]
        if name and (counts[name] == 1 or name not in used):
            used.add(name)
            ids.append(prefix + name)
            continue
        if taken is None:
            taken = set(counts)
        base = name or row[1] or "node"
        candidate = f"{base}_{index}"
        bump = 1
        while candidate in taken:
            candidate = f"{base}_{index}_{bump}"
            bump += 1
        taken.add(candidate)
        ids.append(prefix + candidate)
    return ids


def _topological_order(rows: list[tuple], producer: dict[str, int], available: set[str], label: str,
                       where: str, ids: list[str]) -> list[int]:
    """Kahn's algorithm, stable with respect to file order; raises on dangling inputs and cycles."""
    import heapq

    count = len(rows)
    indegree = [0] * count
    dependents: list[list[int]] = [[] for _ in range(count)]
    for index, row in enumerate(rows):
        for name in row[3]:
            if not name or name in available:
                continue
            source = producer.get(name)
            if source is None:
                raise ModelError(f"node {ids[index]!r} ({row[1]}) reads {name!r}, which no node, graph "
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
        shown = ", ".join(repr(s) for s in stuck[:5]) + (" ..." if len(stuck) > 5 else "")
        raise ModelError(f"the graph has a cycle: {len(stuck)} nodes wait on each other ({shown})",
                         file=label, where=where)
    return order


class TensorTable(Mapping):
    """Tensor name -> :class:`TensorInfo`. Element types are indexed eagerly (rules read them for every
    node); shapes are decoded on first access (big graphs have hundreds of thousands of values)."""

    def __init__(self, value_info, inputs: list[TensorInfo], outputs: list[TensorInfo],
                 initializers: dict[str, InitializerInfo]) -> None:
        self._raw: dict[str, onnx.ValueInfoProto] = {}
        self._types: dict[str, str | None] = {}
        self._done: dict[str, TensorInfo] = {}
        self.attach(value_info)
        for init in initializers.values():
            self._done[init.name] = TensorInfo(init.name, init.dtype, init.shape)
            self._types[init.name] = init.dtype
        self.add(inputs + outputs)

    def attach(self, value_info) -> None:
        """Take (more) value infos, e.g. those shape inference produced."""
        raw, types, names = self._raw, self._types, _DTYPE_NAMES
        for vi in value_info:
            name = vi.name
            raw[name] = vi
            types[name] = names.get(vi.type.tensor_type.elem_type)
            self._done.pop(name, None)

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
            info = self._done[name] = _tensor_info(raw)
        return info

    def get(self, name, default=None):
        try:
            return self[name]
        except KeyError:
            return default

    def dtype(self, name: str) -> str | None:
        """Just the element type: a dict lookup."""
        return self._types.get(name)

    def __iter__(self):
        return iter(self._types)

    def __len__(self) -> int:
        return len(self._types)

    def __contains__(self, name) -> bool:
        return name in self._types
