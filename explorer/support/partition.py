"""Cut a graph into maximal supported / unsupported partitions that can each run as one unit.

The rule every framework integration follows (TVM BYOC, Torch-TensorRT, ONNX Runtime's TensorRT provider):
contracting a partition to one node must not create a cycle. We get that in linear time by giving each
node a *level*: the number of label changes on the worst path from the graph inputs to it. Edges never go
to a lower level, and an edge between different labels always goes up a level, so the groups of equal
(level, label) contract to an acyclic graph; their connected pieces are the partitions.

``min_block_size`` then sends small TensorRT partitions back to the framework (Torch-TensorRT's default is
5), optionally also those without a multiply-accumulate op (TVM's pruning rule), and the cut is redone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

#: Ops that do multiply-accumulate work: a TensorRT engine without one is rarely worth its launch cost.
MAC_OPS = frozenset({
    "Conv", "ConvTranspose", "MatMul", "Gemm", "Einsum", "Attention", "LSTM", "GRU", "RNN",
    "QLinearConv", "QLinearMatMul", "ConvInteger", "MatMulInteger", "DeformConv",
})


@dataclass
class Partition:
    """A maximal group of nodes that runs in one place: a TensorRT engine or the framework."""

    index: int
    supported: bool  # True: runs inside a TensorRT engine
    nodes: list[str]  # node ids in topological order
    demoted: str | None = None  # why supported nodes were sent back to the framework
    ops: dict[str, int] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return len(self.nodes)

    def to_dict(self) -> dict:
        return {"index": self.index, "supported": self.supported, "nodes": list(self.nodes),
                "size": self.size, "demoted": self.demoted, "ops": dict(self.ops)}


def partition(preds: Sequence[Sequence[int]], labels: Sequence[bool]) -> list[list[int]]:
    """Group node positions (topologically ordered, ``preds[i]`` < i) into acyclic label-pure partitions.

    Returns lists of positions, ordered by their first node.
    """
    count = len(labels)
    level = [0] * count
    for i in range(count):
        li = labels[i]
        best = 0
        for p in preds[i]:
            candidate = level[p] if labels[p] == li else level[p] + 1
            if candidate > best:
                best = candidate
        level[i] = best

    # union-find over edges whose ends share (level, label)
    parent = list(range(count))

    def find(x: int) -> int:
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    for i in range(count):
        li, lv = labels[i], level[i]
        for p in preds[i]:
            if labels[p] == li and level[p] == lv:
                a, b = find(i), find(p)
                if a != b:
                    if a < b:
                        parent[b] = a
                    else:
                        parent[a] = b
    groups: dict[int, list[int]] = {}
    for i in range(count):
        groups.setdefault(find(i), []).append(i)
    return sorted(groups.values(), key=lambda members: members[0])


def partition_with_fallback(preds: Sequence[Sequence[int]], supported: Sequence[bool], ops: Sequence[str],
                            min_block_size: int = 1, require_mac: bool = False,
                            ) -> tuple[list[list[int]], list[bool], dict[int, str]]:
    """Partition, then demote TensorRT partitions that are too small or hold no MAC op, until stable.

    Returns (groups, final labels, position -> demotion reason).
    """
    labels = list(supported)
    demoted: dict[int, str] = {}
    while True:
        groups = partition(preds, labels)
        changed = False
        for members in groups:
            if not labels[members[0]]:
                continue
            reason = None
            if len(members) < min_block_size:
                reason = (f"TensorRT partition of {len(members)} node{'s' if len(members) != 1 else ''} is "
                          f"smaller than min_block_size={min_block_size}")
            elif require_mac and not any(ops[i] in MAC_OPS for i in members):
                reason = "TensorRT partition has no multiply-accumulate op (pruned, as TVM does)"
            if reason:
                changed = True
                for i in members:
                    labels[i] = False
                    demoted[i] = reason
        if not changed:
            return groups, labels, demoted
