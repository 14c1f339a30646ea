"""The build settings as command lines to rebuild elsewhere: ``trtexec`` (TensorRT 10.x, 11.x) and Polygraphy.

Each function returns a :class:`Command`: the argument list, the copyable line (``shlex.join``, so paths and
names with spaces or quotes survive a POSIX shell) and notes on what the line cannot say. The flags follow
trtexec's ``--help`` and Polygraphy's own argument parser (the tests parse the lines with it):

- shapes: ``--minShapes=in0:1x3x224x224,in1:1x128`` (trtexec, as its ``sampleOptions.cpp`` reads them:
  split at ',', a name holding ':' in single quotes, ``scalar`` for rank 0; a name holding ',' or a quote
  cannot be written, a note says so) and ``--trt-min-shapes in0:[1,3,224,224]`` (Polygraphy);
- precision: ``--fp16`` / ``--bf16`` / ``--int8`` / ``--fp8`` on TensorRT 10.x; TensorRT 11 is strongly
  typed (no precision flags: the ONNX types decide), so the line is for the converted model (the explorer's
  fp16/bf16 conversion, or Q/DQ nodes for int8/fp8), which a note says;
- ``workspace`` / ``tactic_shared_memory``: ``--memPoolSize=workspace:1024M,tacticSharedMem:48K`` (base-2
  suffixes) and ``--pool-limit workspace:1073741824``;
- ``opt_level``: ``--builderOptimizationLevel`` / ``--builder-optimization-level``; ``timing_cache``:
  ``--timingCacheFile`` / ``--load-timing-cache`` + ``--save-timing-cache``; ``sparse_weights``:
  ``--sparsity=enable`` / ``--sparse-weights``; ``runs``/``warmup``/``duration``: trtexec's
  ``--iterations``/``--duration`` and ``polygraphy run --iterations``.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field

from ..errors import BuildError
from .settings import BuildSettings

TRTEXEC_VERSIONS = ("10", "11")
_LOW_PRECISION_FLAGS = {"fp16": "--fp16", "bf16": "--bf16", "int8": "--int8", "fp8": "--fp8"}
_POLYGRAPHY_PRECISION = {"fp16": "--fp16", "bf16": "--bf16", "int8": "--int8", "fp8": "--fp8"}


@dataclass(frozen=True)
class Command:
    """One command line: ``argv`` (for subprocess), ``text`` (to copy into a shell) and its ``notes``."""

    tool: str
    argv: tuple[str, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def text(self) -> str:
        return shlex.join(self.argv)

    def to_dict(self) -> dict:
        return {"tool": self.tool, "argv": list(self.argv), "text": self.text, "notes": list(self.notes)}


def _major(version: str | int) -> str:
    major = str(version).strip().split(".")[0]
    if major not in TRTEXEC_VERSIONS:
        raise BuildError(f"trtexec command lines are for TensorRT {' and '.join(v + '.x' for v in TRTEXEC_VERSIONS)}, "
                         f"got version {version!r}")
    return major


def _trtexec_name(name: str) -> str:
    """An input name as trtexec's shape lists take it: in single quotes when it holds ':' (trtexec's
    ``splitNameAndValue`` takes the quoted part as the name; unquoted, it splits at the last ':')."""
    return f"'{name}'" if ":" in name else name


def _trtexec_unsayable(name: str) -> bool:
    """trtexec splits a shape list at every ',' before it looks at quotes, and counts quotes: a name holding
    ',' or "'" cannot be written in ``--minShapes`` at all."""
    return "," in name or "'" in name


def _dims(shape) -> str:
    return "x".join(str(int(d)) for d in shape) if len(shape) else "scalar"  # trtexec's word for rank 0


def _size(nbytes: int) -> str:
    """Bytes with the largest base-2 suffix trtexec's ``--memPoolSize`` reads that divides them exactly."""
    for suffix, unit in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if nbytes % unit == 0:
            return f"{nbytes // unit}{suffix}"
    return f"{nbytes}B"


def _stem(model_path: str) -> str:
    return model_path[:-5] if model_path.lower().endswith(".onnx") else model_path


def _engine_stem(engine_path: str) -> str:
    for suffix in (".engine", ".plan", ".trt"):
        if engine_path.lower().endswith(suffix):
            return engine_path[: -len(suffix)]
    return engine_path


def trtexec_command(settings: BuildSettings, model_path: str, *, version: str | int = "10",
                    engine_path: str | None = None) -> Command:
    """The ``trtexec`` line that builds (and times) what ``settings`` describe, for TensorRT ``version`` 10 or 11."""
    s = settings.validated()
    major = _major(version)
    engine = engine_path or _stem(model_path) + ".engine"
    argv = ["trtexec", f"--onnx={model_path}", f"--saveEngine={engine}"]
    notes: list[str] = []
    if s.precision != "fp32":
        if major == "10":
            argv.append(_LOW_PRECISION_FLAGS[s.precision])
            if s.precision == "int8":
                notes.append("--int8 on a model without Q/DQ nodes and without --calib uses placeholder scales: "
                             "right for timing, not for accuracy")
        else:
            notes.append(f"TensorRT 11 is strongly typed: there is no --{s.precision} flag; give it the model "
                         f"converted to {s.precision} (fp16/bf16: the explorer's conversion; int8/fp8: Q/DQ nodes)")
    bad = [name for name in s.shapes if _trtexec_unsayable(name)]
    if bad:
        notes.append("trtexec cannot take the shapes of " + ", ".join(repr(n) for n in bad) + ": its shape lists "
                     "are split at ',' and a name may not hold a single quote (rename the inputs, or use Polygraphy)")
    if s.shapes:
        for flag, index in (("--minShapes", 0), ("--optShapes", 1), ("--maxShapes", 2)):
            argv.append(f"{flag}=" + ",".join(f"{_trtexec_name(name)}:{_dims(triple[index])}"
                                            for name, triple in s.shapes.items()))
    pools = []
    if s.workspace:
        pools.append(f"workspace:{_size(s.workspace)}")
    if s.tactic_shared_memory:
        pools.append(f"tacticSharedMem:{_size(s.tactic_shared_memory)}")
    if pools:
        argv.append("--memPoolSize=" + ",".join(pools))
    argv.append(f"--builderOptimizationLevel={s.opt_level}")
    if s.timing_cache:
        argv.append(f"--timingCacheFile={s.timing_cache}")
    if s.sparse_weights:
        argv.append("--sparsity=enable")
    argv.append(f"--iterations={s.runs}")
    if s.duration:
        argv.append(f"--duration={s.duration:g}")
    stem = _engine_stem(engine)
    argv += ["--profilingVerbosity=detailed", f"--exportLayerInfo={stem}.graph.json",
             f"--exportProfile={stem}.profile.json", f"--exportTimes={stem}.timing.json", "--separateProfileRun"]
    if s.warmup:
        notes.append(f"trtexec warms up for a time (--warmUp=MS, 200 ms by default), not for {s.warmup} runs")
    if s.values:
        notes.append("input values (" + ", ".join(s.values) + ") are not on the line: trtexec takes them from "
                     "files (--loadInputs=name:file.bin)")
    return Command("trtexec", tuple(argv), tuple(notes))


def polygraphy_command(settings: BuildSettings, model_path: str, *, mode: str = "run", version: str | int = "10",
                       engine_path: str | None = None) -> Command:
    """``polygraphy run MODEL --trt --onnxrt ...`` (build with TensorRT and compare with ONNX Runtime) or
    ``polygraphy convert MODEL --convert-to trt -o ENGINE ...`` (``mode="convert"``), for TensorRT 10 or 11."""
    s = settings.validated()
    major = _major(version)
    if mode not in ("run", "convert"):
        raise BuildError(f"polygraphy mode must be 'run' or 'convert', got {mode!r}")
    engine = engine_path or _stem(model_path) + ".engine"
    if mode == "run":
        argv = ["polygraphy", "run", model_path, "--trt", "--onnxrt", "--save-engine", engine]
    else:
        argv = ["polygraphy", "convert", model_path, "--convert-to", "trt", "-o", engine]
    notes: list[str] = []
    if s.precision != "fp32":
        if major == "10":
            argv.append(_POLYGRAPHY_PRECISION[s.precision])
        else:
            notes.append(f"TensorRT 11 is strongly typed: no --{s.precision}; give Polygraphy the model converted "
                         f"to {s.precision}")
    if s.shapes:
        for flag, index in (("--trt-min-shapes", 0), ("--trt-opt-shapes", 1), ("--trt-max-shapes", 2)):
            argv.append(flag)
            argv += [f"{name}:[{','.join(str(int(d)) for d in triple[index])}]" for name, triple in s.shapes.items()]
        if mode == "run":
            argv.append("--input-shapes")
            argv += [f"{name}:[{','.join(str(int(d)) for d in triple[1])}]" for name, triple in s.shapes.items()]
    pools = []
    if s.workspace:
        pools.append(f"workspace:{s.workspace}")
    if s.tactic_shared_memory:
        pools.append(f"tactic_shared_memory:{s.tactic_shared_memory}")
    if pools:
        argv.append("--pool-limit")
        argv += pools
    argv += ["--builder-optimization-level", str(s.opt_level)]
    if s.timing_cache:
        argv += ["--load-timing-cache", s.timing_cache, "--save-timing-cache", s.timing_cache]
    if s.sparse_weights:
        argv.append("--sparse-weights")
    if mode == "run":
        argv += ["--iterations", str(s.runs), "--seed", str(s.seed)]
        if s.values:
            notes.append("input values (" + ", ".join(s.values) + ") are not on the line: Polygraphy feeds random "
                         "data unless given --data-loader-script or --load-inputs")
    return Command("polygraphy", tuple(argv), tuple(notes))


def command_lines(settings: BuildSettings, model_path: str) -> list[Command]:
    """Every line the Build tab and ``build --print-commands`` show, in one order."""
    return [trtexec_command(settings, model_path, version="10"), trtexec_command(settings, model_path, version="11"),
            polygraphy_command(settings, model_path, mode="convert"),
            polygraphy_command(settings, model_path, mode="run")]


__all__ = ["Command", "TRTEXEC_VERSIONS", "command_lines", "polygraphy_command", "trtexec_command"]
