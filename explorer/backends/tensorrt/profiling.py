"""Per-layer times of a built engine (``IProfiler`` over Polygraphy's ``TrtRunner``), in trtexec's format.

Polygraphy's ``TrtRunner`` drives ``tensorrt`` only; for TensorRT-RTX (on an RTX-class GPU) the same runs
go through :class:`_NativeRunner`: the execution context itself, with Polygraphy's CUDA wrapper
(``polygraphy.cuda``: ctypes over ``libcudart``) for buffers and the stream.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from ...engine.stats import median, quantiles
from ...trt import interfaces
from ...errors import BuildError
from .. import MAX_TIMED_RUNS
from ..inputs import random_feeds
from ..settings import BuildSettings
from .result import EndToEndLatency


def profile_engine(trt, engine: trt.ICudaEngine, settings: BuildSettings, cancel_event,
                   polygraphy: bool = True) -> tuple[list[dict[str, Any]] | None, EndToEndLatency | None, str | None]:
    """Per-layer times over ``settings.runs`` inferences (after ``settings.warmup``), trtexec's format:
    ``[{"count": N}, {"name", "timeMs", "averageMs", "medianMs", "percentage"}, ...]``, and the
    end-to-end latency of those inferences. Problems become a note: the engine was built, only its profile
    is missing."""
    try:
        feed = _feed_dict(trt, engine, settings.seed)
    except _NoProfile as exc:
        return None, None, f"per-layer profiling skipped: {exc}"
    try:
        if polygraphy:
            from polygraphy.backend.trt import TrtRunner
        else:
            from polygraphy import cuda  # noqa: F401  (the native runner's buffers and stream)
    except Exception as exc:
        return None, None, f"per-layer profiling skipped: Polygraphy's TrtRunner is unavailable ({exc})"

    profiler = interfaces(trt).LayerProfiler()
    latencies: list[float] = []
    context = engine.create_execution_context()
    if context is None:
        return None, None, "per-layer profiling skipped: no execution context (out of device memory?)"
    cancelled = False
    try:
        with (TrtRunner(context) if polygraphy else _NativeRunner(trt, engine, context)) as runner:
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
    times = profiler.times
    if not times:
        return None, None, "per-layer profiling produced no layer times"
    count = max(len(v) for v in times.values())
    total = sum(sum(v) for v in times.values()) or 1.0
    profile: list[dict[str, Any]] = [{"count": count}]
    for layer, values in times.items():
        profile.append({"name": layer, "timeMs": sum(values), "averageMs": sum(values) / len(values),
                        "medianMs": median(values), "percentage": 100.0 * sum(values) / total})
    latency = None
    if latencies:
        p50, p90, p95, p99 = quantiles(latencies, [0.5, 0.9, 0.95, 0.99])
        latency = EndToEndLatency(
            runs=len(latencies), warmup=settings.warmup, mean=statistics.fmean(latencies), median=p50,
            min=min(latencies), max=max(latencies), p90=p90, p95=p95, p99=p99,
            includes="host-to-device and device-to-host copies (Polygraphy TrtRunner), with the profiler on")
    note = f"profiling cancelled after {len(latencies)} of {settings.runs} runs" if cancelled else None
    return profile, latency, note


class _NoProfile(Exception):
    pass


class _NativeRunner:
    """``TrtRunner.infer`` for a library Polygraphy does not drive: inputs copied in, ``execute_async_v3``,
    outputs copied back, on one stream (so a run's time includes the copies, like TrtRunner's)."""

    def __init__(self, trt, engine: trt.ICudaEngine, context: trt.IExecutionContext):
        self._trt = trt
        self._engine = engine
        self._context = context
        self._buffers: dict[str, Any] = {}
        self._stream = None

    def __enter__(self) -> "_NativeRunner":
        from polygraphy import cuda

        self._stream = cuda.Stream()
        return self

    def __exit__(self, *exc) -> None:
        for buffer in self._buffers.values():
            buffer.free()
        self._buffers.clear()
        if self._stream is not None:
            self._stream.free()

    def infer(self, feed: dict[str, Any]) -> dict[str, Any]:
        return run_native(self._trt, self._engine, self._context, feed, self._buffers, self._stream)


def run_native(trt, engine: trt.ICudaEngine, context: trt.IExecutionContext, feed: dict[str, Any],
               buffers: dict[str, Any], stream: Any) -> dict[str, Any]:
    """One inference on ``context``: inputs copied in, ``execute_async_v3`` on ``stream``, outputs copied
    back (``buffers``: device arrays by tensor name, reused and resized between runs)."""
    import numpy as np
    from polygraphy import cuda

    for name, array in feed.items():
        context.set_input_shape(name, tuple(array.shape))
    outputs = {}
    for index in range(engine.num_io_tensors):
        name = engine.get_tensor_name(index)
        is_input = engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT
        shape = tuple(feed[name].shape) if is_input else tuple(context.get_tensor_shape(name))
        dtype = np.dtype(trt.nptype(engine.get_tensor_dtype(name)))
        buffer = buffers.get(name)
        if buffer is None:
            buffer = buffers[name] = cuda.DeviceArray(shape=shape, dtype=dtype)
        buffer.resize(shape)
        if is_input:
            buffer.copy_from(np.ascontiguousarray(feed[name]), stream=stream)
        else:
            outputs[name] = np.empty(shape, dtype=dtype)
        context.set_tensor_address(name, buffer.ptr)
    if not context.execute_async_v3(stream.ptr):
        raise RuntimeError("execute_async_v3 failed")
    for name, host in outputs.items():
        buffers[name].copy_to(host, stream=stream)
    stream.synchronize()
    return outputs


def _feed_dict(trt, engine, seed: int = 0) -> dict[str, Any]:
    """Random inputs at the engine's static shapes (the profile's opt shapes for dynamic ones), drawn by
    :func:`explorer.backends.inputs.random_feeds` (the one recipe ONNX Runtime's runs use too)."""
    import numpy as np

    specs = []
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
        specs.append((name, dtype, shape))
    try:
        return random_feeds(specs, seed=seed)
    except BuildError as exc:
        raise _NoProfile(str(exc)) from exc


__all__ = ["profile_engine", "run_native"]
