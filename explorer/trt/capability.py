"""What TensorRT's ONNX parser takes from a model: its answer as plain data, and in the model's node ids.

:func:`parser_capability` asks the real parser (``supports_model_v2`` from 10.1, ``supports_model`` before,
and every parser error); it needs a CUDA device and is meant to run in a child process
(:func:`parser_capability_task` through :mod:`explorer.isolation`), which sends :meth:`ParserCapability.to_dict` back as JSON and gets it
again with :meth:`ParserCapability.from_dict`. :func:`map_capability_to_model` turns the parser's node
indices (positions in the ONNX file) into the explorer's node ids.
"""

from __future__ import annotations

import json

from dataclasses import asdict, dataclass
from typing import Any

from ..isolation import isolated_task
from .api import interfaces
from .library import TENSORRT, Library, create_builder, import_library, version_of


@dataclass
class ParserIssue:
    """One error of TensorRT's ONNX parser, in its own words.

    ``node_index`` is the node's position in the ONNX file's main graph (None when the error is not tied
    to a node, e.g. a bad model); ``code`` is the parser's ``ErrorCode`` name (``UNSUPPORTED_NODE``...).
    """

    node_index: int | None
    node_name: str
    operator: str
    description: str
    code: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ParserCapability:
    """What TensorRT's ONNX parser takes from a model.

    ``subgraphs``: groups of node indices (positions in the ONNX file's main-graph node list, the order the
    parser reads) with whether TensorRT supports the group. The explorer's loader keeps file order when the
    file is already topologically sorted and records each node's ``file_index`` otherwise; use
    :func:`map_capability_to_model` to get node ids.
    """

    version: str
    source_label: str  # exactly "{library.parser_label} {major}.{minor}", e.g. "tensorrt-parser 10.16"
    subgraphs: list[tuple[list[int], bool]]
    errors: list[ParserIssue]

    @property
    def fully_supported(self) -> bool:
        return all(ok for _, ok in self.subgraphs) and not self.errors

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "source_label": self.source_label,
                "subgraphs": [[list(nodes), ok] for nodes, ok in self.subgraphs],
                "errors": [e.to_dict() for e in self.errors]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ParserCapability":
        """Back from :meth:`to_dict` (the parser's answer as the child process sends it)."""
        return cls(version=str(data["version"]), source_label=str(data["source_label"]),
                   subgraphs=[([int(i) for i in nodes], bool(ok)) for nodes, ok in data["subgraphs"]],
                   errors=[ParserIssue(**issue) for issue in data["errors"]])


@dataclass
class MappedCapability:
    """A :class:`ParserCapability` in the explorer's node ids."""

    subgraphs: list[tuple[list[str], bool]]
    issues: dict[str, list[ParserIssue]]  # node id -> parser errors about it
    unmapped: list[ParserIssue]  # errors naming no node of the model (model-level errors, function bodies)


def parser_capability(model_bytes: bytes, model_path: str | None = None,
                      library: Library = TENSORRT) -> ParserCapability:
    """Ask TensorRT's ONNX parser which parts of the model it supports, and why not the others.

    ``model_path`` lets the parser find external weights (relative to the model's folder). Needs a CUDA
    device (the parser writes into a network that a ``trt.Builder`` owns); raises :class:`ExplorerError`
    with :func:`~explorer.trt.available`'s reason otherwise.
    """
    trt = import_library(library)
    major, minor = version_of(trt)
    messages: list[str] = []
    logger = interfaces(trt).Logger(None, trt.ILogger.ERROR, messages)
    builder = create_builder(trt, logger, messages)
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, logger)
    data = bytes(model_bytes)

    subgraphs: list[tuple[list[int], bool]] = []
    if hasattr(parser, "supports_model_v2"):
        parser.supports_model_v2(data, model_path)
        for index in range(parser.num_subgraphs):
            nodes = [int(i) for i in parser.get_subgraph_nodes(index)]
            subgraphs.append((nodes, bool(parser.is_subgraph_supported(index))))
    else:
        _, groups = parser.supports_model(data, model_path)
        for nodes, ok in groups:
            subgraphs.append(([int(i) for i in nodes], bool(ok)))

    errors = parser_errors(trt, parser)
    return ParserCapability(version=trt.__version__, source_label=f"{library.parser_label} {major}.{minor}",
                            subgraphs=subgraphs, errors=errors)


def parser_errors(trt, parser) -> list[ParserIssue]:
    """Every error the parser recorded, in its own words (the builder quotes them when a parse fails)."""
    issues = []
    for index in range(parser.num_errors):
        error = parser.get_error(index)
        node = int(error.node())
        code = str(error.code())
        issues.append(ParserIssue(
            node_index=node if node >= 0 else None,
            node_name=str(error.node_name() or ""),
            operator=str(error.node_operator() or ""),
            description=str(error.desc() or ""),
            code=code.split(".")[-1]))
    return issues


def map_capability_to_model(capability: ParserCapability, model) -> MappedCapability:
    """Node ids for the parser's node indices.

    Indices are positions in the ONNX file; the explorer's nodes carry them as ``file_index`` (equal to
    ``index`` when the file was already topologically sorted). An error whose ``node_name`` disagrees
    with the node at its index (e.g. the parser saw a different serialization) is mapped by name instead,
    when that name is unique in the model.
    """
    nodes = list(model.graph.nodes)
    by_file_index = {getattr(n, "file_index", n.index): n for n in nodes}
    name_counts: dict[str, int] = {}
    for n in nodes:
        if n.name:
            name_counts[n.name] = name_counts.get(n.name, 0) + 1
    by_name = {n.name: n for n in nodes if n.name and name_counts[n.name] == 1}

    subgraphs = []
    for indices, ok in capability.subgraphs:
        ids = [by_file_index[i].id for i in indices if i in by_file_index]
        subgraphs.append((ids, ok))
    issues: dict[str, list[ParserIssue]] = {}
    unmapped: list[ParserIssue] = []
    for issue in capability.errors:
        node = by_file_index.get(issue.node_index) if issue.node_index is not None else None
        if node is not None and issue.node_name and node.name != issue.node_name:
            node = by_name.get(issue.node_name)
        elif node is None and issue.node_name:
            node = by_name.get(issue.node_name)
        if node is None:
            unmapped.append(issue)
        else:
            issues.setdefault(node.id, []).append(issue)
    return MappedCapability(subgraphs=subgraphs, issues=issues, unmapped=unmapped)


def map_capability_to_model(capability: ParserCapability, model) -> MappedCapability:
    """Node ids for the parser's node indices.

    Indices are positions in the ONNX file; the explorer's nodes carry them as ``file_index`` (equal to
    ``index`` when the file was already topologically sorted). An error whose ``node_name`` disagrees
    with the node at its index (e.g. the parser saw a different serialization) is mapped by name instead,
    when that name is unique in the model.
    """
    nodes = list(model.graph.nodes)
    by_file_index = {getattr(n, "file_index", n.index): n for n in nodes}
    name_counts: dict[str, int] = {}
    for n in nodes:
        if n.name:
            name_counts[n.name] = name_counts.get(n.name, 0) + 1
    by_name = {n.name: n for n in nodes if n.name and name_counts[n.name] == 1}

    subgraphs = []
    for indices, ok in capability.subgraphs:
        ids = [by_file_index[i].id for i in indices if i in by_file_index]
        subgraphs.append((ids, ok))
    issues: dict[str, list[ParserIssue]] = {}
    unmapped: list[ParserIssue] = []
    for issue in capability.errors:
        node = by_file_index.get(issue.node_index) if issue.node_index is not None else None
        if node is not None and issue.node_name and node.name != issue.node_name:
            node = by_name.get(issue.node_name)
        elif node is None and issue.node_name:
            node = by_name.get(issue.node_name)
        if node is None:
            unmapped.append(issue)
        else:
            issues.setdefault(node.id, []).append(issue)
    return MappedCapability(subgraphs=subgraphs, issues=issues, unmapped=unmapped)



@isolated_task("tensorrt_parser", memory_limit=0)  # CUDA reserves far more address space than it uses
def parser_capability_task(data: bytes, model_path: str) -> bytes:
    """:func:`parser_capability` in an isolated child: the model's bytes in, its answer as JSON out."""
    return json.dumps(parser_capability(data, model_path or None).to_dict()).encode("utf-8")


__all__ = ["MappedCapability", "ParserCapability", "ParserIssue", "map_capability_to_model", "parser_capability", "parser_capability_task",
           "parser_errors"]
