"""trtexec's timing exports: ``--exportProfile`` (per layer) and ``--exportTimes`` (per inference).

``--exportProfile``: ``[{"count": N}, {"name", "timeMs", "averageMs", "medianMs", "percentage"}, ...]``
where ``timeMs`` is the layer's total over the N profiled runs and ``averageMs`` = timeMs / N: the
per-inference figure. ``--exportTimes``: one object per inference (startEnqMs, endEnqMs, startH2dMs,
h2dMs, computeMs, d2hMs, latencyMs, ...; 7.x wrote inMs/outMs instead of h2dMs/d2hMs).
"""

from __future__ import annotations

import math
import os
from array import array
from itertools import chain
from typing import Any, Iterator

from ...errors import ArtifactError
from ..report import EngineReport, LatencyStats, LatencySummary, Layer, Percentiles
from .common import STREAM_JSON_BYTES, Source, describe, short_repr, file_size, iter_json_array, load_json, wrong_tool


def read_profile(source: Source, *, origin_label: str | None = None) -> EngineReport:
    """Per-layer latency from ``--exportProfile`` as layers carrying :class:`LatencyStats` only."""
    obj, path = load_json(source)
    label = origin_label or f"trtexec --exportProfile {describe(source)}"
    file = path or label
    if not isinstance(obj, list):
        raise wrong_tool(obj, "profile", file)
    if not obj:
        raise ArtifactError("empty profile (no layers)", file=file)
    count = None
    layers: list[Layer] = []
    for index, row in enumerate(obj):
        if not isinstance(row, dict):
            raise ArtifactError(f"a row is a {type(row).__name__}, expected an object", file=file, where=f"[{index}]")
        if "name" not in row and "count" in row:
            count = _number(row["count"], file, f"[{index}].count")
            continue
        if "name" not in row or "timeMs" not in row:
            if index == 0:
                raise wrong_tool(obj, "profile", file)
            raise ArtifactError("row without 'name' and 'timeMs'", file=file, where=f"[{index}]")
        runs = int(count) if count else 1
        time_ms = _number(row["timeMs"], file, f"[{index}].timeMs")
        average = row.get("averageMs")
        average_ms = _number(average, file, f"[{index}].averageMs") if average is not None else time_ms / runs
        median = row.get("medianMs")
        percentage = row.get("percentage")
        layers.append(Layer(name=str(row["name"]), latency=LatencyStats(
            time_ms=time_ms,
            average_ms=average_ms,
            median_ms=_number(median, file, f"[{index}].medianMs") if median is not None else None,
            percentage=_number(percentage, file, f"[{index}].percentage") if percentage is not None else None,
            count=runs,
            source=label,
        )))
    if not layers:
        raise ArtifactError("no layer rows in the profile", file=file)
    notes = [] if count else ["the profile has no {\"count\": N} record: assumed 1 run per layer"]
    return EngineReport(layers=layers, sources=[label], provenance={"latency": label}, notes=notes)


def read_times(source: Source, *, origin_label: str | None = None) -> EngineReport:
    """End-to-end latency, GPU compute and enqueue percentiles and throughput from ``--exportTimes``.

    A long run writes hundreds of MB of records: files over :data:`~.common.STREAM_JSON_BYTES` are read
    record by record, keeping five numbers per inference."""
    label = origin_label or f"trtexec --exportTimes {describe(source)}"
    records, path = _times_records(source, label)
    file = path or label
    first = next(records, _END)
    if first is _END:
        raise ArtifactError("empty list: no inferences were recorded", file=file)
    if not isinstance(first, dict) or "latencyMs" not in first:
        raise wrong_tool([first], "times", file)
    latency, compute, enqueue, starts, ends = (array("d") for _ in range(5))
    count = 0
    for index, rec in enumerate(chain((first,), records)):
        count += 1
        if not isinstance(rec, dict) or "latencyMs" not in rec:
            raise ArtifactError("record without 'latencyMs'", file=file, where=f"[{index}]")
        latency.append(_number(rec["latencyMs"], file, f"[{index}].latencyMs"))
        if "computeMs" in rec:
            compute.append(_number(rec["computeMs"], file, f"[{index}].computeMs"))
        if "startEnqMs" in rec and "endEnqMs" in rec:
            enqueue.append(_number(rec["endEnqMs"], file, f"[{index}].endEnqMs")
                           - _number(rec["startEnqMs"], file, f"[{index}].startEnqMs"))
        start = _first(rec, ("startH2dMs", "startInMs", "startComputeMs"))
        end = _first(rec, ("endD2hMs", "endOutMs", "endComputeMs"))
        if start is not None and end is not None:
            starts.append(start)
            ends.append(end)
    throughput = None
    if starts:
        span_ms = max(ends) - min(starts)
        if span_ms > 0 and math.isfinite(span_ms):
            throughput = count / (span_ms / 1000.0)
    summary = LatencySummary(
        count=count,
        latency=Percentiles.of(latency),
        compute=Percentiles.of(compute or latency),
        enqueue=Percentiles.of(enqueue) if enqueue else None,
        throughput_qps=throughput,
        source=label,
    )
    return EngineReport(end_to_end=summary, sources=[label], provenance={"end_to_end": label})


_END = object()


def _times_records(source: Source, label: str) -> tuple[Iterator[Any], str | None]:
    """The records of a times export, streamed from big files; (iterator, file path or None)."""
    if isinstance(source, (str, os.PathLike)) and not (isinstance(source, str) and source.lstrip()[:1] in "{["):
        path = os.fspath(source)
        if file_size(path) > STREAM_JSON_BYTES:
            return iter_json_array(path), path
    obj, path = load_json(source)
    if not isinstance(obj, list):
        raise wrong_tool(obj, "times", path or label)
    return iter(obj), path


def _first(rec: dict, keys: tuple[str, ...]) -> float | None:
    for key in keys:
        value = rec.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    return None


def _number(value: Any, file: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ArtifactError(f"expected a number, found {short_repr(value)}", file=file, where=where)
    try:
        value = float(value)
    except OverflowError:  # an integer with hundreds of digits
        raise ArtifactError(f"number too large to be a time (about {int(value.bit_length() * 0.30103)} digits)",
                            file=file, where=where) from None
    if math.isnan(value):
        raise ArtifactError("NaN where a time was expected", file=file, where=where)
    return value


__all__ = ["read_profile", "read_times"]
