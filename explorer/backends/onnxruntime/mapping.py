"""ONNX Runtime's optimized graph vs. the original: which original nodes each executed node covers.

Tensors present in both graphs are anchors; nodes joined through other tensors form regions, kept in a
union-find (``networkx.utils.UnionFind``); names ONNX Runtime derives for the nodes it makes seed the match
inside a region (see :func:`map_optimized_graph`).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from polygraphy import mod

nx = mod.lazy_import("networkx", log=False)  # ~0.15 s to import: only the build worker needs it

#: op types ONNX Runtime (or a precision conversion) inserts around the real work: layout, casts, copies
_GLUE_OPS = {"Cast", "ReorderInput", "ReorderOutput", "Transpose", "Reshape", "Squeeze", "Unsqueeze",
             "QuantizeLinear", "DequantizeLinear", "MemcpyToHost", "MemcpyFromHost", "Identity"}


@dataclass
class MappedNode:
    """One node of the optimized graph and the original nodes it covers."""

    name: str
    onnx_nodes: list[str]
    origin: str  # "onnx" (covers original nodes), "conversion" (the precision converter's), "inserted" (ORT's)
    inserted_by: str | None
    op_type: str
    domain: str
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)


@dataclass
class VanishedGroup:
    """Original nodes no executed node covers, and why."""

    onnx_nodes: list[str]
    reason: str


@dataclass
class GraphMapping:
    nodes: dict[int, MappedNode] = field(default_factory=dict)  # by index in the optimized graph
    vanished: list[VanishedGroup] = field(default_factory=list)


@dataclass(eq=False)
class _GNode:
    name: str
    op_type: str
    domain: str
    inputs: list[str]
    outputs: list[str]
    index: int


def _nodes(graph_proto) -> list[_GNode]:
    return [_GNode(n.name, n.op_type, n.domain, [i for i in n.input], [o for o in n.output], k)
            for k, n in enumerate(graph_proto.node)]


def _tensor_names(graph_proto, nodes: list[_GNode]) -> set[str]:
    names = {vi.name for vi in graph_proto.input} | {vi.name for vi in graph_proto.output}
    names |= {t.name for t in graph_proto.initializer}
    for n in nodes:
        names.update(x for x in n.inputs if x)
        names.update(x for x in n.outputs if x)
    return names


_TOKEN_SUFFIX = re.compile(r"_token_\d+$")
_NAMED_SUFFIX = re.compile(r"_new_reshape$")
_INLINED = re.compile(r"^_inlfunc_([A-Za-z0-9]+?)(?:_token_\d+)?_")
_FUSION_SUFFIX = re.compile(r"/[A-Za-z0-9]*Fusion/?$")


def _name_candidates(name: str) -> list[str]:
    """Names an original node may have had, from how ONNX Runtime derives the names of nodes it makes:
    ``<node>/MatMulAddFusion``, ``<node>/LayerNormFusion/``, ``<name>_token_<n>`` (uniquified),
    ``InsertedPrecisionFreeCast_<name>``, ``<name>/duplicated``, ``<reshape>_new_reshape``."""
    out: list[str] = []
    todo = [name]
    while todo:
        current = todo.pop()
        if not current or current in out:
            continue
        out.append(current)
        for pattern in (_TOKEN_SUFFIX, _FUSION_SUFFIX, _NAMED_SUFFIX):
            stripped = pattern.sub("", current)
            if stripped != current:
                todo.append(stripped)
        for prefix in ("InsertedPrecisionFreeCast_",):
            if current.startswith(prefix):
                todo.append(current[len(prefix):])
        if current.endswith("/duplicated"):
            todo.append(current[: -len("/duplicated")])
    return out


def map_optimized_graph(original_graph, optimized_graph, converted_graph=None) -> GraphMapping:
    """Which original nodes each node of ONNX Runtime's optimized graph covers.

    ``original_graph``: the GraphProto the user gave, nodes named by explorer id; ``optimized_graph``: what
    ``optimized_model_filepath`` saved; ``converted_graph``: the fp16/int8 model in between, if any (its
    own nodes - casts, Q/DQ - are then recognised as inserted by the conversion).

    Tensors present in both graphs are *anchors*: ONNX Runtime keeps a tensor's name when it keeps its value.
    Nodes connected through non-anchor tensors form a region on each side; regions producing the same anchor
    are the same piece of computation. Inside a piece, node names (``Conv_0`` for the FusedConv of Conv_0 +
    Relu_1, ``<tensor>_nchwc`` for NCHWc nodes, ``<node>/MatMulAddFusion``...) seed the match and the
    remaining original nodes join the neighbour they were fused with (through a tensor only they used).

    Returns the :class:`MappedNode` of each optimized node (by index) and the :class:`VanishedGroup` s.
    """
    all_orig = _nodes(original_graph)
    # Constant nodes become initializers (weights): they are never part of a fused node
    constants = [n for n in all_orig if n.op_type == "Constant" and n.domain in ("", "ai.onnx")]
    orig = [n for n in all_orig if not (n.op_type == "Constant" and n.domain in ("", "ai.onnx"))]
    opt = _nodes(optimized_graph)
    orig_tensors = _tensor_names(original_graph, orig)
    opt_tensors = _tensor_names(optimized_graph, opt)
    anchors = orig_tensors & opt_tensors
    opt_initializers = {t.name for t in optimized_graph.initializer}
    converted_names: set[str] = set()
    if converted_graph is not None:
        orig_names = {n.name for n in orig}
        converted_names = {n.name for n in converted_graph.node if n.name not in orig_names}

    orig_producer = {t: n for n in orig for t in n.outputs if t}
    opt_producer = {t: n for n in opt for t in n.outputs if t}
    orig_consumers: dict[str, list[_GNode]] = defaultdict(list)
    for n in orig:
        for t in n.inputs:
            if t:
                orig_consumers[t].append(n)
    opt_consumers: dict[str, list[_GNode]] = defaultdict(list)
    for n in opt:
        for t in n.inputs:
            if t:
                opt_consumers[t].append(n)

    uf = nx.utils.UnionFind()
    for n in orig:
        uf[("o", n.index)]
    for n in opt:
        uf[("p", n.index)]
    for side, nodes, producer, consumers in (("o", orig, orig_producer, orig_consumers),
                                             ("p", opt, opt_producer, opt_consumers)):
        for t, p in producer.items():
            if t in anchors:
                continue
            for c in consumers.get(t, ()):
                uf.union((side, p.index), (side, c.index))
    for t in anchors:
        po, pp = orig_producer.get(t), opt_producer.get(t)
        if po is not None and pp is not None:
            uf.union(("o", po.index), ("p", pp.index))

    groups: dict[Any, tuple[list[_GNode], list[_GNode]]] = {}
    for n in orig:
        groups.setdefault(uf[("o", n.index)], ([], []))[0].append(n)
    for n in opt:
        groups.setdefault(uf[("p", n.index)], ([], []))[1].append(n)

    result: dict[int, MappedNode] = {}
    vanished: list[VanishedGroup] = []
    if constants:
        vanished.append(VanishedGroup([n.name for n in constants],
                                      "Constant nodes: their values are weights (initializers) in ONNX Runtime's graph"))
    for o_nodes, p_nodes in groups.values():
        if not p_nodes:
            produced = {t for n in o_nodes for t in n.outputs if t}
            folded = produced & opt_initializers
            vanished.append(VanishedGroup([n.name for n in o_nodes],
                                          "constant-folded by ONNX Runtime" if folded else
                                          "removed by ONNX Runtime (no effect on the outputs)"))
            continue
        assignment = _assign(o_nodes, p_nodes, orig_producer, orig_consumers, anchors, converted_names)
        for p in p_nodes:
            covered = assignment.get(p.index, [])
            covered = sorted(set(covered), key=lambda n: n.index)
            if covered:
                origin = "onnx"
                inserted_by = None
            else:
                conversion = any(c in converted_names for c in _name_candidates(p.name))
                origin = "conversion" if conversion else "inserted"
                inserted_by = "precision conversion" if conversion else "onnxruntime"
            result[p.index] = MappedNode(name=p.name, onnx_nodes=[n.name for n in covered], origin=origin,
                                         inserted_by=inserted_by, op_type=p.op_type, domain=p.domain,
                                         inputs=p.inputs, outputs=p.outputs)
        assigned = {n.index for covered in assignment.values() for n in covered}
        left = [n.name for n in o_nodes if n.index not in assigned]
        if left:
            vanished.append(VanishedGroup(left, "absorbed by ONNX Runtime into nodes it could not be matched to"))
    position = {n.name: n.index for n in all_orig}
    merged: dict[str, list[str]] = {}
    for group in vanished:  # one group per reason, in the model's order
        merged.setdefault(group.reason, []).extend(group.onnx_nodes)
    vanished = [VanishedGroup(sorted(nodes, key=lambda n: position.get(n, 0)), reason)
                for reason, nodes in merged.items()]
    return GraphMapping(nodes=result, vanished=vanished)


def _assign(o_nodes: list[_GNode], p_nodes: list[_GNode], orig_producer, orig_consumers, anchors,
            converted_names) -> dict[int, list[_GNode]]:
    """Inside one piece of computation: optimized node index -> the original nodes it covers."""
    if not o_nodes:
        return {}
    if len(p_nodes) == 1:
        p = p_nodes[0]
        if p.op_type in _GLUE_OPS and not any(o.op_type == p.op_type for o in o_nodes) and \
                any(c in converted_names for c in _name_candidates(p.name)):
            return {}
        return {p.index: list(o_nodes)}
    in_piece = {o.index: o for o in o_nodes}
    by_name = {o.name: o for o in o_nodes}
    by_output = {t: o for o in o_nodes for t in o.outputs if t}

    owner: dict[int, set[int]] = defaultdict(set)  # original index -> optimized indices

    for p in p_nodes:
        seeds: list[_GNode] = []
        for cand in _name_candidates(p.name):
            if cand in by_name and not (p.op_type in _GLUE_OPS and by_name[cand].op_type != p.op_type
                                        and p.name.startswith("InsertedPrecisionFreeCast_")):
                seeds.append(by_name[cand])
                break
            if cand.endswith("_nchwc") and cand[: -len("_nchwc")] in by_output:
                seeds.append(by_output[cand[: -len("_nchwc")]])
                break
        if not seeds:  # a node of an inlined function body: ONNX Runtime names it (or its outputs) _inlfunc_<Op>
            for text in [p.name, *p.outputs]:
                m = next(filter(None, (_INLINED.match(c) for c in _name_candidates(text or ""))), None)
                match = [o for o in o_nodes if o.op_type == m.group(1)] if m else []
                if match:
                    seeds.append(match[0])
                    break
        if not seeds and p.op_type not in _GLUE_OPS:  # a compute node writing (a renamed copy of) a tensor
            for t in p.outputs:
                o = next((by_output[c] for c in _name_candidates(t) if c in by_output), None)
                if o is not None:
                    seeds.append(o)
                    break
        if not seeds:
            for t in p.outputs:  # same op writing the same anchor (a kept Reshape after a fusion, say)
                o = by_output.get(t)
                if o is not None and t in anchors and o.op_type == p.op_type:
                    seeds.append(o)
        for o in seeds:
            owner[o.index].add(p.index)

    if not owner:
        # no names to go by: every non-glue optimized node shares the piece
        workers = [p for p in p_nodes if p.op_type not in _GLUE_OPS] or p_nodes
        return {p.index: list(o_nodes) for p in workers}

    order = sorted(o_nodes, key=lambda n: n.index)
    # optimized node -> the optimized nodes feeding it: a fused node must read what its parts read
    p_out = {t: p.index for p in p_nodes for t in p.outputs if t}
    p_preds = {p.index: {p_out[t] for t in p.inputs if t in p_out} for p in p_nodes}

    def consistent(o: _GNode, ps: set[int]) -> bool:
        """Whether giving ``o`` to the optimized nodes ``ps`` agrees with the optimized graph's edges: every
        other original node feeding ``o`` is either fused into the same node or feeds it there too."""
        for t in o.inputs:
            q = orig_producer.get(t)
            if q is None or q.index not in in_piece:
                continue  # a graph input, a weight, or from another piece
            q_owner = owner.get(q.index)
            if q_owner is None:
                continue  # not placed yet: nothing to contradict
            for p in ps:
                if not (q_owner & ({p} | p_preds[p])):
                    return False
        return True

    def preds(o: _GNode, exclusive: bool) -> list[_GNode]:
        out = []
        for t in o.inputs:
            p = orig_producer.get(t)
            if p is None or p.index not in in_piece:
                continue
            if exclusive and len(orig_consumers.get(t, ())) != 1:
                continue
            out.append(p)
        return out

    def succs(o: _GNode, exclusive: bool) -> list[_GNode]:
        out = []
        for t in o.outputs:
            users = orig_consumers.get(t, ())
            if exclusive and len(users) != 1:
                continue
            out.extend(c for c in users if c.index in in_piece)
        return out

    # strictest first: through a tensor only the two nodes use, agreeing with the optimized graph's edges
    for exclusive, checked in ((True, True), (False, True), (True, False), (False, False)):
        changed = True
        while changed:
            changed = False
            for o in order:  # fused into the node that feeds it (Conv <- Relu, MatMul <- Add)
                if o.index in owner or (checked and o.op_type == "DequantizeLinear"):
                    continue  # (a DequantizeLinear goes with the node it feeds: DQ -> Conv -> Q = QLinearConv)
                for p in sorted(preds(o, exclusive), key=lambda n: -n.index):
                    if p.index in owner and (not checked or consistent(o, owner[p.index])):
                        owner[o.index] = set(owner[p.index])
                        changed = True
                        break
            for o in reversed(order):  # fused into the node it feeds (DequantizeLinear -> Conv)
                if o.index in owner:
                    continue
                for c in sorted(succs(o, exclusive), key=lambda n: n.index):
                    if c.index in owner and (not checked or consistent(o, owner[c.index])):
                        owner[o.index] = set(owner[c.index])
                        changed = True
                        break
    assignment: dict[int, list[_GNode]] = defaultdict(list)
    for o_index, ps in owner.items():
        for p_index in ps:
            assignment[p_index].append(in_piece[o_index])
    return assignment



__all__ = ["GraphMapping", "MappedNode", "VanishedGroup", "map_optimized_graph"]
