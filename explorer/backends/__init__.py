"""Engine builders behind one interface: TensorRT when it can run here, ONNX Runtime everywhere.

* :func:`build` / :func:`start_build` (:mod:`explorer.backends.jobs`) - build and profile a model in a
  worker process; an :class:`~explorer.engine.report.EngineReport` (a :class:`BuildReport`) comes back;
* :mod:`explorer.backends.onnxruntime` - ONNX Runtime: its optimized graph (real fusions), its profiler
  (real per-node timings), provider placement; the only module that imports ``onnxruntime``;
* :mod:`explorer.backends.tensorrt` - the TensorRT builder, standing on :mod:`explorer.trt` (TensorRT itself);
* :mod:`explorer.backends.precision` - fp16 / bf16 conversion of ONNX models.

Nothing heavy is imported here: the names below load their module on first use.
"""

from __future__ import annotations

#: the most timed runs a build makes (runs, or a ``duration`` on a microsecond model), and the longest
#: ``duration`` of timed runs it accepts (seconds): one bound for every backend and for the settings
MAX_TIMED_RUNS = 10_000_000
MAX_DURATION_S = 3600.0

_LAZY = {
    "build": "jobs", "start_build": "jobs", "BuildJob": "jobs", "BuildReport": "jobs",
    "BuildCancelled": "jobs", "BuildSettings": "settings", "normalize_shapes": "settings", "parse_shape": "settings",
    "trtexec_command": "commands", "polygraphy_command": "commands", "command_lines": "commands",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'explorer.backends' has no attribute {name!r}")
    import importlib

    module = importlib.import_module(f"{__name__}.{module_name}")
    return getattr(module, name)
