"""``explorer.analyze``: a verdict and a reason for every node, then the partitions they make.

Where the verdicts come from (``source=``, the report's ``source`` label names it):

- ``"matrix"`` (also ``"prediction"``): the published support matrix of ``trt_version`` (newest by
  default) and the explorer's rules -- instant, labelled ``support-matrix X.Y (prediction)``;
- ``"tensorrt"``: the installed TensorRT's own ONNX parser (needs a GPU), ``TensorRT 10.15.1 parser``;
- ``"tensorrt-rtx"``: TensorRT-RTX's ONNX parser from PyPI (no GPU needed), ``TensorRT-RTX 1.7.1 parser``;
- ``"auto"``: the best real parser here (TensorRT's, else TensorRT-RTX's), else the matrix;
- ``"onnxruntime"``: which provider ONNX Runtime itself gave each node (``session.record_ep_graph_assignment_info``,
  :mod:`.assignment`), ``ONNX Runtime 1.32 assignment``: supported = taken by a TensorRT provider;
- None (the default): TensorRT's parser when TensorRT can run here and no other version was asked for
  (as before TensorRT-RTX existed), else the matrix prediction -- never a slow parse nobody asked for.

Both parsers take ONE path (:func:`explorer.trt.judge_isolated`): ``supports_model_v2``, then re-checks of
the subgraphs whose verdict it left unknown, in a child process with time and memory limits.
"""

from __future__ import annotations

import operator
import threading
import time
from concurrent import futures
from typing import Callable

from ..errors import ExplorerError, ModelError
from ..model import Model, load_model
from ..model.loader import ModelSource, gc_paused
from .partition import Partition, partition_with_fallback
from .assignment import REMOVED as ASSIGNMENT_REMOVED
from .assignment import TENSORRT_PROVIDERS as ASSIGNMENT_TRT_PROVIDERS
from .assignment import EpAssignment
from .report import FoldingSummary, NodeVerdict, SupportReport

DEFAULT_MIN_BLOCK_SIZE = 1
#: what ``source=`` accepts
SOURCES = ("matrix", "prediction", "tensorrt", "tensorrt-rtx", "auto", "onnxruntime")


def analyze(model: Model | ModelSource, *, source: str | None = None, trt_version: str | None = None,
            min_block_size: int = DEFAULT_MIN_BLOCK_SIZE, require_mac: bool = False,
            fold_constants: bool = False, use_parser: bool | None = None,
            providers: list[str] | None = None) -> SupportReport:
    """Which nodes TensorRT takes, why not the others, and the partitions a framework would cut.

    ``source``: where the verdicts come from (module docstring: ``"matrix"``, ``"tensorrt"``,
    ``"tensorrt-rtx"``, ``"auto"``, None). ``trt_version``: a support-matrix version ("10.1", "10.15",
    "11.x", ...). ``use_parser``: the older switch (False = ``"matrix"``, True = a real parser or an
    error). ``min_block_size``: TensorRT partitions with fewer nodes go back to the framework
    (Torch-TensorRT uses 5). ``require_mac``: also send back partitions without a Conv/MatMul/Gemm-like op
    (TVM's rule). ``fold_constants``: fold with onnx-graphsurgeon first and record how the partitions changed.
    ``providers``: with ``source="onnxruntime"``, the session's execution providers in priority order
    (default: TensorRT's, then CUDA's if ONNX Runtime here has them, then the CPU's).
    """
    min_block_size = _block_size(min_block_size)
    source = _source_name(source, use_parser)
    with gc_paused():  # one pause (and one collection after it) for loading and judging big graphs
        if not isinstance(model, Model):
            model = load_model(model)
        return _analyze(model, source, trt_version, min_block_size, require_mac, fold_constants,
                        required=use_parser is True, providers=providers)


def _block_size(value) -> int:
    try:
        value = operator.index(value)  # ints, numpy ints; not floats or strings
    except TypeError:
        raise ExplorerError(f"min_block_size must be an integer, got {type(value).__name__} "
                            f"{value!r:.40}") from None
    if value < 1:
        raise ExplorerError(f"min_block_size must be at least 1, got {value}")
    return value


def _source_name(source: str | None, use_parser: bool | None) -> str | None:
    if source is None:
        return None if use_parser is None else ("auto" if use_parser else "matrix")
    if not isinstance(source, str) or source.lower() not in SOURCES:
        raise ExplorerError(f"source must be one of {', '.join(SOURCES)} (or None), got {source!r:.60}")
    source = source.lower()
    if use_parser is False and source not in ("matrix", "prediction"):
        raise ExplorerError(f"use_parser=False contradicts source={source!r}")
    return "matrix" if source == "prediction" else source


def _analyze(model: Model, source, trt_version, min_block_size, require_mac, fold_constants, required=False,
             on_judge: Callable | None = None, providers=None) -> SupportReport:
    if providers is not None and source != "onnxruntime":
        raise ExplorerError("providers= picks ONNX Runtime's execution providers: it goes with source='onnxruntime'")
    if source == "onnxruntime":
        if trt_version is not None:
            raise ExplorerError("trt_version picks a support matrix; source='onnxruntime' is ONNX Runtime's own "
                                "assignment (leave trt_version out)")
        judge, notes = _OrtJudge(providers), []
    else:
        judge, notes = _choose_source(source, trt_version, required)
    if on_judge is not None:
        on_judge(judge)  # the background job keeps it, to cancel its child
    try:
        return _judge_and_partition(model, judge, notes, min_block_size, require_mac, fold_constants)
    finally:
        judge.close()


def _judge_and_partition(model, judge, notes, min_block_size, require_mac, fold_constants) -> SupportReport:
    folding = None
    if fold_constants:
        from ..model.transforms import fold_constants as fold

        before = _run(model, judge, notes, min_block_size, require_mac)
        folded, tool = fold(model)
        after = _run(folded, judge, notes, min_block_size, require_mac)
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
    return _run(model, judge, notes, min_block_size, require_mac)


class _MatrixJudge:
    """Verdicts predicted from a support matrix and the explorer's rules."""

    def __init__(self, matrix) -> None:
        self.matrix = matrix
        self.label = matrix.source_label
        self.version = matrix.version

    def __call__(self, model: Model) -> list[NodeVerdict]:
        return _matrix_verdicts(model, self.matrix)

    def close(self) -> None:
        pass


class _ParserJudge:
    """Verdicts from a real parser (TensorRT or TensorRT-RTX), in a child process; ``label`` and
    ``version`` are what the child reports (the library is never imported in this process for them)."""

    matrix = None

    def __init__(self, library) -> None:
        from ..isolation import TaskProcess
        from ..trt.verdicts import judge_task, memory_limit

        self.library = library
        self.worker = TaskProcess(judge_task, memory_limit=memory_limit(library))  # started on first use
        self.label = f"{library.title} parser"  # the version comes back with the verdicts
        self.version = ""

    def __call__(self, model: Model) -> list[NodeVerdict]:
        from ..trt import judge_isolated

        data = model.proto.SerializeToString() if model.proto is not None else b""
        result = judge_isolated(data, self.library, path=model.path or "", worker=self.worker, proto=model.proto)
        self.label = result.parser or self.label
        self.version = self.label.split(" ")[-2] if self.label.endswith(" parser") else self.label
        return verdicts_from_parser(model, result)

    def stop(self) -> None:
        """Kill the child now (cancel): the call in progress ends with an error at once."""
        import os
        import signal

        pid = self.worker.pid
        if pid is not None:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass

    def close(self) -> None:
        from ..trt.verdicts import finish

        finish(self.worker)


class _OrtJudge:
    """Verdicts from ONNX Runtime's own provider assignment, recorded in a child process
    (:mod:`explorer.backends.onnxruntime.assignment`, named by module: no upward import)."""

    matrix = None

    def __init__(self, providers) -> None:
        from ..isolation import TaskProcess, TaskSpec

        self.providers = [str(p) for p in providers] if providers else []
        # the CPU provider keeps the usual address-space limit; GPU providers reserve far more than they use
        self.worker = TaskProcess(TaskSpec("explorer.backends.onnxruntime.assignment", "ep_assignment"),
                                  memory_limit=None if _cpu_only(self.providers) else 0)
        self.label = "ONNX Runtime assignment"  # the version comes back with the answer
        self.version = ""
        self.assignment = None
        self.notes: list[str] = []

    def __call__(self, model: Model) -> list[NodeVerdict]:
        import json

        import onnx

        from ..isolation import TaskCrashed, TaskFailed
        from ..model.transforms import name_nodes_by_id

        if model.proto is None:
            raise ExplorerError("ONNX Runtime's assignment needs the model's ONNX graph", file=model.path)
        proto = onnx.ModelProto()
        proto.CopyFrom(model.proto)
        name_nodes_by_id(proto, model)  # the names ONNX Runtime reports are then explorer ids
        try:
            data = proto.SerializeToString()
        except ValueError as exc:  # over protobuf's 2 GiB
            raise ExplorerError(f"the model cannot be handed to ONNX Runtime in one piece: {exc}",
                                file=model.path, hint="save its weights as external data") from None
        try:
            raw = self.worker.submit(data, model.path or "",
                                     json.dumps(self.providers)).result()
        except TaskCrashed as exc:
            raise ModelError(f"ONNX Runtime {exc} while assigning providers", file=model.path) from None
        except TaskFailed as exc:
            error = ModelError if exc.kind == "ModelError" else ExplorerError
            raise error(exc.message.strip()[:2000] or "ONNX Runtime failed", file=model.path) from None
        self.assignment = EpAssignment.from_json(raw)
        self.label = self.assignment.label
        self.version = self.assignment.ort_version
        self.notes = self.assignment.notes()
        return verdicts_from_assignment(model, self.assignment)

    stop = _ParserJudge.stop  # kill the child now (cancel), as the parsers' judge does

    def close(self) -> None:
        self.worker.close()


def _cpu_only(providers: list[str]) -> bool:
    """Whether an ONNX Runtime session with these providers (none: its defaults) stays on the host."""
    host = {"CPUExecutionProvider", "AzureExecutionProvider"}
    if providers:
        return set(providers) <= host
    from importlib import metadata

    for dist in ("onnxruntime-gpu", "onnxruntime-directml", "onnxruntime-openvino", "onnxruntime-qnn"):
        try:
            metadata.version(dist)
            return False
        except metadata.PackageNotFoundError:
            continue
    return True


def _choose_source(source: str | None, trt_version: str | None, required: bool = False):
    """Pick a real parser or a support matrix, and say why in the report's notes."""
    from ..trt import TENSORRT, TENSORRT_RTX, best_library, installed_version, library_for, parser_available

    notes: list[str] = []
    library = None
    if source in ("tensorrt", "tensorrt-rtx"):
        library = library_for(source)
        if trt_version is not None and library is TENSORRT_RTX:
            raise ExplorerError("trt_version picks a support matrix; source='tensorrt-rtx' is TensorRT-RTX's "
                                "own parser (leave trt_version out, or use source='matrix')")
        ok, why = parser_available(library)
        if not ok:
            raise ExplorerError(f"the {library.title} parser was requested but cannot be used: {why}",
                                hint="source='matrix' gives the support-matrix prediction")
        if trt_version is not None:
            installed = installed_version(library) or ""
            if not _same_minor(trt_version, installed):
                raise ExplorerError(f"trt_version={trt_version} was asked for but TensorRT {installed} is "
                                    "installed; source='matrix' predicts for other versions")
    elif source in ("auto", None):
        ok, why = parser_available(TENSORRT)
        if ok and (trt_version is None or _same_minor(trt_version, installed_version(TENSORRT) or "")):
            library = TENSORRT
        elif source == "auto" and trt_version is None:
            library = best_library()
            if library is None:
                why = "; ".join(parser_available(lib)[1] for lib in (TENSORRT, TENSORRT_RTX))
        if library is None:
            if required:
                raise ExplorerError(f"a real TensorRT parser was requested but cannot be used: {why}")
            if trt_version is None:
                notes.append(f"TensorRT parser not used: {why}")
    if library is not None:
        return _ParserJudge(library), notes

    from .matrix import load_matrix

    matrix = load_matrix(trt_version)
    note = getattr(matrix, "note", None)
    if note:
        notes.append(note)
    return _MatrixJudge(matrix), notes


def _same_minor(wanted: str, installed: str) -> bool:
    return wanted.split(".")[:2] == installed.split(".")[:2]


def _run(model: Model, judge, notes: list[str], min_block_size: int, require_mac: bool) -> SupportReport:
    verdicts = judge(model)
    opset_issue = None
    if judge.matrix is not None:
        from .rules import check_opset

        opset_issue = check_opset(model, judge.matrix)
    for v in verdicts:
        v.source = judge.label
    partitions = _partitions(model, verdicts, min_block_size, require_mac)
    notes = list(notes) + list(getattr(judge, "notes", ()))
    return SupportReport(model=model.name, source=judge.label, trt_version=judge.version, verdicts=verdicts,
                         partitions=partitions, min_block_size=min_block_size, require_mac=require_mac,
                         opset_issue=opset_issue, notes=notes + list(model.warnings),
                         assignment=getattr(judge, "assignment", None))


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


def verdicts_from_parser(model: Model, result) -> list[NodeVerdict]:
    """The real parser's :class:`~explorer.trt.ModelVerdicts` as the report's verdicts, by node id.

    The parser numbers nodes by their position in the ONNX file (``file_index``); body nodes by their
    owner's position and the body's attribute name (``then_branch``, ``body``...), which are the keys of
    ``Node.subgraphs``. "unknown" (the parser could not be made to say) counts as unsupported, its reason
    says so; "not imported" (the branch an If with a constant condition does not take) as supported."""
    from ..trt.verdicts import NOT_IMPORTED, SUPPORTED, UNSUPPORTED

    main = {v.index: v for v in result.nodes if not v.path}
    bodies: dict[tuple, dict[int, object]] = {}
    for v in result.nodes:
        if v.path:
            bodies.setdefault(v.path, {})[v.index] = v

    def convert(node, judged, path) -> NodeVerdict:
        if judged is None:
            ok, reasons, caveats = False, ["the parser gave no verdict for this node"], ()
        elif judged.status == SUPPORTED:
            ok, reasons, caveats = True, (), ()
        elif judged.status == NOT_IMPORTED:
            ok, reasons, caveats = True, (), [judged.how]
        elif judged.status == UNSUPPORTED:
            message = judged.message or judged.how
            code = judged.error.code if judged.error is not None and judged.error.code else ""
            ok, reasons, caveats = False, [message + (f" [{code}]" if code else "")], ()
        else:
            ok, reasons, caveats = False, [f"no verdict from the parser: {judged.how}"], ()
        children: list[NodeVerdict] | tuple = ()
        if node.subgraphs:
            children = []
            for key, body in node.subgraphs.items():
                inner = bodies.get(path + ((node.file_index, key),), {})
                for child in body.nodes:
                    verdict = convert(child, inner.get(child.file_index), path + ((node.file_index, key),))
                    children.append(verdict)
                    children.extend(verdict.children)  # flat, like the matrix's children
                    verdict.children = ()
        return NodeVerdict(node.id, node.name, node.op_type, node.domain, ok, reasons, caveats, (),
                           children=children)

    return [convert(node, main.get(node.file_index), ()) for node in model.graph.nodes]


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


# ------------------------------------------------------------------------------------ in the background

class AnalysisCancelled(ExplorerError):
    """A background analysis was cancelled before it had an answer."""


class AnalysisJob:
    """:func:`analyze` on a background thread, its parser in a child process: the notebook never waits.

    ``job.result(timeout)`` returns the :class:`SupportReport` (or raises its error, :class:`AnalysisCancelled`
    after :meth:`cancel`); ``job.add_done_callback(fn)`` calls ``fn(job)`` when it ends, on the job's
    thread; ``job.progress`` says what it is doing, in words, with the seconds so far."""

    def __init__(self, model: Model, *, source: str | None = "auto", **options) -> None:
        self.model = model
        self.source = source
        self.future: futures.Future[SupportReport] = futures.Future()
        self.started = time.monotonic()
        self._phase = "starting"
        self._judge: _ParserJudge | _MatrixJudge | _OrtJudge | None = None
        self._cancel = threading.Event()
        self._lock = threading.Lock()
        name = _source_name(source, options.pop("use_parser", None))
        self._thread = threading.Thread(target=self._run, args=(name, options), daemon=True,
                                        name="explorer-analysis")
        self._thread.start()

    @property
    def progress(self) -> str:
        return f"{self._phase} ({time.monotonic() - self.started:.1f} s)"

    def done(self) -> bool:
        return self.future.done()

    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> bool:
        """Stop the analysis (its parser's child is killed); False when it had already ended."""
        self._cancel.set()
        with self._lock:
            judge = self._judge
        if isinstance(judge, (_ParserJudge, _OrtJudge)):
            judge.stop()
        return not self.future.done()

    def result(self, timeout: float | None = None) -> SupportReport:
        try:
            return self.future.result(timeout)
        except futures.TimeoutError:
            if self.future.done():
                raise
            raise TimeoutError(f"the analysis is still running after {timeout} s") from None

    def add_done_callback(self, fn: Callable[["AnalysisJob"], None]) -> None:
        self.future.add_done_callback(lambda _: fn(self))

    def _keep(self, judge) -> None:
        with self._lock:
            self._judge = judge
        self._phase = f"judging {len(self.model.nodes)} nodes with the {judge.label}"
        if self._cancel.is_set() and isinstance(judge, (_ParserJudge, _OrtJudge)):
            judge.stop()

    def _run(self, source, options) -> None:
        try:
            report = _analyze(self.model, source, options.get("trt_version"),
                              options.get("min_block_size", DEFAULT_MIN_BLOCK_SIZE), options.get("require_mac", False),
                              options.get("fold_constants", False), required=source in ("tensorrt", "tensorrt-rtx"),
                              on_judge=self._keep, providers=options.get("providers"))
        except BaseException as exc:  # delivered through the future, as the caller's error
            if self._cancel.is_set():
                exc = AnalysisCancelled("the analysis was cancelled", file=self.model.path)
            self._phase = "cancelled" if self._cancel.is_set() else f"failed: {exc}"
            self.future.set_exception(exc)
            return
        if self._cancel.is_set():
            self._phase = "cancelled"
            self.future.set_exception(AnalysisCancelled("the analysis was cancelled", file=self.model.path))
            return
        self._phase = f"done: {report.source}"
        self.future.set_result(report)


def start_analysis(model: Model | ModelSource, *, source: str | None = "auto", **options) -> AnalysisJob:
    """:func:`analyze` in the background (the app's real-parser verdicts): returns at once.

    ``source`` defaults to ``"auto"`` (the best real parser here); ``options`` are :func:`analyze`'s."""
    if not isinstance(model, Model):
        model = load_model(model)
    if "min_block_size" in options:
        options["min_block_size"] = _block_size(options["min_block_size"])
    _source_name(source, options.get("use_parser"))  # a bad source fails here, not on the job's thread
    return AnalysisJob(model, source=source, **options)


def verdicts_from_assignment(model, assignment: EpAssignment) -> list:
    """The report's verdicts from ONNX Runtime's assignment: supported = taken by a TensorRT provider."""
    by_node = {n.node: n for n in assignment.nodes}
    label = assignment.label

    def verdict(node, providers, removed: str):
        if not providers:
            return NodeVerdict(node.id, node.name, node.op_type, node.domain, False,
                               [f"{removed or ASSIGNMENT_REMOVED} ({label})"])
        if all(p in ASSIGNMENT_TRT_PROVIDERS for p in providers):
            return NodeVerdict(node.id, node.name, node.op_type, node.domain, True)
        others = ", ".join(p for p in providers if p not in ASSIGNMENT_TRT_PROVIDERS)
        return NodeVerdict(node.id, node.name, node.op_type, node.domain, False, [f"assigned to {others} ({label})"])

    out = []
    for node in model.graph.nodes:
        a = by_node.get(node.id)
        v = verdict(node, a.providers if a else (), a.removed if a else "")
        if node.subgraphs:  # body nodes, flat, as the other sources give them
            v.children = [verdict(child, assignment.bodies.get(_local_name(child), ()), "")
                          for body in node.subgraphs.values() for child in body.walk()]
        out.append(v)
    return out


def _local_name(node) -> str:
    """The name a body node carries inside its body once nodes are named by id (its id without its parent's,
    as :func:`explorer.model.transforms.name_nodes_by_id` writes it)."""
    if node.parent and node.id.startswith(node.parent + "/"):
        return node.id[len(node.parent) + 1:]
    return node.id
