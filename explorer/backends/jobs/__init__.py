"""Build an engine - TensorRT when it can run here, ONNX Runtime otherwise - in a worker process.

    import explorer
    report = explorer.build("model.onnx", precision="fp16", runs=50)       # blocks; a BuildReport
    job = explorer.start_build("model.onnx", backend="onnxruntime")        # returns at once
    job.add_progress_callback(lambda phase, step, total: print(phase, step, total))
    job.add_done_callback(lambda job: print(job.exception() or "done"))
    job.cancel()                                                           # really stops the worker
    job.result()                                                           # report, or raises BuildError

:mod:`explorer.backends.settings` says what to build (the one :class:`BuildSettings`), :mod:`.job` is the caller's side
(:func:`build`, :func:`start_build`, :class:`BuildJob`: a future of the report), :mod:`.worker` the worker
process, kept warm between builds (:func:`prestart`, :func:`idle_worker_pid`, :func:`shutdown_idle_worker`).
The report says which backend built it and why (:attr:`BuildReport.backend_reason`).
"""

from ...dtypes import PRECISIONS
from ...engine.report import BuildReport
from ..tensorrt import BuildCancelled
from ..onnxruntime import report_from_onnxruntime
from ..tensorrt import report_from_tensorrt
from .partitions import FrameworkNode, PartitionedBuild, PartitionEngine, build_partitions
from .job import CANCEL_GRACE_S, LOG_LINES, BuildJob, Progress, ProgressCallback, build, start_build
from ..settings import BACKENDS, BuildSettings, normalize_shapes, parse_shape
from .worker import REUSE_WORKERS, WORKER_IDLE_TIMEOUT_S, idle_worker_pid, prestart, shutdown_idle_worker

__all__ = ["BACKENDS", "PRECISIONS", "CANCEL_GRACE_S", "LOG_LINES", "REUSE_WORKERS", "WORKER_IDLE_TIMEOUT_S",
           "BuildCancelled", "BuildJob", "BuildReport", "BuildSettings", "FrameworkNode", "PartitionEngine",
           "PartitionedBuild", "Progress", "ProgressCallback", "build", "build_partitions",
           "idle_worker_pid", "normalize_shapes", "parse_shape", "prestart", "report_from_onnxruntime",
           "report_from_tensorrt", "shutdown_idle_worker", "start_build"]
