"""Models TensorRT cannot take whole: each supported partition built as its own engine, the rest left to the
framework -- what ONNX Runtime's TensorRT provider and Torch-TensorRT do.

    from explorer.backends.build import build_partitions
    result = build_partitions("model.onnx", backend="tensorrt-rtx", min_block_size=5)
    for engine in result.engines:        # one BuildReport per TensorRT partition (None + error if it failed)
        print(engine.partition.nodes, engine.report and len(engine.report.fusions))
    for node in result.framework:        # nodes left to the framework, with the parser's reasons
        print(node.node, node.op, node.reasons)

Verdicts and partitions are the Partitions view's own: :func:`explorer.support.analyze` with the library's
real ONNX parser as the source (TensorRT-RTX's or TensorRT's, in a child process: every node, polygraphy-style
re-checks; acyclic cuts, then ``min_block_size``); each partition is cut out with
``onnx.utils.Extractor`` (after shape inference, so its inputs keep their shapes) and built by
:func:`~explorer.backends.jobs.build` in the build worker, one after the other.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from typing import Any, Callable

from ...engine.report import BuildReport
from ...errors import BuildError, ExplorerError
from ...support.partition import Partition


@dataclass
class FrameworkNode:
    """A node left to the framework, and why: the parser's words, or the partitioner's (min_block_size)."""

    node: str
    op: str
    reasons: list[str] = field(default_factory=list)
    partition: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"node": self.node, "op": self.op, "reasons": list(self.reasons), "partition": self.partition}


@dataclass
class PartitionEngine:
    """One TensorRT partition and the engine built from it (``report`` None and ``error`` set when the build
    failed: the partition is then listed, with why)."""

    partition: Partition
    inputs: list[str]
    outputs: list[str]
    model_path: str
    report: BuildReport | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe; ``report`` as :meth:`BuildReport.to_dict` (the object ``inspect --json`` prints)."""
        return {"partition": self.partition.to_dict(), "inputs": list(self.inputs), "outputs": list(self.outputs),
                "model_path": self.model_path, "error": self.error,
                "report": self.report.to_dict() if self.report is not None else None}


@dataclass
class PartitionedBuild:
    model_path: str
    backend: str
    verdict_source: str  # e.g. "TensorRT-RTX 1.7.1.116 ONNX parser"
    min_block_size: int
    partitions: list[Partition]
    engines: list[PartitionEngine]
    framework: list[FrameworkNode]
    notes: list[str] = field(default_factory=list)

    @property
    def nodes_in_engines(self) -> int:
        return sum(len(e.partition.nodes) for e in self.engines)

    def to_dict(self) -> dict[str, Any]:
        return {"model_path": self.model_path, "backend": self.backend, "verdict_source": self.verdict_source,
                "min_block_size": self.min_block_size, "partitions": [p.to_dict() for p in self.partitions],
                "engines": [e.to_dict() for e in self.engines], "framework": [f.to_dict() for f in self.framework],
                "nodes_in_engines": self.nodes_in_engines, "notes": list(self.notes)}


def build_partitions(model: Any, backend: str = "tensorrt-rtx", min_block_size: int = 5, *,
                     workdir: str | None = None, on_engine: Callable[[int, int], None] | None = None,
                     **build_options: Any) -> PartitionedBuild:
    """Partition ``model`` by its ONNX parser's verdicts and build every TensorRT partition as an engine.

    ``backend``: "tensorrt-rtx" (or "tensorrt" where TensorRT can build); ``min_block_size``: smaller
    TensorRT partitions go back to the framework (Torch-TensorRT's default is 5); ``build_options``: as
    :func:`~explorer.backends.jobs.build` (precision, shapes, compute_capability...; a ``cancel`` event stops
    the running engine's build and the loop before the next one). ``on_engine(k, n)`` is called before the
    k-th of n engines is built (an app's "engine k of n"). Raises
    :class:`BuildError` when the model cannot be read or judged at all; a partition that fails to build is
    reported in its :class:`PartitionEngine`.
    """
    import onnx

    from ...model import Model, load_model
    from ...support import analyze
    from .job import build

    if backend not in ("tensorrt", "tensorrt-rtx"):
        raise BuildError(f"partitioned builds are for TensorRT backends, not {backend!r}")
    path = model.path if isinstance(model, Model) else os.fspath(model)
    if not path or not os.path.isfile(path):
        raise BuildError("partitioned builds need a model file", file=str(path))
    loaded = load_model(path)
    try:  # the same verdicts and partitions the Partitions view shows for this parser
        report = analyze(loaded, source=backend, min_block_size=int(min_block_size))
    except ExplorerError as exc:
        raise BuildError(f"the ONNX parser could not judge the model: {exc}", file=path) from None
    nodes = loaded.graph.nodes
    position = {name: i for i, node in enumerate(nodes) for name in node.outputs if name}
    place = {node.id: i for i, node in enumerate(nodes)}
    partitions = report.partitions
    groups = [[place[n] for n in part.nodes] for part in partitions]
    verdict_of = {v.node: v for v in report.verdicts}
    framework = [FrameworkNode(node=n, op=verdict_of[n].op, partition=part.index,
                               reasons=list(verdict_of[n].reasons) or ([part.demoted] if part.demoted else []))
                 for part in partitions if not part.supported for n in part.nodes]

    folder = workdir or tempfile.mkdtemp(prefix="explorer-partitions-")
    inferred = _inferred_copy(path, folder)
    outputs_of_graph = set(loaded.graph.output_names)
    initializers = set(loaded.graph.initializers)
    engines = []
    cancel = build_options.get("cancel")
    wanted = sum(1 for part in partitions if part.supported)
    for part, members in zip(partitions, groups):
        if not part.supported:
            continue
        if cancel is not None and cancel.is_set():
            break  # cancelled: the engines built so far are kept, the rest are not started
        if on_engine is not None:
            on_engine(len(engines) + 1, wanted)
        inside = set(members)
        produced = {t for i in members for t in nodes[i].outputs if t}
        ins = []
        for i in members:
            for t in nodes[i].inputs:
                if t and t not in produced and t not in initializers and t not in ins and \
                        not (t in position and position[t] in inside):
                    ins.append(t)
        outs = []
        for i in members:
            for t in nodes[i].outputs:
                if not t:
                    continue
                read_outside = any(place[c.id] not in inside for c in loaded.graph.consumers.get(t, []))
                if (t in outputs_of_graph or read_outside) and t not in outs:
                    outs.append(t)
        sub_path = os.path.join(folder, f"partition_{part.index}.onnx")
        engine = PartitionEngine(partition=part, inputs=ins, outputs=outs, model_path=sub_path)
        try:
            extracted = onnx.utils.Extractor(inferred).extract_model(ins, outs)
            onnx.save_model(extracted, sub_path)
            engine.report = build(sub_path, backend=backend, runs=1, warmup=0, **build_options)
        except ExplorerError as exc:
            engine.error = str(exc)
        except Exception as exc:  # onnx's extractor on a partition it cannot cut
            engine.error = f"{type(exc).__name__}: {exc}"
        engines.append(engine)
    # the verdicts' parser names itself ("TensorRT-RTX 1.7.1 parser"): say ONNX parser once
    verdict_source = report.source.removesuffix(" parser") + " ONNX parser"
    notes = [] if len(engines) == wanted else [f"cancelled: {len(engines)} of {wanted} engine(s) started"]
    notes += [f"{len(engines)} TensorRT partition(s) built as engines by {backend}; {len(framework)} node(s) left "
             f"to the framework (verdicts: {verdict_source}; min_block_size={min_block_size})"]
    return PartitionedBuild(model_path=path, backend=backend, verdict_source=verdict_source,
                            min_block_size=int(min_block_size), partitions=partitions, engines=engines,
                            framework=framework, notes=notes)


def _inferred_copy(path: str, folder: str):
    """The model with inferred shapes (the extracted partitions' inputs need them), loaded."""
    import onnx

    try:
        proto = onnx.load(path)
        return onnx.shape_inference.infer_shapes(proto, data_prop=True)
    except Exception as exc:
        raise BuildError(f"cannot read or shape-infer the model for partitioning: {exc}", file=path) from exc


__all__ = ["FrameworkNode", "PartitionEngine", "PartitionedBuild", "build_partitions"]
