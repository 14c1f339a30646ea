"""ONNX Runtime's own provider assignment, in an isolated child: which provider took which ONNX node.

The parent (:mod:`explorer.support.analysis`, ``source="onnxruntime"``) names this task by module and name
(``explorer.backends.onnxruntime.assignment``, ``ep_assignment``) and sends the model with its nodes renamed
to their explorer ids. Here one session records the assignment (``session.record_ep_graph_assignment_info``,
ONNX Runtime >= 1.24.1) with the requested providers, and a second one, on the CPU at ``ORT_ENABLE_BASIC``, saves the graph ONNX Runtime partitions
(the basic optimizations run before the partitioner) so that :func:`~.mapping.map_optimized_graph` maps
every assigned node back to the ONNX nodes it stands for (``<node>/MatMulAddFusion`` is the MatMul *and*
the Add); ONNX nodes no assigned node stands for are "removed by optimization" with the mapping's reason.
"""

from __future__ import annotations

import json
import os
import tempfile

import onnx

from ...errors import BuildError, ModelError
from ...isolation import isolated_task
from ...support.assignment import (MIN_VERSION, RECORD_KEY, REMOVED, AssignedSubgraph, EpAssignment,
                                   NodeAssignment)
from .mapping import _name_candidates, map_optimized_graph
from .session import onnxrt, ort_message

#: the optimization level of the session whose assignment is recorded (ONNX Runtime's default)
LEVEL = "ORT_ENABLE_ALL"


def _version_tuple(text: str) -> tuple[int, ...]:
    parts = []
    for piece in text.split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def _options(level: str, folder: str, optimized_path: str | None = None):
    so = onnxrt.SessionOptions()
    so.graph_optimization_level = getattr(onnxrt.GraphOptimizationLevel, level)
    so.log_severity_level = 3
    if folder:
        so.add_session_config_entry("session.model_external_initializers_file_folder_path", folder)
    if optimized_path:
        so.optimized_model_filepath = optimized_path
        so.add_session_config_entry("session.optimized_model_external_initializers_file_name",
                                    os.path.basename(optimized_path) + ".data")
        so.add_session_config_entry("session.optimized_model_external_initializers_min_size_in_bytes", "1024")
    return so


def _body_node_names(graph) -> set[str]:
    """Names of the nodes inside If/Loop/Scan bodies, at any depth (ONNX Runtime lists them too)."""
    names: set[str] = set()
    stack = [graph]
    while stack:
        g = stack.pop()
        for node in g.node:
            if g is not graph:
                names.add(node.name)
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.GRAPH:
                    stack.append(attr.g)
                elif attr.type == onnx.AttributeProto.GRAPHS:
                    stack.extend(attr.graphs)
    return names


@isolated_task("ep_assignment")  # the parent sets the memory limit: none for GPU providers
def assignment_task(data: bytes, path: str, providers_json: str) -> bytes:
    """The :class:`EpAssignment` of a model (nodes named by explorer id) as JSON."""
    version = onnxrt.__version__
    if _version_tuple(version) < _version_tuple(MIN_VERSION):
        raise BuildError(f"ONNX Runtime {version} cannot report its provider assignment "
                         f"(get_provider_graph_assignment_info needs >= {MIN_VERSION})")
    providers = [str(p) for p in json.loads(providers_json)]
    have = onnxrt.get_available_providers()
    if not providers:
        providers = [p for p in ("TensorrtExecutionProvider", "NvTensorRTRTXExecutionProvider",
                                 "CUDAExecutionProvider") if p in have] + ["CPUExecutionProvider"]
    missing = [p for p in providers if p not in have]
    if missing:
        raise BuildError(f"ONNX Runtime here has no {', '.join(missing)}; it has {', '.join(have)}")
    folder = os.path.dirname(os.path.abspath(path)) if path else ""
    so = _options(LEVEL, folder)
    so.add_session_config_entry(RECORD_KEY, "1")
    try:
        session = onnxrt.InferenceSession(data, so, providers=providers)
        info = session.get_provider_graph_assignment_info()
    except Exception as exc:
        # (the parent names the file)
        raise ModelError(f"ONNX Runtime could not make a session: {ort_message(exc)}") from None
    subgraphs = [AssignedSubgraph(str(g.ep_name), tuple(n.name for n in g.get_nodes()),
                                  tuple(n.op_type for n in g.get_nodes())) for g in info]
    provider_of: dict[str, str] = {}
    for sub in subgraphs:
        for name in sub.nodes:
            provider_of.setdefault(name, sub.provider)
    del session

    original = onnx.load_from_string(data)
    ids = [n.name for n in original.graph.node]
    covered: dict[str, list[str]] = {i: [] for i in ids}
    removed: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="explorer-assignment-") as tmp:
        optimized_path = os.path.join(tmp, "partitioned.onnx")
        try:
            onnxrt.InferenceSession(data, _options("ORT_ENABLE_BASIC", folder, optimized_path),
                                    providers=["CPUExecutionProvider"])
            optimized = onnx.load(optimized_path, load_external_data=False)
        except Exception:
            optimized = None
        if optimized is not None:
            mapping = map_optimized_graph(original.graph, optimized.graph)
            for mapped in mapping.nodes.values():
                for onnx_node in mapped.onnx_nodes:
                    if onnx_node in covered and mapped.name in provider_of:
                        covered[onnx_node].append(mapped.name)
            for group in mapping.vanished:
                for onnx_node in group.onnx_nodes:
                    removed[onnx_node] = f"{REMOVED}: {group.reason}"
    # what the saved graph could not tell: names the partitioner lists (its own, or derived from one)
    id_set = set(ids)
    body_names = _body_node_names(original.graph)
    inserted = []
    bodies: dict[str, list[str]] = {}
    for name in provider_of:
        if name in body_names and name not in id_set:  # a node of an If/Loop/Scan body, by its local name
            providers_here = bodies.setdefault(name, [])
            for sub in subgraphs:
                if name in sub.nodes and sub.provider not in providers_here:
                    providers_here.append(sub.provider)
            continue
        if name in id_set:
            if name not in covered[name]:
                covered[name].append(name)
            continue
        if any(name in nodes for nodes in covered.values()):
            continue
        origin = next((c for c in _name_candidates(name) if c in id_set), None)
        if origin is not None:
            covered[origin].append(name)
        else:
            inserted.append(name)
    nodes = []
    for node_id in ids:
        names = tuple(dict.fromkeys(covered[node_id]))
        found = tuple(dict.fromkeys(provider_of[n] for n in names))
        nodes.append(NodeAssignment(node_id, found, names, "" if found else removed.get(node_id, REMOVED)))
    result = EpAssignment(ort_version=version, providers=providers, optimization_level=LEVEL,
                          subgraphs=subgraphs, nodes=nodes, inserted=inserted,
                          bodies={k: tuple(v) for k, v in bodies.items()})
    return result.to_json().encode("utf-8")


__all__ = ["LEVEL", "assignment_task"]
