"""Every intermediate tensor of a TensorRT engine, through debug tensors: the GPU side of
:func:`explorer.backends.accuracy.compare_precision` (``backend="tensorrt"`` / ``"tensorrt-rtx"``).

Marking every tensor as a network output would stop TensorRT fusing across them; debug tensors
(``INetworkDefinition.mark_debug``, read back through an ``IDebugListener`` set on the execution context,
``IExecutionContext.set_tensor_debug_state``) are copied out of the engine as it runs. Where the library
has ``mark_unfused_tensors_as_debug_tensors`` (TensorRT 11.4 and TensorRT-RTX 1.7 do; 10.0 does not) the
tensors that survive fusion are marked, so the engine keeps its fusions
(``IExecutionContext.unfused_tensors_debug_state``); else every layer output is marked with ``mark_debug``.

The fp32 engine and the low-precision one (TensorRT 10.x: the builder's precision flags on the fp32 model;
TensorRT 11.x and TensorRT-RTX, strongly typed: the converted model) run on the same inputs; each debug
tensor present in both is compared with :func:`explorer.backends.accuracy.tensor_error`.

This cannot run here (no GPU): it is written against the real API and checked by the API conformance test
(``tests/test_tensorrt_api_conformance.py``), not by a run.
"""

from __future__ import annotations

import ctypes
import json
from typing import Any

import numpy as np

from ...errors import BuildError
from ...isolation import isolated_task
from ...trt.library import LIBRARIES, create_builder, import_library, version_of
from ...trt import interfaces
from ..accuracy.metrics import tensor_error
from .profiling import run_native

_LISTENERS: dict[int, type] = {}


def debug_listener_class(trt) -> type:
    """An ``IDebugListener`` that copies every debug tensor to the host (made once per library module)."""
    cached = _LISTENERS.get(id(trt))
    if cached is not None:
        return cached

    class DebugCollector(trt.IDebugListener):
        """Keeps a host copy of each debug tensor TensorRT reports (by tensor name)."""

        def __init__(self):
            trt.IDebugListener.__init__(self)
            self.tensors: dict[str, np.ndarray] = {}
            self.errors: list[str] = []

        def process_debug_tensor(self, addr, location, type, shape, name, stream):
            try:
                self.tensors[str(name)] = _copy_out(trt, addr, location, type, shape, stream)
            except Exception as exc:  # a listener must not raise into TensorRT
                self.errors.append(f"{name}: {exc.__class__.__name__}: {exc}")
            return True

    _LISTENERS[id(trt)] = DebugCollector
    return DebugCollector


def _copy_out(trt, addr, location, dtype, shape, stream) -> np.ndarray:
    """The tensor at ``addr`` (a PyCapsule holding the buffer's pointer) as a host numpy array."""
    from polygraphy import cuda

    get_name = ctypes.pythonapi.PyCapsule_GetName
    get_name.restype, get_name.argtypes = ctypes.c_char_p, [ctypes.py_object]
    get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
    get_pointer.restype, get_pointer.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
    pointer = get_pointer(addr, get_name(addr))
    host = np.empty(tuple(int(d) for d in shape), dtype=np.dtype(trt.nptype(dtype)))
    if host.nbytes == 0:
        return host
    if location == trt.TensorLocation.DEVICE:
        wrapper = cuda.wrapper()
        wrapper.memcpy(host.ctypes.data, pointer, host.nbytes, cuda.MemcpyKind.DeviceToHost, stream)
        wrapper.stream_synchronize(stream)
    else:
        ctypes.memmove(host.ctypes.data, pointer, host.nbytes)
    return host


def build_debug_engine(trt, model_path: str, precision: str, logger,
                       messages: list[str]) -> tuple[Any, list[str], bool]:
    """An engine of ``model_path`` with its intermediate tensors marked as debug tensors: (engine, the names
    marked one by one, whether the library marked the unfused tensors itself)."""
    major, minor = version_of(trt)
    builder = create_builder(trt, logger, messages, error=BuildError)
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(model_path):
        errors = "; ".join(str(parser.get_error(i).desc()) for i in range(parser.num_errors))
        raise BuildError(f"the ONNX parser rejected the model: {errors}", file=model_path)
    outputs = {network.get_output(i).name for i in range(network.num_outputs)}
    names: list[str] = []
    unfused = False
    if hasattr(network, "mark_unfused_tensors_as_debug_tensors"):  # the tensors that survive fusion: fusions kept
        unfused = bool(network.mark_unfused_tensors_as_debug_tensors())
    if not unfused:  # every layer output (marking a tensor keeps it, so fusions across it are lost)
        for i in range(network.num_layers):
            layer = network.get_layer(i)
            for j in range(layer.num_outputs):
                tensor = layer.get_output(j)
                if tensor is None or tensor.name in outputs or tensor.is_shape_tensor:
                    continue
                if network.is_debug_tensor(tensor) or network.mark_debug(tensor):
                    names.append(tensor.name)
    config = builder.create_builder_config()
    if hasattr(trt.BuilderFlag, "FP16") and major < 11:  # weakly typed TensorRT 10.x: precision flags
        flag = {"fp16": "FP16", "bf16": "BF16", "int8": "INT8"}.get(precision)  # int8: with the model's Q/DQ
        if flag == "FP16":
            config.set_flag(trt.BuilderFlag.FP16)
        elif flag == "BF16":
            config.set_flag(trt.BuilderFlag.BF16)
        elif flag == "INT8":
            config.set_flag(trt.BuilderFlag.INT8)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise BuildError(f"TensorRT could not build the {precision} debug engine: {'; '.join(messages[-3:])}",
                         file=model_path)
    runtime = trt.Runtime(logger)
    engine = runtime.deserialize_cuda_engine(serialized)
    if engine is None:
        raise BuildError("TensorRT could not load the debug engine it built", file=model_path)
    return engine, names, unfused


def capture_debug_tensors(trt, engine: trt.ICudaEngine, feed: dict[str, np.ndarray], names: list[str],
                          unfused: bool = False) -> dict[str, np.ndarray]:
    """One inference of ``engine`` on ``feed`` with every debug tensor's state on: the tensors, by name."""
    from polygraphy import cuda

    context = engine.create_execution_context()
    if context is None:
        raise BuildError("TensorRT could not create an execution context (out of device memory?)")
    collector = debug_listener_class(trt)()
    context.set_debug_listener(collector)
    for name in names:
        context.set_tensor_debug_state(name, True)
    if unfused and hasattr(context, "unfused_tensors_debug_state"):
        context.unfused_tensors_debug_state = True
    buffers: dict[str, Any] = {}
    stream = cuda.Stream()
    try:
        run_native(trt, engine, context, feed, buffers, stream)
    finally:
        for buffer in buffers.values():
            buffer.free()
        stream.free()
    if collector.errors:
        raise BuildError(f"reading debug tensors failed: {collector.errors[0]}")
    return collector.tensors


@isolated_task("tensorrt_debug_compare", memory_limit=0, timeout=3600)
def debug_compare_task(_: bytes, model_path: str, converted_path: str, inputs_path: str, options_json: str) -> bytes:
    """The fp32 and the low-precision engine's debug tensors compared: JSON ``{"tensors": [...], "source"}``."""
    options = json.loads(options_json)
    library = LIBRARIES[options["library"]]
    precision = options["precision"]
    trt = import_library(library)
    major, minor = version_of(trt)
    strongly_typed = major >= 11 or not hasattr(trt.BuilderFlag, "FP16")  # TensorRT 11, TensorRT-RTX
    messages: list[str] = []
    logger = interfaces(trt).Logger(None, trt.ILogger.WARNING, messages)
    with np.load(inputs_path, allow_pickle=False) as data:
        feed = {k: data[k] for k in data.files}
    reference_engine, reference_names, reference_unfused = build_debug_engine(trt, model_path, "fp32", logger,
                                                                              messages)
    low_engine, low_names, low_unfused = build_debug_engine(trt, converted_path if strongly_typed else model_path,
                                                            precision, logger, messages)
    reference = capture_debug_tensors(trt, reference_engine, feed, reference_names, reference_unfused)
    low = capture_debug_tensors(trt, low_engine, feed, low_names, low_unfused)
    tensors = []
    for name, a in reference.items():
        b = low.get(name)
        if b is None or a.dtype.kind != "f" or a.shape != b.shape or a.size == 0:
            continue
        max_abs, rel, cosine, nonfinite = tensor_error(a, b)
        tensors.append({"tensor": name, "shape": list(a.shape), "dtype": str(b.dtype).upper(), "max_abs": max_abs,
                        "rel": rel, "cosine": cosine, "nonfinite": nonfinite})
    how = "strongly typed, converted model" if strongly_typed else "builder precision flags"
    return json.dumps({"tensors": tensors, "source": f"{library.title} {trt.__version__} debug tensors, {precision} "
                                                      f"({how}) vs fp32"}).encode()


__all__ = ["build_debug_engine", "capture_debug_tensors", "debug_compare_task", "debug_listener_class"]
