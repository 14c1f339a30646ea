"""The TensorRT builder: real engine builds in a worker process, and the report made from one.

TensorRT itself (is it importable, which version, its callback interfaces, its ONNX parser's verdicts) lives
in :mod:`explorer.trt`; this package stands on it. By role:

- :mod:`.builder` - :func:`build_engine` (takes :class:`explorer.backends.settings.BuildSettings`; a cancel
  raises :class:`BuildCancelled`): parse, configure (Polygraphy ``CreateConfig``), build (Polygraphy
  ``EngineBytesFromNetwork``, which also saves the timing cache), inspect; one build per GPU at a time
  (:func:`gpu_lock_path`); trtexec-style artifacts next to the engine;
- :mod:`.profiling` - per-layer times (``IProfiler`` over Polygraphy's ``TrtRunner``);
- :mod:`.result` - :class:`TensorRTBuildResult` (what the worker sends back, JSON-safe) and
  :func:`report_from_tensorrt` (the :class:`~explorer.engine.report.BuildReport` made from it).
"""

from ...trt import available
from .builder import BuildCancelled, build_engine, gpu_lock_path
from .result import (EndToEndLatency, EngineMemory, TensorRTBuildResult, TimingCacheEntry, TimingCacheInfo,
                     report_from_tensorrt)

__all__ = ["BuildCancelled", "EndToEndLatency", "EngineMemory", "TensorRTBuildResult",
           "TimingCacheEntry", "TimingCacheInfo", "available", "build_engine", "gpu_lock_path",
           "report_from_tensorrt"]
