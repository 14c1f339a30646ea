"""ONNX Runtime as an engine: real fusions, real per-node timings, on the CPU here and on a GPU where there is one.

This is the only module of the explorer that imports ``onnxruntime``, and it does so inside functions.

What a build does (:func:`build`, run in the worker process that :mod:`explorer.backends.build` starts):

1. **load** the model and give every node its explorer id as its name (ONNX Runtime refuses duplicate node
   names, and the ids are what every report uses);
2. **convert** to the requested precision: fp16/bf16 through :mod:`explorer.backends.precision` (or
   onnxconverter-common directly), int8 through ``onnxruntime.quantization.quantize_static`` (QDQ format,
   symmetric int8 activations and weights: zero points of 0, what TensorRT needs), calibrated on a few random
   batches - good for exploring what quantization does to the graph and the timings, not for accuracy;
   a model that already has Q/DQ nodes is kept as is;
3. **optimize**: create the sessions at the graph optimization level that matches ``opt_level``
   (:data:`ORT_LEVELS`) and save ONNX Runtime's optimized graph, compared with the original to find the
   fusions (:func:`map_optimized_graph`);
4. **warmup**, then **profile**: ``runs`` runs in a session without the profiler (the end-to-end time) and
   ``runs`` in an identical session with it (per-node times), alternating in chunks of :data:`CHUNK` so both
   see the same machine; one progress step per run;
5. **report**: per-node median / p10 / p90 / mean over the runs, provider placement, memory.

Optimization levels (``opt_level`` is TensorRT's builder optimization level, 0-5):

==========  =====================  ==========================================================================
opt_level   ONNX Runtime level     what it adds
==========  =====================  ==========================================================================
0           ORT_DISABLE_ALL        nothing: the graph as written
1           ORT_ENABLE_BASIC       constant folding, redundant node removal, Conv+BatchNorm/Add/Mul folding
2           ORT_ENABLE_EXTENDED    + FusedConv (Conv+activation), MatMul+Add -> Gemm, Gelu, LayerNormalization,
                                   SkipLayerNormalization, Attention, QDQ -> QLinear* ops ...
3, 4, 5     ORT_ENABLE_ALL         + layout optimizations: on the CPU, NCHWc (``com.microsoft.nchwc``) Conv /
                                   pooling nodes with Reorder nodes around them. These are specific to the
                                   CPU they were made on; they are reported like any other node.
==========  =====================  ==========================================================================
"""

from __future__ import annotations

import json
import os
import re
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

from ..errors import BuildError
from . import MAX_TIMED_RUNS

#: explorer opt_level -> name of the ``onnxruntime.GraphOptimizationLevel`` member
ORT_LEVELS = {0: "ORT_DISABLE_ALL", 1: "ORT_ENABLE_BASIC", 2: "ORT_ENABLE_EXTENDED", 3: "ORT_ENABLE_ALL"}

PRECISIONS = ("fp32", "fp16", "bf16", "int8")

#: how many random batches calibrate an int8 quantization
CALIBRATION_BATCHES = 4

#: timed runs alternate between the session without and the one with the profiler in blocks of at least
#: this many runs and (when the runs allow at least two blocks each) about BLOCK_SECONDS of runs: after its
#: run, a session's intra-op threads keep spinning on the cores, and the other session's runs that follow
#: soon after are slowed by them (blocks of 10 runs made ResNet-18 QAT's end-to-end median 40% slow)
CHUNK = 10
BLOCK_SECONDS = 0.25

#: ONNX Runtime's profiler records at most this many events (later ones are dropped with a warning)
PROFILER_EVENTS = 900_000
#: profile about this many node events (runs x nodes), and at least PROFILED_RUNS_MIN runs
PROFILED_EVENTS = 10_000
PROFILED_RUNS_MIN = 50
#: the profiled session's warm-up runs: its first (allocations) plus at most this many of those asked for
PROFILED_WARMUP = 3

ProgressCallback = Callable[[str, int, int], None]

_QDQ_OPS = {"QuantizeLinear", "DequantizeLinear"}
_QUANTIZED_OPS = _QDQ_OPS | {"QLinearConv", "QLinearMatMul", "ConvInteger", "MatMulInteger", "DynamicQuantizeLinear"}
#: op types ONNX Runtime (or a precision conversion) inserts around the real work: layout, casts, copies
_GLUE_OPS = {"Cast", "ReorderInput", "ReorderOutput", "Transpose", "Reshape", "Squeeze", "Unsqueeze",
             "QuantizeLinear", "DequantizeLinear", "MemcpyToHost", "MemcpyFromHost", "Identity"}


class Cancelled(Exception):
    """Raised inside the worker when the parent asked to stop; turned into ``BuildCancelled`` by the parent."""


# --------------------------------------------------------------------------------------------------------
# Availability and settings
# --------------------------------------------------------------------------------------------------------

def available() -> tuple[bool, str]:
    """Whether ONNX Runtime can be imported here, and which execution providers it offers."""
    try:
        import onnxruntime as ort
    except Exception as exc:  # a broken install must not take the caller down
        return False, f"import onnxruntime failed: {type(exc).__name__}: {exc}"
    return True, f"ONNX Runtime {ort.__version__} ({', '.join(ort.get_available_providers())})"


def version() -> str | None:
    try:
        import onnxruntime as ort
    except Exception:
        return None
    return ort.__version__


def graph_optimization_level(opt_level: int) -> str:
    """The ``GraphOptimizationLevel`` member name for an explorer ``opt_level`` (see the module docs)."""
    level = int(opt_level)
    if level < 0:
        raise BuildError(f"optimization level must be >= 0, got {level}")
    return ORT_LEVELS[min(level, 3)]


def choose_providers(requested: Sequence[str] | None = None) -> list[str]:
    """Execution providers for a build: the requested ones (checked), else the best this install has:
    TensorRT, then CUDA, then the CPU (always last, as the fallback ONNX Runtime needs)."""
    import onnxruntime as ort

    have = ort.get_available_providers()
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


# --------------------------------------------------------------------------------------------------------
# Model preparation: ids as names, precision
# --------------------------------------------------------------------------------------------------------

def name_nodes_by_id(proto, model) -> int:
    """Rename every node of ``proto`` (the ONNX file ``model`` was loaded from) to its explorer id, in place,
    bodies of If/Loop/Scan included. Returns how many names changed (unnamed and duplicate names)."""
    return _rename_graph(proto.graph, model.graph)


def _rename_graph(graph_proto, graph) -> int:
    import onnx

    changed = 0
    by_file_index = {node.file_index: node for node in graph.nodes}
    for index, node_proto in enumerate(graph_proto.node):
        node = by_file_index.get(index)
        if node is None:
            continue
        local_id = node.id
        if node.parent and local_id.startswith(node.parent + "/"):
            local_id = local_id[len(node.parent) + 1:]  # body ids carry their parent's id as a prefix
        if node_proto.name != local_id:
            node_proto.name = local_id
            changed += 1
        for attr in node_proto.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                body = node.subgraphs.get(attr.name)
                if body is not None:
                    changed += _rename_graph(attr.g, body)
            elif attr.type == onnx.AttributeProto.GRAPHS:
                for k, g in enumerate(attr.graphs):
                    body = node.subgraphs.get(f"{attr.name}[{k}]")
                    if body is not None:
                        changed += _rename_graph(g, body)
    return changed


def has_qdq(proto) -> bool:
    """Whether the model is already quantized (Q/DQ nodes, or QLinear/Integer ops)."""
    return any(node.op_type in _QUANTIZED_OPS for node in proto.graph.node)


def convert_precision(proto, precision: str, *, calibration: Iterable[dict] | None = None,
                      workdir: str | None = None) -> tuple[Any, dict[str, Any]]:
    """The model ``proto`` in ``precision``: (new ModelProto, what was done). fp32 and already-quantized
    int8 models come back unchanged. Weights must be loaded (not external) for fp16/bf16/int8."""
    if precision not in PRECISIONS:
        raise BuildError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    if precision == "fp32":
        info = {"precision": "fp32", "tool": None, "changed": False}
        if has_qdq(proto):
            info["note"] = ("the model has Q/DQ nodes: they are kept at fp32 too (precision comes from the model's "
                            "types); the precision column shows which layers really compute in int8")
        return proto, info
    if precision in ("fp16", "bf16"):
        return _convert_float(proto, precision)
    # int8
    if has_qdq(proto):
        return proto, {"precision": "int8", "tool": None, "changed": False,
                       "note": "the model already has Q/DQ nodes: kept as is"}
    if calibration is None:
        raise BuildError("int8 quantization needs calibration inputs")
    if _shared_pool:  # quantize_static's own sessions cannot run in a process with the shared pool
        return _quantize_int8_isolated(proto, list(calibration), workdir=workdir)
    return quantize_int8(proto, calibration, workdir=workdir)


def _quantize_int8_isolated(proto, batches: list[dict], *, workdir: str | None) -> tuple[Any, dict[str, Any]]:
    """:func:`quantize_int8` in a child process (see :func:`shared_thread_pool`): the calibration batches
    travel as an ``.npz`` file (plain arrays, no pickles), the model on the child's stdin."""
    import json
    import tempfile

    import numpy as np
    import onnx

    from ..model.isolation import IsolatedCrashed, IsolatedFailed, run_isolated

    names = list(batches[0]) if batches else []
    folder = workdir or tempfile.mkdtemp(prefix="explorer-int8-")
    arrays_path = os.path.join(folder, "int8_calibration.npz")
    np.savez(arrays_path, **{f"b{i}_{j}": np.asarray(batch[name]) for i, batch in enumerate(batches)
                             for j, name in enumerate(names)})
    try:
        data = run_isolated("quantize_int8", proto.SerializeToString(), arrays_path, json.dumps(names), folder)
    except IsolatedFailed as exc:
        message = str(exc).split(": ", 1)[1] if str(exc).startswith("BuildError: ") else str(exc)
        raise BuildError(message) from None
    except IsolatedCrashed as exc:
        raise BuildError(f"onnxruntime.quantization could not quantize the model to int8: it {exc}") from None
    finally:
        _remove(arrays_path)
        if workdir is None:
            import shutil

            shutil.rmtree(folder, ignore_errors=True)
    quantized = onnx.ModelProto()
    quantized.ParseFromString(data)
    return quantized, _int8_info(len(batches))


def _convert_float(proto, precision: str) -> tuple[Any, dict[str, Any]]:
    try:
        from . import precision as explorer_precision  # a colleague's module; may not exist yet
        convert = getattr(explorer_precision, "convert_precision", None)
    except ImportError:
        convert = None
    if convert is not None:
        try:
            converted, info = convert(proto, precision, keep_io_types=True)
        except BuildError:
            raise
        except Exception as exc:
            raise BuildError(f"converting the model to {precision} failed: {type(exc).__name__}: {exc}") from exc
        return converted, {"precision": precision, "changed": True, **_as_dict(info),
                           "via": "explorer.backends.precision.convert_precision"}
    if precision == "bf16":
        raise BuildError("bf16 conversion needs explorer.backends.precision (onnxconverter-common converts to "
                         "fp16 only)")
    try:
        from onnxconverter_common import float16
    except ImportError as exc:
        raise BuildError(f"fp16 conversion needs onnxconverter-common: {exc}",
                         hint="pip install onnxconverter-common") from exc
    try:
        converted = float16.convert_float_to_float16(proto, keep_io_types=True)
    except Exception as exc:
        raise BuildError(f"onnxconverter-common could not convert the model to fp16: {type(exc).__name__}: {exc}"
                         ) from exc
    return converted, {"precision": "fp16", "tool": "onnxconverter-common float16.convert_float_to_float16",
                       "keep_io_types": True, "changed": True}


def _as_dict(info: Any) -> dict[str, Any]:
    if info is None:
        return {}
    if isinstance(info, dict):
        return dict(info)
    if hasattr(info, "to_dict"):
        return dict(info.to_dict())
    import dataclasses

    if dataclasses.is_dataclass(info):
        return dataclasses.asdict(info)
    return {"info": str(info)}


def quantize_int8(proto, calibration: Iterable[dict], *, workdir: str | None = None) -> tuple[Any, dict[str, Any]]:
    """QDQ int8 with ``onnxruntime.quantization.quantize_static``: symmetric int8 activations and weights
    (zero points 0), per-channel weights, MinMax calibration over ``calibration`` (a few input dicts)."""
    import tempfile

    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    batches = list(calibration)

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._it = iter(batches)

        def get_next(self):
            return next(self._it, None)

    own_dir = workdir is None
    folder = tempfile.mkdtemp(prefix="explorer-int8-") if own_dir else workdir
    target = os.path.join(folder, "quantized_int8.onnx")
    try:
        quantize_static(proto, target, Reader(), quant_format=QuantFormat.QDQ,
                        activation_type=QuantType.QInt8, weight_type=QuantType.QInt8, per_channel=True,
                        extra_options={"ActivationSymmetric": True, "WeightSymmetric": True})
        quantized = onnx.load(target)
    except Exception as exc:
        raise BuildError(f"onnxruntime.quantization could not quantize the model to int8: "
                         f"{type(exc).__name__}: {_first_line(exc)}") from exc
    finally:
        if own_dir:
            import shutil

            shutil.rmtree(folder, ignore_errors=True)
    return quantized, _int8_info(len(batches))


def _int8_info(batches: int) -> dict[str, Any]:
    return {
        "precision": "int8", "changed": True,
        "tool": "onnxruntime.quantization.quantize_static (QDQ, symmetric int8 activations and weights, "
                "per-channel weights, MinMax)",
        "calibration": f"{batches} random batches",
        "note": "random calibration data: fine for exploring the graph and the timings, not for accuracy; "
                "calibrate on real data (or use NVIDIA Model Optimizer) for a deployable model",
    }


# --------------------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------------------

def graph_input_specs(proto) -> list[tuple[str, int, list]]:
    """(name, ONNX elem_type, dims) of each real graph input (initializers excluded); dims are ints,
    strings (symbolic) or None (unknown)."""
    inits = {t.name for t in proto.graph.initializer}
    specs = []
    for vi in proto.graph.input:
        if vi.name in inits:
            continue
        tt = vi.type.tensor_type
        dims = []
        for d in tt.shape.dim:
            if d.HasField("dim_value"):
                dims.append(int(d.dim_value))
            else:
                dims.append(d.dim_param or None)
        specs.append((vi.name, tt.elem_type, dims))
    return specs


def resolve_input_shapes(proto, shapes: Mapping[str, Any] | None) -> tuple[dict[str, tuple[int, ...]], list[str]]:
    """Concrete shapes for every input: the ``opt`` shape from ``shapes`` when given, else the declared
    dims with symbolic/unknown ones set to 1 (noted)."""
    shapes = dict(shapes or {})
    specs = graph_input_specs(proto)
    names = [name for name, _, _ in specs]
    unknown = [name for name in shapes if name not in names]
    if unknown:
        raise BuildError(f"shapes given for {', '.join(repr(n) for n in unknown)}, which the model has no input "
                         f"named; its inputs are {', '.join(repr(n) for n in names) or '(none)'}")
    resolved: dict[str, tuple[int, ...]] = {}
    notes: list[str] = []
    for name, _, dims in specs:
        if name in shapes:
            resolved[name] = tuple(int(d) for d in shapes[name][1])
            continue
        concrete = []
        defaulted = []
        for i, d in enumerate(dims):
            if isinstance(d, int) and d > 0:
                concrete.append(d)
            else:
                concrete.append(1)
                defaulted.append(f"dim {i} ({d!r})" if d else f"dim {i}")
        if defaulted:
            notes.append(f"input {name!r}: {', '.join(defaulted)} set to 1; give shapes={{{name!r}: ...}} for "
                         "other sizes")
        resolved[name] = tuple(concrete)
    return resolved, notes


def random_inputs(proto, shapes: Mapping[str, tuple[int, ...]], seed: int = 0) -> dict[str, Any]:
    """Random inputs of the model's types at ``shapes`` (from :func:`resolve_input_shapes`), fixed seed:
    floats standard normal, integers 0 or 1 (valid indices for any table), booleans random."""
    import numpy as np
    from onnx import helper

    rng = np.random.default_rng(seed)
    feeds: dict[str, Any] = {}
    for name, elem_type, _ in graph_input_specs(proto):
        shape = tuple(shapes[name])
        try:
            dtype = np.dtype(helper.tensor_dtype_to_np_dtype(elem_type))
        except Exception:
            raise BuildError(f"input {name!r} has ONNX element type {elem_type}, which random inputs cannot "
                             "be made for") from None
        if dtype.kind == "f":
            feeds[name] = rng.standard_normal(shape).astype(dtype)
        elif dtype.kind == "b":
            feeds[name] = rng.random(shape) < 0.5
        elif dtype.kind in "iu":
            feeds[name] = rng.integers(0, 2, size=shape).astype(dtype)
        else:
            raise BuildError(f"input {name!r} has type {dtype}, which random inputs cannot be made for")
    return feeds


# --------------------------------------------------------------------------------------------------------
# Running (also used by tests and the benchmark to compare precisions)
# --------------------------------------------------------------------------------------------------------

_shared_pool: bool | None = None
#: set to "1" in the build worker's environment: only there do the timed sessions share a thread pool
SHARED_POOL_ENV = "EXPLORER_ORT_SHARED_THREAD_POOL"


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
        import onnxruntime as ort
        from onnxruntime.capi import _pybind_state

        try:
            _pybind_state.set_global_thread_pool_sizes(0, 1)  # 0: the default size
            so = ort.SessionOptions()
            so.use_per_session_threads = False
            so.log_severity_level = 4
            ort.InferenceSession(_chain_model(1), so, providers=["CPUExecutionProvider"])
            _shared_pool = True
        except Exception:  # an ONNX Runtime without it, or an environment made without global pools
            _shared_pool = False
    return _shared_pool


def make_session_options(opt_level: int, *, profile_prefix: str | None = None, optimized_path: str | None = None,
                         external_folder: str | None = None, measured: bool = False, stop_spinning: bool = False):
    """ONNX Runtime session options for ``opt_level`` (0-5). ``measured``: a session whose runs are timed
    (see :func:`shared_thread_pool`); ``stop_spinning``: without the shared pool, its threads stop spinning
    after each run (the calibration's sessions; the profiled session always does)."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = getattr(ort.GraphOptimizationLevel, graph_optimization_level(opt_level))
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
    import onnxruntime as ort

    so = make_session_options(opt_level, **options)
    source = model.SerializeToString() if hasattr(model, "SerializeToString") else model
    try:
        return ort.InferenceSession(source, so, providers=list(providers or ["CPUExecutionProvider"]))
    except Exception as exc:
        raise BuildError(f"ONNX Runtime could not load the model: {_ort_message(exc)}",
                         hint=_hint_for(str(exc))) from None


def run(model: Any, feeds: Mapping[str, Any], opt_level: int = 3, providers: Sequence[Any] | None = None) -> list:
    """Run a model once (path, bytes or ModelProto) and return its outputs as numpy arrays."""
    session = create_session(model, opt_level, providers)
    try:
        return session.run(None, dict(feeds))
    except Exception as exc:
        raise BuildError(f"ONNX Runtime failed to run the model: {_ort_message(exc)}") from None


def _ort_message(exc: BaseException) -> str:
    text = str(exc).strip()
    return " ".join(text.split()) if text else type(exc).__name__


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _hint_for(message: str) -> str | None:
    if "is not a registered function/op" in message:
        return ("the model uses a custom operator ONNX Runtime does not know; it needs its custom-op library "
                "(or a TensorRT plugin): see the Partitions view for the nodes")
    if "Could not find an implementation" in message:
        return ("the execution provider has no kernel for this op in this type (ONNX Runtime's CPU provider has "
                "few bf16 kernels, for instance): try another precision, or a GPU provider")
    if "Invalid rank" in message or "invalid dimensions" in message.lower():
        return "check the input shapes (shapes= / --shape) against the model's inputs"
    return None


# --------------------------------------------------------------------------------------------------------
# The profiler's own cost per node, calibrated in the build's run
# --------------------------------------------------------------------------------------------------------

#: nodes in the calibration chains: the long chain, and the short one that gives session.run's fixed cost
CALIBRATION_NODES = 64
CALIBRATION_SHORT = 8
#: the chains of nodes that use the intra-op thread pool: fewer nodes, each does real work
PARALLEL_NODES = 16
PARALLEL_SHORT = 4
#: elements of the parallel chain's tensor: enough that ONNX Runtime splits a Sigmoid over its threads
PARALLEL_ELEMENTS = 1 << 16
#: runs of each calibration session (after as many warm-ups / 4)
CALIBRATION_RUNS = 40
#: a corrected per-node time never goes below this (or the raw time, if smaller): µs
CORRECTED_FLOOR_US = 0.1


def _chain_model(k: int, op: str = "Neg", elements: int = 1):
    """``k`` ``op`` nodes in a chain on a float tensor of ``elements``: Neg on one element is the cheapest
    real kernel there is; Sigmoid on 64k elements is split over the intra-op threads."""
    from onnx import TensorProto, helper

    names = ["x"] + [f"t{i}" for i in range(1, k)] + ["y"]
    nodes = [helper.make_node(op, [names[i]], [names[i + 1]], name=f"calibration_{op.lower()}_{i}")
             for i in range(k)]
    graph = helper.make_graph(nodes, "profiler_calibration",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [elements])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [elements])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model.SerializeToString()


def calibrate_profiler_overhead(providers: Sequence[Any], workdir: str, *, runs: int = CALIBRATION_RUNS,
                                cancelled: Callable[[], bool] | None = None) -> dict[str, Any]:
    """How much ONNX Runtime's profiler adds to each node's recorded duration, measured now, here.

    Two kinds of node cost the profiler differently, so there are two sets of chains (graph optimizations
    off, so every node runs; default threads and the same providers as the build):

    * serial: ``Neg`` on one element. A short and a long chain without the profiler, whose difference in
      ``session.run`` time gives the true cost of one node (without session.run's fixed cost), and the long
      chain with the profiler, whose recorded durations give what the profiler reports for it:
      ``overhead_us`` = recorded per node - true per node. The wall time the profiler adds per node beyond
      that (``outside_us``) falls between nodes, or inside an If/Loop for the nodes of its body.
    * parallel: ``Sigmoid`` on 64k elements, which ONNX Runtime splits over its intra-op threads; the
      profiler's thread-pool bookkeeping makes such a node's recorded time several µs longer again
      (``parallel_extra_us``, 0 when the chain did not run in parallel, e.g. with one thread).

    The model being measured plays no part (calibrating on it would make the per-layer sum match by
    construction)."""
    import numpy as np
    import onnxruntime as ort

    warm = max(3, runs // 4)
    t_start = time.perf_counter()

    def timed(session, feeds, n: int) -> list[float]:
        out = []
        for i in range(n):
            if cancelled is not None and i % 16 == 0 and cancelled():
                raise Cancelled()
            t0 = time.perf_counter()
            session.run(None, feeds)
            out.append((time.perf_counter() - t0) * 1e6)
        return out

    def chains(op: str, elements: int, k: int, short: int, tag: str) -> dict[str, Any]:
        feeds = {"x": np.full([elements], 0.5, dtype=np.float32)}
        plain_long = ort.InferenceSession(_chain_model(k, op, elements), make_session_options(0, measured=True, stop_spinning=True),
                                          providers=list(providers))
        plain_short = ort.InferenceSession(_chain_model(short, op, elements), make_session_options(0, measured=True, stop_spinning=True),
                                           providers=list(providers))
        prefix = os.path.join(workdir, f"calibration_{tag}")
        profiled = ort.InferenceSession(_chain_model(k, op, elements), make_session_options(0, profile_prefix=prefix, measured=True),
                                        providers=list(providers))
        for session in (plain_long, plain_short, profiled):
            timed(session, feeds, warm)
        long_us: list[float] = []
        short_us: list[float] = []
        profiled_us: list[float] = []
        chunk = max(1, runs // 4)
        for _ in range(4):  # interleaved, so the three see the same machine
            long_us += timed(plain_long, feeds, chunk)
            short_us += timed(plain_short, feeds, chunk)
            profiled_us += timed(profiled, feeds, chunk)
        path = profiled.end_profiling()
        try:
            profile = parse_profile(read_profile_file(path), skip_runs=warm)
        finally:
            _remove(path)
        del plain_long, plain_short, profiled
        nodes = profile["nodes"]
        # what the report does with a node's durations (whole_us_median), averaged over the chain's nodes
        recorded = float(np.mean([whole_us_median(n.durations_us) for n in nodes.values()])) if nodes else None
        long_med, short_med, prof_med = (float(np.median(v)) for v in (long_us, short_us, profiled_us))
        true = max(0.0, (long_med - short_med) / (k - short))
        return {"recorded": recorded, "true": true, "short_med": short_med, "runs": len(long_us),
                "wall_per_node": (prof_med - long_med) / k,
                "parallel": any(n.parallel_sections for n in nodes.values())}

    serial = chains("Neg", 1, CALIBRATION_NODES, CALIBRATION_SHORT, "serial")
    parallel = chains("Sigmoid", PARALLEL_ELEMENTS, PARALLEL_NODES, PARALLEL_SHORT, "parallel")
    overhead = max(0.0, serial["recorded"] - serial["true"]) if serial["recorded"] is not None else 0.0
    parallel_extra = 0.0
    if parallel["parallel"] and parallel["recorded"] is not None:
        parallel_extra = max(0.0, parallel["recorded"] - parallel["true"] - overhead)
    k, short = CALIBRATION_NODES, CALIBRATION_SHORT
    return {
        "overhead_us": round(overhead, 4),
        "parallel_extra_us": round(parallel_extra, 4),
        "outside_us": round(max(0.0, serial["wall_per_node"] - overhead), 4),
        "recorded_per_node_us": round(serial["recorded"], 4) if serial["recorded"] is not None else None,
        "true_per_node_us": round(serial["true"], 4),
        "run_overhead_us": round(max(0.0, serial["short_med"] - short * serial["true"]), 4),
        "profiled_run_per_node_us": round(serial["wall_per_node"], 4),  # wall time the profiler adds per node
        "nodes": k, "short_nodes": short, "parallel_nodes": PARALLEL_NODES, "runs": serial["runs"],
        "seconds": round(time.perf_counter() - t_start, 6),
        "method": (f"serial: chains of {k} and {short} Neg nodes on a 1-element tensor; parallel: chains of "
                   f"{PARALLEL_NODES} and {PARALLEL_SHORT} Sigmoid nodes on {PARALLEL_ELEMENTS} elements (split "
                   f"over the intra-op threads); graph optimizations off, same providers and threads, "
                   f"{serial['runs']} runs each, interleaved. Overhead = the recorded durations' median per node "
                   "(whole µs, interpolated), averaged over the chain, with the profiler on, minus the true "
                   "per-node cost = (median session.run of the long chain - of the short chain) / (difference "
                   "in nodes) with the profiler off; the parallel figure is what the parallel chain adds on top"),
    }


#: a warm build worker reuses its last calibration for this long (seconds); the report says how old it is
CALIBRATION_MAX_AGE_S = 300.0
_last_calibration: dict[str, Any] = {}


def recent_calibration(workdir: str, *, cancelled: Callable[[], bool] | None = None) -> dict[str, Any]:
    """The CPU profiler calibration, measured now or at most :data:`CALIBRATION_MAX_AGE_S` ago in this process.

    The profiler's overhead is a property of this machine and ONNX Runtime build, not of the model: a worker
    that builds again (the warm worker of :mod:`explorer.backends.build`) need not spend ~0.1 s measuring
    it again. ``age_s`` and ``reused`` in the result say which it was; ``seconds`` is 0 when reused."""
    now = time.monotonic()
    last = _last_calibration.get("cpu")
    if last is not None and now - last[0] <= CALIBRATION_MAX_AGE_S:
        return {**last[1], "reused": True, "age_s": round(now - last[0], 3), "seconds": 0.0}
    fresh = calibrate_profiler_overhead(["CPUExecutionProvider"], workdir, cancelled=cancelled)
    _last_calibration["cpu"] = (time.monotonic(), fresh)
    return {**fresh, "reused": False, "age_s": 0.0}


def calibration_summary(calibration: Mapping[str, Any]) -> str:
    """One phrase for reports: the overhead taken off, and where and when it was measured."""
    when = (f"{calibration.get('age_s', 0):.0f} s earlier in this build worker" if calibration.get("reused")
            else "in this build")
    extra = float(calibration.get("parallel_extra_us") or 0.0)
    return (f"{float(calibration['overhead_us']):.2f} us/node (+{extra:.2f} us for nodes that use the intra-op "
            f"thread pool), calibrated on chains of {calibration['nodes']} Neg and "
            f"{calibration.get('parallel_nodes', PARALLEL_NODES)} Sigmoid nodes {when}")


def node_overhead_us(calibration: Mapping[str, Any], parallel_sections: int) -> float:
    """The profiler's overhead in one recorded event of a node: the serial figure, plus the extra the
    calibration measured for nodes that hand work to the intra-op thread pool."""
    extra = float(calibration.get("parallel_extra_us") or 0.0) if parallel_sections else 0.0
    return float(calibration["overhead_us"]) + extra


def corrected_stats(durations_us: Sequence[float], overhead_us: float, *, events: Sequence[int] | None = None,
                    nested: Sequence[int] | None = None, nested_overhead_us: float = 0.0) -> dict[str, float] | None:
    """:func:`stats_ms` of the durations less the profiler's overhead (each at least
    :data:`CORRECTED_FLOOR_US`, or its raw value when smaller), plus the raw figures as ``raw_*``.

    Per run, the overhead is ``overhead_us`` for each of the node's events in it (a loop body node runs
    several times), plus ``nested_overhead_us`` for each node event nested in its span (the whole cost of
    profiling a node of its If/Loop body, inside and outside that node's own interval)."""
    import numpy as np

    d = np.asarray(durations_us, dtype=float)
    raw = stats_ms(d)
    if raw is None:
        return None
    n = d.size
    ev = np.asarray(events if events is not None and len(events) == n else np.ones(n), dtype=float)
    ch = np.asarray(nested if nested is not None and len(nested) == n else np.zeros(n), dtype=float)
    per_run = overhead_us * ev + nested_overhead_us * ch
    corrected = np.maximum(d - per_run, np.minimum(d, CORRECTED_FLOOR_US))
    stats = stats_ms(corrected)
    assert stats is not None
    stats.update({f"raw_{k}": v for k, v in raw.items() if k != "count"})
    # median and p10/p90 from the whole-µs values, interpolated (see whole_us_quantiles; the calibration
    # uses the same), less the run's overhead
    overhead = float(np.median(per_run))
    for key, value_us in zip(("p10_ms", "median_ms", "p90_ms"), whole_us_quantiles(d, (0.1, 0.5, 0.9))):
        stats[f"raw_{key}"] = value_us / 1000.0
        stats[key] = max(value_us - overhead, min(value_us, CORRECTED_FLOOR_US)) / 1000.0
    median_us = stats["raw_median_ms"] * 1000.0
    stats["profiler_overhead_ms"] = overhead / 1000.0
    stats["at_floor"] = bool(median_us <= overhead + CORRECTED_FLOOR_US)
    return stats


# --------------------------------------------------------------------------------------------------------
# The build (runs in the worker process)
# --------------------------------------------------------------------------------------------------------

def build(model_path: str, settings: Mapping[str, Any], *, workdir: str,
          on_progress: ProgressCallback | None = None, cancelled: Callable[[], bool] | None = None,
          on_session_created: Callable[[Any], None] | None = None) -> dict[str, Any]:
    """Optimize and profile ``model_path`` with ONNX Runtime; returns plain JSON-able data.

    ``settings``: precision, opt_level, shapes ({input: [min, opt, max]}), runs, warmup, duration
    (seconds: time runs until then too), providers, workspace, timing_cache, seed. ``on_progress(phase, step, total)`` is called for the phases load,
    convert, optimize, warmup, profile (one step per run) and report; ``cancelled()`` is checked between
    phases and runs (raises :class:`Cancelled`). Raises :class:`BuildError` with ONNX Runtime's own words.
    """
    import onnx
    import onnxruntime as ort

    from ..model import load_model

    started = time.perf_counter()
    shared_thread_pool()  # before any session of this process, if it can (int8 quantization makes some)
    timings: dict[str, float] = {}
    notes: list[str] = []
    precision = settings.get("precision", "fp32")
    opt_level = int(settings.get("opt_level", 3))
    runs = int(settings.get("runs", 20))
    warmup = int(settings.get("warmup", 5))
    seed = int(settings.get("seed", 0))

    def progress(phase: str, step: int, total: int) -> None:
        if on_progress is not None:
            on_progress(phase, step, total)

    def check() -> None:
        if cancelled is not None and cancelled():
            raise Cancelled()

    def lap(name: str, since: float) -> float:
        now = time.perf_counter()
        timings[name] = round(now - since, 6)
        return now

    # -- load --------------------------------------------------------------------------------------------
    t = time.perf_counter()
    progress("load", 0, 1)
    try:
        model = load_model(model_path, infer_shapes=False)  # node ids and ops: no shape inference needed
    except Exception as exc:  # ModelError: the words are already good
        raise BuildError(str(exc)) from None
    original = onnx.load(model_path, load_external_data=False)
    renamed = name_nodes_by_id(original, model)
    if renamed:
        notes.append(f"{renamed} node(s) without a unique name were named by their explorer id for ONNX Runtime "
                     "(it refuses duplicate node names)")
    external = any(init.data_location == onnx.TensorProto.EXTERNAL for init in original.graph.initializer)
    model_dir = os.path.dirname(os.path.abspath(model_path))
    progress("load", 1, 1)
    t = lap("load", t)
    check()

    # -- shapes and inputs ---------------------------------------------------------------------------------
    shapes = {k: tuple(tuple(int(d) for d in s) for s in v) for k, v in (settings.get("shapes") or {}).items()}
    input_shapes, shape_notes = resolve_input_shapes(original, shapes)
    notes.extend(shape_notes)
    feeds = random_inputs(original, input_shapes, seed)

    # -- convert ---------------------------------------------------------------------------------------------
    progress("convert", 0, 1)
    run_proto = original
    conversion: dict[str, Any] = {"precision": precision, "tool": None, "changed": False}
    if precision != "fp32" and not (precision == "int8" and has_qdq(original)):
        if external:
            onnx.load_external_data_for_model(run_proto, model_dir)
            external = False
        calibration = None
        if precision == "int8":
            calibration = [random_inputs(original, input_shapes, seed + 1 + i) for i in range(CALIBRATION_BATCHES)]
        run_proto, conversion = convert_precision(run_proto, precision, calibration=calibration, workdir=workdir)
    else:
        run_proto, conversion = convert_precision(run_proto, precision, workdir=workdir)
    if conversion.get("note"):
        notes.append(conversion["note"])
    notes.extend(str(n) for n in conversion.get("notes") or [])  # the converter's own remarks
    progress("convert", 1, 1)
    t = lap("convert", t)
    check()

    # -- optimize: two identical sessions, one with the profiler ----------------------------------------------
    progress("optimize", 0, 2)
    providers = choose_providers(settings.get("providers"))
    provider_args: list[Any] = []
    for name in providers:
        if name == "TensorrtExecutionProvider":
            provider_args.append((name, tensorrt_provider_options(settings, workdir)))
        else:
            provider_args.append(name)
    if run_proto is original and not renamed:
        source: Any = model_path  # untouched: let ONNX Runtime read the file (and its external data) itself
        external_folder = None
    else:
        source = _serialize(run_proto, workdir)
        external_folder = model_dir if external else None
    optimized_path = os.path.join(workdir, "optimized.onnx")
    level_name = graph_optimization_level(opt_level)

    plain = _session(ort, source, opt_level, provider_args, optimized_path=optimized_path,
                     external_folder=external_folder, on_created=on_session_created, cancelled=cancelled)
    optimized_saved = os.path.exists(optimized_path)
    if plain is None:  # saving the optimized graph is impossible with compiled nodes (TensorRT EP)
        plain = _session(ort, source, opt_level, provider_args, external_folder=external_folder,
                         on_created=on_session_created, cancelled=cancelled)
        notes.append("ONNX Runtime could not save the optimized graph (compiled nodes, e.g. TensorRT subgraphs): "
                     "layers come from the profiler only")
    progress("optimize", 1, 2)
    check()
    profiled = _session(ort, source, opt_level, provider_args, profile_prefix=os.path.join(workdir, "profile"),
                        external_folder=external_folder, on_created=on_session_created, cancelled=cancelled)
    progress("optimize", 2, 2)
    used_providers = plain.get_providers()
    t = lap("optimize", t)
    check()

    # -- warmup and profile -------------------------------------------------------------------------------------
    def run_once(session) -> float:
        t0 = time.perf_counter()
        try:
            session.run(None, feeds)
        except Exception as exc:
            raise BuildError(f"ONNX Runtime failed to run the model: {_ort_message(exc)}",
                             hint=_hint_for(str(exc))) from None
        return time.perf_counter() - t0

    # Warm-up, then the timed runs: `runs` without the profiler (the end-to-end time) and `runs` with it
    # (per-node times), alternating in blocks (see BLOCK_SECONDS) so that both see the same machine (other
    # processes, clock changes). Not single runs in turn: after a run, a session's intra-op threads spin for
    # a while, and two sessions taking turns run by run would steal the cores from each other.
    # the profiled session's warm-up: its first run (allocations) and a few more, dropped from its trace; its
    # per-node medians over many runs do not need the `warmup` runs asked for the end-to-end time
    profiled_warmup = min(warmup, PROFILED_WARMUP) + 1
    warm_total = warmup + profiled_warmup
    warm_s = 0.0  # wall time of the warm-up runs asked for, and of the profiled session's
    profiled_warm_s = 0.0
    progress("warmup", 0, warm_total)
    # the profiler's own cost per node, on a chain of cheap nodes (never on this model), before its runs
    calibration: dict[str, Any] | None = None
    if settings.get("profiler_calibration", True) and all(p == "CPUExecutionProvider" for p in used_providers):
        try:
            calibration = recent_calibration(workdir, cancelled=cancelled)
        except Cancelled:
            raise
        except Exception as exc:  # the build's figures stand without it; say so
            notes.append(f"the profiler's overhead could not be calibrated ({_first_line(exc)}): per-node times are "
                         "ONNX Runtime's raw figures")
        timings["calibration"] = round(calibration["seconds"], 6) if calibration else 0.0
    elif settings.get("profiler_calibration", True):
        notes.append(f"per-node times are ONNX Runtime's raw profiler figures: the profiler's overhead is calibrated "
                     f"on the CPU provider only (this build used {', '.join(used_providers)})")
    check()
    for i in range(warm_total):
        progress("warmup", i, warm_total)
        check()
        if i < warmup:
            warm_s += run_once(plain)
        else:
            profiled_warm_s += run_once(profiled)
    progress("warmup", warm_total, warm_total)
    t = lap("warmup", t)

    e2e: list[float] = []
    timed_s = 0.0
    plain_s = 0.0  # the runs without the profiler: what `duration` counts
    duration = float(settings.get("duration") or 0.0)
    if duration > 0:  # as trtexec's --duration: enough runs for that long, judged from the warm-up runs
        per_plain = warm_s / warmup if warmup else profiled_warm_s / profiled_warmup
        if per_plain > 0:
            runs = max(runs, min(MAX_TIMED_RUNS, int(duration / per_plain)))
    # ONNX Runtime's profiler keeps at most a million events and drops the rest: profile fewer runs than
    # that allows (a generous guess at the node count: conversions and layout passes add nodes)
    node_guess = 2 * len(original.graph.node) + 16
    profiled_runs = max(1, min(runs, PROFILER_EVENTS // node_guess - profiled_warmup))
    if profiled_runs < runs:
        notes.append(f"per-node times come from {profiled_runs} of the {runs} runs: ONNX Runtime's profiler "
                     f"keeps at most {PROFILER_EVENTS:,} events")
    # beyond PROFILED_EVENTS events the per-node medians no longer move, but writing and reading the trace
    # (about 1 kB per event) would cost more than the runs: profile a spread-out share of the runs
    enough = max(PROFILED_RUNS_MIN, PROFILED_EVENTS // max(1, len(original.graph.node)))
    if profiled_runs > enough:
        profiled_runs = enough
        notes.append(f"per-node times come from {profiled_runs} of the {runs} runs, spread over the measurement "
                     f"(about {PROFILED_EVENTS:,} node events: more would not change the medians, only make the "
                     "profiler's trace slower to write and read); the end-to-end figures use all runs")
    total_steps = runs + profiled_runs
    # blocks of ~BLOCK_SECONDS, judged from the warm-up runs (at least CHUNK runs, at least two blocks each)
    per_run = (warm_s + profiled_warm_s) / warm_total if warm_total else 0.0
    by_time = int(BLOCK_SECONDS / per_run) if per_run > 0 else CHUNK
    chunk = runs if runs < 2 * CHUNK else max(CHUNK, min(by_time, runs // 2))
    # the profiled session's block: its share of the runs, so that its runs spread over the whole measurement
    profiled_chunk = min(chunk, max(CHUNK, -(-chunk * profiled_runs // runs)))
    done_plain = done_profiled = 0
    step = 0
    while True:
        if duration > 0 and done_plain >= runs and plain_s < duration and runs < MAX_TIMED_RUNS:
            runs = min(MAX_TIMED_RUNS, runs + chunk)  # the estimate fell short of the duration: one more block
            total_steps = runs + profiled_runs
        if done_plain >= runs and done_profiled >= profiled_runs:
            break
        for session, is_plain in ((plain, True), (profiled, False)):
            todo = min(chunk if is_plain else profiled_chunk,
                       (runs - done_plain) if is_plain else (profiled_runs - done_profiled))
            for _ in range(todo):
                progress("profile", step, total_steps)
                check()
                seconds = run_once(session)
                timed_s += seconds
                step += 1
                if is_plain:
                    e2e.append(seconds * 1000.0)
                    plain_s += seconds
            if is_plain:
                done_plain += todo
            else:
                done_profiled += todo
    progress("profile", total_steps, total_steps)
    t = lap("profile", t)
    timings["timed_runs"] = round(timed_s, 6)
    timings["warmup_runs"] = round(warm_s, 6)  # the ones asked for (the session without the profiler)
    timings["profiled_warmup_runs"] = round(profiled_warm_s, 6)
    check()

    # -- report ---------------------------------------------------------------------------------------------
    progress("report", 0, 1)
    profile_file = profiled.end_profiling()
    try:
        trace = read_profile_file(profile_file)
    except (OSError, ValueError) as exc:
        raise BuildError(f"could not read ONNX Runtime's profile {profile_file}: {exc}") from None
    finally:
        _remove(profile_file)
    profile = parse_profile(trace, skip_runs=profiled_warmup)

    optimized = onnx.load(optimized_path, load_external_data=False) if optimized_saved else None
    converted = run_proto if run_proto is not original else None
    result = _assemble(model, original, converted, optimized, profile, e2e, notes, precision, calibration)
    del plain, profiled
    result.update({
        "backend": "onnxruntime",
        "onnxruntime_version": ort.__version__,
        "model_path": model_path,
        "conversion": conversion,
        "settings": {
            "precision": precision,
            "conversion_tool": conversion.get("tool"),
            "opt_level": opt_level,
            "ort_graph_optimization_level": level_name,
            "providers": used_providers,
            "runs": runs,
            "duration": duration,
            "profiled_runs": profiled_runs,
            "warmup": warmup,
            "input_shapes": {k: list(v) for k, v in input_shapes.items()},
            "inputs": f"random, seed {seed}",
            "threads": ("ONNX Runtime default (intra-op = physical cores), one pool shared by the timed sessions"
                        if shared_thread_pool() else "ONNX Runtime default (intra-op = physical cores) per session; "
                        "the profiled session's threads stop spinning after each run"),
        },
        "timings_s": timings,
    })
    lap("report", t)
    result["timings_s"]["total"] = round(time.perf_counter() - started, 6)
    progress("report", 1, 1)
    return result


def _serialize(proto, workdir: str) -> Any:
    """Bytes for ONNX Runtime, or a file (with external data) when protobuf's 2 GiB limit is near."""
    import onnx

    if proto.ByteSize() < 1_800_000_000:
        return proto.SerializeToString()
    path = os.path.join(workdir, "model_to_run.onnx")
    onnx.save_model(proto, path, save_as_external_data=True, all_tensors_to_one_file=True,
                    location="model_to_run.onnx.data")
    return path


def _session(ort, source, opt_level, providers, *, optimized_path=None, profile_prefix=None, external_folder=None,
             on_created=None, cancelled=None):
    so = make_session_options(opt_level, profile_prefix=profile_prefix, optimized_path=optimized_path, measured=True,
                              external_folder=external_folder)
    if on_created is not None:
        on_created(so)  # lets the worker flip set_load_cancellation_flag while the session is being made
    try:
        return ort.InferenceSession(source, so, providers=providers)
    except Exception as exc:
        text = _ort_message(exc)
        if cancelled is not None and cancelled():
            raise Cancelled() from None
        if optimized_path and "compiled" in text.lower() and "serializ" in text.lower():
            return None
        raise BuildError(f"ONNX Runtime could not load the model: {text}", hint=_hint_for(text)) from None


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass


# --------------------------------------------------------------------------------------------------------
# The profiler's trace
# --------------------------------------------------------------------------------------------------------

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
    import numpy as np

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
    import numpy as np

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
    import numpy as np

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


def parse_profile(trace: Trace | list, skip_runs: int = 0) -> dict[str, Any]:
    """Per-node durations per run: node events are grouped by the ``model_run`` they fall in (a node run
    several times in a run - in a loop body - counts once with the sum); the first ``skip_runs`` runs
    (warm-up) are dropped. Nodes are keyed by name (ONNX Runtime names the nodes it leaves unnamed
    ``<OpType>_<index>`` in the trace). Also the arena's peak when the trace has it."""
    import numpy as np

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
    return {"nodes": nodes, "runs": int(measured.size), "profiled_run_ms": (measured / 1000.0).tolist(),
            "arena_peak_bytes": max(peaks) if peaks else None, "arena_held_bytes": max(helds) if helds else None}


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


def whole_us_quantiles(durations_us: Sequence[float], qs: Sequence[float]) -> list[float]:
    """The ``qs`` quantiles of durations ONNX Runtime's profiler truncated to whole µs, interpolated in
    their class.

    A node recorded as 3, 4, 4, 3, 4 µs took somewhere in [3, 5) µs each time; the plain median (4) is off
    by up to 1 µs, which is a node's whole cost when it is this short. The grouped-data quantile
    ``k + (q*n - count(< k)) / count(== k)`` (``k`` the class holding it, values in ``[k, k+1)``) is not, and
    is monotone in ``q``. Falls back to the plain quantiles when the values are not whole numbers."""
    import numpy as np

    a = np.sort(np.asarray(durations_us, dtype=float))
    if a.size == 0:
        return [float("nan")] * len(qs)
    q = np.asarray(qs, dtype=float)
    plain = _sorted_quantiles(a, q)
    if not np.all(a == np.floor(a)):
        return plain.tolist()
    k = np.floor(plain)
    below = np.searchsorted(a, k, side="left")
    equal = np.searchsorted(a, k, side="right") - below
    inside = np.clip((q * a.size - below) / np.maximum(equal, 1), 0.0, 1.0)
    return np.where(equal > 0, k + inside, plain).tolist()


def _sorted_quantiles(a, q):
    """``np.quantile(a, q)`` (linear) of an already sorted 1-d array, without numpy's per-call overhead
    (a report computes a few per node)."""
    import numpy as np

    pos = np.asarray(q, dtype=float) * (a.size - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, a.size - 1)
    return a[lo] + (a[hi] - a[lo]) * (pos - lo)


def whole_us_median(durations_us: Sequence[float]) -> float:
    """:func:`whole_us_quantiles` at 0.5."""
    return whole_us_quantiles(durations_us, [0.5])[0]


def stats_ms(durations_us: Sequence[float]) -> dict[str, float] | None:
    """median, p10, p90, mean, min, max (ms) and count of a list of per-run durations in µs."""
    if len(durations_us) == 0:
        return None
    import numpy as np

    a = np.sort(np.asarray(durations_us, dtype=float)) / 1000.0
    p10, median, p90 = _sorted_quantiles(a, (0.1, 0.5, 0.9)).tolist()  # one sort for the three
    total = float(a.sum())
    return {"median_ms": median, "p10_ms": p10, "p90_ms": p90, "mean_ms": total / a.size,
            "min_ms": float(a[0]), "max_ms": float(a[-1]), "total_ms": total, "count": int(a.size)}


# --------------------------------------------------------------------------------------------------------
# Optimized graph vs. original: which original nodes each executed node covers
# --------------------------------------------------------------------------------------------------------

@dataclass(eq=False)
class _GNode:
    name: str
    op_type: str
    domain: str
    inputs: list[str]
    outputs: list[str]
    index: int


def _nodes(graph_proto) -> list[_GNode]:
    return [_GNode(n.name, n.op_type, n.domain, [i for i in n.input], [o for o in n.output], k)
            for k, n in enumerate(graph_proto.node)]


def _tensor_names(graph_proto, nodes: list[_GNode]) -> set[str]:
    names = {vi.name for vi in graph_proto.input} | {vi.name for vi in graph_proto.output}
    names |= {t.name for t in graph_proto.initializer}
    for n in nodes:
        names.update(x for x in n.inputs if x)
        names.update(x for x in n.outputs if x)
    return names


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[Any, Any] = {}

    def find(self, x):
        self.parent.setdefault(x, x)
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a, b) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[ra] = rb


_TOKEN_SUFFIX = re.compile(r"_token_\d+$")
_NAMED_SUFFIX = re.compile(r"_new_reshape$")
_INLINED = re.compile(r"^_inlfunc_([A-Za-z0-9]+?)(?:_token_\d+)?_")
_FUSION_SUFFIX = re.compile(r"/[A-Za-z0-9]*Fusion/?$")


def _name_candidates(name: str) -> list[str]:
    """Names an original node may have had, from how ONNX Runtime derives the names of nodes it makes:
    ``<node>/MatMulAddFusion``, ``<node>/LayerNormFusion/``, ``<name>_token_<n>`` (uniquified),
    ``InsertedPrecisionFreeCast_<name>``, ``<name>/duplicated``, ``<reshape>_new_reshape``."""
    out: list[str] = []
    todo = [name]
    while todo:
        current = todo.pop()
        if not current or current in out:
            continue
        out.append(current)
        for pattern in (_TOKEN_SUFFIX, _FUSION_SUFFIX, _NAMED_SUFFIX):
            stripped = pattern.sub("", current)
            if stripped != current:
                todo.append(stripped)
        for prefix in ("InsertedPrecisionFreeCast_",):
            if current.startswith(prefix):
                todo.append(current[len(prefix):])
        if current.endswith("/duplicated"):
            todo.append(current[: -len("/duplicated")])
    return out


def map_optimized_graph(original_graph, optimized_graph, converted_graph=None) -> dict[str, Any]:
    """Which original nodes each node of ONNX Runtime's optimized graph covers.

    ``original_graph``: the GraphProto the user gave, nodes named by explorer id; ``optimized_graph``: what
    ``optimized_model_filepath`` saved; ``converted_graph``: the fp16/int8 model in between, if any (its
    own nodes - casts, Q/DQ - are then recognised as inserted by the conversion).

    Tensors present in both graphs are *anchors*: ONNX Runtime keeps a tensor's name when it keeps its value.
    Nodes connected through non-anchor tensors form a region on each side; regions producing the same anchor
    are the same piece of computation. Inside a piece, node names (``Conv_0`` for the FusedConv of Conv_0 +
    Relu_1, ``<tensor>_nchwc`` for NCHWc nodes, ``<node>/MatMulAddFusion``...) seed the match and the
    remaining original nodes join the neighbour they were fused with (through a tensor only they used).

    Returns ``{"nodes": {optimized node index: {"name", "onnx_nodes": [...], "origin", "inserted_by"}},
    "vanished": [{"onnx_nodes": [...], "reason": ...}]}``.
    """
    all_orig = _nodes(original_graph)
    # Constant nodes become initializers (weights): they are never part of a fused node
    constants = [n for n in all_orig if n.op_type == "Constant" and n.domain in ("", "ai.onnx")]
    orig = [n for n in all_orig if not (n.op_type == "Constant" and n.domain in ("", "ai.onnx"))]
    opt = _nodes(optimized_graph)
    orig_tensors = _tensor_names(original_graph, orig)
    opt_tensors = _tensor_names(optimized_graph, opt)
    anchors = orig_tensors & opt_tensors
    opt_initializers = {t.name for t in optimized_graph.initializer}
    converted_names: set[str] = set()
    if converted_graph is not None:
        orig_names = {n.name for n in orig}
        converted_names = {n.name for n in converted_graph.node if n.name not in orig_names}

    orig_producer = {t: n for n in orig for t in n.outputs if t}
    opt_producer = {t: n for n in opt for t in n.outputs if t}
    orig_consumers: dict[str, list[_GNode]] = defaultdict(list)
    for n in orig:
        for t in n.inputs:
            if t:
                orig_consumers[t].append(n)
    opt_consumers: dict[str, list[_GNode]] = defaultdict(list)
    for n in opt:
        for t in n.inputs:
            if t:
                opt_consumers[t].append(n)

    uf = _UnionFind()
    for n in orig:
        uf.find(("o", n.index))
    for n in opt:
        uf.find(("p", n.index))
    for side, nodes, producer, consumers in (("o", orig, orig_producer, orig_consumers),
                                             ("p", opt, opt_producer, opt_consumers)):
        for t, p in producer.items():
            if t in anchors:
                continue
            for c in consumers.get(t, ()):
                uf.union((side, p.index), (side, c.index))
    for t in anchors:
        po, pp = orig_producer.get(t), opt_producer.get(t)
        if po is not None and pp is not None:
            uf.union(("o", po.index), ("p", pp.index))

    groups: dict[Any, tuple[list[_GNode], list[_GNode]]] = {}
    for n in orig:
        groups.setdefault(uf.find(("o", n.index)), ([], []))[0].append(n)
    for n in opt:
        groups.setdefault(uf.find(("p", n.index)), ([], []))[1].append(n)

    result: dict[int, dict[str, Any]] = {}
    vanished: list[dict[str, Any]] = []
    if constants:
        vanished.append({"onnx_nodes": [n.name for n in constants],
                         "reason": "Constant nodes: their values are weights (initializers) in ONNX Runtime's graph"})
    for o_nodes, p_nodes in groups.values():
        if not p_nodes:
            produced = {t for n in o_nodes for t in n.outputs if t}
            folded = produced & opt_initializers
            vanished.append({"onnx_nodes": [n.name for n in o_nodes],
                             "reason": "constant-folded by ONNX Runtime" if folded else
                             "removed by ONNX Runtime (no effect on the outputs)"})
            continue
        assignment = _assign(o_nodes, p_nodes, orig_producer, orig_consumers, anchors, converted_names)
        for p in p_nodes:
            covered = assignment.get(p.index, [])
            covered = sorted(set(covered), key=lambda n: n.index)
            if covered:
                origin = "onnx"
                inserted_by = None
            else:
                conversion = any(c in converted_names for c in _name_candidates(p.name))
                origin = "conversion" if conversion else "inserted"
                inserted_by = "precision conversion" if conversion else "onnxruntime"
            result[p.index] = {"name": p.name, "onnx_nodes": [n.name for n in covered], "origin": origin,
                              "inserted_by": inserted_by, "op_type": p.op_type, "domain": p.domain,
                              "inputs": p.inputs, "outputs": p.outputs}
        assigned = {n.index for covered in assignment.values() for n in covered}
        left = [n.name for n in o_nodes if n.index not in assigned]
        if left:
            vanished.append({"onnx_nodes": left, "reason": "absorbed by ONNX Runtime into nodes it could not be "
                                                           "matched to"})
    position = {n.name: n.index for n in all_orig}
    merged: dict[str, list[str]] = {}
    for group in vanished:  # one group per reason, in the model's order
        merged.setdefault(group["reason"], []).extend(group["onnx_nodes"])
    vanished = [{"onnx_nodes": sorted(nodes, key=lambda n: position.get(n, 0)), "reason": reason}
                for reason, nodes in merged.items()]
    return {"nodes": result, "vanished": vanished}


def _assign(o_nodes: list[_GNode], p_nodes: list[_GNode], orig_producer, orig_consumers, anchors,
            converted_names) -> dict[int, list[_GNode]]:
    """Inside one piece of computation: optimized node index -> the original nodes it covers."""
    if not o_nodes:
        return {}
    if len(p_nodes) == 1:
        p = p_nodes[0]
        if p.op_type in _GLUE_OPS and not any(o.op_type == p.op_type for o in o_nodes) and \
                any(c in converted_names for c in _name_candidates(p.name)):
            return {}
        return {p.index: list(o_nodes)}
    in_piece = {o.index: o for o in o_nodes}
    by_name = {o.name: o for o in o_nodes}
    by_output = {t: o for o in o_nodes for t in o.outputs if t}

    owner: dict[int, set[int]] = defaultdict(set)  # original index -> optimized indices

    for p in p_nodes:
        seeds: list[_GNode] = []
        for cand in _name_candidates(p.name):
            if cand in by_name and not (p.op_type in _GLUE_OPS and by_name[cand].op_type != p.op_type
                                        and p.name.startswith("InsertedPrecisionFreeCast_")):
                seeds.append(by_name[cand])
                break
            if cand.endswith("_nchwc") and cand[: -len("_nchwc")] in by_output:
                seeds.append(by_output[cand[: -len("_nchwc")]])
                break
        if not seeds:  # a node of an inlined function body: ONNX Runtime names it (or its outputs) _inlfunc_<Op>
            for text in [p.name, *p.outputs]:
                m = next(filter(None, (_INLINED.match(c) for c in _name_candidates(text or ""))), None)
                match = [o for o in o_nodes if o.op_type == m.group(1)] if m else []
                if match:
                    seeds.append(match[0])
                    break
        if not seeds and p.op_type not in _GLUE_OPS:  # a compute node writing (a renamed copy of) a tensor
            for t in p.outputs:
                o = next((by_output[c] for c in _name_candidates(t) if c in by_output), None)
                if o is not None:
                    seeds.append(o)
                    break
        if not seeds:
            for t in p.outputs:  # same op writing the same anchor (a kept Reshape after a fusion, say)
                o = by_output.get(t)
                if o is not None and t in anchors and o.op_type == p.op_type:
                    seeds.append(o)
        for o in seeds:
            owner[o.index].add(p.index)

    if not owner:
        # no names to go by: every non-glue optimized node shares the piece
        workers = [p for p in p_nodes if p.op_type not in _GLUE_OPS] or p_nodes
        return {p.index: list(o_nodes) for p in workers}

    order = sorted(o_nodes, key=lambda n: n.index)
    # optimized node -> the optimized nodes feeding it: a fused node must read what its parts read
    p_out = {t: p.index for p in p_nodes for t in p.outputs if t}
    p_preds = {p.index: {p_out[t] for t in p.inputs if t in p_out} for p in p_nodes}

    def consistent(o: _GNode, ps: set[int]) -> bool:
        """Whether giving ``o`` to the optimized nodes ``ps`` agrees with the optimized graph's edges: every
        other original node feeding ``o`` is either fused into the same node or feeds it there too."""
        for t in o.inputs:
            q = orig_producer.get(t)
            if q is None or q.index not in in_piece:
                continue  # a graph input, a weight, or from another piece
            q_owner = owner.get(q.index)
            if q_owner is None:
                continue  # not placed yet: nothing to contradict
            for p in ps:
                if not (q_owner & ({p} | p_preds[p])):
                    return False
        return True

    def preds(o: _GNode, exclusive: bool) -> list[_GNode]:
        out = []
        for t in o.inputs:
            p = orig_producer.get(t)
            if p is None or p.index not in in_piece:
                continue
            if exclusive and len(orig_consumers.get(t, ())) != 1:
                continue
            out.append(p)
        return out

    def succs(o: _GNode, exclusive: bool) -> list[_GNode]:
        out = []
        for t in o.outputs:
            users = orig_consumers.get(t, ())
            if exclusive and len(users) != 1:
                continue
            out.extend(c for c in users if c.index in in_piece)
        return out

    # strictest first: through a tensor only the two nodes use, agreeing with the optimized graph's edges
    for exclusive, checked in ((True, True), (False, True), (True, False), (False, False)):
        changed = True
        while changed:
            changed = False
            for o in order:  # fused into the node that feeds it (Conv <- Relu, MatMul <- Add)
                if o.index in owner or (checked and o.op_type == "DequantizeLinear"):
                    continue  # (a DequantizeLinear goes with the node it feeds: DQ -> Conv -> Q = QLinearConv)
                for p in sorted(preds(o, exclusive), key=lambda n: -n.index):
                    if p.index in owner and (not checked or consistent(o, owner[p.index])):
                        owner[o.index] = set(owner[p.index])
                        changed = True
                        break
            for o in reversed(order):  # fused into the node it feeds (DequantizeLinear -> Conv)
                if o.index in owner:
                    continue
                for c in sorted(succs(o, exclusive), key=lambda n: n.index):
                    if c.index in owner and (not checked or consistent(o, owner[c.index])):
                        owner[o.index] = set(owner[c.index])
                        changed = True
                        break
    assignment: dict[int, list[_GNode]] = defaultdict(list)
    for o_index, ps in owner.items():
        for p_index in ps:
            assignment[p_index].append(in_piece[o_index])
    return assignment


# --------------------------------------------------------------------------------------------------------
# Putting the report data together
# --------------------------------------------------------------------------------------------------------

def _type_shapes(entries: list) -> list[tuple[str | None, list | None]]:
    """The profiler's ``[{"float": [1, 3, 224, 224]}, ...]`` -> [(dtype, shape), ...]."""
    out = []
    for entry in entries or []:
        if isinstance(entry, dict) and entry:
            dtype, shape = next(iter(entry.items()))
            out.append((str(dtype), list(shape) if isinstance(shape, list) else None))
        else:
            out.append((None, None))
    return out


def _unique_names(items: list[tuple[str, str]]) -> list[str]:
    """Layer names: the node's own when unique, else ``<name or op type>_<position>`` (ONNX Runtime leaves
    some of the nodes it makes unnamed)."""
    counts: dict[str, int] = defaultdict(int)
    for name, _ in items:
        counts[name] += 1
    taken = {name for name, _ in items if name and counts[name] == 1}
    out = []
    for position, (name, op_type) in enumerate(items):
        if name and counts[name] == 1:
            out.append(name)
            continue
        candidate = f"{name or op_type}_{position}"
        while candidate in taken:
            candidate += "_"
        taken.add(candidate)
        out.append(candidate)
    return out


def _qualified(op_type: str | None, domain: str | None) -> str | None:
    """``FusedConv`` (com.microsoft ops read well alone), ``com.microsoft.nchwc::Conv`` (other domains)."""
    if op_type is None or not domain or domain in ("ai.onnx", "com.microsoft"):
        return op_type
    return f"{domain}::{op_type}"


def _initializer_sizes(graph_proto) -> dict[str, int]:
    """Initializer name -> bytes (shape x dtype; the data itself is not read)."""
    import numpy as np
    from onnx import helper

    sizes: dict[str, int] = {}
    for t in graph_proto.initializer:
        count = 1
        for d in t.dims:
            count *= d
        if t.data_type in (22, 23):  # UINT4 / INT4
            sizes[t.name] = (count + 1) // 2
            continue
        try:
            itemsize = np.dtype(helper.tensor_dtype_to_np_dtype(t.data_type)).itemsize
        except Exception:
            itemsize = 4
        sizes[t.name] = count * itemsize
    return sizes


def _initializer_bytes(graph_proto) -> int:
    return sum(_initializer_sizes(graph_proto).values())


def _assemble(model, original, converted, optimized, profile: dict[str, Any], e2e_ms: list[float],
              notes: list[str], precision: str = "fp32", calibration: Mapping[str, Any] | None = None
              ) -> dict[str, Any]:
    overhead_us = float(calibration["overhead_us"]) if calibration else None
    nodes: dict[str, NodeProfile] = profile["nodes"]
    graph_nodes = list(optimized.graph.node) if optimized is not None else []
    if optimized is not None:
        mapping = map_optimized_graph(original.graph, optimized.graph,
                                      converted.graph if converted is not None else None)
    else:
        mapping = {"nodes": {}, "vanished": []}
    initializers = {t.name for t in optimized.graph.initializer} if optimized is not None else set()

    # One layer per node of the optimized graph, in its order; with no optimized graph (compiled nodes),
    # one per profiled node. With the graph, profiler events of nodes it does not list are If/Loop/Scan
    # body nodes, whose time is already inside their parent node's.
    entries: list[tuple[Any, NodeProfile | None, dict[str, Any]]] = []  # (node proto, profile, mapping)
    if optimized is not None:
        named = {n.name for n in graph_nodes if n.name}
        # the profiler calls an unnamed node "<OpType>_<its index in ONNX Runtime's graph>": those go, in
        # execution order, to the unnamed nodes of that op type
        unnamed_events: dict[str, deque] = defaultdict(deque)
        for prof in sorted(nodes.values(), key=lambda n: n.first_seen):
            op = prof.op_type or ""
            if prof.name not in named and re.fullmatch(re.escape(op) + r"_\d+", prof.name):
                unnamed_events[op].append(prof)
        for index, node_proto in enumerate(graph_nodes):
            prof = nodes.get(node_proto.name) if node_proto.name else None
            if prof is None and not node_proto.name and unnamed_events[node_proto.op_type]:
                prof = unnamed_events[node_proto.op_type].popleft()
            entries.append((node_proto, prof, mapping["nodes"].get(index, {})))
    else:
        entries = [(None, prof, {}) for prof in sorted(nodes.values(), key=lambda n: n.first_seen)]
    top_level_ids = {n.id for n in model.graph.nodes}
    display_names = _unique_names([(proto.name if proto is not None else prof.name,
                                    (proto.op_type if proto is not None else prof.op_type) or "node")
                                   for proto, prof, _ in entries])

    layers = []
    protos = []
    for (node_proto, prof, mapped), name in zip(entries, display_names):
        protos.append(node_proto)
        op_type = (node_proto.op_type if node_proto is not None else None) or (prof.op_type if prof else None)
        domain = node_proto.domain if node_proto is not None else None
        outputs_types = _type_shapes(prof.output_types) if prof else []
        out_names = [o for o in (node_proto.output if node_proto is not None else []) if o]
        in_names = [i for i in (node_proto.input if node_proto is not None else []) if i]
        in_types = _type_shapes(prof.input_types) if prof else []
        outputs = []
        for k, tname in enumerate(out_names or [f"{name}:out{k}" for k in range(len(outputs_types))]):
            dtype, shape = outputs_types[k] if k < len(outputs_types) else (None, None)
            outputs.append({"name": tname, "dtype": dtype, "shape": shape})
        inputs = []
        for k, tname in enumerate(in_names):
            if tname in initializers:
                continue  # weights are in weights_bytes, as TensorRT's layer info does it
            dtype, shape = in_types[k] if k < len(in_types) else (None, None)
            inputs.append({"name": tname, "dtype": dtype, "shape": shape})
        onnx_nodes = [n for n in mapped.get("onnx_nodes", []) if n in top_level_ids]
        layers.append({
            "name": name,
            "type": _qualified(op_type, domain),
            "domain": domain or "",
            "provider": prof.provider if prof else None,
            "onnx_nodes": onnx_nodes,
            "origin": mapped.get("origin", "onnx" if onnx_nodes else ("inserted" if node_proto is not None
                                                                      else None)),
            "inserted_by": mapped.get("inserted_by"),
            "inputs": inputs,
            "outputs": outputs,
            "weights_bytes": None,
            "parameter_bytes": prof.parameter_size if prof else None,
            "activation_bytes": prof.activation_size if prof else None,
            "output_bytes": prof.output_size if prof else None,
            "latency": (corrected_stats(prof.durations_us, node_overhead_us(calibration, prof.parallel_sections),
                                        events=prof.events_per_run, nested=prof.nested_per_run,
                                        nested_overhead_us=float(calibration["overhead_us"])
                                        + float(calibration.get("outside_us") or 0.0))
                        if calibration is not None else stats_ms(prof.durations_us)) if prof else None,
        })

    # weights per layer: bytes of the initializers it reads in the optimized graph, each counted once
    # (at its first reader), so the layers add up to the graph's weights
    if optimized is not None:
        sizes = _initializer_sizes(optimized.graph)
        counted: set[str] = set()
        for layer, node_proto in zip(layers, protos):
            if node_proto is None:
                continue
            total = 0
            for name in node_proto.input:
                if name in sizes and name not in counted:
                    counted.add(name)
                    total += sizes[name]
            layer["weights_bytes"] = total

    fusions = []
    original_ops = {n.id: n.op_type if n.is_default_domain else f"{n.domain}::{n.op_type}" for n in model.graph.nodes}
    layers_of: dict[str, int] = defaultdict(int)
    for layer in layers:
        for node_id in layer["onnx_nodes"]:
            layers_of[node_id] += 1
    for layer in layers:
        covered = layer["onnx_nodes"]
        ops = [original_ops.get(n, "?") for n in covered]
        if len(covered) > 1:
            kind = "fusion"
        elif len(covered) == 1 and layers_of[covered[0]] > 1:
            kind = "expansion"  # one node became several (an inlined function, a decomposed op)
        elif len(covered) == 1 and ops[0] != layer["type"]:
            kind = "substitution"  # the same work by another kernel (Conv -> com.microsoft.nchwc::Conv)
        else:
            continue
        fusions.append({"layer": layer["name"], "type": layer["type"], "domain": layer["domain"], "kind": kind,
                        "onnx_nodes": covered, "onnx_ops": ops,
                        "pattern": f"{' + '.join(ops)} -> {layer['type']}"})


    measured = [n for n in layers if n["latency"]]
    sum_medians = sum(n["latency"]["median_ms"] for n in measured) if measured else None
    raw_sum = (sum(n["latency"].get("raw_median_ms", n["latency"]["median_ms"]) for n in measured)
               if measured else None)
    e2e = stats_ms([v * 1000.0 for v in e2e_ms]) if e2e_ms else None
    profiled_runs = stats_ms([v * 1000.0 for v in profile["profiled_run_ms"]]) if profile["profiled_run_ms"] else None
    unprofiled = [n for n in layers if not n["latency"]]
    if measured and unprofiled:
        notes.append(f"{len(unprofiled)} node(s) of the optimized graph have no profiler events "
                     "(not executed, or executed inside a compiled subgraph)")

    memory = {
        "weights_bytes": _initializer_bytes(optimized.graph) if optimized is not None else None,
        "weights_source": "initializers of ONNX Runtime's optimized graph (shape x dtype)",
        "model_weights_bytes": _initializer_bytes((converted or original).graph),
        "arena_peak_bytes": profile.get("arena_peak_bytes"),
        "arena_held_bytes": profile.get("arena_held_bytes"),
    }
    if calibration is not None and measured:
        at_floor = [n for n in measured if n["latency"].get("at_floor")]
        notes.append(f"ONNX Runtime profiler overhead subtracted from every node's recorded time (raw figures kept "
                     f"as raw_*): {calibration_summary(calibration)}: {calibration['method']}")
        if 2 * len(at_floor) > len(measured):
            notes.append(f"{len(at_floor)} of {len(measured)} nodes took no longer than the profiler's overhead "
                         f"({overhead_us:.2f} us): their corrected times sit at the floor "
                         f"({CORRECTED_FLOOR_US} us or less) - the profiler cannot resolve them; the per-layer "
                         "times of this model are not trustworthy, only the end-to-end median is")
    if sum_medians and e2e and sum_medians > 1.2 * e2e["median_ms"]:
        extra_us = 1000.0 * (sum_medians - e2e["median_ms"]) / max(len(measured), 1)
        notes.append(f"the per-layer times add up to {sum_medians / e2e['median_ms']:.1f}x the end-to-end median "
                     f"({sum_medians:.3f} vs {e2e['median_ms']:.3f} ms): "
                     + ("after the calibrated correction, " if calibration is not None else "ONNX Runtime's profiler "
                        f"costs about {extra_us:.1f} us per node, which matters when nodes take microseconds; ")
                     + "compare layers with each other; the end-to-end median is the model's latency")
    if precision == "int8" or (converted is None and has_qdq(original)):
        heavy = [l for l in layers if l["origin"] == "onnx" and
                 any(k in (l["type"] or "") for k in ("Conv", "MatMul", "Gemm", "Attention"))]
        low = [l for l in heavy if "QLinear" in (l["type"] or "") or "Integer" in (l["type"] or "")]
        if heavy and len(low) < len(heavy):
            notes.append(f"{len(low)} of {len(heavy)} Conv/MatMul/Gemm layers run in int8 (QLinear*/*Integer kernels); "
                         "the others compute in fp32 between DequantizeLinear and QuantizeLinear nodes: the execution "
                         "provider did not fuse their Q/DQ")
    if precision in ("fp16", "bf16"):
        mapped_layers = [l for l in layers if l["origin"] == "onnx" and l["outputs"]]
        in_fp32 = [l for l in mapped_layers if all((o["dtype"] or "") in ("float", "float32") for o in l["outputs"])]
        if in_fp32:
            notes.append(f"{len(in_fp32)} of {len(mapped_layers)} layers still compute in fp32: the execution "
                         f"provider has no {precision} kernel for them, so ONNX Runtime inserted casts around them "
                         "(the precision column shows what each layer really wrote)")
    return {
        "layers": layers,
        "fusions": fusions,
        "vanished": mapping["vanished"],
        "latency": {"end_to_end": e2e, "profiled_runs": profiled_runs, "sum_of_node_medians_ms": sum_medians,
                    "raw_sum_of_node_medians_ms": raw_sum, "profiler_calibration": dict(calibration or {}) or None,
                    "runs": profile["runs"], "end_to_end_ms": [round(v, 6) for v in e2e_ms]},
        "memory": memory,
        "notes": notes,
    }


__all__ = ["CALIBRATION_BATCHES", "CALIBRATION_NODES", "Cancelled", "calibrate_profiler_overhead", "corrected_stats", "NodeProfile", "ORT_LEVELS", "PRECISIONS", "available", "build",
           "choose_providers", "convert_precision", "create_session", "graph_input_specs", "graph_optimization_level",
           "has_qdq", "make_session_options", "map_optimized_graph", "name_nodes_by_id", "parse_profile",
           "quantize_int8", "random_inputs", "resolve_input_shapes", "calibration_summary", "recent_calibration", "run", "shared_thread_pool", "stats_ms", "whole_us_median", "whole_us_quantiles",
           "tensorrt_provider_options", "version"]
