"""Which execution provider ONNX Runtime itself gave each node: ``session.record_ep_graph_assignment_info``.

ONNX Runtime (>= 1.24.1) records, when the session config entry ``session.record_ep_graph_assignment_info``
is "1", the subgraphs its graph partitioner gave each execution provider and the nodes inside them
(``InferenceSession.get_provider_graph_assignment_info()``: ``OrtEpAssignedSubgraph.ep_name`` and
``get_nodes()`` -> ``name``, ``op_type``, ``domain``). The partitioner runs after the basic (level 1)
optimizations, so the names are of that graph: nodes ONNX Runtime made (``<node>/MatMulAddFusion``...) and
none for the nodes it folded or removed. The child that runs the session
(:mod:`explorer.backends.onnxruntime.assignment`) maps them back to the ONNX nodes; this module holds the
answer as data and turns it into the Partitions view's verdicts: a node is "supported" when a TensorRT
provider took it, otherwise its reason names the provider that did (the silent fallback).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

#: the providers that run nodes inside TensorRT engines
TENSORRT_PROVIDERS = ("TensorrtExecutionProvider", "NvTensorRTRTXExecutionProvider")
#: the session config key that makes ONNX Runtime record the assignment
RECORD_KEY = "session.record_ep_graph_assignment_info"
#: the first ONNX Runtime release with ``get_provider_graph_assignment_info``
MIN_VERSION = "1.24.1"
#: the reason given to ONNX nodes no assigned node stands for
REMOVED = "removed by optimization"


@dataclass(frozen=True)
class AssignedSubgraph:
    """One subgraph ONNX Runtime's partitioner gave a provider, its nodes as ONNX Runtime names them."""

    provider: str
    nodes: tuple[str, ...]
    ops: tuple[str, ...]


@dataclass(frozen=True)
class NodeAssignment:
    """Where one ONNX node (by explorer id) ended up."""

    node: str
    providers: tuple[str, ...]  # empty: no assigned node stands for it (see ``removed``)
    ort_nodes: tuple[str, ...]  # the assigned nodes that stand for it (its own name unless fused)
    removed: str = ""  # why it is in no assigned node ("removed by optimization: constant-folded ...")


@dataclass
class EpAssignment:
    """ONNX Runtime's own answer for one model: subgraphs per provider, and each ONNX node's provider."""

    ort_version: str
    providers: list[str]  # the providers the session was given, in priority order
    optimization_level: str
    subgraphs: list[AssignedSubgraph]
    nodes: list[NodeAssignment]  # main-graph nodes, in the model's order
    inserted: list[str] = field(default_factory=list)  # assigned nodes that stand for no ONNX node
    # If/Loop/Scan body nodes ONNX Runtime listed, by the name they carry in their body -> their providers
    bodies: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """``ONNX Runtime 1.32 assignment``: the source every verdict from it carries."""
        return f"ONNX Runtime {'.'.join(self.ort_version.split('.')[:2])} assignment"

    def provider_counts(self) -> dict[str, int]:
        """Assigned nodes per provider, as ONNX Runtime lists them."""
        counts: dict[str, int] = {}
        for sub in self.subgraphs:
            counts[sub.provider] = counts.get(sub.provider, 0) + len(sub.nodes)
        return counts

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str | bytes) -> "EpAssignment":
        data = json.loads(text)
        return cls(ort_version=str(data["ort_version"]), providers=[str(p) for p in data["providers"]],
                   optimization_level=str(data["optimization_level"]),
                   subgraphs=[AssignedSubgraph(str(s["provider"]), tuple(s["nodes"]), tuple(s["ops"]))
                              for s in data["subgraphs"]],
                   nodes=[NodeAssignment(str(n["node"]), tuple(n["providers"]), tuple(n["ort_nodes"]),
                                         str(n.get("removed", ""))) for n in data["nodes"]],
                   inserted=[str(x) for x in data.get("inserted", [])],
                   bodies={str(k): tuple(str(p) for p in v) for k, v in (data.get("bodies") or {}).items()})

    def notes(self) -> list[str]:
        """What the report says about where the answer came from."""
        subgraphs: dict[str, int] = {}
        for sub in self.subgraphs:
            subgraphs[sub.provider] = subgraphs.get(sub.provider, 0) + 1
        counts = ", ".join(f"{p} {n} nodes in {subgraphs[p]} subgraph{'s' if subgraphs[p] != 1 else ''}"
                           for p, n in self.provider_counts().items()) or "none"
        out = [f"{self.label}: session.record_ep_graph_assignment_info with providers "
               f"{', '.join(self.providers)} ({self.optimization_level}); per provider: {counts}"]
        trt = sum(n for p, n in subgraphs.items() if p in TENSORRT_PROVIDERS)
        if trt:
            out.append(f"ONNX Runtime gave TensorRT {trt} subgraph{'s' if trt != 1 else ''} (one engine each); the "
                       "partitions here are cut from the per-node verdicts with the min_block_size set here")
        removed = sum(1 for n in self.nodes if not n.providers)
        if removed:
            out.append(f"{removed} ONNX nodes are in no assigned node: ONNX Runtime removed them in its "
                       "basic optimizations, which run before it assigns providers")
        if self.inserted:
            out.append(f"{len(self.inserted)} assigned nodes were made by ONNX Runtime and stand for no ONNX node")
        return out


__all__ = ["AssignedSubgraph", "EpAssignment", "MIN_VERSION", "NodeAssignment", "RECORD_KEY", "REMOVED",
           "TENSORRT_PROVIDERS"]
