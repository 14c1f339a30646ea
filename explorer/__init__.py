"""TensorRT Engine Explorer: what TensorRT will take, what it fused, what it chose, where time and memory go.

The library API in one place::

    import explorer
    model = explorer.load_model("model.onnx")
    report = explorer.analyze(model, trt_version="10.15", min_block_size=5)
    print(report.summary())
"""

from __future__ import annotations

from .errors import ArtifactError, BuildError, ExplorerError, ExplorerWarning, ModelError

__version__ = "0.1.0"

__all__ = ["ArtifactError", "BuildError", "EngineReport", "Explorer", "ExplorerError", "ExplorerWarning", "Model",
           "ModelError", "SupportReport", "analyze", "build", "load_model", "load_report", "predict_fusions",
           "start_analysis", "start_build", "__version__", "compare_precision", "start_precision_comparison"]

# Heavier layers are imported on first use so `import explorer` stays cheap (no pandas, plotly, onnxruntime).
_LAZY = {
    "Model": ("explorer.model", "Model"),
    "load_model": ("explorer.model", "load_model"),
    "analyze": ("explorer.support", "analyze"),
    "SupportReport": ("explorer.support", "SupportReport"),
    "start_analysis": ("explorer.support", "start_analysis"),
    "load_report": ("explorer.engine", "load_report"),
    "EngineReport": ("explorer.engine", "EngineReport"),
    "predict_fusions": ("explorer.fusions", "predict_fusions"),
    "build": ("explorer.backends.jobs", "build"),
    "start_build": ("explorer.backends.jobs", "start_build"),
    "Explorer": ("explorer.widgets", "Explorer"),
    "compare_precision": ("explorer.backends.accuracy", "compare_precision"),
    "start_precision_comparison": ("explorer.backends.accuracy", "start_precision_comparison"),
}


def __getattr__(name: str):
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'explorer' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(target[0]), target[1])
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
