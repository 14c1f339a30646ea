"""What the support analysis found, as plain data: verdicts per node, partitions, and their summary."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from typing import Any, TextIO

from ..errors import printable
from .assignment import EpAssignment
from .partition import Partition

#: names longer than this are shortened in the text summary (a 1 MB node name must not flood a terminal)
NAME_CHARS = 120

#: Version of the JSON layout of :meth:`SupportReport.to_dict` / ``write_json`` (``analyze --json``).
#: 2: one record per node with only what is not a default (``name`` when it differs from ``node``,
#: ``domain`` when not the default one, ``source`` when not the report's); reasons, caveats, warnings and
#: fallback reasons as indices into ``strings``; partitions and the unsupported/fallback groups list their
#: nodes as ``members``, positions in ``nodes``. (1 repeated every string per node: 340 bytes a node.)
SCHEMA = 2


class _Strings:
    """The distinct texts of a report, each written once; records refer to them by index."""

    __slots__ = ("texts", "_index")

    def __init__(self) -> None:
        self.texts: list[str] = []
        self._index: dict[str, int] = {}

    def index(self, text: str) -> int:
        i = self._index.get(text)
        if i is None:
            i = self._index[text] = len(self.texts)
            self.texts.append(text)
        return i


@dataclass(slots=True)
class NodeVerdict:
    """Whether TensorRT takes one node, why, and where the node ended up."""

    node: str  # the unique id used everywhere
    name: str  # the name the exporter wrote ('' when unnamed)
    op: str
    domain: str
    supported: bool
    reasons: list[str] = field(default_factory=list)  # why not (empty when supported)
    caveats: list[str] = field(default_factory=list)  # restrictions that cannot be checked statically
    warnings: list[str] = field(default_factory=list)
    partition: int | None = None
    in_tensorrt: bool = False  # supported *and* inside a TensorRT partition after min_block_size
    fallback_reason: str | None = None  # supported but sent back to the framework
    children: list["NodeVerdict"] = field(default_factory=list)  # If/Loop/Scan body nodes
    source: str = ""  # where the verdict comes from: "TensorRT-RTX 1.7.1 parser", "support-matrix 10.15 (prediction)"

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons)

    def to_dict(self) -> dict[str, Any]:
        data = {
            "node": self.node, "name": self.name, "op": self.op, "domain": self.domain,
            "supported": self.supported, "reason": self.reason, "caveats": list(self.caveats),
            "warnings": list(self.warnings), "partition": self.partition, "in_tensorrt": self.in_tensorrt,
            "fallback_reason": self.fallback_reason, "source": self.source,
        }
        if self.children:
            data["children"] = [c.to_dict() for c in self.children]
        return data


@dataclass(frozen=True)
class Disagreement:
    """A node on which two sources (a prediction and a real parser) give different verdicts."""

    node: str
    name: str
    op: str
    first_source: str
    first_supported: bool
    first_reason: str
    second_source: str
    second_supported: bool
    second_reason: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def disagreements(first: "SupportReport", second: "SupportReport") -> list[Disagreement]:
    """Main-graph nodes whose verdicts differ between two reports of the same model, with both reasons."""
    other = {v.node: v for v in second.verdicts}
    out = []
    for v in first.verdicts:
        w = other.get(v.node)
        if w is not None and w.supported != v.supported:
            out.append(Disagreement(v.node, v.name, v.op, first.source, v.supported, _why(v), second.source,
                                    w.supported, _why(w)))
    return out


def _why(v: NodeVerdict) -> str:
    """An unsupported verdict's reasons; for a supported one, "supported" plus any caveat that names
    TensorRT-RTX (a known difference of the two libraries, e.g. NonZero)."""
    if not v.supported:
        return v.reason or "unsupported"
    known = [c for c in v.caveats if "TensorRT-RTX" in c]
    return "supported" + (f" ({known[0]})" if known else "")


@dataclass
class FoldingSummary:
    """How constant folding changed the picture (nodes and partitions before and after)."""

    tool: str
    nodes_before: int
    nodes_after: int
    removed: list[str]
    engines_before: int
    engines_after: int
    partitions_before: int
    partitions_after: int
    coverage_before: float
    coverage_after: float

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class SupportReport:
    """The answer to "what will TensorRT take?" for one model, with where the answer came from."""

    model: str
    source: str  # "TensorRT-RTX 1.7.1 parser", "TensorRT 10.15.1 parser" or "support-matrix X.Y (prediction)"
    trt_version: str
    verdicts: list[NodeVerdict]  # main graph, topological order
    partitions: list[Partition]
    min_block_size: int = 1
    require_mac: bool = False
    fold_constants: bool = False
    folding: FoldingSummary | None = None
    opset_issue: str | None = None
    notes: list[str] = field(default_factory=list)
    assignment: EpAssignment | None = None  # ONNX Runtime's own answer, with source="onnxruntime"

    # ------------------------------------------------------------------ counts (over the main graph)
    @property
    def nodes_total(self) -> int:
        return len(self.verdicts)

    @property
    def nodes_supported(self) -> int:
        return sum(1 for v in self.verdicts if v.supported)

    @property
    def nodes_in_tensorrt(self) -> int:
        return sum(1 for v in self.verdicts if v.in_tensorrt)

    @property
    def coverage(self) -> float:
        """Fraction of nodes that run inside TensorRT engines (after min_block_size)."""
        return self.nodes_in_tensorrt / self.nodes_total if self.verdicts else 0.0

    # ------------------------------------------------------------------ counts with If/Loop/Scan bodies
    # A control-flow node holds whole subgraphs (silero-vad's one If holds 684 of its 689 nodes): counting
    # top-level nodes alone says "80%" of a model whose work is nearly all in the unsupported If. A body node
    # runs where its top-level node runs (inside an engine with it, or in the framework).
    @property
    def nodes_total_with_bodies(self) -> int:
        return sum(1 + len(_body_nodes(v)) for v in self.verdicts)

    @property
    def body_nodes(self) -> int:
        """Nodes inside If/Loop/Scan bodies (at any depth)."""
        return self.nodes_total_with_bodies - self.nodes_total

    @property
    def nodes_supported_with_bodies(self) -> int:
        return sum(int(v.supported) + sum(1 for c in _body_nodes(v) if c.supported) for v in self.verdicts)

    @property
    def nodes_in_tensorrt_with_bodies(self) -> int:
        return sum(1 + len(_body_nodes(v)) for v in self.verdicts if v.in_tensorrt)

    @property
    def coverage_with_bodies(self) -> float:
        """Fraction of all nodes, bodies included, that run inside TensorRT engines."""
        total = self.nodes_total_with_bodies
        return self.nodes_in_tensorrt_with_bodies / total if total else 0.0

    def coverage_text(self) -> str:
        """Nodes in TensorRT engines, e.g. "4/5 top-level (80.0%); with If/Loop/Scan bodies 9/17 (52.9%)"
        (the second part only when the model has bodies)."""
        text = f"{self.nodes_in_tensorrt}/{self.nodes_total} top-level ({self._pct(self.nodes_in_tensorrt)})"
        if self.body_nodes:
            text += (f"; with If/Loop/Scan bodies {self.nodes_in_tensorrt_with_bodies}/"
                     f"{self.nodes_total_with_bodies} ({self.coverage_with_bodies:.1%})")
        return text

    def partition_body_nodes(self, partition: Partition) -> int:
        """Nodes inside the bodies of a partition's control-flow nodes."""
        return self._body_counts().get(partition.index, 0)

    @property
    def engines(self) -> int:
        """Number of TensorRT engines a framework integration would create."""
        return sum(1 for p in self.partitions if p.supported)

    @property
    def fallback_nodes(self) -> list[NodeVerdict]:
        """Nodes that run in the framework: unsupported ones and supported ones sent back."""
        return [v for v in self.verdicts if not v.in_tensorrt]

    @property
    def unsupported(self) -> list[NodeVerdict]:
        return [v for v in self.verdicts if not v.supported]

    def verdict(self, node_id: str) -> NodeVerdict:
        for v in self.verdicts:
            if v.node == node_id:
                return v
        raise KeyError(node_id)

    # ------------------------------------------------------------------ views
    def _body_counts(self) -> dict[int, int]:
        """Partition index -> nodes inside the bodies of its control-flow nodes (one pass over the verdicts)."""
        counts: dict[int, int] = {}
        for v in self.verdicts:
            if v.children and v.partition is not None:
                counts[v.partition] = counts.get(v.partition, 0) + len(_body_nodes(v))
        return counts

    def to_dict(self) -> dict[str, Any]:
        """Everything in the report as plain data (:data:`SCHEMA`): the object ``write_json`` writes."""
        data = self._header()
        strings = _Strings()
        data["nodes"] = [record for chunk in self._node_chunks(strings) for record in chunk]
        data.update(self._tail(strings))
        return data

    def to_json(self, **kwargs) -> str:
        """The report as one JSON document: compact, or as ``json.dumps(to_dict(), **kwargs)`` says."""
        if kwargs:
            return json.dumps(self.to_dict(), **kwargs)
        out = io.StringIO()
        self.write_json(out)
        return out.getvalue()

    def write_json(self, stream: TextIO, chunk: int = 4096) -> None:
        """Write the report as one compact JSON document, the node records as they are made (``chunk`` at a
        time), so a 100k-node report never exists as one big dict or string."""
        encode = json.JSONEncoder(separators=(",", ":")).encode
        head = encode(self._header())
        stream.write(head[:-1] + ',"nodes":[')
        strings = _Strings()
        first = True
        for records in self._node_chunks(strings, chunk):
            if records:
                text = encode(records)
                stream.write(text[1:-1] if first else "," + text[1:-1])
                first = False
        stream.write("]," + encode(self._tail(strings))[1:] + "\n")

    def _header(self) -> dict[str, Any]:
        """Counts and settings: everything before the node records."""
        total = supported = in_trt = 0
        total_b = supported_b = in_trt_b = 0
        for v in self.verdicts:
            body = _body_nodes(v) if v.children else ()
            total += 1
            supported += v.supported
            in_trt += v.in_tensorrt
            total_b += 1 + len(body)
            supported_b += v.supported + sum(1 for c in body if c.supported)
            if v.in_tensorrt:
                in_trt_b += 1 + len(body)
        return {
            "schema": SCHEMA,
            "model": self.model,
            "source": self.source,
            "trt_version": self.trt_version,
            "nodes_total": total,
            "nodes_supported": supported,
            "nodes_in_tensorrt": in_trt,
            "coverage": round(in_trt / total, 6) if total else 0.0,
            "body_nodes": total_b - total,
            "nodes_total_with_bodies": total_b,
            "nodes_supported_with_bodies": supported_b,
            "nodes_in_tensorrt_with_bodies": in_trt_b,
            "coverage_with_bodies": round(in_trt_b / total_b, 6) if total_b else 0.0,
            "engines": self.engines,
            "min_block_size": self.min_block_size,
            "require_mac": self.require_mac,
            "fold_constants": self.fold_constants,
            "folding": self.folding.to_dict() if self.folding else None,
            "opset_issue": self.opset_issue,
            "notes": list(self.notes),
            "assignment": json.loads(self.assignment.to_json()) if self.assignment else None,
        }

    def _node_chunks(self, strings: "_Strings", size: int = 4096):
        """The node records (:data:`SCHEMA`), ``size`` at a time; texts go to ``strings`` as indices."""
        source = self.source
        index = strings.index
        verdicts = self.verdicts

        def record(v: NodeVerdict, top: bool) -> dict[str, Any]:
            r: dict[str, Any] = {"node": v.node, "op": v.op, "supported": v.supported}
            if top:
                r["partition"] = v.partition
                r["in_tensorrt"] = v.in_tensorrt
            if v.name != v.node:
                r["name"] = v.name
            if v.domain:
                r["domain"] = v.domain
            if v.reasons:
                r["reasons"] = [index(t) for t in v.reasons]
            if v.caveats:
                r["caveats"] = [index(t) for t in v.caveats]
            if v.warnings:
                r["warnings"] = [index(t) for t in v.warnings]
            if v.fallback_reason:
                r["fallback_reason"] = index(v.fallback_reason)
            if v.source and v.source != source:
                r["source"] = v.source
            if v.children:
                r["children"] = [record(c, False) for c in v.children]
            return r

        for start in range(0, len(verdicts), size):
            yield [record(v, True) for v in verdicts[start:start + size]]

    def _tail(self, strings: "_Strings") -> dict[str, Any]:
        """What follows the node records: the partitions, the unsupported and fallback groups, the texts."""
        bodies = self._body_counts()
        position = {v.node: i for i, v in enumerate(self.verdicts)}
        partitions = [{"index": p.index, "supported": p.supported, "size": p.size,
                       "members": [position[n] for n in p.nodes], "demoted": p.demoted, "ops": dict(p.ops),
                       "body_nodes": bodies.get(p.index, 0)} for p in self.partitions]
        unsupported: dict[tuple[str, str, str], list[int]] = {}
        fallback: dict[str, list[int]] = {}
        for i, v in enumerate(self.verdicts):
            if not v.supported:
                unsupported.setdefault((v.op, v.domain, v.reason), []).append(i)
            elif not v.in_tensorrt:
                fallback.setdefault(v.fallback_reason or "", []).append(i)
        return {
            "partitions": partitions,
            "unsupported": [{"op": op, "domain": domain, "reason": reason, "count": len(m), "members": m}
                            for (op, domain, reason), m in unsupported.items()],
            "fallback": [{"reason": reason, "count": len(m), "members": m} for reason, m in fallback.items()],
            "strings": strings.texts,
        }

    def nodes_frame(self):
        """One row per main-graph node: verdict, reason, partition."""
        import pandas as pd

        return pd.DataFrame([{
            "node": v.node, "name": v.name, "op": v.op, "domain": v.domain, "supported": v.supported,
            "in_tensorrt": v.in_tensorrt, "partition": v.partition, "reason": v.reason,
            "fallback_reason": v.fallback_reason, "caveats": "; ".join(v.caveats), "source": v.source or self.source,
        } for v in self.verdicts])

    def partitions_frame(self):
        import pandas as pd

        return pd.DataFrame([{
            "partition": p.index, "runs_in": "TensorRT" if p.supported else "framework", "nodes": p.size,
            "first": p.nodes[0] if p.nodes else "", "last": p.nodes[-1] if p.nodes else "",
            "ops": ", ".join(f"{op}x{n}" if n > 1 else op for op, n in p.ops.items()),
            "demoted": p.demoted or "",
        } for p in self.partitions])

    def unsupported_frame(self):
        """Unsupported nodes grouped like ``polygraphy inspect capability``: operator, count, reason, nodes."""
        import pandas as pd

        rows: dict[tuple[str, str], list[str]] = {}
        for v in self.unsupported:
            op = v.op if v.domain in ("", "ai.onnx") else f"{v.domain}::{v.op}"
            rows.setdefault((op, v.reason), []).append(v.node)
        return pd.DataFrame([{"operator": op, "count": len(nodes), "reason": reason, "nodes": nodes}
                             for (op, reason), nodes in rows.items()],
                            columns=["operator", "count", "reason", "nodes"])

    def summary(self, max_rows: int = 20) -> str:
        """A readable report in the spirit of Torch-TensorRT's dry run.

        Names are data: control characters in them are shown as escapes, very long ones are shortened."""
        def name(text: str) -> str:
            return printable(text, NAME_CHARS)

        lines = [
            f"TensorRT support for {name(self.model)}",
            f"  source: {self.source}",
        ]
        lines += [f"  note: {printable(n, 2000)}" for n in self.notes]
        if self.opset_issue:
            lines.append(f"  opset: {printable(self.opset_issue)}")
        lines += [
            f"  nodes: {self.nodes_total} total, {self.nodes_supported} supported "
            f"({self._pct(self.nodes_supported)}), {self.nodes_in_tensorrt} in TensorRT engines "
            f"({self._pct(self.nodes_in_tensorrt)})",
        ]
        if self.body_nodes:
            total = self.nodes_total_with_bodies
            lines.append(f"  with If/Loop/Scan bodies: {total} nodes ({self.body_nodes} in bodies), "
                         f"{self.nodes_supported_with_bodies} supported ({self.nodes_supported_with_bodies / total:.1%}), "
                         f"{self.nodes_in_tensorrt_with_bodies} in TensorRT engines ({self.coverage_with_bodies:.1%})")
        lines += [
            f"  partitions: {len(self.partitions)} ({self.engines} TensorRT engine"
            f"{'s' if self.engines != 1 else ''}, {len(self.partitions) - self.engines} framework)"
            f"  min_block_size={self.min_block_size}" + ("  require_mac" if self.require_mac else ""),
        ]
        if self.folding:
            f = self.folding
            lines.append(f"  constant folding ({f.tool}): {f.nodes_before} -> {f.nodes_after} nodes, "
                         f"engines {f.engines_before} -> {f.engines_after}, coverage "
                         f"{f.coverage_before:.1%} -> {f.coverage_after:.1%}")
        lines.append("")
        lines.append("  Partitions")
        bodies = self._body_counts()
        for p in self.partitions[:max_rows]:
            where = "TensorRT " if p.supported else "framework"
            span = name(p.nodes[0]) if p.size == 1 else f"{name(p.nodes[0])} ... {name(p.nodes[-1])}"
            extra = f"  <- {printable(p.demoted, 500)}" if p.demoted else ""
            inside = bodies.get(p.index, 0)
            more = f" (+{inside} in bodies)" if inside else ""
            lines.append(f"    #{p.index:<3} {where}  {p.size:>6} nodes{more}  {span}{extra}")
        if len(self.partitions) > max_rows:
            lines.append(f"    ... {len(self.partitions) - max_rows} more")
        unsupported = self.unsupported
        if unsupported:
            lines.append("")
            lines.append(f"  Unsupported nodes ({len(unsupported)})")
            for v in unsupported[:max_rows]:
                lines.append(f"    {name(v.node)} ({name(v.op)}): {printable(v.reason, 1000)}")
            if len(unsupported) > max_rows:
                lines.append(f"    ... {len(unsupported) - max_rows} more")
        return "\n".join(printable(line) for line in lines)

    def _pct(self, n: int) -> str:
        """``n`` as a share of the top-level nodes."""
        return f"{n / self.nodes_total:.1%}" if self.nodes_total else "n/a"

    def __str__(self) -> str:
        return self.summary()


def _body_nodes(verdict: NodeVerdict) -> list[NodeVerdict]:
    """Every node inside ``verdict``'s If/Loop/Scan bodies, nested ones included."""
    out, stack = [], list(verdict.children)
    while stack:
        child = stack.pop()
        out.append(child)
        stack.extend(child.children)
    return out
