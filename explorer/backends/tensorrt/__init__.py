"""The TensorRT builder: real engine builds in a worker process, and the report made from one.

TensorRT itself (is it importable, which version, its callback interfaces, its ONNX parser's verdicts) lives
in :mod:`explorer.trt`; this package stands on it. By role:

- :mod:`.settings` - :class:`TensorRTBuildSettings` (what to build; JSON for the worker), :class:`BuildCancelled`;
- :mod:`.builder` - :func:`build_engine`: parse, configure (Polygraphy ``CreateConfig``), build (Polygraphy
  ``EngineBytesFromNetwork``, which also saves the timing cache), inspect; one build per GPU at a time
  (:func:`gpu_lock_path`); trtexec-style artifacts next to the engine;
- :mod:`.profiling` - per-layer times (``IProfiler`` over Polygraphy's ``TrtRunner``);
- :mod:`.result` - :class:`TensorRTBuildResult` (what the worker sends back, JSON-safe) and
  :func:`report_from_tensorrt` (the :class:`~explorer.engine.report.BuildReport` made from it).
"""

from ...trt import available
from .builder import build_engine, gpu_lock_path
from .result import (EndToEndLatency, EngineMemory, TensorRTBuildResult, TimingCacheEntry, TimingCacheInfo,
                     report_from_tensorrt)
from .settings import BuildCancelled, TensorRTBuildSettings

__all__ = ["BuildCancelled", "EndToEndLatency", "EngineMemory", "TensorRTBuildResult", "TensorRTBuildSettings",
           "TimingCacheEntry", "TimingCacheInfo", "available", "build_engine", "gpu_lock_path",
           "report_from_tensorrt"]
