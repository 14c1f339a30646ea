"""REMOVED AT MERGE: the old name-based entry point, kept only for the two callers other helpers own
(``explorer/support/analysis.py``: TensorRT's parser; ``explorer/backends/onnxruntime.py``: int8).
Everything runs through :mod:`explorer.isolation`; re-point those callers at
``run_task(<their @isolated_task function>, ...)`` and delete this file.
"""

from __future__ import annotations

from ..isolation import TaskCrashed as IsolatedCrashed
from ..isolation import TaskFailed as IsolatedFailed
from ..isolation import TaskSpec, run_task

#: legacy name -> the registered task (named by module and name: this module imports nothing above it)
_LEGACY = {"tensorrt_parser": TaskSpec("explorer.backends.tasks", "tensorrt_parser", memory_limit=0),
           "quantize_int8": TaskSpec("explorer.backends.tasks", "quantize_int8")}

__all__ = ["IsolatedCrashed", "IsolatedFailed", "run_isolated"]


def run_isolated(task: str, data: bytes, *args: str, timeout: float | None = None,
                 memory_limit: int | None = None) -> bytes:
    if task not in _LEGACY:
        raise ValueError(f"unknown isolated task {task!r}")
    return run_task(_LEGACY[task], data, *args, timeout=timeout, memory_limit=memory_limit)
