"""ONNX Runtime's profiler trace: reading the file ``end_profiling()`` writes, and per-node durations per run.

Node events are grouped by the ``model_run`` session event they fall in; an If/Loop/Scan event spans its
body's events (:func:`nested_event_counts`), which the profiler correction (:mod:`.profiler`) needs.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np


@dataclass
class NodeProfile:
    """One node of the executed graph, over the measured runs."""

    name: str
    op_type: str | None = None
    provider: str | None = None
    durations_us: list[float] = field(default_factory=list)  # one per measured run it ran in (summed within a run)
    events_per_run: list[int] = field(default_factory=list)  # how often it ran in each of those runs (loop bodies)
    nested_per_run: list[int] = field(default_factory=list)  # node events inside its span (If/Loop/Scan bodies)
    parallel_sections: int = 0  # intra-op thread-pool sections in its first event (the profiler costs more)
    parameter_size: int | None = None
    activation_size: int | None = None
    output_size: int | None = None
    input_types: list = field(default_factory=list)
    output_types: list = field(default_factory=list)
    first_seen: int = 0


_STRING = r'"([^"\\\n]*(?:\\.[^"\\\n]*)*)"'
#: one node or session event as ONNX Runtime writes it, one per line: "cat", "pid", "tid", "dur", "ts", "ph", "name"
_EVENT = re.compile(r'"cat"\s*:\s*"(Node|Session)"[^\n]*?"dur"\s*:\s*(\d+)\s*,\s*"ts"\s*:\s*(\d+)\s*,[^\n]*?'
                    r'"name"\s*:\s*' + _STRING)


def _unescape(raw: str) -> str:
    return json.loads(f'"{raw}"') if "\\" in raw else raw


@dataclass
class Trace:
    """ONNX Runtime's profiler trace, reduced to what the report needs (arrays, one entry per event)."""

    names: list[str]  # distinct node names (``<node>_kernel_time`` without the suffix), in order of appearance
    first_args: dict[str, dict]  # name -> ``args`` of its first event (op_name, provider, types, sizes)
    node_name: Any  # int array: index into ``names`` for each node event
    node_ts: Any  # µs since the session started
    node_dur: Any  # µs
    run_ts: Any  # each ``model_run`` session event: start ...
    run_dur: Any  # ... and duration, µs
    last_args: dict = field(default_factory=dict)  # of the last node event: the arena's peak figures
    node_nested: Any = None  # int array: node events nested in each (at any depth: If/Loop/Scan bodies)

    def __post_init__(self) -> None:
        self.node_nested = nested_event_counts(self.node_ts, self.node_dur)


def nested_event_counts(ts, dur):
    """How many node events each event spans (at any depth), in file order.

    An ``If``, ``Loop`` or ``Scan`` event's duration covers its body's node events, and with them the
    profiler's work for each of those (recording their events), which the correction has to take off the
    container too. Sequential execution nests events strictly, so a stack over the events in start order
    finds each event's ancestors. Without nesting (most models) this is all zeros, found in one pass."""
    ts = np.asarray(ts, dtype=np.int64)
    dur = np.asarray(dur, dtype=np.float64)
    nested = np.zeros(ts.size, dtype=np.int64)
    if ts.size < 2:
        return nested
    order = np.lexsort((-dur, ts))  # by start; a container before the first node of its body
    end = ts[order] + dur[order]
    if not np.any(ts[order][1:] < np.maximum.accumulate(end)[:-1]):
        return nested
    stack: list[tuple[int, float]] = []  # (event index, end): the open containers
    for i, e in zip(order.tolist(), end.tolist()):
        start = float(ts[i])
        while stack and stack[-1][1] <= start:
            stack.pop()
        for parent, parent_end in stack:
            if e <= parent_end:
                nested[parent] += 1
        stack.append((i, e))
    return nested


def read_profile_file(path: str) -> Trace:
    """Read the trace ``end_profiling()`` wrote. It has one event per line and a long ``args`` per node event
    (200 runs of a 100-node model are 20,000 events): one regular-expression pass takes cat, dur, ts and
    name from every line, and ``args`` is decoded once per node. Another layout is read with ``json``."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if text.count("\n", 0, 4096) < 2:  # not one event per line
        return trace_from_events(json.loads(text))
    found = _EVENT.findall(text)  # [(cat, dur, ts, raw name)], in file order
    if not found and '"Node"' in text:
        return trace_from_events(json.loads(text))  # not the layout we know: the slow, sure way
    runs = [(int(ts), int(dur)) for cat, dur, ts, raw in found if cat == "Session" and raw == "model_run"]
    nodes = [(raw, dur, ts) for cat, dur, ts, raw in found if cat == "Node" and raw.endswith("_kernel_time")]
    raw_names = np.array([n[0] for n in nodes], dtype=object)
    unique, first, inverse = (np.unique(raw_names, return_index=True, return_inverse=True) if nodes
                              else (np.array([], dtype=object), np.array([], dtype=np.int64), np.array([], dtype=np.int64)))
    # names in order of first appearance (the execution order of the first run)
    appearance = np.argsort(first, kind="stable")
    rank = np.empty_like(appearance)
    rank[appearance] = np.arange(appearance.size)
    names: list[str] = []
    first_args: dict[str, dict] = {}
    for u in appearance:
        raw = unique[u]
        name = _unescape(raw[: -len("_kernel_time")])
        names.append(name)
        first_args[name] = _first_args(text, raw)
    last_args = _first_args(text, nodes[-1][0], last=True) if nodes else {}
    return Trace(names=names, first_args=first_args, node_name=rank[inverse].astype(np.int64),
                 node_ts=np.fromiter((int(n[2]) for n in nodes), dtype=np.int64, count=len(nodes)),
                 node_dur=np.fromiter((float(n[1]) for n in nodes), dtype=np.float64, count=len(nodes)),
                 run_ts=np.asarray([r[0] for r in runs], dtype=np.int64),
                 run_dur=np.asarray([r[1] for r in runs], dtype=np.float64), last_args=last_args)


def _first_args(text: str, raw_name: str, last: bool = False) -> dict:
    """``args`` of the first (or last) event line naming ``raw_name``."""
    needle = re.compile(r'"name"\s*:\s*"' + re.escape(raw_name) + '"')
    if last:
        tail = text.rfind(raw_name)
        m = needle.search(text, max(0, text.rfind("\n", 0, tail)))
    else:
        m = needle.search(text)
    return _line_args(text, m.start()) if m else {}


def _line_args(text: str, position: int) -> dict:
    start = text.rfind("\n", 0, position) + 1
    end = text.find("\n", position)
    line = text[start: end if end >= 0 else len(text)].strip().rstrip(",")
    try:
        return json.loads(line).get("args") or {}
    except ValueError:
        return {}


def trace_from_events(events: list[dict]) -> Trace:
    """A :class:`Trace` from the parsed JSON list of events."""
    index: dict[str, int] = {}
    names: list[str] = []
    first_args: dict[str, dict] = {}
    rows: list[tuple[int, int, float]] = []
    runs: list[tuple[int, float]] = []
    last_args: dict = {}
    for e in events:
        cat, raw = e.get("cat"), str(e.get("name", ""))
        if cat == "Session" and raw == "model_run":
            runs.append((int(e.get("ts", 0)), float(e.get("dur", 0))))
        elif cat == "Node" and raw.endswith("_kernel_time"):
            name = raw[: -len("_kernel_time")]
            if name not in index:
                index[name] = len(names)
                names.append(name)
                first_args[name] = e.get("args") or {}
            rows.append((index[name], int(e.get("ts", 0)), float(e.get("dur", 0))))
            last_args = e.get("args") or {}
    rows.sort(key=lambda r: r[1])
    return Trace(names=names, first_args=first_args,
                 node_name=np.asarray([r[0] for r in rows], dtype=np.int64),
                 node_ts=np.asarray([r[1] for r in rows], dtype=np.int64),
                 node_dur=np.asarray([r[2] for r in rows], dtype=np.float64),
                 run_ts=np.asarray([r[0] for r in runs], dtype=np.int64),
                 run_dur=np.asarray([r[1] for r in runs], dtype=np.float64), last_args=last_args)


@dataclass
class Profile:
    """The measured runs of a profiled session: per-node figures, each run's span, the arena's peak."""

    nodes: dict[str, NodeProfile]  # by name, in order of first appearance
    runs: int  # measured (after the skipped warm-up)
    profiled_run_ms: list[float]  # each measured ``model_run`` span, profiler on
    arena_peak_bytes: int | None = None
    arena_held_bytes: int | None = None


def parse_profile(trace: Trace | list, skip_runs: int = 0) -> Profile:
    """Per-node durations per run: node events are grouped by the ``model_run`` they fall in (a node run
    several times in a run - in a loop body - counts once with the sum); the first ``skip_runs`` runs
    (warm-up) are dropped. Nodes are keyed by name (ONNX Runtime names the nodes it leaves unnamed
    ``<OpType>_<index>`` in the trace). Also the arena's peak when the trace has it."""
    if not isinstance(trace, Trace):
        trace = trace_from_events(trace)
    order = np.argsort(trace.run_ts, kind="stable")
    starts = trace.run_ts[order]
    run_of = np.searchsorted(starts, trace.node_ts, side="right") - 1
    keep = run_of >= skip_runs
    names_idx, runs_idx, durs = trace.node_name[keep], run_of[keep], trace.node_dur[keep]
    nodes: dict[str, NodeProfile] = {}
    if names_idx.size:
        n_runs = int(runs_idx.max()) + 1
        group, inverse = np.unique(names_idx * n_runs + runs_idx, return_inverse=True)
        sums = np.bincount(inverse, weights=durs)
        counts = np.bincount(inverse)
        nested = (np.bincount(inverse, weights=trace.node_nested[keep]) if trace.node_nested is not None
                  else np.zeros(counts.size))
        group_name = group // n_runs
        boundaries = np.flatnonzero(np.diff(group_name)) + 1
        for chunk_names, chunk_sums, chunk_counts, chunk_nested in zip(
                np.split(group_name, boundaries), np.split(sums, boundaries), np.split(counts, boundaries),
                np.split(nested, boundaries)):
            name = trace.names[int(chunk_names[0])]
            args = trace.first_args.get(name) or {}
            nodes[name] = NodeProfile(
                name=name, op_type=args.get("op_name"), provider=args.get("provider"),
                parameter_size=_int(args.get("parameter_size")), activation_size=_int(args.get("activation_size")),
                output_size=_int(args.get("output_size")), input_types=args.get("input_type_shape") or [],
                output_types=args.get("output_type_shape") or [], first_seen=int(chunk_names[0]),
                durations_us=chunk_sums.tolist(), events_per_run=chunk_counts.astype(int).tolist(),
                nested_per_run=chunk_nested.astype(int).tolist(), parallel_sections=_parallel_sections(args))
    peaks = [_int(a.get("mem_in_use_peak")) for a in [trace.last_args, *trace.first_args.values()]]
    helds = [_int(a.get("mem_arena_held")) for a in [trace.last_args, *trace.first_args.values()]]
    peaks = [p for p in peaks if p is not None]
    helds = [h for h in helds if h is not None]
    measured = trace.run_dur[order][skip_runs:]
    return Profile(nodes=nodes, runs=int(measured.size), profiled_run_ms=(measured / 1000.0).tolist(),
                   arena_peak_bytes=max(peaks) if peaks else None, arena_held_bytes=max(helds) if helds else None)


def _parallel_sections(args: Mapping[str, Any]) -> int:
    """How many times the node handed work to the intra-op thread pool (``block_size`` has one entry each)."""
    stats = args.get("thread_scheduling_stats")
    main = stats.get("main_thread") if isinstance(stats, dict) else None
    blocks = main.get("block_size") if isinstance(main, dict) else None
    return len(blocks) if isinstance(blocks, list) else 0


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None



__all__ = ["NodeProfile", "Profile", "Trace", "nested_event_counts", "parse_profile", "read_profile_file",
           "trace_from_events"]
