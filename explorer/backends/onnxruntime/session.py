"""ONNX Runtime sessions: availability, providers, session options, the shared thread pool, running a model,
and ONNX Runtime's errors in clear words.

``onnxruntime`` is imported on first use (polygraphy's ``mod.lazy_import``): the caller's process starts
builds without ever loading it; only the build worker (and tests) do.
"""

from __future__ import annotations

import os
from typing import Any, Mapping, Sequence

from onnx import TensorProto, helper
from polygraphy import mod

from ...errors import BuildError

onnxrt = mod.lazy_import("onnxruntime", log=False)
_pybind_state = mod.lazy_import("onnxruntime.capi._pybind_state", log=False)

#: explorer opt_level -> name of the ``onnxruntime.GraphOptimizationLevel`` member
ORT_LEVELS = {0: "ORT_DISABLE_ALL", 1: "ORT_ENABLE_BASIC", 2: "ORT_ENABLE_EXTENDED", 3: "ORT_ENABLE_ALL"}

#: set to "1" in the build worker's environment: only there do the timed sessions share a thread pool
SHARED_POOL_ENV = "EXPLORER_ORT_SHARED_THREAD_POOL"


class Cancelled(Exception):
    """Raised inside the worker when the parent asked to stop; turned into ``BuildCancelled`` by the parent."""


def chain_model(k: int, op: str = "Neg", elements: int = 1) -> bytes:
    """``k`` ``op`` nodes in a chain on a float tensor of ``elements``: Neg on one element is the cheapest
    real kernel there is; Sigmoid on 64k elements is split over the intra-op threads."""
    names = ["x"] + [f"t{i}" for i in range(1, k)] + ["y"]
    nodes = [helper.make_node(op, [names[i]], [names[i + 1]], name=f"calibration_{op.lower()}_{i}")
             for i in range(k)]
    graph = helper.make_graph(nodes, "profiler_calibration",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [elements])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [elements])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model.SerializeToString()


def available() -> tuple[bool, str]:
    """Whether ONNX Runtime can be imported here, and which execution providers it offers."""
    try:
        providers = onnxrt.get_available_providers()
    except Exception as exc:  # a broken install must not take the caller down
        return False, f"import onnxruntime failed: {type(exc).__name__}: {exc}"
    return True, f"ONNX Runtime {onnxrt.__version__} ({', '.join(providers)})"


def version() -> str | None:
    try:
        return onnxrt.__version__
    except Exception:
        return None


def graph_optimization_level(opt_level: int) -> str:
    """The ``GraphOptimizationLevel`` member name for an explorer ``opt_level`` (see the module docs)."""
    level = int(opt_level)
    if level < 0:
        raise BuildError(f"optimization level must be >= 0, got {level}")
    return ORT_LEVELS[min(level, 3)]


def choose_providers(requested: Sequence[str] | None = None) -> list[str]:
    """Execution providers for a build: the requested ones (checked), else the best this install has:
    TensorRT, then CUDA, then the CPU (always last, as the fallback ONNX Runtime needs)."""
    have = onnxrt.get_available_providers()
    if requested:
        missing = [p for p in requested if p not in have]
        if missing:
            raise BuildError(f"ONNX Runtime here has no {', '.join(missing)}; it has {', '.join(have)}",
                             hint="onnxruntime-gpu provides CUDAExecutionProvider and TensorrtExecutionProvider")
        chosen = list(requested)
    else:
        chosen = [p for p in ("TensorrtExecutionProvider", "CUDAExecutionProvider") if p in have]
    if "CPUExecutionProvider" not in chosen:
        chosen.append("CPUExecutionProvider")
    return chosen


def tensorrt_provider_options(settings: Mapping[str, Any], workdir: str) -> dict[str, Any]:
    """Options for ONNX Runtime's ``TensorrtExecutionProvider`` from the build settings."""
    options: dict[str, Any] = {
        "trt_engine_cache_enable": True,
        "trt_engine_cache_path": os.path.join(workdir, "trt_engine_cache"),
        "trt_builder_optimization_level": min(int(settings.get("opt_level", 3)), 5),
        "trt_min_subgraph_size": int(settings.get("min_subgraph_size") or 1),
        "trt_detailed_build_log": True,
    }
    precision = settings.get("precision", "fp32")
    if precision == "fp16":
        options["trt_fp16_enable"] = True
    elif precision == "bf16":
        options["trt_bf16_enable"] = True
    elif precision == "int8":
        options["trt_int8_enable"] = True  # with Q/DQ in the model: explicit quantization, no calibration table
    if settings.get("workspace"):
        options["trt_max_workspace_size"] = int(settings["workspace"])
    cache = settings.get("timing_cache")
    if cache:
        options["trt_timing_cache_enable"] = True
        options["trt_timing_cache_path"] = os.path.dirname(os.path.abspath(cache)) or "."
    shapes = settings.get("shapes") or {}
    if shapes:
        def spec(index: int) -> str:
            return ",".join(f"{name}:{'x'.join(str(d) for d in triple[index])}" for name, triple in shapes.items())
        options["trt_profile_min_shapes"] = spec(0)
        options["trt_profile_opt_shapes"] = spec(1)
        options["trt_profile_max_shapes"] = spec(2)
    return options




_shared_pool: bool | None = None


def shared_thread_pool() -> bool:
    """Let the sessions this process times share one intra-op thread pool (set up once; False if it can't).

    A build times two sessions of the model (without and with the profiler) and the calibration times
    more. With a pool each, a session's threads go on spinning on the cores after its run and slow the
    next session's runs: on 2 cores, runs alternating in blocks of 10 made ResNet-18 QAT's end-to-end
    median 40% slow and its per-node times longer. One shared pool (ONNX Runtime's global thread pool, of
    the default size: one thread per physical core) has no one to compete with, and runs as fast as a
    session's own pool does."""
    global _shared_pool
    if _shared_pool is None and os.environ.get(SHARED_POOL_ENV) != "1":
        return False  # only in the build worker: the pool is the whole process's, for every session after
    if _shared_pool is None:
        try:
            _pybind_state.set_global_thread_pool_sizes(0, 1)  # 0: the default size
            so = onnxrt.SessionOptions()
            so.use_per_session_threads = False
            so.log_severity_level = 4
            onnxrt.InferenceSession(chain_model(1), so, providers=["CPUExecutionProvider"])
            _shared_pool = True
        except Exception:  # an ONNX Runtime without it, or an environment made without global pools
            _shared_pool = False
    return _shared_pool


def shared_pool_in_use() -> bool:
    """Whether this process has set up the shared pool (then no session of it may have its own threads,
    and ``onnxruntime.quantization``'s sessions must run elsewhere: see :mod:`.convert`)."""
    return bool(_shared_pool)


def make_session_options(opt_level: int, *, profile_prefix: str | None = None, optimized_path: str | None = None,
                         external_folder: str | None = None, measured: bool = False, stop_spinning: bool = False):
    """ONNX Runtime session options for ``opt_level`` (0-5). ``measured``: a session whose runs are timed
    (see :func:`shared_thread_pool`); ``stop_spinning``: without the shared pool, its threads stop spinning
    after each run (the calibration's sessions; the profiled session always does)."""
    so = onnxrt.SessionOptions()
    so.graph_optimization_level = getattr(onnxrt.GraphOptimizationLevel, graph_optimization_level(opt_level))
    if (measured and shared_thread_pool()) or _shared_pool:
        so.use_per_session_threads = False  # see shared_thread_pool: once set up, every session must
    elif measured and (profile_prefix or stop_spinning):
        # no shared pool: the profiled session's threads (and the calibration's) stop spinning when a run
        # returns, so they never slow the other sessions' runs
        so.add_session_config_entry("session.force_spinning_stop", "1")
    if profile_prefix:
        so.enable_profiling = True
        so.profile_file_prefix = profile_prefix
    if optimized_path:
        so.optimized_model_filepath = optimized_path
        # weights of the saved optimized graph go to a side file: we only read its structure
        so.add_session_config_entry("session.optimized_model_external_initializers_file_name",
                                    os.path.basename(optimized_path) + ".data")
        so.add_session_config_entry("session.optimized_model_external_initializers_min_size_in_bytes", "1024")
    if external_folder:
        so.add_session_config_entry("session.model_external_initializers_file_folder_path", external_folder)
    return so


def create_session(model: Any, opt_level: int = 3, providers: Sequence[Any] | None = None, **options):
    """An ``InferenceSession`` for a path, bytes or ModelProto; ONNX Runtime's errors become BuildError."""
    so = make_session_options(opt_level, **options)
    source = model.SerializeToString() if hasattr(model, "SerializeToString") else model
    try:
        return onnxrt.InferenceSession(source, so, providers=list(providers or ["CPUExecutionProvider"]))
    except Exception as exc:
        raise BuildError(f"ONNX Runtime could not load the model: {ort_message(exc)}",
                         hint=hint_for(str(exc))) from None


def run(model: Any, feeds: Mapping[str, Any], opt_level: int = 3, providers: Sequence[Any] | None = None) -> list:
    """Run a model once (path, bytes or ModelProto) and return its outputs as numpy arrays."""
    session = create_session(model, opt_level, providers)
    try:
        return session.run(None, dict(feeds))
    except Exception as exc:
        raise BuildError(f"ONNX Runtime failed to run the model: {ort_message(exc)}") from None


def ort_message(exc: BaseException) -> str:
    """ONNX Runtime's message on one line (its C++ errors span several)."""
    text = str(exc).strip()
    return " ".join(text.split()) if text else type(exc).__name__


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def hint_for(message: str) -> str | None:
    """What to do about an ONNX Runtime error, when its words say it."""
    if "is not a registered function/op" in message:
        return ("the model uses a custom operator ONNX Runtime does not know; it needs its custom-op library "
                "(or a TensorRT plugin): see the Partitions view for the nodes")
    if "Could not find an implementation" in message:
        return ("the execution provider has no kernel for this op in this type (ONNX Runtime's CPU provider has "
                "few bf16 kernels, for instance): try another precision, or a GPU provider")
    if "Invalid rank" in message or "invalid dimensions" in message.lower():
        return "check the input shapes (shapes= / --shape) against the model's inputs"
    return None


def remove(path: str) -> None:
    """Delete a scratch file (a trace, calibration arrays), if it is still there."""
    try:
        os.remove(path)
    except OSError:
        pass


__all__ = ["Cancelled", "ORT_LEVELS", "SHARED_POOL_ENV", "available", "choose_providers", "create_session",
           "first_line", "graph_optimization_level", "hint_for", "make_session_options", "onnxrt", "ort_message",
           "remove", "run", "shared_pool_in_use", "shared_thread_pool", "tensorrt_provider_options", "version"]
