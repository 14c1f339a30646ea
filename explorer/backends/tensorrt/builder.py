"""Parse, configure, build, inspect and profile a TensorRT engine, in a build worker process.

TensorRT 10.x and 11.x are both first-class. 10.x takes precision from builder flags; 11.x removed them
(networks are always strongly typed), so for fp16/bf16 the ONNX model is converted first
(:mod:`explorer.backends.precision`) and int8/fp8 need Q/DQ nodes in the model.

Polygraphy does the generic parts: ``CreateConfig`` makes the builder config (flags, memory pools,
optimization level, profile, progress monitor), ``EngineBytesFromNetwork`` builds and saves the timing cache
combined with what the file holds (under ``polygraphy.util.LockFile``). The explorer keeps its own logger
(its trtexec-style verbose log is read back for the report), error recorder, progress monitor (cancel),
the GPU lock (its wait can be cancelled) and the timing cache's loading (see :func:`_attach_timing_cache`).

Conventions that keep this module checkable without TensorRT (``tests/test_tensorrt_api_conformance.py``
reads it with :mod:`explorer.trt` with ``ast`` and checks every TensorRT name used against the real bindings
of 10.0, 10.16 and 11.4): the name ``trt`` always means the ``tensorrt`` module; code that differs between
versions sits under ``if major >= 11:`` (``major, minor = version_of(trt)``) or ``hasattr(obj, "name")``;
helpers that take TensorRT objects get them from typed call sites or annotations (``engine: trt.ICudaEngine``).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
import threading
import time
from dataclasses import asdict
from typing import Any, Callable, Iterator

from ...errors import BuildError
from ...trt import create_builder, import_tensorrt, interfaces, parser_errors, version_of
from .profiling import profile_engine
from .result import EngineMemory, TensorRTBuildResult, TimingCacheEntry, TimingCacheInfo
from .settings import BuildCancelled, TensorRTBuildSettings

ProgressCallback = Callable[[str, int, int], None]


def build_engine(model_path: str, settings: TensorRTBuildSettings,
                 on_progress: ProgressCallback | None = None,
                 cancel_event: threading.Event | None = None,
                 log_path: str | None = None) -> TensorRTBuildResult:
    """Build (and profile) a TensorRT engine. Meant for a worker process.

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
    trt = import_tensorrt()
    major, minor = version_of(trt)
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
        ifaces = interfaces(trt)
        logger = ifaces.Logger(log_stream, severity, messages)
        recorder = ifaces.ErrorRecorder()

        if on_progress is not None:
            _safe_progress(on_progress, "Waiting for the GPU", 0, 0)
        stack.enter_context(_exclusive_gpu(cancel_event))
        if log_stream is not None:
            log_stream.write(f"[{time.strftime('%m/%d/%Y-%H:%M:%S')}] [I] [explorer] TensorRT {trt.__version__}, "
                             f"model {build_model}, settings {json.dumps(settings.to_dict())}\n")

        builder = create_builder(trt, logger, messages, error=BuildError)
        builder.error_recorder = recorder
        network = builder.create_network(0)
        parser = trt.OnnxParser(network, logger)
        if not parser.parse_from_file(build_model):
            issues = parser_errors(parser)
            text = "; ".join(f"{i.op_type or 'model'} {i.node_name!r}: {i.desc}" if i.node_name
                             else i.desc for i in issues) or _tensorrt_words(recorder, logger)
            raise BuildError(f"TensorRT's ONNX parser rejected the model: {text}", file=build_model,
                             hint="see the Partitions view for every unsupported node")

        monitor = ifaces.ProgressMonitor(on_progress, cancel_event)
        config = _create_config(trt, builder, network, settings, monitor, major)
        _attach_timing_cache(trt, config, settings, notes)

        from polygraphy.backend.trt import EngineBytesFromNetwork

        t0 = time.time()
        try:  # Polygraphy saves the timing cache, combined with the file's, under its lock file
            serialized = EngineBytesFromNetwork((builder, network, parser), config,
                                                save_timing_cache=settings.timing_cache)()
        except Exception as exc:  # Polygraphy raises when TensorRT returned no engine
            if (cancel_event is not None and cancel_event.is_set()) or monitor.cancelled:
                raise BuildCancelled("build cancelled", file=build_model) from None
            raise BuildError(f"TensorRT could not build the engine: {_tensorrt_words(recorder, logger)}",
                             file=build_model) from exc
        build_seconds = time.time() - t0
        engine_bytes = bytes(serialized)
        del serialized
        engine_path = os.path.join(out_dir, f"{name}.engine")
        with open(engine_path, "wb") as f:
            f.write(engine_bytes)

        timing_cache = _timing_cache_entries(trt, config, settings, notes)

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
            profile, latency, profile_note = profile_engine(trt, engine, settings, cancel_event)
            if profile_note:
                notes.append(profile_note)
        profile_path = None
        if profile is not None:
            profile_path = os.path.join(out_dir, f"{name}.profile.json")
            with open(profile_path, "w", encoding="utf-8") as f:
                json.dump(profile, f, indent=1)

    return TensorRTBuildResult(
        tensorrt_version=trt.__version__, strongly_typed=major >= 11, model_path=model_path,
        built_model_path=build_model, conversion=conversion, settings=settings, engine_path=engine_path,
        engine_size=len(engine_bytes), build_seconds=round(build_seconds, 3),
        total_seconds=round(time.time() - started, 3), log_path=log_path, layer_info=layer_info,
        layer_info_path=layer_info_path, memory=memory, timing_cache=timing_cache, profile=profile,
        profile_path=profile_path, latency_ms=latency,
        warnings=[m for m in messages if m not in logger.errors][-50:], notes=notes)


def _safe_progress(on_progress: ProgressCallback, phase: str, step: int, total: int) -> None:
    try:
        on_progress(phase, step, total)
    except Exception:
        pass


def _tensorrt_words(recorder, logger) -> str:
    """What TensorRT said about a failure: the error recorder's entries, else the logged errors."""
    words = [f"{str(code).split('.')[-1]}: {desc}" for code, desc in recorder.errors]
    words += [m for m in logger.errors if m not in " ".join(words)]
    return "; ".join(words[-10:]) or "no message from TensorRT (see the build log)"


def _create_config(trt, builder, network, settings: TensorRTBuildSettings, monitor, major: int):
    """The builder config, made by Polygraphy's ``CreateConfig`` from the settings.

    TF32 stays on (TensorRT's default; ``CreateConfig`` would clear it). Every dynamic input must have
    (min, opt, max) shapes: Polygraphy would otherwise fill in 1 for each dynamic dimension.
    """
    from polygraphy.backend.trt import CreateConfig, Profile

    _check_shapes(network, settings)
    profile = Profile()
    for input_name, (lo, opt, hi) in settings.shapes.items():
        profile.add(input_name, tuple(int(d) for d in lo), tuple(int(d) for d in opt), tuple(int(d) for d in hi))
    pools = {}
    if settings.workspace:
        pools[trt.MemoryPoolType.WORKSPACE] = int(settings.workspace)
    if settings.tactic_shared_memory:
        pools[trt.MemoryPoolType.TACTIC_SHARED_MEMORY] = int(settings.tactic_shared_memory)
    config = CreateConfig(tf32=True, profiles=[profile], sparse_weights=settings.sparse_weights,
                          profiling_verbosity=trt.ProfilingVerbosity.DETAILED, memory_pool_limits=pools or None,
                          builder_optimization_level=int(settings.opt_level), progress_monitor=monitor,
                          )(builder, network)
    if major >= 11:
        pass  # strongly typed: precision is in the (converted) model
    else:
        _set_precision_flags(trt, config, settings.precision)
    return config


def _set_precision_flags(trt, config, precision: str) -> None:
    """TensorRT 10.x: precision is a builder permission (weakly typed networks). Set here rather than with
    ``CreateConfig(fp16=...)`` so the API conformance check sees each flag in the version branch using it."""
    if precision == "fp16":
        config.set_flag(trt.BuilderFlag.FP16)
    elif precision == "bf16":
        config.set_flag(trt.BuilderFlag.BF16)
    elif precision == "int8":
        config.set_flag(trt.BuilderFlag.INT8)  # explicit quantization: the model's Q/DQ nodes say where
    elif precision == "fp8":
        config.set_flag(trt.BuilderFlag.FP8)


def _check_shapes(network, settings: TensorRTBuildSettings) -> None:
    """Shapes only for inputs the network has, and for every dynamic one; no shape tensors."""
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


def _attach_timing_cache(trt, config, settings: TensorRTBuildSettings, notes: list[str]) -> None:
    """Attach the cache in ``settings.timing_cache`` (strictly: same device), else a new empty one.

    Not Polygraphy's ``load_timing_cache``: the cache must be created after ``EDITABLE_TIMING_CACHE`` is set
    (for its entries to be listed), and a cache of another TensorRT version must start a new one with a
    note, not fail the build. The file is read under the same ``LockFile`` Polygraphy saves it under.
    """
    from polygraphy.util import LockFile

    if settings.editable_timing_cache and hasattr(trt.BuilderFlag, "EDITABLE_TIMING_CACHE"):
        config.set_flag(trt.BuilderFlag.EDITABLE_TIMING_CACHE)
    path = settings.timing_cache
    data = b""
    if path and os.path.isfile(path):
        with LockFile(path):
            with open(path, "rb") as f:
                data = f.read()
    if data:
        try:
            cache = config.create_timing_cache(data)
            if cache is not None and config.set_timing_cache(cache, False):
                return
        except Exception:  # TensorRT raises on caches of another version
            pass
        notes.append(f"timing cache {path} was made by another TensorRT version or device; started a new one "
                     "(saved combined with the file's entries where TensorRT can combine them, else replacing "
                     "them)")
    cache = config.create_timing_cache(b"")
    config.set_timing_cache(cache, False)


def _timing_cache_entries(trt, config, settings: TensorRTBuildSettings, notes: list[str]) -> TimingCacheInfo:
    """The cache's entries (layer key, tactic, time) when TensorRT can list them (10.8 and newer)."""
    current = config.get_timing_cache()
    entries = None
    if hasattr(current, "queryKeys"):
        try:
            entries = []
            for key in current.queryKeys():
                value = current.query(key)
                entries.append(TimingCacheEntry(key=str(key),
                                                tactic=f"0x{int(value.tacticHash) & (2**64 - 1):016x}",
                                                time_ms=float(value.timingMSec)))
        except Exception as exc:  # e.g. a cache TensorRT does not let us edit or read
            entries = None
            notes.append(f"could not list the timing cache's entries: {exc}")
    else:
        notes.append(f"TensorRT {trt.__version__} cannot list timing cache entries (needs 10.8 or newer)")
    return TimingCacheInfo(path=settings.timing_cache, entries=entries)


def _memory(trt, engine, engine_size: int) -> EngineMemory:
    """Device memory (activations + scratch), weights and related sizes, in bytes."""
    profiles = range(engine.num_optimization_profiles)
    if hasattr(engine, "device_memory_size_v2"):
        device = int(engine.device_memory_size_v2)
        per_profile = [int(engine.get_device_memory_size_for_profile_v2(p)) for p in profiles]
    else:
        device = int(engine.device_memory_size)
        per_profile = [int(engine.get_device_memory_size_for_profile(p)) for p in profiles]
    scratch = None
    if hasattr(engine, "weight_streaming_scratch_memory_size"):
        scratch = int(engine.weight_streaming_scratch_memory_size)
    total_weights = None  # before 11.x: the verbose log's "Total Weights Memory" line has it
    if hasattr(trt, "EngineStat"):
        total_weights = int(engine.get_engine_stat(trt.EngineStat.TOTAL_WEIGHTS_SIZE))
    return EngineMemory(engine_size=engine_size, device_memory=device, device_memory_per_profile=per_profile,
                        streamable_weights=int(engine.streamable_weights_size), weight_streaming_scratch=scratch,
                        total_weights=total_weights)


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

    from ..precision import convert_precision

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
    """Hold the GPU lock: an exclusive ``fcntl.flock`` (a no-op where fcntl does not exist, i.e. Windows).

    Not ``polygraphy.util.LockFile``: that one blocks until it gets the lock, and waiting for another
    build's GPU must be cancellable."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    handle = open(gpu_lock_path(), "a+")
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


__all__ = ["build_engine", "gpu_lock_path"]
