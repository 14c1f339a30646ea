"""TensorRT, when it is installed: the real ONNX parser's verdicts, and real engine builds.

This is the only module of the explorer that imports ``tensorrt``, and it does so inside functions, so the
rest of the package (and a laptop without a GPU) never pays for it or depends on it.

What it offers:

- :func:`available` - can TensorRT be used here, and if not, why not (cached);
- :func:`parser_capability` - what TensorRT's ONNX parser says about a model: supported and unsupported
  node groups (``supports_model_v2`` from 10.1, ``supports_model`` before) and every parser error;
  :func:`map_capability_to_model` turns its node indices into the explorer's node ids;
- :func:`build_engine` - parse, configure, build, inspect and profile an engine; meant to run in a worker
  process, it returns plain JSON-able data and writes trtexec-style artifacts next to the engine.

TensorRT 10.x and 11.x are both first-class. 10.x takes precision from builder flags; 11.x removed them
(networks are always strongly typed), so for fp16/bf16 the ONNX model is converted first
(:mod:`explorer.backends.precision`) and int8/fp8 need Q/DQ nodes in the model.

Conventions that keep this module checkable without TensorRT (``tests/test_tensorrt_api_conformance.py``
reads this file with ``ast`` and checks every TensorRT name it uses against the real bindings of 10.0,
10.16 and 11.4):

- the name ``trt`` always means the ``tensorrt`` module;
- code that differs between versions sits under explicit branches: ``if major >= 11:`` (with
  ``major, minor = _version(trt)``) for the 10/11 split, ``hasattr(obj, "name")`` for an API that appeared
  in a minor release; the checker evaluates each condition per version and checks only the branch taken;
- helpers that take TensorRT objects get them as arguments from typed call sites (or annotations such as
  ``engine: trt.ICudaEngine``), so their types are known;
- subclasses of TensorRT interfaces define exactly the interface's methods (helpers start with ``_``).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import statistics
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterator, Sequence

from ..errors import BuildError, ExplorerError
from . import MAX_DURATION_S, MAX_TIMED_RUNS

PRECISIONS = ("fp32", "fp16", "bf16", "int8", "fp8")

ProgressCallback = Callable[[str, int, int], None]


# --------------------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------------------

@dataclass
class ParserIssue:
    """One error of TensorRT's ONNX parser, in its own words.

    ``node_index`` is the node's position in the ONNX file's main graph (None when the error is not tied
    to a node, e.g. a bad model); ``code`` is the parser's ``ErrorCode`` name (``UNSUPPORTED_NODE``...).
    """

    node_index: int | None
    node_name: str
    operator: str
    description: str
    code: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ParserCapability:
    """What TensorRT's ONNX parser takes from a model.

    ``subgraphs``: groups of node indices (positions in the ONNX file's main-graph node list, the order the
    parser reads) with whether TensorRT supports the group. The explorer's loader keeps file order when the
    file is already topologically sorted and records each node's ``file_index`` otherwise; use
    :func:`map_capability_to_model` to get node ids.
    """

    version: str
    source_label: str  # exactly "tensorrt-parser {major}.{minor}"
    subgraphs: list[tuple[list[int], bool]]
    errors: list[ParserIssue]

    @property
    def fully_supported(self) -> bool:
        return all(ok for _, ok in self.subgraphs) and not self.errors

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "source_label": self.source_label,
                "subgraphs": [[list(nodes), ok] for nodes, ok in self.subgraphs],
                "errors": [e.to_dict() for e in self.errors]}


@dataclass
class MappedCapability:
    """A :class:`ParserCapability` in the explorer's node ids."""

    subgraphs: list[tuple[list[str], bool]]
    issues: dict[str, list[ParserIssue]]  # node id -> parser errors about it
    unmapped: list[ParserIssue]  # errors naming no node of the model (model-level errors, function bodies)


@dataclass
class TensorRTBuildSettings:
    """How to build. Plain data (JSON-able through :meth:`to_dict` / :meth:`from_dict`) for the worker.

    ``shapes``: input name -> (min, opt, max) shapes, one optimization profile; required for every input
    with a dynamic dimension. ``timing_cache``: a file to load before the build and to save (combined with
    what is already there) after it. ``workspace`` / ``tactic_shared_memory``: memory pool limits in bytes.
    ``runs`` timed inferences after ``warmup`` untimed ones give per-layer latencies (0 runs: no profiling);
    with ``duration`` (seconds) the timed inferences go on until that much time has passed too, as
    trtexec's ``--duration``.
    ``output_dir``: where the engine and its artifacts go (default: the log's folder, else a new temp dir).
    ``keep_io_types``: on TensorRT 11, keep fp32 inputs/outputs when converting the model to fp16/bf16.
    ``editable_timing_cache``: on TensorRT >= 10.8, build with ``BuilderFlag.EDITABLE_TIMING_CACHE`` so the
    cache's entries (tactic and time per layer key) can be listed.
    """

    precision: str = "fp32"
    opt_level: int = 3
    workspace: int | None = None
    tactic_shared_memory: int | None = None
    shapes: dict[str, tuple[Sequence[int], Sequence[int], Sequence[int]]] = field(default_factory=dict)
    timing_cache: str | None = None
    sparse_weights: bool = False
    runs: int = 10
    warmup: int = 3
    duration: float = 0.0
    output_dir: str | None = None
    keep_io_types: bool = True
    editable_timing_cache: bool = True

    def validate(self) -> None:
        if self.precision not in PRECISIONS:
            raise ExplorerError(f"unknown precision {self.precision!r}; choose one of {', '.join(PRECISIONS)}")
        if not 0 <= int(self.opt_level) <= 5:
            raise ExplorerError(f"builder optimization level must be 0..5, got {self.opt_level}")
        for name, value in (("workspace", self.workspace), ("tactic_shared_memory", self.tactic_shared_memory)):
            if value is not None and int(value) <= 0:
                raise ExplorerError(f"{name} must be a positive number of bytes, got {value}")
        if int(self.runs) < 0 or int(self.warmup) < 0:
            raise ExplorerError("runs and warmup must be >= 0")
        if not 0 <= float(self.duration) <= MAX_DURATION_S:
            raise ExplorerError(f"duration must be 0..{MAX_DURATION_S:.0f} seconds, got {self.duration}")
        for name, triple in self.shapes.items():
            if len(triple) != 3:
                raise ExplorerError(f"shapes[{name!r}] must be (min, opt, max), got {triple!r}")
            lo, opt, hi = (tuple(int(d) for d in s) for s in triple)
            if not (len(lo) == len(opt) == len(hi)) or any(not (a <= b <= c) for a, b, c in zip(lo, opt, hi)):
                raise ExplorerError(f"shapes[{name!r}] must satisfy min <= opt <= max in every dimension, "
                                    f"got {lo}, {opt}, {hi}")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["shapes"] = {k: [list(s) for s in v] for k, v in self.shapes.items()}
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TensorRTBuildSettings":
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(data) - known
        if unknown:
            raise ExplorerError(f"unknown TensorRT build settings: {', '.join(sorted(unknown))}")
        values = dict(data)
        values["shapes"] = {k: tuple(tuple(int(d) for d in s) for s in v)
                            for k, v in (data.get("shapes") or {}).items()}
        return cls(**values)


class BuildCancelled(BuildError):
    """The user cancelled the build (the progress monitor told TensorRT to stop)."""


# --------------------------------------------------------------------------------------------------------
# Availability
# --------------------------------------------------------------------------------------------------------

_AVAILABILITY: dict[bool, tuple[bool, str]] = {}
_AVAILABILITY_LOCK = threading.Lock()


def available(require_gpu: bool = True) -> tuple[bool, str]:
    """Whether TensorRT can be used here, with a reason a person can act on. Cached per process.

    ``require_gpu=False`` only asks whether ``import tensorrt`` works (bindings and libnvinfer present);
    ``True`` (the default) also creates a ``trt.Builder``, which needs a CUDA device: the parser and the
    builder both do.
    """
    key = bool(require_gpu)
    with _AVAILABILITY_LOCK:
        if key not in _AVAILABILITY:
            _AVAILABILITY[key] = _probe(require_gpu=key)
        return _AVAILABILITY[key]


def reset_availability_cache() -> None:
    """Forget cached answers of :func:`available` (tests, or after installing TensorRT in a live kernel)."""
    with _AVAILABILITY_LOCK:
        _AVAILABILITY.clear()


def installed_version() -> str | None:
    """``"major.minor"`` of the importable TensorRT, or None."""
    ok, _ = available(require_gpu=False)
    if not ok:
        return None
    trt = _import_tensorrt()
    major, minor = _version(trt)
    return f"{major}.{minor}"


def _probe(require_gpu: bool) -> tuple[bool, str]:
    try:
        import tensorrt as trt
    except ModuleNotFoundError as exc:
        if exc.name in ("tensorrt", "tensorrt_bindings"):
            return False, ("TensorRT is not installed (no 'tensorrt' Python package); the explorer uses the "
                           "published support matrix and ONNX Runtime instead")
        return False, f"import tensorrt failed: {exc}"
    except (ImportError, OSError) as exc:
        return False, _describe_import_failure(exc)
    except Exception as exc:  # a broken install must never take the kernel down
        return False, f"import tensorrt failed: {type(exc).__name__}: {exc}"
    version = getattr(trt, "__version__", "?")
    if not require_gpu:
        return True, f"TensorRT {version}"
    messages: list[str] = []
    try:
        logger = _interfaces(trt).Logger(None, trt.ILogger.ERROR, messages)
        builder = trt.Builder(logger)
    except Exception as exc:  # pybind11 raises TypeError when createInferBuilder returns null
        detail = "; ".join(messages[-3:]) or str(exc)
        return False, f"no NVIDIA GPU visible: TensorRT {version} could not create a builder ({detail}){_gpu_hint()}"
    if builder is None:
        return False, f"no NVIDIA GPU visible: TensorRT {version} could not create a builder{_gpu_hint()}"
    return True, f"TensorRT {version}"


def _describe_import_failure(exc: BaseException) -> str:
    text = str(exc)
    missing = re.search(r"(lib[\w.+-]+\.so(?:\.\d+)*)", text)
    if missing:
        return (f"the tensorrt Python bindings import but {missing.group(1)} is missing ({text.splitlines()[0]}); "
                "install TensorRT's libraries (tensorrt-cu12/cu13 from NVIDIA's package index, a TensorRT tarball "
                "on LD_LIBRARY_PATH, or an NGC container)")
    return f"import tensorrt failed: {type(exc).__name__}: {text}"


def _gpu_hint() -> str:
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1", "none", "NoDevFiles"):
        return f"; CUDA_VISIBLE_DEVICES={visible!r} hides every GPU"
    import shutil

    if not shutil.which("nvidia-smi"):
        return "; nvidia-smi is not on PATH (no NVIDIA driver?)"
    return ""


def _import_tensorrt():
    """``import tensorrt`` or an ExplorerError carrying :func:`available`'s reason."""
    ok, why = available(require_gpu=False)
    if not ok:
        raise ExplorerError(f"TensorRT cannot be used: {why}")
    import tensorrt as trt

    return trt


def _version(trt) -> tuple[int, int]:
    parts = trt.__version__.split(".")
    return int(parts[0]), int(parts[1])


# --------------------------------------------------------------------------------------------------------
# Implementations of TensorRT's callback interfaces (classes made once, after the lazy import)
# --------------------------------------------------------------------------------------------------------

_INTERFACES: dict[int, Any] = {}


def _interfaces(trt):
    """The explorer's ``ILogger``, ``IErrorRecorder``, ``IProgressMonitor`` and ``IProfiler`` classes."""
    cached = _INTERFACES.get(id(trt))
    if cached is not None:
        return cached

    letters = {trt.ILogger.INTERNAL_ERROR: "F", trt.ILogger.ERROR: "E", trt.ILogger.WARNING: "W",
               trt.ILogger.INFO: "I", trt.ILogger.VERBOSE: "V"}

    keep_in_memory = int(trt.ILogger.WARNING)

    class Logger(trt.ILogger):
        """Writes trtexec-style lines (``[date-time] [V] [TRT] message``) to a file, for the log reader;
        keeps errors, and warnings in ``messages`` when given, in memory for messages to the user."""

        def __init__(self, stream, min_severity, messages=None):
            trt.ILogger.__init__(self)
            self._stream = stream
            self._min = int(min_severity)
            self._messages = messages
            self._lock = threading.Lock()
            self._errors: list[str] = []

        def log(self, severity, msg):
            level = int(severity)
            if level > self._min:
                return
            letter = letters.get(severity, "I")
            with self._lock:
                if letter in ("F", "E"):
                    self._errors.append(msg)
                if self._messages is not None and level <= keep_in_memory:
                    self._messages.append(msg)
                if self._stream is not None:
                    stamp = time.strftime("%m/%d/%Y-%H:%M:%S")
                    self._stream.write(f"[{stamp}] [{letter}] [TRT] {msg}\n")

    class ErrorRecorder(trt.IErrorRecorder):
        """Collects TensorRT's errors (code and text) so a failed build can say what TensorRT said."""

        def __init__(self):
            trt.IErrorRecorder.__init__(self)
            self._errors: list[tuple[Any, str]] = []
            self._lock = threading.Lock()

        def num_errors(self):
            return len(self._errors)

        def get_error_code(self, index):
            return self._errors[index][0]

        def get_error_desc(self, index):
            return self._errors[index][1]

        def has_overflowed(self):
            return False

        def clear(self):
            with self._lock:
                self._errors.clear()

        def report_error(self, code, desc):
            with self._lock:
                self._errors.append((code, desc))
            return False  # not fatal by our decision: TensorRT goes on and fails the call itself

    class ProgressMonitor(trt.IProgressMonitor):
        """Forwards build phases to ``on_progress(phase, step, total)``; stops the build when cancelled."""

        def __init__(self, on_progress, cancel_event):
            trt.IProgressMonitor.__init__(self)
            self._on_progress = on_progress
            self._cancel_event = cancel_event
            self._totals: dict[str, int] = {}
            self._cancelled = False

        def _forward(self, phase, step, total):
            if self._on_progress is None:
                return
            try:
                self._on_progress(phase, step, total)
            except Exception:  # a broken callback must not abort TensorRT's thread
                pass

        def phase_start(self, phase_name, parent_phase, num_steps):
            self._totals[phase_name] = int(num_steps)
            self._forward(phase_name, 0, int(num_steps))

        def step_complete(self, phase_name, step):
            self._forward(phase_name, int(step) + 1, self._totals.get(phase_name, 0))
            if self._cancel_event is not None and self._cancel_event.is_set():
                self._cancelled = True
                return False  # TensorRT stops the build
            return True

        def phase_finish(self, phase_name):
            total = self._totals.pop(phase_name, 0)
            self._forward(phase_name, total, total)

    class LayerProfiler(trt.IProfiler):
        """Collects every layer's time of every profiled inference."""

        def __init__(self):
            trt.IProfiler.__init__(self)
            self._times: dict[str, list[float]] = {}

        def report_layer_time(self, layer_name, ms):
            self._times.setdefault(layer_name, []).append(float(ms))

    namespace = type("TensorRTInterfaces", (), {})()
    namespace.Logger = Logger
    namespace.ErrorRecorder = ErrorRecorder
    namespace.ProgressMonitor = ProgressMonitor
    namespace.LayerProfiler = LayerProfiler
    _INTERFACES[id(trt)] = namespace
    return namespace


# --------------------------------------------------------------------------------------------------------
# The parser's verdicts
# --------------------------------------------------------------------------------------------------------

def parser_capability(model_bytes: bytes, model_path: str | None = None) -> ParserCapability:
    """Ask TensorRT's ONNX parser which parts of the model it supports, and why not the others.

    ``model_path`` lets the parser find external weights (relative to the model's folder). Needs a CUDA
    device (the parser writes into a network that a ``trt.Builder`` owns); raises :class:`ExplorerError`
    with :func:`available`'s reason otherwise.
    """
    trt = _import_tensorrt()
    major, minor = _version(trt)
    messages: list[str] = []
    logger = _interfaces(trt).Logger(None, trt.ILogger.ERROR, messages)
    builder = _create_builder(trt, logger, messages)
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, logger)
    data = bytes(model_bytes)

    subgraphs: list[tuple[list[int], bool]] = []
    if hasattr(parser, "supports_model_v2"):
        parser.supports_model_v2(data, model_path)
        for index in range(parser.num_subgraphs):
            nodes = [int(i) for i in parser.get_subgraph_nodes(index)]
            subgraphs.append((nodes, bool(parser.is_subgraph_supported(index))))
    else:
        _, groups = parser.supports_model(data, model_path)
        for nodes, ok in groups:
            subgraphs.append(([int(i) for i in nodes], bool(ok)))

    errors = _parser_errors(trt, parser)
    return ParserCapability(version=trt.__version__, source_label=f"tensorrt-parser {major}.{minor}",
                            subgraphs=subgraphs, errors=errors)


def _create_builder(trt, logger, messages: list[str], error: type[ExplorerError] = ExplorerError):
    try:
        builder = trt.Builder(logger)
    except Exception as exc:  # pybind11 raises TypeError when createInferBuilder returns null
        detail = "; ".join(messages[-3:]) or str(exc)
        raise error(f"TensorRT could not create a builder: {detail}",
                    hint="the parser and the builder need an NVIDIA GPU and driver") from exc
    if builder is None:
        raise error("TensorRT could not create a builder", hint="is an NVIDIA GPU visible?")
    return builder


def _parser_errors(trt, parser) -> list[ParserIssue]:
    issues = []
    for index in range(parser.num_errors):
        error = parser.get_error(index)
        node = int(error.node())
        code = str(error.code())
        issues.append(ParserIssue(
            node_index=node if node >= 0 else None,
            node_name=str(error.node_name() or ""),
            operator=str(error.node_operator() or ""),
            description=str(error.desc() or ""),
            code=code.split(".")[-1]))
    return issues


def map_capability_to_model(capability: ParserCapability, model) -> MappedCapability:
    """Node ids for the parser's node indices.

    Indices are positions in the ONNX file; the explorer's nodes carry them as ``file_index`` (equal to
    ``index`` when the file was already topologically sorted). An error whose ``node_name`` disagrees
    with the node at its index (e.g. the parser saw a different serialization) is mapped by name instead,
    when that name is unique in the model.
    """
    nodes = list(model.graph.nodes)
    by_file_index = {getattr(n, "file_index", n.index): n for n in nodes}
    name_counts: dict[str, int] = {}
    for n in nodes:
        if n.name:
            name_counts[n.name] = name_counts.get(n.name, 0) + 1
    by_name = {n.name: n for n in nodes if n.name and name_counts[n.name] == 1}

    subgraphs = []
    for indices, ok in capability.subgraphs:
        ids = [by_file_index[i].id for i in indices if i in by_file_index]
        subgraphs.append((ids, ok))
    issues: dict[str, list[ParserIssue]] = {}
    unmapped: list[ParserIssue] = []
    for issue in capability.errors:
        node = by_file_index.get(issue.node_index) if issue.node_index is not None else None
        if node is not None and issue.node_name and node.name != issue.node_name:
            node = by_name.get(issue.node_name)
        elif node is None and issue.node_name:
            node = by_name.get(issue.node_name)
        if node is None:
            unmapped.append(issue)
        else:
            issues.setdefault(node.id, []).append(issue)
    return MappedCapability(subgraphs=subgraphs, issues=issues, unmapped=unmapped)


# --------------------------------------------------------------------------------------------------------
# Building
# --------------------------------------------------------------------------------------------------------

def build_engine(model_path: str, settings: TensorRTBuildSettings,
                 on_progress: ProgressCallback | None = None,
                 cancel_event: threading.Event | None = None,
                 log_path: str | None = None) -> dict[str, Any]:
    """Build (and profile) a TensorRT engine; returns plain JSON-able data. Meant for a worker process.

    Writes into ``settings.output_dir``: ``<name>.engine``, ``<name>.graph.json`` (engine inspector, like
    ``trtexec --exportLayerInfo``), ``<name>.profile.json`` (per-layer times, like ``--exportProfile``)
    and, on TensorRT 11 with fp16/bf16, the converted ``.onnx``. ``log_path`` receives TensorRT's verbose
    log in trtexec's format. Builds on one GPU run one at a time (a lock file), since concurrent builds
    disturb each other's tactic timings. ``on_progress(phase, step, total)`` is called from TensorRT's
    threads; setting ``cancel_event`` stops the build (:class:`BuildCancelled`).

    Raises :class:`BuildError` with TensorRT's own messages when parsing or building fails.
    """
    settings.validate()
    if not os.path.isfile(model_path):
        raise BuildError("model file not found", file=model_path)
    trt = _import_tensorrt()
    major, minor = _version(trt)
    started = time.time()
    out_dir = settings.output_dir or (os.path.dirname(os.path.abspath(log_path)) if log_path else
                                      tempfile.mkdtemp(prefix="trt-explorer-"))
    os.makedirs(out_dir, exist_ok=True)
    stem = os.path.splitext(os.path.basename(model_path))[0]
    name = f"{stem}.{settings.precision}.o{settings.opt_level}"
    notes: list[str] = []

    if cancel_event is not None and cancel_event.is_set():
        raise BuildCancelled("build cancelled before it started", file=model_path)

    # Precision: 11.x takes it from the model's types, 10.x from builder flags.
    build_model = model_path
    conversion = None
    if settings.precision in ("int8", "fp8") and not _has_qdq(model_path):
        raise BuildError(f"{settings.precision} needs a model with Q/DQ (QuantizeLinear/DequantizeLinear) nodes; "
                         "this one has none", file=model_path,
                         hint="quantize it first, e.g. with NVIDIA Model Optimizer's ONNX PTQ "
                              "(symmetric, zero points of 0)")
    if major >= 11:
        if settings.precision in ("fp16", "bf16"):
            build_model, conversion = _convert_model(model_path, settings.precision, out_dir, name,
                                                     settings.keep_io_types)
            notes.append(f"TensorRT {trt.__version__} is strongly typed: the model was converted to "
                         f"{settings.precision} with {conversion['tool']} before building")

    with contextlib.ExitStack() as stack:
        log_stream = stack.enter_context(open(log_path, "a", encoding="utf-8")) if log_path else None
        messages: list[str] = []
        severity = trt.ILogger.VERBOSE if log_stream is not None else trt.ILogger.WARNING
        ifaces = _interfaces(trt)
        logger = ifaces.Logger(log_stream, severity, messages)
        recorder = ifaces.ErrorRecorder()

        if on_progress is not None:
            _safe_progress(on_progress, "Waiting for the GPU", 0, 0)
        stack.enter_context(_exclusive_gpu(cancel_event))
        if log_stream is not None:
            log_stream.write(f"[{time.strftime('%m/%d/%Y-%H:%M:%S')}] [I] [explorer] TensorRT {trt.__version__}, "
                             f"model {build_model}, settings {json.dumps(settings.to_dict())}\n")

        builder = _create_builder(trt, logger, messages, error=BuildError)
        builder.error_recorder = recorder
        network = builder.create_network(0)
        parser = trt.OnnxParser(network, logger)
        if not parser.parse_from_file(build_model):
            issues = _parser_errors(trt, parser)
            text = "; ".join(f"{i.operator or 'model'} {i.node_name!r}: {i.description}" if i.node_name
                             else i.description for i in issues) or _tensorrt_words(recorder, logger)
            raise BuildError(f"TensorRT's ONNX parser rejected the model: {text}", file=build_model,
                             hint="see the Partitions view for every unsupported node")

        config = builder.create_builder_config()
        monitor = ifaces.ProgressMonitor(on_progress, cancel_event)
        config.progress_monitor = monitor
        config.profiling_verbosity = trt.ProfilingVerbosity.DETAILED
        config.builder_optimization_level = int(settings.opt_level)
        if settings.workspace:
            config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(settings.workspace))
        if settings.tactic_shared_memory:
            config.set_memory_pool_limit(trt.MemoryPoolType.TACTIC_SHARED_MEMORY, int(settings.tactic_shared_memory))
        if settings.sparse_weights:
            config.set_flag(trt.BuilderFlag.SPARSE_WEIGHTS)
        if major >= 11:
            pass  # strongly typed: precision is in the (converted) model
        else:
            _set_precision_flags(trt, config, settings.precision)
        if settings.editable_timing_cache and hasattr(trt.BuilderFlag, "EDITABLE_TIMING_CACHE"):
            config.set_flag(trt.BuilderFlag.EDITABLE_TIMING_CACHE)
        _add_profile(trt, builder, network, config, settings)
        cache = _load_timing_cache(trt, config, settings.timing_cache, notes)

        t0 = time.time()
        serialized = builder.build_serialized_network(network, config)
        build_seconds = time.time() - t0
        if serialized is None:
            if (cancel_event is not None and cancel_event.is_set()) or monitor._cancelled:
                raise BuildCancelled("build cancelled", file=build_model)
            raise BuildError(f"TensorRT could not build the engine: {_tensorrt_words(recorder, logger)}",
                             file=build_model)
        engine_bytes = bytes(serialized)
        del serialized
        engine_path = os.path.join(out_dir, f"{name}.engine")
        with open(engine_path, "wb") as f:
            f.write(engine_bytes)

        timing_cache = _save_timing_cache(trt, config, cache, settings.timing_cache, notes)

        runtime = trt.Runtime(logger)
        engine = runtime.deserialize_cuda_engine(engine_bytes)
        if engine is None:
            raise BuildError(f"TensorRT could not load the engine it built: {_tensorrt_words(recorder, logger)}",
                             file=engine_path)
        inspector = engine.create_engine_inspector()
        layer_text = inspector.get_engine_information(trt.LayerInformationFormat.JSON)
        try:
            layer_info: Any = json.loads(layer_text)
        except ValueError:
            layer_info = None
            notes.append("the engine inspector did not return valid JSON; kept as text")
        layer_info_path = os.path.join(out_dir, f"{name}.graph.json")
        with open(layer_info_path, "w", encoding="utf-8") as f:
            f.write(layer_text)
        memory = _memory(trt, engine, len(engine_bytes))

        profile, latency, profile_note = None, None, None
        if settings.runs > 0:
            profile, latency, profile_note = _profile(trt, engine, settings, cancel_event)
            if profile_note:
                notes.append(profile_note)
        profile_path = None
        if profile is not None:
            profile_path = os.path.join(out_dir, f"{name}.profile.json")
            with open(profile_path, "w", encoding="utf-8") as f:
                json.dump(profile, f, indent=1)

    return {
        "backend": "tensorrt",
        "tensorrt_version": trt.__version__,
        "strongly_typed": major >= 11,
        "model_path": model_path,
        "built_model_path": build_model,
        "conversion": conversion,
        "settings": settings.to_dict(),
        "engine_path": engine_path,
        "engine_size": len(engine_bytes),
        "build_seconds": round(build_seconds, 3),
        "total_seconds": round(time.time() - started, 3),
        "log_path": log_path,
        "layer_info": layer_info,
        "layer_info_path": layer_info_path,
        "memory": memory,
        "timing_cache": timing_cache,
        "profile": profile,
        "profile_path": profile_path,
        "latency_ms": latency,
        "warnings": [m for m in messages if m not in logger._errors][-50:],
        "notes": notes,
    }


def _safe_progress(on_progress: ProgressCallback, phase: str, step: int, total: int) -> None:
    try:
        on_progress(phase, step, total)
    except Exception:
        pass


def _tensorrt_words(recorder, logger) -> str:
    """What TensorRT said about a failure: the error recorder's entries, else the logged errors."""
    words = [f"{str(code).split('.')[-1]}: {desc}" for code, desc in recorder._errors]
    words += [m for m in logger._errors if m not in " ".join(words)]
    return "; ".join(words[-10:]) or "no message from TensorRT (see the build log)"


def _set_precision_flags(trt, config, precision: str) -> None:
    """TensorRT 10.x: precision is a builder permission (weakly typed networks)."""
    if precision == "fp16":
        config.set_flag(trt.BuilderFlag.FP16)
    elif precision == "bf16":
        config.set_flag(trt.BuilderFlag.BF16)
    elif precision == "int8":
        config.set_flag(trt.BuilderFlag.INT8)  # explicit quantization: the model's Q/DQ nodes say where
    elif precision == "fp8":
        config.set_flag(trt.BuilderFlag.FP8)


def _add_profile(trt, builder, network, config, settings: TensorRTBuildSettings) -> None:
    """One optimization profile from ``settings.shapes``; every dynamic input must have one."""
    names = []
    dynamic = {}
    for index in range(network.num_inputs):
        tensor = network.get_input(index)
        names.append(tensor.name)
        shape = tuple(tensor.shape)
        if tensor.is_shape_tensor:
            raise BuildError(f"input {tensor.name!r} is a shape tensor; the explorer does not build those yet")
        if any(d < 0 for d in shape):
            dynamic[tensor.name] = shape
    unknown = sorted(set(settings.shapes) - set(names))
    if unknown:
        raise BuildError(f"shapes were given for {', '.join(map(repr, unknown))}, which the network does not have "
                         f"(inputs: {', '.join(map(repr, names))})")
    missing = [n for n in dynamic if n not in settings.shapes]
    if missing:
        shown = ", ".join(f"{n!r} {tuple(dynamic[n])}" for n in missing)
        raise BuildError(f"dynamic inputs need (min, opt, max) shapes: {shown}",
                         hint="set them in the Build panel or TensorRTBuildSettings.shapes")
    if not settings.shapes:
        return
    profile = builder.create_optimization_profile()
    for input_name, (lo, opt, hi) in settings.shapes.items():
        profile.set_shape(input_name, tuple(int(d) for d in lo), tuple(int(d) for d in opt),
                          tuple(int(d) for d in hi))
    config.add_optimization_profile(profile)


def _load_timing_cache(trt, config, path: str | None, notes: list[str]):
    """Attach the cache in ``path`` (strictly: same device), else a new empty one."""
    data = b""
    if path and os.path.isfile(path):
        with _file_lock(path + ".lock"):
            with open(path, "rb") as f:
                data = f.read()
    if data:
        try:
            cache = config.create_timing_cache(data)
            if cache is not None and config.set_timing_cache(cache, False):
                return cache
        except Exception:  # TensorRT raises on caches of another version
            pass
        notes.append(f"timing cache {path} was made by another TensorRT version or device; started a new one "
                     "(the file is kept and combined with the new entries)")
    cache = config.create_timing_cache(b"")
    config.set_timing_cache(cache, False)
    return cache


def _save_timing_cache(trt, config, cache, path: str | None, notes: list[str]) -> dict[str, Any]:
    """Save (combined with what the file holds now) and list the cache's entries when TensorRT can."""
    current = config.get_timing_cache()
    if path:
        with _file_lock(path + ".lock"):
            combined = True
            if os.path.isfile(path):
                try:
                    with open(path, "rb") as f:
                        previous = config.create_timing_cache(f.read())
                    combined = previous is not None and current.combine(previous, True)
                except Exception:
                    combined = False
            if not combined:
                notes.append(f"the timing cache already in {path} could not be combined (another TensorRT "
                             "version?); it was replaced by this build's cache")
            with open(path + ".tmp", "wb") as f:
                f.write(bytes(current.serialize()))
            os.replace(path + ".tmp", path)
    entries = None
    if hasattr(current, "queryKeys"):
        try:
            entries = []
            for key in current.queryKeys():
                value = current.query(key)
                entries.append({"key": str(key), "tactic": f"0x{int(value.tacticHash) & (2**64 - 1):016x}",
                                "time_ms": float(value.timingMSec)})
        except Exception as exc:  # e.g. a cache TensorRT does not let us edit or read
            entries = None
            notes.append(f"could not list the timing cache's entries: {exc}")
    else:
        notes.append(f"TensorRT {trt.__version__} cannot list timing cache entries (needs 10.8 or newer)")
    return {"path": path, "entries": entries}


def _memory(trt, engine, engine_size: int) -> dict[str, Any]:
    """Device memory (activations + scratch), weights and related sizes, in bytes."""
    profiles = range(engine.num_optimization_profiles)
    memory: dict[str, Any] = {"engine_size": engine_size}
    if hasattr(engine, "device_memory_size_v2"):
        memory["device_memory"] = int(engine.device_memory_size_v2)
        memory["device_memory_per_profile"] = [int(engine.get_device_memory_size_for_profile_v2(p)) for p in profiles]
    else:
        memory["device_memory"] = int(engine.device_memory_size)
        memory["device_memory_per_profile"] = [int(engine.get_device_memory_size_for_profile(p)) for p in profiles]
    memory["streamable_weights"] = int(engine.streamable_weights_size)
    if hasattr(engine, "weight_streaming_scratch_memory_size"):
        memory["weight_streaming_scratch"] = int(engine.weight_streaming_scratch_memory_size)
    if hasattr(trt, "EngineStat"):
        memory["total_weights"] = int(engine.get_engine_stat(trt.EngineStat.TOTAL_WEIGHTS_SIZE))
    else:
        memory["total_weights"] = None  # the verbose log's "Total Weights Memory" line has it
    return memory


def _profile(trt, engine, settings: TensorRTBuildSettings, cancel_event) -> tuple[Any, Any, str | None]:
    """Per-layer times over ``settings.runs`` inferences (after ``settings.warmup``), trtexec's format:
    ``[{"count": N}, {"name", "timeMs", "averageMs", "medianMs", "percentage"}, ...]``. Problems become a
    note: the engine was built, only its profile is missing."""
    try:
        feed = _feed_dict(trt, engine)
    except _NoProfile as exc:
        return None, None, f"per-layer profiling skipped: {exc}"
    try:
        from polygraphy.backend.trt import TrtRunner
    except Exception as exc:
        return None, None, f"per-layer profiling skipped: Polygraphy's TrtRunner is unavailable ({exc})"

    profiler = _interfaces(trt).LayerProfiler()
    latencies: list[float] = []
    context = engine.create_execution_context()
    if context is None:
        return None, None, "per-layer profiling skipped: no execution context (out of device memory?)"
    cancelled = False
    try:
        with TrtRunner(context) as runner:
            for _ in range(settings.warmup):
                runner.infer(feed)
            context.profiler = profiler
            started = time.perf_counter()
            # `runs` inferences, and on until `duration` seconds have passed (trtexec's --iterations/--duration)
            while len(latencies) < settings.runs or (
                    settings.duration and time.perf_counter() - started < settings.duration
                    and len(latencies) < MAX_TIMED_RUNS):
                if cancel_event is not None and cancel_event.is_set():
                    cancelled = True
                    break
                t0 = time.perf_counter()
                runner.infer(feed)
                latencies.append((time.perf_counter() - t0) * 1000.0)
    except Exception as exc:
        return None, None, f"per-layer profiling failed: {type(exc).__name__}: {exc}"
    times = profiler._times
    if not times:
        return None, None, "per-layer profiling produced no layer times"
    count = max(len(v) for v in times.values())
    total = sum(sum(v) for v in times.values()) or 1.0
    profile: list[dict[str, Any]] = [{"count": count}]
    for layer, values in times.items():
        profile.append({"name": layer, "timeMs": sum(values), "averageMs": sum(values) / len(values),
                        "medianMs": statistics.median(values), "percentage": 100.0 * sum(values) / total})
    latency = {"runs": len(latencies), "warmup": settings.warmup,
               "mean": statistics.fmean(latencies), "median": statistics.median(latencies),
               "min": min(latencies), "max": max(latencies), **_percentiles(latencies),
               "includes": "host-to-device and device-to-host copies (Polygraphy TrtRunner), with the profiler on"
               } if latencies else None
    note = f"profiling cancelled after {len(latencies)} of {settings.runs} runs" if cancelled else None
    return profile, latency, note


def _percentiles(values: list[float]) -> dict[str, float]:
    if len(values) < 2:
        return {"p90": values[0], "p95": values[0], "p99": values[0]} if values else {}
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {"p90": cuts[89], "p95": cuts[94], "p99": cuts[98]}


class _NoProfile(Exception):
    pass


def _feed_dict(trt, engine) -> dict[str, Any]:
    """Random inputs at the engine's static shapes (the profile's opt shapes for dynamic ones)."""
    import numpy as np

    rng = np.random.default_rng(0)
    feed: dict[str, Any] = {}
    for index in range(engine.num_io_tensors):
        name = engine.get_tensor_name(index)
        if engine.get_tensor_mode(name) != trt.TensorIOMode.INPUT:
            continue
        if engine.is_shape_inference_io(name):
            raise _NoProfile(f"input {name!r} is a shape tensor")
        shape = tuple(engine.get_tensor_shape(name))
        if any(d < 0 for d in shape):
            shape = tuple(engine.get_tensor_profile_shape(name, 0)[1])
        try:
            dtype = np.dtype(trt.nptype(engine.get_tensor_dtype(name)))
        except TypeError as exc:
            raise _NoProfile(f"input {name!r} has a type numpy cannot hold ({exc})") from exc
        if dtype.kind == "f":
            feed[name] = rng.standard_normal(shape).astype(dtype)
        elif dtype.kind == "b":
            feed[name] = rng.integers(0, 2, size=shape).astype(dtype)
        else:
            feed[name] = np.zeros(shape, dtype=dtype)  # indices: 0 is valid for any embedding or gather
    return feed


def _has_qdq(model_path: str) -> bool:
    import onnx

    try:
        proto = onnx.load(model_path, load_external_data=False)
    except Exception as exc:
        raise BuildError(f"cannot read the ONNX model: {exc}", file=model_path) from exc
    ops = {"QuantizeLinear", "DequantizeLinear"}
    return any(n.op_type in ops for n in proto.graph.node) or any(
        n.op_type in ops for f in proto.functions for n in f.node)


def _convert_model(model_path: str, precision: str, out_dir: str, name: str,
                   keep_io_types: bool) -> tuple[str, dict[str, Any]]:
    """TensorRT 11: write an fp16/bf16 copy of the model (weights included) for the strongly typed build."""
    import onnx

    from .precision import convert_precision

    try:
        proto = onnx.load(model_path)  # external data is read from the model's folder
    except Exception as exc:
        raise BuildError(f"cannot read the ONNX model (with its external data): {exc}", file=model_path) from exc
    converted, info = convert_precision(proto, precision, keep_io_types=keep_io_types)
    target = os.path.join(out_dir, f"{name}.onnx")
    if converted.ByteSize() > 1_800_000_000:
        onnx.save_model(converted, target, save_as_external_data=True, all_tensors_to_one_file=True,
                        location=f"{name}.onnx.data")
    else:
        onnx.save_model(converted, target)
    return target, asdict(info)


# --------------------------------------------------------------------------------------------------------
# One build per GPU at a time
# --------------------------------------------------------------------------------------------------------

def gpu_lock_path() -> str:
    """The lock file serialising builds on this machine's (first visible) GPU; ``$EXPLORER_GPU_LOCK`` wins."""
    explicit = os.environ.get("EXPLORER_GPU_LOCK")
    if explicit:
        return explicit
    device = (os.environ.get("CUDA_VISIBLE_DEVICES") or "0").split(",")[0].strip() or "0"
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", device)
    return os.path.join(tempfile.gettempdir(), f"trt-engine-explorer-gpu-{safe}.lock")


@contextlib.contextmanager
def _exclusive_gpu(cancel_event: threading.Event | None, poll_seconds: float = 0.2) -> Iterator[None]:
    """Hold the GPU lock; waiting can be cancelled."""
    with _file_lock(gpu_lock_path(), cancel_event=cancel_event, poll_seconds=poll_seconds):
        yield


@contextlib.contextmanager
def _file_lock(path: str, cancel_event: threading.Event | None = None,
               poll_seconds: float = 0.1) -> Iterator[None]:
    """An exclusive ``fcntl.flock`` on ``path`` (a no-op where fcntl does not exist, i.e. Windows)."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    handle = open(path, "a+")
    try:
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if cancel_event is not None and cancel_event.is_set():
                    raise BuildCancelled("build cancelled while waiting for another build on this GPU") from None
                time.sleep(poll_seconds)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    finally:
        handle.close()


__all__ = ["BuildCancelled", "MappedCapability", "PRECISIONS", "ParserCapability", "ParserIssue",
           "TensorRTBuildSettings", "available", "build_engine", "gpu_lock_path", "installed_version",
           "map_capability_to_model", "parser_capability", "reset_availability_cache"]
