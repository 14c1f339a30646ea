"""A graph view that stays usable at 100k nodes: collapse by name scope, lay out in linear time.

Exporters name nodes by module path (``/model/layers.3/self_attn/q_proj/MatMul``). :class:`ScopeTree`
turns those paths into a tree of scopes, like TensorBoard and Model Explorer do; scopes with too many
children (or graphs without scopes at all, ``Conv_0``, ``Relu_1`` ...) get synthetic chunks of consecutive
children so no box ever holds more than :data:`MAX_CHILDREN` direct children.

:class:`GraphView` is one view of that tree: the set of expanded scopes. Collapsed scopes are drawn as one
box; the edges between visible items come from the node edges (numpy, no per-view Python loop over nodes).
The layout is a layered one computed in linear time: y = longest-path depth in the visible graph
(edges taken in topological order of each item's first node, so contracted scopes can never create a
cycle), x = order within the layer by the barycentre of the predecessors (one sweep, as in Sugiyama's
method without the expensive iterations). No networkx, nothing quadratic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

import numpy as np

#: most direct children a scope box shows before they are chunked into synthetic sub-scopes
MAX_CHILDREN = 48
#: how many items the initial view may show
DEFAULT_BUDGET = 320

#: the figure's height: this many pixels per layer, within [MIN_HEIGHT, MAX_HEIGHT]; the whole graph is in the
#: first view (a taller figure scrolls with the notebook, since the wheel is left to the page)
PX_PER_LAYER = 22
MIN_HEIGHT, MAX_HEIGHT = 420, 1400
#: pixels the title, margins and legend take from the figure's height
FRAME_PX = 160
#: a label needs about this many pixels vertically and horizontally to be read without overlapping its neighbours
LABEL_HEIGHT_PX = 12
LABEL_WIDTH_PX = 110
#: the plot's width when the figure is laid out (the widget's real width is known only in the browser; a
#: notebook cell beside the details pane is about this wide)
PLOT_WIDTH_PX = 900

LEAF, GROUP = 0, 1


def scope_of(name: str) -> tuple[str, ...]:
    """``/model/layers.3/attn/MatMul`` -> ``("model", "layers.3", "attn")``; ``Conv_0`` -> ``()``."""
    if not name or "/" not in name:
        return ()
    parts = [p for p in name.split("/") if p]
    return tuple(parts[:-1])


@dataclass
class Group:
    """A scope (or a synthetic chunk of a scope's children)."""

    gid: int
    label: str  # the scope's own component, e.g. "layers.3" (chunks: "layers.0 … layers.47")
    path: str  # full path for display, e.g. "/model/layers.3"
    parent: int  # -1 for the root
    entries: list[tuple[int, int]] = field(default_factory=list)  # (LEAF, node index) | (GROUP, gid)
    start: int = 0  # range into ScopeTree.order (the leaves below this group, in DFS order)
    end: int = 0
    synthetic: bool = False

    @property
    def size(self) -> int:
        return self.end - self.start


class ScopeTree:
    """The scope hierarchy of one graph plus its edges as numpy arrays. Built once per model."""

    def __init__(self, model, *, max_children: int = MAX_CHILDREN) -> None:
        graph = model.graph
        nodes = graph.nodes
        self.model = model
        self.n = len(nodes)
        self.node_ids: list[str] = [node.id for node in nodes]
        self.names: list[str] = [node.name or node.id for node in nodes]
        self.ops: list[str] = [node.op_type if node.is_default_domain else f"{node.domain}::{node.op_type}"
                               for node in nodes]
        self.index_of: dict[str, int] = {nid: i for i, nid in enumerate(self.node_ids)}
        self.max_children = max(2, int(max_children))
        self._edges(graph)
        self._build_tree()

    # ------------------------------------------------------------------ construction
    def _edges(self, graph) -> None:
        producer: dict[str, int] = {}
        for i, node in enumerate(graph.nodes):
            for out in node.outputs:
                if out:
                    producer[out] = i
        src: list[int] = []
        dst: list[int] = []
        for j, node in enumerate(graph.nodes):
            seen = set()
            for name in node.inputs:
                if not name:
                    continue
                i = producer.get(name)
                if i is not None and i != j and i not in seen:
                    seen.add(i)
                    src.append(i)
                    dst.append(j)
        self.src = np.asarray(src, dtype=np.int64)
        self.dst = np.asarray(dst, dtype=np.int64)

    def _build_tree(self) -> None:
        root = Group(0, "", "/", -1)
        self.groups: list[Group] = [root]
        by_path: dict[tuple[str, ...], int] = {(): 0}
        for i, name in enumerate(self.names):
            scope = scope_of(name)
            gid = by_path.get(scope)
            if gid is None:
                # create missing ancestors, outermost first
                parent = 0
                for depth in range(1, len(scope) + 1):
                    prefix = scope[:depth]
                    g = by_path.get(prefix)
                    if g is None:
                        g = len(self.groups)
                        self.groups.append(Group(g, prefix[-1], "/" + "/".join(prefix), parent))
                        self.groups[parent].entries.append((GROUP, g))
                        by_path[prefix] = g
                    parent = g
                gid = parent
            self.groups[gid].entries.append((LEAF, i))
        # a scope with exactly one node is just that node: inline it into its parent
        for g in self.groups[1:]:
            if len(g.entries) == 1 and g.entries[0][0] == LEAF:
                parent = self.groups[g.parent]
                parent.entries = [(LEAF, g.entries[0][1]) if e == (GROUP, g.gid) else e for e in parent.entries]
                g.entries = []
        # chunk scopes with too many children (also flat graphs without any scope)
        for gid in range(len(self.groups)):
            self._chunk(gid)
        # leaves in DFS order; every group covers a contiguous range
        order = np.empty(self.n, dtype=np.int64)
        pos = 0
        stack: list[tuple[int, int]] = [(0, 0)]
        while stack:
            gid, k = stack.pop()
            g = self.groups[gid]
            if k == 0:
                g.start = pos
            entries = g.entries
            while k < len(entries):
                kind, ref = entries[k]
                k += 1
                if kind == LEAF:
                    order[pos] = ref
                    pos += 1
                else:
                    stack.append((gid, k))
                    stack.append((ref, 0))
                    break
            else:
                g.end = pos
        self.order = order[:pos]
        self.position = np.empty(self.n, dtype=np.int64)  # node index -> place in DFS order
        self.position[self.order] = np.arange(pos)
        # node index -> innermost (real or synthetic) group holding it
        leaves = [(ref, g.gid) for g in self.groups for kind, ref in g.entries if kind == LEAF]
        self.leaf_group = np.zeros(self.n, dtype=np.int64)
        if leaves:
            refs, gids = np.asarray(leaves, dtype=np.int64).T
            self.leaf_group[refs] = gids
        # each group's smallest node index: one reduceat over the (start, end) pairs of the DFS order
        self.first_index = np.zeros(len(self.groups), dtype=np.int64)
        spans = np.asarray([(g.start, g.end) for g in self.groups], dtype=np.int64).reshape(-1, 2)
        filled = spans[:, 1] > spans[:, 0]
        if pos and filled.any():
            padded = np.append(self.order, 0)  # reduceat needs every index inside the array
            mins = np.minimum.reduceat(padded, spans[filled].ravel())[::2]
            self.first_index[filled] = mins

    def _chunk(self, gid: int) -> None:
        g = self.groups[gid]
        entries = g.entries
        m = self.max_children
        if len(entries) <= m:
            return
        size = m
        while -(-len(entries) // size) > m:
            size *= m
        chunks = [entries[k:k + size] for k in range(0, len(entries), size)]
        new_entries: list[tuple[int, int]] = []
        for chunk in chunks:
            c = len(self.groups)
            first, last = self._entry_label(chunk[0]), self._entry_label(chunk[-1])
            label = f"{first} … {last}"
            self.groups.append(Group(c, label, f"{g.path.rstrip('/')}/[{label}]", gid, list(chunk),
                                     synthetic=True))
            for kind, ref in chunk:
                if kind == GROUP:
                    self.groups[ref].parent = c
            new_entries.append((GROUP, c))
            self._chunk(c)
        g.entries = new_entries

    def _entry_label(self, entry: tuple[int, int]) -> str:
        kind, ref = entry
        if kind == LEAF:
            name = self.names[ref]
            return name.rsplit("/", 1)[-1] or name
        return self.groups[ref].label

    # ------------------------------------------------------------------ queries
    def ancestors(self, node_index: int) -> list[int]:
        """Group ids from the innermost group holding the node up to the root."""
        out = []
        g = int(self.leaf_group[node_index])
        while g >= 0:
            out.append(g)
            g = self.groups[g].parent
        return out

    def members(self, gid: int) -> np.ndarray:
        g = self.groups[gid]
        return self.order[g.start:g.end]

    def group_by_path(self, path: str) -> int | None:
        for g in self.groups:
            if g.path == path:
                return g.gid
        return None

    def default_expanded(self, budget: int = DEFAULT_BUDGET) -> set[int]:
        """Open scopes level by level while the number of visible items stays within ``budget``.

        A level opens as a whole or not at all, so sibling scopes (``layers.0`` ... ``layers.N``) always
        look alike; scopes with a single child open for free.
        """
        expanded = {0}
        visible = len(self.groups[0].entries)
        frontier = [ref for kind, ref in self.groups[0].entries if kind == GROUP]
        while frontier:
            free = [gid for gid in frontier if len(self.groups[gid].entries) <= 1]
            grow = sum(len(self.groups[gid].entries) - 1 for gid in frontier)
            level = frontier if visible + grow <= budget else free
            if not level:
                break
            for gid in level:
                expanded.add(gid)
                visible += len(self.groups[gid].entries) - 1
            frontier = [ref for gid in level for kind, ref in self.groups[gid].entries if kind == GROUP]
        return expanded


@dataclass
class Item:
    """One thing drawn in a view: a node or a collapsed scope."""

    kind: int  # LEAF or GROUP
    ref: int  # node index or group id
    first: int  # topological index of its first node


class GraphView:
    """A set of expanded scopes over a :class:`ScopeTree`, and the layout of what is visible."""

    def __init__(self, tree: ScopeTree, expanded: Iterable[int] | None = None, *,
                 budget: int = DEFAULT_BUDGET) -> None:
        self.tree = tree
        self.budget = budget
        self.expanded: set[int] = set(expanded) if expanded is not None else tree.default_expanded(budget)
        self.expanded.add(0)
        self._dirty = True

    # ------------------------------------------------------------------ expand / collapse
    def toggle(self, gid: int) -> None:
        if gid in self.expanded and gid != 0:
            self.collapse(gid)
        else:
            self.expand(gid)

    def expand(self, gid: int) -> None:
        g = gid
        while g >= 0:  # expanding a scope means its ancestors are open too
            self.expanded.add(g)
            g = self.tree.groups[g].parent
        self._dirty = True

    def collapse(self, gid: int) -> None:
        if gid == 0:
            return
        stack = [gid]
        while stack:  # close the scope and everything below it
            g = stack.pop()
            self.expanded.discard(g)
            stack.extend(ref for kind, ref in self.tree.groups[g].entries if kind == GROUP)
        self._dirty = True

    def reveal(self, node_index: int) -> None:
        """Expand the scopes around a node so it is drawn on its own."""
        for g in self.tree.ancestors(node_index):
            self.expanded.add(g)
        self._dirty = True

    def expand_all(self) -> None:
        self.expanded = set(range(len(self.tree.groups)))
        self._dirty = True

    def reset(self) -> None:
        self.expanded = self.tree.default_expanded(self.budget)
        self._dirty = True

    # ------------------------------------------------------------------ layout
    def compute(self) -> "GraphView":
        if not self._dirty:
            return self
        tree = self.tree
        items: list[Item] = []
        rep = np.full(tree.n, -1, dtype=np.int64)
        stack = [(0, 0)]
        # walk the expanded part of the tree; collapsed groups become one item each
        while stack:
            gid, k = stack.pop()
            entries = tree.groups[gid].entries
            while k < len(entries):
                kind, ref = entries[k]
                k += 1
                if kind == LEAF:
                    rep[ref] = len(items)
                    items.append(Item(LEAF, ref, ref))
                elif ref in self.expanded:
                    stack.append((gid, k))
                    stack.append((ref, 0))
                    break
                else:
                    g = tree.groups[ref]
                    rep[tree.order[g.start:g.end]] = len(items)
                    items.append(Item(GROUP, ref, int(tree.first_index[ref])))
        # order items topologically by their first node
        firsts = np.fromiter((it.first for it in items), dtype=np.int64, count=len(items))
        rank_order = np.argsort(firsts, kind="stable")
        items = [items[i] for i in rank_order]
        remap = np.empty(len(rank_order), dtype=np.int64)
        remap[rank_order] = np.arange(len(rank_order))
        rep = remap[rep] if len(rep) else rep
        self.items = items
        self.rep = rep  # node index -> item index
        self.item_of_key = {self.key(i): i for i in range(len(items))}
        # visible edges
        if len(tree.src):
            u = rep[tree.src]
            v = rep[tree.dst]
            keep = u != v
            pairs = np.unique(np.stack([u[keep], v[keep]], axis=1), axis=0) if keep.any() else np.zeros((0, 2), np.int64)
        else:
            pairs = np.zeros((0, 2), dtype=np.int64)
        self.edges = pairs
        self._layout()
        self._dirty = False
        return self

    def _layout(self) -> None:
        n = len(self.items)
        pairs = self.edges
        forward = pairs[pairs[:, 0] < pairs[:, 1]] if len(pairs) else pairs
        depth = np.zeros(n, dtype=np.int64)
        if len(forward):
            order = np.argsort(forward[:, 1], kind="stable")
            fu = forward[order, 0].tolist()
            fv = forward[order, 1].tolist()
            d = depth.tolist()
            for a, b in zip(fu, fv):  # targets ascending: every source is final when used
                if d[a] + 1 > d[b]:
                    d[b] = d[a] + 1
            depth = np.asarray(d, dtype=np.int64)
        # predecessor lists for the barycentre sweep
        preds: list[list[int]] = [[] for _ in range(n)]
        for a, b in forward.tolist() if len(forward) else []:
            preds[b].append(a)
        x = np.zeros(n, dtype=float)
        rank = np.zeros(n, dtype=np.int64)  # place within its layer
        layers: dict[int, list[int]] = {}
        for i, d in enumerate(depth.tolist()):
            layers.setdefault(d, []).append(i)
        for d in sorted(layers):
            members = layers[d]
            if d > 0 and len(members) > 1:
                keyed = []
                for i in members:
                    ps = preds[i]
                    bary = sum(x[p] for p in ps) / len(ps) if ps else float("inf")
                    keyed.append((bary, i))
                keyed.sort()
                members = [i for _, i in keyed]
                layers[d] = members
            width = len(members)
            for k, i in enumerate(members):
                x[i] = k - (width - 1) / 2.0
                rank[i] = k
        self.depth = depth
        self.rank = rank
        self.x = x
        self.y = -depth.astype(float)
        self.max_width = max((len(m) for m in layers.values()), default=0)
        self.num_layers = len(layers)

    # ------------------------------------------------------------------ sizes and labels
    def figure_height(self, height: int | None = None) -> int:
        """``height``, else :data:`PX_PER_LAYER` per layer within [:data:`MIN_HEIGHT`, :data:`MAX_HEIGHT`]."""
        if height is not None:
            return int(height)
        self.compute()
        return int(min(MAX_HEIGHT, max(MIN_HEIGHT, PX_PER_LAYER * max(1, self.num_layers) + FRAME_PX)))

    def label_mask(self, height: int | None = None, width_px: int = PLOT_WIDTH_PX) -> np.ndarray:
        """Which items get a text label when the whole graph fits ``height`` x ``width_px``: every item when
        there is room, else every k-th layer and every m-th item of a row, so the labels shown can be read
        (hover shows every item's name and op)."""
        self.compute()
        n = len(self.items)
        if not n:
            return np.zeros(0, dtype=bool)
        px_per_layer = max(1.0, self.figure_height(height) - FRAME_PX) / max(1, self.num_layers)
        every_layer = max(1, int(np.ceil(LABEL_HEIGHT_PX / px_per_layer)))
        px_per_x = width_px / (max(1, self.max_width) + 5)  # the x range of graph_layout_dict
        every_item = max(1, int(np.ceil(LABEL_WIDTH_PX / px_per_x)))
        mask = (self.depth % every_layer) == 0
        if every_item > 1:
            mask &= (self.rank % every_item) == 0
        return mask

    # ------------------------------------------------------------------ helpers for figures
    def key(self, item_index: int) -> str:
        it = self.items[item_index]
        return f"n:{self.tree.node_ids[it.ref]}" if it.kind == LEAF else f"g:{it.ref}"

    def item_members(self, item_index: int) -> np.ndarray:
        it = self.items[item_index]
        if it.kind == LEAF:
            return np.asarray([it.ref], dtype=np.int64)
        return self.tree.members(it.ref)

    def item_for_node(self, node_id: str) -> int | None:
        i = self.tree.index_of.get(node_id)
        if i is None:
            return None
        self.compute()
        return int(self.rep[i])

    def edge_coordinates(self) -> tuple[np.ndarray, np.ndarray]:
        """x and y arrays for one line trace: (x0, x1, nan) per edge."""
        if not len(self.edges):
            return np.zeros(0), np.zeros(0)
        a, b = self.edges[:, 0], self.edges[:, 1]
        xs = np.empty(len(a) * 3)
        ys = np.empty(len(a) * 3)
        xs[0::3], xs[1::3], xs[2::3] = self.x[a], self.x[b], np.nan
        ys[0::3], ys[1::3], ys[2::3] = self.y[a], self.y[b], np.nan
        return xs, ys
