"""``explorer.analyze``: a verdict and a reason for every node, then the partitions they make.

The source of truth is TensorRT's own ONNX parser when ``import tensorrt`` works and no other version was
asked for; otherwise the published support matrix of the chosen version, labelled as a prediction.
"""

from __future__ import annotations

import json
import operator
from typing import Callable

from ..errors import BuildError, ExplorerError, ModelError
from ..model import Model, load_model
from ..model.loader import ModelSource, gc_paused
from .partition import Partition, partition_with_fallback
from .report import FoldingSummary, NodeVerdict, SupportReport

DEFAULT_MIN_BLOCK_SIZE = 1


def analyze(model: Model | ModelSource, *, trt_version: str | None = None,
            min_block_size: int = DEFAULT_MIN_BLOCK_SIZE, require_mac: bool = False,
            fold_constants: bool = False, use_parser: bool | None = None) -> SupportReport:
    """Which nodes TensorRT takes, why not the others, and the partitions a framework would cut.

    ``trt_version``: a support-matrix version ("10.1", "10.15", "11.x", ...); None means the installed
    TensorRT's parser when available, else the newest matrix. ``min_block_size``: TensorRT partitions with
    fewer nodes go back to the framework (Torch-TensorRT uses 5). ``require_mac``: also send back partitions
    without a Conv/MatMul/Gemm-like op (TVM's rule). ``fold_constants``: fold with onnx-graphsurgeon first and
    record how the partitions changed.
    """
    try:
        min_block_size = operator.index(min_block_size)  # ints, numpy ints; not floats or strings
    except TypeError:
        raise ExplorerError(f"min_block_size must be an integer, got {type(min_block_size).__name__} "
                            f"{min_block_size!r:.40}") from None
    if min_block_size < 1:
        raise ExplorerError(f"min_block_size must be at least 1, got {min_block_size}")
    with gc_paused():  # one pause (and one collection after it) for loading and judging big graphs
        if not isinstance(model, Model):
            model = load_model(model)
        return _analyze(model, trt_version, min_block_size, require_mac, fold_constants, use_parser)


def _analyze(model: Model, trt_version, min_block_size, require_mac, fold_constants, use_parser) -> SupportReport:
    judge_graph, source, version, notes = _choose_source(model, trt_version, use_parser)

    folding = None
    if fold_constants:
        from ..model.transforms import fold_constants as fold

        before = _run(model, judge_graph, source, version, notes, min_block_size, require_mac)
        folded, tool = fold(model)
        after = _run(folded, judge_graph, source, version, notes, min_block_size, require_mac)
        kept = {n.id for n in folded.nodes}
        folding = FoldingSummary(
            tool=tool, nodes_before=before.nodes_total, nodes_after=after.nodes_total,
            removed=[n.id for n in model.nodes if n.id not in kept],
            engines_before=before.engines, engines_after=after.engines,
            partitions_before=len(before.partitions), partitions_after=len(after.partitions),
            coverage_before=before.coverage, coverage_after=after.coverage)
        after.fold_constants = True
        after.folding = folding
        return after
    return _run(model, judge_graph, source, version, notes, min_block_size, require_mac)


JudgeGraph = Callable[[Model], list[NodeVerdict]]


def _choose_source(model: Model, trt_version: str | None, use_parser: bool | None):
    """Pick the real parser or a support matrix, and say why in the report's notes."""
    notes: list[str] = []
    if use_parser is not False:
        ok, why, installed = _parser_status()
        wanted_matches = trt_version is None or (installed is not None and _same_minor(trt_version, installed))
        if ok and wanted_matches:
            return _parser_judge, f"tensorrt-parser {installed}", installed, notes  # label: major.minor
        if use_parser:
            raise ExplorerError(f"the TensorRT parser was requested but cannot be used: {why}")
        if trt_version is None:
            notes.append(f"TensorRT parser not used: {why}")
    from .matrix import load_matrix

    matrix = load_matrix(trt_version)
    note = getattr(matrix, "note", None)
    if note:
        notes.append(note)

    def judge_with_matrix(m: Model) -> list[NodeVerdict]:
        return _matrix_verdicts(m, matrix)

    judge_with_matrix.matrix = matrix  # type: ignore[attr-defined]
    return judge_with_matrix, matrix.source_label, matrix.version, notes


def _parser_status() -> tuple[bool, str, str | None]:
    """(usable, why not, "major.minor") of the installed TensorRT's ONNX parser."""
    from ..trt import available, installed_version

    ok, why = available()
    return ok, why, installed_version() if ok else None


def _same_minor(wanted: str, installed: str) -> bool:
    return wanted.split(".")[:2] == installed.split(".")[:2]


def _run(model: Model, judge_graph, source: str, version: str, notes: list[str], min_block_size: int,
         require_mac: bool) -> SupportReport:
    verdicts = judge_graph(model)
    opset_issue = None
    matrix = getattr(judge_graph, "matrix", None)
    if matrix is not None:
        from .rules import check_opset

        opset_issue = check_opset(model, matrix)
    partitions = _partitions(model, verdicts, min_block_size, require_mac)
    return SupportReport(model=model.name, source=source, trt_version=version, verdicts=verdicts,
                         partitions=partitions, min_block_size=min_block_size, require_mac=require_mac,
                         opset_issue=opset_issue, notes=list(notes) + list(model.warnings))


def _matrix_verdicts(model: Model, matrix) -> list[NodeVerdict]:
    from .rules import judge_graph

    judgements = judge_graph(model, matrix)
    return [_verdict(node, judgements[node.id]) for node in model.graph.nodes]


def _verdict(node, j) -> NodeVerdict:
    # Empty tuples instead of empty lists: 100k-node reports otherwise allocate (and make the GC scan)
    # four empty lists per node.
    children: list[NodeVerdict] | tuple = ()
    child_judgements = j.children
    if child_judgements:
        children = []
        for body in node.subgraphs.values():
            for child in body.walk():
                cj = child_judgements.get(child.id)
                if cj is not None:
                    children.append(NodeVerdict(child.id, child.name, child.op_type, child.domain, cj.supported,
                                                _seq(cj.reasons), _seq(cj.caveats), _seq(cj.warnings)))
    return NodeVerdict(node.id, node.name, node.op_type, node.domain, j.supported, _seq(j.reasons),
                       _seq(j.caveats), _seq(j.warnings), children=children)


def _seq(items) -> list | tuple:
    return list(items) if items else ()


def _parser_judge(model: Model) -> list[NodeVerdict]:
    """Verdicts from TensorRT's ONNX parser (``supports_model_v2`` and its subgraph queries).

    The parser is C++ reading the user's model: it runs in a child process, so a model that crashes it
    costs an error message, not the kernel."""
    from ..isolation import TaskCrashed, TaskFailed, run_task
    from ..trt.capability import parser_capability_task

    data = model.proto.SerializeToString() if model.proto is not None else b""
    try:
        raw = run_task(parser_capability_task, data, model.path or "")
    except TaskCrashed as exc:
        raise ModelError(f"TensorRT's ONNX parser {exc}; the model is malformed in a way the parser does not "
                         "survive", file=model.path, hint="analyze with use_parser=False for the support-matrix "
                         "prediction") from None
    except TaskFailed as exc:
        kind, _, message = str(exc).partition(": ")
        error = {"ModelError": ModelError, "BuildError": BuildError}.get(kind, ExplorerError)
        if kind not in ("ExplorerError", "ModelError", "BuildError"):
            message = f"TensorRT's ONNX parser failed: {exc}"
        raise error(message.strip()[:2000] or "TensorRT's ONNX parser failed", file=model.path) from None
    from ..trt import ParserCapability

    return verdicts_from_capability(model, ParserCapability.from_dict(json.loads(raw)))


def verdicts_from_capability(model: Model, capability) -> list[NodeVerdict]:
    """Turn the parser's answer (node indices of supported / unsupported subgraphs, errors) into verdicts."""
    from ..trt import map_capability_to_model

    mapped = map_capability_to_model(capability, model)
    supported: dict[str, bool] = {}
    for ids, ok in mapped.subgraphs:
        for node_id in ids:
            supported[node_id] = supported.get(node_id, True) and ok
    verdicts = []
    for node in model.nodes:
        issues = mapped.issues.get(node.id, [])
        ok = supported.get(node.id, True) and not issues
        reasons = [f"{i.operator or node.op_type}: {i.description}" + (f" [{i.code}]" if i.code else "")
                   for i in issues]
        if not ok and not reasons:
            reasons = ["in a subgraph TensorRT's parser reports as unsupported (it gave no error for this node)"]
        verdicts.append(NodeVerdict(node=node.id, name=node.name, op=node.op_type, domain=node.domain,
                                    supported=ok, reasons=reasons))
    return verdicts


def _partitions(model: Model, verdicts: list[NodeVerdict], min_block_size: int,
                require_mac: bool) -> list[Partition]:
    graph = model.graph
    nodes = graph.nodes
    position = {name: node.index for name, node in graph.producer.items()}
    preds: list[list[int]] = [[position[name] for name in node.inputs if name in position] for node in nodes]
    for node in nodes:
        if node.subgraphs:
            preds[node.index] += [position[name] for name in _implicit_inputs(node) if name in position]
    ops = [n.op_type for n in nodes]
    groups, labels, demoted = partition_with_fallback(preds, [v.supported for v in verdicts], ops,
                                                      min_block_size=min_block_size, require_mac=require_mac)
    partitions = []
    for index, members in enumerate(groups):
        op_counts: dict[str, int] = {}
        for i in members:
            op_counts[ops[i]] = op_counts.get(ops[i], 0) + 1
            verdicts[i].partition = index
            verdicts[i].in_tensorrt = labels[i]
            verdicts[i].fallback_reason = demoted.get(i)
        reasons = {demoted[i] for i in members if i in demoted}
        partitions.append(Partition(index=index, supported=labels[members[0]],
                                    nodes=[nodes[i].id for i in members],
                                    demoted="; ".join(sorted(reasons)) if reasons else None, ops=op_counts))
    return partitions


def _implicit_inputs(node) -> set[str]:
    """Outer-scope values a control-flow body reads: real data dependencies of the parent node."""
    names: set[str] = set()
    for body in node.subgraphs.values():
        local = set(body.initializers) | {t.name for t in body.inputs}
        for child in body.walk():
            local.update(child.outputs)
        for child in body.walk():
            names.update(n for n in child.inputs if n and n not in local)
    return names
