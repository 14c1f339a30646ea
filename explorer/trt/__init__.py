"""TensorRT itself, for the rest of the explorer: is it here, which version, its callback interfaces, and
what its ONNX parser says about every node of a model.

- :mod:`.library` - import and availability probing (:func:`available`, cached), :func:`installed_version`,
  :func:`version_of`; one :class:`Library` row per TensorRT-shaped library (TensorRT and TensorRT-RTX,
  ``tensorrt_rtx_bindings`` after ``import tensorrt_rtx_libs``, is another row of the same table);
- :mod:`.api` - the explorer's ``ILogger`` / ``IErrorRecorder`` / ``IProgressMonitor`` / ``IProfiler``
  classes, made per imported module (:func:`interfaces`);
- :mod:`.verdicts` - the ONE path to the real parser's verdicts for either library: ``supports_model_v2``,
  then polygraphy-style re-checks of the subgraphs it left unknown, in an isolated child process
  (:func:`judge_isolated`), as data (:class:`ModelVerdicts`).

``explorer.support`` (predictions and the parser's verdicts) and ``explorer.backends`` (the builder) both
stand on this package; it imports neither. Nothing here imports ``tensorrt`` at module level.
"""

from .api import Interfaces, interfaces
from .library import (LIBRARIES, TENSORRT, TENSORRT_RTX, Library, available, create_builder, describe_import_failure,
                      import_library, import_tensorrt, installed_version, library_of, parser_available,
                      reset_availability_cache, version_of)
from .verdicts import (ModelVerdicts, NodeVerdict, ParserError, best_library, judge_isolated, judge_model,
                       library_for, parser_errors)

__all__ = ["Interfaces", "LIBRARIES", "Library", "ModelVerdicts", "NodeVerdict", "ParserError", "TENSORRT",
           "TENSORRT_RTX", "available", "best_library", "create_builder", "describe_import_failure",
           "import_library", "import_tensorrt", "installed_version", "interfaces", "judge_isolated", "judge_model",
           "library_for", "library_of", "parser_available", "parser_errors", "reset_availability_cache",
           "version_of"]
