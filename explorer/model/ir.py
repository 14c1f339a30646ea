"""The explorer's own tiny view of an ONNX model.

Plain data, built once by :func:`explorer.load_model`, read by every other layer (support analysis,
fusions, engine mapping, plots, widgets). Weights are metadata only: their bytes are never read here.
Node identity is :attr:`Node.id`: unique and stable, used in every report, table and plot; the name the
exporter wrote stays visible as :attr:`Node.name`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from collections.abc import Mapping, Set as AbstractSet
from typing import Any, Iterator

import onnx

Dim = int | str | None  # a known size, a symbolic name ("batch") or unknown
Shape = tuple[Dim, ...]

DEFAULT_DOMAINS = ("", "ai.onnx")


@dataclass(frozen=True)
class TensorInfo:
    """A value's type as ONNX (after shape inference) knows it. ``shape`` is None when the rank is unknown."""

    name: str
    dtype: str | None = None  # ONNX element type name: "FLOAT", "FLOAT16", "INT64", ...
    shape: Shape | None = None

    @property
    def is_static(self) -> bool:
        return self.shape is not None and all(isinstance(d, int) for d in self.shape)

    def numel(self) -> int | None:
        if not self.is_static:
            return None
        n = 1
        for d in self.shape:  # type: ignore[union-attr]
            n *= d  # type: ignore[operator]
        return n


@dataclass(frozen=True)
class ExternalData:
    """Where an initializer's bytes live on disk (never read by the explorer)."""

    location: str
    offset: int = 0
    length: int | None = None
    present: bool = True


@dataclass(frozen=True)
class InitializerInfo:
    """An initializer's metadata; ``proto`` keeps the small embedded ones readable (zero points, axes)."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    nbytes: int
    external: ExternalData | None = None
    proto: onnx.TensorProto | None = field(default=None, repr=False, compare=False)

    def value(self, max_elements: int = 4096):
        """The tensor as a numpy array when it is embedded and small, else None (weights are not read)."""
        if self.proto is None or self.external is not None:
            return None
        count = 1
        for d in self.shape:
            count *= d
        if count > max_elements:
            return None
        from onnx import numpy_helper

        try:
            return numpy_helper.to_array(self.proto)
        except Exception:  # malformed tensor data: treat as unknown
            return None


class Node:
    """One ONNX node. Attributes are decoded on first use, so big graphs load fast."""

    __slots__ = ("id", "name", "op_type", "domain", "inputs", "outputs", "index", "doc_string",
                 "subgraphs", "proto", "_attributes", "parent", "file_index")

    def __init__(self, id: str, name: str, op_type: str, domain: str, inputs: tuple[str, ...],
                 outputs: tuple[str, ...], index: int, doc_string: str = "",
                 subgraphs: dict[str, "Graph"] | None = None, proto: onnx.NodeProto | None = None,
                 parent: str | None = None, file_index: int | None = None) -> None:
        self.id = id
        self.name = name
        self.op_type = op_type
        self.domain = domain
        self.inputs = inputs
        self.outputs = outputs
        self.index = index
        self.doc_string = doc_string
        self.subgraphs = subgraphs if subgraphs is not None else {}
        self.proto = proto
        self.parent = parent
        self.file_index = index if file_index is None else file_index  # position in the ONNX file
        self._attributes: dict[str, Any] | None = None

    @property
    def attributes(self) -> dict[str, Any]:
        """Attribute values as Python objects (tensors stay TensorProto, graphs stay GraphProto)."""
        if self._attributes is None:
            values: dict[str, Any] = {}
            if self.proto is not None:
                for attr in self.proto.attribute:
                    name = attr.name if type(attr.name) is str else attr.name.decode("utf-8", "backslashreplace")
                    try:
                        values[name] = onnx.helper.get_attribute_value(attr)
                    except Exception:  # malformed attribute (wrong type for its payload): unknown value
                        values[name] = None
            self._attributes = values
        return self._attributes

    def attr(self, name: str, default: Any = None) -> Any:
        value = self.attributes.get(name, default)
        if isinstance(value, bytes):
            return value.decode("utf-8", errors="replace")
        return value

    @property
    def is_default_domain(self) -> bool:
        return self.domain in DEFAULT_DOMAINS

    @property
    def is_renamed(self) -> bool:
        return self.id != self.name

    def __repr__(self) -> str:
        return f"Node({self.id!r}, {self.op_type})"


@dataclass
class Graph:
    """A graph (the main one or an If/Loop/Scan body) with nodes in topological order."""

    name: str
    nodes: list[Node]
    inputs: list[TensorInfo]
    outputs: list[TensorInfo]
    initializers: dict[str, InitializerInfo]
    tensors: Mapping[str, TensorInfo]  # every typed value: inputs, outputs, value_info, initializers
    outer_scope: AbstractSet[str] = frozenset()  # names a body may read from its enclosing graphs

    @cached_property
    def producer(self) -> dict[str, Node]:
        """Tensor name -> the node that writes it."""
        return {out: node for node in self.nodes for out in node.outputs if out}

    @cached_property
    def consumers(self) -> dict[str, list[Node]]:
        """Tensor name -> nodes that read it (in topological order)."""
        result: dict[str, list[Node]] = {}
        for node in self.nodes:
            for name in node.inputs:
                if name:
                    result.setdefault(name, []).append(node)
        return result

    @cached_property
    def by_id(self) -> dict[str, Node]:
        return {node.id: node for node in self.nodes}

    @cached_property
    def input_names(self) -> frozenset[str]:
        return frozenset(t.name for t in self.inputs if t.name not in self.initializers)

    @cached_property
    def output_names(self) -> frozenset[str]:
        return frozenset(t.name for t in self.outputs)

    def tensor(self, name: str) -> TensorInfo:
        return self.tensors.get(name) or TensorInfo(name)

    def dtype(self, name: str) -> str | None:
        """Element type of a value, or None when unknown (cheap: shapes are not decoded)."""
        fast = getattr(self.tensors, "dtype", None)
        if fast is not None:
            return fast(name)
        info = self.tensors.get(name)
        return info.dtype if info else None

    def walk(self) -> Iterator[Node]:
        """Every node, bodies of If/Loop/Scan included, parents before children."""
        for node in self.nodes:
            yield node
            for body in node.subgraphs.values():
                yield from body.walk()


@dataclass(frozen=True)
class FunctionInfo:
    """A model-local function (FunctionProto): nodes calling ``domain::name`` expand to its body."""

    domain: str
    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    op_types: tuple[tuple[str, str], ...]  # (domain, op_type) of each node in the body
    proto: onnx.FunctionProto | None = field(default=None, repr=False, compare=False)  # the body, to instantiate


@dataclass
class Model:
    """A loaded ONNX model: the main graph, its opsets and functions, and what went wrong while loading."""

    graph: Graph
    opsets: dict[str, int]  # domain ("" = ai.onnx) -> version
    ir_version: int
    producer: str = ""
    path: str | None = None
    functions: dict[tuple[str, str], FunctionInfo] = field(default_factory=dict)
    doc_string: str = ""
    warnings: list[str] = field(default_factory=list)
    proto: onnx.ModelProto | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        import os

        return os.path.basename(self.path) if self.path else (self.graph.name or "model")

    @property
    def opset(self) -> int:
        """The default-domain (ai.onnx) opset."""
        return self.opsets.get("", self.opsets.get("ai.onnx", 0))

    @property
    def nodes(self) -> list[Node]:
        return self.graph.nodes

    def node(self, node_id: str) -> Node:
        return self.graph.by_id[node_id]

    @cached_property
    def parameter_bytes(self) -> int:
        return sum(init.nbytes for init in self.graph.initializers.values())

    def op_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for node in self.graph.nodes:
            key = node.op_type if node.is_default_domain else f"{node.domain}::{node.op_type}"
            counts[key] = counts.get(key, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))

    def summary(self) -> dict[str, Any]:
        g = self.graph
        return {
            "name": self.name,
            "path": self.path,
            "ir_version": self.ir_version,
            "producer": self.producer,
            "opsets": dict(self.opsets),
            "nodes": len(g.nodes),
            "nodes_in_subgraphs": sum(1 for _ in g.walk()) - len(g.nodes),
            "inputs": [{"name": t.name, "dtype": t.dtype, "shape": list(t.shape) if t.shape else t.shape}
                       for t in g.inputs if t.name not in g.initializers],
            "outputs": [{"name": t.name, "dtype": t.dtype, "shape": list(t.shape) if t.shape else t.shape}
                        for t in g.outputs],
            "initializers": len(g.initializers),
            "parameter_bytes": self.parameter_bytes,
            "functions": [f"{d}::{n}" if d else n for d, n in self.functions],
            "op_counts": self.op_counts(),
            "warnings": list(self.warnings),
        }
