"""Parse, configure, build, inspect and profile a TensorRT engine, in a build worker process.

TensorRT 10.x and 11.x are both first-class, and so is NVIDIA TensorRT-RTX (the library row
:data:`explorer.trt.TENSORRT_RTX`, the same Python API): the code branches on what the imported library
can do, not on its name. 10.x takes precision from builder flags; 11.x and TensorRT-RTX have none (networks
are always strongly typed), so for fp16/bf16 the ONNX model is converted first
(:mod:`explorer.backends.precision`) and int8/fp8 need Q/DQ nodes in the model. TensorRT-RTX builds ahead
of time for a compute capability (``IBuilderConfig.set_compute_capability``): without an RTX-class GPU, for
SM86 (the engine is built, not loaded: its report comes from the verbose builder log, which lists every
engine layer with the ONNX nodes it fused); with one, for ``CURRENT``, then loaded and profiled like a
TensorRT engine.

Polygraphy does the generic parts: ``CreateConfig`` makes the builder config (flags, memory pools,
optimization level, profile, progress monitor), ``EngineBytesFromNetwork`` builds and saves the timing cache
combined with what the file holds (under ``polygraphy.util.LockFile``). The explorer keeps its own logger
(its trtexec-style verbose log is read back for the report), error recorder, progress monitor (cancel),
the GPU lock (its wait can be cancelled) and the timing cache's loading (see :func:`_attach_timing_cache`).
Polygraphy drives ``tensorrt`` only (it imports that module itself): for TensorRT-RTX the same steps are
made on the builder directly (:func:`_create_native_config`, ``build_serialized_network``).

Conventions that keep this module checkable without TensorRT (``tests/test_tensorrt_api_conformance.py``
reads it with :mod:`explorer.trt` with ``ast`` and checks every TensorRT name used against the real bindings
of 10.0, 10.16 and 11.4): the name ``trt`` always means the ``tensorrt`` module; code that differs between
versions sits under ``if major >= 11:`` (``major, minor = version_of(trt)``) or ``hasattr(obj, "name")``;
helpers that take TensorRT objects get them from typed call sites or annotations (``engine: trt.ICudaEngine``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import tempfile
import threading
import time
from dataclasses import asdict
from typing import Any, Callable, Iterator

from ...errors import BuildError
from ..settings import BuildSettings
from ...trt import LIBRARIES, TENSORRT, create_builder, import_library, interfaces, parser_errors, version_of
from .profiling import profile_engine
from .result import EngineMemory, TensorRTBuildResult, TimingCacheEntry, TimingCacheInfo

ProgressCallback = Callable[[str, int, int], None]


class BuildCancelled(BuildError):
    """The user cancelled the build (the progress monitor told TensorRT to stop)."""


def build_engine(model_path: str, settings: BuildSettings,
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
    settings = settings.validated()
    if not os.path.isfile(model_path):
        raise BuildError("model file not found", file=model_path)
    library = _library(settings.backend)
    trt = import_library(library)
    major, minor = version_of(trt)
    started = time.time()
    out_dir = settings.output_dir or (os.path.dirname(os.path.abspath(log_path)) if log_path else
                                      tempfile.mkdtemp(prefix="trt-explorer-"))
    os.makedirs(out_dir, exist_ok=True)
    stem = os.path.splitext(os.path.basename(model_path))[0]
    name = f"{stem}.{settings.precision}.o{settings.opt_level}"
    notes: list[str] = []
    polygraphy = library is TENSORRT  # Polygraphy imports ``tensorrt`` itself: it drives no other library
    target = None  # TensorRT-RTX: the compute capability built for; None: the GPU here (TensorRT)
    can_load = True  # False: built ahead of time for a GPU this machine does not have

    if cancel_event is not None and cancel_event.is_set():
        raise BuildCancelled("build cancelled before it started", file=model_path)

    # Precision: strongly typed libraries (11.x, TensorRT-RTX) take it from the model's types, 10.x from flags.
    build_model = model_path
    conversion = None
    settings = _chosen_shapes(model_path, settings, notes)
    if settings.precision in ("int8", "fp8") and not _has_qdq(model_path):
        raise BuildError(f"{settings.precision} needs a model with Q/DQ (QuantizeLinear/DequantizeLinear) nodes; "
                         "this one has none", file=model_path,
                         hint="quantize it first, e.g. with NVIDIA Model Optimizer's ONNX PTQ "
                              "(symmetric, zero points of 0)")
    if major >= 11 or not hasattr(trt.BuilderFlag, "FP16"):
        if settings.precision in ("fp16", "bf16"):
            build_model, conversion = _convert_model(model_path, settings.precision, out_dir, name,
                                                     settings.keep_io_types, settings.precision_block)
            notes.append(f"{library.title} {trt.__version__} is strongly typed: the model was converted to "
                         f"{settings.precision} with {conversion['tool']} before building")

    with contextlib.ExitStack() as stack:
        log_stream = stack.enter_context(open(log_path, "a", encoding="utf-8")) if log_path else None
        messages: list[str] = []
        severity = trt.ILogger.VERBOSE if log_stream is not None else trt.ILogger.WARNING
        ifaces = interfaces(trt)
        logger = ifaces.Logger(log_stream, severity, messages)
        recorder = ifaces.ErrorRecorder()

        builder = create_builder(trt, logger, messages, error=BuildError)
        network = builder.create_network(0)
        parser = trt.OnnxParser(network, logger)
        # the builder's recorder, set after the network is made so the network does not inherit it:
        # TensorRT-RTX 1.7 segfaults destroying a network that has a Python recorder and an ONNX parser
        # (parser errors come from the parser itself; build errors from this recorder)
        builder.error_recorder = recorder
        if log_stream is not None:
            log_stream.write(f"[{time.strftime('%m/%d/%Y-%H:%M:%S')}] [I] [explorer] {library.title} "
                             f"{trt.__version__}, model {build_model}, settings {json.dumps(settings.to_dict())}\n")
        if not parser.parse_from_file(build_model):
            issues = parser_errors(parser)
            text = "; ".join(f"{i.op_type or 'model'} {i.node_name!r}: {i.desc}" if i.node_name
                             else i.desc for i in issues) or _tensorrt_words(recorder, logger)
            raise BuildError(f"{library.title}'s ONNX parser rejected the model: {text}", file=build_model,
                             hint="see the Partitions view for every unsupported node")

        monitor = ifaces.ProgressMonitor(on_progress, cancel_event)
        if polygraphy:
            config = _create_config(trt, builder, network, settings, monitor, major)
        else:
            config = builder.create_builder_config()
            _create_native_config(trt, builder, network, config, settings, monitor)
        if hasattr(trt, "ComputeCapability"):  # TensorRT-RTX: builds for a compute capability
            target, can_load, words = _set_compute_capability(trt, config, settings.compute_capability)
            notes.append(words)
        if can_load:  # builds for this machine's GPU run one at a time (tactic timings disturb each other)
            if on_progress is not None:
                _safe_progress(on_progress, "Waiting for the GPU", 0, 0)
            stack.enter_context(_exclusive_gpu(cancel_event))

        t0 = time.time()
        if polygraphy:
            _attach_timing_cache(trt, config, settings, notes)
            from polygraphy.backend.trt import EngineBytesFromNetwork

            try:  # Polygraphy saves the timing cache, combined with the file's, under its lock file
                serialized = EngineBytesFromNetwork((builder, network, parser), config,
                                                    save_timing_cache=settings.timing_cache)()
            except Exception as exc:  # Polygraphy raises when TensorRT returned no engine
                if (cancel_event is not None and cancel_event.is_set()) or monitor.cancelled:
                    raise BuildCancelled("build cancelled", file=build_model) from None
                raise BuildError(f"TensorRT could not build the engine: {_tensorrt_words(recorder, logger)}",
                                 file=build_model) from exc
        else:
            if settings.timing_cache:
                notes.append(f"{library.title} keeps no timing cache (its timing-cache calls are no-ops): "
                             f"{settings.timing_cache} was neither read nor written")
            serialized = builder.build_serialized_network(network, config)
            if serialized is None:
                if (cancel_event is not None and cancel_event.is_set()) or monitor.cancelled:
                    raise BuildCancelled("build cancelled", file=build_model)
                raise BuildError(f"{library.title} could not build the engine: {_tensorrt_words(recorder, logger)}",
                                 file=build_model)
        build_seconds = time.time() - t0
        engine_bytes = bytes(serialized)
        del serialized
        engine_path = os.path.join(out_dir, f"{name}.engine")
        with open(engine_path, "wb") as f:
            f.write(engine_bytes)

        if polygraphy:
            timing_cache = _timing_cache_entries(trt, config, settings, notes)
        else:
            timing_cache = TimingCacheInfo(path=None, entries=None)  # the report says there are no tactics

        layer_info, layer_info_path = None, None
        memory = EngineMemory(engine_size=len(engine_bytes))
        profile, latency, profile_path = None, None, None
        if can_load:
            runtime = trt.Runtime(logger)
            engine = runtime.deserialize_cuda_engine(engine_bytes)
            if engine is None:
                raise BuildError(f"{library.title} could not load the engine it built: "
                                 f"{_tensorrt_words(recorder, logger)}", file=engine_path)
            inspector = engine.create_engine_inspector()
            layer_text = inspector.get_engine_information(trt.LayerInformationFormat.JSON)
            try:
                layer_info = json.loads(layer_text)
            except ValueError:
                layer_info = None
                notes.append("the engine inspector did not return valid JSON; kept as text")
            layer_info_path = os.path.join(out_dir, f"{name}.graph.json")
            with open(layer_info_path, "w", encoding="utf-8") as f:
                f.write(layer_text)
            memory = _memory(trt, engine, len(engine_bytes))

            if settings.runs > 0:
                profile, latency, profile_note = profile_engine(trt, engine, settings, cancel_event, polygraphy)
                if profile_note:
                    notes.append(profile_note)
            if profile is not None:
                profile_path = os.path.join(out_dir, f"{name}.profile.json")
                with open(profile_path, "w", encoding="utf-8") as f:
                    json.dump(profile, f, indent=1)

    return TensorRTBuildResult(
        tensorrt_version=trt.__version__, strongly_typed=major >= 11 or not hasattr(trt.BuilderFlag, "FP16"),
        model_path=model_path,
        built_model_path=build_model, conversion=conversion, settings=settings, engine_path=engine_path,
        engine_size=len(engine_bytes), build_seconds=round(build_seconds, 3),
        total_seconds=round(time.time() - started, 3), log_path=log_path, layer_info=layer_info,
        layer_info_path=layer_info_path, memory=memory, timing_cache=timing_cache, profile=profile,
        profile_path=profile_path, latency_ms=latency,
        warnings=[m for m in messages if m not in logger.errors][-50:], notes=notes,
        library=library.key, compute_capability=target, ahead_of_time=not can_load)


def _library(backend: str):
    """The TensorRT-shaped library a backend name builds with ("auto": TensorRT itself)."""
    if backend == "auto":
        return TENSORRT
    if backend not in LIBRARIES:
        raise BuildError(f"the TensorRT builder builds with {', '.join(LIBRARIES)}, not {backend!r}")
    return LIBRARIES[backend]


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


def _create_config(trt, builder, network, settings: BuildSettings, monitor, major: int):
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
    if major >= 11 or not hasattr(trt.BuilderFlag, "FP16"):
        pass  # strongly typed (11.x, TensorRT-RTX): precision is in the (converted) model
    else:
        _set_precision_flags(trt, config, settings.precision)
    return config


def _create_native_config(trt, builder, network, config, settings: BuildSettings, monitor) -> None:
    """What Polygraphy's ``CreateConfig`` sets, on the builder config directly (libraries Polygraphy does not
    drive: TensorRT-RTX). After parsing: the profile needs the network's inputs."""
    _check_shapes(network, settings)
    if settings.shapes:
        profile = builder.create_optimization_profile()
        for input_name, (lo, opt, hi) in settings.shapes.items():
            profile.set_shape(input_name, tuple(int(d) for d in lo), tuple(int(d) for d in opt),
                              tuple(int(d) for d in hi))
        config.add_optimization_profile(profile)
    if settings.workspace:
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(settings.workspace))
    if settings.tactic_shared_memory:
        config.set_memory_pool_limit(trt.MemoryPoolType.TACTIC_SHARED_MEMORY, int(settings.tactic_shared_memory))
    if settings.sparse_weights:
        config.set_flag(trt.BuilderFlag.SPARSE_WEIGHTS)
    config.profiling_verbosity = trt.ProfilingVerbosity.DETAILED
    config.builder_optimization_level = int(settings.opt_level)
    config.progress_monitor = monitor


#: compute capabilities TensorRT-RTX runs on (its engines refuse others, e.g. an H200's 9.0)
RTX_GPUS = {(7, 5): "SM75", (8, 0): "SM80", (8, 6): "SM86", (8, 9): "SM89", (12, 0): "SM120", (12, 1): "SM121"}
#: what TensorRT-RTX builds for when no RTX-class GPU is here (GeForce RTX 30 / RTX A-series)
DEFAULT_AOT_TARGET = "SM86"


def _set_compute_capability(trt, config: trt.IBuilderConfig, wanted: str) -> tuple[str, bool, str]:
    """Set the one compute capability to build for: (its name, whether this machine can load the engine,
    a sentence for the report). "auto": ``CURRENT`` on an RTX-class GPU, else SM86 ahead of time. The count
    must be set before the capability (the other order raises "Index of compute capability is not in a
    valid range")."""
    gpu = local_gpu()
    usable = gpu is not None and gpu in RTX_GPUS
    if wanted == "auto":
        wanted = "CURRENT" if usable else DEFAULT_AOT_TARGET
    if wanted == "CURRENT" and not usable:
        here = f"this GPU has compute capability {gpu[0]}.{gpu[1]}" if gpu else "no GPU is visible"
        raise BuildError(f"compute capability CURRENT needs an RTX-class GPU ({here})",
                         hint=f"build ahead of time with compute_capability='{DEFAULT_AOT_TARGET}'")
    capability = getattr(trt.ComputeCapability, wanted, None)
    if capability is None:
        raise BuildError(f"this TensorRT-RTX has no compute capability {wanted!r}")
    config.num_compute_capabilities = 1
    if not config.set_compute_capability(capability, 0):
        raise BuildError(f"TensorRT-RTX refused compute capability {wanted}")
    can_load = wanted == "CURRENT" or (usable and RTX_GPUS[gpu] == wanted)
    if wanted == "CURRENT":
        words = f"built for this GPU (compute capability {gpu[0]}.{gpu[1]}, {RTX_GPUS[gpu]})"
    elif can_load:
        words = f"built for {wanted}, the compute capability of this GPU"
    else:
        here = (f"this machine's GPU (compute capability {gpu[0]}.{gpu[1]}) cannot run TensorRT-RTX engines"
                if gpu else "this machine has no GPU")
        words = (f"built ahead of time for {wanted} ({here}): the engine was built, not loaded, so the report "
                 "comes from the builder's verbose log (layers, fused ONNX nodes, formats, memory); engine "
                 "inspector JSON, per-layer times and latency need an RTX-class GPU")
    return wanted, can_load, words


def local_gpu() -> tuple[int, int] | None:
    """(major, minor) compute capability of the first visible CUDA device, from the driver (``libcuda``);
    None without a driver or a device. Cheap, and loads no CUDA runtime."""
    import ctypes

    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1", "none", "NoDevFiles"):
        return None
    try:
        cuda = ctypes.CDLL("libcuda.so.1" if os.name != "nt" else "nvcuda.dll")
    except OSError:
        return None
    count, major, minor = ctypes.c_int(0), ctypes.c_int(0), ctypes.c_int(0)
    try:
        if cuda.cuInit(0) != 0 or cuda.cuDeviceGetCount(ctypes.byref(count)) != 0 or count.value < 1:
            return None
        device = ctypes.c_int(0)
        if cuda.cuDeviceGet(ctypes.byref(device), 0) != 0:
            return None
        # CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75, _MINOR = 76
        if cuda.cuDeviceGetAttribute(ctypes.byref(major), 75, device) != 0 or \
                cuda.cuDeviceGetAttribute(ctypes.byref(minor), 76, device) != 0:
            return None
    except (AttributeError, OSError):
        return None
    return major.value, minor.value


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


def _check_shapes(network, settings: BuildSettings) -> None:
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
                         hint="set them in the Build panel or BuildSettings.shapes")


def _attach_timing_cache(trt, config, settings: BuildSettings, notes: list[str]) -> None:
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


def _timing_cache_entries(trt, config, settings: BuildSettings, notes: list[str]) -> TimingCacheInfo:
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


def _chosen_shapes(model_path: str, settings: BuildSettings, notes: list[str]) -> BuildSettings:
    """The settings with a profile for every dynamic input nobody gave a shape for: min = opt = max = the
    sizes :func:`explorer.backends.inputs.choose_dims` chooses (the ones ONNX Runtime runs at), each noted."""
    from ..inputs import choose_dims, chosen_note, graph_input_specs

    proto = _load_graph(model_path)
    metadata = {p.key: p.value for p in proto.metadata_props}
    shapes = dict(settings.shapes)
    for name, elem_type, dims in graph_input_specs(proto):
        if name in shapes or all(isinstance(d, int) and d > 0 for d in dims):
            continue
        chosen = choose_dims(name, elem_type, dims, metadata)
        by_index = {c.index: c.value for c in chosen}
        shape = tuple(by_index.get(i, d) for i, d in enumerate(dims))
        shapes[name] = (shape, shape, shape)
        notes.append(chosen_note(name, shape, chosen, "was built for", "(min = opt = max)"))
    return settings if shapes == settings.shapes else dataclasses.replace(settings, shapes=shapes)


def _load_graph(model_path: str):
    """The ONNX model without its external weights (the graph is all these checks read)."""
    import onnx

    try:
        return onnx.load(model_path, load_external_data=False)
    except Exception as exc:
        raise BuildError(f"cannot read the ONNX model: {exc}", file=model_path) from exc


def _has_qdq(model_path: str) -> bool:
    """:func:`explorer.model.quantization.has_qdq` of the file (its graph only: no external weights)."""
    from ...model.quantization import has_qdq

    return has_qdq(_load_graph(model_path))


def _convert_model(model_path: str, precision: str, out_dir: str, name: str,
                   keep_io_types: bool, block: list[str] = ()) -> tuple[str, dict[str, Any]]:
    """TensorRT 11: write an fp16/bf16 copy of the model (weights included) for the strongly typed build."""
    import onnx

    from ..precision import DEFAULT_BLOCK_OPS, convert_precision

    try:
        proto = onnx.load(model_path)  # external data is read from the model's folder
    except Exception as exc:
        raise BuildError(f"cannot read the ONNX model (with its external data): {exc}", file=model_path) from exc
    converted, info = convert_precision(proto, precision, keep_io_types=keep_io_types,
                                        block_ops=[*DEFAULT_BLOCK_OPS, *block], block_nodes=block)
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


__all__ = ["DEFAULT_AOT_TARGET", "RTX_GPUS", "build_engine", "gpu_lock_path", "local_gpu"]
