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

When the log reports a figure twice (a later builder pass, per-layer memory printed again, totals
repeated), the last one is the engine's.
"""

from __future__ import annotations

import os
import re
from typing import Iterable, Iterator

from ...errors import ArtifactError
from ..report import EngineReport, Layer, LayerMemory, MemoryReport, TacticRecord, TensorDesc
from ..dtypes import canonical_dtype
from .common import describe

# -- line patterns (compiled once; each runs only on lines that passed a substring test) ----------------
_PREFIX = re.compile(r"^(?:\[\d\d/\d\d/\d{4}-\d\d:\d\d:\d\d\] )?(?:\[(?:[VIWEF]|TRT|TensorRT)\] ){0,2}"
                     r"(?:(?:VERBOSE|INFO|WARNING|ERROR|INTERNAL_ERROR): )?")
_TACTIC = re.compile(r"Tactic(?: Name: (?P<name>\S+) Tactic)?: (?P<tactic>[^\s,]+),? "
                     r"(?:[Tt]ime:? (?P<time>\S+)|(?P<skip>skipped\.?\s*(?P<reason>.*)))")
_FASTEST = re.compile(r"Fastest Tactic: (?P<tactic>\S+?),? Time: (?P<time>\S+)")
_PROFILED = re.compile(r"^(?P<layer>.*) \((?P<runner>[^()]*)\) profiling completed in")
_CHOSE = re.compile(r"Chose Runner Type: (?P<runner>\S+) Tactic: (?P<tactic>\S+)")
_SET_NAME = re.compile(r"Set Tactic Name: (?P<name>\S+)(?: Tactic: (?P<tactic>\S+))?")
_RUNNER = re.compile(r"Timing Runner: (?P<layer>.*) \((?P<runner>[^()]*)\)\s*$")
_COSTS = re.compile(r"Computing costs for:? (?P<layer>.*?)\s*$")
_FORMATS = re.compile(r"Autotuning format combination: (?P<formats>.*?)\s*\**\s*$")
_ENGINE_LAYER = re.compile(r"Layer\((?P<type>[^)]*)\): (?P<layer>.*?), Tactic: (?P<tactic>\S+?), (?P<io>.*)$")
_IO_TENSOR = re.compile(r"(?P<name>.+?) \((?P<dtype>\w+)\[(?P<dims>[^\]]*)\]\)(?:, |$)")
_LAYER_MEMORY = re.compile(r"Layer: (?P<layer>.*?) Host Persistent: (?P<host>\d+)(?: bytes)? "
                           r"Device Persistent: (?P<device>\d+)(?: bytes)? Scratch Memory: (?P<scratch>\d+)")
_TOTAL_MEMORY = re.compile(r"(?P<what>Total Host Persistent|Total Device Persistent|Total Scratch|Max Scratch|"
                           r"Total Activation|Total Weights) Memory: (?P<value>[\d.]+)\s*(?P<unit>[KMG]i?B|bytes|B)?")
_PEAK = re.compile(r"Peak memory usage of TRT CPU/GPU memory allocators: CPU (?P<cpu>[\d.]+) (?P<cu>[KMG]i?B), "
                   r"GPU (?P<gpu>[\d.]+) (?P<gu>[KMG]i?B)")
_ENGINE_SIZE = re.compile(r"(?:Created engine with size|Loaded engine size|Engine size): (?P<value>[\d.]+)\s*"
                          r"(?P<unit>[KMG]i?B|bytes|B)?")
_SKIP_TACTIC = re.compile(r"[Ss]kipping tactic (?P<tactic>\S+?),? (?:due to |because )?(?P<reason>.*)$")
_NO_VALID = re.compile(r"(?P<runner>\S+) has no valid tactics for this config, skipping")
_HEX = re.compile(r"0x[0-9a-fA-F]+")

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
_MASK64 = 2**64 - 1
_LOG_MARKERS = ("[TRT]", "[TensorRT]", "TensorRT", "[V]", "[I]", "[W]", "[E]", "trtexec")


def tactic_key(value: str | int | None) -> int | str | None:
    """A comparable tactic id: ``"0x5deb..."``, ``"6767..."`` and ``-1234`` (signed 64-bit) all become ints."""
    if value is None:
        return None
    if isinstance(value, int):
        return value & _MASK64
    text = value.strip().rstrip(",.;")
    try:
        return int(text, 16) if text.lower().startswith("0x") else int(text) & _MASK64
    except ValueError:
        return text


def read_build_log(source: str | os.PathLike | Iterable[str], *, origin_label: str | None = None) -> EngineReport:
    """Tactics (timed, skipped, chosen) and memory from a verbose build log, streamed line by line.

    ``source`` is a path, the log text itself (a string with newlines) or any iterable of lines (a live
    logger's messages). Raises :class:`~explorer.errors.ArtifactError` for a missing file, a binary or
    JSON file, or a file in which no line looks like TensorRT's.
    """
    if isinstance(source, (str, os.PathLike)) and not (isinstance(source, str) and "\n" in source):
        path = os.fspath(source)
        label = origin_label or f"TensorRT build log {describe(path)}"
        _check_log_file(path)
        with _open_text(path) as handle:
            parser = LogParser(label)
            parser.feed(handle)
        if not parser.recognized:
            _explain_unrecognized(path)
        return parser.report()
    label = origin_label or "TensorRT build log"
    lines: Iterable[str] = source.splitlines() if isinstance(source, str) else source
    parser = LogParser(label)
    parser.feed(lines)
    return parser.report()


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
        self.recognized = 0
        self.lines = 0
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
                    key = (layer, self._formats, self._runner, m["tactic"])
                    old = records.pop(key, None)  # re-timed: the later figure wins and moves to the end
                    if old is not None and name is None:
                        value[2] = old[2]
                    records[key] = value
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
                m = _RUNNER.search(line)
                if m is not None:
                    recognized += 1
                    self._layer = m["layer"]
                    self._runner = _runner_name(m["runner"])
                    self._pending_name = None
            elif "Memory" in line:
                recognized += self._memory(line)
            elif "kipp" in line:
                recognized += self._skip(line)
            elif "Computing costs for" in line:
                m = _COSTS.search(line)
                if m is not None:
                    recognized += 1
                    self._layer = m["layer"]
                    self._formats = None
            elif "Autotuning format combination" in line:
                m = _FORMATS.search(line)
                if m is not None:
                    recognized += 1
                    self._formats = m["formats"]
            elif "MemUsageStats" in line:
                recognized += self._peak(line)
            elif "ngine" in line and "size" in line:
                recognized += self._engine_size(line)
        self.lines += count
        self.recognized += recognized

    # -- tactic lines (the rarer forms) -----------------------------------------------------------------
    def _put(self, tactic: str | None, reason: str | None, runner: str | None = None) -> None:
        key = (self._layer, self._formats, runner if runner is not None else self._runner, tactic)
        self.records.pop(key, None)
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
                self._layer = head["layer"]
                self._runner = _runner_name(head["runner"])
        if self._layer is not None:
            self.fastest[(self._layer, self._formats, self._runner)] = (m["tactic"], _float(m["time"]))
        return 1

    def _chose(self, line: str) -> int:
        m = _CHOSE.search(line)
        if m is None or self._layer is None:
            return 0
        self.chose[self._layer] = (_runner_name(m["runner"]), m["tactic"], self._formats)
        return 1

    def _engine_layer(self, line: str) -> int:
        m = _ENGINE_LAYER.search(line)
        if m is None:
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

    def _skip(self, line: str) -> int:
        if self._layer is None:
            return 0
        m = _SKIP_TACTIC.search(line)
        if m is not None:
            self._put(m["tactic"], m["reason"].strip() or "skipped")
            return 1
        m = _NO_VALID.search(line)
        if m is not None:
            self._put(None, "no valid tactics for this config", runner=_runner_name(m["runner"]))
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
            m = _LAYER_MEMORY.search(line)
            if m is None:
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
        layers = list(self.engine_layers.values())
        if layers:
            provenance["layers"] = self.label
        return EngineReport(layers=layers, tactics=tactics, memory=memory, sources=[self.label],
                            provenance=provenance, notes=notes)


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
        return int(round(float(value) * _UNITS.get(unit, 1)))
    except ValueError:
        return None


def _io_tensors(text: str) -> list[TensorDesc]:
    result = []
    for m in _IO_TENSOR.finditer(text.strip()):
        dims = []
        for d in m["dims"].split(","):
            d = d.strip()
            if not d:
                continue
            d = d.split(":", 1)[0]  # "64:4" = 64 channels, vectorized by 4
            dims.append(int(d) if d.lstrip("-").isdigit() else d)
        result.append(TensorDesc(name=m["name"], shape=tuple(dims), dtype=canonical_dtype(m["dtype"]),
                                 format=m["dtype"]))
    return result


def _open_text(path: str):
    """The log as text lines; ``.gz`` logs are decompressed on the fly (still streamed)."""
    if path.endswith(".gz"):
        import gzip

        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")


def _check_log_file(path: str) -> None:
    if not os.path.exists(path):
        raise ArtifactError("file not found", file=path)
    if os.path.isdir(path):
        raise ArtifactError("is a directory, not a log file", file=path)
    try:
        with _open_text(path) as handle:
            head = handle.read(4096).encode("utf-8", errors="replace")
    except OSError as exc:  # e.g. a .gz that is not gzip
        raise ArtifactError(f"cannot read: {exc}", file=path) from None
    if not head.strip():
        raise ArtifactError("empty file", file=path)
    if b"\x00" in head:
        raise ArtifactError("binary file, not a text log (a serialized engine or an ONNX model?)", file=path,
                            hint="give the text trtexec --verbose printed (e.g. trtexec ... --verbose > build.log)")


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
    with _open_text(path) as handle:
        for i, line in enumerate(handle):
            if i >= count:
                break
            yield line


__all__ = ["LogParser", "read_build_log", "tactic_key"]
