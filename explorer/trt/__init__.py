"""TensorRT itself, for the rest of the explorer: is it here, which version, its callback interfaces, and
what its ONNX parser says about a model.

- :mod:`.library` - import and availability probing (:func:`available`, cached), :func:`installed_version`,
  :func:`version_of`; one :class:`Library` row per TensorRT-shaped library (TensorRT and TensorRT-RTX,
  ``tensorrt_rtx_bindings`` after ``import tensorrt_rtx_libs``, is another row of the same table);
- :mod:`.api` - the explorer's ``ILogger`` / ``IErrorRecorder`` / ``IProgressMonitor`` / ``IProfiler``
  classes, made per imported module (:func:`interfaces`);
- :mod:`.capability` - the parser's verdicts as data (:class:`ParserCapability`) and in node ids
  (:func:`map_capability_to_model`).

``explorer.support`` (predictions and the parser's verdicts) and ``explorer.backends`` (the builder) both
stand on this package; it imports neither. Nothing here imports ``tensorrt`` at module level.
"""

from .api import Interfaces, interfaces
from .capability import (MappedCapability, ParserCapability, ParserIssue, map_capability_to_model,
                         parser_capability, parser_errors)
from .library import (LIBRARIES, TENSORRT, TENSORRT_RTX, Library, available, create_builder, describe_import_failure,
                      import_library, import_tensorrt, installed_version, reset_availability_cache, version_of)

__all__ = ["Interfaces", "LIBRARIES", "Library", "MappedCapability", "ParserCapability", "ParserIssue", "TENSORRT", "TENSORRT_RTX",
           "available", "create_builder", "describe_import_failure", "import_library", "import_tensorrt",
           "installed_version", "interfaces", "map_capability_to_model", "parser_capability", "parser_errors",
           "reset_availability_cache", "version_of"]
