"""The per-layer table ``trtexec --dumpProfile`` prints at the end of its log.

``Profiler::print`` in trtexec's ``samples/common/sampleReporting.cpp`` writes it through ``sample::gLogInfo``
(every line prefixed ``[MM/DD/YYYY-HH:MM:SS] [I] ``), after ``=== Profile (N iterations ) ===``, in one of
three layouts (checked against the TensorRT OSS sources of each release):

* 8.6-11.x: ``   Time(ms)     Avg.(ms)   Median(ms)   Time(%)   Layer``; rows are four numbers, then the name;
  layers that did not run are left out; the last row is ``... Total``
* 8.4-8.5: ``Layer   Time (ms)   Avg. Time (ms)   Median Time (ms)   Time %``; the name (right-aligned) first
* 7.x-8.2: ``Layer   Time (ms)   Avg. Time (ms)   Time %`` (no median)

``Time`` is the layer's total over the N iterations (2 decimals), ``Avg.`` = Time / N and ``Median`` the
median over the iterations (4 decimals), ``Time %`` a share of the summed totals. The ``Total`` row's median is
the median of the per-iteration totals (not the sum of the layer medians); it is kept as
:attr:`~explorer.engine.report.EngineReport.reported_total`.
"""

from __future__ import annotations

import math
import os
import re
from typing import Iterable

from ...errors import ArtifactError
from ..report import EngineReport, LatencyStats, Layer
from .common import describe, file_size

#: trtexec's log prefix (the sample logger's timestamp and severity), optional: a pasted table has none
_PREFIX = re.compile(r"^(?:\[\d{2}/\d{2}/\d{4}-\d{2}:\d{2}:\d{2}\] )?(?:\[[IVWE]\] )?")
_HEADER = re.compile(r"=== Profile \((?P<count>\d+) iterations \) ===")
_NUM = r"(-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|-?inf|nan)"
_LAYOUTS = {
    # name: (header test, row pattern, has median)
    "8.6+": (lambda h: "Time(ms)" in h and "Median(ms)" in h and h.rstrip().endswith("Layer"),
             re.compile(rf"^\s*{_NUM}\s+{_NUM}\s+{_NUM}\s+{_NUM}   (?P<name>.+?)\s*$"), True),
    "8.4": (lambda h: h.lstrip().startswith("Layer") and "Median Time (ms)" in h,
            re.compile(rf"^\s*(?P<name>.+?)\s+{_NUM}\s+{_NUM}\s+{_NUM}\s+{_NUM}\s*$"), True),
    "7.x": (lambda h: h.lstrip().startswith("Layer") and "Avg. Time (ms)" in h and "Median" not in h,
            re.compile(rf"^\s*(?P<name>.+?)\s+{_NUM}\s+{_NUM}\s+{_NUM}\s*$"), False),
}
#: a log is read line by line; a table row is never longer than this (names are cut by nothing else)
MAX_LINE_CHARS = 1 << 20


def has_profile_table(lines: Iterable[str]) -> bool:
    """Whether the text holds a ``--dumpProfile`` table (its ``=== Profile (N iterations ) ===`` line)."""
    return any(_HEADER.search(line) for line in lines)


def log_has_profile_table(path: str | os.PathLike) -> bool:
    """Whether the log file holds a ``--dumpProfile`` table (streamed: the file is not kept)."""
    try:
        return has_profile_table(_file_lines(os.fspath(path)))
    except OSError:
        return False


def read_dump_profile(source, *, origin_label: str | None = None) -> EngineReport:
    """Per-layer latency (total, mean, median, share) and the Total row from a trtexec log with
    ``--dumpProfile``. ``source``: a path, the log text, or its lines. The last table wins when the log has
    several (each ``--dumpProfile`` run prints one)."""
    lines, path = _lines(source)
    label = origin_label or (f"trtexec --dumpProfile log {describe(path)}" if path else "trtexec --dumpProfile log")
    file = path or label
    tables: list[tuple[int, int, list[str], str]] = []  # (line number of the header, iterations, rows, layout)
    current = None
    for number, raw in enumerate(lines, 1):
        line = _PREFIX.sub("", raw.rstrip("\r\n")[:MAX_LINE_CHARS])
        found = _HEADER.search(line)
        if found:
            current = [number, int(found["count"]), [], None]
            tables.append(current)
            continue
        if current is None:
            continue
        if current[3] is None:  # the column header follows the === line
            layout = next((name for name, (test, _, _) in _LAYOUTS.items() if test(line)), None)
            if layout is None:
                raise ArtifactError("a '=== Profile' line is not followed by a column header trtexec prints "
                                    "(Time(ms) Avg.(ms) Median(ms) Time(%) Layer, or Layer Time (ms) ...)",
                                    file=file, where=f"line {number + 0}")
            current[3] = layout
            continue
        if not line.strip():
            if current[2]:
                current = None  # the blank line after the Total row ends the table
            continue
        current[2].append((number, line))
    if not tables:
        raise ArtifactError("no per-layer profile table (the '=== Profile (N iterations ) ===' block trtexec "
                            "prints with --dumpProfile)", file=file,
                            hint="run trtexec with --dumpProfile (and --separateProfileRun) and give its log")
    header_line, count, rows, layout = tables[-1]
    if layout is None:
        raise ArtifactError("the profile table ends before its column header", file=file, where=f"line {header_line}")
    pattern, has_median = _LAYOUTS[layout][1], _LAYOUTS[layout][2]
    layers: list[Layer] = []
    total = None
    for row_index, (number, line) in enumerate(rows):
        m = pattern.match(line)
        if m is None:
            raise ArtifactError(f"not a row of trtexec's profile table ({layout} layout): {line.strip()[:80]!r}",
                                file=file, where=f"line {number}")
        numbers = [_float(g, file, number) for g in _numbers(m)]
        time_ms, average_ms = numbers[0], numbers[1]
        median_ms = numbers[2] if has_median else None
        share = numbers[3] if has_median else numbers[2]
        stats = LatencyStats(time_ms=time_ms, average_ms=average_ms, median_ms=median_ms, percentage=share,
                             count=count, source=label)
        name = m["name"].strip()
        if name == "Total" and row_index == len(rows) - 1:  # the last row (a layer may be named Total too)
            total = stats
            break
        layers.append(Layer(name=name, latency=stats))
    if not layers:
        raise ArtifactError("the profile table has no layer rows", file=file, where=f"line {header_line}")
    notes = [] if has_median else [f"trtexec before 8.4 printed no per-layer median ({label}): latency is the "
                                   "mean per iteration"]
    if total is None:
        notes.append(f"the profile table has no Total row ({label}): was the log cut short?")
    if len(tables) > 1:
        notes.append(f"the log holds {len(tables)} profile tables; the last one (line {header_line}) is read")
    notes.append(f"per-layer times as trtexec prints them: 4 decimals ({label})")
    return EngineReport(layers=layers, sources=[label], provenance={"latency": label}, notes=notes,
                        reported_total=total)


def _numbers(m: re.Match) -> list[str]:
    """The numeric groups of a row match, in order (the name group excluded)."""
    name_span = m.span("name")
    return [m.group(i) for i in range(1, (m.re.groups or 0) + 1)
            if m.span(i) != name_span and m.group(i) is not None]


def _float(text: str, file: str, number: int) -> float:
    value = float(text)
    if math.isnan(value):
        raise ArtifactError("NaN where a time was expected", file=file, where=f"line {number}")
    return value


def _file_lines(path: str):
    """The file's lines, streamed (a verbose log can be hundreds of MB; only the table's rows are kept)."""
    with open(path, encoding="utf-8", errors="replace") as handle:
        yield from handle


def _lines(source) -> tuple[list[str] | Iterable[str], str | None]:
    if isinstance(source, (bytes, bytearray)):
        return bytes(source).decode("utf-8", errors="replace").splitlines(), None
    if isinstance(source, str) and ("\n" in source or "=== Profile" in source):
        return source.splitlines(), None
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        file_size(path)
        try:
            with open(path, "rb") as handle:
                head = handle.read(4096)
            if b"\x00" in head:
                raise ArtifactError("binary file, not a trtexec log", file=path)
        except OSError as exc:
            raise ArtifactError(f"cannot read: {exc.strerror or exc}", file=path) from None
        return _file_lines(path), path
    if isinstance(source, Iterable):
        return [str(line) for line in source], None
    raise ArtifactError(f"cannot read a trtexec log from {type(source).__name__}; give a path, the text or lines")


__all__ = ["has_profile_table", "log_has_profile_table", "read_dump_profile"]
