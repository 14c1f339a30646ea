"""Which ONNX nodes each engine layer covers, and which engine layer(s) each ONNX node ended up in.

TensorRT names a fused layer after what it fused:

* ``a + b`` vertical fusion, ``a || b`` horizontal fusion;
* ``PWN(PWN(x + y, z), w)`` / ``fusedPointwiseNode(...)`` fused pointwise nodes, nested;
* ``{ForeignNode[first...last]}`` a Myelin region, named after the first and last TensorRT network layers it
  took (in TensorRT's layer order, see :meth:`NameResolver.region_range` for the nodes that gives);
* ``Reformatting CopyNode for Input Tensor 0 to <layer>`` a format change TensorRT inserted (no ONNX node);
* ``conv1.weight + QuantizeLinear_7 + Conv_9`` Q/DQ folding: ``conv1.weight`` is an initializer, a weight,
  not a node;
* ``(Unnamed Layer* 306) [Shuffle]``, ``reshape_after_Gemm_48``, ``unsqueeze_node_after_fc.bias``: layers
  TensorRT made itself;
* ``node_of_<tensor>``: the ONNX parser's name for an unnamed node (the one producing ``<tensor>``).

10.x adds ``Metadata`` with the ONNX node names (``[ONNX Layer: /conv1/Conv]`` records separated by the
ASCII unit/record separators); when present it is the authority. Names are matched against both
``node.name`` and ``node.id`` of the loaded model; results use node ids.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable

_REFORMAT = re.compile(r"^Reformatting CopyNode for (?:Input|Output) Tensor \d+ to (?P<target>.*)$", re.S)
_FOREIGN = re.compile(r"^\{ForeignNode\[(?P<body>.*)\]\}$", re.S)
_PWN = re.compile(r"^(?:PWN|fusedPointwiseNode)\((?P<body>.*)\)$", re.S)
_NODE_OF = re.compile(r"^node_of_(?P<tensor>.+)$", re.S)
_METADATA_ENTRY = re.compile(r"\[ONNX Layer: (?P<name>.*?)\](?=[\x1e\x1f]|$|\[ONNX Layer: )", re.S)
_SEPARATORS = (" + ", " || ")
#: parts of names TensorRT invents (no ONNX node behind them)
_SYNTHETIC = re.compile(
    r"\(Unnamed Layer\* ?\d+\)"
    r"|^(?:reshape|unsqueeze_node|unsqueeze|squeeze|copied_squeeze|shuffle|transpose|cast|reformat)_(?:after|before|between)_"
    r"|^Reformatted (?:Input|Output) Tensor "
    r"|^__my[le]"
    r"|_myl\d+_\d+$"  # a Myelin engine layer (TensorRT-RTX: Conv_5_myl0_4); its Metadata names the nodes
    r"|^(?:Optimizer|Reformat(?:ting)?) ")


@dataclass
class LayerMapping:
    """What one engine layer covers."""

    layer: str
    nodes: list[str] = field(default_factory=list)  # ONNX node ids (names when no model was given)
    weights: list[str] = field(default_factory=list)  # initializers / constant tensors folded in
    internal: list[str] = field(default_factory=list)  # parts TensorRT made itself
    unknown: list[str] = field(default_factory=list)  # parts matching nothing in the model
    via: str = "name"  # "metadata" | "name" | "reformat"
    reformat_of: str | None = None  # the layer a reformat serves
    #: a Myelin region's nodes by topological range alone (:meth:`NameResolver.region_range`), kept beside
    #: ``nodes`` (which its metadata decides when it has one) so the two can be compared
    range_nodes: list[str] = field(default_factory=list)


@dataclass
class EngineMapping:
    """Both directions of the layer <-> ONNX node mapping, and the nodes that vanished."""

    layers: list[LayerMapping]
    node_to_layers: dict[str, list[str]]
    vanished: list[str]  # ONNX node ids in no layer (constant-folded, no-ops, absorbed Q/DQ)
    verified: bool  # True when names were checked against a model
    source: str = ""
    #: Myelin regions named only outside the layer list (a build log's ``{ForeignNode[...]}`` when the engine
    #: lists the region's ``_myl`` sub-layers instead, as TensorRT-RTX and TensorRT 10 do), mapped the same way
    regions: list[LayerMapping] = field(default_factory=list)

    def nodes_of(self, layer: str) -> list[str]:
        for item in self.layers:
            if item.layer == layer:
                return list(item.nodes)
        raise KeyError(layer)

    def layers_of(self, node: str) -> list[str]:
        return list(self.node_to_layers.get(node, []))

    @property
    def unknown_names(self) -> list[str]:
        seen: dict[str, None] = {}
        for item in self.layers:
            for name in item.unknown:
                seen.setdefault(name)
        return list(seen)

    def to_dict(self) -> dict[str, Any]:
        return {
            "layers": [asdict(item) for item in self.layers],
            "node_to_layers": {k: list(v) for k, v in self.node_to_layers.items()},
            "vanished": list(self.vanished),
            "unknown": self.unknown_names,
            "verified": self.verified,
            "source": self.source,
            "regions": [asdict(item) for item in self.regions],
        }


def split_fused_name(name: str) -> list[str]:
    """Split on top-level `` + `` and `` || `` (not inside ``()``, ``[]``, ``{}``)."""
    return _split(name, _SEPARATORS)


def parse_metadata(metadata: str | None) -> list[str]:
    """ONNX node names from a 10.x ``Metadata`` string (``[ONNX Layer: a]\\x1f[ONNX Layer: b]``)."""
    if not metadata:
        return []
    names = [m["name"] for m in _METADATA_ENTRY.finditer(metadata)]
    if names:
        return names
    # no "[ONNX Layer: ...]" markup: separator-delimited plain names
    return [part.strip() for part in re.split(r"[\x1e\x1f]", metadata) if part.strip()]


class NameResolver:
    """Resolves the parts of layer names against one model (or, without a model, by shape alone)."""

    def __init__(self, model=None) -> None:
        self.model = model
        self.by_name: dict[str, list[str]] = {}
        self.ids: set[str] = set()
        self.order: dict[str, int] = {}
        self.weights: set[str] = set()
        self.producer: dict[str, str] = {}
        self.consumers: dict[str, list[str]] = {}
        self.constants: set[str] = set()  # Constant nodes: weights, never part of a range
        #: nodes that engine layers other than Myelin regions run (set by :func:`map_layers`): a region whose
        #: first layer bounds nothing stops there
        self.claimed: set[str] = set()
        self._graph = None
        if model is not None:
            graph = model.graph
            for index, node in enumerate(graph.nodes):
                self.ids.add(node.id)
                self.order[node.id] = index
                if node.name:
                    self.by_name.setdefault(node.name, []).append(node.id)
                if node.op_type == "Constant":
                    self.constants.add(node.id)
                for out in node.outputs:
                    if out:
                        self.producer[out] = node.id
                for name in node.inputs:
                    if name:
                        self.consumers.setdefault(name, []).append(node.id)
            self.weights = set(graph.initializers)
            self.weights.update(out for node in graph.nodes if node.op_type == "Constant" for out in node.outputs)

    def node_ids(self, token: str) -> list[str] | None:
        if self.model is None:
            return None
        if token in self.by_name:
            return list(self.by_name[token])
        if token in self.ids:
            return [token]
        return None

    def map_layer(self, name: str, metadata: str | None = None) -> LayerMapping:
        reformat = _REFORMAT.match(name)
        if reformat:
            return LayerMapping(layer=name, internal=[name], via="reformat", reformat_of=reformat["target"])
        result = LayerMapping(layer=name)
        self._walk(name, result)
        if metadata:
            result.via = "metadata"
            from_metadata: list[str] = []
            for onnx_name in parse_metadata(metadata):
                ids = self.node_ids(onnx_name)
                if ids is None and self.model is None:
                    ids = [onnx_name]
                if ids is None:
                    produced = _NODE_OF.match(onnx_name)
                    ids = [self.producer[produced["tensor"]]] if produced and produced["tensor"] in self.producer else None
                if ids is None:
                    if onnx_name not in result.unknown:
                        result.unknown.append(onnx_name)
                    continue
                from_metadata.extend(i for i in ids if i not in from_metadata)
            if from_metadata:
                result.nodes = from_metadata
                # names the metadata explains are not unknown
                result.unknown = [u for u in result.unknown if u not in from_metadata]
        result.nodes = self._in_order(_unique(result.nodes))
        result.weights = _unique(result.weights)
        return result

    def _walk(self, text: str, out: LayerMapping) -> None:
        text = text.strip()
        if not text:
            return
        ids = self.node_ids(text)
        if ids is not None:  # a real node name, even if it contains " + "
            out.nodes.extend(ids)
            return
        if self.model is not None and text in self.weights:
            out.weights.append(text)
            return
        spans = _split_spans(text, _SEPARATORS)
        if len(spans) > 1:
            self._walk_parts(text, spans, out)
            return
        pointwise = _PWN.match(text)
        if pointwise:
            for part in _split(pointwise["body"], (", ", " + ", " || ")):
                self._walk(part, out)
            return
        foreign = _FOREIGN.match(text)
        if foreign:
            out.nodes.extend(self._foreign_range(foreign["body"], out))
            return
        if _SYNTHETIC.search(text):
            out.internal.append(text)
            return
        produced = _NODE_OF.match(text)
        if produced and produced["tensor"] in self.producer:
            out.nodes.append(self.producer[produced["tensor"]])
            return
        if self.model is None:
            if text.endswith((".weight", ".bias")) or text.startswith("onnx::"):
                out.weights.append(text)
            else:
                out.nodes.append(text)
            return
        out.unknown.append(text)

    def _walk_parts(self, text: str, spans: list[tuple[int, int]], out: LayerMapping) -> None:
        """Walk the parts of a fused name; with a model, adjacent parts that together form a known node or
        weight name (a name containing " + ") are taken whole, longest first."""
        i, n = 0, len(spans)
        while i < n:
            if self.model is not None:
                for j in range(n, i + 1, -1):
                    joined = text[spans[i][0]:spans[j - 1][1]]
                    if self.node_ids(joined) is not None or joined in self.weights:
                        self._walk(joined, out)
                        i = j
                        break
                else:
                    self._walk(text[spans[i][0]:spans[i][1]], out)
                    i += 1
            else:
                self._walk(text[spans[i][0]:spans[i][1]], out)
                i += 1

    def _foreign_range(self, body: str, out: LayerMapping) -> list[str]:
        """``first...last`` -> the region's nodes by topological range (:meth:`region_range`)."""
        if "..." not in body:
            ids = self.node_ids(body) if self.model is not None else [body]
            if ids is None:
                ids = self._end_nodes(body)[0]
            if not ids:
                out.unknown.append(body)
                return []
            return ids
        if self.model is None:
            first, _, last = body.partition("...")
            return [first, last]
        # node names may contain "..." themselves: the first split whose last end is known wins
        for match in re.finditer(r"\.\.\.", body):
            first, last = body[:match.start()], body[match.end():]
            nodes = self.region_range(first, last)
            if nodes:
                out.range_nodes = list(nodes)
                return nodes
        out.unknown.append(body)
        return []

    def _end_nodes(self, token: str) -> tuple[list[str], bool]:
        """The ONNX nodes behind one end of a region name, and whether the end bounds the range.

        An end is a TensorRT network layer: a node's name; ``<node>_<k>``, the k-th extra layer the ONNX parser
        made for a node (TensorRT-RTX 1.7's parser names Gemm_48's second layer ``Gemm_48_1``); a weight
        (the parser's Constant layer, named after the initializer: it has no inputs, so TensorRT may list it
        first and it bounds nothing); or a fused name of those (``/Constant_7_output_0 + ONNXTRT_Broadcast``).
        """
        token = token.strip()
        ids = self.node_ids(token)
        if ids:
            return [i for i in ids if i not in self.constants], True
        if token in self.weights:
            return [], False
        suffixed = re.fullmatch(r"(?P<node>.+)_\d+", token, re.S)
        if suffixed and self.node_ids(suffixed["node"]):
            return self._end_nodes(suffixed["node"])
        parts = LayerMapping(layer=token)
        self._walk(token, parts)
        nodes = [i for i in parts.nodes if i not in self.constants]
        return nodes, bool(nodes)

    def region_range(self, first: str, last: str) -> list[str]:
        """The ONNX nodes of ``{ForeignNode[first...last]}`` by topological range, in model order.

        Not an index range of the node list (that would take unrelated branches listed in between): when
        ``first`` is a node, the nodes on some directed path from ``first`` to ``last``, both included; when
        ``first`` bounds nothing (a weight, a layer TensorRT made), ``last`` and every node before it reachable
        backwards through nodes no other engine layer runs (:attr:`claimed`). Constant nodes are weights and
        are left out. Empty when ``last`` is unknown or no path joins the ends.
        """
        if self.model is None:
            return []
        import networkx as nx

        ends, _ = self._end_nodes(last)
        if not ends:
            return []
        starts, bounded = self._end_nodes(first)
        graph = self._digraph()
        if bounded:
            if not starts:
                return []
            after = set(starts)
            for start in starts:
                after |= nx.descendants(graph, start)
            before = set(ends)
            for end in ends:
                before |= nx.ancestors(graph, end)
            found = (after & before) - self.constants
            return self._in_order(list(found)) if found & set(ends) and found & set(starts) else []
        found, todo = set(ends), list(ends)
        while todo:
            for prev in graph.predecessors(todo.pop()):
                if prev not in found and prev not in self.claimed and prev not in self.constants:
                    found.add(prev)
                    todo.append(prev)
        return self._in_order(list(found))

    def _digraph(self):
        """The model's node graph (producer -> consumer), built once."""
        if self._graph is None:
            import networkx as nx

            graph = nx.DiGraph()
            graph.add_nodes_from(self.order)
            for tensor, node in self.producer.items():
                for consumer in self.consumers.get(tensor, ()):
                    graph.add_edge(node, consumer)
            self._graph = graph
        return self._graph

    def _in_order(self, ids: list[str]) -> list[str]:
        if not self.order:
            return ids
        return sorted(ids, key=lambda i: self.order.get(i, len(self.order)))


def map_layers(layers: Iterable[Any], model=None, *, source: str = "",
               regions: Iterable[tuple[str, str | None]] = ()) -> EngineMapping:
    """Map engine layers (an EngineReport, Layer objects, or names) to ONNX nodes of ``model``.

    Without a model the names are only parsed (``verified=False``): parts are reported as written.
    ``regions``: (name, metadata) of ``{ForeignNode[...]}`` regions named outside the layer list (a build
    log's), mapped into :attr:`EngineMapping.regions`. Myelin ranges are resolved after the other layers, so
    a range stops at nodes those layers run.
    """
    from ..errors import ArtifactError

    if hasattr(layers, "layers") and not isinstance(layers, (list, tuple)):
        layers = layers.layers
    if layers is None or isinstance(layers, (str, bytes, dict)) or not hasattr(layers, "__iter__"):
        raise ArtifactError(f"cannot map {type(layers).__name__} to ONNX nodes: give an EngineReport, Layer "
                            "objects, layer names or layer-information dicts")
    if model is not None:
        from ..model import Model, load_model

        model = model if isinstance(model, Model) else load_model(model)
    resolver = NameResolver(model)
    results: list[LayerMapping] = []
    node_to_layers: dict[str, list[str]] = {}
    named: list[tuple[str, str | None]] = []
    for index, item in enumerate(layers):
        if isinstance(item, str):
            name, metadata = item, None
        elif isinstance(item, dict):
            name, metadata = str(item.get("Name", "")), item.get("Metadata")
        elif isinstance(getattr(item, "name", None), str):
            name, metadata = item.name, getattr(item, "metadata", None)
        else:
            raise ArtifactError(f"layer {index} is a {type(item).__name__}: expected a layer name, a layer-"
                                "information dict or a Layer", where=f"layers[{index}]")
        if metadata is not None and not isinstance(metadata, str):
            metadata = str(metadata)
        named.append((name, metadata))
    foreign = [is_myelin_region(name) for name, _ in named]
    for (name, metadata), region in zip(named, foreign):
        if not region:
            mapped = resolver.map_layer(name, metadata)
            if not is_myelin_sublayer(name):
                resolver.claimed.update(mapped.nodes)
            results.append(mapped)
        else:
            results.append(None)  # after the other layers (their nodes bound the range)
    for i, ((name, metadata), region) in enumerate(zip(named, foreign)):
        if region:
            results[i] = resolver.map_layer(name, metadata)
    for mapped in results:
        for node in mapped.nodes:
            node_to_layers.setdefault(node, []).append(mapped.layer)
    region_maps = [resolver.map_layer(name, metadata) for name, metadata in regions]
    vanished = []
    if model is not None:
        vanished = [node.id for node in model.graph.nodes if node.id not in node_to_layers]
    label = source or ("layer names and metadata checked against the ONNX model" if model is not None
                       else "layer names only (no ONNX model to check against)")
    return EngineMapping(layers=results, node_to_layers=node_to_layers, vanished=vanished,
                         verified=model is not None, source=label, regions=region_maps)


_MYELIN_SUBLAYER = re.compile(r"_myl(?P<graph>\d+)_\d+$")


def is_myelin_region(name: str) -> bool:
    """``{ForeignNode[...]}``: a whole Myelin region as one name (TensorRT 8.x-10.x engine layer, build logs)."""
    return bool(_FOREIGN.match(name.strip()))


def is_myelin_sublayer(name: str) -> bool:
    """``Conv_5_myl0_4``, ``__myl_Move_myl0_0``: one kernel of a Myelin region (TensorRT-RTX, TensorRT 10)."""
    return bool(_MYELIN_SUBLAYER.search(name))


def myelin_graph(name: str) -> int | None:
    """The Myelin graph a sub-layer belongs to (``_myl<N>_<k>`` -> N), None for other layers."""
    m = _MYELIN_SUBLAYER.search(name)
    return int(m["graph"]) if m else None


def reformat_target(name: str) -> str | None:
    """``Reformatting CopyNode for Input Tensor 0 to <layer>`` -> ``<layer>`` (the layer it serves), else None."""
    m = _REFORMAT.match(name)
    return m["target"] if m else None


def foreign_ends(name: str) -> tuple[str, str] | None:
    """(first, last) as written in ``{ForeignNode[first...last]}`` (the first ``...`` splits), else None."""
    m = _FOREIGN.match(name.strip())
    if not m:
        return None
    first, sep, last = m["body"].partition("...")
    return (first, last) if sep else (first, first)


# -- helpers --------------------------------------------------------------------------------------------
_OPEN = {"(": ")", "[": "]", "{": "}"}
_CLOSE = {")", "]", "}"}


def _split_spans(text: str, separators: tuple[str, ...]) -> list[tuple[int, int]]:
    """(start, end) of the parts between separators at bracket depth 0 (empty parts dropped)."""
    spans: list[tuple[int, int]] = []
    depth = 0
    start = 0
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch in _OPEN:
            depth += 1
        elif ch in _CLOSE:
            depth = max(depth - 1, 0)
        elif depth == 0:
            for sep in separators:
                if text.startswith(sep, i):
                    spans.append((start, i))
                    i += len(sep)
                    start = i
                    break
            else:
                i += 1
                continue
            continue
        i += 1
    spans.append((start, n))
    return [(a, b) for a, b in spans if text[a:b].strip()]


def _split(text: str, separators: tuple[str, ...]) -> list[str]:
    """Split on separators at bracket depth 0 (an unclosed bracket keeps the rest of the name whole)."""
    return [text[a:b].strip() for a, b in _split_spans(text, separators)]


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


__all__ = ["EngineMapping", "LayerMapping", "NameResolver", "foreign_ends", "is_myelin_region", "is_myelin_sublayer",
           "map_layers", "myelin_graph", "parse_metadata", "reformat_target", "split_fused_name"]
