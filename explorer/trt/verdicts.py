"""A verdict for every node from TensorRT's real ONNX parser (TensorRT or TensorRT-RTX).

``OnnxParser.supports_model_v2`` answers with subgraphs and errors, but two of its semantics make the raw
answer misleading: ``is_subgraph_supported(i)`` is False for *every* subgraph unless the whole model is
supported (False means "unknown", not "unsupported"), and the nodes of those subgraphs were checked in a
network whose other parts failed. So, like ``polygraphy inspect capability --with-partitioning``, each
unknown subgraph is cut out into a model of its own and checked again, and again inside it, until every node
is judged. Each node the parser rejects keeps the parser's own message (checker and condition).

Nodes of If/Loop/Scan bodies and of model-local functions: the parser names the failing body node (its
error carries the If/Loop/function call stack). When the owner is accepted, every body node it imported is
accepted too (an If whose condition is a constant imports only the taken branch: the other branch's nodes are
"not imported"). When the owner is rejected, the body is cut out into a model of its own (its formal inputs
and the outer-scope values it reads become network inputs) and judged the same way.

The parser is C++ that reads untrusted files: :func:`judge_in_subprocess` runs it in a child process.
:func:`judge_model` is what that child calls, given the bindings module (``tensorrt``, or TensorRT-RTX's
``tensorrt_rtx_bindings`` once ``tensorrt_rtx_libs`` is imported); capabilities are probed, not versions.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from ..errors import ExplorerError, ModelError
from ..isolation import MEMORY_LIMIT, TaskCrashed, TaskFailed, TaskProcess, isolated_task
from .library import (LIBRARIES, TENSORRT, TENSORRT_RTX, Library, create_builder, import_library, library_of,
                      parser_available)

__all__ = ["ParserError", "NodeVerdict", "ModelVerdicts", "SUPPORTED", "UNSUPPORTED", "UNKNOWN",
           "NOT_IMPORTED", "best_library", "import_bindings", "judge_isolated", "judge_model",
           "judge_in_subprocess", "library_for", "parser_errors"]

SUPPORTED = "supported"
UNSUPPORTED = "unsupported"
UNKNOWN = "unknown"  # the parser could not be made to say (a model-level error, a body it cannot cut out)
NOT_IMPORTED = "not imported"  # the branch of an If with a constant condition that is not taken

_MAX_PARSES = 4000  # a bound on re-checks per model (each splits off at least one node)


@dataclass(frozen=True)
class ParserError:
    """One error of the parser, as it reports it."""

    node: int  # index in the graph (or body / function) the error belongs to; -1: the model as a whole
    node_name: str
    op_type: str
    checker: str  # the C++ function that said no, e.g. "checkResize", "importHardSwish"
    code: str  # the ErrorCode name, e.g. "UNSUPPORTED_NODE_ATTR"
    desc: str  # the condition and message, e.g. '(antialias == 0) && "Antialiasing is not supported currently."'
    file: str = ""
    line: int = -1
    stack: tuple[str, ...] = ()  # If/Loop/Scan/function call stack: ("if0 (If)", "then (then_branch)")

    @property
    def message(self) -> str:
        """``checker: what it says``, e.g. ``checkResize: Antialiasing is not supported currently.``"""
        text = condition_text(self.desc)
        return f"{self.checker}: {text}" if self.checker else text

    @classmethod
    def from_dict(cls, data: dict) -> "ParserError":
        return cls(**{**data, "stack": tuple(data.get("stack", ()))})


def condition_text(desc: str) -> str:
    """The human part of a parser error: the quoted message of ``cond && "message"``, else the text as is
    without the ``Assertion failed:`` prefix."""
    lines = [ln.strip() for ln in desc.strip().splitlines() if ln.strip()]
    # detail lines the builder logs into the error (ITensor checks), without the no-GPU CUDA noise
    extra = [ln for ln in lines[1:] if "cudaError" not in ln and "catchCudaError" not in ln]
    text = lines[0] if lines else ""
    if extra:
        return "; ".join([_condition(text)] + extra)
    return _condition(text)


def _condition(text: str) -> str:
    quoted = re.findall(r'"((?:[^"\\]|\\.)+)"', text)
    if quoted and "&&" in text:
        return quoted[-1]
    return re.sub(r"^Assertion failed:\s*", "", text)


@dataclass(frozen=True)
class NodeVerdict:
    """The parser's verdict on one node.

    ``path`` locates body nodes: ``((owner_index, "then_branch"),)`` for a node of the then-branch of the
    main graph's node ``owner_index``; ``((call_index, "function:domain::Name"),)`` for a node of a
    model-local function; ``()`` for main-graph nodes. ``index`` is the position in that graph/body/function.
    """

    index: int
    name: str
    op_type: str
    domain: str
    status: str  # SUPPORTED / UNSUPPORTED / UNKNOWN / NOT_IMPORTED
    how: str  # how the verdict was reached (whole model, re-checked alone, inside its If, ...)
    error: ParserError | None = None
    path: tuple[tuple[int, str], ...] = ()

    @property
    def supported(self) -> bool | None:
        """True / False, or None when the parser gave no verdict (unknown, not imported)."""
        return {SUPPORTED: True, UNSUPPORTED: False}.get(self.status)

    @property
    def message(self) -> str:
        return self.error.message if self.error is not None else ""

    def to_dict(self) -> dict:
        return {"index": self.index, "name": self.name, "op_type": self.op_type, "domain": self.domain,
                "status": self.status, "how": self.how, "error": asdict(self.error) if self.error else None,
                "path": [list(step) for step in self.path]}

    @classmethod
    def from_dict(cls, data: dict) -> "NodeVerdict":
        error = ParserError.from_dict(data["error"]) if data.get("error") else None
        path = tuple((int(i), str(a)) for i, a in data.get("path", ()))
        return cls(**{**data, "error": error, "path": path})


@dataclass(frozen=True)
class ModelVerdicts:
    """Every node's verdict for one model (main graph first, in file order, then body/function nodes)."""

    parser: str  # "TensorRT-RTX 1.7.1.116", "TensorRT 10.15.1"
    model_supported: bool  # the whole model parses as it is
    nodes: tuple[NodeVerdict, ...]
    model_errors: tuple[ParserError, ...] = ()  # errors that name no node (the model as a whole)
    parses: int = 0  # parser calls it took
    source: str = ""  # the model path, when there was one
    failure: str = ""  # why no verdict at all could be had (unreadable model, parser crash)

    @property
    def main(self) -> tuple[NodeVerdict, ...]:
        return tuple(v for v in self.nodes if not v.path)

    @property
    def unsupported(self) -> tuple[NodeVerdict, ...]:
        return tuple(v for v in self.nodes if v.status == UNSUPPORTED)

    def to_dict(self) -> dict:
        """JSON-safe (:meth:`from_dict` reads it back); written out field by field because
        ``dataclasses.asdict`` deep-copies, which costs seconds on a 100k-node model."""
        nodes = self.nodes
        return {"parser": self.parser, "model_supported": self.model_supported,
                "nodes": {"index": [v.index for v in nodes], "name": [v.name for v in nodes],
                          "op_type": [v.op_type for v in nodes], "domain": [v.domain for v in nodes],
                          "status": [v.status for v in nodes], "how": [v.how for v in nodes],
                          "error": {k: asdict(v.error) for k, v in enumerate(nodes) if v.error is not None},
                          "path": {k: [list(step) for step in v.path] for k, v in enumerate(nodes) if v.path}},
                "model_errors": [asdict(e) for e in self.model_errors], "parses": self.parses,
                "source": self.source, "failure": self.failure}

    @classmethod
    def from_dict(cls, data: dict) -> "ModelVerdicts":
        return cls(parser=data["parser"], model_supported=bool(data["model_supported"]),
                   nodes=_nodes_from_columns(data["nodes"]),
                   model_errors=tuple(ParserError.from_dict(e) for e in data.get("model_errors", ())),
                   parses=int(data.get("parses", 0)), source=data.get("source", ""),
                   failure=data.get("failure", ""))


def _nodes_from_columns(columns: dict) -> tuple[NodeVerdict, ...]:
    """:meth:`ModelVerdicts.to_dict` sends the nodes as columns (one list per field, errors and body paths
    by position): a 100k-node answer is then a few long JSON lists, quick to write and to read."""
    errors = {int(k): ParserError.from_dict(e) for k, e in columns["error"].items()}
    paths = {int(k): tuple((int(i), str(a)) for i, a in p) for k, p in columns["path"].items()}
    return tuple(NodeVerdict(index, name, op_type, domain, status, how, errors.get(k), paths.get(k, ()))
                 for k, (index, name, op_type, domain, status, how) in enumerate(zip(
                     columns["index"], columns["name"], columns["op_type"], columns["domain"],
                     columns["status"], columns["how"])))


# ------------------------------------------------------------------------------------------- bindings

#: what :func:`import_bindings` accepts: a row of :data:`~explorer.trt.library.LIBRARIES` by key, or "rtx"
_BINDINGS = {"rtx": TENSORRT_RTX, TENSORRT_RTX.key: TENSORRT_RTX, TENSORRT.key: TENSORRT}


def library_for(which: str) -> Library:
    """The library row for ``"tensorrt"``, ``"tensorrt-rtx"`` (or ``"rtx"``)."""
    try:
        return _BINDINGS[which]
    except KeyError:
        raise ExplorerError(f"unknown TensorRT library {which!r}; expected one of "
                            f"{', '.join(LIBRARIES)}") from None


def best_library() -> Library | None:
    """The best real parser usable here: TensorRT's when it can run (it needs a GPU), else TensorRT-RTX's."""
    for library in (TENSORRT, TENSORRT_RTX):
        if parser_available(library)[0]:
            return library
    return None


def import_bindings(which: str = "auto"):
    """The bindings module: ``"tensorrt-rtx"`` / ``"rtx"``, ``"tensorrt"``, or ``"auto"`` (:func:`best_library`).
    Raises ImportError saying why when it cannot be used (:func:`~explorer.trt.library.available`)."""
    library = best_library() if which == "auto" else library_for(which)
    if library is None:
        raise ImportError("; ".join(parser_available(lib)[1] for lib in (TENSORRT, TENSORRT_RTX)))
    try:
        return import_library(library)
    except ExplorerError as exc:
        raise ImportError(str(exc)) from None


def parser_label(trt) -> str:
    """``"TensorRT-RTX 1.7.1 parser"``: the source label of this module's verdicts."""
    return library_of(trt).parser_source(trt.__version__)


class _Parser:
    """One Builder and logger for many ``supports_model_v2`` calls (a fresh network + parser each).

    Capabilities are probed, not versions: ``supports_model_v2`` from 10.1 (and in TensorRT-RTX),
    the deprecated ``supports_model`` in 10.0."""

    def __init__(self, trt):
        self.trt = trt
        # TensorRT's own logger, filtering in C++: the parser logs ~10 messages per node, and a Python
        # ILogger would be called for each (100k nodes: a million calls, 60% more than the parse itself)
        self.logger = trt.Logger(trt.Logger.ERROR)
        self.builder = create_builder(trt, self.logger, [])
        self.calls = 0
        self._last: tuple = ()

    def check(self, data: bytes, path: str = "") -> tuple[bool, list[tuple[list[int], bool]], list[ParserError]]:
        trt = self.trt
        self.calls += 1
        self._last = ()
        network = self.builder.create_network(0)  # default flags: TensorRT-RTX networks are strongly typed anyway
        parser = trt.OnnxParser(network, self.logger)
        if hasattr(parser, "supports_model_v2"):
            ok = bool(parser.supports_model_v2(data, path or None))
            subgraphs = [(list(parser.get_subgraph_nodes(i)), bool(parser.is_subgraph_supported(i)))
                         for i in range(parser.num_subgraphs)]
        else:  # TensorRT 10.0: the deprecated form
            ok, raw = parser.supports_model(data, path or None)
            subgraphs = [(list(nodes), bool(s)) for nodes, s in raw]
        errors = parser_errors(parser)
        # Destroying a 100k-node network takes seconds (2.6 s in TensorRT-RTX 1.7, 60% of the parse): the
        # last one is kept until the next check, and the isolated child is killed, not waited for, when the
        # caller is done with it (judge_isolated), so a single parse never pays for it.
        self._last = (parser, network)
        return ok, subgraphs, errors


def parser_errors(parser) -> list[ParserError]:
    """Every error the parser recorded, in its own words (the builder quotes them when a parse fails)."""
    return [_error(parser.get_error(i)) for i in range(parser.num_errors)]


def _error(e) -> ParserError:
    stack: tuple[str, ...] = ()
    if hasattr(e, "local_function_stack_size") and e.local_function_stack_size():
        stack = tuple(str(s) for s in e.local_function_stack())
    code = e.code()
    return ParserError(node=int(e.node()), node_name=str(e.node_name() or ""),
                       op_type=str(e.node_operator() or ""), checker=str(e.func() or ""),
                       code=getattr(code, "name", str(code).split(".")[-1]), desc=str(e.desc() or ""),
                       file=str(e.file() or ""), line=int(e.line()), stack=stack)


# ------------------------------------------------------------------------------------ cutting models

class _Types:
    """Element type and shape of every value of a model, from ONNX shape inference (for cut-out inputs)."""

    def __init__(self, model):
        self._model = model
        self._infos: dict[str, object] | None = None

    @property
    def infos(self) -> dict[str, object]:
        """Made on the first cut (a model the parser accepts whole needs no shape inference)."""
        if self._infos is None:
            self._infos = {}
            self._infer(self._model)
        return self._infos

    def _infer(self, model) -> None:
        import onnx

        try:
            inferred = onnx.shape_inference.infer_shapes(model, check_type=False, strict_mode=False,
                                                         data_prop=True)
        except Exception:  # inference failed: what the file itself declares
            inferred = model
        self._collect(inferred.graph)
        for fn in model.functions:
            for vi in getattr(fn, "value_info", ()):
                self._infos.setdefault(vi.name, vi)

    def _collect(self, graph) -> None:
        for vi in (*graph.input, *graph.output, *graph.value_info):
            if vi.type.HasField("tensor_type") and vi.type.tensor_type.elem_type:
                self._infos.setdefault(vi.name, vi)
        for init in graph.initializer:
            self._infos.setdefault(init.name, _vi_from_tensor(init))
        for node in graph.node:
            for attr in node.attribute:
                if attr.type == attr.GRAPH:
                    self._collect(attr.g)
                for g in attr.graphs:
                    self._collect(g)

    def value_info(self, name: str, fallback=None):
        import onnx

        vi = self.infos.get(name) or fallback
        if vi is not None and vi.type.HasField("tensor_type") and vi.type.tensor_type.elem_type:
            out = onnx.ValueInfoProto()
            out.CopyFrom(vi)
            out.name = name
            return out
        return None


def _vi_from_tensor(t):
    import onnx

    return onnx.helper.make_tensor_value_info(t.name, t.data_type, list(t.dims))


def _used_names(node) -> set[str]:
    """Every value a node reads, including the outer-scope values its bodies read."""
    names = {n for n in node.input if n}
    for attr in node.attribute:
        for g in ([attr.g] if attr.type == attr.GRAPH else []) + list(attr.graphs):
            local = {i.name for i in g.input} | {t.name for t in g.initializer}
            for inner in g.node:
                local.update(inner.output)
            for inner in g.node:
                names.update(n for n in _used_names(inner) if n not in local)
    return names


class _Index:
    """Who makes and who reads every value of a model's graph, built once on its first re-check: a cut then
    costs the size of the cut, not of the model (before: every cut walked all 100k nodes)."""

    def __init__(self, model, types: _Types):
        self.model = model
        self.types = types
        self._used: list[set[str]] | None = None

    def _build(self) -> None:
        graph = self.model.graph
        self._used = [_used_names(n) for n in graph.node]
        self.producer = {o: i for i, n in enumerate(graph.node) for o in n.output if o}
        self.readers: dict[str, list[int]] = {}
        for i, names in enumerate(self._used):
            for name in names:
                self.readers.setdefault(name, []).append(i)
        self.inits = {t.name: t for t in graph.initializer}
        self.init_names = set(self.inits)
        self.declared = {vi.name: vi for vi in graph.input}
        self.graph_outputs = {o.name for o in graph.output}

    def cut(self, indices: Sequence[int]):
        """A model of the nodes ``indices`` (in that order) of the graph; Constant nodes they read come along
        (prepended, so weights stay weights); values produced elsewhere become network inputs. Returns
        (model, offset): ``indices[k]`` is node ``offset + k`` of the cut model."""
        import onnx

        if self._used is None:
            self._build()
        graph = self.model.graph
        nodes = graph.node
        chosen = set(indices)
        needed: set[str] = set()
        for i in indices:
            needed |= self._used[i]
        made = {o for i in indices for o in nodes[i].output if o}
        producer = self.producer
        constants = sorted({producer[n] for n in needed - made
                            if n in producer and nodes[producer[n]].op_type == "Constant"
                            and nodes[producer[n]].domain in ("", "ai.onnx") and producer[n] not in chosen})
        made |= {o for i in constants for o in nodes[i].output if o}
        inputs = []
        for name in sorted(needed - made - self.init_names):
            vi = self.types.value_info(name, self.declared.get(name))
            if vi is None:
                vi = onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None)
            inputs.append(vi)
        outputs = []
        for i in indices:
            for o in nodes[i].output:
                readers = self.readers.get(o, ())
                # an output unless every reader is cut out with it (a dangling value is an output too)
                if o and (o in self.graph_outputs or not readers or any(r not in chosen for r in readers)):
                    outputs.append(self.types.value_info(o) or onnx.helper.make_empty_tensor_value_info(o))
        new_graph = onnx.helper.make_graph([nodes[i] for i in constants] + [nodes[i] for i in indices],
                                           graph.name or "cut", inputs, outputs,
                                           [self.inits[n] for n in sorted(needed & self.init_names)])
        cut = onnx.helper.make_model(new_graph, opset_imports=list(self.model.opset_import),
                                     functions=list(self.model.functions))
        cut.ir_version = self.model.ir_version
        return cut, len(constants)


def _body_model(model, types: _Types, body, extra_inputs: Iterable = ()):
    """A control-flow body (or function body) as a model of its own: its formal inputs and the outer-scope
    values it reads become network inputs."""
    import onnx

    local = {i.name for i in body.input} | {t.name for t in body.initializer}
    for n in body.node:
        local.update(n.output)
    outer: set[str] = set()
    for n in body.node:
        outer |= {x for x in _used_names(n) if x not in local}
    inputs = []
    for vi in (*body.input, *extra_inputs):
        known = vi if vi.type.HasField("tensor_type") and vi.type.tensor_type.elem_type else None
        vi2 = types.value_info(vi.name, known)
        inputs.append(vi2 or onnx.helper.make_tensor_value_info(vi.name, onnx.TensorProto.FLOAT, None))
    for name in sorted(outer):
        vi = types.value_info(name)
        inputs.append(vi or onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    outputs = [types.value_info(o.name, o) or onnx.helper.make_empty_tensor_value_info(o.name)
               for o in body.output]
    g = onnx.helper.make_graph(list(body.node), body.name or "body", inputs, outputs, list(body.initializer))
    m = onnx.helper.make_model(g, opset_imports=list(model.opset_import), functions=list(model.functions))
    m.ir_version = model.ir_version
    return m


# ------------------------------------------------------------------------------------------- judging

class _Judge:
    def __init__(self, parser: _Parser, path: str = ""):
        self.parser = parser
        self.path = path  # the model file: re-checks find its external weights from there

    def graph(self, model, data: bytes | None, path: str, prefix=(),
              answer: tuple | None = None) -> tuple[list[NodeVerdict], list, bool]:
        """Verdicts for every node of ``model``'s main graph (bodies and functions appended); ``answer``:
        the parser's answer on the whole model when it is already known (else it is asked here)."""
        types = _Types(model)
        nodes = model.graph.node
        n = len(nodes)
        status: dict[int, tuple[str, str, ParserError | None]] = {}
        body_errors: dict[int, list[ParserError]] = {}
        model_errors: list[ParserError] = []
        if answer is None:
            if data is None:
                data = model.SerializeToString()
            answer = self.parser.check(data, path)
        whole_ok, subgraphs, errors = answer
        if whole_ok:
            for i in range(n):
                status[i] = (SUPPORTED, "the whole model parses", None)
        else:
            self._settle(_Index(model, types), (whole_ok, subgraphs, errors), status, body_errors, model_errors)
        verdicts: list[NodeVerdict] = []
        for i, node in enumerate(nodes):
            st, how, err = status.get(i, (UNKNOWN, "the parser gave no verdict", None))
            verdicts.append(NodeVerdict(i, node.name, node.op_type, node.domain, st, how, err, prefix))
        for i, node in enumerate(nodes):
            verdicts.extend(self._inner(model, types, i, node, status.get(i, (UNKNOWN,))[0],
                                        body_errors.get(i, []), prefix))
        return verdicts, model_errors, whole_ok

    def _settle(self, index: _Index, answer, status, body_errors, model_errors) -> None:
        """Judge every node from the whole model's answer, then re-check each subgraph it left unknown.

        Each unknown subgraph is re-checked in a model of its own, not all of them in one model: the parser
        imports nodes in order and stops at the first that fails (plus a static check for ops with no
        importer), so one model holding every unknown subgraph names one failing node per parse where
        separate subgraphs name one each (bench/parser.py --bad-every: 26 parses of the whole model instead
        of 44 small ones, 3x slower). What makes many re-checks cheap is the cut: :class:`_Index`. A
        subgraph whose answer names no new node is bisected."""
        model = index.model
        queue = self._apply(model, list(range(len(model.graph.node))), answer, status, body_errors,
                            model_errors, None)[::-1]
        while queue:
            group = [i for i in queue.pop() if i not in status]
            if not group:
                continue
            answer = self._recheck(index, group, status)
            if answer is None:
                continue
            how = "re-checked in a model of its own" if len(group) == 1 else \
                f"re-checked with the {len(group)} nodes of its subgraph"
            new = self._apply(model, group, answer, status, body_errors, model_errors, how)
            if not new:
                continue
            if any(i in status for i in group) or _partition(new) != {tuple(group)}:
                queue.extend(reversed(new))  # depth first, in file order
            elif len(group) == 1:
                err = answer[2][0] if answer[2] else None
                status[group[0]] = (UNKNOWN, "the parser rejects it alone without naming a node", err)
            else:  # the parser names no node of this set: bisect
                half = len(group) // 2
                queue.extend((group[half:], group[:half]))

    def _apply(self, model, indices, answer, status, body_errors, model_errors, how: str | None):
        """Judge the nodes ``indices`` (of ``model``'s main graph) from a parser answer on them (``how``: the
        re-check it came from, None for the whole model); returns the groups still without a verdict."""
        ok, subgraphs, errors = answer
        nodes = model.graph.node
        first = how is None
        if ok:
            for i in indices:
                status[i] = (SUPPORTED, "the whole model parses" if first else how, None)
            return []
        covered: set[int] = set()
        for sub, _ in subgraphs:
            covered |= {indices[k] for k in sub if 0 <= k < len(indices)}
        failed = [i for i in indices if i not in covered]
        for e in errors:
            if e.node < 0 or (not e.stack and e.node >= len(indices)):
                if first:
                    model_errors.append(e)
                continue
            if e.stack:  # inside a body / local function: the owner is the failed node named by the stack
                owner = self._owner(model, indices, failed, e.stack[0])
                if owner is None:
                    continue
                body_errors.setdefault(owner, []).append(e)
                if owner not in status:
                    status[owner] = (UNSUPPORTED, "the parser rejects a node of its body", e)
                continue
            target = indices[e.node]
            if e.node_name and nodes[target].name and e.node_name != nodes[target].name and _has_body(model, nodes[target]):
                # a Loop/Scan body error: the parser numbers it with its owner and names the body node
                body_errors.setdefault(target, []).append(e)
            if target not in status or status[target][0] != UNSUPPORTED:
                said = "reported by the parser" if first else f"reported by the parser when {how}"
                status[target] = (UNSUPPORTED, said, e)
        for sub, s in subgraphs:
            if s:
                for k in sub:
                    status.setdefault(indices[k], (SUPPORTED, "in a subgraph the parser accepts", None))
        groups = [[indices[k] for k in sub if 0 <= k < len(indices)] for sub, s in subgraphs if not s]
        groups.append(failed)
        return [g for g in ([i for i in g if i not in status] for g in groups) if g]

    def _recheck(self, index: _Index, batch: list[int], status):
        """The parser's answer on a model of the nodes ``batch``, numbered as positions in ``batch``; None
        (the nodes get no verdict) when the cut cannot be made or parsed, or the parses ran out."""
        if self.parser.calls > _MAX_PARSES:
            for i in batch:
                status.setdefault(i, (UNKNOWN, f"not re-checked (more than {_MAX_PARSES} parser calls)", None))
            return None
        try:
            cut, offset = index.cut(batch)
            ok, subgraphs, errors = self.parser.check(cut.SerializeToString(), self.path)
        except Exception as exc:  # a cut the parser or onnx cannot take: no verdict for these nodes
            for i in batch:
                status.setdefault(i, (UNKNOWN, f"could not be cut out for a re-check ({exc})", None))
            return None
        n = len(batch)
        local_sub = [([k - offset for k in sub if 0 <= k - offset < n], s) for sub, s in subgraphs]
        local_err = []
        for e in errors:
            if e.stack or e.node < 0:
                local_err.append(e)
            elif 0 <= e.node - offset < n:
                local_err.append(_renumber(e, e.node - offset))
            # else: a prepended Constant node, judged where it stands
        return ok, local_sub, local_err

    @staticmethod
    def _owner(model, indices, failed, frame: str) -> int | None:
        name = frame.rsplit(" (", 1)[0]
        nodes = model.graph.node
        for i in failed:
            if nodes[i].name == name:
                return i
        for i in indices:
            if nodes[i].name == name:
                return i
        return failed[0] if len(failed) == 1 else None

    def _inner(self, model, types, index, node, owner_status, errors, prefix) -> list[NodeVerdict]:
        """Verdicts for the nodes of ``node``'s bodies (If/Loop/Scan) or of the local function it calls."""
        bodies = []
        for attr in node.attribute:
            if attr.type == attr.GRAPH:
                bodies.append((attr.name, attr.g))
            for k, g in enumerate(attr.graphs):
                bodies.append((f"{attr.name}[{k}]", g))
        function = None
        if not bodies:
            function = next((f for f in model.functions if f.name == node.op_type and f.domain == node.domain),
                            None)
            if function is None:
                return []
        taken = _constant_branch(model, node) if node.op_type == "If" and node.domain in ("", "ai.onnx") else None
        out: list[NodeVerdict] = []
        if function is not None:
            key = f"function:{function.domain}::{function.name}" if function.domain else f"function:{function.name}"
            import onnx

            body = onnx.helper.make_graph(list(function.node), function.name, [], [])
            formal = [onnx.helper.make_empty_tensor_value_info(n) for n in function.input]
            call_types = [types.value_info(actual) for actual in node.input]
            extra = []
            for vi, actual in zip(formal, call_types):
                if actual is not None:
                    actual.name = vi.name
                    extra.append(actual)
                else:
                    extra.append(vi)
            body.output.extend(onnx.helper.make_empty_tensor_value_info(o) for o in function.output)
            bodies = [(key, body, extra)]
        else:
            bodies = [(name, g, ()) for name, g in bodies]
        for name, body, extra in bodies:
            path = prefix + ((index, name),)
            mine = _errors_for(body, name, errors, function is not None)
            if owner_status == SUPPORTED or (taken is not None and name != taken):
                if taken is not None and name != taken:
                    st, how = NOT_IMPORTED, "the If condition is a constant: the parser imports only the taken branch"
                else:
                    st, how = SUPPORTED, f"imported with its {node.op_type}, which the parser accepts"
                out.extend(_flat(body, st, how, path))
                continue
            if owner_status != UNSUPPORTED:
                out.extend(_flat(body, UNKNOWN, f"its {node.op_type} has no verdict", path))
                continue
            if attrs_refer(body):
                marked = mine
                for k, bn in enumerate(body.node):
                    if k in marked:
                        out.append(NodeVerdict(k, bn.name, bn.op_type, bn.domain, UNSUPPORTED,
                                               f"reported by the parser inside its {node.op_type}", marked[k], path))
                    else:
                        out.append(NodeVerdict(k, bn.name, bn.op_type, bn.domain, UNKNOWN,
                                               "the function uses attribute references: not re-checked", None, path))
                continue
            try:
                sub = _body_model(model, types, body, extra)
                verdicts, _, _ = self.graph(sub, None, "", path)
            except Exception as exc:  # a body onnx cannot re-assemble: the parser's own errors only
                verdicts = []
                marked = mine
                for k, bn in enumerate(body.node):
                    st = UNSUPPORTED if k in marked else UNKNOWN
                    verdicts.append(NodeVerdict(k, bn.name, bn.op_type, bn.domain, st,
                                                "reported by the parser" if k in marked else
                                                f"the body could not be re-checked ({exc})", marked.get(k), path))
            # the parser's own in-place errors take precedence over the cut-out re-check
            marked = mine
            for v in verdicts:
                if v.path == path and v.index in marked and v.status != UNSUPPORTED:
                    v = NodeVerdict(v.index, v.name, v.op_type, v.domain, UNSUPPORTED,
                                    f"reported by the parser inside its {node.op_type}", marked[v.index], path)
                elif v.path == path:
                    v = NodeVerdict(v.index, v.name, v.op_type, v.domain, v.status,
                                    f"{v.how} (body cut out of its {node.op_type})", v.error, path)
                out.append(v)
        return out


def _has_body(model, node) -> bool:
    return any(a.type == a.GRAPH or len(a.graphs) for a in node.attribute) or any(
        f.name == node.op_type and f.domain == node.domain for f in model.functions)


def _errors_for(body, attr_name: str, errors, is_function: bool) -> dict[int, ParserError]:
    """The parser's errors that name a node of ``body`` (directly inside it), by body node index: by name
    first (Loop/Scan body errors carry the owner's index), then by index when the call stack says so."""
    by_name: dict[str, int] = {}
    for k, n in enumerate(body.node):
        if n.name:
            by_name.setdefault(n.name, k)
    found: dict[int, ParserError] = {}
    for e in errors:
        depth = len(e.stack)
        if depth > (1 if is_function else 2):
            continue  # deeper: belongs to a nested body, judged when that body is cut out
        if depth == 2 and _frame_attr(e.stack[1]) not in (attr_name, body.name):
            continue
        k = by_name.get(e.node_name)
        if k is None and depth and 0 <= e.node < len(body.node) and not body.node[e.node].name:
            k = e.node
        if k is not None:
            found.setdefault(k, e)
    return found


def attrs_refer(body) -> bool:
    return any(a.ref_attr_name for n in body.node for a in n.attribute)


def _frame_attr(frame: str) -> str:
    m = re.search(r"\(([^()]*)\)\s*$", frame)
    return m.group(1) if m else frame


def _flat(body, status, how, path) -> list[NodeVerdict]:
    out = []
    for k, n in enumerate(body.node):
        out.append(NodeVerdict(k, n.name, n.op_type, n.domain, status, how, None, path))
        for attr in n.attribute:
            for name, g in ([(attr.name, attr.g)] if attr.type == attr.GRAPH else []) + \
                    [(f"{attr.name}[{j}]", g) for j, g in enumerate(attr.graphs)]:
                out.extend(_flat(g, status, how, path + ((k, name),)))
    return out


def _constant_branch(model, node) -> str | None:
    """The branch an If takes when its condition is an initializer or a Constant node's output, else None."""
    import numpy as np
    from onnx import numpy_helper

    cond = node.input[0] if node.input else ""
    value = None
    for t in model.graph.initializer:
        if t.name == cond:
            value = numpy_helper.to_array(t)
    for n in model.graph.node:
        if n.op_type == "Constant" and cond in n.output:
            for a in n.attribute:
                if a.name == "value":
                    value = numpy_helper.to_array(a.t)
                elif a.name == "value_int":
                    value = np.array(a.i)
    if value is None or np.asarray(value).size != 1:
        return None
    return "then_branch" if bool(np.asarray(value).reshape(-1)[0]) else "else_branch"


def _partition(groups) -> set[tuple[int, ...]]:
    return {tuple(sorted(g)) for g in groups}


def _renumber(e: ParserError, node: int) -> ParserError:
    return ParserError(node, e.node_name, e.op_type, e.checker, e.code, e.desc, e.file, e.line, e.stack)


def judge_model(trt, model, path: str = "", parser: _Parser | None = None, answer: tuple | None = None
                ) -> ModelVerdicts:
    """Every node's verdict from the parser of the bindings module ``trt``; ``model`` is a path, bytes or
    an ``onnx.ModelProto``; ``answer``: the parser's answer on these very bytes, when already asked.
    Runs the C++ parser in this process: see :func:`judge_isolated`."""
    import onnx

    data = None
    if isinstance(model, (str, os.PathLike)):
        path = str(model)
        data = Path(path).read_bytes()
        proto = onnx.load_from_string(data)  # external weights stay on disk: the parser reads them by path
    elif isinstance(model, (bytes, bytearray)):
        data = bytes(model)
        proto = onnx.load_from_string(data)
    else:
        proto = model
    parser = parser or _Parser(trt)
    start = parser.calls - (answer is not None)
    nodes, model_errors, whole = _Judge(parser, path).graph(proto, data, path, answer=answer)
    return ModelVerdicts(parser_label(trt), whole, tuple(nodes), tuple(model_errors),
                         parser.calls - start, path)


def _whole_model_verdicts(proto, parser: str, path: str) -> ModelVerdicts:
    """The verdicts of a model the parser accepts whole (every node supported, bodies as their owners),
    made from the proto alone: the same code as :func:`judge_model` given that answer, no parser needed."""
    nodes, model_errors, whole = _Judge(None, path).graph(proto, None, path, answer=(True, [], []))
    return ModelVerdicts(parser, whole, tuple(nodes), tuple(model_errors), 1, path)


# ------------------------------------------------------------------------------------- child process

#: Address-space limit of the parser's child without a GPU (bytes; TensorRT-RTX's 100k-node parse peaks
#: near 1.7 GB); 0 when a GPU is visible or the library needs one (CUDA reserves far more than it uses).
PARSER_MEMORY_LIMIT = int(os.environ.get("EXPLORER_PARSER_MEMORY", max(MEMORY_LIMIT, 0) or 6 * 1024**3))
#: Seconds one model's verdicts may take in the child (its re-checks included).
PARSER_TIMEOUT = float(os.environ.get("EXPLORER_PARSER_TIMEOUT", 600))

_PARSERS: dict[str, _Parser] = {}  # in the child: one Builder per library for every model it judges


def memory_limit(library: Library) -> int:
    """The child's address-space limit for this library's parser here (see :data:`PARSER_MEMORY_LIMIT`)."""
    if library.needs_gpu or os.path.exists("/dev/nvidiactl"):
        return 0
    return PARSER_MEMORY_LIMIT


#: :func:`judge_task`'s answer, in full or "whole" (the parent makes the verdicts of an accepted model)
FULL, WHOLE = "full", "whole"


@isolated_task("judge_model", timeout=PARSER_TIMEOUT, memory_limit=0)  # the limit is given per library
def judge_task(data: bytes, path: str, library_key: str, answer: str = FULL) -> bytes:
    """:func:`judge_model` in an isolated child: the model's bytes in (or none: read ``path``), JSON out.

    The raw bytes are parsed first, before ``onnx`` reads them. With ``answer="whole"``, a model the parser
    accepts whole comes back as just that (``{"whole": true, ...}``): the parent, which waited for the parse
    with the model at hand, makes its verdicts (:func:`_whole_model_verdicts`); per-node verdicts of a
    100k-node model built here, sent as JSON and rebuilt there cost 1.1 s next to a 4 s parse."""
    library = library_for(library_key)
    parser = _PARSERS.get(library.key)
    if parser is None:
        parser = _PARSERS[library.key] = _Parser(import_library(library))
    data = bytes(data) if data else Path(path).read_bytes()
    first = parser.check(data, path)
    if first[0] and answer == WHOLE:
        return json.dumps({"whole": True, "parser": parser_label(parser.trt), "source": path}).encode("utf-8")
    verdicts = judge_model(parser.trt, data, path=path, parser=parser, answer=first)
    return json.dumps(verdicts.to_dict(), separators=(",", ":")).encode("utf-8")


def judge_isolated(model: bytes | str | os.PathLike, library: Library = TENSORRT_RTX, *, path: str = "",
                   worker: TaskProcess | None = None, timeout: float | None = None,
                   proto=None) -> ModelVerdicts:
    """Every node's verdict, the C++ parser running in a child process with time and memory limits.

    ``model``: the model's bytes (``path``: where its external weights are) or its path; ``proto``: the
    same model as an ``onnx.ModelProto`` when the caller has it (else it is read here while the child
    parses). A model that crashes the parser, exhausts the memory limit or runs out of time is a
    :class:`ModelError` naming the file; a parser that cannot be used here (not installed, no GPU) an
    :class:`ExplorerError` saying why.
    ``worker``: a :class:`~explorer.isolation.TaskProcess` of :func:`judge_task` to reuse (a batch)."""
    if isinstance(model, (str, os.PathLike)):
        path, data = str(model), b""
    else:
        data = bytes(model)
    own = worker is None
    worker = worker or TaskProcess(judge_task, memory_limit=memory_limit(library))
    try:
        pending = worker.submit(data, path, library.key, WHOLE, timeout=timeout)
        try:  # while the child parses: the proto, for the verdicts of a model the parser accepts whole
            proto = proto if proto is not None else _read_proto(data, path)
        except Exception:
            proto = None
        raw = pending.result()
        if raw.startswith(b'{"whole"'):
            answer = json.loads(raw)
            if proto is not None:
                try:
                    return _whole_model_verdicts(proto, answer["parser"], answer["source"])
                except Exception:
                    pass  # anything onnx cannot walk here: the child's own verdicts
            raw = worker.submit(data, path, library.key, FULL, timeout=timeout).result()
    except TaskCrashed as exc:
        raise ModelError(f"{library.title}'s ONNX parser {exc}; the model is malformed in a way the parser "
                         "does not survive (or needs more memory than the parser may use)", file=path or None,
                         hint="the support-matrix prediction (source='matrix') still judges it") from None
    except TaskFailed as exc:
        if exc.kind in ("ExplorerError", "ModelError", "BuildError"):
            error = ModelError if exc.kind == "ModelError" else ExplorerError
            raise error(exc.message.strip()[:2000] or f"{library.title}'s ONNX parser failed",
                        file=path or None) from None
        raise ModelError(f"{library.title}'s ONNX parser could not read the model: {exc.kind}: "
                         f"{exc.message.strip()[:1000]}", file=path or None) from None
    finally:
        if own:
            finish(worker)
    return ModelVerdicts.from_dict(json.loads(raw))


def _read_proto(data: bytes, path: str):
    import onnx

    return onnx.load_from_string(data or Path(path).read_bytes())  # external weights stay on disk


def finish(worker: TaskProcess) -> None:
    """Stop a parser child the caller is done with: killed, not asked to exit, because its last network
    would take seconds to destroy and a parser child holds nothing worth a clean exit."""
    import signal

    pid = worker.pid
    if pid is not None:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    worker.close()


def judge_in_subprocess(models: Sequence[str | os.PathLike], bindings: str = "rtx",
                        timeout: float | None = 600) -> list[ModelVerdicts]:
    """Judge many model files in ONE child process (one child for a batch keeps 2,000 small models fast;
    a new one starts after a crash). ``timeout`` is per model. A model the child cannot judge comes back
    with ``failure`` saying why (unreadable model, the parser process died)."""
    library = library_for(bindings)
    worker = TaskProcess(judge_task, memory_limit=memory_limit(library))
    results = []
    try:
        for model in models:
            path = str(model)
            try:
                results.append(judge_isolated(path, library, worker=worker, timeout=timeout))
            except ExplorerError as exc:
                results.append(ModelVerdicts("", False, (), source=path, failure=str(exc)[:500]))
    finally:
        finish(worker)
    return results
