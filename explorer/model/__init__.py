"""Model loading: ONNX file -> the explorer's IR (:mod:`explorer.model.ir`).

The names below are imported on first use, so the isolation child can import :mod:`explorer.model.shapes`
without importing onnx.
"""

from __future__ import annotations

__all__ = ["ExternalData", "FunctionInfo", "Graph", "InitializerInfo", "Model", "Node", "TensorInfo", "load_model"]

_HOME = {"load_model": "loader", **{name: "ir" for name in __all__ if name != "load_model"}}


def __getattr__(name: str):
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'explorer.model' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
