"""Verbose TensorRT build logs (7.x, 8.x, 10.x): tactic timings, tactic choices and memory.

Real logs run to hundreds of MB, so the reader streams: one pass, line by line, keeping one record per
(layer, format combination, runner, tactic) and per layer, never lines. A cheap substring test picks the
few lines that matter before any regular expression runs; unknown lines cost one or two ``in`` tests.

What it understands (with or without the ``[TensorRT] VERBOSE:``, ``[12/30/2022-15:39:09] [V] [TRT]``,
``[V] [TRT]`` or ``[TRT] [V]`` prefixes)::

    --------------- Timing Runner: conv1 + relu1 (CaskConvolution[0x80000009])   # block header
    =============== Computing costs for conv1 + relu1                             # 8.x+/10.x layer header
    *************** Autotuning format combination: Float(...) -> Float(...) ***************
    Tactic: 0 time 0.49 | Tactic: 0x0000000000000000 Time: 17.8                   # 7.x | 8.x
    conv1 (scudnn) Set Tactic Name: maxwell_scudnn_128x32 [Tactic: 0x...]         # name for the next line
    Tactic Name: sm80_xmma_... Tactic: 0x1673e3594ce11cea Time: 0.0567            # 10.x
    Tactic: 1 skipped. Scratch requested: 1199616, available: 1048576
    Skipping tactic 0x... due to ... | CaskConvolution has no valid tactics for this config, skipping
    Fastest Tactic: 0 Time: 0.49 | ... profiling completed in 0.08 seconds. Fastest Tactic: 0x.. Time: ..
    >>>>>>>>>>>>>>> Chose Runner Type: CaskConvolution Tactic: 0x5deb29b7a8e275f7
    Layer(CaskConvolution): conv1 + relu1, Tactic: 0x5deb..., input (Float[1,3,224,224]) -> out (Float[...])
    Layer: /maxpool/MaxPool Host Persistent: 1344 Device Persistent: 0 Scratch Memory: 0
    Total Host Persistent Memory: 84864 [bytes] | Total Device Persistent Memory | Total Scratch Memory |
    Max Scratch Memory | Total Activation Memory | Total Weights Memory
    [MemUsageStats] Peak memory usage of TRT CPU/GPU memory allocators: CPU 116 MiB, GPU 4 MiB
    Created engine with size: 13.0 MiB | Loaded engine size: 45 MiB
    Name: Conv_5_myl0_4, LayerType: correlation, Inputs: [...], ..., Metadata: [ONNX Layer: Conv_5]...
                                                     # TensorRT-RTX / Myelin engine layers (see .rtx_layers)
    Graph construction completed in 0.0036 seconds. | Graph optimization time: 0.00066 seconds.  # phases

When the log reports a figure twice (a later builder pass, per-layer memory printed again, totals
repeated), the last one is the engine's.
"""

from __future__ import annotations

import math
import os
import re
import zlib
from itertools import islice
from typing import Iterable, Iterator

from ...errors import ArtifactError
from ..report import EngineReport, Layer, LayerMemory, MemoryReport, TacticRecord, TensorDesc, tactic_key
from ...dtypes import canonical_dtype
from .common import describe, file_size
from .rtx_layers import parse_layer_line, parse_phase_line

# -- line patterns (compiled once; each runs only on lines that passed a substring test) ----------------
_PREFIX = re.compile(r"^(?:\[\d\d/\d\d/\d{4}-\d\d:\d\d:\d\d\] )?(?:\[(?:[VIWEF]|TRT|TensorRT)\] ){0,2}"
                     r"(?:(?:VERBOSE|INFO|WARNING|ERROR|INTERNAL_ERROR): )?")
_TACTIC = re.compile(r"Tactic(?: Name: (?P<name>\S+) Tactic)?: (?P<tactic>[^\s,]+),? "
                     r"(?:[Tt]ime:? (?P<time>\S+)|(?P<skip>skipped\.?\s*(?P<reason>.*)))")
_FASTEST = re.compile(r"Fastest Tactic: (?P<tactic>\S+?),? Time: (?P<time>\S+)")
_PROFILED = re.compile(r"^(?P<layer>.*) \((?P<runner>[^()]*)\) profiling completed in")
_CHOSE = re.compile(r"Chose Runner Type: (?P<runner>\S+) Tactic: (?P<tactic>\S+)")
_SET_NAME = re.compile(r"Set Tactic Name: (?P<name>\S+)(?: Tactic: (?P<tactic>\S+))?")
# Patterns that could backtrack over a long hostile line are anchored where their keyword first appears
# (``.match(line, at)``) and avoid lazy groups followed by optional runs: every one is linear in the line.
_RUNNER = re.compile(r"Timing Runner: (?P<layer>.*) \((?P<runner>[^()]*)\)\s*$")
_COSTS = re.compile(r"Computing costs for:? (?P<layer>.*)$")
_FORMATS = re.compile(r"Autotuning format combination: (?P<formats>.*)$")
_ENGINE_LAYER = re.compile(r"Layer\((?P<type>[^)]*)\): (?P<layer>.*?), Tactic: (?P<tactic>[^\s,]+),? (?P<io>.*)$")
_IO_TENSOR_TAIL = re.compile(r" \((?P<dtype>\w+)\[(?P<dims>[^\]]{0,1024})\]\)(?=, |$)")
_LAYER_MEMORY = re.compile(r"Layer: (?P<layer>.*?) Host Persistent: (?P<host>\d{1,30})(?: bytes)? "
                           r"Device Persistent: (?P<device>\d{1,30})(?: bytes)? Scratch Memory: (?P<scratch>\d{1,30})")
_TOTAL_MEMORY = re.compile(r"(?P<what>Total Host Persistent|Total Device Persistent|Total Scratch|Max Scratch|"
                           r"Total Activation|Total Weights) Memory: (?P<value>[\d.]+)\s*(?P<unit>[KMG]i?B|bytes|B)?")
_PEAK = re.compile(r"Peak memory usage of TRT CPU/GPU memory allocators: CPU (?P<cpu>[\d.]+) (?P<cu>[KMG]i?B), "
                   r"GPU (?P<gpu>[\d.]+) (?P<gu>[KMG]i?B)")
_ENGINE_SIZE = re.compile(r"(?:Created engine with size|Loaded engine size|Engine size): (?P<value>[\d.]+)\s*"
                          r"(?P<unit>[KMG]i?B|bytes|B)?")
_SKIP_TACTIC = re.compile(r"[Ss]kipping tactic (?P<tactic>\S+?),? (?:due to |because )?(?P<reason>.*)$")
_REGION_METADATA = re.compile(r"ForeignNode (?P<name>\{ForeignNode\[.*\]\}) metadata: (?P<metadata>.*)$", re.S)
_NO_VALID = " has no valid tactics for this config, skipping"
_HEX = re.compile(r"0x[0-9a-fA-F]+")
_INT = re.compile(r"-?[0-9]{1,19}")

_TOTAL_KEYS = {
    "Total Host Persistent": "host_persistent_bytes",
    "Total Device Persistent": "device_persistent_bytes",
    "Total Scratch": "scratch_bytes",
    "Max Scratch": "scratch_bytes",
    "Total Activation": "activation_bytes",
    "Total Weights": "weights_bytes",
}
_UNITS = {None: 1, "bytes": 1, "B": 1, "KB": 1000, "KiB": 1024, "MB": 1000**2, "MiB": 1024**2,
          "GB": 1000**3, "GiB": 1024**3}
_FAILED_TIME = 1e30  # TensorRT prints FLT_MAX (3.40282e+38) for a tactic that failed to run
#: Memory bounds for logs of any size: tactic records kept, and characters of names and reasons kept.
MAX_RECORDS = 1_000_000
MAX_KEPT_CHARS = 128 * 1024**2
#: Lines longer than this are no TensorRT line (its longest are layer lists of big Myelin regions): skipped
#: without being read whole, so a log without newlines cannot fill memory.
MAX_LINE_CHARS = 256 * 1024
#: A .gz log may expand at most this much (and at least to MIN_GZ_LIMIT): past it, it is a gzip bomb.
GZ_RATIO_LIMIT = 200
MIN_GZ_LIMIT = 1024**3
_LOG_MARKERS = ("[TRT]", "[TensorRT]", "TensorRT", "[V]", "[I]", "[W]", "[E]", "trtexec")


def read_build_log(source: str | os.PathLike | Iterable[str], *, origin_label: str | None = None,
                   parser: "LogParser | None" = None) -> EngineReport:
    """Tactics (timed, skipped, chosen), engine layers, memory and build phases from a verbose build log,
    streamed line by line.

    ``source`` is a path, the log text itself (a string with newlines) or any iterable of lines (a live
    logger's messages). ``parser``: a :class:`LogParser` to read with (its ``phases`` stay readable after).
    Raises :class:`~explorer.errors.ArtifactError` for a missing file, a binary or JSON file, or a file in
    which no line looks like TensorRT's.
    """
    if isinstance(source, (str, os.PathLike)) and not (isinstance(source, str) and "\n" in source):
        path = os.fspath(source)
        label = origin_label or f"TensorRT build log {describe(path)}"
        size = _check_log_file(path)
        parser = parser or LogParser(label)
        # a .gz log is streamed too; past GZ_RATIO_LIMIT x its size it is a decompression bomb
        limit = max(MIN_GZ_LIMIT, GZ_RATIO_LIMIT * size) if path.endswith(".gz") else None
        try:
            with _open_text(path) as handle:
                parser.feed(_file_lines(handle, parser, limit, path))
        except (OSError, zlib.error) as exc:  # a corrupt .gz, or the disk failing under us
            raise ArtifactError(f"cannot read the log: {exc}", file=path) from None
        if not parser.recognized:
            _explain_unrecognized(path)
        return parser.report()
    label = origin_label or "TensorRT build log"
    if isinstance(source, (bytes, bytearray)):
        source = bytes(source).decode("utf-8", errors="replace")
    lines: Iterable[str] = source.splitlines() if isinstance(source, str) else source
    parser = parser or LogParser(label)
    try:
        parser.feed(_checked_lines(lines, parser))
    except TypeError:
        raise ArtifactError(f"cannot read a build log from {type(source).__name__}; give a path, the log text "
                            "or an iterable of lines", file=label) from None
    return parser.report()


def _file_lines(handle, parser: "LogParser", limit: int | None, path: str) -> Iterator[str]:
    """Lines of an open log, never more than MAX_LINE_CHARS at a time: a longer line is skipped unread."""
    readline = handle.readline
    most = MAX_LINE_CHARS
    total = 0
    budget = limit if limit is not None else float("inf")
    try:
        while True:
            line = readline(most)
            if not line:
                return
            total += len(line)
            if len(line) >= most and line[-1] != "\n":
                parser.long_lines += 1
                while line and line[-1] != "\n":  # the rest of the over-long line, chunk by chunk
                    line = readline(most)
                    total += len(line)
                    if total > budget:
                        break
                if total <= budget:
                    continue
            if total > budget:
                raise ArtifactError(f"the compressed log expands past {budget / 1024**3:.1f} GiB "
                                    f"({GZ_RATIO_LIMIT}x its size): not a build log (a decompression bomb?)",
                                    file=path)
            yield line
    except EOFError:  # a .gz cut short: what was read stands, and the report says so
        parser.truncated = True


def _checked_lines(lines: Iterable, parser: "LogParser") -> Iterator[str]:
    """Lines from a caller: bytes are decoded, over-long lines skipped."""
    most = MAX_LINE_CHARS
    for line in lines:
        if type(line) is not str:
            if isinstance(line, (bytes, bytearray)):
                line = bytes(line).decode("utf-8", errors="replace")
            else:
                line = str(line)
        if len(line) > most:
            parser.long_lines += 1
            continue
        yield line


class LogParser:
    """Incremental log reader: ``feed`` any number of line iterables, then ``report()``."""

    def __init__(self, label: str) -> None:
        self.label = label
        # (layer, formats, runner, tactic as printed) -> [time_ms, skipped_reason, tactic_name]
        self.records: dict[tuple, list] = {}
        self.fastest: dict[tuple, tuple[str, float | None]] = {}  # (layer, formats, runner) -> tactic, time
        self.chose: dict[str, tuple[str | None, str, str | None]] = {}  # layer -> runner, tactic, formats
        self.engine_layers: dict[str, Layer] = {}
        self.memory_layers: dict[str, LayerMemory] = {}
        self.totals: dict[str, int] = {}
        self.region_metadata: dict[str, str] = {}  # {ForeignNode[...]} -> its metadata line
        self.phases: list[tuple[str, float]] = []  # (build phase, seconds) in the order the log gives them
        self.recognized = 0
        self.lines = 0
        self.dropped = 0  # records not kept: the memory bound was reached
        self.long_lines = 0  # lines over MAX_LINE_CHARS, skipped
        self.truncated = False  # a compressed log ended before its end-of-stream marker
        self._budget = MAX_KEPT_CHARS  # characters of names/reasons the parser may still keep
        # context of the block being read
        self._layer: str | None = None
        self._runner: str | None = None
        self._formats: str | None = None
        self._pending_name: str | None = None

    # -- the hot loop -----------------------------------------------------------------------------------
    def feed(self, lines: Iterable[str]) -> None:
        """Read lines; most cost one ``find``. Plain tactic lines (the bulk of a log) are handled inline."""
        tactic_match = _TACTIC.match
        records = self.records
        recognized = 0
        count = 0
        dropped = 0
        budget = self._budget
        for line in lines:
            count += 1
            at = line.find("Tactic")
            if at >= 0:
                # a plain "Tactic: ..." / "Tactic Name: ..." line starts right after the prefix
                if at == 0 or line[at - 2:at] in ("] ", ": "):
                    m = tactic_match(line, at)
                    if m is None:
                        if "kipp" in line:
                            recognized += self._skip(line)
                        continue
                    recognized += 1
                    layer = self._layer
                    if layer is None:
                        continue
                    name = m["name"] or self._pending_name
                    self._pending_name = None
                    time_text = m["time"]
                    if time_text is not None:
                        try:
                            time_ms = float(time_text)
                        except ValueError:
                            time_ms = _float(time_text)
                            if time_ms is None:
                                continue
                        value = [time_ms, None, name] if time_ms < _FAILED_TIME else \
                            [None, "failed (TensorRT reported the maximum time)", name]
                    else:
                        value = [None, (m["reason"] or "").strip() or "skipped", name]
                    tactic = m["tactic"]
                    key = (layer, self._formats, self._runner, tactic)
                    old = records.pop(key, None)  # re-timed: the later figure wins and moves to the end
                    if old is not None:
                        if name is None:
                            value[2] = old[2]
                    else:  # a new record: memory is bounded (a hostile log must not exhaust it)
                        budget -= 100 + len(tactic) + (len(name) if name else 0) + (len(value[1]) if value[1] else 0)
                        if budget < 0 or len(records) >= MAX_RECORDS:
                            dropped += 1
                            continue
                    records[key] = value
                elif "LayerType: " in line:
                    recognized += self._layer_line(line)
                elif "Set Tactic Name" in line:
                    recognized += self._set_name(line)
                elif "Fastest Tactic" in line:
                    recognized += self._fastest(line)
                elif "Chose Runner" in line:
                    recognized += self._chose(line)
                elif "Layer(" in line:
                    recognized += self._engine_layer(line)
                elif "kipp" in line:
                    recognized += self._skip(line)
            elif "Timing Runner: " in line:
                m = _RUNNER.match(line, line.find("Timing Runner: "))
                if m is not None:
                    recognized += 1
                    self._layer = self._keep(m["layer"])
                    self._runner = _runner_name(m["runner"])
                    self._pending_name = None
            elif "Memory" in line:
                recognized += self._memory(line)
            elif "kipp" in line:
                recognized += self._skip(line)
            elif "ForeignNode " in line and "} metadata: " in line:
                recognized += self._region_metadata(line)
            elif "Computing costs for" in line:
                m = _COSTS.match(line, line.find("Computing costs for"))
                if m is not None:
                    recognized += 1
                    self._layer = self._keep(m["layer"].rstrip())
                    self._formats = None
            elif "Autotuning format combination" in line:
                m = _FORMATS.match(line, line.find("Autotuning format combination"))
                if m is not None:
                    recognized += 1
                    self._formats = self._keep(m["formats"].rstrip().rstrip("*").rstrip())
            elif "MemUsageStats" in line:
                recognized += self._peak(line)
            elif "ngine" in line and "size" in line:
                recognized += self._engine_size(line)
            elif " seconds" in line and ("completed in " in line or " time: " in line):
                recognized += self._phase(line)
        self.lines += count
        self.recognized += recognized
        self._budget = budget
        self.dropped += dropped

    # -- memory bound ---------------------------------------------------------------------------------------
    def _region_metadata(self, line: str) -> int:
        """``ForeignNode {ForeignNode[a...b]} metadata: [ONNX Layer: a]...``: the ONNX nodes of a Myelin region
        (TensorRT-RTX 1.7 prints it while costing the region; its engine then lists the region's sub-layers)."""
        m = _REGION_METADATA.match(line, line.find("ForeignNode "))
        if m is None or not self._room(len(line)):
            return 0
        self.region_metadata[m["name"]] = m["metadata"].rstrip("\n")
        return 1

    def _keep(self, text: str) -> str:
        """Charge a context string (layer, formats) to the budget; it is kept whatever happens."""
        self._budget -= len(text)
        return text

    def _room(self, size: int) -> bool:
        """Whether a new entry of about ``size`` characters may be kept (False: dropped, counted)."""
        self._budget -= 100 + size
        if self._budget < 0:
            self.dropped += 1
            return False
        return True

    # -- tactic lines (the rarer forms) -----------------------------------------------------------------
    def _put(self, tactic: str | None, reason: str | None, runner: str | None = None) -> None:
        key = (self._layer, self._formats, runner if runner is not None else self._runner, tactic)
        if self.records.pop(key, None) is None and (
                len(self.records) >= MAX_RECORDS or not self._room(len(tactic or "") + len(reason or ""))):
            return
        self.records[key] = [None, reason, None]

    def _set_name(self, line: str) -> int:
        m = _SET_NAME.search(line)
        if m is None:
            return 0
        self._pending_name = m["name"]
        return 1

    def _fastest(self, line: str) -> int:
        m = _FASTEST.search(line)
        if m is None:
            return 0
        if "profiling completed" in line:  # 10.x: the line names its layer and runner itself
            head = _PROFILED.match(line, _PREFIX.match(line).end())
            if head is not None:
                self._layer = self._keep(head["layer"])
                self._runner = _runner_name(head["runner"])
        if self._layer is not None:
            key = (self._layer, self._formats, self._runner)
            if key in self.fastest or (len(self.fastest) < MAX_RECORDS and self._room(len(m["tactic"]))):
                self.fastest[key] = (m["tactic"], _float(m["time"]))
        return 1

    def _chose(self, line: str) -> int:
        m = _CHOSE.search(line)
        if m is None or self._layer is None:
            return 0
        if self._layer in self.chose or (len(self.chose) < MAX_RECORDS and self._room(len(m["tactic"]))):
            self.chose[self._layer] = (_runner_name(m["runner"]), m["tactic"], self._formats)
        return 1

    def _engine_layer(self, line: str) -> int:
        m = _ENGINE_LAYER.match(line, line.find("Layer("))
        if m is None or not self._room(len(line)):
            return 0
        name = m["layer"]
        inputs, _, outputs = m["io"].partition(" -> ")
        layer = Layer(name=name, type=m["type"], tactic_value=m["tactic"],
                      inputs=_io_tensors(inputs), outputs=_io_tensors(outputs))
        kinds = {t.dtype for t in layer.outputs if t.dtype}
        layer.precision = kinds.pop() if len(kinds) == 1 else ("mixed" if kinds else None)
        self.engine_layers.pop(name, None)
        self.engine_layers[name] = layer
        return 1

    def _layer_line(self, line: str) -> int:
        """A TensorRT-RTX / Myelin engine layer (``Name: ..., LayerType: ..., Metadata: [ONNX Layer: ...]``)."""
        if not self._room(len(line) // 4):
            return 0
        layer = parse_layer_line(line)
        if layer is None:
            return 0
        self.engine_layers.pop(layer.name, None)
        self.engine_layers[layer.name] = layer
        return 1

    def _phase(self, line: str) -> int:
        found = parse_phase_line(line)
        if found is None or len(self.phases) >= 10_000:
            return 0
        self.phases.append(found)
        return 1

    def _skip(self, line: str) -> int:
        if self._layer is None:
            return 0
        m = _SKIP_TACTIC.search(line)
        if m is not None:
            self._put(m["tactic"], m["reason"].strip() or "skipped")
            return 1
        at = line.find(_NO_VALID)
        if at > 0 and not line[at - 1].isspace():
            runner = line[:at].rsplit(None, 1)[-1]
            self._put(None, "no valid tactics for this config", runner=_runner_name(runner))
            return 1
        if "actic" in line:  # another "skipped"/"skipping" form about tactics
            payload = line[_PREFIX.match(line).end():].strip()
            hexes = _HEX.findall(payload)
            self._put(hexes[0] if hexes else None, payload)
            return 1
        return 0

    # -- memory lines -----------------------------------------------------------------------------------
    def _memory(self, line: str) -> int:
        if "Host Persistent: " in line:
            at = line.find("Layer: ")
            m = _LAYER_MEMORY.match(line, at) if at >= 0 else None
            if m is None or not self._room(len(m["layer"])):
                return 0
            name = m["layer"]
            self.memory_layers.pop(name, None)  # printed again later: the later figure is the engine's
            self.memory_layers[name] = LayerMemory(layer=name, host_persistent=int(m["host"]),
                                                   device_persistent=int(m["device"]),
                                                   scratch=int(m["scratch"]), source=self.label)
            return 1
        m = _TOTAL_MEMORY.search(line)
        if m is None:
            return 0
        value = _bytes(m["value"], m["unit"])
        if value is None:
            return 0
        self.totals[_TOTAL_KEYS[m["what"]]] = value
        return 1

    def _peak(self, line: str) -> int:
        m = _PEAK.search(line)
        if m is None:
            return 0
        cpu, gpu = _bytes(m["cpu"], m["cu"]), _bytes(m["gpu"], m["gu"])
        if cpu is not None:
            self.totals["peak_cpu_bytes"] = cpu
        if gpu is not None:
            self.totals["peak_gpu_bytes"] = gpu
        return 1

    def _engine_size(self, line: str) -> int:
        m = _ENGINE_SIZE.search(line)
        if m is None:
            return 0
        value = _bytes(m["value"], m["unit"])
        if value is None:
            return 0
        self.totals["engine_size_bytes"] = value
        return 1

    # -- result -----------------------------------------------------------------------------------------
    def tactic_records(self) -> list[TacticRecord]:
        """Records with ``fastest`` and ``chosen`` resolved (the engine's layer list beats "Chose Runner")."""
        label = self.label
        records: dict[tuple, TacticRecord] = {}
        for (layer, formats, runner, tactic), (time_ms, reason, name) in self.records.items():
            records[(layer, formats, runner, tactic_key(tactic))] = TacticRecord(
                layer=layer, tactic=tactic, time_ms=time_ms, skipped_reason=reason, runner=runner, source=label,
                tactic_name=name, formats=formats)
        for (layer, formats, runner), (tactic, time_ms) in self.fastest.items():
            key = (layer, formats, runner, tactic_key(tactic))
            if key not in records:
                records[key] = TacticRecord(layer=layer, tactic=tactic, time_ms=time_ms, runner=runner,
                                            source=label, formats=formats)
            records[key].fastest = True
        by_layer: dict[str, list[TacticRecord]] = {}
        for record in records.values():
            by_layer.setdefault(record.layer, []).append(record)
        extra: list[TacticRecord] = []
        if self.engine_layers:
            for name, layer in self.engine_layers.items():
                self._mark(by_layer, extra, name, layer.type, layer.tactic_value, None)
        else:
            for name, (runner, tactic, formats) in self.chose.items():
                self._mark(by_layer, extra, name, runner, tactic, formats)
        return list(records.values()) + extra

    def _mark(self, by_layer: dict, extra: list, layer: str, runner: str | None, tactic: str | None,
              formats: str | None) -> None:
        key = tactic_key(tactic)
        candidates = [r for r in by_layer.get(layer, []) if tactic_key(r.tactic) == key and r.skipped_reason is None]
        narrowed = [r for r in candidates if runner is None or r.runner == runner] or candidates
        if formats is not None:
            narrowed = [r for r in narrowed if r.formats == formats] or narrowed
        if narrowed:
            narrowed[-1].chosen = True  # the last timing of it is the one the builder used
            return
        if not by_layer.get(layer):
            return  # never timed in this log (e.g. a reformat layer): the choice stays on the layer
        record = TacticRecord(layer=layer, tactic=tactic, chosen=True, runner=runner, source=self.label,
                              formats=formats)
        extra.append(record)
        by_layer[layer].append(record)

    def report(self) -> EngineReport:
        tactics = self.tactic_records()
        memory = MemoryReport(layers=list(self.memory_layers.values()), engine_totals=dict(self.totals))
        if self.memory_layers:
            memory.provenance["layers"] = self.label
        for key in self.totals:
            memory.provenance[key] = self.label
        provenance = {}
        notes = []
        if tactics:
            provenance["tactics"] = self.label
        elif self.lines:
            notes.append("no tactic timing lines in the build log: build with --verbose (trtexec) or a "
                         "logger at Severity.VERBOSE to see every tactic TensorRT timed")
        if self.long_lines:
            notes.append(f"{self.long_lines} line(s) longer than {MAX_LINE_CHARS} characters were skipped "
                         "(TensorRT prints no such lines)")
        if self.dropped:
            notes.append(f"the log holds more records than the explorer keeps in memory ({MAX_RECORDS} tactic "
                         f"records, {MAX_KEPT_CHARS // 1024**2} M characters of names): {self.dropped} were not "
                         "kept")
        if self.truncated:
            notes.append("the compressed log ends early (cut short while copying?): everything up to there "
                         "was read")
        layers = list(self.engine_layers.values())
        if layers:
            provenance["layers"] = self.label
        if self.region_metadata:
            provenance["region_metadata"] = self.label
        return EngineReport(layers=layers, tactics=tactics, memory=memory, sources=[self.label],
                            provenance=provenance, notes=notes, region_metadata=dict(self.region_metadata))


# -- helpers --------------------------------------------------------------------------------------------
def _runner_name(text: str) -> str:
    """``CaskConvolution[0x80000009]`` -> ``CaskConvolution``."""
    return text.split("[", 1)[0].strip()


def _float(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return float(text.rstrip(",;"))
    except ValueError:
        return None


def _bytes(value: str, unit: str | None) -> int | None:
    try:
        number = float(value) * _UNITS.get(unit, 1)
    except ValueError:
        return None
    return int(round(number)) if math.isfinite(number) else None


def _io_tensors(text: str) -> list[TensorDesc]:
    """``in (Float[1,3,224,224]), x (Half[1,64:8,56,56]) -> ...`` into tensors. Names may contain anything,
    so each ``name (Type[dims])`` is found from its tail and the name is what lies before it."""
    result = []
    text = text.strip()
    start = 0
    for m in _IO_TENSOR_TAIL.finditer(text):
        name = text[start:m.start()]
        start = m.end() + 2  # past ", "
        if not name:
            continue
        dims = []
        for d in m["dims"].split(","):
            d = d.strip()
            if not d:
                continue
            d = d.split(":", 1)[0]  # "64:4" = 64 channels, vectorized by 4
            dims.append(int(d) if _INT.fullmatch(d) else d)
        result.append(TensorDesc(name=name, shape=tuple(dims), dtype=canonical_dtype(m["dtype"]),
                                 format=m["dtype"]))
    return result


def _open_text(path: str):
    """The log as text lines; ``.gz`` logs are decompressed on the fly (still streamed)."""
    if path.endswith(".gz"):
        import gzip

        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")


def _check_log_file(path: str) -> int:
    """The file's size, after refusing what is no text log (missing, a directory, a device, binary)."""
    size = file_size(path)
    try:
        try:
            with _open_text(path) as handle:
                head = handle.read(4096)
        except EOFError:  # a .gz cut short within its first 4096 characters: look at what it holds
            with _open_text(path) as handle:
                head = "".join(islice(_file_lines(handle, LogParser(""), MIN_GZ_LIMIT, path), 64))[:4096]
    except (OSError, zlib.error) as exc:  # e.g. a .gz that is not gzip
        raise ArtifactError(f"cannot read: {exc}", file=path) from None
    head = head.encode("utf-8", errors="replace")
    if not head.strip():
        raise ArtifactError("empty file", file=path)
    if b"\x00" in head:
        raise ArtifactError("binary file, not a text log (a serialized engine or an ONNX model?)", file=path,
                            hint="give the text trtexec --verbose printed (e.g. trtexec ... --verbose > build.log)")
    return size


def _explain_unrecognized(path: str) -> None:
    """No useful line at all: a TensorRT log without --verbose (note) or not a TensorRT log (error)."""
    head = "".join(_head_lines(path, 200))
    stripped = head.lstrip()
    if stripped.startswith("{") or re.match(r"\[\s*[{\"\]]", stripped):
        raise ArtifactError("this is JSON (a trtexec --export* file?), not a build log", file=path,
                            hint="give layer information to --graph, profiles to --profile, times to --times")
    if not any(marker in head for marker in _LOG_MARKERS):
        raise ArtifactError("not a TensorRT log: no line in it looks like TensorRT's or trtexec's output",
                            file=path, where="first 200 lines",
                            hint="capture the build with trtexec ... --verbose > build.log")


def _head_lines(path: str, count: int) -> Iterator[str]:
    try:
        with _open_text(path) as handle:
            for i, line in enumerate(_file_lines(handle, LogParser(""), MIN_GZ_LIMIT, path)):
                if i >= count:
                    break
                yield line
    except (OSError, zlib.error):
        return


__all__ = ["LogParser", "read_build_log", "tactic_key"]
