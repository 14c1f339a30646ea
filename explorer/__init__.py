"""TensorRT Engine Explorer: what TensorRT will take, what it fused, what it chose, where time and memory go.

The library API in one place::

    import explorer
    model = explorer.load_model("model.onnx")
    report = explorer.analyze(model, trt_version="10.15", min_block_size=5)
    print(report.summary())
"""

from __future__ import annotations

from .errors import ArtifactError, BuildError, ExplorerError, ExplorerWarning, ModelError
from .model import Model, load_model

__version__ = "0.1.0"

__all__ = ["ArtifactError", "BuildError", "ExplorerError", "ExplorerWarning", "Model", "ModelError",
           "analyze", "load_model", "__version__"]


def __getattr__(name: str):
    # Heavier layers are imported on first use so `import explorer` stays cheap.
    if name == "analyze":
        from .support import analyze

        return analyze
    raise AttributeError(f"module 'explorer' has no attribute {name!r}")
